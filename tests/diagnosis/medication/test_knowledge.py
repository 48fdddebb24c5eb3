"""The curated knowledge table: versioned, insert-only, four eyes, audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import KnowledgeEntry, KnowledgeVersion
from diagnosis.medication.selectors import latest_version, patient_check
from diagnosis.medication.services import (
    EntryContent,
    knowledge_entry_create,
    knowledge_entry_edit,
    knowledge_version_approve,
    medication_knowledge_demo_ensure,
    medication_record,
)
from medassist.models import AuditEvent

pytestmark = pytest.mark.django_db

RULE = EntryContent(
    term_a="lithium",
    term_b="ibuprofen",
    severity="major",
    note="Lithium levels rise.",
    action="Avoid; check lithium levels if given.",
    source="Local test citation",
)


def test_an_entry_checks_nothing_until_a_different_lead_approves_it(
    encounter: Encounter, nurse: User, lead: User, lead2: User
) -> None:
    medication_record(patient=encounter.patient, actor=nurse, encounter=encounter, name="lithium")
    version = knowledge_entry_create(author=lead, kind="interaction", content=RULE)
    assert patient_check(patient=encounter.patient, name="ibuprofen").warnings == []
    with pytest.raises(ValidationError) as refused:
        knowledge_version_approve(version=version, approver=lead)
    assert refused.value.code == "four_eyes"
    knowledge_version_approve(version=version, approver=lead2)
    [warning] = patient_check(patient=encounter.patient, name="ibuprofen").warnings
    assert (warning.severity, warning.source) == ("major", "Local test citation")


def test_an_edit_writes_a_new_version_and_the_old_one_checks_until_approved(
    encounter: Encounter, nurse: User, lead: User, lead2: User
) -> None:
    medication_record(patient=encounter.patient, actor=nurse, encounter=encounter, name="lithium")
    first = knowledge_entry_create(author=lead, kind="interaction", content=RULE)
    knowledge_version_approve(version=first, approver=lead2)
    second = knowledge_entry_edit(
        entry=first.entry,
        author=lead2,
        based_on=first,
        content=EntryContent(**{**RULE.__dict__, "severity": "contraindicated"}),
        change_note="Stronger wording",
    )
    assert second.number == 2
    assert KnowledgeVersion.objects.get(pk=first.pk).severity == "major"
    [warning] = patient_check(patient=encounter.patient, name="ibuprofen").warnings
    assert warning.severity == "major", "the approved version checks until v2 is approved"
    with pytest.raises(ValidationError):
        knowledge_version_approve(version=second, approver=lead2)
    knowledge_version_approve(version=second, approver=lead)
    [warning] = patient_check(patient=encounter.patient, name="ibuprofen").warnings
    assert warning.severity == "contraindicated"
    actions = list(
        AuditEvent.objects.filter(action__startswith="medication_knowledge.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "medication_knowledge.create",
        "medication_knowledge.approve",
        "medication_knowledge.edit",
        "medication_knowledge.approve",
    ]


def test_an_edit_from_a_stale_version_or_with_no_change_writes_nothing(
    lead: User, lead2: User
) -> None:
    first = knowledge_entry_create(author=lead, kind="interaction", content=RULE)
    with pytest.raises(ValidationError) as unchanged:
        knowledge_entry_edit(
            entry=first.entry, author=lead, based_on=first, content=RULE, change_note=""
        )
    assert unchanged.value.code == "unchanged"
    knowledge_entry_edit(
        entry=first.entry,
        author=lead2,
        based_on=first,
        content=EntryContent(**{**RULE.__dict__, "note": "Renal clearance falls."}),
        change_note="",
    )
    with pytest.raises(ValidationError) as stale:
        knowledge_entry_edit(
            entry=first.entry,
            author=lead,
            based_on=first,
            content=EntryContent(**{**RULE.__dict__, "note": "Other"}),
            change_note="",
        )
    assert stale.value.code == "stale"
    assert latest_version(entry=first.entry).number == 2  # type: ignore[union-attr]


def test_only_clinical_leads_write_and_a_rule_needs_its_source(doctor: User, lead: User) -> None:
    with pytest.raises(PermissionDenied):
        knowledge_entry_create(author=doctor, kind="interaction", content=RULE)
    with pytest.raises(ValidationError) as refused:
        knowledge_entry_create(
            author=lead, kind="interaction", content=EntryContent(**{**RULE.__dict__, "source": ""})
        )
    assert "source" in refused.value.message_dict


def test_the_demo_table_is_written_once_and_marked_demo(lead: User, lead2: User) -> None:
    assert medication_knowledge_demo_ensure(author=lead, approver=lead2) > 0
    assert medication_knowledge_demo_ensure(author=lead, approver=lead2) == 0
    assert not KnowledgeEntry.objects.filter(is_demo=False).exists()


def test_a_lead_edits_on_the_page_and_another_approves(lead: User, lead2: User) -> None:
    first = knowledge_entry_create(author=lead, kind="interaction", content=RULE)
    knowledge_version_approve(version=first, approver=lead2)
    client = Client()
    client.force_login(lead)
    edit = reverse("diagnosis:medication-knowledge-edit", args=[first.entry_id])
    assert 'value="Local test citation"' in client.get(edit).content.decode()
    refused = client.post(
        edit, {**RULE.__dict__, "source": "", "based_on": first.pk, "change_note": "x"}
    )
    assert refused.status_code == 400
    assert 'id="id_source-error"' in refused.content.decode()
    saved = client.post(
        edit, {**RULE.__dict__, "severity": "moderate", "based_on": first.pk, "change_note": "x"}
    )
    assert saved.status_code == 302
    second = latest_version(entry=first.entry)
    assert second is not None and second.number == 2
    approve = reverse("diagnosis:medication-knowledge-approve", args=[second.pk])
    assert client.post(approve).status_code == 400  # lead wrote it
    other = Client()
    other.force_login(lead2)
    assert other.post(approve).status_code == 302
    page = other.get(reverse("diagnosis:medication-knowledge")).content.decode()
    assert "curated table maintained by the hospital" in page
