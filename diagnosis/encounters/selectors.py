"""Reads of the encounter record: chains of superseding records, diagnoses, dispositions,
vital signs over time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TypeVar

from django.db import models
from django.db.models import F, Max, QuerySet, Value
from django.db.models.functions import Coalesce

from diagnosis.encounters.models import (
    ESI_UNASSESSED_ORDER,
    Disposition,
    Encounter,
    FinalDiagnosis,
    VitalSigns,
)


def encounters_awaiting_diagnosis(*, limit: int | None = None) -> QuerySet[Encounter]:
    """Encounters no doctor has given a final diagnosis yet, most acute first.

    Ordered by the ESI level (the nurse's confirmed level, else the suggestion of the latest
    assessment; unassessed encounters last), then the longest waiting. Annotates
    ``esi`` (the stored ``esi_level``, with ``esi_confirmed``); one index scan (the
    ``encounter_awaiting_dx`` partial index) whatever the number of encounters.
    """
    qs = (
        Encounter.objects.select_related("patient")
        .filter(awaiting_diagnosis=True)
        .annotate(esi=F("esi_level"))
        .order_by(Coalesce(F("esi_level"), Value(ESI_UNASSESSED_ORDER)), "created_at", "pk")
    )
    return qs[:limit] if limit else qs


M = TypeVar("M", bound=models.Model)


def encounter_chain_head(model: type[M], *, encounter_id: int) -> M | None:
    """Lock the encounter, then return its current (not superseded) ``model`` record.

    Call inside a transaction: two writers of one encounter then queue up on the lock and
    still form a single chain.
    """
    Encounter.objects.select_for_update().filter(pk=encounter_id).exists()
    return (
        model._default_manager.filter(encounter_id=encounter_id, superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def encounter_chain(
    model: type[M], *, encounter: Encounter, related: tuple[str, ...]
) -> QuerySet[M]:
    """Every ``model`` record of the encounter, newest first; the first one is current.

    ``related`` are the foreign keys the page shows (fetched in the same query).
    """
    return (
        model._default_manager.select_related(*related)
        .filter(encounter=encounter)
        .order_by("-created_at", "-pk")
    )


def final_diagnoses_of(*, encounter: Encounter) -> QuerySet[FinalDiagnosis]:
    """Every final diagnosis of the encounter, newest first; the first one is current."""
    return encounter_chain(FinalDiagnosis, encounter=encounter, related=("doctor", "supersedes"))


def dispositions_of(*, encounter: Encounter) -> QuerySet[Disposition]:
    """Every disposition of the encounter, newest first; the first one is current."""
    return encounter_chain(Disposition, encounter=encounter, related=("doctor", "supersedes"))


def vital_signs_of(*, encounter: Encounter) -> QuerySet[VitalSigns]:
    """Every measurement of the encounter's vital signs, newest first; the first is current."""
    return (
        VitalSigns.objects.select_related("taken_by")
        .filter(encounter=encounter)
        .order_by("-taken_at", "-pk")
    )


def latest_vital_signs(*, encounter: Encounter) -> VitalSigns | None:
    """The encounter's current vital signs: its latest measurement (None if it has none)."""
    return vital_signs_of(encounter=encounter).first()


def vitals_taken_at(*, encounter_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each encounter's vital signs were last taken: ``{encounter id: taken_at}``.

    An encounter without a measurement is left out; one query whatever the number.
    """
    return dict(
        VitalSigns.objects.filter(encounter_id__in=list(encounter_ids))
        .values("encounter_id")
        .annotate(last=Max("taken_at"))
        .values_list("encounter_id", "last")
    )
