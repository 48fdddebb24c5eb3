"""Reassessment: vital signs taken again make a new suggestion that supersedes the last (which
stays on record), the board says whose vital signs are overdue for their ESI level, and only
nurses take them. The model's own level and the rules' own level are shown apart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.encounters.models import Encounter, VitalSigns
from diagnosis.triage import selectors, services
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import encounter_intake, triage_confirm, vitals_retake
from medassist.access import POLICY
from medassist.models import AuditEvent
from medassist.roles import Role
from tests.conftest import make_user, sign_in
from tests.diagnosis.triage.helpers import triage_champion_answering
from tests.diagnosis.triage.test_triage_pages import SCROLL_WIDTH
from tests.diagnosis.triage.test_vitals_intake import REFUSED
from tests.web.helpers import field_errors, text_of

pytestmark = pytest.mark.django_db

# An adult with a sprained ankle, normal vitals at the door: the rules say ESI 4 (one x-ray).
SPRAIN = {
    "mrn": "SYN-RE-1",
    "name": "Synthetic Reassess",
    "birth_date": None,
    "sex": "F",
    "age_years": Decimal("45"),
    "chief_complaint": "ankle sprain, walking",
    "heart_rate": 88,
    "respiratory_rate": 16,
    "spo2": 98,
    "systolic_bp": 130,
    "diastolic_bp": 80,
    "temperature_c": Decimal("36.9"),
    "temperature_unit": "C",
    "pain": 4,
    "mental_status": "A",
    "gcs": None,
    "arrival_mode": "walk_in",
}
# Forty minutes later: heart and breathing rate in the adult danger zone (D: consider ESI 2).
WORSE = {
    "heart_rate": 150,
    "respiratory_rate": 28,
    "spo2": 93,
    "systolic_bp": 104,
    "diastolic_bp": 62,
    "temperature_c": Decimal("37.0"),
    "temperature_unit": "C",
    "pain": 6,
    "mental_status": "A",
    "gcs": None,
}
# The same, as the form posts it.
WORSE_FORM = {
    "heart_rate": "150",
    "respiratory_rate": "28",
    "spo2": "93",
    "systolic_bp": "104",
    "diastolic_bp": "62",
    "temperature": "37.0",
    "temperature_unit": "C",
    "pain": "6",
    "mental_status": "A",
}


def _open(nurse: User, **changes: Any) -> TriageAssessment:
    return encounter_intake(**{**SPRAIN, **changes}, actor=nurse)


def _vitals_url(encounter_id: int) -> str:
    return reverse("diagnosis:encounter-vitals", kwargs={"encounter_id": encounter_id})


# --- Taking the vital signs again --------------------------------------------------------


def test_vitals_taken_again_make_a_new_assessment_that_supersedes_the_last(
    nurse: User, tiny: dict[str, int]
) -> None:
    triage_champion_answering(4)
    first = triage_confirm(assessment=_open(nurse), level=4, reason="", actor=nurse)
    encounter = first.encounter

    second = vitals_retake(encounter=encounter, actor=nurse, **WORSE)

    # Recomputed on the new vitals: the model still says 4, the danger zone raises it to 2.
    assert (second.model_level, second.rules_level, second.suggested_level) == (4, 2, 2)
    assert "HR 150" in second.input_text
    assert second.vitals is not None and second.vitals.heart_rate == 150
    assert second.supersedes == first and second.confirmed_level is None, "the nurse decides"
    # The earlier assessment and its decision stay as they were, on the intake's vitals.
    first.refresh_from_db()
    assert (first.suggested_level, first.confirmed_level) == (4, 4)
    assert first.vitals is not None and first.vitals.heart_rate == 88
    assert TriageAssessment.objects.filter(encounter=encounter).count() == 2
    # Every measurement is kept; the encounter's own columns stay the intake set.
    assert list(
        VitalSigns.objects.filter(encounter=encounter)
        .order_by("taken_at")
        .values_list("heart_rate", flat=True)
    ) == [88, 150]
    assert Encounter.objects.get(pk=encounter.pk).heart_rate == 88
    # Audited like the other triage writes.
    actions = AuditEvent.objects.filter(actor=nurse).order_by("pk").values_list("action", flat=True)
    assert list(actions)[-2:] == ["vitals.record", "triage.assess"]
    recorded = AuditEvent.objects.get(action="vitals.record")
    assert recorded.object_id == str(second.vitals.pk)
    assert recorded.detail["encounter"] == encounter.pk


def test_the_nurse_confirms_the_new_suggestion_and_the_chain_goes_on(nurse: User) -> None:
    first = _open(nurse)
    second = vitals_retake(encounter=first.encounter, actor=nurse, **WORSE)

    with pytest.raises(ValidationError, match="replaced by a newer one"):
        triage_confirm(assessment=first, level=4, reason="", actor=nurse)
    decided = triage_confirm(assessment=second, level=2, reason="", actor=nurse)

    assert decided.pk == second.pk and decided.confirmed_level == 2


def test_a_retake_with_a_vital_both_ticked_and_typed_stores_nothing(nurse: User) -> None:
    first = _open(nurse)

    with pytest.raises(ValidationError) as refused:
        vitals_retake(encounter=first.encounter, actor=nurse, **{**WORSE, "pulseless": True})

    assert "keep only one" in refused.value.message_dict["heart_rate"][0]
    assert VitalSigns.objects.filter(encounter=first.encounter).count() == 1
    assert TriageAssessment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_rules_and_the_model_run_after_the_new_vitals_are_committed(
    nurse: User, tiny: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    triage_champion_answering(4)
    first = _open(nurse)
    seen: list[tuple[bool, bool]] = []
    real_opinion = services.model_opinion

    def watched(**kwargs: Any) -> services.ModelOpinion:
        committed = VitalSigns.objects.filter(encounter=first.encounter, heart_rate=150).exists()
        seen.append((connection.in_atomic_block, committed))
        return real_opinion(**kwargs)

    monkeypatch.setattr(services, "model_opinion", watched)

    second = vitals_retake(encounter=first.encounter, actor=nurse, **WORSE)

    assert seen == [(False, True)], "the model ran outside any transaction, on stored vitals"
    assert second.model_level == 4


# --- The encounter page --------------------------------------------------------------------


@pytest.fixture
def nurse_client(client: Client, nurse: User) -> Client:
    client.force_login(nurse)
    return client


def test_a_nurse_takes_the_vitals_again_from_the_encounter_page(
    nurse_client: Client, nurse: User
) -> None:
    encounter = _open(nurse).encounter
    page = text_of(nurse_client.get(reverse("diagnosis:encounter", args=[encounter.pk])))
    assert "Take the vital signs again" in page

    response = nurse_client.post(_vitals_url(encounter.pk), WORSE_FORM, follow=True)

    body = text_of(response)
    assert response.redirect_chain[-1][0] == reverse("diagnosis:encounter", args=[encounter.pk])
    assert "Vital signs recorded: suggested ESI 2 (no model, rules ESI 2)" in body
    assert 'data-testid="vital-heart-rate">150 /min' in body, "the current vitals are the new"
    assert body.count('data-testid="measurement"') == 2
    assert body.count('data-testid="assessment"') == 2
    assert "(superseded)" in body and "not confirmed" in body
    current = TriageAssessment.objects.get(superseded_by__isnull=True)
    assert current.suggested_level == 2 and current.vitals.taken_by == nurse


@pytest.mark.parametrize(("changes", "field", "words"), REFUSED)
def test_the_retake_form_checks_the_vitals_as_the_intake_does(
    nurse_client: Client, nurse: User, changes: dict[str, str], field: str, words: str
) -> None:
    encounter = _open(nurse).encounter

    response = nurse_client.post(_vitals_url(encounter.pk), {**WORSE_FORM, **changes})

    assert response.status_code == 400
    assert any(words in error for error in field_errors(response)[field]), field_errors(response)
    assert VitalSigns.objects.filter(encounter=encounter).count() == 1


def test_the_retake_form_needs_avpu_or_gcs_and_takes_gcs_alone(
    nurse_client: Client, nurse: User
) -> None:
    encounter = _open(nurse).encounter
    no_status = {**WORSE_FORM, "mental_status": ""}

    missing = nurse_client.post(_vitals_url(encounter.pk), no_status)
    gcs_only = nurse_client.post(_vitals_url(encounter.pk), {**no_status, "gcs": "7"})

    assert "AVPU or GCS" in field_errors(missing)["mental_status"][0]
    assert gcs_only.status_code == 302
    assert TriageAssessment.objects.get(superseded_by__isnull=True).suggested_level == 1


@pytest.mark.parametrize("role", [Role.DOCTOR, Role.ML_ADMIN, Role.AUDITOR])
def test_only_nurses_take_vital_signs(client: Client, nurse: User, role: str) -> None:
    assert POLICY["diagnosis:encounter-vitals"].roles == {Role.NURSE}
    encounter = _open(nurse).encounter
    client.force_login(make_user(f"not-a-nurse-{role}", role))

    response = client.post(_vitals_url(encounter.pk), WORSE_FORM)

    assert response.status_code == 403
    assert VitalSigns.objects.filter(encounter=encounter).count() == 1
    assert TriageAssessment.objects.count() == 1


def test_the_page_shows_the_model_s_level_and_the_rules_level_beside_the_suggestion(
    nurse_client: Client, tiny: dict[str, int]
) -> None:
    triage_champion_answering(4)
    form = {
        **WORSE_FORM,
        "mrn": "SYN-RE-2", "name": "Synthetic Chest", "sex": "M", "age_years": "67",
        "chief_complaint": "67 y/o M c/o CP radiating to L arm",
        "heart_rate": "88", "respiratory_rate": "16", "spo2": "97", "systolic_bp": "130",
        "diastolic_bp": "80", "pain": "5",
    }  # fmt: skip

    response = nurse_client.post(reverse("diagnosis:encounter-new"), form, follow=True)

    body = text_of(response)
    assert "suggested ESI 2 (model ESI 4, rules ESI 2)" in body  # the nurse's message
    levels = body.split('data-testid="levels"')[1].split("</p>")[0]
    assert 'data-testid="model-level">ESI 4' in levels
    assert 'data-testid="rules-level">ESI 2' in levels
    assert "raised (never lowered) by a hard rule" in levels


# --- The board: time since the vital signs, and who is overdue ------------------------------


def _waiting(
    nurse: User, mrn: str, *, level: int, vitals_minutes_ago: int, now: dt.datetime
) -> Encounter:
    """A patient the nurse put at ``level``, who arrived and had the vitals taken that many
    minutes before ``now`` (time stands still by dating the rows back)."""
    assessment = _open(nurse, mrn=mrn)
    triage_confirm(assessment=assessment, level=level, reason="set by the test", actor=nurse)
    encounter = assessment.encounter
    taken = now - dt.timedelta(minutes=vitals_minutes_ago)
    Encounter.objects.filter(pk=encounter.pk).update(created_at=taken)
    VitalSigns.objects.filter(encounter=encounter).update(taken_at=taken)
    return encounter


@pytest.mark.parametrize(
    ("level", "minutes_ago", "overdue_by"),
    [
        (1, 600, None),  # continuous care at the bedside: never flagged
        (2, 14, None),
        (2, 15, None),  # due now, not yet overdue
        (2, 16, 1),
        (3, 29, None),
        (3, 45, 15),
        (4, 59, None),
        (4, 61, 1),
        (5, 119, None),
        (5, 180, 60),
    ],
)
def test_the_board_flags_vitals_overdue_for_the_patient_s_esi_level(
    nurse: User, level: int, minutes_ago: int, overdue_by: int | None
) -> None:
    now = timezone.now()
    encounter = _waiting(nurse, "SYN-RE-B", level=level, vitals_minutes_ago=minutes_ago, now=now)

    [row] = selectors.triage_board(now=now)

    assert row.encounter == encounter and row.level == level
    assert row.vitals_minutes == minutes_ago
    assert row.reassess_every == {1: 0, 2: 15, 3: 30, 4: 60, 5: 120}[level]
    assert row.overdue_minutes == overdue_by


def test_the_board_page_says_overdue_in_words_and_links_to_the_form(
    nurse_client: Client, nurse: User
) -> None:
    now = timezone.now()
    late = _waiting(nurse, "SYN-RE-L", level=2, vitals_minutes_ago=40, now=now)
    _waiting(nurse, "SYN-RE-F", level=2, vitals_minutes_ago=5, now=now)

    board = text_of(nurse_client.get(reverse("diagnosis:triage-board"), HTTP_HX_REQUEST="true"))

    rows = board.split('data-testid="board-row"')[1:]
    flagged = [row for row in rows if 'data-testid="overdue"' in row]
    assert len(flagged) == 1 and "SYN-RE-L" in flagged[0]
    assert "<strong>Overdue</strong> by 25 min" in flagged[0]
    assert f"/triage/encounters/{late.pk}/#retake" in flagged[0]
    assert "every 15 min" in flagged[0]


def test_vitals_taken_again_clear_the_flag(nurse: User) -> None:
    now = timezone.now()
    encounter = _waiting(nurse, "SYN-RE-C", level=3, vitals_minutes_ago=50, now=now)
    assert selectors.triage_board(now=now)[0].overdue

    vitals_retake(encounter=encounter, actor=nurse, **{**WORSE, "heart_rate": 90})

    [row] = selectors.triage_board()
    assert not row.overdue and row.vitals_minutes == 0


def test_a_less_acute_new_suggestion_does_not_move_the_patient_down_before_the_nurse_decides(
    nurse: User,
) -> None:
    first = _open(nurse)
    worse = vitals_retake(encounter=first.encounter, actor=nurse, **WORSE)
    triage_confirm(assessment=worse, level=2, reason="", actor=nurse)

    better = vitals_retake(
        encounter=first.encounter,
        actor=nurse,
        **{**WORSE, "heart_rate": 84, "respiratory_rate": 16},
    )

    assert better.suggested_level == 4
    [row] = selectors.triage_board()
    assert (row.level, row.confirmed, row.reassess_every) == (2, False, 15)


def test_the_intervals_are_the_site_s_to_set(nurse: User, settings) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    _waiting(nurse, "SYN-RE-S", level=4, vitals_minutes_ago=20, now=now)
    settings.MEDASSIST_TRIAGE_REASSESS_MINUTES = "1:0, 2:10, 3:15, 4:15, 5:60"

    [row] = selectors.triage_board(now=now)

    assert (row.reassess_every, row.overdue_minutes) == (15, 5)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1:0,2:15,3:30,4:60", "one interval for each ESI level"),
        ("1:0,2:15,3:30,4:60,5:120,6:10", "one interval for each ESI level"),
        ("1:0,2:15,2:10,4:60,5:120", "ESI 2 is given twice"),
        ("1:0,2:quarter,3:30,4:60,5:120", "'2:quarter' is not 'level:minutes'"),
        ("", "is not 'level:minutes'"),
    ],
)
def test_a_malformed_interval_setting_is_refused_with_its_name(text: str, words: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="MEDASSIST_TRIAGE_REASSESS_MINUTES") as bad:
        selectors.reassess_intervals(text)
    assert words in str(bad.value)


# --- In a real browser, on a phone ----------------------------------------------------------


@pytest.mark.browser
def test_a_nurse_takes_the_vitals_again_on_a_phone_and_sees_the_new_level(  # type: ignore[no-untyped-def]
    page, live_server, nurse: User
) -> None:
    encounter = _open(nurse, mrn="SYN-RE-PHONE", name="Phone Reassess").encounter
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, nurse.username)
    page.goto(live_server.url + reverse("diagnosis:encounter", args=[encounter.pk]))
    assert page.get_by_test_id("suggested-level").inner_text().split()[:2] == ["ESI", "4"]
    assert page.evaluate(SCROLL_WIDTH) <= 390

    for field, value in WORSE_FORM.items():
        if field in {"temperature_unit", "mental_status"}:
            page.select_option(f"#id_{field}", value)
        else:
            page.fill(f"#id_{field}", value)
    page.get_by_role("button", name="Record vital signs and suggest ESI").click()
    page.wait_for_load_state()

    badge = page.get_by_test_id("suggested-level")
    assert badge.inner_text().split() == ["ESI", "2", "Emergent"]
    assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(249, 115, 22)"
    assert page.get_by_test_id("rules-level").inner_text().split()[:2] == ["ESI", "2"]
    assert page.get_by_test_id("measurement").count() == 2
    assert page.get_by_test_id("assessment").count() == 2
    assert "150 /min" in page.get_by_test_id("vital-heart-rate").inner_text()
    assert page.evaluate(SCROLL_WIDTH) <= 390

    page.get_by_role("button", name="Confirm ESI level").click()
    page.wait_for_load_state()
    assert "Nurse's decision: ESI 2" in page.get_by_test_id("confirmed-level").inner_text()
    assert page.evaluate(SCROLL_WIDTH) <= 390


def test_a_full_board_shows_the_most_acute_and_says_how_many_more_are_waiting(
    nurse_client: Client, nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more patients than the board shows, the newest arrival at ESI 1 is on it (the
    board used to keep the longest waiting, whatever their level), and the page says how
    many patients there are, with a link to all of them."""
    monkeypatch.setattr(selectors, "BOARD_LIMIT", 3)
    now = timezone.now()
    for i, level in enumerate((4, 5, 3, 4)):
        _waiting(nurse, f"SYN-FULL-{i}", level=level, vitals_minutes_ago=120 - i, now=now)
    newest = _waiting(nurse, "SYN-FULL-NEW", level=1, vitals_minutes_ago=1, now=now)

    page = nurse_client.get(reverse("diagnosis:triage-board"), HTTP_HX_REQUEST="true")
    shown = [row.encounter for row in page.context["rows"]]
    assert shown[0] == newest and [r.level for r in page.context["rows"]] == [1, 3, 4]
    assert "5 patients in the department; the 3 most acute are shown." in text_of(page)

    everyone = nurse_client.get(reverse("diagnosis:triage-board") + "?all=1")
    assert len(everyone.context["rows"]) == 5
    assert 'data-testid="board-more"' not in text_of(everyone)
    assert 'hx-get="/triage/?all=1"' in text_of(everyone)  # the refresh keeps showing all


def test_a_full_board_keeps_a_patient_the_nurse_put_at_esi_1_while_a_milder_suggestion_waits(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The board shows the nurse's ESI 1 until she decides on the newer, milder suggestion;
    with the board full, that patient is among the most acute it keeps."""
    monkeypatch.setattr(selectors, "BOARD_LIMIT", 3)
    now = timezone.now()
    put_at_1 = _waiting(nurse, "SYN-KEEP-1", level=1, vitals_minutes_ago=5, now=now)
    milder = {key: SPRAIN[key] for key in WORSE}  # the sprain's normal vitals: about ESI 4
    vitals_retake(encounter=put_at_1, actor=nurse, **milder)  # a newer, milder suggestion
    for i in range(3):
        _waiting(nurse, f"SYN-KEEP-O{i}", level=2, vitals_minutes_ago=60 - i, now=now)

    rows = selectors.triage_board(limit=3)

    assert rows[0].encounter == put_at_1 and rows[0].level == 1
    assert [r.level for r in rows] == [1, 2, 2]
