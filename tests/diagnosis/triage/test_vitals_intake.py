"""Vitals as they really are at the door: absent ones entered, stored and acted on; the cap on
the complaint's length."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import encounter_intake
from tests.diagnosis.triage.test_triage_pages import INTAKE
from tests.web.helpers import field_errors, text_of

pytestmark = pytest.mark.django_db

ARREST = {
    **INTAKE,
    "chief_complaint": "found collapsed at the bus stop",
    "heart_rate": "",
    "pulseless": "on",
    "respiratory_rate": "",
    "apnoeic": "on",
    "spo2": "",
    "spo2_unobtainable": "on",
    "systolic_bp": "",
    "diastolic_bp": "",
    "bp_unobtainable": "on",
    "pain": "0",
    "mental_status": "U",
}


@pytest.fixture
def nurse_client(client: Client, nurse: User) -> Client:
    client.force_login(nurse)
    return client


def _post(client: Client, data: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.post(reverse("diagnosis:encounter-new"), data)


def test_a_pulseless_apnoeic_patient_can_be_entered_and_is_esi_1(nurse_client: Client) -> None:
    response = _post(nurse_client, ARREST)

    assert response.status_code == 302, field_errors(response)
    encounter = Encounter.objects.get()
    assert (encounter.pulseless, encounter.apnoeic) == (True, True)
    assert (encounter.spo2_unobtainable, encounter.bp_unobtainable) == (True, True)
    assert [encounter.heart_rate, encounter.respiratory_rate, encounter.spo2] == [None] * 3
    assert (encounter.systolic_bp, encounter.diastolic_bp) == (None, None)
    assessment = TriageAssessment.objects.get()
    assert assessment.suggested_level == 1
    fired = {rule["code"]: rule for rule in assessment.rules_fired}
    assert {"A_PULSELESS_VITALS", "A_APNOEA_VITALS"} <= set(fired)
    assert "No pulse" in fired["A_PULSELESS_VITALS"]["reason"]
    # The model reads them as the SYNTHETIC arrest notes it learnt from: HR 0, RR 0, no
    # SpO2 and no blood pressure.
    assert "HR 0" in assessment.input_text and "RR 0" in assessment.input_text
    assert "SpO2" not in assessment.input_text and "BP" not in assessment.input_text
    assert assessment.shock_index is None

    page = text_of(nurse_client.get(response["Location"]))
    assert "No pulse" in page and "Not breathing" in page
    assert page.count("Cannot be measured") == 2  # SpO2 and blood pressure
    assert "Shock index (heart rate / systolic BP): not available (no pulse)" in page


def test_an_unmeasurable_blood_pressure_in_a_drowsy_patient_is_shock(nurse_client: Client) -> None:
    data = {
        **INTAKE,
        "chief_complaint": "weak, dizzy",
        "systolic_bp": "",
        "diastolic_bp": "",
        "bp_unobtainable": "on",
        "mental_status": "V",
    }

    response = _post(nurse_client, data)

    assert response.status_code == 302, field_errors(response)
    assessment = TriageAssessment.objects.get()
    assert assessment.suggested_level == 1
    assert "A_SHOCK" in {rule["code"] for rule in assessment.rules_fired}


def test_an_unmeasurable_spo2_alone_suggests_esi_2_for_the_nurse_to_look(
    nurse_client: Client,
) -> None:
    data = {**INTAKE, "chief_complaint": "sore throat", "spo2": "", "spo2_unobtainable": "on"}

    response = _post(nurse_client, data)

    assert response.status_code == 302, field_errors(response)
    assessment = TriageAssessment.objects.get()
    assert (assessment.suggested_level, assessment.rules_floor) == (2, None)
    assert "D_SPO2_UNOBTAINABLE" in {rule["code"] for rule in assessment.rules_fired}


def test_the_beta_blocker_anaphylaxis_case_is_esi_1_with_its_shock_index_shown(
    nurse_client: Client,
) -> None:
    data = {
        **INTAKE,
        "chief_complaint": "anaphylaxis after peanuts, takes metoprolol",
        "heart_rate": "88",
        "systolic_bp": "72",
        "diastolic_bp": "40",
    }

    response = _post(nurse_client, data)

    assessment = TriageAssessment.objects.get()
    assert assessment.suggested_level == 1
    assert assessment.shock_index == 1.22
    page = text_of(nurse_client.get(response["Location"]))
    assert "Shock index (heart rate / systolic BP): <strong>1.22</strong> (88 / 72)" in page
    assert "whatever the heart rate" in page


# (posted changes, field, words the nurse reads next to it)
REFUSED = [
    (
        {"heart_rate": "0"},
        "heart_rate",
        "expected 20 to 300 beats per minute. If there is no pulse",
    ),
    ({"respiratory_rate": "1"}, "respiratory_rate", "If the patient is not breathing, tick"),
    ({"spo2": "0"}, "spo2", "0% is not an SpO2 reading. If the oximeter finds no reliable trace"),
    ({"systolic_bp": "20"}, "systolic_bp", "tick 'BP cannot be measured'"),
    ({"heart_rate": "500"}, "heart_rate", "expected 20 to 300 beats per minute."),
    ({"heart_rate": ""}, "heart_rate", "Enter the heart rate, or tick 'No pulse (pulseless)'."),
    ({"respiratory_rate": ""}, "respiratory_rate", "Enter the respiratory rate, or tick"),
    ({"spo2": ""}, "spo2", "Enter the SpO2, or tick 'SpO2 cannot be measured"),
    ({"diastolic_bp": ""}, "diastolic_bp", "Enter the diastolic BP, or tick 'BP cannot be"),
    (
        {"pulseless": "on"},
        "heart_rate",
        "'No pulse (pulseless)' is ticked and the heart rate is filled in: clear one of them.",
    ),
    ({"apnoeic": "on"}, "respiratory_rate", "'Not breathing (apnoeic)' is ticked"),
    ({"spo2_unobtainable": "on"}, "spo2", "is ticked and the SpO2 is filled in"),
    ({"bp_unobtainable": "on"}, "systolic_bp", "is ticked and the systolic BP is filled in"),
]


@pytest.mark.parametrize(("changes", "field", "words"), REFUSED)
def test_a_vital_is_typed_or_ticked_absent_and_the_form_says_which(
    nurse_client: Client, changes: dict[str, str], field: str, words: str
) -> None:
    response = _post(nurse_client, {**INTAKE, **changes})

    assert response.status_code == 400
    errors = field_errors(response)
    assert words in errors[field][0]
    assert not Encounter.objects.exists()


def test_the_encounter_refuses_a_vital_both_ticked_and_filled_in(nurse: User) -> None:
    fields = {
        "mrn": "TRI-V",
        "name": "Vitals Test",
        "birth_date": None,
        "sex": "M",
        "age_years": Decimal("40"),
        "chief_complaint": "collapsed",
        "heart_rate": 80,
        "respiratory_rate": 16,
        "spo2": 97,
        "systolic_bp": 120,
        "diastolic_bp": 80,
        "temperature_c": Decimal("37.0"),
        "temperature_unit": "C",
        "pain": 0,
        "mental_status": "A",
        "gcs": None,
        "arrival_mode": "walk_in",
    }

    with pytest.raises(ValidationError) as both:
        encounter_intake(**fields, pulseless=True, actor=nurse)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as neither:
        encounter_intake(**{**fields, "spo2": None}, actor=nurse)  # type: ignore[arg-type]

    assert "keep only one" in both.value.message_dict["heart_rate"][0]
    assert "Record the SpO2, or tick" in neither.value.message_dict["spo2"][0]
    assert not Encounter.objects.exists()


def test_the_database_holds_a_value_or_its_absent_tick_never_both_nor_neither(
    nurse_client: Client,
) -> None:
    _post(nurse_client, INTAKE)
    rows = Encounter.objects.all()

    for change in (
        {"heart_rate": None},
        {"pulseless": True},
        {"respiratory_rate": None},
        {"apnoeic": True},
        {"spo2": None},
        {"spo2_unobtainable": True},
        {"diastolic_bp": None},
        {"bp_unobtainable": True},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.update(**change)
    assert rows.get().heart_rate == 88


# --- The complaint's length --------------------------------------------------------------


def test_a_complaint_over_the_limit_is_refused_next_to_the_field(nurse_client: Client) -> None:
    at_limit = _post(nurse_client, {**INTAKE, "mrn": "LIM-1", "chief_complaint": "x" * 2000})
    over = _post(nurse_client, {**INTAKE, "mrn": "LIM-2", "chief_complaint": "x" * 2001})

    assert at_limit.status_code == 302
    assert over.status_code == 400
    message = field_errors(over)["chief_complaint"][0]
    assert "The complaint is 2,001 characters long; the limit is 2,000." in message
    assert Encounter.objects.count() == 1
    assert "Up to 2,000 characters." in text_of(
        nurse_client.get(reverse("diagnosis:encounter-new"))
    )


@override_settings(MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS=40)
def test_the_complaint_limit_is_a_setting_the_service_keeps_too(
    nurse_client: Client, nurse: User
) -> None:
    over = _post(nurse_client, {**INTAKE, "chief_complaint": "chest pain " * 5})

    assert "the limit is 40" in field_errors(over)["chief_complaint"][0]
    with pytest.raises(ValidationError) as refused:
        encounter_intake(
            mrn="LIM-S", name="", birth_date=None, sex="U", age_years=None,
            chief_complaint="y" * 41, heart_rate=80, respiratory_rate=16, spo2=98,
            systolic_bp=120, diastolic_bp=80, temperature_c=Decimal("37.0"),
            temperature_unit="C", pain=0, mental_status="A", gcs=None,
            arrival_mode="walk_in", actor=nurse,
        )  # fmt: skip
    assert "the limit is 40" in refused.value.message_dict["chief_complaint"][0]
    assert not Encounter.objects.exists()


def test_a_form_shown_again_keeps_the_birth_date_the_browser_can_read(
    nurse_client: Client,
) -> None:
    """A refused intake comes back with the birth date in the only form a browser's date
    field shows (ISO), so the nurse does not type it again."""
    response = _post(nurse_client, {**INTAKE, "chief_complaint": ""})  # refused: no complaint
    assert response.status_code == 400
    assert 'name="birth_date" value="1959-03-01"' in response.content.decode()
