"""The doctor's medication plan: a warning is never passed without an acknowledgement and a
reason, and every override is audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import MedicationPlanEntry, WarningOverride
from diagnosis.medication.selectors import patient_check
from diagnosis.medication.services import (
    Acknowledgement,
    allergy_record,
    medication_plan_add,
    medication_record,
)
from medassist.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def penicillin_allergic(knowledge: int, encounter: Encounter, nurse: User) -> Encounter:
    allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind="allergy",
        substance="penicillin",
        reaction="anaphylaxis",
        severity="life_threatening",
    )
    medication_record(patient=encounter.patient, actor=nurse, encounter=encounter, name="warfarin")
    return encounter


def _key(encounter: Encounter, name: str) -> str:
    [warning] = patient_check(patient=encounter.patient, name=name).warnings
    return warning.key


def test_the_service_refuses_a_warning_without_acknowledgement_and_stores_nothing(
    penicillin_allergic: Encounter, doctor: User
) -> None:
    key = _key(penicillin_allergic, "amoxicillin")
    for answers in (
        {},
        {key: Acknowledgement(acknowledged=False, reason="no alternative")},
        {key: Acknowledgement(acknowledged=True, reason="   ")},
    ):
        with pytest.raises(ValidationError) as refused:
            medication_plan_add(
                encounter=penicillin_allergic,
                doctor=doctor,
                name="amoxicillin",
                acknowledgements=answers,
            )
        assert set(refused.value.message_dict) & {f"ack_{key}", f"reason_{key}"}
    assert not MedicationPlanEntry.objects.exists()
    assert not AuditEvent.objects.filter(action="medication.override").exists()


def test_an_override_is_stored_and_audited_with_its_reason(
    penicillin_allergic: Encounter, doctor: User
) -> None:
    key = _key(penicillin_allergic, "ibuprofen 400 mg")
    entry = medication_plan_add(
        encounter=penicillin_allergic,
        doctor=doctor,
        name="ibuprofen 400 mg",
        dose="400 mg",
        acknowledgements={
            key: Acknowledgement(acknowledged=True, reason="Short course, INR checked")
        },
    )
    [override] = entry.overrides.all()
    assert (override.kind, override.severity) == ("interaction", "major")
    assert override.reason == "Short course, INR checked"
    assert override.knowledge_version is not None
    event = AuditEvent.objects.get(action="medication.override")
    assert event.actor == doctor
    assert event.detail["reason"] == "Short course, INR checked"
    assert event.detail["source"].startswith("BNF")
    assert AuditEvent.objects.filter(action="medication_plan.add").count() == 1


def test_a_medication_without_warnings_is_saved_without_questions(
    penicillin_allergic: Encounter, doctor: User
) -> None:
    entry = medication_plan_add(
        encounter=penicillin_allergic, doctor=doctor, name="paracetamol 1 g", acknowledgements={}
    )
    assert not entry.checked, "paracetamol is not in the demo table: saved as not checked"
    assert not entry.overrides.exists()


def test_a_nurse_cannot_enter_a_medication_plan(
    penicillin_allergic: Encounter, nurse: User
) -> None:
    with pytest.raises(PermissionDenied):
        medication_plan_add(
            encounter=penicillin_allergic, doctor=nurse, name="paracetamol", acknowledgements={}
        )


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_missing_reason_next_to_the_warning_and_saves_nothing(
    penicillin_allergic: Encounter, doctor: User
) -> None:
    key = _key(penicillin_allergic, "Flucloxacillin 500 mg")
    url = reverse("diagnosis:medication-plan", args=[penicillin_allergic.pk])
    client = _client(doctor)
    checked = client.post(url, {"name": "Flucloxacillin 500 mg", "action": "check"})
    assert checked.status_code == 200
    page = checked.content.decode()
    assert "Contraindicated allergy warning" in page
    assert "Decision support" in page and "not a complete interaction checker" in page
    assert "DEMO CONTENT: not clinical guidance" in page

    refused = client.post(url, {"name": "Flucloxacillin 500 mg", "action": "save"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert f'id="plan_reason_{key}-error"' in html
    assert "Say why this medication is still right" in html
    assert f'id="plan_ack_{key}-error"' in html
    assert not MedicationPlanEntry.objects.exists()


def test_the_doctor_overrides_on_the_page_with_a_reason(
    penicillin_allergic: Encounter, doctor: User
) -> None:
    key = _key(penicillin_allergic, "Flucloxacillin 500 mg")
    url = reverse("diagnosis:medication-plan", args=[penicillin_allergic.pk])
    response = _client(doctor).post(
        url,
        {
            "name": "Flucloxacillin 500 mg",
            "route": "oral",
            "action": "save",
            f"ack_{key}": "on",
            f"reason_{key}": "Allergy label disproved by allergy clinic",
        },
    )
    assert response.status_code == 302
    override = WarningOverride.objects.get()
    assert override.reason == "Allergy label disproved by allergy clinic"
    page = _client(doctor).get(reverse("diagnosis:medication", args=[penicillin_allergic.pk]))
    assert "Allergy label disproved by allergy clinic" in page.content.decode()
