"""Reads of triage: the board (with who is due for reassessment) and an encounter's
assessments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from diagnosis.encounters.models import Disposition, Encounter
from diagnosis.encounters.selectors import encounter_chain, vitals_taken_at
from diagnosis.triage.models import TriageAssessment

BOARD_HOURS = 24
# A patient without an assessment yet sorts after ESI 5.
ESI_UNASSESSED_BOARD = 6


def reassess_intervals(text: str | None = None) -> dict[int, int]:
    """``MEDASSIST_TRIAGE_REASSESS_MINUTES`` (or ``text``) as ``{ESI level: minutes}``.

    The text is "level:minutes" pairs separated by commas, one for each level 1-5; 0 minutes
    means continuous care at the bedside, so nobody of that level is flagged. Raises
    ImproperlyConfigured, naming the setting and what is wrong, for anything else.
    """
    raw = settings.MEDASSIST_TRIAGE_REASSESS_MINUTES if text is None else text
    intervals: dict[int, int] = {}
    for pair in raw.split(","):
        level, sep, minutes = pair.strip().partition(":")
        if not (sep and level.strip().isdigit() and minutes.strip().isdigit()):
            raise ImproperlyConfigured(
                f"MEDASSIST_TRIAGE_REASSESS_MINUTES={raw!r}: {pair.strip()!r} is not "
                "'level:minutes' (e.g. '1:0,2:15,3:30,4:60,5:120')."
            )
        if int(level) in intervals:
            raise ImproperlyConfigured(
                f"MEDASSIST_TRIAGE_REASSESS_MINUTES={raw!r}: ESI {int(level)} is given twice."
            )
        intervals[int(level)] = int(minutes)
    if sorted(intervals) != [1, 2, 3, 4, 5]:
        raise ImproperlyConfigured(
            f"MEDASSIST_TRIAGE_REASSESS_MINUTES={raw!r}: give one interval for each ESI level 1-5."
        )
    return intervals


@dataclass(frozen=True)
class BoardRow:
    encounter: Encounter
    assessment: TriageAssessment | None
    # The nurse's level once confirmed. While a new suggestion (vital signs taken again)
    # awaits her, the more acute of it and her last decision: a patient never moves down the
    # board before a nurse has said so.
    level: int | None
    confirmed: bool
    waiting_minutes: int
    # Minutes since the vital signs were last taken (at intake, or since).
    vitals_minutes: int
    # How often this level's vitals are due (None: no level yet; 0: continuous care).
    reassess_every: int | None
    # Minutes past due (0 or more), or None when not due yet or not flagged at this level.
    overdue_minutes: int | None

    @property
    def overdue(self) -> bool:
        return self.overdue_minutes is not None


def latest_assessment(*, encounter: Encounter) -> TriageAssessment | None:
    return (
        TriageAssessment.objects.select_related("model_version", "confirmed_by", "vitals")
        .filter(encounter=encounter, superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def assessments_of(*, encounter: Encounter) -> QuerySet[TriageAssessment]:
    """Every assessment of the encounter, newest first; the first one is current."""
    return encounter_chain(
        TriageAssessment, encounter=encounter, related=("model_version", "confirmed_by", "vitals")
    )


BOARD_LIMIT = 100


def _in_department(now: dt.datetime) -> QuerySet[Encounter]:
    return Encounter.objects.filter(
        created_at__gte=now - dt.timedelta(hours=BOARD_HOURS), dispositions__isnull=True
    )


def triage_board(
    *, now: dt.datetime | None = None, limit: int | None = BOARD_LIMIT
) -> list[BoardRow]:
    """Patients who arrived in the last day and are still in the department (no doctor has
    recorded a disposition), most acute first, then longest waiting; each with the time
    since its vital signs were last taken and whether they are overdue for its level
    (:func:`reassess_intervals`).

    Unconfirmed suggestions sort by the suggested level: a patient the rules put at ESI 1
    must be at the top before anyone has confirmed it. Four queries whatever the number.
    With more than ``limit`` patients in the department the most acute ``limit`` are shown,
    by the level the board shows (:func:`triage_board_count` says how many there are): a new
    ESI 1 arrival, or a patient the nurse put at ESI 1 whose newer suggestion is less acute,
    is never the one left off.
    """
    now = now or timezone.now()
    intervals = reassess_intervals()
    # The level the board shows (see _board_level): the encounter row's level (the newest
    # suggestion, or the nurse's decision on it), but never less acute than the nurse's last
    # decision while a newer suggestion awaits her.
    last_decision = (
        TriageAssessment.objects.filter(encounter=OuterRef("pk"), confirmed_level__isnull=False)
        .order_by("-pk")
        .values("confirmed_level")[:1]
    )
    level = Coalesce(F("esi_level"), Value(ESI_UNASSESSED_BOARD))
    ordered = (
        _in_department(now)
        .select_related("patient")
        .annotate(board_level=Least(level, Coalesce(Subquery(last_decision), level)))
        .order_by("board_level", "created_at", "pk")
    )
    encounters = list(ordered if limit is None else ordered[:limit])
    latest: dict[int, TriageAssessment] = {}
    for a in TriageAssessment.objects.filter(
        encounter__in=encounters, superseded_by__isnull=True
    ).order_by("pk"):
        latest[a.encounter_id] = a
    decided: dict[int, int] = dict(
        TriageAssessment.objects.filter(encounter__in=encounters, confirmed_level__isnull=False)
        .order_by("pk")
        .values_list("encounter_id", "confirmed_level")
    )  # the last decision of each encounter (later rows overwrite earlier ones)
    taken = vitals_taken_at(encounter_ids=[e.pk for e in encounters])
    rows = []
    for e in encounters:
        a = latest.get(e.pk)
        level = _board_level(a, decided.get(e.pk))
        last_vitals = taken.get(e.pk, e.created_at)
        vitals_minutes = max(0, int((now - last_vitals).total_seconds() // 60))
        every = intervals.get(level) if level is not None else None
        overdue = None
        if every and now > last_vitals + dt.timedelta(minutes=every):
            overdue = vitals_minutes - every
        rows.append(
            BoardRow(
                encounter=e,
                assessment=a,
                level=level,
                confirmed=a is not None and a.is_confirmed,
                waiting_minutes=int((now - e.created_at).total_seconds() // 60),
                vitals_minutes=vitals_minutes,
                reassess_every=every,
                overdue_minutes=overdue,
            )
        )
    rows.sort(key=lambda r: (r.level or ESI_UNASSESSED_BOARD, r.encounter.created_at))
    return rows


def triage_board_count(*, now: dt.datetime | None = None) -> int:
    """How many patients are in the department (see :func:`triage_board`)."""
    return _in_department(now or timezone.now()).count()


def _board_level(current: TriageAssessment | None, last_decision: int | None) -> int | None:
    if current is None:
        return None
    if current.confirmed_level is not None:
        return current.confirmed_level
    if last_decision is not None:
        return min(current.suggested_level, last_decision)
    return current.suggested_level


def triage_labels() -> dict[int, tuple[int, str]]:
    """The triage label of every labelled encounter: ``{encounter id: (level, source)}``.

    The current disposition's ESI in hindsight when the doctor gave one (source
    ``"disposition"``), else the nurse's confirmed level on the current assessment
    (``"nurse"``). Encounters with neither have no label.
    """
    labels: dict[int, tuple[int, str]] = {}
    for encounter_id, level in TriageAssessment.objects.filter(
        superseded_by__isnull=True, confirmed_level__isnull=False
    ).values_list("encounter_id", "confirmed_level"):
        labels[encounter_id] = (int(level), "nurse")
    for encounter_id, level in Disposition.objects.filter(
        superseded_by__isnull=True, esi_in_hindsight__isnull=False
    ).values_list("encounter_id", "esi_in_hindsight"):
        labels[encounter_id] = (int(level), "disposition")
    return labels
