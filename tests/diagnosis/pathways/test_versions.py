"""Writing, editing, approving and retiring pathways: versions, four eyes, roles, audit."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from diagnosis.pathways.models import Pathway, PathwayApproval, PathwayItem, PathwayVersion
from diagnosis.pathways.selectors import current_version, pathway_offer
from diagnosis.pathways.services import (
    ItemSpec,
    pathway_create,
    pathway_edit,
    pathway_retire,
    pathway_version_approve,
)
from medassist.models import AuditEvent
from tests.diagnosis.pathways.helpers import CHEST_PAIN_STEPS, approved_pathway, in_days

pytestmark = pytest.mark.django_db


def _edit(version: PathwayVersion, author: User, **changes: object) -> PathwayVersion:
    fields: dict[str, object] = {
        "title": version.title,
        "review_date": version.review_date,
        "items": [ItemSpec(kind=i.kind, text=i.text) for i in version.items.order_by("position")],
        "change_note": "",
        **changes,
    }
    return pathway_edit(pathway=version.pathway, author=author, based_on=version, **fields)  # type: ignore[arg-type]


def test_a_new_pathway_waits_for_approval_and_is_not_offered_until_then(lead, lead2) -> None:
    version = pathway_create(
        author=lead,
        group="I21.4",  # one code: its block
        title="Chest pain",
        review_date=in_days(365),
        items=[*CHEST_PAIN_STEPS, ItemSpec(kind="treatment", text="   ")],  # blank: left out
    )
    assert version.pathway.group_label == "I20-I25"
    assert version.number == 1 and version.author == lead
    assert [i.text for i in version.items.order_by("position")] == [
        s.text for s in CHEST_PAIN_STEPS
    ]
    assert pathway_offer(icd10_code="I21.4") is None

    pathway_version_approve(version=version, approver=lead2)
    assert pathway_offer(icd10_code="I21.4") == version
    assert pathway_offer(icd10_code="J18.9") is None
    events = AuditEvent.objects.filter(action__startswith="pathway.").order_by("pk")
    assert [(e.action, e.actor_id) for e in events] == [
        ("pathway.create", lead.pk),
        ("pathway.approve", lead2.pk),
    ]
    assert events[0].detail["group"] == "I20-I25" and events[0].detail["steps"] == 4


def test_an_edit_writes_a_new_version_and_the_old_one_stays_as_it_was(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    v2 = _edit(
        v1,
        lead2,
        title="Chest pain (ACS)",
        items=[ItemSpec(kind="investigation", text="ECG within 10 minutes")],
        change_note="Sharper ECG target",
    )
    assert (v2.number, v2.author) == (2, lead2)
    # Until another lead approves it, doctors keep being offered version 1.
    assert current_version(pathway=v1.pathway) == v1
    pathway_version_approve(version=v2, approver=lead)
    assert current_version(pathway=v1.pathway) == v2

    v1 = PathwayVersion.objects.get(pk=v1.pk)
    assert v1.title == "Chest pain"
    assert v1.items.order_by("position").first().text == "12-lead ECG"  # type: ignore[union-attr]
    assert PathwayVersion.objects.filter(pathway=v1.pathway).count() == 2
    edit = AuditEvent.objects.get(action="pathway.edit")
    assert (edit.detail["version"], edit.detail["based_on"], edit.actor_id) == (2, 1, lead2.pk)


def test_the_author_cannot_approve_their_own_version_another_lead_can(lead, lead2) -> None:
    version = pathway_create(
        author=lead, group="I20-I25", title="Chest pain", review_date=in_days(90),
        items=list(CHEST_PAIN_STEPS),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="Four eyes"):
        pathway_version_approve(version=version, approver=lead)
    assert not PathwayApproval.objects.exists()

    approval = pathway_version_approve(version=version, approver=lead2)
    assert approval.approver == lead2
    with pytest.raises(ValidationError, match="approved already"):
        pathway_version_approve(version=version, approver=make_third_lead())


def make_third_lead() -> User:
    from tests.conftest import make_user

    return make_user("lead3-test", "clinical_lead")


def test_the_four_eyes_rule_holds_for_every_version_not_only_the_first(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    v2 = _edit(v1, lead2, review_date=in_days(200))
    with pytest.raises(ValidationError, match="Four eyes"):
        pathway_version_approve(version=v2, approver=lead2)
    pathway_version_approve(version=v2, approver=lead)


def test_only_clinical_leads_write_approve_or_retire(lead, lead2, doctor, nurse, ml_admin) -> None:
    for user in (doctor, nurse, ml_admin):
        with pytest.raises(PermissionDenied):
            pathway_create(
                author=user, group="I20-I25", title="x", review_date=in_days(30),
                items=list(CHEST_PAIN_STEPS),
            )  # fmt: skip
    version = pathway_create(
        author=lead, group="I20-I25", title="Chest pain", review_date=in_days(30),
        items=list(CHEST_PAIN_STEPS),
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        pathway_version_approve(version=version, approver=doctor)
    with pytest.raises(PermissionDenied):
        _edit(version, doctor, title="Changed by a doctor")
    with pytest.raises(PermissionDenied):
        pathway_retire(pathway=version.pathway, actor=doctor, reason="no")
    assert PathwayVersion.objects.count() == 1 and not PathwayApproval.objects.exists()


def test_an_edit_from_a_version_someone_else_replaced_meanwhile_saves_nothing(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    _edit(v1, lead2, title="Lead 2's change")
    with pytest.raises(ValidationError, match="saved version 2 while you were editing"):
        _edit(v1, lead, title="Lead 1's change, from the old version")
    assert PathwayVersion.objects.count() == 2


def test_an_older_draft_replaced_by_a_newer_one_cannot_be_approved(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    v2 = _edit(v1, lead, title="Draft A")
    v3 = _edit(v2, lead, title="Draft B")
    with pytest.raises(ValidationError, match="Version 3 replaced version 2"):
        pathway_version_approve(version=v2, approver=lead2)
    pathway_version_approve(version=v3, approver=lead2)
    assert current_version(pathway=v1.pathway) == v3


def test_an_edit_that_changes_nothing_writes_no_version(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    with pytest.raises(ValidationError, match="Nothing changed"):
        _edit(v1, lead2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"review_date": in_days(0)}, "review_date"),
        ({"review_date": in_days(-3)}, "review_date"),
        ({"review_date": in_days(6 * 366)}, "review_date"),
        ({"items": []}, "items"),
        ({"items": [ItemSpec(kind="prayer", text="Something")]}, "items"),
    ],
)
def test_content_a_doctor_could_not_use_is_refused_by_field(lead, changes, field) -> None:
    content = {
        "title": "Chest pain",
        "review_date": in_days(30),
        "items": list(CHEST_PAIN_STEPS),
        **changes,
    }
    with pytest.raises(ValidationError) as raised:
        pathway_create(author=lead, group="I20-I25", **content)
    assert field in raised.value.message_dict
    assert not Pathway.objects.exists()


def test_one_pathway_in_service_per_group_and_retiring_makes_room(lead, lead2) -> None:
    v1 = approved_pathway(author=lead, approver=lead2)
    with pytest.raises(ValidationError) as raised:
        pathway_create(
            author=lead2, group="I21.0", title="Another", review_date=in_days(30),
            items=list(CHEST_PAIN_STEPS),
        )  # fmt: skip
    assert "already has a pathway in service" in raised.value.message_dict["group"][0]

    with pytest.raises(ValidationError):
        pathway_retire(pathway=v1.pathway, actor=lead2, reason="  ")
    pathway_retire(pathway=v1.pathway, actor=lead2, reason="Replaced by the new ACS pathway")
    assert pathway_offer(icd10_code="I21.0") is None
    with pytest.raises(ValidationError):
        _edit(v1, lead, title="Edit after retiring")
    replacement = approved_pathway(author=lead2, approver=lead, title="ACS pathway")
    assert pathway_offer(icd10_code="I21.0") == replacement
    retire = AuditEvent.objects.get(action="pathway.retire")
    assert retire.detail == {"group": "I20-I25", "reason": "Replaced by the new ACS pathway"}


def test_the_narrowest_group_holding_the_diagnosis_is_offered(lead, lead2) -> None:
    broad = approved_pathway(author=lead, approver=lead2, group="J40-J47", title="Chronic lower")
    asthma = approved_pathway(author=lead, approver=lead2, group="J45-J46", title="Asthma")
    assert pathway_offer(icd10_code="J45.0") == asthma
    assert pathway_offer(icd10_code="J46") == asthma
    assert pathway_offer(icd10_code="J44.1") == broad


def test_a_pathway_past_its_review_date_is_still_offered(lead, lead2, monkeypatch) -> None:
    version = approved_pathway(author=lead, approver=lead2, review_in_days=10)
    later = in_days(40)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: later)
    assert version.review_overdue(today=later)
    assert pathway_offer(icd10_code="I21.9") == version


def test_a_version_whose_review_date_passed_before_approval_is_not_approved(
    lead, lead2, monkeypatch
) -> None:
    version = pathway_create(
        author=lead, group="I20-I25", title="Chest pain", review_date=in_days(5),
        items=list(CHEST_PAIN_STEPS),
    )  # fmt: skip
    later = in_days(6)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda *a, **k: later)
    with pytest.raises(ValidationError, match=r"review date \(.*\) has passed"):
        pathway_version_approve(version=version, approver=lead2)


def test_versions_and_items_are_never_changed_or_deleted(lead, lead2) -> None:
    version = approved_pathway(author=lead, approver=lead2)
    item = version.items.first()
    assert item is not None
    version.title = "Changed in place"
    with pytest.raises(ValueError, match="never changed"):
        version.save()
    with pytest.raises(ValueError, match="never deleted"):
        item.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        version.pathway.delete()  # PROTECT: its versions hold it


def test_postgresql_refuses_changing_a_version_behind_the_application_s_back(
    postgres, lead, lead2
) -> None:
    version = approved_pathway(author=lead, approver=lead2)
    statements = [
        ("UPDATE diagnosis_pathwayversion SET title = 'x' WHERE id = %s", version.pk),
        ("DELETE FROM diagnosis_pathwayitem WHERE version_id = %s", version.pk),
        ("DELETE FROM diagnosis_pathwayapproval WHERE version_id = %s", version.pk),
        ("DELETE FROM diagnosis_pathway WHERE id = %s", version.pathway_id),
    ]
    for sql, pk in statements:
        with (
            pytest.raises(IntegrityError, match="care pathways are kept for ever"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [pk])
    assert PathwayItem.objects.filter(version=version).count() == len(CHEST_PAIN_STEPS)
    assert PathwayVersion.objects.get(pk=version.pk).title == "Chest pain"


def test_the_audit_log_shows_every_pathway_event(lead, lead2) -> None:
    from django.test import Client
    from django.urls import reverse

    from tests.conftest import make_user

    v1 = approved_pathway(author=lead, approver=lead2)
    pathway_retire(pathway=v1.pathway, actor=lead, reason="Replaced")
    client = Client()
    client.force_login(make_user("auditor-pathways", "auditor"))
    response = client.get(reverse("audit"), {"action": "pathway."})
    page = response.content.decode()
    assert response.status_code == 200
    for action in ("pathway.create", "pathway.approve", "pathway.retire"):
        assert f"<td>{action}</td>" in page
    assert "steps=4" in page
