"""Allergies and current medications recorded by the triage nurse at intake: stored on the
patient through the medication package's services, in the intake's own transaction, and
checked later when a doctor enters a medication plan."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import AllergyRecord, MedicationPlanEntry, MedicationRecord
from diagnosis.medication.selectors import allergies_current, medications_current, patient_check
from diagnosis.medication.services import allergy_record, medication_knowledge_demo_ensure
from medassist.models import AuditEvent, Patient
from medassist.roles import Role
from tests.conftest import make_user
from tests.diagnosis.triage.test_triage_pages import INTAKE
from tests.web.helpers import field_errors, text_of

pytestmark = pytest.mark.django_db

TWO_ALLERGIES = {
    **INTAKE,
    "allergy_1_substance": "Penicillin",
    "allergy_1_reaction": "anaphylaxis",
    "allergy_1_severity": "life_threatening",
    "allergy_2_substance": "ibuprofen",
    "allergy_2_reaction": "wheeze",
    "allergy_2_severity": "moderate",
}


@pytest.fixture
def knowledge(db) -> int:  # type: ignore[no-untyped-def]
    """The demo knowledge table, written by one clinical lead and approved by another."""
    return medication_knowledge_demo_ensure(
        author=make_user("lead-intake", Role.CLINICAL_LEAD),
        approver=make_user("lead2-intake", Role.CLINICAL_LEAD),
    )


@pytest.fixture
def nurse_client(client: Client, nurse: User) -> Client:
    client.force_login(nurse)
    return client


def _post(client: Client, data: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(reverse("diagnosis:encounter-new"), data)


def _standing(mrn: str) -> list[tuple[str, str, str, str]]:
    patient = Patient.objects.get(mrn=mrn)
    return sorted(
        (a.kind, a.substance, a.reaction, a.severity) for a in allergies_current(patient=patient)
    )


def test_a_nurse_s_two_allergies_are_stored_and_a_later_conflicting_plan_warns(
    knowledge: int, nurse_client: Client, nurse: User, doctor: User
) -> None:
    response = _post(nurse_client, TWO_ALLERGIES)
    assert response.status_code == 302, field_errors(response)

    encounter = Encounter.objects.get(patient__mrn="MRN-T1")
    assert _standing("MRN-T1") == [
        ("allergy", "Penicillin", "anaphylaxis", "life_threatening"),
        ("allergy", "ibuprofen", "wheeze", "moderate"),
    ]
    records = AllergyRecord.objects.filter(patient=encounter.patient)
    assert {(r.recorded_by_id, r.encounter_id) for r in records} == {(nurse.pk, encounter.pk)}
    events = AuditEvent.objects.filter(action="allergy.record").order_by("pk")
    assert [e.detail["substance"] for e in events] == ["Penicillin", "ibuprofen"]

    # The doctor, later, on the encounter's medication page: amoxicillin is a penicillin.
    client = Client()
    client.force_login(doctor)
    plan = reverse("diagnosis:medication-plan", args=[encounter.pk])
    checked = client.post(plan, {"name": "Amoxicillin 500 mg", "action": "check"})
    assert checked.status_code == 200
    page = text_of(checked)
    assert "Contraindicated allergy warning" in page
    assert "allergy to Penicillin (anaphylaxis, life-threatening)" in page
    refused = client.post(plan, {"name": "Amoxicillin 500 mg", "action": "save"})
    assert refused.status_code == 400
    assert not MedicationPlanEntry.objects.exists()
    # And the NSAID allergy the nurse recorded warns for naproxen.
    [warning] = patient_check(patient=encounter.patient, name="naproxen").warnings
    assert warning.kind == "allergy" and "ibuprofen" in warning.title


def test_current_medications_at_intake_are_stored_and_an_interaction_warns(
    knowledge: int, nurse_client: Client
) -> None:
    response = _post(
        nurse_client,
        {
            **INTAKE,
            "no_known_allergies": "on",
            "medication_1_name": "Warfarin",
            "medication_1_dose": "5 mg",
            "medication_1_frequency": "once daily",
            "medication_2_name": "metformin",
        },
    )
    assert response.status_code == 302, field_errors(response)
    patient = Patient.objects.get(mrn="MRN-T1")
    assert sorted((m.name, m.dose, m.frequency) for m in medications_current(patient=patient)) == [
        ("Warfarin", "5 mg", "once daily"),
        ("metformin", "", ""),
    ]
    [warning] = patient_check(patient=patient, name="ibuprofen 400 mg").warnings
    assert warning.kind == "interaction" and "Warfarin" in warning.title


def test_no_known_allergies_at_intake_is_recorded_as_such(nurse_client: Client) -> None:
    response = _post(nurse_client, {**INTAKE, "no_known_allergies": "on"})
    assert response.status_code == 302, field_errors(response)
    assert _standing("MRN-T1") == [("none_known", "", "", "")]
    assert AuditEvent.objects.filter(action="allergy.record").count() == 1


def test_an_intake_that_says_nothing_of_allergies_leaves_them_not_recorded(
    nurse_client: Client,
) -> None:
    assert _post(nurse_client, INTAKE).status_code == 302
    assert not AllergyRecord.objects.exists()
    assert not MedicationRecord.objects.exists()


def test_a_bad_allergy_row_is_refused_next_to_it_nothing_is_saved_and_nothing_typed_is_lost(
    nurse_client: Client,
) -> None:
    data = {
        **TWO_ALLERGIES,
        "allergy_2_severity": "",  # forgotten
        "allergy_3_reaction": "hives",  # a reaction with no substance
        "medication_1_name": "Warfarin",
        "medication_1_dose": "5 mg",
    }
    response = _post(nurse_client, data)
    assert response.status_code == 400
    errors = field_errors(response)
    assert errors["allergy_2_severity"] == [
        "Choose the severity: mild, moderate, severe or life-threatening."
    ]
    assert errors["allergy_3_substance"] == [
        "Name the substance the patient is allergic to, or clear this row."
    ]
    assert not Patient.objects.exists()
    assert not Encounter.objects.exists()
    assert not AllergyRecord.objects.exists()
    page = response.content.decode()
    for name, value in (
        ("allergy_1_substance", "Penicillin"),
        ("allergy_1_reaction", "anaphylaxis"),
        ("allergy_2_substance", "ibuprofen"),
        ("allergy_3_reaction", "hives"),
        ("medication_1_name", "Warfarin"),
        ("medication_1_dose", "5 mg"),
        ("mrn", "MRN-T1"),
    ):
        assert f'name="{name}" value="{value}"' in page, name
    assert '<option value="life_threatening" selected>' in page
    assert INTAKE["chief_complaint"] in text_of(response)


def test_no_known_allergies_beside_an_allergy_row_is_refused(nurse_client: Client) -> None:
    response = _post(nurse_client, {**TWO_ALLERGIES, "no_known_allergies": "on"})
    assert response.status_code == 400
    assert "untick it, or clear the allergy rows" in field_errors(response)["no_known_allergies"][0]
    assert not Encounter.objects.exists()


def test_the_same_substance_on_two_rows_is_refused(nurse_client: Client) -> None:
    response = _post(nurse_client, {**TWO_ALLERGIES, "allergy_2_substance": " penicillin "})
    assert response.status_code == 400
    assert field_errors(response)["allergy_2_substance"] == [
        "penicillin is on row 1 already: keep one row."
    ]


def test_no_known_allergies_against_a_recorded_allergy_rolls_the_whole_intake_back(
    nurse_client: Client, nurse: User
) -> None:
    """The medication service refuses it inside the intake's transaction: the encounter
    opened a moment before is not kept either."""
    patient = Patient.objects.create(mrn="MRN-T1", name="Ada Test", is_synthetic=True)
    allergy_record(
        patient=patient,
        actor=nurse,
        encounter=None,
        kind="allergy",
        substance="latex",
        reaction="hives",
        severity="mild",
    )
    response = _post(nurse_client, {**INTAKE, "no_known_allergies": "on"})
    assert response.status_code == 400
    assert "would contradict it" in field_errors(response)["no_known_allergies"][0]
    assert not Encounter.objects.exists()
    assert _standing("MRN-T1") == [("allergy", "latex", "hives", "mild")]
    # The nurse sees the allergy on record that the refusal speaks of.
    assert "latex" in text_of(response)


def test_an_allergy_already_recorded_is_kept_and_a_changed_one_supersedes_it(
    nurse_client: Client, nurse: User
) -> None:
    assert _post(nurse_client, TWO_ALLERGIES).status_code == 302
    again = {
        **TWO_ALLERGIES,
        "chief_complaint": "back again: wheeze",
        "allergy_1_substance": "penicillin",  # the same, as typed this time
        "allergy_2_severity": "severe",  # worse than recorded
    }
    assert _post(nurse_client, again).status_code == 302
    assert _standing("MRN-T1") == [
        ("allergy", "Penicillin", "anaphylaxis", "life_threatening"),
        ("allergy", "ibuprofen", "wheeze", "severe"),
    ]
    # Three rows in all: nothing was written twice, and the old ibuprofen row stays.
    assert AllergyRecord.objects.count() == 3
    assert AllergyRecord.objects.get(severity="moderate").superseded_by.severity == "severe"


def test_looking_up_a_known_mrn_shows_what_is_recorded_and_keeps_what_was_typed(
    nurse_client: Client, nurse: User
) -> None:
    patient = Patient.objects.create(
        mrn="MRN-KNOWN", name="Known Synthetic", sex="F", is_synthetic=True
    )
    allergy_record(
        patient=patient,
        actor=nurse,
        encounter=None,
        kind="allergy",
        substance="latex",
        reaction="hives",
        severity="mild",
    )
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = _post(
        nurse_client,
        {"mrn": "MRN-KNOWN", "chief_complaint": "fell off a ladder", "action": "lookup"},
    )
    assert response.status_code == 200
    assert not field_errors(response), "a look-up judges nothing"
    known = re.sub(r"<[^>]+>", "", text_of(response))
    assert "Known patient: Known Synthetic" in known
    assert "latex: hives (Mild)" in known
    page = response.content.decode()
    assert 'name="name" value="Known Synthetic"' in page
    assert "fell off a ladder" in page
    assert not Encounter.objects.exists()
    [event] = AuditEvent.objects.filter(pk__gt=before)
    assert (event.action, event.actor_id) == ("patient.view", nurse.pk)

    # HTMX (the MRN field, on leaving it): the panel alone.
    fragment = nurse_client.post(
        reverse("diagnosis:encounter-new"),
        {"mrn": "MRN-KNOWN", "action": "lookup"},
        HTTP_HX_REQUEST="true",
    )
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert 'id="known-patient"' in body and "latex" in body and "<form" not in body

    unknown = _post(nurse_client, {"mrn": "MRN-NEW", "action": "lookup"})
    assert "No patient has MRN MRN-NEW yet" in text_of(unknown)


def test_more_rows_adds_blank_rows_and_keeps_the_typed_ones(nurse_client: Client) -> None:
    more = {**TWO_ALLERGIES, "allergy_rows": "3", "action": "more_allergies"}
    response = _post(nurse_client, more)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="allergy_6_substance"' in page and 'name="allergy_7_substance"' not in page
    assert 'name="allergy_1_substance" value="Penicillin"' in page
    assert 'name="allergy_rows" value="6"' in page
    assert not Encounter.objects.exists()

    six = {**TWO_ALLERGIES, "allergy_rows": "6", "allergy_6_substance": "latex",
           "allergy_6_severity": "mild"}  # fmt: skip
    assert _post(nurse_client, six).status_code == 302
    assert ("allergy", "latex", "", "mild") in _standing("MRN-T1")
