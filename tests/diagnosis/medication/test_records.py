"""Allergies and current medications: insert-only history, recorded by nurses and doctors."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import AllergyRecord, MedicationRecord
from diagnosis.medication.selectors import allergies_current, medications_current
from diagnosis.medication.services import allergy_record, medication_record
from medassist.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_change_supersedes_and_keeps_the_first_record(
    encounter: Encounter, nurse: User, doctor: User
) -> None:
    first = allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind="allergy",
        substance="penicillin",
        reaction="rash",
        severity="mild",
    )
    second = allergy_record(
        patient=encounter.patient,
        actor=doctor,
        encounter=encounter,
        kind="allergy",
        substance="penicillin",
        reaction="anaphylaxis",
        severity="life_threatening",
        replaces=first.pk,
    )
    assert list(allergies_current(patient=encounter.patient)) == [second]
    first.refresh_from_db()
    assert first.reaction == "rash" and first.superseded_by == second
    with pytest.raises(ValidationError):  # the first one is no longer the current record
        allergy_record(
            patient=encounter.patient,
            actor=nurse,
            encounter=encounter,
            kind="allergy",
            replaces=first.pk,
            remove=True,
        )
    actions = list(
        AuditEvent.objects.filter(action__startswith="allergy.").values_list("action", flat=True)
    )
    assert actions == ["allergy.record", "allergy.record"]


def test_no_known_allergies_is_explicit_and_ends_when_an_allergy_is_recorded(
    encounter: Encounter, nurse: User
) -> None:
    none_known = allergy_record(
        patient=encounter.patient, actor=nurse, encounter=encounter, kind="none_known"
    )
    assert list(allergies_current(patient=encounter.patient)) == [none_known]
    allergy = allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind="allergy",
        substance="latex",
        severity="moderate",
    )
    assert list(allergies_current(patient=encounter.patient)) == [allergy]
    with pytest.raises(ValidationError) as refused:
        allergy_record(
            patient=encounter.patient, actor=nurse, encounter=encounter, kind="none_known"
        )
    assert "kind" in refused.value.message_dict


def test_an_allergy_needs_its_substance_and_severity(encounter: Encounter, nurse: User) -> None:
    with pytest.raises(ValidationError) as refused:
        allergy_record(patient=encounter.patient, actor=nurse, encounter=encounter, kind="allergy")
    assert set(refused.value.message_dict) == {"substance", "severity"}
    assert not AllergyRecord.objects.exists()


def test_a_clinical_lead_records_no_allergy(encounter: Encounter, lead: User) -> None:
    with pytest.raises(PermissionDenied):
        allergy_record(
            patient=encounter.patient, actor=lead, encounter=encounter, kind="none_known"
        )


def test_records_are_never_changed_or_deleted(encounter: Encounter, nurse: User) -> None:
    record = medication_record(
        patient=encounter.patient, actor=nurse, encounter=encounter, name="ramipril"
    )
    with pytest.raises(ValueError):
        record.save()
    with pytest.raises(ValueError):
        record.delete()
    if connection.vendor == "postgresql":
        from django.db import DatabaseError, transaction

        with pytest.raises(DatabaseError), transaction.atomic():
            MedicationRecord.objects.filter(pk=record.pk).update(name="changed")


def test_the_nurse_records_an_allergy_on_the_page(encounter: Encounter, nurse: User) -> None:
    client = Client()
    client.force_login(nurse)
    url = reverse("diagnosis:medication-allergy", args=[encounter.pk])
    refused = client.post(url, {"kind": "allergy", "substance": "", "severity": ""})
    assert refused.status_code == 400
    assert 'id="allergy_substance-error"' in refused.content.decode()
    saved = client.post(
        url,
        {"kind": "allergy", "substance": "Penicillin", "reaction": "hives", "severity": "moderate"},
    )
    assert saved.status_code == 302
    page = client.get(reverse("diagnosis:medication", args=[encounter.pk])).content.decode()
    assert "Penicillin" in page and "hives" in page
    assert AuditEvent.objects.filter(action="encounter.view", actor=nurse).exists()
    client.post(
        reverse("diagnosis:medication-current", args=[encounter.pk]),
        {"name": "Warfarin", "dose": "5 mg", "route": "oral", "frequency": "once daily"},
    )
    [medication] = medications_current(patient=encounter.patient)
    assert (medication.name, medication.frequency) == ("Warfarin", "once daily")
