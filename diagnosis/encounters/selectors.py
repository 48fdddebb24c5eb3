"""Reads of the encounter record: chains of superseding records, diagnoses, dispositions,
vital signs over time, and what the encounter diagnosis model reads about an encounter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Count, F, Max, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from diagnosis.encounters.models import (
    ESI_UNASSESSED_ORDER,
    DiagnosisCodeCount,
    Disposition,
    Encounter,
    EncounterDiagnosisSuggestion,
    FinalDiagnosis,
    VitalSigns,
)
from diagnosis.inference.selectors import study_suggestion
from diagnosis.pathways.groups import DiagnosisGroup, category_of, group_of, group_parse
from diagnosis.registry.models import NORMAL_CODE
from imaging.models import Study
from medassist.ml.encounter_inputs import HISTORY_LIMIT, OTHER, EncounterInputs


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


# --- The encounter diagnosis model's groups and inputs -------------------------------------

OTHER_TITLE = "Other diagnoses (groups with too few cases of their own)"


@lru_cache(maxsize=64)
def _configured(groups: tuple[str, ...]) -> tuple[DiagnosisGroup, ...]:
    return tuple(group_parse(text=text) for text in groups)


def dx_groups_configured() -> tuple[DiagnosisGroup, ...]:
    """The hospital's own groups (``MEDASSIST_ENCOUNTER_DX_GROUPS``); empty: WHO blocks.

    Raises ValidationError for a setting that names no ICD-10 range or code.
    """
    return _configured(tuple(settings.MEDASSIST_ENCOUNTER_DX_GROUPS))


@lru_cache(maxsize=4096)
def _group_of_code(code: str, groups: tuple[DiagnosisGroup, ...]) -> tuple[str, str]:
    if groups:
        for group in groups:
            if group.contains(code):
                return group.label, group.title
        return OTHER, OTHER_TITLE
    try:
        block = group_parse(text=category_of(code))
    except ValidationError:
        return OTHER, OTHER_TITLE
    return block.label, block.title


def dx_group_of(*, icd10_code: str) -> str:
    """The diagnosis group of a code: the first configured group holding it, else "other";
    without a configured list, the WHO ICD-10 block holding it (e.g. ``J18.9`` ->
    ``J09-J18``)."""
    return _group_of_code(icd10_code, dx_groups_configured())[0]


def dx_group_title(*, group: str) -> str:
    """The words of a group label ("J09-J18" -> "Influenza and pneumonia")."""
    if group == OTHER:
        return OTHER_TITLE
    first, _, last = group.partition("-")
    try:
        return group_of(first=first, last=last).title
    except KeyError:
        return group


def current_final_diagnoses() -> QuerySet[FinalDiagnosis]:
    """The current (not superseded) final diagnosis of every diagnosed encounter: the
    labels of the encounter diagnosis task, oldest encounter first."""
    return (
        FinalDiagnosis.objects.filter(superseded_by__isnull=True)
        .select_related("encounter__patient")
        .order_by("encounter__created_at", "encounter_id", "pk")
    )


def current_diagnosis_count_rows() -> QuerySet[Any, dict[str, Any]]:
    """Every ICD-10 code some encounter has as its current final diagnosis (see
    :func:`current_final_diagnoses`), as ``{"icd10_code": code, "n": encounters}`` rows,
    unordered: one query whatever the number of diagnoses, to run alone or inside another
    (a union). On PostgreSQL it reads the
    :class:`~diagnosis.encounters.models.DiagnosisCodeCount` rows the database keeps (a row
    per code); elsewhere it counts the current diagnoses with one GROUP BY."""
    if connection.vendor == "postgresql":
        return (
            DiagnosisCodeCount.objects.filter(current__gt=0)
            .annotate(n=F("current"))
            .order_by()
            .values("icd10_code", "n")
        )
    return (
        FinalDiagnosis.objects.filter(superseded_by__isnull=True)
        .values("icd10_code")
        .annotate(n=Count("pk"))
        .order_by()
    )


def current_diagnosis_counts() -> dict[str, int]:
    """How many encounters have each ICD-10 code as their current final diagnosis,
    ``{code: encounters}`` with counts above 0 (:func:`current_diagnosis_count_rows`)."""
    return {row["icd10_code"]: row["n"] for row in current_diagnosis_count_rows()}


def encounter_studies(*, encounter: Encounter) -> QuerySet[Study]:
    """The encounter's studies: its patient's studies dated from the day it opened to
    ``MEDASSIST_ENCOUNTER_DX_STUDY_DAYS`` days after (a study without a date: by the day it
    was stored)."""
    start = timezone.localtime(encounter.created_at).date()
    end = start + dt.timedelta(days=settings.MEDASSIST_ENCOUNTER_DX_STUDY_DAYS)
    return Study.objects.filter(patient_id=encounter.patient_id).filter(
        Q(study_date__range=(start, end))
        | Q(study_date__isnull=True, created_at__date__range=(start, end))
    )


@dataclass(frozen=True)
class DxInputs:
    """What the model reads about an encounter, and where it came from (for the page)."""

    inputs: EncounterInputs
    n_studies: int  # the encounter's studies with image findings
    n_images: int  # their images with a suggestion


def _image_findings(encounter: Encounter) -> tuple[dict[str, float] | None, int, int]:
    """The calibrated image findings of the encounter's studies, combined as a study combines
    its images (``MEDASSIST_STUDY_AGGREGATION``: "max" keeps each finding's highest and "no
    finding"'s lowest; "mean" averages), or None when no image has a suggestion yet."""
    per_study = [
        s
        for s in (
            study_suggestion(study_id=pk)
            for pk in encounter_studies(encounter=encounter)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if s is not None
    ]
    if not per_study:
        return None, 0, 0
    codes = sorted({code for s in per_study for code in s.probabilities})
    values = {code: [s.probabilities.get(code, 0.0) for s in per_study] for code in codes}
    if settings.MEDASSIST_STUDY_AGGREGATION == "mean":
        combined = {code: sum(v) / len(v) for code, v in values.items()}
    else:
        combined = {code: min(v) if code == NORMAL_CODE else max(v) for code, v in values.items()}
    return combined, len(per_study), sum(len(s.instances) for s in per_study)


def _history(encounter: Encounter) -> tuple[str, ...]:
    """The groups of the current final diagnoses of the patient's EARLIER encounters, most
    recent first, each once: never this encounter's own, nor a later one's."""
    earlier = (
        FinalDiagnosis.objects.filter(
            superseded_by__isnull=True,
            encounter__patient_id=encounter.patient_id,
            encounter__created_at__lt=encounter.created_at,
        )
        .exclude(encounter_id=encounter.pk)
        .order_by("-encounter__created_at", "-pk")
        .values_list("icd10_code", flat=True)
    )
    seen: dict[str, None] = {}
    for code in earlier:
        group, title = _group_of_code(code, dx_groups_configured())
        seen.setdefault(f"{group} {title}" if group != OTHER else category_of(code), None)
        if len(seen) >= HISTORY_LIMIT:
            break
    return tuple(seen)


def dx_inputs_of(*, encounter: Encounter) -> DxInputs:
    """Everything the encounter diagnosis model reads about ``encounter``: its complaint, its
    vital signs at intake, age and sex, the groups of the patient's earlier final diagnoses
    and the image findings of its studies. Never its own final diagnosis."""
    e = encounter
    bp = not e.bp_unobtainable
    vitals = {
        # As the triage note reads them: no pulse "HR 0", not breathing "RR 0"; an SpO2 or
        # a blood pressure that cannot be measured is left out.
        "hr": 0 if e.pulseless else e.heart_rate,
        "rr": 0 if e.apnoeic else e.respiratory_rate,
        "spo2": None if e.spo2_unobtainable else e.spo2,
        "sbp": e.systolic_bp if bp else None,
        "dbp": e.diastolic_bp if bp else None,
        "temp_c": float(e.temperature_c) if e.temperature_c is not None else None,
        "pain": e.pain,
        "avpu": e.mental_status or None,
    }
    images, n_studies, n_images = _image_findings(e)
    inputs = EncounterInputs(
        complaint=e.chief_complaint,
        vitals=vitals,
        age_years=float(e.age_years) if e.age_years is not None else None,
        sex=e.patient.sex,
        history=_history(e),
        images=images,
    )
    return DxInputs(inputs=inputs, n_studies=n_studies, n_images=n_images)


def dx_suggestion_of(
    *, encounter: Encounter, version_id: int, input_sha256: str
) -> EncounterDiagnosisSuggestion | None:
    """The suggestion already stored for these inputs and this version, if any."""
    return (
        EncounterDiagnosisSuggestion.objects.filter(
            encounter=encounter, model_version_id=version_id, input_sha256=input_sha256
        )
        .select_related("model_version")
        .first()
    )
