"""The pages in a real browser, on a live server, with a real Celery worker behind them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.db import connections
from pytest_django.live_server_helper import LiveServer

from diagnosis.models import ModelVersion, Review
from tests.conftest import service_missing
from tests.unit.factories import synthetic_file

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PASSWORD = "pw-for-tests-only"  # tests.conftest.make_user
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, live_server: LiveServer) -> Iterator[Page]:
    """A fresh chromium page; the browser is closed before the database is flushed."""
    executable = shutil.which("chromium")
    if executable is None:
        service_missing("chromium")
    try:
        from playwright import sync_api
    except ImportError:
        service_missing("Playwright (pip install playwright)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # meanwhile are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()
            # With a loop running, Django keeps this thread's connections per context, so the
            # ones the test opened would outlive it and block dropping the test database.
            connections.close_all()


def _sign_in(page: Page, live_server: LiveServer, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "signing in failed"


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
