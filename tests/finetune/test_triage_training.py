"""Fine-tuning the triage model through the same run / gate / promote path as images.

The run goes through a real Celery worker process on Redis and PostgreSQL; the model is the
real all-MiniLM-L6-v2 with tiny settings (1 epoch on a handful of notes).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from diagnosis.registry.models import ModelVersion
from diagnosis.triage.synthetic import generate_notes, held_out_test_set
from finetune.models import TrainingRun, TriageNote
from finetune.services import training_run_start, triage_notes_freeze
from tests.conftest import wait_for
from tests.diagnosis.triage.helpers import triage_champion_answering

# Reference level 2 although no rule fires: a model that does not say 1 or 2 for these
# under-triages, so the candidate's under-triage rate is above zero by construction.
UNDER_TRIAGE_TRAPS = [
    ("mild cough for two days", 2),
    ("sore throat", 2),
    ("rash on the arm", 2),
    ("earache since yesterday", 2),
]


CALM_VITALS = {
    "age_years": 40.0, "heart_rate": 80, "respiratory_rate": 14, "spo2": 98,
    "systolic_bp": 120, "diastolic_bp": 75, "temperature_c": 36.8, "pain": 1,
    "avpu": "A", "gcs": None,
}  # fmt: skip


@pytest.fixture
def tiny_triage_worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny triage knobs for the worker process (it reads them from its environment)."""
    monkeypatch.setenv("MEDASSIST_TRIAGE_EPOCHS", "1")
    monkeypatch.setenv("MEDASSIST_TRIAGE_HEAD_EPOCHS", "3")
    monkeypatch.setenv("MEDASSIST_TRIAGE_BATCH_SIZE", "8")


@pytest.mark.integration
@pytest.mark.parametrize("champion_kind", ["frozen-encoder", "fine-tuned"])
def test_a_triage_run_on_a_real_worker_measures_under_triage_and_the_gate_uses_it(
    tiny_triage_worker_env: None,
    celery_worker: None,
    ml_admin: User,
    settings: Settings,
    champion_kind: str,
) -> None:
    """The worker builds the default kind (frozen-encoder): it continues a champion of that
    kind, and starts afresh from a fine-tuned one, which the gate still compares it with."""
    champion = triage_champion_answering(4, strength=3.0, kind=champion_kind)
    triage_notes_freeze(notes=generate_notes(12, seed=3), split=TriageNote.Split.TRAIN)
    test_notes = held_out_test_set()[:8]
    triage_notes_freeze(notes=test_notes, split=TriageNote.Split.TEST)
    TriageNote.objects.bulk_create(
        TriageNote(
            split=TriageNote.Split.TEST,
            complaint=complaint,
            vitals=CALM_VITALS,
            esi_level=level,
        )
        for complaint, level in UNDER_TRIAGE_TRAPS
    )

    run = training_run_start(task="triage", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    run = wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
        timeout=300,
        what="the triage training run",
    )

    assert run.status == "succeeded", run.error
    assert run.base_version == champion
    assert run.n_test == len(test_notes) + len(UNDER_TRIAGE_TRAPS)
    candidate = run.candidate
    continued = champion_kind == "frozen-encoder"
    assert candidate.task == "triage"
    assert candidate.parent == (champion if continued else None)
    assert candidate.preprocess_version == "triage-head-v1"
    assert candidate.trained_on_synthetic_data
    # Two notes are held back from the 12 (whole patients, here one note each): too few to
    # measure calibration, so no temperature is claimed and the version says why.
    summary = candidate.training_summary
    assert summary["n_calibration"] == 2 and summary["n_train"] == 10
    assert summary["label_sources"] == {"notes": 12}
    assert candidate.temperature == 1.0
    assert "too few cases to measure calibration" in summary["calibration"]["reason"]
    for metrics in (run.candidate_metrics, run.champion_metrics, candidate.metrics):
        assert {"accuracy", "macro_f1", "under_triage_rate", "over_triage_rate"} <= set(metrics)
        assert metrics["n"] == run.n_test
    assert run.candidate_metrics["under_triage_rate"] > 0  # the traps
    # The run's decision is the gate's verdict, criterion by criterion, under-triage included.
    criteria = {c["name"]: c for c in run.gate["criteria"]}
    under = criteria["Under-triage (after the ESI rules)"]
    assert under["figure"] == (
        f"{run.candidate_metrics['under_triage_rate']:.1%} "
        f"(champion {run.champion_metrics['under_triage_rate']:.1%})"
    )
    judged = [c["passed"] for c in criteria.values() if c["passed"] is not None]
    assert (run.decision == "promoted") == all(judged) == run.gate["promote"]
    assert ModelVersion.objects.filter(task="image").count() == 0  # the image task untouched


def test_triage_metrics_count_under_and_over_triage_and_score_like_the_image_task() -> None:
    from finetune.adapters import triage_metrics

    # ESI 2 sent to 3 is under-triage; ESI 3 sent to 2 is over-triage.
    figures = triage_metrics(
        references=[1, 2, 3, 3], suggested=[1, 3, 3, 2], model_levels=[2, 3, 3, 2]
    )

    assert figures["n"] == 4
    assert figures["accuracy"] == 0.5
    assert figures["under_triage_rate"] == 0.25 and figures["over_triage_rate"] == 0.25
    assert figures["model_accuracy"] == 0.25
    # Levels 1 (F1 1), 2 (F1 0) and 3 (F1 0.5) occur; 4 and 5 say nothing about this set.
    assert figures["macro_f1"] == pytest.approx(0.5)
    assert figures["labels"] == ["1", "2", "3", "4", "5"]
    assert figures["confusion"][1][2] == 1 and figures["confusion"][2][1] == 1
    assert figures["per_class"]["3"]["support"] == 2
