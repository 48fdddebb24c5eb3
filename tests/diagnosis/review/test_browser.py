"""The review workflow in a real browser: keyboard reading, and double reading by two doctors."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding
from diagnosis.review.models import Review
from imaging.models import Instance
from tests.conftest import make_user, sign_in
from tests.diagnosis.review import builders
from tests.factories import ingested_instance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _case_with_suggestion(seed: int, finding: str, probability: float) -> Instance:
    """A real (SYNTHETIC) DICOM image, so the viewer shows it, with a stored AI suggestion."""
    instance = ingested_instance(seed, finding=finding)
    Suggestion.objects.create(
        instance=instance,
        model_version=builders.model_version(),
        top_finding=Finding.objects.get(code=finding),
        top_probability=probability,
        probabilities={finding: probability},
        input_sha256=instance.sha256,
        latency_ms=1.0,
    )
    return instance


def test_a_doctor_reads_the_worklist_with_the_keyboard_and_the_next_case_opens_by_itself(
    live_server, page, doctor: User
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    urgent = _case_with_suggestion(41, "nodule", 0.9)
    routine = _case_with_suggestion(42, "normal", 0.9)
    sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/cases/")
    expect(page.locator("#worklist tr[data-case-url]")).to_have_count(2)

    page.keyboard.press("j")
    expect(page.locator("#worklist tr.selected")).to_have_count(1)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/cases/{urgent.pk}/"))
    expect(page.get_by_test_id("top-finding")).to_have_text("Nodule")

    page.keyboard.press("?")
    expect(page.locator("#review-keys")).to_be_visible()
    page.keyboard.press("Escape")

    page.keyboard.press("a")
    page.wait_for_url(re.compile(rf"/cases/{routine.pk}/"))
    expect(page.locator(".flash")).to_contain_text("Review saved: Nodule")
    review = Review.objects.get(reviewer=doctor)
    assert (review.instance_id, review.action, review.finding.code) == (
        urgent.pk,
        "accept",
        "nodule",
    )

    page.keyboard.press("r")  # the last case: rejected, and the list is done
    page.wait_for_url(re.compile(r"/cases/\?"))
    expect(page.locator(".flash").first).to_contain_text("non-diagnostic image")


def test_double_reading_by_two_doctors_in_two_browsers(
    live_server, page, doctor: User, settings
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    settings.MEDASSIST_DOUBLE_READING = True
    instance = _case_with_suggestion(43, "nodule", 0.9)
    colleague = make_user("dr-colleague", "doctor")
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 900})
    other.set_default_timeout(15_000)
    second = other.new_page()
    case_url = f"{live_server.url}/cases/{instance.pk}/"

    sign_in(page, live_server, doctor.username)
    page.goto(case_url)
    page.fill("#id_comment", "Round density right mid zone")
    page.get_by_role("button", name="Save review").click()
    page.wait_for_load_state()
    expect(page.locator("ol.reviews")).to_contain_text("Round density")

    sign_in(second, live_server, colleague.username)
    second.goto(f"{live_server.url}/cases/")
    expect(second.locator("#worklist tr[data-case-url]")).to_have_count(1)
    second.goto(case_url)
    expect(second.get_by_test_id("blind-read")).to_be_visible()
    expect(second.locator("ol.reviews")).not_to_contain_text("Round density")
    second.select_option("#id_finding", label="No finding")
    second.get_by_role("button", name="Save review").click()
    second.wait_for_load_state()
    # Both reads are in, so the colleague now sees both, and that they disagree.
    expect(second.locator("ol.reviews")).to_contain_text("Round density")
    expect(second.get_by_test_id("reading-message")).to_contain_text("disagree")

    page.goto(f"{live_server.url}/cases/?status=adjudication")
    expect(page.locator("#worklist tr[data-case-url]")).to_have_count(1)
    other.close()
