"""Writes of the encounter record: opening an encounter, its vital signs over time, its final
diagnosis and disposition."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from diagnosis.encounters.icd10 import icd10_validate
from diagnosis.encounters.models import (
    ICD10_EDITION,
    Disposition,
    Encounter,
    EncounterDiagnosisSuggestion,
    FinalDiagnosis,
    VitalSigns,
)
from diagnosis.encounters.selectors import (
    dx_group_title,
    dx_inputs_of,
    dx_suggestion_of,
    encounter_chain_head,
)
from diagnosis.registry.models import ModelVersion, Task
from medassist.models import Patient
from medassist.services import audit_record

logger = logging.getLogger(__name__)


# No savepoint of its own: a refusal (ValidationError) ends the caller's transaction too, as it
# ends the intake; two round trips fewer for the nurse.
@transaction.atomic(savepoint=False)
def encounter_open(
    *,
    patient: Patient,
    opened_by: AbstractBaseUser,
    chief_complaint: str,
    heart_rate: int | None,
    respiratory_rate: int | None,
    spo2: int | None,
    systolic_bp: int | None,
    diastolic_bp: int | None,
    temperature_c: Decimal,
    pain: int,
    mental_status: str,
    temperature_unit: str = "C",
    gcs: int | None = None,
    arrival_mode: str = "",
    age_years: Decimal | None = None,
    pulseless: bool = False,
    apnoeic: bool = False,
    spo2_unobtainable: bool = False,
    bp_unobtainable: bool = False,
    esi_level: int | None = None,
) -> tuple[Encounter, VitalSigns]:
    """Store a new encounter as the nurse recorded it (validated, audited); returns it with
    its first measurement of the vital signs. ``esi_level`` is for the triage intake alone:
    the level of the suggestion it stores with the encounter in the same transaction
    (unconfirmed); any other caller leaves it None and the triage services write it with
    the first assessment.

    A vital sign that was looked for and is absent (no pulse, not breathing, an SpO2 or a
    blood pressure that cannot be measured) is passed as its tick with the value None.
    The vital signs are stored twice: on the encounter (the intake set, never changed) and
    as its first :class:`VitalSigns` measurement, taken when the encounter opened; the
    ``encounter.open`` audit event names both. Raises ValidationError, by field, for a vital
    that is both ticked and filled in, or neither.
    """
    encounter = Encounter(
        patient=patient,
        opened_by=opened_by,
        chief_complaint=chief_complaint.strip(),
        heart_rate=heart_rate,
        pulseless=pulseless,
        respiratory_rate=respiratory_rate,
        apnoeic=apnoeic,
        spo2=spo2,
        spo2_unobtainable=spo2_unobtainable,
        systolic_bp=systolic_bp,
        diastolic_bp=diastolic_bp,
        bp_unobtainable=bp_unobtainable,
        temperature_c=temperature_c,
        temperature_unit=temperature_unit,
        pain=pain,
        mental_status=mental_status,
        gcs=gcs,
        age_years=age_years,
        esi_level=esi_level,
    )
    if arrival_mode:
        encounter.arrival_mode = arrival_mode
    # The patient and the nurse are rows already; the tick-or-value check constraints are
    # ``clean()``'s own rules, said by field (and the database holds them too): asking the
    # database again for each would cost the nurse's request 24 round trips.
    encounter.full_clean(exclude=["patient", "opened_by"], validate_constraints=False)
    encounter.save()
    first = VitalSigns(
        encounter=encounter,
        taken_at=encounter.created_at,
        taken_by=opened_by,
        **encounter.vital_values(),
    )
    first.full_clean(exclude=["encounter", "taken_by"], validate_constraints=False)
    first.save()
    audit_record(
        actor=opened_by, action="encounter.open", obj=encounter, detail={"vitals": first.pk}
    )
    return encounter, first


@transaction.atomic
def vital_signs_record(
    *,
    encounter: Encounter,
    taken_by: AbstractBaseUser,
    heart_rate: int | None,
    respiratory_rate: int | None,
    spo2: int | None,
    systolic_bp: int | None,
    diastolic_bp: int | None,
    temperature_c: Decimal,
    pain: int,
    mental_status: str,
    temperature_unit: str = "C",
    gcs: int | None = None,
    pulseless: bool = False,
    apnoeic: bool = False,
    spo2_unobtainable: bool = False,
    bp_unobtainable: bool = False,
    taken_at: dt.datetime | None = None,
    remote_addr: str | None = None,
) -> VitalSigns:
    """Store a new measurement of the encounter's vital signs (validated, audited as
    ``vitals.record``); the earlier ones and the encounter's intake set are left as they are.

    ``taken_at`` defaults to now. Absent vitals as for :func:`encounter_open`. Raises
    ValidationError, by field, for a vital that is both ticked and filled in, or neither, or
    a value outside its plausible range.
    """
    measurement = VitalSigns(
        encounter=encounter,
        taken_by=taken_by,
        heart_rate=heart_rate,
        pulseless=pulseless,
        respiratory_rate=respiratory_rate,
        apnoeic=apnoeic,
        spo2=spo2,
        spo2_unobtainable=spo2_unobtainable,
        systolic_bp=systolic_bp,
        diastolic_bp=diastolic_bp,
        bp_unobtainable=bp_unobtainable,
        temperature_c=temperature_c,
        temperature_unit=temperature_unit,
        pain=pain,
        mental_status=mental_status,
        gcs=gcs,
    )
    if taken_at is not None:
        measurement.taken_at = taken_at
    measurement.full_clean()
    measurement.save()
    audit_record(
        actor=taken_by,
        action="vitals.record",
        obj=measurement,
        detail={"encounter": encounter.pk, "mrn": encounter.patient.mrn},
        remote_addr=remote_addr,
    )
    return measurement


@transaction.atomic
def final_diagnosis_record(
    *,
    encounter: Encounter,
    doctor: AbstractBaseUser,
    icd10_code: str,
    note: str = "",
    remote_addr: str | None = None,
) -> FinalDiagnosis:
    """Record the encounter's final diagnosis; a previous one is superseded, never changed.

    Raises ValidationError for a code that is unknown or not specific enough.
    """
    entry = icd10_validate(code=icd10_code)
    # Lock the encounter so two doctors saving at once still form one chain.
    previous = encounter_chain_head(FinalDiagnosis, encounter_id=encounter.pk)
    diagnosis = FinalDiagnosis(
        encounter=encounter,
        doctor=doctor,
        icd10_code=entry.code,
        icd10_title=entry.title,
        code_system=ICD10_EDITION,
        note=note.strip(),
        supersedes=previous,
    )
    diagnosis.full_clean()
    diagnosis.save()
    Encounter.objects.filter(pk=encounter.pk).update(awaiting_diagnosis=False)
    audit_record(
        actor=doctor,
        action="final_diagnosis.record",
        obj=diagnosis,
        detail={
            "encounter": encounter.pk,
            "mrn": encounter.patient.mrn,
            "icd10": entry.code,
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return diagnosis


# Outcomes that show a patient needed far more than ESI 4-5 ("one resource", "none").
_HIGH_ACUITY_OUTCOMES = {
    Disposition.Outcome.CRITICAL_CARE,
    Disposition.Outcome.THEATRE,
    Disposition.Outcome.DIED,
}


@transaction.atomic
def disposition_record(
    *,
    encounter: Encounter,
    doctor: AbstractBaseUser,
    outcome: str,
    esi_in_hindsight: int | None,
    note: str = "",
    remote_addr: str | None = None,
) -> Disposition:
    """Record where the patient went; a previous disposition is superseded, never changed.

    Raises:
        ValidationError: unknown outcome, a level outside 1-5, or ESI 4-5 for a patient
            taken to critical care or theatre, or who died, without a note saying why.
    """
    if outcome not in Disposition.Outcome.values:
        raise ValidationError("Choose where the patient went.", code="outcome")
    if esi_in_hindsight is not None and not 1 <= esi_in_hindsight <= 5:
        raise ValidationError("The ESI level is 1 (most acute) to 5.", code="esi")
    note = note.strip()
    if outcome in _HIGH_ACUITY_OUTCOMES and esi_in_hindsight in (4, 5) and not note:
        raise ValidationError(
            f"ESI {esi_in_hindsight} in hindsight for a patient who was "
            f"“{Disposition.Outcome(outcome).label.lower()}” is unusual: add a note saying "
            "why, or choose another level. It will teach the triage model.",
            code="esi_implausible",
        )
    # Lock the encounter so two doctors saving at once still form one chain.
    previous = encounter_chain_head(Disposition, encounter_id=encounter.pk)
    disposition = Disposition(
        encounter=encounter,
        doctor=doctor,
        outcome=outcome,
        esi_in_hindsight=esi_in_hindsight,
        note=note,
        supersedes=previous,
    )
    disposition.full_clean()
    disposition.save()
    audit_record(
        actor=doctor,
        action="disposition.record",
        obj=disposition,
        detail={
            "encounter": encounter.pk,
            "mrn": encounter.patient.mrn,
            "outcome": outcome,
            "esi_in_hindsight": esi_in_hindsight,
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return disposition


# --- The encounter diagnosis model's suggestion ---------------------------------------------

# How many groups the suggestion lists, most probable first.
TOP_GROUPS = 5


@dataclass(frozen=True)
class DxSuggestionView:
    """What the encounter pages show of the encounter diagnosis model: ``state`` is "ok"
    (``suggestion`` holds it), "no_champion", "not_served" or "failed" (``message`` says why)."""

    state: str
    suggestion: EncounterDiagnosisSuggestion | None = None
    version: ModelVersion | None = None
    message: str = ""


def encounter_dx_suggest(*, encounter: Encounter) -> EncounterDiagnosisSuggestion:
    """The champion's ranked diagnosis groups for ``encounter``, computed once per (version,
    inputs) and stored; a stored one is returned as it is.

    Reads the encounter's inputs (:func:`~diagnosis.encounters.selectors.dx_inputs_of`:
    never its own final diagnosis), ranks the groups, and measures what each kind of input
    contributed by leaving it out (one batched forward pass). Raises NoChampionError without
    a champion; OSError or ValueError when its weights cannot be read.
    """
    from diagnosis.registry.serving import (
        champion,
        device_description,
        encounter_dx_classifier_for,
    )
    from medassist.ml.encounter_inputs import KIND_NAMES
    from medassist.version import code_version

    version = champion(Task.ENCOUNTER_DX)
    read = dx_inputs_of(encounter=encounter)
    sha = read.inputs.fingerprint()
    stored = dx_suggestion_of(encounter=encounter, version_id=version.pk, input_sha256=sha)
    if stored is not None:
        return stored
    started = time.perf_counter()
    clf = encounter_dx_classifier_for(version)
    probabilities, contributions = clf.contributions(read.inputs)
    ranked = sorted(probabilities.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_GROUPS]
    row = EncounterDiagnosisSuggestion(
        encounter=encounter,
        model_version=version,
        ranked=[
            {"group": g, "title": dx_group_title(group=g), "probability": round(float(p), 4)}
            for g, p in ranked
        ],
        contributions=[
            {
                "kind": c.kind,
                "name": KIND_NAMES[c.kind],
                "present": c.present,
                "delta": None if c.delta is None else round(float(c.delta), 4),
            }
            for c in contributions
        ],
        inputs={
            "kinds": read.inputs.present(),
            "studies": read.n_studies,
            "images": read.n_images,
            "history": list(read.inputs.history),
        },
        input_sha256=sha,
        weights_sha256=version.weights_sha256,
        code_version=code_version(),
        device=device_description(),
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same suggestion, stored by a request that came first
        stored = dx_suggestion_of(encounter=encounter, version_id=version.pk, input_sha256=sha)
        if stored is None:
            raise
        return stored
    row.model_version = version
    return row


def encounter_dx_view(*, encounter: Encounter) -> DxSuggestionView:
    """The encounter diagnosis suggestion as the pages show it, or why there is none."""
    from diagnosis.registry.serving import NoChampionError

    if not settings.MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL:
        return DxSuggestionView(
            "not_served",
            message="The encounter diagnosis model is switched off on this system.",
        )
    try:
        suggestion = encounter_dx_suggest(encounter=encounter)
    except NoChampionError:
        return DxSuggestionView(
            "no_champion",
            message="No encounter diagnosis model has been trained and promoted yet, so "
            "there is no suggestion.",
        )
    except (OSError, ValueError) as exc:
        logger.warning("Encounter %s: no diagnosis suggestion: %s", encounter.pk, exc)
        return DxSuggestionView(
            "failed",
            message="The suggestion could not be computed: the model's weights could not be read.",
        )
    return DxSuggestionView("ok", suggestion, suggestion.model_version)
