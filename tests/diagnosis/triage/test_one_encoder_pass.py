"""One pass of the frozen encoder serves both the high-risk concepts and the triage model.

The champion here is the head on the frozen encoder (MEDASSIST_TRIAGE_MODEL=frozen-encoder,
the default): the real all-MiniLM-L6-v2 of the installed package and a real head, biased
towards a chosen level; training runs the production adapter with tiny settings.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from diagnosis.triage.meaning import WHOLE_NOTE_TOKENS, preload
from diagnosis.triage.rules import Vitals
from diagnosis.triage.services import assessment_words, encounter_intake, note_text
from diagnosis.triage.serving import text_classifier_for
from finetune.adapters import TriageAdapter, TriageSet
from medassist.ml.text_model import (
    TRIAGE_LABELS,
    TextClassifier,
    load_inference_encoder,
    load_sentence_encoder,
)
from medassist.ml.triage_head import COMPLAINT_TOKENS, TriageHeadClassifier
from tests.diagnosis.triage.helpers import triage_champion_answering

pytestmark = pytest.mark.django_db

NOTE = {
    "mrn": "PASS-1", "name": "Test Patient", "birth_date": None, "sex": "F",
    "age_years": Decimal("58"), "heart_rate": 124, "respiratory_rate": 26, "spo2": 91,
    "systolic_bp": 96, "diastolic_bp": 60, "temperature_c": Decimal("38.4"),
    "temperature_unit": "C", "pain": 6, "mental_status": "A", "gcs": None,
    "arrival_mode": "walk_in",
    "chief_complaint": "short of breath since last night. coughing green phlegm, feels hot",
}  # fmt: skip
VITALS = Vitals(
    age_years=58.0, heart_rate=124, respiratory_rate=26, spo2=91, systolic_bp=96,
    diastolic_bp=60, temperature_c=38.4, pain=6, avpu="A",
)  # fmt: skip


def test_the_head_reads_the_complaint_as_long_as_the_meaning_match_embeds_it() -> None:
    assert WHOLE_NOTE_TOKENS == COMPLAINT_TOKENS


def test_a_suggestion_runs_the_encoder_once_for_the_concepts_and_the_model(
    nurse: User, tiny: dict[str, int]
) -> None:
    version = triage_champion_answering(3, kind="frozen-encoder")
    preload()  # what the web process embeds when it starts (the concepts' descriptions)
    clf = text_classifier_for(version)
    assert isinstance(clf, TriageHeadClassifier)
    passes: list[int] = []
    module_passes: list[int] = []
    hook = load_inference_encoder().register_forward_hook(lambda *_: passes.append(1))
    # The transformers module serves gradients only (the words that weighed, later).
    module_hook = load_sentence_encoder().register_forward_hook(lambda *_: module_passes.append(1))
    try:
        assessment = encounter_intake(**NOTE, actor=nurse)  # type: ignore[arg-type]
    finally:
        hook.remove()
        module_hook.remove()

    assert len(passes) == 1
    assert not module_passes
    assert assessment.model_level == 3
    # What the head read from the shared pass is what it reads on its own.
    alone = clf.classify([(NOTE["chief_complaint"], dataclasses.asdict(VITALS))])[0]
    for level, p in alone.items():
        assert assessment.model_probabilities[level] == pytest.approx(p, abs=1e-5)


@pytest.mark.parametrize(
    "complaint",
    ["denies chest pain", "no fever, no cough", "unresponsive, not breathing", "ok"],
)
def test_every_branch_gives_the_head_what_it_reads_alone(
    nurse: User, tiny: dict[str, int], complaint: str
) -> None:
    """A complaint whose clauses are all negated (no parts to compare), one the rules put at
    ESI 1 (no meaning pass at all) and a one-word note: the probabilities stored are the
    head's own for that complaint and those vital signs."""
    version = triage_champion_answering(2, kind="frozen-encoder")
    assessment = encounter_intake(**{**NOTE, "chief_complaint": complaint}, actor=nurse)  # type: ignore[arg-type]

    alone = text_classifier_for(version).classify([(complaint, dataclasses.asdict(VITALS))])[0]
    for level, p in alone.items():
        assert assessment.model_probabilities[level] == pytest.approx(p, abs=1e-5)


def test_the_words_that_weighed_for_the_head_include_the_vital_signs_it_read(
    nurse: User, tiny: dict[str, int]
) -> None:
    triage_champion_answering(3, kind="frozen-encoder")
    assessment = encounter_intake(**NOTE, actor=nurse)  # type: ignore[arg-type]

    words = assessment_words(assessment=assessment)

    assert 0 < len(words) <= 8
    assert all(unit in assessment.input_text for unit, _ in words)
    clauses = [unit for unit, _ in words if unit.split()[0] in {"HR", "RR", "SpO2", "BP", "T"}]
    assert clauses, words  # the abnormal vital signs are weighed, as units of the note
    assert not any(unit.startswith("GCS") for unit, _ in words)  # not recorded: not weighed


def test_an_unobtainable_saturation_or_pressure_is_in_the_stored_input_and_weighed(
    nurse: User, tiny: dict[str, int]
) -> None:
    """The head reads "could not be measured" as a finding of its own: the stored input
    names it (two assessments that read differently never share an input hash) and the
    explanation can show it."""
    triage_champion_answering(1, kind="frozen-encoder")
    unmeasurable = {**NOTE, "spo2": None, "spo2_unobtainable": True}
    unmeasurable.update(systolic_bp=None, diastolic_bp=None, bp_unobtainable=True)
    assessment = encounter_intake(**unmeasurable, actor=nurse)  # type: ignore[arg-type]

    assert assessment.input_text.endswith("SpO2 unobtainable BP unobtainable")
    units = {unit for unit, _ in assessment_words(assessment=assessment)}
    shown = {"SpO2 unobtainable", "BP unobtainable"} & units
    assert shown, units


@pytest.mark.parametrize(
    ("kind", "built"),
    [("frozen-encoder", TriageHeadClassifier), ("fine-tuned", TextClassifier)],
)
def test_training_builds_the_kind_the_setting_names_and_measures_it(
    settings, tiny: dict[str, int], kind: str, built: type
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_TRIAGE_MODEL = kind
    settings.MEDASSIST_TRIAGE_HEAD_EPOCHS = 5
    calm = Vitals(
        age_years=40.0, heart_rate=80, respiratory_rate=16, spo2=98, systolic_bp=120,
        diastolic_bp=80, temperature_c=36.9, pain=2,
    )  # fmt: skip
    notes = [("crushing chest pain", "2"), ("sprained ankle", "4"), ("sore throat", "5")] * 4
    data = TriageSet(
        texts=[note_text(complaint=c, vitals=calm) for c, _ in notes],
        labels=[level for _, level in notes],
        cases=[(c, calm) for c, _ in notes],
        groups=[f"note-{i}" for i in range(len(notes))],
        real=[False] * len(notes),
    )
    adapter = TriageAdapter()
    clf = adapter.prepare(None, list(TRIAGE_LABELS))
    assert isinstance(clf, built)
    epochs: list[int] = []

    summary = adapter.train(
        clf, data, on_epoch=lambda e, _: epochs.append(e), progress=lambda *_: None
    )
    figures = adapter.evaluate(clf, data, list(TRIAGE_LABELS)).metrics()

    assert epochs == list(range(1, adapter.epochs() + 1))
    assert summary["n_train"] + summary["n_calibration"] == len(notes)
    assert 0.0 <= figures["accuracy"] <= 1.0 and "model_under_triage_rate" in figures
    # A champion of the other kind is not continued: the next model starts afresh.
    other = "fine-tuned" if kind == "frozen-encoder" else "frozen-encoder"
    settings.MEDASSIST_TRIAGE_MODEL = other
    assert not isinstance(adapter.prepare(clf, list(TRIAGE_LABELS)), built)
    settings.MEDASSIST_TRIAGE_MODEL = kind
    assert adapter.prepare(clf, list(TRIAGE_LABELS)) is clf
