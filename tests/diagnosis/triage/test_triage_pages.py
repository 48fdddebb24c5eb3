"""The nurse's triage pages: intake, the suggestion and its reasons, confirm/override, the board."""

from __future__ import annotations

import colorsys
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.triage.models import TriageAssessment
from medassist.models import AuditEvent
from tests.conftest import sign_in
from tests.diagnosis.triage.helpers import triage_champion_answering
from tests.web.helpers import field_errors, text_of

INTAKE = {
    "mrn": "MRN-T1",
    "name": "Ada Test",
    "birth_date": "1959-03-01",
    "sex": "F",
    "arrival_mode": "ambulance",
    "chief_complaint": "67 y/o F c/o CP radiating to L arm",
    "heart_rate": "88",
    "respiratory_rate": "16",
    "spo2": "97",
    "systolic_bp": "130",
    "diastolic_bp": "80",
    "temperature": "98.6",
    "temperature_unit": "F",
    "pain": "5",
    "mental_status": "A",
}


@pytest.mark.browser
def test_intake_through_confirmation_in_a_real_browser(page, live_server, nurse: User) -> None:  # type: ignore[no-untyped-def]
    triage_champion_answering(4)
    sign_in(page, live_server, nurse.username)
    page.goto(live_server.url + reverse("diagnosis:encounter-new"))

    # The MRN has the focus: the nurse types at once, tabs through, and Enter submits. The
    # browser applies autofocus at its next rendering step after the load, not at the load
    # itself (the HTML standard's "flush autofocus candidates"): wait for it, briefly.
    page.wait_for_function("document.activeElement && document.activeElement.id", timeout=2000)
    assert page.evaluate("document.activeElement.id") == "id_mrn"
    page.keyboard.type("MRN-T1")
    page.fill("#id_name", "Ada Test")
    page.fill("#id_age_years", "67")
    page.select_option("#id_arrival_mode", "ambulance")
    page.fill("#id_chief_complaint", "67 y/o F c/o CP radiating to L arm")
    for field, value in [
        ("heart_rate", "88"), ("respiratory_rate", "16"), ("spo2", "97"),
        ("systolic_bp", "130"), ("diastolic_bp", "80"), ("temperature", "98.6"),
    ]:  # fmt: skip
        page.fill(f"#id_{field}", value)
    page.select_option("#id_temperature_unit", "F")
    page.select_option("#id_mental_status", "A")
    page.fill("#id_pain", "5")
    # One request from Enter to the suggestion: the page comes back in the intake's answer.
    pages_asked: list[str] = []
    page.on(
        "request",
        lambda r: pages_asked.append(f"{r.method} {r.url}") if "/triage/" in r.url else None,
    )
    page.press("#id_pain", "Enter")
    page.wait_for_url("**/triage/encounters/*/")
    page.get_by_test_id("suggested-level").wait_for()
    encounter_url = page.url
    assert [p for p in pages_asked if "/words/" not in p] == [
        "POST " + live_server.url + reverse("diagnosis:encounter-new")
    ]
    # No copy of a page (patient data, the filled-in intake) kept in the browser's storage.
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    # Reloading shows the same encounter (its own address, a GET): no second intake.
    page.reload()
    assert page.url == encounter_url
    assert page.get_by_test_id("suggested-level").inner_text().split()[:2] == ["ESI", "2"]
    assert TriageAssessment.objects.count() == 1

    # The model said 4; the chest-pain rule makes it 2, and the page says why.
    assert page.get_by_test_id("suggested-level").inner_text().split() == ["ESI", "2", "Emergent"]
    assert "raised from the model's ESI 4" in page.get_by_test_id("explanation").inner_text()
    assert "hard rule" in page.get_by_test_id("rules").inner_text()
    assert page.get_by_test_id("probabilities").locator("tbody tr").count() == 5
    assert page.get_by_test_id("top-words").inner_text().strip()
    assert "SYNTHETIC" in page.content().upper()  # the demo model was trained on generated notes

    # Changing the level without a reason is refused, next to the reason field.
    page.select_option("#id_level", "3")
    page.get_by_role("button", name="Confirm ESI level").click()
    assert "say why" in page.locator(".error").first.inner_text()
    page.select_option("#id_level", "3")
    page.fill("#id_reason", "Pain settled, ECG normal at the door")
    page.get_by_role("button", name="Confirm ESI level").click()
    page.wait_for_load_state()

    assert "Nurse's decision: ESI 3" in page.get_by_test_id("confirmed-level").inner_text()
    saved = TriageAssessment.objects.get()
    assert (saved.suggested_level, saved.confirmed_level) == (2, 3)
    assert saved.encounter.temperature_c == 37 and saved.encounter.temperature_unit == "F"
    assert saved.encounter.arrival_mode == "ambulance"

    page.goto(live_server.url + reverse("diagnosis:triage-board"))
    assert "Ada Test" in page.get_by_test_id("board-row").first.inner_text()


def test_the_board_lists_the_most_acute_first_and_refreshes_as_a_fragment(
    client: Client, nurse: User
) -> None:
    client.force_login(nurse)
    sprain = {"chief_complaint": "ankle sprain, walking", "pain": "2"}
    client.post(
        reverse("diagnosis:encounter-new"), {**INTAKE, "mrn": "A", "name": "Sprain", **sprain}
    )
    client.post(reverse("diagnosis:encounter-new"), {**INTAKE, "mrn": "B", "name": "Chest Pain"})

    page = client.get(reverse("diagnosis:triage-board"))
    fragment = client.get(reverse("diagnosis:triage-board"), HTTP_HX_REQUEST="true")

    board = text_of(fragment)
    assert board.index("Chest Pain") < board.index("Sprain")  # ESI 2 before ESI 4/5
    assert "awaiting the nurse" in board
    assert 'id="board"' in text_of(page)
    assert fragment.status_code == 200
    assert 'id="board"' in text_of(fragment) and "<html" not in text_of(fragment)
    assert 'hx-trigger="every 5s"' in text_of(fragment)


def test_intake_needs_avpu_or_gcs_and_accepts_gcs_alone(client: Client, nurse: User) -> None:
    client.force_login(nurse)
    missing = client.post(reverse("diagnosis:encounter-new"), {**INTAKE, "mental_status": ""})
    implausible = client.post(
        reverse("diagnosis:encounter-new"), {**INTAKE, "mental_status": "", "gcs": "2"}
    )
    gcs_only = client.post(
        reverse("diagnosis:encounter-new"), {**INTAKE, "mental_status": "", "gcs": "7"}
    )

    assert missing.status_code == 400
    assert "AVPU or GCS" in field_errors(missing)["mental_status"][0]
    assert "expected 3 to 15" in field_errors(implausible)["gcs"][0]
    assert gcs_only.status_code == 302
    assessment = TriageAssessment.objects.get()
    assert assessment.encounter.gcs == 7
    assert assessment.suggested_level == 1  # GCS 8 or less: immediate intervention


BOOSTED = {"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"}


def test_the_intake_answers_with_the_encounter_page_itself_when_sent_by_htmx(
    client: Client, nurse: User
) -> None:
    """With JavaScript the form is boosted: the answer to the submit is the encounter's page,
    with its address for the browser's history and the view audited as a page load is;
    without, the usual redirect. A refused intake stays where it is, every value kept."""
    triage_champion_answering(4)
    client.force_login(nurse)
    boosted = client.post(reverse("diagnosis:encounter-new"), INTAKE, **BOOSTED)
    words = client.get(
        reverse("diagnosis:triage-words", args=[TriageAssessment.objects.get().pk]),
        HTTP_HX_REQUEST="true",
    )
    plain = client.post(reverse("diagnosis:encounter-new"), {**INTAKE, "mrn": "MRN-T2"})
    refused = client.post(
        reverse("diagnosis:encounter-new"), {**INTAKE, "mental_status": "", "mrn": "X"}, **BOOSTED
    )
    looked_up = client.post(
        reverse("diagnosis:encounter-new"), {"mrn": "MRN-T1", "action": "lookup"}, **BOOSTED
    )

    first, second = TriageAssessment.objects.order_by("pk")
    first_url = reverse("diagnosis:encounter", args=[first.encounter_id])
    assert boosted.status_code == 200 and boosted["HX-Push-Url"] == first_url
    page = text_of(boosted)
    assert 'data-testid="suggested-level"' in page and "Encounter opened for" in page
    assert AuditEvent.objects.filter(
        action="encounter.view", object_id=str(first.encounter_id), actor=nurse
    ).exists()
    # The page's fragment is part of the page already audited, as after a GET of it.
    assert words.status_code == 200
    assert not AuditEvent.objects.filter(action="encounter.read").exists()
    # Looking up an MRN changes the page in place: no new entry in the browser's history.
    assert looked_up.status_code == 200 and looked_up["HX-Push-Url"] == "false"
    assert "Known patient" in text_of(looked_up)
    assert plain.status_code == 302
    assert plain["Location"] == reverse("diagnosis:encounter", args=[second.encounter_id])
    assert refused.status_code == 400 and refused["HX-Push-Url"] == "false"
    assert "AVPU or GCS" in field_errors(refused)["mental_status"][0]
    assert 'value="X"' in text_of(refused)
    assert TriageAssessment.objects.count() == 2


def test_the_encounter_page_without_a_model_says_the_rules_suggest_alone(
    client: Client, nurse: User
) -> None:
    client.force_login(nurse)
    response = client.post(reverse("diagnosis:encounter-new"), INTAKE, follow=True)

    body = text_of(response)
    assert "ESI 2" in body
    assert "No triage model yet" in body


# --- The ESI colours nurses know, readable, and pages that fit a phone ----------------------

CSS = Path(__file__).resolve().parents[3] / "static" / "css" / "medassist.css"
# level -> hue range in degrees (from, to; red wraps round 0), as on the triage scales nurses
# use: 1 red, 2 orange, 3 yellow, 4 green, 5 blue.
ESI_HUES = {1: (345, 10), 2: (15, 40), 3: (42, 62), 4: (90, 160), 5: (200, 250)}


def _badge_colours() -> dict[int, tuple[str, str]]:
    """Each .esi.esi-N rule of the stylesheet: level -> (background, text colour)."""
    rule = re.compile(
        r"\.esi\.esi-(\d)\s*\{\s*background:\s*(#[0-9a-f]{6});\s*color:\s*(#[0-9a-f]{6});"
    )
    return {int(n): (bg, fg) for n, bg, fg in rule.findall(CSS.read_text())}


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_each_esi_level_has_its_colour_with_text_readable_on_it(level: int) -> None:
    background, text = _badge_colours()[level]
    low, high = ESI_HUES[level]
    rgb = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    hue = colorsys.rgb_to_hsv(*rgb)[0] * 360

    assert (low <= hue <= high) if low < high else (hue >= low or hue <= high), hue
    assert _contrast(background, text) >= 4.5  # WCAG AA for normal-size text


SCROLL_WIDTH = "document.documentElement.scrollWidth"


@pytest.mark.browser
def test_intake_to_confirmation_on_a_phone_with_the_colours_nurses_know(  # type: ignore[no-untyped-def]
    page, live_server, nurse: User
) -> None:
    """The beta-blocker anaphylaxis case, entered on a 390 x 844 screen: nothing scrolls
    sideways, and the suggestion is the red ESI 1 badge, with its number and its name."""
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, nurse.username)
    page.goto(live_server.url + reverse("diagnosis:encounter-new"))
    assert page.evaluate(SCROLL_WIDTH) <= 390

    page.fill("#id_mrn", "MRN-PHONE")
    page.fill("#id_name", "Phone Test")
    page.fill("#id_age_years", "58")
    page.fill("#id_chief_complaint", "anaphylaxis after peanuts, lips swelling, on metoprolol")
    for field, value in [
        ("heart_rate", "88"), ("respiratory_rate", "20"), ("spo2", "96"),
        ("systolic_bp", "72"), ("diastolic_bp", "40"), ("temperature", "36.9"), ("pain", "3"),
    ]:  # fmt: skip
        page.fill(f"#id_{field}", value)
    # Forgetting the mental status: the error shows and the page still fits.
    page.get_by_role("button", name="Open encounter and suggest ESI").click()
    page.wait_for_load_state()
    assert "AVPU or GCS" in page.locator(".has-error .error").first.inner_text()
    assert page.evaluate(SCROLL_WIDTH) <= 390
    page.select_option("#id_mental_status", "A")
    page.get_by_role("button", name="Open encounter and suggest ESI").click()
    page.wait_for_url("**/triage/encounters/*/")

    assert page.evaluate(SCROLL_WIDTH) <= 390
    badge = page.get_by_test_id("suggested-level")
    assert badge.inner_text().split() == ["ESI", "1", "Resuscitation"]
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 38, 38)"
    assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    assert "1.22" in page.get_by_test_id("shock-index").inner_text()
    assert "whatever the heart rate" in page.get_by_test_id("rules").inner_text()

    page.get_by_role("button", name="Confirm ESI level").click()
    page.wait_for_load_state()
    assert "Nurse's decision: ESI 1" in page.get_by_test_id("confirmed-level").inner_text()
    assert page.evaluate(SCROLL_WIDTH) <= 390
    assert TriageAssessment.objects.get(confirmed_level__isnull=False).confirmed_level == 1

    page.goto(live_server.url + reverse("diagnosis:triage-board"))
    assert page.evaluate(SCROLL_WIDTH) <= 390
    row = page.get_by_test_id("board-row").first
    assert "Phone Test" in row.inner_text()
    level = row.get_by_test_id("board-level")
    assert level.inner_text().split() == ["ESI", "1", "·", "Resuscitation"]
    assert level.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 38, 38)"
