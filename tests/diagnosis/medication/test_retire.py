"""A clinical lead retires an entry of the knowledge table, with a reason: it warns about
nothing from then on, and the overrides that cited it still name it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import KnowledgeEntry, KnowledgeVersion
from diagnosis.medication.selectors import knowledge_base, patient_check
from diagnosis.medication.services import (
    Acknowledgement,
    EntryContent,
    allergy_record,
    knowledge_entry_edit,
    knowledge_entry_retire,
    knowledge_version_approve,
    medication_plan_add,
    medication_record,
)
from medassist.models import AuditEvent
from tests.web.helpers import field_errors, text_of

pytestmark = pytest.mark.django_db


def _rule(kind: str, term_a: str, term_b: str) -> KnowledgeEntry:
    return KnowledgeVersion.objects.get(entry__kind=kind, term_a=term_a, term_b=term_b).entry


@pytest.fixture
def penicillin_rule(knowledge: int) -> KnowledgeEntry:
    return _rule("allergy", "penicillins", "penicillins")


@pytest.fixture
def allergic(knowledge: int, encounter: Encounter, nurse: User) -> Encounter:
    allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind="allergy",
        substance="penicillin",
        reaction="rash",
        severity="mild",
    )
    return encounter


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _visible(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_retired_entry_stops_warning_and_the_old_override_still_shows_its_source(
    allergic: Encounter, penicillin_rule: KnowledgeEntry, doctor: User, lead: User
) -> None:
    [warning] = patient_check(patient=allergic.patient, name="amoxicillin").warnings
    assert warning.version is not None and warning.version.entry_id == penicillin_rule.pk
    medication_plan_add(
        encounter=allergic,
        doctor=doctor,
        name="amoxicillin",
        acknowledgements={
            warning.key: Acknowledgement(acknowledged=True, reason="Tolerated it last year")
        },
    )

    response = _client(lead).post(
        reverse("diagnosis:medication-knowledge-retire", args=[penicillin_rule.pk]),
        {"reason": "Superseded by the hospital's own penicillin allergy policy"},
    )
    assert response.status_code == 302

    assert patient_check(patient=allergic.patient, name="amoxicillin").warnings == []
    assert all(rule.version.entry_id != penicillin_rule.pk for rule in knowledge_base().rules)

    page = _visible(
        text_of(_client(doctor).get(reverse("diagnosis:medication", args=[allergic.pk])))
    )
    assert "Reason: “Tolerated it last year”" in page
    assert "Source: BNF, Penicillins: hypersensitivity and cross-sensitivity (summary)" in page
    assert "knowledge table entry v1 (entry retired since" in page
    # The entry's page still shows the version that warned, and why it was retired.
    detail = _visible(
        text_of(
            _client(doctor).get(
                reverse("diagnosis:medication-knowledge-entry", args=[penicillin_rule.pk])
            )
        )
    )
    assert "Superseded by the hospital's own penicillin allergy policy" in detail
    assert "Allergy to penicillins → warns for penicillins" in detail


def test_retiring_is_audited_with_the_reason_and_the_version_in_use(
    penicillin_rule: KnowledgeEntry, lead: User
) -> None:
    knowledge_entry_retire(entry=penicillin_rule, actor=lead, reason="  Wrong table  ")
    event = AuditEvent.objects.get(action="medication_knowledge.retire")
    assert event.actor_id == lead.pk
    assert event.detail["reason"] == "Wrong table"
    assert (event.detail["entry"], event.detail["version"]) == (penicillin_rule.pk, 1)
    penicillin_rule.refresh_from_db()
    retired = (penicillin_rule.retired_by_id, penicillin_rule.retire_reason)
    assert retired == (lead.pk, "Wrong table")


def test_a_retired_interaction_no_longer_warns(
    knowledge: int, encounter: Encounter, nurse: User, lead: User
) -> None:
    medication_record(patient=encounter.patient, actor=nurse, encounter=encounter, name="warfarin")
    assert len(patient_check(patient=encounter.patient, name="ibuprofen").warnings) == 1
    knowledge_entry_retire(
        entry=_rule("interaction", "warfarin", "nsaids"), actor=lead, reason="Re-written"
    )
    assert patient_check(patient=encounter.patient, name="ibuprofen").warnings == []


def test_a_nurse_and_a_doctor_cannot_retire(
    penicillin_rule: KnowledgeEntry, nurse: User, doctor: User
) -> None:
    url = reverse("diagnosis:medication-knowledge-retire", args=[penicillin_rule.pk])
    for user in (nurse, doctor):
        assert _client(user).post(url, {"reason": "not mine to retire"}).status_code == 403
        with pytest.raises(PermissionDenied):
            knowledge_entry_retire(entry=penicillin_rule, actor=user, reason="no")
    penicillin_rule.refresh_from_db()
    assert not penicillin_rule.is_retired
    assert not AuditEvent.objects.filter(action="medication_knowledge.retire").exists()


def test_retiring_needs_a_reason_and_happens_once(
    penicillin_rule: KnowledgeEntry, lead: User
) -> None:
    url = reverse("diagnosis:medication-knowledge-retire", args=[penicillin_rule.pk])
    response = _client(lead).post(url, {"reason": "  "})
    assert response.status_code == 400
    assert field_errors(response)["retire_reason"] == ["Say why the entry is retired."]
    penicillin_rule.refresh_from_db()
    assert not penicillin_rule.is_retired

    assert _client(lead).post(url, {"reason": "Duplicate"}).status_code == 302
    again = _client(lead).post(url, {"reason": "Duplicate again"})
    assert again.status_code == 400
    assert "retired already" in text_of(again)


def test_a_retired_entry_takes_no_new_version_and_its_draft_no_approval(
    penicillin_rule: KnowledgeEntry, lead: User, lead2: User
) -> None:
    current = penicillin_rule.versions.get()
    draft = knowledge_entry_edit(
        entry=penicillin_rule,
        author=lead,
        based_on=current,
        content=EntryContent(
            term_a=current.term_a,
            term_b=current.term_b,
            severity="major",
            note=current.note,
            action=current.action,
            source=current.source,
        ),
        change_note="softer",
    )
    knowledge_entry_retire(entry=penicillin_rule, actor=lead2, reason="Withdrawn")
    with pytest.raises(ValidationError, match="retired"):
        knowledge_version_approve(version=draft, approver=lead2)
    with pytest.raises(ValidationError, match="retired"):
        knowledge_entry_edit(
            entry=penicillin_rule,
            author=lead,
            based_on=draft,
            content=EntryContent(
                term_a="penicillins",
                term_b="penicillins",
                severity="moderate",
                note="n",
                action="a",
                source="s",
            ),
            change_note="",
        )
    edit = _client(lead).get(
        reverse("diagnosis:medication-knowledge-edit", args=[penicillin_rule.pk])
    )
    assert edit.status_code == 302


def test_the_table_offers_leads_a_retire_button_and_shows_retired_entries_last(
    penicillin_rule: KnowledgeEntry, lead: User, doctor: User
) -> None:
    url = reverse("diagnosis:medication-knowledge")
    retire = reverse("diagnosis:medication-knowledge-retire", args=[penicillin_rule.pk])
    assert f'action="{retire}"' in _client(lead).get(url).content.decode()
    assert f'action="{retire}"' not in _client(doctor).get(url).content.decode()

    knowledge_entry_retire(entry=penicillin_rule, actor=lead, reason="Withdrawn")
    page = _client(lead).get(url).content.decode()
    assert f'action="{retire}"' not in page
    rows = re.findall(r'<tr data-testid="knowledge-row">(.*?)</tr>', page, re.DOTALL)
    assert "retired" in _visible(rows[-1]) and "checks nothing" in _visible(rows[-1])
    assert all("checks nothing" not in _visible(row) for row in rows[:-1])
    assert all("in use (v1)" in _visible(row) for row in rows[:-1])
