"""The promotion gate: is the candidate not worse than the champion, on evidence that holds?

Both models are scored on the same frozen test cases in the same run (:class:`Scores`); the
gate then checks every criterion and keeps them all, figure, limit and verdict, for the run
page (:class:`GateResult`). The candidate is promoted only when every judged criterion
passes:

- the decision is taken on real test cases when the training data held real cases (none
  there: refused, "cannot measure on real data yet"), else on all of them; real and
  synthetic cases are also reported apart;
- at least ``MEDASSIST_GATE_MIN_CASES_PER_FINDING`` decision cases of every finding (every
  ESI level for triage) the candidate offers;
- the paired bootstrap 95% interval of ``metric(candidate) - metric(champion)``
  (``MEDASSIST_GATE_METRIC``, macro AUROC by default) has its lower bound at or above
  ``-MEDASSIST_GATE_MARGIN``;
- no finding's sensitivity drops by more than its margin (``Finding.sensitivity_margin``,
  else ``MEDASSIST_GATE_SENSITIVITY_MARGIN``);
- the candidate's expected calibration error on the decision cases is at most
  ``MEDASSIST_GATE_MAX_ECE``, or not above the champion's (judged from
  ``MEDASSIST_CALIBRATION_MIN_CASES`` cases on);
- for triage, under-triage (after the ESI rules) is not higher than the champion's;
- for the encounter diagnosis, the metric is top-3 recall, each group's top-3 recall (``top``)
  stands in for its sensitivity, and the candidate's own top-3 recall must reach a floor
  (``min_metric``); its minimums are its own settings (``MEDASSIST_ENCOUNTER_DX_GATE_*``).

The bootstrap is seeded (``MEDASSIST_TRAIN_SEED``): the same evidence gives the same decision.
NumPy only, no Django models: the caller passes settings and margins in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from medassist.ml.gate_stats import METRICS, paired_bootstrap, sensitivities

METRIC_NAMES = {
    "macro_auroc": "macro AUROC",
    "macro_f1": "macro-F1",
    "accuracy": "accuracy",
    "top3_recall": "top-3 recall",
}


@dataclass
class Scores:
    """One model's outputs on the frozen test cases, columns in the candidate's label order.

    ``probabilities`` are the calibrated ones a clinician would see; a label the model does not
    know has probability 0 (it can never suggest it). ``under_triage`` (triage only) says per
    case whether the suggestion after the rules was less acute than the reference.
    """

    labels: list[str]
    probabilities: np.ndarray  # (N, K)
    targets: np.ndarray  # (N,) indices into labels
    real: np.ndarray  # (N,) bool: a real patient's case, not synthetic
    under_triage: np.ndarray | None = None  # (N,) bool

    def subset(self, rows: np.ndarray) -> Scores:
        return Scores(
            labels=self.labels,
            probabilities=self.probabilities[rows],
            targets=self.targets[rows],
            real=self.real[rows],
            under_triage=None if self.under_triage is None else self.under_triage[rows],
        )

    @property
    def n(self) -> int:
        return int(self.targets.shape[0])


def align(probabilities: np.ndarray, own: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """``probabilities`` over a model's ``own`` labels as columns of ``labels`` (0 if unknown)."""
    out = np.zeros((probabilities.shape[0], len(labels)), dtype=np.float64)
    for column, code in enumerate(labels):
        if code in own:
            out[:, column] = probabilities[:, list(own).index(code)]
    return out


@dataclass(frozen=True)
class GateSettings:
    metric: str = "macro_auroc"
    margin: float = 0.02
    min_cases_per_finding: int = 20
    sensitivity_margin: float = 0.05
    max_ece: float = 0.10
    calibration_min_cases: int = 100
    resamples: int = 2000
    seed: int = 0
    # Per finding code: its own sensitivity margin (Finding.sensitivity_margin).
    sensitivity_margins: Mapping[str, float] = field(default_factory=dict)
    # A class counts as found when it is among the model's first ``top`` (1: the sensitivity).
    top: int = 1
    # The candidate's own metric on the decision cases must reach this (None: no floor).
    min_metric: float | None = None


@dataclass
class Criterion:
    """One row of the run page's gate table; ``passed`` None means shown, not judged."""

    name: str
    figure: str
    limit: str
    passed: bool | None
    detail: str = ""


@dataclass
class GateResult:
    promote: bool
    reason: str
    criteria: list[Criterion]
    decided_on: str  # "real" or "all"
    n_decision: int

    def as_json(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "decided_on": self.decided_on,
            "n_decision": self.n_decision,
            "criteria": [asdict(c) for c in self.criteria],
        }


def _metric(name: str) -> Any:
    try:
        return METRICS[name]
    except KeyError:
        raise ValueError(
            f"Unknown gate metric {name!r}; use one of {', '.join(sorted(METRICS))}."
        ) from None


def _figures(scores: Scores, metric: str) -> str:
    if not scores.n:
        return "no cases"
    value = _metric(metric)(scores.probabilities, scores.targets)
    return f"{METRIC_NAMES.get(metric, metric)} {value:.3f} on {scores.n}"


def gate_judge(
    *,
    candidate: Scores,
    champion: Scores,
    train_has_real: bool,
    config: GateSettings,
) -> GateResult:
    """Every criterion of the gate and the decision; see the module docstring."""
    if candidate.labels != champion.labels or candidate.n != champion.n:
        raise ValueError("the candidate and the champion must be scored on the same cases")
    metric_fn = _metric(config.metric)
    metric_name = METRIC_NAMES.get(config.metric, config.metric)
    criteria: list[Criterion] = []

    # Which cases decide.
    n_real = int(candidate.real.sum())
    n_synthetic = candidate.n - n_real
    if train_has_real:
        rows = candidate.real
        decided_on = "real"
        criteria.append(
            Criterion(
                "Decided on real test cases",
                f"{n_real} real, {n_synthetic} synthetic test cases",
                "at least 1 real case (the training data held real cases)",
                n_real > 0,
                ""
                if n_real
                else "Cannot measure on real data yet: freeze reviewed real "
                "cases into the test set first.",
            )
        )
    else:
        rows = np.ones(candidate.n, dtype=bool)
        decided_on = "all"
        criteria.append(
            Criterion(
                "Decided on all test cases",
                f"{n_real} real, {n_synthetic} synthetic test cases",
                "the training data was synthetic only",
                None,
            )
        )
    cand, champ = candidate.subset(rows), champion.subset(rows)

    # Enough cases of every finding.
    counts = np.bincount(cand.targets, minlength=len(cand.labels)) if cand.n else None
    short = [
        f"{code} {0 if counts is None else int(counts[k])}"
        for k, code in enumerate(cand.labels)
        if counts is None or counts[k] < config.min_cases_per_finding
    ]
    criteria.append(
        Criterion(
            "Test cases per finding",
            ", ".join(
                f"{code} {0 if counts is None else int(counts[k])}"
                for k, code in enumerate(cand.labels)
            ),
            f">= {config.min_cases_per_finding} each",
            not short,
            f"Too few test cases to measure: {', '.join(short)}." if short else "",
        )
    )

    # The metric's paired difference.
    if cand.n:
        try:
            diff = paired_bootstrap(
                metric_fn,
                cand.probabilities,
                champ.probabilities,
                cand.targets,
                resamples=config.resamples,
                seed=config.seed,
            )
        except ValueError as exc:
            criteria.append(
                Criterion(f"{metric_name} difference", "not measurable", "", False, str(exc))
            )
        else:
            new = metric_fn(cand.probabilities, cand.targets)
            old = metric_fn(champ.probabilities, champ.targets)
            criteria.append(
                Criterion(
                    f"{metric_name} difference (95% CI)",
                    f"{diff.difference:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}] "
                    f"(candidate {new:.3f}, champion {old:.3f})",
                    f"lower bound >= {-config.margin:+.3f}",
                    diff.low >= -config.margin,
                )
            )

    # Sensitivity per finding.
    if cand.n:
        new_sens = sensitivities(cand.probabilities, cand.targets, top=config.top)
        old_sens = sensitivities(champ.probabilities, champ.targets, top=config.top)
        for k, code in enumerate(cand.labels):
            margin = config.sensitivity_margins.get(code, config.sensitivity_margin)
            if np.isnan(new_sens[k]):
                continue
            drop = old_sens[k] - new_sens[k]
            criteria.append(
                Criterion(
                    f"Sensitivity: {code}"
                    if config.top == 1
                    else f"Top-{config.top} recall: {code}",
                    f"{new_sens[k]:.3f} (champion {old_sens[k]:.3f})",
                    f"drop <= {margin:.3f}",
                    bool(drop <= margin + 1e-12),
                )
            )

    # Calibration: within the limit, or at least no worse calibrated than the champion (a
    # limit the champion misses too must not freeze the loop).
    if cand.n >= config.calibration_min_cases:
        from medassist.ml.calibration import expected_calibration_error

        ece = expected_calibration_error(cand.probabilities, cand.targets)
        old_ece = expected_calibration_error(champ.probabilities, champ.targets)
        criteria.append(
            Criterion(
                "Calibration (ECE, 15 bins)",
                f"{ece:.3f} (champion {old_ece:.3f}) on {cand.n} cases",
                f"<= {config.max_ece:.3f}, or not above the champion's",
                bool(ece <= config.max_ece or ece <= old_ece + 1e-12),
            )
        )
    else:
        criteria.append(
            Criterion(
                "Calibration (ECE, 15 bins)",
                f"not measured: {cand.n} cases",
                f"<= {config.max_ece:.3f} from {config.calibration_min_cases} cases",
                None,
                "Too few cases to measure calibration.",
            )
        )

    # A floor under the candidate's own figure (the encounter diagnosis: top-3 recall).
    if config.min_metric is not None and cand.n:
        own = metric_fn(cand.probabilities, cand.targets)
        criteria.append(
            Criterion(
                f"{metric_name[:1].upper()}{metric_name[1:]} of the candidate",
                f"{own:.3f} on {cand.n} cases",
                f">= {config.min_metric:.3f}",
                bool(own >= config.min_metric),
            )
        )

    # Triage: under-triage not higher.
    if cand.under_triage is not None and champ.under_triage is not None and cand.n:
        new_u, old_u = float(cand.under_triage.mean()), float(champ.under_triage.mean())
        criteria.append(
            Criterion(
                "Under-triage (after the ESI rules)",
                f"{new_u:.1%} (champion {old_u:.1%})",
                "not higher than the champion's",
                new_u <= old_u,
            )
        )

    # Shown apart, not judged: the other kind of cases.
    for kind, mask in (("real", candidate.real), ("synthetic", ~candidate.real)):
        if decided_on == "real" and kind == "real":
            continue
        if not mask.any() or (decided_on == "all" and mask.all()):
            continue  # no such case, or the decision's own cases
        criteria.append(
            Criterion(
                f"On {kind} test cases (shown, not judged)",
                f"candidate {_figures(candidate.subset(mask), config.metric)}, "
                f"champion {_figures(champion.subset(mask), config.metric)}",
                "",
                None,
            )
        )

    failed = [c for c in criteria if c.passed is False]
    where = f"{cand.n} {'real ' if decided_on == 'real' else ''}frozen test cases"
    if failed:
        reason = "Kept the champion: " + "; ".join(
            f"{c.name}: {c.figure} (limit {c.limit})" + (f". {c.detail}" if c.detail else "")
            for c in failed
        )
        reason += f" (on the same {where})."
        return GateResult(False, reason, criteria, decided_on, cand.n)
    judged = next(c for c in criteria if c.name.endswith("(95% CI)"))
    per_class = (
        "every finding's sensitivity within its margin"
        if config.top == 1
        else f"every group's top-{config.top} recall within its margin"
    )
    reason = (
        f"Not worse than the champion on the same {where}: {judged.name} {judged.figure}, "
        f"{judged.limit}; {per_class}."
    )
    return GateResult(True, reason, criteria, decided_on, cand.n)
