"""Reads of triage: the board and an encounter's assessments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from diagnosis.encounters.models import Disposition, Encounter
from diagnosis.encounters.selectors import encounter_chain
from diagnosis.triage.models import TriageAssessment

BOARD_HOURS = 24


@dataclass(frozen=True)
class BoardRow:
    encounter: Encounter
    assessment: TriageAssessment | None
    level: int | None  # the nurse's level once confirmed, else the suggestion
    confirmed: bool
    waiting_minutes: int


def latest_assessment(*, encounter: Encounter) -> TriageAssessment | None:
    return (
        TriageAssessment.objects.select_related("model_version", "confirmed_by")
        .filter(encounter=encounter, superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def assessments_of(*, encounter: Encounter) -> QuerySet[TriageAssessment]:
    """Every assessment of the encounter, newest first; the first one is current."""
    return encounter_chain(
        TriageAssessment, encounter=encounter, related=("model_version", "confirmed_by")
    )


def triage_board(*, now: dt.datetime | None = None, limit: int = 100) -> list[BoardRow]:
    """Patients who arrived in the last day and are still in the department (no doctor has
    recorded a disposition), most acute first, then longest waiting.

    Unconfirmed suggestions sort by the suggested level: a patient the rules put at ESI 1
    must be at the top before anyone has confirmed it.
    """
    now = now or timezone.now()
    encounters = list(
        Encounter.objects.select_related("patient")
        .filter(created_at__gte=now - dt.timedelta(hours=BOARD_HOURS), dispositions__isnull=True)
        .order_by("created_at")[:limit]
    )
    latest: dict[int, TriageAssessment] = {}
    for a in TriageAssessment.objects.filter(
        encounter__in=encounters, superseded_by__isnull=True
    ).order_by("pk"):
        latest[a.encounter_id] = a
    rows = []
    for e in encounters:
        a = latest.get(e.pk)
        level = None if a is None else (a.confirmed_level or a.suggested_level)
        rows.append(
            BoardRow(
                encounter=e,
                assessment=a,
                level=level,
                confirmed=a is not None and a.is_confirmed,
                waiting_minutes=int((now - e.created_at).total_seconds() // 60),
            )
        )
    rows.sort(key=lambda r: (r.level or 6, r.encounter.created_at))
    return rows


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
