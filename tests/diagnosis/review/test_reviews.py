"""Review actions, supersede-not-overwrite, double reading and the training label."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.registry.models import Finding
from diagnosis.review.models import ReadingState, Review
from diagnosis.review.selectors import current_label_reviews
from diagnosis.review.services import ReviewRefused, review_record
from medassist.models import AuditEvent
from tests.conftest import make_user
from tests.diagnosis.review import builders
from tests.web.helpers import text_of

pytestmark = pytest.mark.django_db


def _f(code: str) -> Finding:
    return Finding.objects.get(code=code)


def _post(client: Client, instance_id: int, data: dict[str, object], then: str = "") -> str:
    url = reverse("diagnosis:review", kwargs={"instance_id": instance_id})
    response = client.post(url + (f"?then={then}" if then else ""), data)
    assert response.status_code == 302
    return response["Location"]


@pytest.fixture
def second_doctor(db: None) -> User:
    return make_user("dr-second", "doctor")


@pytest.fixture
def third_doctor(db: None) -> User:
    return make_user("dr-third", "doctor")


def test_accept_takes_the_ai_finding_and_the_next_case_opens(client: Client, doctor: User) -> None:
    urgent = builders.study(finding="nodule", probability=0.9)
    later = builders.study(finding="normal", probability=0.9)
    client.force_login(doctor)

    location = _post(
        client, builders.first_instance(urgent).pk, {"decision": "accept"}, then="next"
    )
    review = Review.objects.get()
    assert (review.action, review.finding.code) == ("accept", "nodule")
    assert client.get(location)["Location"].startswith(
        reverse("diagnosis:case", kwargs={"instance_id": builders.first_instance(later).pk})
    )
    assert AuditEvent.objects.filter(action="review.submit", actor=doctor).count() == 1


def test_correct_records_the_doctors_finding_and_reject_marks_the_image_non_diagnostic(
    client: Client, doctor: User
) -> None:
    a, b = builders.study(finding="nodule"), builders.study(finding="normal")
    client.force_login(doctor)
    _post(
        client, builders.first_instance(a).pk, {"decision": "correct", "finding": _f("opacity").pk}
    )
    _post(client, builders.first_instance(b).pk, {"decision": "reject", "comment": "Motion blur"})

    corrected, rejected = Review.objects.order_by("pk")
    assert (corrected.action, corrected.finding.code) == ("correct", "opacity")
    assert (rejected.action, rejected.finding, rejected.comment) == ("reject", None, "Motion blur")
    # A non-diagnostic image is reviewed, but it is no one's training label.
    assert list(current_label_reviews()) == [corrected]
    page = text_of(
        client.get(reverse("diagnosis:case", kwargs={"instance_id": rejected.instance_id}))
    )
    assert "Non-diagnostic image" in page


def test_several_findings_only_when_the_task_is_multi_label(
    client: Client, doctor: User, settings
) -> None:  # type: ignore[no-untyped-def]
    instance = builders.first_instance(builders.study(finding="nodule"))
    with pytest.raises(ReviewRefused, match="single label"):
        review_record(
            instance=instance,
            reviewer=doctor,
            decision="correct",
            findings=[_f("nodule"), _f("opacity")],
        )
    settings.MEDASSIST_MULTI_LABEL = True
    client.force_login(doctor)
    page = text_of(client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk})))
    assert "choose every one you see" in page
    _post(
        client,
        instance.pk,
        {"decision": "correct", "findings": [_f("nodule").pk, _f("opacity").pk]},
    )
    review = Review.objects.get()
    assert {f.code for f in review.findings.all()} == {"nodule", "opacity"}


def test_a_new_review_supersedes_and_the_first_stays_unchanged(doctor: User) -> None:
    instance = builders.first_instance(builders.study(finding="nodule"))
    first = review_record(instance=instance, reviewer=doctor, decision="accept", comment="x")
    second = review_record(
        instance=instance, reviewer=doctor, decision="correct", findings=[_f("normal")]
    )
    first.refresh_from_db()
    assert (first.finding.code, first.comment, first.action) == ("nodule", "x", "accept")
    assert second.supersedes == first
    assert list(current_label_reviews()) == [second]


def test_accept_without_a_suggestion_asks_for_the_finding(client: Client, doctor: User) -> None:
    instance = builders.first_instance(builders.study(finding=None))
    client.force_login(doctor)
    location = _post(client, instance.pk, {"decision": "accept"})
    assert "There is no AI suggestion to accept" in text_of(client.get(location))
    assert not Review.objects.exists()


@pytest.fixture
def double(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_DOUBLE_READING = True


def test_double_reading_the_second_reader_reads_blind_and_agreement_is_the_label(
    double: None, client: Client, doctor: User, second_doctor: User
) -> None:
    study = builders.study(finding="nodule")
    instance = builders.first_instance(study)
    first = review_record(
        instance=instance,
        reviewer=doctor,
        decision="correct",
        findings=[_f("opacity")],
        comment="Left base haze",
    )
    assert not current_label_reviews().exists()  # one read is not a label yet

    # The first reader's list no longer shows it; the colleague's still does.
    client.force_login(doctor)
    assert client.get("/cases/").context["rows"] == []
    client.force_login(second_doctor)
    assert [r.study for r in client.get("/cases/").context["rows"]] == [study]
    page = text_of(client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk})))
    assert "Left base haze" not in page and "Opacity — " not in page
    assert "hidden until your independent read is in" in page.lower()

    second = review_record(
        instance=instance, reviewer=second_doctor, decision="correct", findings=[_f("opacity")]
    )
    assert second.supersedes is None  # independent, not a correction of the first
    assert list(current_label_reviews()) == [second]
    assert ReadingState.objects.get(instance=instance).status == "reviewed"
    page = text_of(client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk})))
    assert "Left base haze" in page  # both are in: the history is open
    first.refresh_from_db()
    assert first.finding.code == "opacity"


def test_double_reading_disagreement_goes_to_adjudication_whose_review_is_the_label(
    double: None, client: Client, doctor: User, second_doctor: User, third_doctor: User
) -> None:
    study = builders.study(finding="nodule")
    instance = builders.first_instance(study)
    review_record(instance=instance, reviewer=doctor, decision="accept")
    review_record(
        instance=instance, reviewer=second_doctor, decision="correct", findings=[_f("normal")]
    )
    assert ReadingState.objects.get(instance=instance).status == "adjudication"
    assert not current_label_reviews().exists()

    client.force_login(third_doctor)
    assert client.get("/cases/").context["rows"] == []
    rows = client.get("/cases/?status=adjudication").context["rows"]
    assert [r.study for r in rows] == [study]
    page = text_of(client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk})))
    assert "Your review decides the label" in page

    # A reader who reads again only replaces their own read; it settles nothing.
    again = review_record(
        instance=instance, reviewer=doctor, decision="correct", findings=[_f("opacity")]
    )
    assert again.kind == "read" and again.supersedes.reviewer == doctor
    assert ReadingState.objects.get(instance=instance).status == "adjudication"
    adjudication = review_record(
        instance=instance, reviewer=third_doctor, decision="correct", findings=[_f("nodule")]
    )
    assert adjudication.kind == "adjudication"
    assert list(current_label_reviews()) == [adjudication]
    assert [r.study for r in client.get("/cases/?status=reviewed").context["rows"]] == [study]
    assert Review.objects.filter(instance=instance).count() == 4  # every read is kept
