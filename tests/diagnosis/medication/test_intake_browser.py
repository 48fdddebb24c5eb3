"""In a real browser, on a phone-sized screen: the triage nurse sees a known patient's recorded
allergy, enters a new one at intake, and the doctor then meets its warning on the medication
plan."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import AllergyRecord
from diagnosis.medication.services import allergy_record
from medassist.models import Patient
from tests.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser]

SCROLL_WIDTH = "document.documentElement.scrollWidth"


def test_a_nurse_enters_an_allergy_at_intake_and_the_doctor_meets_its_warning(
    page: Page,
    live_server: LiveServer,
    knowledge: int,
    nurse: User,
    doctor: User,
) -> None:
    patient = Patient.objects.create(mrn="SYN-INTAKE-1", name="Synthetic Intake", is_synthetic=True)
    allergy_record(
        patient=patient,
        actor=nurse,
        encounter=None,
        kind="allergy",
        substance="latex",
        reaction="hives",
        severity="mild",
    )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, nurse.username)
    page.goto(live_server.url + reverse("diagnosis:encounter-new"))
    assert page.evaluate(SCROLL_WIDTH) <= 390

    # Leaving the MRN field shows what is recorded for this patient.
    page.fill("#id_mrn", "SYN-INTAKE-1")
    page.press("#id_mrn", "Tab")
    known = page.get_by_test_id("known-allergies")
    known.wait_for()
    assert "latex: hives (Mild)" in known.inner_text()

    page.fill("#id_age_years", "44")
    page.fill("#id_chief_complaint", "cellulitis of the left leg, spreading since yesterday")
    for field, value in [
        ("heart_rate", "96"), ("respiratory_rate", "18"), ("spo2", "98"),
        ("systolic_bp", "128"), ("diastolic_bp", "76"), ("temperature", "38.2"), ("pain", "4"),
    ]:  # fmt: skip
        page.fill(f"#id_{field}", value)
    page.select_option("#id_mental_status", "A")
    page.get_by_label("Allergy 1: substance").fill("Penicillin")
    page.get_by_label("Allergy 1: reaction").fill("anaphylaxis")
    # The severity forgotten: refused next to the row, nothing lost, and the page still fits.
    page.get_by_role("button", name="Open encounter and suggest ESI").click()
    page.wait_for_load_state()
    assert "Choose the severity" in page.locator(".has-error .error").first.inner_text()
    assert page.get_by_label("Allergy 1: substance").input_value() == "Penicillin"
    assert page.get_by_label("Allergy 1: reaction").input_value() == "anaphylaxis"
    assert page.evaluate(SCROLL_WIDTH) <= 390
    assert not Encounter.objects.exists()

    page.get_by_label("Allergy 1: severity").select_option("life_threatening")
    page.get_by_label("Medication 1", exact=True).fill("warfarin")
    # Enter opens the encounter, as before. The first intake of the server process loads
    # the text encoder: on a small machine that takes a while.
    page.press("#id_pain", "Enter", no_wait_after=True)
    page.wait_for_url(re.compile(r"/triage/encounters/\d+/$"), timeout=60_000)
    encounter = Encounter.objects.get(patient=patient)
    assert sorted(
        AllergyRecord.objects.filter(patient=patient, superseded_by__isnull=True).values_list(
            "substance", flat=True
        )
    ) == ["Penicillin", "latex"]

    # The doctor, later, enters amoxicillin in the plan: the nurse's allergy warns.
    page.context.clear_cookies()
    sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/encounters/{encounter.pk}/medication/")
    plan = page.locator("#plan-form")
    plan.get_by_label("Medication").fill("Amoxicillin 500 mg")
    plan.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    warning = page.get_by_test_id("medication-warning").first.inner_text()
    assert "Contraindicated allergy warning" in warning
    assert "allergy to Penicillin (anaphylaxis, life-threatening)" in warning
    assert page.evaluate(SCROLL_WIDTH) <= 390
