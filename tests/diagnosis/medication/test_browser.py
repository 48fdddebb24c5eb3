"""A doctor enters a medication in a real browser, meets an allergy warning and overrides it
with a reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from pytest_django.live_server_helper import LiveServer

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import MedicationPlanEntry
from diagnosis.medication.services import allergy_record
from medassist.models import AuditEvent
from tests.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser]


def test_a_doctor_overrides_an_allergy_warning_with_a_reason(
    page: Page,
    live_server: LiveServer,
    knowledge: int,
    encounter: Encounter,
    nurse: User,
    doctor: User,
) -> None:
    allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind="allergy",
        substance="penicillin",
        reaction="rash",
        severity="mild",
    )
    sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/encounters/{encounter.pk}/medication/")
    plan = page.locator("#plan-form")
    plan.get_by_label("Medication").fill("Amoxicillin 500 mg")
    plan.get_by_role("button", name="Check").click()
    page.wait_for_load_state()

    warning = page.get_by_test_id("medication-warning")
    text = warning.inner_text()
    assert "Contraindicated allergy warning" in text
    assert "Source: BNF" in text and "Decision support" in text
    assert "DEMO CONTENT: not clinical guidance" in text

    # Saving without acknowledging is refused, next to the warning; nothing is stored.
    page.locator("#plan-form").get_by_role("button", name="Save to the plan").click()
    page.wait_for_load_state()
    assert "Say why this medication is still right" in page.locator("#plan-form").inner_text()
    assert not MedicationPlanEntry.objects.exists()

    plan = page.locator("#plan-form")
    plan.get_by_label("I have read this warning").check()
    plan.get_by_label("Reason to override").fill("Tolerated amoxicillin last year")
    plan.get_by_role("button", name="Save to the plan").click()
    page.wait_for_load_state()

    assert "Amoxicillin 500 mg entered in the plan" in page.get_by_role("status").inner_text()
    assert "Tolerated amoxicillin last year" in page.get_by_test_id("plan").inner_text()
    event = AuditEvent.objects.get(action="medication.override")
    assert (event.actor_id, event.detail["reason"]) == (
        doctor.pk,
        "Tolerated amoxicillin last year",
    )
