"""Statistics a promotion gate can trust: AUROC, per-class sensitivity, paired bootstrap.

NumPy only (no torch, no Django). A gate compares a candidate and the champion on the same
frozen test cases, so every figure here takes both models' probabilities for the same rows
and resamples rows, never models: the confidence interval is of the paired difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the boolean ``positive`` (Mann-Whitney U).

    Ties count one half. Returns NaN when there is no positive or no negative case (the area
    is undefined, not 0.5).
    """
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # Average ranks (1-based), tied scores sharing the mean of their ranks.
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    ranks = ((last - counts + 1 + last) / 2.0)[inverse]
    u = ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def macro_auroc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean one-vs-rest AUROC over the classes that have both positives and negatives.

    ``probabilities`` is ``(N, K)``, ``labels`` N class indices. NaN if no class qualifies.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    areas = [auroc(p[:, k], y == k) for k in range(p.shape[1])]
    defined = [a for a in areas if not np.isnan(a)]
    return float(np.mean(defined)) if defined else float("nan")


def sensitivities(probabilities: np.ndarray, labels: np.ndarray, *, top: int = 1) -> list[float]:
    """Per class: the share of its cases the model ranks first (recall), or among its first
    ``top`` (top-k recall of the class); NaN for no case."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    hits = _in_top(p, y, top)
    out = []
    for k in range(p.shape[1]):
        cases = y == k
        out.append(float(hits[cases].mean()) if cases.any() else float("nan"))
    return out


def _in_top(p: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Per row: whether the label's probability is among the ``k`` highest of its row.

    A tie at the boundary counts against the label (the label's rank is 1 + the number of
    classes strictly more probable, plus the tied ones before it in column order), so a
    model that says the same for every class is not credited with every class.
    """
    if k == 1:
        return p.argmax(axis=1) == y
    rows = np.arange(len(y))
    own = p[rows, y]
    above = (p > own[:, None]).sum(axis=1)
    tied_before = ((p == own[:, None]) & (np.arange(p.shape[1])[None, :] < y[:, None])).sum(axis=1)
    return above + tied_before < k


def top_k_recall(probabilities: np.ndarray, labels: np.ndarray, *, k: int = 3) -> float:
    """Share of cases whose label is among the model's ``k`` most probable classes."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    return float(_in_top(p, y, k).mean()) if len(y) else float("nan")


def top3_recall(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """:func:`top_k_recall` with k = 3: is the true class in the short list a doctor reads?"""
    return top_k_recall(probabilities, labels, k=3)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of cases whose top class is the label."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    return float((p.argmax(axis=1) == y).mean()) if len(y) else float("nan")


def macro_f1(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean F1 of the top class over the classes that occur as label or as prediction."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if not len(y):
        return float("nan")
    predicted = p.argmax(axis=1)
    scores = []
    for k in range(p.shape[1]):
        tp = int(((predicted == k) & (y == k)).sum())
        n_true, n_pred = int((y == k).sum()), int((predicted == k).sum())
        if n_true or n_pred:
            scores.append(2 * tp / (n_true + n_pred))
    return float(np.mean(scores))


# The metrics a gate may judge on (MEDASSIST_GATE_METRIC), by name.
METRICS: dict[str, Metric] = {
    "macro_auroc": macro_auroc,
    "macro_f1": macro_f1,
    "accuracy": accuracy,
    "top3_recall": top3_recall,
}


@dataclass(frozen=True)
class PairedDifference:
    """``candidate - champion`` of a metric on the same cases, with its bootstrap interval."""

    difference: float
    low: float
    high: float
    resamples: int
    level: float


def paired_bootstrap(
    metric: Metric,
    candidate: np.ndarray,
    champion: np.ndarray,
    labels: np.ndarray,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedDifference:
    """Percentile bootstrap interval of ``metric(candidate) - metric(champion)``.

    Each resample draws N rows with replacement and scores both models on those same rows,
    so the case mix cancels out of the difference. Resamples where the metric is undefined
    (NaN, e.g. a class without positives) are dropped. The same ``seed`` gives the same
    interval, so the same evidence always gives the same decision.

    Raises:
        ValueError: the two models were not scored on the same rows, or no resample was
            defined.
    """
    a = np.asarray(candidate, dtype=np.float64)
    b = np.asarray(champion, dtype=np.float64)
    y = np.asarray(labels)
    if a.shape != b.shape or a.shape[0] != y.shape[0] or a.shape[0] == 0:
        raise ValueError("both models must be scored on the same, non-empty set of cases")
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    diffs = []
    for _ in range(resamples):
        rows = rng.integers(0, n, size=n)
        d = metric(a[rows], y[rows]) - metric(b[rows], y[rows])
        if not np.isnan(d):
            diffs.append(d)
    if not diffs:
        raise ValueError("the metric was undefined on every resample (too few cases per class)")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(diffs, [tail, 100.0 - tail])
    return PairedDifference(
        difference=float(metric(a, y) - metric(b, y)),
        low=float(low),
        high=float(high),
        resamples=len(diffs),
        level=level,
    )


def bootstrap_interval(
    metric: Metric,
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of one model's ``metric``; None when never defined."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if not len(y):
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        rows = rng.integers(0, len(y), size=len(y))
        value = metric(p[rows], y[rows])
        if not np.isnan(value):
            values.append(value)
    if not values:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
