"""The pages in a real browser, on a live server, with a real Celery worker behind them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from pytest_django.live_server_helper import LiveServer

from diagnosis.registry.models import ModelVersion
from diagnosis.review.models import Review
from tests.conftest import sign_in
from tests.factories import synthetic_file

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _sign_in(page: Page, live_server: LiveServer, username: str) -> None:
    sign_in(page, live_server, username)


def _mark_region(page: Page, element_id: str) -> bool:
    """Tag the region as first rendered; return whether it is polling (in one step, no race)."""
    return page.evaluate(
        """(id) => {
            const el = document.getElementById(id);
            el.dataset.firstRender = "1";
            return el.hasAttribute("hx-get");
        }""",
        element_id,
    )


def _region_was_swapped(page: Page, element_id: str) -> bool:
    """True once htmx has replaced the tagged region with a fragment from the server."""
    return page.evaluate(
        "(id) => document.getElementById(id).dataset.firstRender === undefined", element_id
    )


def test_a_doctor_uploads_sees_the_suggestion_arrive_and_reviews_it(
    live_server: LiveServer,
    celery_worker: None,
    image_champion: ModelVersion,
    doctor: User,
    page: Page,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    dicom = tmp_path / "chest.dcm"
    dicom.write_bytes(synthetic_file(31, finding="opacity"))

    _sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/imaging/upload/")
    page.set_input_files("#id_file", str(dicom))
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url("**/cases/*/")

    # Whatever happens next must happen in this very page, without a reload.
    page.evaluate("window.__noReload = 1")
    polling = _mark_region(page, "suggestion")
    top = page.get_by_test_id("top-finding")
    expect(top).to_be_visible(timeout=60_000)
    assert page.evaluate("window.__noReload") == 1
    if polling:
        assert _region_was_swapped(page, "suggestion")
    assert top.inner_text().strip() in {"No finding", "Opacity", "Nodule"}
    expect(page.get_by_test_id("model-version")).to_contain_text(f"image v{image_champion.version}")
    # The rendered frame really displays: a broken image would have naturalWidth 0.
    page.wait_for_function(
        "() => { const img = document.getElementById('frame');"
        " return img.complete && img.naturalWidth > 0; }"
    )

    page.select_option("#id_finding", label="Nodule")
    page.fill("#id_comment", "Small round density, right mid zone")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_load_state()

    history = page.locator("ol.reviews")
    expect(history).to_contain_text("Nodule")
    expect(history).to_contain_text(doctor.username)
    expect(history).to_contain_text("Small round density")
    review = Review.objects.get(reviewer=doctor)
    assert review.finding.code == "nodule"


def test_an_ml_admin_starts_retraining_and_watches_it_finish_without_reloading(
    live_server: LiveServer,
    celery_worker: None,
    image_champion: ModelVersion,
    ml_admin: User,
    page: Page,
) -> None:
    from playwright.sync_api import expect

    _sign_in(page, live_server, ml_admin.username)
    assert page.url.rstrip("/").endswith("/models")
    page.get_by_role("button", name="Start retraining on the reviewed cases").click()
    page.wait_for_url("**/models/runs/*/")

    page.evaluate("window.__noReload = 1")
    polling = _mark_region(page, "progress")
    status = page.get_by_test_id("run-status")
    expect(status).to_have_text("Finished", timeout=120_000)
    decision = page.get_by_test_id("decision")
    expect(decision).to_be_visible()
    expect(decision).to_contain_text("champion")
    assert page.evaluate("window.__noReload") == 1
    if polling:
        assert _region_was_swapped(page, "progress")
