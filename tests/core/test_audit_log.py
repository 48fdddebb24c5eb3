"""The audit log page: who may see it, its filters, paging, and the streamed CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from medassist import audit_views
from medassist.models import AuditEvent
from medassist.services import audit_batch, audit_record
from tests.conftest import make_user
from tests.diagnosis.encounters.helpers import encounter_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(db) -> User:  # type: ignore[no-untyped-def]
    user = make_user("auditor-test", None)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="medassist", codename="view_auditevent")
    )
    return user


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _at(day: dt.date, **kwargs):  # type: ignore[no-untyped-def]
    """Record an audit event as if it happened at noon on ``day`` (the clock is stubbed)."""
    moment = timezone.make_aware(dt.datetime.combine(day, dt.time(12)))
    with mock.patch("django.utils.timezone.now", return_value=moment):
        return audit_record(**kwargs)


def _rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _listed(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


@pytest.mark.parametrize("role_user", ["doctor", "nurse", "ml_admin"])
def test_clinical_roles_may_not_read_the_audit_log(role_user, request) -> None:  # type: ignore[no-untyped-def]
    client = _client(request.getfixturevalue(role_user))
    assert client.get(reverse("audit")).status_code == 403
    assert client.get(reverse("audit-export")).status_code == 403


def test_a_signed_out_visitor_is_sent_to_the_login_page(db) -> None:  # type: ignore[no-untyped-def]
    response = Client().get(reverse("audit"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_filters_by_actor_action_object_type_and_dates(auditor, doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    _at(dt.date(2026, 3, 1), actor=doctor, action="case.view", detail={"n": 1})
    _at(dt.date(2026, 3, 5), actor=doctor, action="encounter.view", obj=encounter)
    _at(dt.date(2026, 3, 9), actor=nurse, action="encounter.open", obj=encounter)
    _at(dt.date(2026, 3, 9), actor=doctor, action="review.submit", detail={"n": 4})
    client = _client(auditor)

    def actions(**params: str) -> list[str]:
        response = client.get(reverse("audit-export"), params)
        return sorted(row["action"] for row in _rows(response))

    assert actions(actor="dr-test", date_to="2026-12-31") == [
        "case.view",
        "encounter.view",
        "review.submit",
    ]
    assert actions(action="encounter") == ["encounter.open", "encounter.view"]
    assert actions(object_type="diagnosis.Encounter", actor="nurse-test") == ["encounter.open"]
    assert actions(date_from="2026-03-05", date_to="2026-03-09") == [
        "encounter.open",
        "encounter.view",
        "review.submit",
    ]
    assert actions(date_from="2026-03-02", date_to="2026-03-04") == []


@pytest.mark.parametrize("listed", [5000, 1], ids=["by-id-list", "by-lookups"])
def test_the_patient_mrn_filter_finds_events_about_that_patients_records(
    auditor, doctor, nurse, listed, monkeypatch
) -> None:
    # A patient with more events than are listed by id is filtered by the lookups themselves.
    monkeypatch.setattr(audit_views, "PATIENT_EVENTS_LISTED", listed)
    mine = encounter_of(nurse, mrn="SYN-AUDIT-A")
    other = encounter_of(nurse, mrn="SYN-AUDIT-B")
    audit_record(actor=doctor, action="encounter.view", obj=mine)
    audit_record(actor=doctor, action="encounter.view", obj=other)
    audit_record(actor=doctor, action="final_diagnosis.record", detail={"mrn": "SYN-AUDIT-A"})
    response = _client(auditor).get(reverse("audit-export"), {"mrn": "SYN-AUDIT-A"})
    rows = _rows(response)
    assert sorted(r["action"] for r in rows) == ["encounter.view", "final_diagnosis.record"]
    assert str(other.pk) not in {r["object_id"] for r in rows}


def test_the_list_pages_fifty_events_at_a_time_newest_first(auditor, doctor) -> None:
    for n in range(60):
        audit_record(actor=doctor, action="case.view", detail={"n": n})
    client = _client(auditor)
    first = _listed(client.get(reverse("audit"), {"action": "case"}))
    assert "60 events match" in first and "page 1 of 2" in first
    assert "n=59" in first and "n=9<" not in first
    second = client.get(reverse("audit"), {"action": "case", "page": 2}, HTTP_HX_REQUEST="true")
    body = _listed(second)
    assert body.lstrip().startswith('<section id="audit-results">')
    assert "n=9<" in body and "n=10<" not in body


def test_a_backwards_date_range_is_explained_next_to_the_field(auditor) -> None:
    response = _client(auditor).get(
        reverse("audit"), {"date_from": "2026-03-09", "date_to": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "The end date is before the start date." in response.content.decode()


def test_the_csv_export_streams_every_matching_event_with_its_detail(auditor, doctor) -> None:
    audit_record(actor=doctor, action="case.view", detail={"instance": 7}, remote_addr="10.0.0.5")
    audit_record(actor=None, action="training.fail", detail={"error": "out of memory"})
    # Django lets a user name start with "@", "+" or "-", which a spreadsheet reads as a formula.
    audit_record(actor=make_user("@SUM(1+1)", None), action="case.view.formula")
    response = _client(auditor).get(reverse("audit-export"))
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = {row["action"]: row for row in _rows(response)}
    assert rows["case.view"]["actor"] == "dr-test"
    assert rows["case.view"]["detail"] == '{"instance": 7}'
    assert rows["case.view"]["remote_addr"] == "10.0.0.5"
    assert rows["training.fail"]["actor"] == ""
    assert rows["case.view.formula"]["actor"] == "'@SUM(1+1)"


def test_reading_and_exporting_the_log_are_themselves_audited(auditor) -> None:
    client = _client(auditor)
    client.get(reverse("audit"), {"actor": "dr-test"})
    b"".join(client.get(reverse("audit-export"), {"action": "case"}).streaming_content)
    seen = {e.action: e.detail for e in AuditEvent.objects.filter(actor=auditor)}
    assert seen["audit.view"]["filters"] == {"actor": "dr-test"}
    assert seen["audit.export"]["filters"] == {"action": "case"}


def test_audit_events_still_cannot_be_changed_or_deleted(doctor) -> None:
    event = audit_record(actor=doctor, action="case.view")
    with pytest.raises(ValueError):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing")
    with pytest.raises(ValueError):
        event.delete()


def test_a_batch_of_audit_events_is_written_together_at_its_end(doctor) -> None:
    with audit_batch():
        first = audit_record(actor=doctor, action="case.view", detail={"n": 1})
        with audit_batch():  # a batch inside a batch: written at the outer one's end
            second = audit_record(actor=doctor, action="case.view", detail={"n": 2})
        assert not AuditEvent.objects.exists(), "nothing is written before the batch ends"
        assert first.pk is None and second.pk is None
    events = list(AuditEvent.objects.order_by("pk"))
    assert [e.detail["n"] for e in events] == [1, 2]
    assert [e.pk for e in events] == [first.pk, second.pk], "the events as returned"
    assert all(e.actor == doctor for e in events)


def test_a_batch_that_raises_writes_none_of_its_events(doctor) -> None:
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic(), audit_batch():
        audit_record(actor=doctor, action="case.view")
        raise RuntimeError("the work the events record failed")
    assert not AuditEvent.objects.exists()
    audit_record(actor=doctor, action="case.view")  # and the next event is written at once
    assert AuditEvent.objects.count() == 1


def test_a_batch_inside_a_batch_that_raises_drops_its_writes_with_its_events(doctor) -> None:
    from medassist.models import Patient

    with audit_batch():
        audit_record(actor=doctor, action="case.view", detail={"n": 1})
        with pytest.raises(RuntimeError), audit_batch():
            patient = Patient.objects.create(mrn="UNDONE-1")
            audit_record(actor=doctor, action="patient.register", obj=patient, detail={"n": 2})
            raise RuntimeError("the inner work failed")
        audit_record(actor=doctor, action="case.view", detail={"n": 3})
    assert [e.detail["n"] for e in AuditEvent.objects.order_by("pk")] == [1, 3]
    assert not Patient.objects.filter(mrn="UNDONE-1").exists(), "its write undone too"


@pytest.mark.django_db(transaction=True)
def test_a_batch_outside_a_transaction_is_refused(doctor) -> None:
    # Its rows would commit before their events, which a failure could then lose.
    with pytest.raises(RuntimeError, match="transaction"), audit_batch():
        pass
