"""The promotion gate: on evidence that holds, every criterion shown, the same decision twice.

The first tests give the gate two models' probabilities on the same cases directly (what a
run measures), so each criterion can be hit exactly; the last ones run the gate inside real
training runs and through the second approval.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from diagnosis.registry.models import Finding, ModelVersion
from finetune.gate import GateSettings, Scores, gate_judge
from finetune.models import TrainingRun
from finetune.services import ApprovalRefused, gate_settings, training_run_approve
from medassist.models import AuditEvent
from tests.factories import ModelVersionFactory, TrainingRunFactory

LABELS = ["normal", "opacity", "nodule"]


def _scores(
    per_class: int,
    *,
    skill: float,
    seed: int,
    real: bool = True,
    flip: tuple[int, int] | None = None,
    confidence: float | None = None,
) -> Scores:
    """A model's probabilities on ``per_class`` cases of each finding (same cases per seed).

    ``skill`` moves probability onto the true class; ``flip=(a, b)`` makes the model call
    every case of class a "b" (a poisoned label); ``confidence`` sharpens the top class.
    """
    targets = np.repeat(np.arange(len(LABELS)), per_class)
    noise = np.random.default_rng(1000 + seed).dirichlet(np.ones(len(LABELS)), size=len(targets))
    p = (1 - skill) * noise
    believed = targets.copy()
    if flip is not None:
        believed[targets == flip[0]] = flip[1]
    p[np.arange(len(targets)), believed] += skill
    if confidence is not None:
        top = p.argmax(axis=1)
        p = np.full_like(p, (1 - confidence) / (len(LABELS) - 1))
        p[np.arange(len(targets)), top] = confidence
    return Scores(LABELS, p, targets, np.full(len(targets), real))


def _judge(candidate: Scores, champion: Scores, *, train_has_real: bool = True, **config):
    return gate_judge(
        candidate=candidate,
        champion=champion,
        train_has_real=train_has_real,
        config=GateSettings(**{"resamples": 300, "seed": 0, **config}),
    )


def test_an_equal_candidate_at_exactly_the_minimum_test_size_is_promoted() -> None:
    same = _scores(20, skill=0.6, seed=1)
    result = _judge(same, same)

    assert result.promote, result.reason
    counts = next(c for c in result.criteria if c.name == "Test cases per finding")
    assert counts.passed and counts.figure == "normal 20, opacity 20, nodule 20"
    assert "Not worse than the champion on the same 60 real frozen test cases" in result.reason


def test_a_test_set_below_the_minimum_per_finding_is_refused_with_the_reason() -> None:
    same = _scores(19, skill=0.6, seed=1)
    result = _judge(same, same)

    assert not result.promote
    assert "Too few test cases to measure: normal 19, opacity 19, nodule 19" in result.reason


def test_label_flip_poisoning_is_refused_and_the_page_says_which_finding_suffers() -> None:
    champion = _scores(30, skill=0.7, seed=2)
    poisoned = _scores(30, skill=0.7, seed=2, flip=(1, 0))  # calls every opacity "normal"
    result = _judge(poisoned, champion)

    assert not result.promote
    failed = {c.name for c in result.criteria if c.passed is False}
    assert "Sensitivity: opacity" in failed
    assert "macro AUROC difference (95% CI)" in failed
    assert "Sensitivity: normal" not in failed  # normal cases are still called normal


def test_a_small_loss_inside_the_interval_still_promotes_but_not_past_the_margin() -> None:
    champion = _scores(40, skill=0.7, seed=3)
    slightly = _scores(40, skill=0.68, seed=3)
    assert _judge(slightly, champion, calibration_min_cases=1000).promote
    worse = _scores(40, skill=0.2, seed=3)
    result = _judge(worse, champion, calibration_min_cases=1000)
    assert not result.promote and "macro AUROC difference (95% CI)" in result.reason


def test_the_same_evidence_gives_the_same_decision_and_the_same_interval() -> None:
    champion = _scores(25, skill=0.5, seed=4)
    candidate = _scores(25, skill=0.45, seed=5)
    first, again = _judge(candidate, champion), _judge(candidate, champion)
    assert first.as_json() == again.as_json()


def test_a_finding_with_its_own_sensitivity_margin_is_held_to_it() -> None:
    champion = _scores(20, skill=0.8, seed=6)
    candidate = _scores(20, skill=0.8, seed=6)
    # Two nodules of 20 missed: a drop of 0.10.
    missed = np.flatnonzero(candidate.targets == 2)[:2]
    candidate.probabilities[missed] = [0.9, 0.05, 0.05]

    loose = _judge(candidate, champion, sensitivity_margin=0.15, margin=0.5)
    assert loose.promote, loose.reason
    strict = _judge(
        candidate,
        champion,
        sensitivity_margin=0.15,
        margin=0.5,
        sensitivity_margins={"nodule": 0.05},
    )
    assert not strict.promote
    row = next(c for c in strict.criteria if c.name == "Sensitivity: nodule")
    assert (row.figure, row.limit, row.passed) == ("0.900 (champion 1.000)", "drop <= 0.050", False)


def test_with_real_training_data_the_decision_is_taken_on_real_cases_only() -> None:
    """The hospital's failure: better on 54 synthetic phantoms, worse on the real chests."""
    synthetic_champion = _scores(20, skill=0.5, seed=7, real=False)
    synthetic_candidate = _scores(20, skill=0.9, seed=7, real=False)  # much better there
    real_champion = _scores(20, skill=0.6, seed=8)
    real_candidate = _scores(20, skill=0.6, seed=8, flip=(0, 1))  # every normal "opacity"

    def both(a: Scores, b: Scores) -> Scores:
        return Scores(
            LABELS,
            np.vstack([a.probabilities, b.probabilities]),
            np.concatenate([a.targets, b.targets]),
            np.concatenate([a.real, b.real]),
        )

    candidate = both(synthetic_candidate, real_candidate)
    champion = both(synthetic_champion, real_champion)
    result = _judge(candidate, champion, train_has_real=True)

    assert not result.promote and result.decided_on == "real" and result.n_decision == 60
    assert "Sensitivity: normal" in {c.name for c in result.criteria if c.passed is False}
    shown = next(c for c in result.criteria if c.name.startswith("On synthetic test cases"))
    assert shown.passed is None and "candidate macro AUROC" in shown.figure
    # Trained on synthetic data only, the same figures decide on every case.
    assert _judge(candidate, champion, train_has_real=False).decided_on == "all"


def test_real_training_data_and_no_real_test_case_cannot_be_measured() -> None:
    synthetic = _scores(20, skill=0.7, seed=9, real=False)
    result = _judge(synthetic, synthetic, train_has_real=True)

    assert not result.promote
    assert "Cannot measure on real data yet" in result.reason


def test_an_overconfident_candidate_fails_the_calibration_limit_from_enough_cases() -> None:
    champion = _scores(40, skill=0.25, seed=10)
    overconfident = _scores(40, skill=0.25, seed=10, confidence=0.999)
    # Often wrong but always 99.9% sure: a large ECE, and worse than the champion's.
    result = _judge(overconfident, champion, calibration_min_cases=100, max_ece=0.10)
    row = next(c for c in result.criteria if c.name.startswith("Calibration"))
    assert row.passed is False and not result.promote
    # Within the limit passes whatever the champion's.
    lenient = _judge(overconfident, champion, calibration_min_cases=100, max_ece=0.5)
    assert next(c for c in lenient.criteria if c.name.startswith("Calibration")).passed

    few = _judge(overconfident, champion, calibration_min_cases=1000)
    row = next(c for c in few.criteria if c.name.startswith("Calibration"))
    assert row.passed is None and row.detail == "Too few cases to measure calibration."


def test_the_triage_gate_refuses_more_under_triage_even_with_a_better_ranking() -> None:
    champion = _scores(20, skill=0.5, seed=11)
    candidate = _scores(20, skill=0.9, seed=11)
    champion.under_triage = np.zeros(champion.n, dtype=bool)
    candidate.under_triage = np.zeros(candidate.n, dtype=bool)
    candidate.under_triage[:3] = True
    result = _judge(candidate, champion)

    assert not result.promote
    row = next(c for c in result.criteria if c.name.startswith("Under-triage"))
    assert row.figure == "5.0% (champion 0.0%)" and row.passed is False


def test_unknown_findings_count_as_never_suggested() -> None:
    from finetune.gate import align

    p = np.array([[0.7, 0.3], [0.2, 0.8]])
    assert align(p, ["normal", "opacity"], ["normal", "opacity", "effusion"]).tolist() == [
        [0.7, 0.3, 0.0],
        [0.2, 0.8, 0.0],
    ]


def test_the_gate_settings_take_each_findings_own_margin(db: None, settings: Settings) -> None:
    settings.MEDASSIST_GATE_SENSITIVITY_MARGIN = 0.05
    Finding.objects.filter(code="nodule").update(sensitivity_margin=0.01)
    config = gate_settings(LABELS)
    assert config.sensitivity_margins == {"nodule": 0.01}
    assert config.sensitivity_margin == 0.05 and config.metric == settings.MEDASSIST_GATE_METRIC


# --- Second approval --------------------------------------------------------------------


@pytest.fixture
def awaiting(db: None, ml_admin: User) -> TrainingRun:
    champion = ModelVersionFactory(status=ModelVersion.Status.CHAMPION)
    candidate = ModelVersionFactory(parent=champion)
    return TrainingRunFactory(
        status=TrainingRun.Status.SUCCEEDED,
        started_by=ml_admin,
        base_version=champion,
        candidate=candidate,
        decision=TrainingRun.Decision.AWAITING,
        decision_reason="Not worse than the champion.",
    )


def test_a_second_ml_admin_approves_and_the_candidate_becomes_champion(
    awaiting: TrainingRun, ml_admin: User
) -> None:
    with pytest.raises(ApprovalRefused, match="second ML admin"):
        training_run_approve(run=awaiting, actor=ml_admin, approve=True)

    other = User.objects.create_user("second-admin")
    other.groups.add(*ml_admin.groups.all())
    run = training_run_approve(run=awaiting, actor=other, approve=True)

    assert run.decision == "promoted" and run.approved_by == other
    assert ModelVersion.objects.get(pk=run.candidate_id).status == "champion"
    assert AuditEvent.objects.filter(action="training.approve", actor=other).exists()
    with pytest.raises(ApprovalRefused, match="not waiting"):
        training_run_approve(run=run, actor=other, approve=True)


def test_declining_needs_a_reason_and_keeps_the_champion(
    awaiting: TrainingRun, ml_admin: User
) -> None:
    other = User.objects.create_user("second-admin")
    with pytest.raises(ApprovalRefused, match="reason"):
        training_run_approve(run=awaiting, actor=other, approve=False)
    run = training_run_approve(
        run=awaiting, actor=other, approve=False, reason="Too few real cases yet."
    )
    assert run.decision == "rejected" and "Too few real cases yet." in run.decision_reason
    assert ModelVersion.objects.get(pk=run.base_version_id).status == "champion"


def test_an_approval_after_the_champion_changed_is_refused(awaiting: TrainingRun) -> None:
    ModelVersion.objects.filter(pk=awaiting.base_version_id).update(status="retired")
    ModelVersionFactory(status=ModelVersion.Status.CHAMPION)
    other = User.objects.create_user("second-admin")
    with pytest.raises(ApprovalRefused, match="champion has changed"):
        training_run_approve(run=awaiting, actor=other, approve=True)
