"""A doctor codes a final diagnosis in a real browser: search as you type, pick, save."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from pytest_django.live_server_helper import LiveServer

from diagnosis.encounters.models import FinalDiagnosis
from tests.conftest import sign_in
from tests.diagnosis.encounters.helpers import encounter_of

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser]


def test_a_doctor_searches_pneumonia_picks_a_code_and_saves_it(
    page: Page, live_server: LiveServer, doctor: User, nurse: User
) -> None:
    encounter = encounter_of(nurse)
    sign_in(page, live_server, doctor.username)
    url = f"{live_server.url}/encounters/{encounter.pk}/final-diagnosis/"
    page.goto(url)

    page.get_by_label("Search ICD-10").press_sequentially("pneumonia", delay=30)
    option = page.get_by_label("J18.9 Pneumonia, unspecified")
    option.wait_for()
    # The results came in place, by htmx: the page itself was not reloaded with a query.
    assert page.url == url
    option.check()
    page.get_by_label("Note (optional)").fill("Consolidation right lower lobe")
    page.get_by_role("button", name="Save final diagnosis").click()
    page.wait_for_load_state()

    assert page.get_by_role("status").inner_text() == (
        "Final diagnosis saved: J18.9 Pneumonia, unspecified."
    )
    history = page.get_by_test_id("final-diagnosis-history")
    assert "J18.9" in history.inner_text()
    saved = FinalDiagnosis.objects.get(encounter=encounter)
    assert (saved.icd10_code, saved.doctor_id) == ("J18.9", doctor.pk)


def test_a_doctor_records_the_disposition_and_an_implausible_level_asks_for_a_note(
    page: Page, live_server: LiveServer, doctor: User, nurse: User
) -> None:
    from diagnosis.encounters.models import Disposition

    encounter = encounter_of(nurse, mrn="SYN-CODING-DISP")
    sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/encounters/{encounter.pk}/final-diagnosis/")

    form = page.locator("#disposition-form")
    form.get_by_label("Outcome").select_option(label="Admitted to critical care (ICU / HDU)")
    form.get_by_label("ESI 5").check()
    form.get_by_role("button", name="Save disposition").click()
    page.wait_for_load_state()
    assert "add a note saying why" in page.get_by_role("alert").inner_text()
    # What the doctor chose is still there to correct.
    assert form.get_by_label("Outcome").input_value() == "critical_care"
    assert form.get_by_label("ESI 5").is_checked()
    assert not Disposition.objects.exists()

    form.get_by_label("ESI 2").check()
    form.get_by_role("button", name="Save disposition").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == (
        "Disposition saved: Admitted to critical care (ICU / HDU), ESI 2 in hindsight."
    )
    assert "ESI 2 in hindsight" in page.get_by_test_id("disposition-history").inner_text()
    saved = Disposition.objects.get(encounter=encounter)
    assert (saved.outcome, saved.esi_in_hindsight, saved.doctor_id) == (
        "critical_care",
        2,
        doctor.pk,
    )
