"""Writes of triage: intake, the ESI assessment (rules + text model), the nurse's decision,
and reassessment on vital signs taken again.

The suggestion is computed synchronously while the nurse submits the encounter: the rules
take a few milliseconds and the MiniLM pass 20-50 ms on 2 CPU cores (bench/README.md),
cheaper for the nurse than a Celery round trip plus polling. The words that weighed for the model's
level (gradient x input: one forward and one backward pass) are not on that path: the
encounter page fetches them as an HTMX fragment after it has shown the level
(:func:`assessment_words`). See bench/triage.py. The model runs before the write
transaction opens, so no request holds one while it computes; the web process loaded the
model when it started (:mod:`diagnosis.triage.serving`), or, with
``MEDASSIST_WEB_SERVES_TRIAGE_MODEL`` off, the rules suggest alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from diagnosis.encounters.models import Encounter, VitalsFields, VitalSigns
from diagnosis.encounters.selectors import encounter_chain_head, latest_vital_signs
from diagnosis.encounters.services import encounter_open, vital_signs_record
from diagnosis.medication.services import IntakeAllergy, IntakeMedication, intake_records_save
from diagnosis.registry.serving import device_description
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.serving import text_classifier_for, triage_champion, triage_model_served
from medassist.ml.vitals_text import vitals_clauses
from medassist.models import Patient
from medassist.services import audit_batch, audit_record, patient_get_or_register
from medassist.version import code_version

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    import torch

    from diagnosis.registry.models import ModelVersion
    from diagnosis.triage.rules import Vitals
    from medassist.ml.triage_head import TriageHeadClassifier

# Without an age the adult thresholds apply; the explanation says so.
ADULT_AGE_YEARS = 30.0
TOP_WORDS = 8
NO_MODEL_NOTE = (
    "No triage model yet: this suggestion comes from the ESI rules alone "
    "(expected resources, then the hard rules)."
)
# MEDASSIST_WEB_SERVES_TRIAGE_MODEL off: a champion may exist, but this system does not run it.
NOT_SERVED_NOTE = (
    "The triage model is switched off on this system: this suggestion comes from the ESI "
    "rules alone (expected resources, then the hard rules)."
)


def age_on(*, birth_date: dt.date | None, on: dt.date) -> Decimal | None:
    """Age in years (two decimals, so infants' months count) on ``on``; None if unknown."""
    if birth_date is None or birth_date > on:
        return None
    return (Decimal((on - birth_date).days) / Decimal("365.25")).quantize(Decimal("0.01"))


def complaint_length_error(complaint: str) -> str:
    """The nurse's message for a complaint over ``MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS``
    (counted without surrounding blanks), or "" when it is within the limit."""
    limit = settings.MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS
    length = len(complaint.strip())
    if length <= limit:
        return ""
    return (
        f"The complaint is {length:,} characters long; the limit is {limit:,}. Keep it to "
        "what brought the patient in today (a few sentences); history and handover notes "
        "belong in the record, not here."
    )


def vitals_of(*, encounter: Encounter, measurement: VitalsFields | None = None) -> Vitals:
    """Vital signs in the rules engine's terms (unknown age: adult thresholds).

    ``measurement`` is the set to read (a :class:`VitalSigns` row); without it, the
    encounter's own columns, which are the set taken at intake. The age is always the
    encounter's. A vital the nurse ticked as absent becomes the rules' 0: no pulse is heart
    rate 0, not breathing is respiratory rate 0, a blood pressure or an SpO2 that cannot be
    measured is 0 (see :class:`diagnosis.triage.rules.Vitals`).
    """
    from diagnosis.triage.rules import Vitals

    taken = measurement if measurement is not None else encounter
    bp_absent = taken.bp_unobtainable
    return Vitals(
        age_years=float(encounter.age_years)
        if encounter.age_years is not None
        else ADULT_AGE_YEARS,
        heart_rate=0 if taken.pulseless else taken.heart_rate,
        respiratory_rate=0 if taken.apnoeic else taken.respiratory_rate,
        spo2=0 if taken.spo2_unobtainable else taken.spo2,
        systolic_bp=0 if bp_absent else taken.systolic_bp,
        diastolic_bp=0 if bp_absent else taken.diastolic_bp,
        temperature_c=float(taken.temperature_c),
        pain=taken.pain,
        avpu=taken.mental_status or None,
        gcs=taken.gcs,
    )


def note_units(*, complaint: str, vitals: Vitals, absent_named: bool = False) -> list[str]:
    """The note the text model reads, as the parts its explanation weighs: each word of the
    complaint, then each vital sign with its value (``"SpO2 91%"``, ``"GCS 14"``).

    No pulse and not breathing read ``HR 0`` and ``RR 0``; an SpO2 or a blood pressure that
    cannot be measured is left out. That is how the SYNTHETIC arrest notes the fine-tuned
    model was trained on are written, so it reads these patients as it learnt them. With
    ``absent_named`` (the head on the frozen encoder, which reads them as findings of their
    own) they end the note as ``"SpO2 unobtainable"`` and ``"BP unobtainable"``, so the
    stored input names everything the model read and its explanation can weigh them.
    """
    measured_bp = bool(vitals.systolic_bp)
    clauses = vitals_clauses(
        hr=vitals.heart_rate,
        rr=vitals.respiratory_rate,
        spo2=vitals.spo2 or None,
        sbp=vitals.systolic_bp if measured_bp else None,
        dbp=vitals.diastolic_bp if measured_bp else None,
        temp_c=vitals.temperature_c,
        pain=vitals.pain,
        avpu=vitals.avpu,
        age_years=vitals.age_years,
    )
    if vitals.gcs is not None:
        clauses.append(f"GCS {vitals.gcs}")
    if absent_named:
        clauses += ["SpO2 unobtainable"] * (vitals.spo2 == 0)
        clauses += ["BP unobtainable"] * (vitals.systolic_bp == 0)
    return complaint.split() + clauses


def note_text(*, complaint: str, vitals: Vitals) -> str:
    """The one line the text model reads: the complaint, then the vitals as text.

    Training (finetune) and serving both build their input here, so they cannot drift apart.
    """
    return " ".join(note_units(complaint=complaint, vitals=vitals))


def _reads_embedding(clf: object) -> bool:
    """Whether a loaded triage model is the head on the frozen encoder (it reads the
    complaint's embedding and the vital signs) rather than the fine-tuned text model."""
    return getattr(clf, "kind", "") == "frozen-encoder"


@dataclasses.dataclass(frozen=True)
class ModelOpinion:
    probabilities: dict[str, float]
    level: int


def model_opinion(
    *,
    text: str,
    version: ModelVersion,
    complaint: str,
    vitals: Vitals,
    whole: torch.Tensor | None = None,
) -> ModelOpinion:
    """The champion's probabilities and its level for the note.

    The fine-tuned text model reads the note ``text`` (one forward pass of its encoder); the
    head on the frozen encoder reads ``complaint`` and ``vitals``, and with ``whole`` (the
    complaint's embedding from the meaning match's pass) runs nothing but the head.
    """
    clf = text_classifier_for(version)
    if _reads_embedding(clf):
        signs = dataclasses.asdict(vitals)
        probabilities = (
            clf.classify_embedded(whole, signs)  # type: ignore[union-attr]
            if whole is not None
            else clf.classify([(complaint, signs)])[0]  # type: ignore[list-item]
        )
    else:
        probabilities = clf.classify([text])[0]  # type: ignore[list-item]
    top = max(probabilities, key=lambda label: probabilities[label])
    return ModelOpinion(
        probabilities={k: round(float(p), 6) for k, p in probabilities.items()},
        level=int(top),
    )


def assessment_words(*, assessment: TriageAssessment) -> list[tuple[str, float]]:
    """The words that weighed most for the model's level of ``assessment``, strongest first.

    Computed once, after the nurse has the suggestion (the encounter page asks for them as
    a fragment), and stored on the assessment, so the words shown are the same every time.
    Gradient x input on the model version that made the suggestion: one forward and one
    backward pass, however long the note (occlusion re-scored it once per word:
    bench/triage.py compares them). Each unit of :func:`note_units` (a vital sign with its
    value) gets one weight, its word pieces' summed. An assessment without a model has
    none. Filling the empty list is the only change an assessment ever gets after it is
    stored: it records what was shown, and never alters the suggestion or the decision.
    """
    if assessment.top_words or assessment.model_version is None or not assessment.model_level:
        return [tuple(wv) for wv in assessment.top_words]
    from medassist.ml.text_model import word_gradients

    clf = text_classifier_for(assessment.model_version)
    vitals = vitals_of(encounter=assessment.encounter, measurement=assessment.vitals)
    complaint = assessment.encounter.chief_complaint
    text = assessment.input_text
    target = clf.labels.index(str(assessment.model_level))
    if _reads_embedding(clf):
        weights = _head_unit_weights(clf, complaint=complaint, vitals=vitals, target=target)  # type: ignore[arg-type]
    else:
        units = note_units(complaint=complaint, vitals=vitals)
        if " ".join(units) != text:  # written by an earlier code version: weigh its words
            units = text.split()
        weights = word_gradients(clf, text, target=target, units=units)  # type: ignore[arg-type]
    strongest = sorted(weights, key=lambda wv: abs(wv[1]), reverse=True)[:TOP_WORDS]
    words = [(w, round(float(v), 4)) for w, v in strongest]
    TriageAssessment.objects.filter(pk=assessment.pk, top_words=[]).update(
        top_words=[list(wv) for wv in words]
    )
    assessment.top_words = [list(wv) for wv in words]
    return words


# The vital sign each clause of the note's text (medassist.ml.vitals_text) shows, by its
# first word; "BP" shows both pressures.
_CLAUSE_SIGNS = {
    "HR": ("heart_rate",),
    "RR": ("respiratory_rate",),
    "SpO2": ("spo2",),
    "BP": ("systolic_bp", "diastolic_bp"),
    "T": ("temperature_c",),
    "pain": ("pain",),
    "AVPU": ("avpu",),
    "age": ("age_years",),
    "GCS": ("gcs",),
}


def _head_unit_weights(
    clf: TriageHeadClassifier, *, complaint: str, vitals: Vitals, target: int
) -> list[tuple[str, float]]:
    """The head's weights as the units the nurse reads (:func:`note_units`): each word of
    the complaint, then each vital sign with its value (gradient x input through the frozen
    encoder, and x the difference from a resting adult's value)."""
    from medassist.ml.triage_head import head_word_gradients

    words, signs = head_word_gradients(clf, complaint, dataclasses.asdict(vitals), target=target)
    units = note_units(complaint=complaint, vitals=vitals, absent_named=True)
    clauses = units[len(words) :]
    weighed = [
        (clause, sum(signs.get(sign, 0.0) for sign in _CLAUSE_SIGNS.get(clause.split()[0], ())))
        for clause in clauses
    ]
    return sorted([*words, *weighed], key=lambda wv: wv[1], reverse=True)


def _attention(probabilities: dict[str, float]) -> str:
    ranked = sorted(probabilities.values(), reverse=True)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)
    if margin < settings.MEDASSIST_ATTENTION_MARGIN:
        return (
            f"The model is unsure: its top two levels are only {margin:.2f} apart "
            f"(threshold {settings.MEDASSIST_ATTENTION_MARGIN:.2f}). Judge this one yourself."
        )
    return ""


def triage_assess(
    *,
    encounter: Encounter,
    actor: AbstractBaseUser | None,
    vitals: VitalSigns | None = None,
) -> TriageAssessment:
    """Suggest an ESI level for ``encounter`` and store it with its provenance.

    ``vitals`` is the measurement to assess; by default the encounter's latest (or, for an
    encounter without any, its own intake columns). The rules run first and always; the
    triage champion (if any, and if this deployment serves the model) adds its
    probabilities; the suggestion is ``combine()`` of both, so no model output can make it
    less acute than the hard rules. The model's own level and the rules' own level are
    stored beside it. A previous assessment is superseded, never changed. The rules and the
    model run before the write transaction opens: it holds the encounter's lock only to
    store the assessment and its audit record. Call it outside any transaction.
    """
    measurement = vitals if vitals is not None else latest_vital_signs(encounter=encounter)
    assessment = _assessment_compute(
        complaint=encounter.chief_complaint,
        vitals=vitals_of(encounter=encounter, measurement=measurement),
        age_known=encounter.age_years is not None,
    )
    with transaction.atomic():
        # The related rows were just read or written; the chain head is locked (a second
        # successor would break the database's one-to-one constraint all the same).
        supersedes = encounter_chain_head(TriageAssessment, encounter_id=encounter.pk)
        _assessment_store(
            assessment,
            encounter=encounter,
            measurement=measurement,
            supersedes=supersedes,
            actor=actor,
        )
    return assessment


def _assessment_compute(*, complaint: str, vitals: Vitals, age_known: bool) -> TriageAssessment:
    """The suggestion for a complaint and its vital signs: the rules, the meaning match and
    the triage champion, as an unsaved assessment (no encounter, measurement or author yet).
    Reads the database (the champion) and writes nothing: call it outside any transaction."""
    from diagnosis.triage.meaning import read_note
    from diagnosis.triage.rules import combine, esi_rules, rules_level

    started = time.perf_counter()
    served = triage_model_served()
    version = triage_champion() if served else None
    reads_embedding = version is not None and _reads_embedding(text_classifier_for(version))
    rules = esi_rules(complaint=complaint, vitals=vitals)
    whole = None
    # The high-risk situations by meaning as well as by their words, where this process
    # runs the encoder (the same switch as the model: it loaded both when it started).
    # Nothing can be more acute than a floor of 1 already found. The same pass embeds the
    # whole complaint, which a champion on the frozen encoder reads.
    if served and rules.floor != 1:
        reading = read_note(complaint, whole=reads_embedding)
        whole = reading.whole
        if reading.similar:
            rules = esi_rules(complaint=complaint, vitals=vitals, similar=reading.similar)
    rules_own = rules_level(rules)
    units = note_units(complaint=complaint, vitals=vitals, absent_named=reads_embedding)
    text = " ".join(units)
    notes: list[str] = []
    if not age_known:
        notes.append("Age unknown: adult danger-zone thresholds were used.")
    opinion: ModelOpinion | None = None
    if version is not None:
        opinion = model_opinion(
            text=text, version=version, complaint=complaint, vitals=vitals, whole=whole
        )
        level, explanation = combine(rules=rules, model_level=opinion.level)
        attention = _attention(opinion.probabilities)
    else:
        level = rules_own
        # combine()'s sentences speak of "the model"; without one, the rules speak alone.
        why = NO_MODEL_NOTE if served else NOT_SERVED_NOTE
        explanation = f"ESI {level}. {why} " + " ".join(r.reason for r in rules.fired)
        attention = (
            "No triage model yet: the suggestion is the rules' alone."
            if served
            else "Triage model switched off: the suggestion is the rules' alone."
        )
    return TriageAssessment(
        rules_fired=[dataclasses.asdict(rule) for rule in rules.fired],
        rules_floor=rules.floor,
        resources_level=rules.resources_level,
        shock_index=rules.shock_index,
        rules_level=rules_own,
        model_version=version,
        model_probabilities=opinion.probabilities if opinion else {},
        model_level=opinion.level if opinion else None,
        suggested_level=level,
        explanation=" ".join([explanation, *notes]).strip(),
        needs_attention=bool(attention),
        attention_reason=attention[:300],
        attention_margin=settings.MEDASSIST_ATTENTION_MARGIN,
        input_text=text,
        input_sha256=hashlib.sha256(text.encode()).hexdigest(),
        weights_sha256=version.weights_sha256 if version else "",
        code_version=code_version(),
        device=device_description() if version else "",
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )


def _assessment_store(
    assessment: TriageAssessment,
    *,
    encounter: Encounter,
    measurement: VitalSigns | None,
    supersedes: TriageAssessment | None,
    actor: AbstractBaseUser | None,
    esi_stored: bool = False,
) -> None:
    """Store a computed assessment of ``encounter`` read on ``measurement``, after
    ``supersedes`` (the current one, locked by the caller, or None for the first), with the
    encounter's current ESI (unless ``esi_stored``: the encounter was inserted with this
    suggestion's level) and the ``triage.assess`` audit event. Call it in a transaction."""
    assessment.encounter = encounter
    assessment.vitals = measurement
    assessment.supersedes = supersedes
    assessment.assessed_by = actor if actor is not None and actor.is_authenticated else None
    # The related rows were just read or written.
    assessment.full_clean(
        exclude=["encounter", "vitals", "model_version", "assessed_by", "supersedes"]
    )
    assessment.save()
    if not esi_stored:
        encounter_esi_store(assessment=assessment)
    audit_record(
        actor=actor,
        action="triage.assess",
        obj=assessment,
        detail={
            "encounter": encounter.pk,
            "suggested_level": assessment.suggested_level,
            "rules_floor": assessment.rules_floor,
            "model_version": assessment.model_version_id,
            "model_level": assessment.model_level,
            "rules_level": assessment.rules_level,
            "vitals": measurement.pk if measurement else None,
        },
    )


def encounter_esi_store(*, assessment: TriageAssessment) -> None:
    """Copy the encounter's current ESI (this, its newest assessment) onto the encounter row,
    where the doctors' list of encounters awaiting a diagnosis sorts by it. Called under the
    encounter's lock, in the transaction that stores the assessment or the decision."""
    confirmed = assessment.confirmed_level is not None
    Encounter.objects.filter(pk=assessment.encounter_id).update(
        esi_level=assessment.confirmed_level if confirmed else assessment.suggested_level,
        esi_confirmed=confirmed,
    )


@transaction.atomic
def triage_confirm(
    *,
    assessment: TriageAssessment,
    level: int,
    reason: str,
    actor: AbstractBaseUser,
    remote_addr: str | None = None,
) -> TriageAssessment:
    """Record the nurse's ESI level for the latest assessment of an encounter.

    A level other than the suggestion needs a reason. A decision already on record is not
    changed: deciding again stores a copy of the suggestion, superseding, with the new
    decision. Raises ValidationError with a message for the nurse.
    """
    reason = reason.strip()
    # Two decisions submitted at once still form one chain (the encounter is locked).
    current = encounter_chain_head(TriageAssessment, encounter_id=assessment.encounter_id)
    if current is None or current.pk != assessment.pk:
        raise ValidationError(
            "This suggestion has been replaced by a newer one; reload the page and decide on it."
        )
    if level not in range(1, 6):
        raise ValidationError({"level": "Choose an ESI level from 1 (most urgent) to 5."})
    if level != assessment.suggested_level and not reason:
        raise ValidationError(
            {
                "reason": f"You chose ESI {level} instead of the suggested ESI "
                f"{assessment.suggested_level}: say why, so the next reader knows."
            }
        )
    target = assessment
    if assessment.is_confirmed:
        target = TriageAssessment.objects.get(pk=assessment.pk)
        target.pk = None
        target.id = None
        target.supersedes = assessment
    target.confirmed_level = level
    target.confirmed_by = actor
    target.confirmed_at = timezone.now()
    target.override_reason = reason
    target.full_clean()
    target.save()
    encounter_esi_store(assessment=target)
    audit_record(
        actor=actor,
        action="triage.override" if level != assessment.suggested_level else "triage.confirm",
        obj=target,
        detail={
            "encounter": assessment.encounter_id,
            "suggested_level": assessment.suggested_level,
            "confirmed_level": level,
            "reason": reason,
        },
        remote_addr=remote_addr,
    )
    return target


def encounter_intake(
    *,
    mrn: str,
    name: str,
    birth_date: dt.date | None,
    sex: str,
    age_years: Decimal | None,
    chief_complaint: str,
    heart_rate: int | None,
    respiratory_rate: int | None,
    spo2: int | None,
    systolic_bp: int | None,
    diastolic_bp: int | None,
    temperature_c: Decimal,
    temperature_unit: str,
    pain: int,
    mental_status: str,
    gcs: int | None,
    arrival_mode: str,
    actor: AbstractBaseUser,
    pulseless: bool = False,
    apnoeic: bool = False,
    spo2_unobtainable: bool = False,
    bp_unobtainable: bool = False,
    allergies: Sequence[IntakeAllergy] = (),
    no_known_allergies: bool = False,
    medications: Sequence[IntakeMedication] = (),
) -> TriageAssessment:
    """Find or register the patient, open the encounter and suggest its ESI level.

    The suggestion is computed first, outside any transaction (the rules and the model read
    the complaint, the vital signs and the age, not the rows); then the patient, the
    encounter, what the nurse recorded of the patient's allergies (``allergies``, or
    ``no_known_allergies``) and current medications (``medications``) and the suggestion are
    stored in one transaction, so none is open while the model runs. The allergies
    and medications go through the medication package's services
    (:func:`diagnosis.medication.services.intake_records_save`): the same checks, insert-only
    rows and audit events as on the encounter's medication page. Should one of them be
    refused, nothing is stored and the ValidationError names the intake form's fields
    (``allergy_<row>_<field>``, ``medication_<row>_<field>``, ``no_known_allergies``).
    Should the suggestion fail, the encounter stays on record without one.
    A vital ticked as absent (``pulseless``, ``apnoeic``, ``spo2_unobtainable``,
    ``bp_unobtainable``) comes with its value None. Raises ValidationError, by field, for a
    complaint over ``MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS``, no mental status, or a vital
    both ticked and filled in (or neither).
    """
    too_long = complaint_length_error(chief_complaint)
    if too_long:
        raise ValidationError({"chief_complaint": too_long})
    if not mental_status and gcs is None:
        raise ValidationError({"mental_status": "Record the mental status: AVPU or GCS."})
    today = timezone.localdate()
    vital_values = {
        "heart_rate": heart_rate,
        "pulseless": pulseless,
        "respiratory_rate": respiratory_rate,
        "apnoeic": apnoeic,
        "spo2": spo2,
        "spo2_unobtainable": spo2_unobtainable,
        "systolic_bp": systolic_bp,
        "diastolic_bp": diastolic_bp,
        "bp_unobtainable": bp_unobtainable,
        "temperature_c": temperature_c,
        "temperature_unit": temperature_unit,
        "pain": pain,
        "mental_status": mental_status,
        "gcs": gcs,
    }
    # The suggestion is computed first, on what the encounter will hold, outside any
    # transaction; then one transaction stores the patient, the encounter and the
    # suggestion together. No one can see the encounter before it commits, so its first
    # assessment supersedes nothing and needs no lock. The age is the one the encounter
    # will hold: the nurse's, or from the recorded birth date (the form's if none is).
    # As the encounter stores it (two decimals), so the page shows the same age before and
    # after a reload.
    age_read = age_years.quantize(Decimal("0.01")) if age_years is not None else None
    if age_read is None:
        recorded_birth_date = (
            Patient.objects.filter(mrn=mrn.strip()).values_list("birth_date", flat=True).first()
        )
        age_read = age_on(birth_date=recorded_birth_date or birth_date, on=today)
    at_intake = Encounter(
        chief_complaint=chief_complaint.strip(), age_years=age_read, **vital_values
    )
    # The checks encounter_open makes, before the rules read the values.
    at_intake.full_clean(exclude=["patient", "opened_by"], validate_constraints=False)

    def store(computed: TriageAssessment | None) -> tuple[Encounter, TriageAssessment | None]:
        # One transaction; the patient's, the encounter's and the assessment's audit events
        # in one INSERT at its end.
        with transaction.atomic(), audit_batch():
            patient: Patient = patient_get_or_register(
                mrn=mrn, name=name, birth_date=birth_date, sex=sex, actor=actor
            )
            age = age_read if age_years is not None else None
            if age is None:
                age = age_on(birth_date=patient.birth_date, on=today)
            assessed = computed is not None and age == age_read
            encounter, first = encounter_open(
                patient=patient,
                opened_by=actor,
                chief_complaint=chief_complaint,
                arrival_mode=arrival_mode,
                age_years=age,
                # The suggestion's level, in the encounter's own INSERT.
                esi_level=computed.suggested_level if computed is not None and assessed else None,
                **vital_values,
            )
            if allergies or no_known_allergies or medications:
                intake_records_save(
                    patient=patient,
                    encounter=encounter,
                    actor=actor,
                    allergies=allergies,
                    no_known_allergies=no_known_allergies,
                    medications=medications,
                )
            if computed is None or not assessed:
                return encounter, None
            _assessment_store(
                computed,
                encounter=encounter,
                measurement=first,
                supersedes=None,
                actor=actor,
                esi_stored=True,
            )
            return encounter, computed

    try:
        computed = _assessment_compute(
            complaint=at_intake.chief_complaint,
            vitals=vitals_of(encounter=at_intake),
            age_known=age_read is not None,
        )
    except Exception:
        logger.exception("The ESI suggestion failed; the encounter is stored without one.")
        store(None)  # the encounter stays on record without a suggestion
        raise
    encounter, assessment = store(computed)
    if assessment is None:
        # The patient's birth date was recorded meanwhile, by another intake: assess again
        # on the age the encounter holds.
        return triage_assess(encounter=encounter, actor=actor)
    return assessment


def vitals_retake(
    *,
    encounter: Encounter,
    actor: AbstractBaseUser,
    heart_rate: int | None,
    respiratory_rate: int | None,
    spo2: int | None,
    systolic_bp: int | None,
    diastolic_bp: int | None,
    temperature_c: Decimal,
    temperature_unit: str,
    pain: int,
    mental_status: str,
    gcs: int | None,
    pulseless: bool = False,
    apnoeic: bool = False,
    spo2_unobtainable: bool = False,
    bp_unobtainable: bool = False,
    remote_addr: str | None = None,
) -> TriageAssessment:
    """Record vital signs taken again and suggest the ESI level on them.

    The measurement is stored and committed first (``vitals.record``); then
    :func:`triage_assess` computes a new assessment on it, outside any transaction, which
    supersedes the current one (kept on record) and waits for the nurse to confirm it. Should
    the suggestion fail, the measurement stays on record. Absent vitals as for
    :func:`encounter_intake`. Raises ValidationError, by field, for no mental status or a vital
    both ticked and filled in (or neither).
    """
    if not mental_status and gcs is None:
        raise ValidationError({"mental_status": "Record the mental status: AVPU or GCS."})
    measurement = vital_signs_record(
        encounter=encounter,
        taken_by=actor,
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
        remote_addr=remote_addr,
    )
    return triage_assess(encounter=encounter, actor=actor, vitals=measurement)
