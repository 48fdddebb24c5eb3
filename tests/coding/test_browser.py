"""A doctor codes a final diagnosis in a real browser: search as you type, pick, save."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from pytest_django.live_server_helper import LiveServer

from diagnosis.models import FinalDiagnosis
from tests.coding.helpers import encounter_of
from tests.conftest import sign_in

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
