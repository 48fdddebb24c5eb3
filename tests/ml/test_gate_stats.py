"""The gate's statistics on examples small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from medassist.ml.gate_stats import (
    accuracy,
    auroc,
    bootstrap_interval,
    macro_auroc,
    macro_f1,
    paired_bootstrap,
    sensitivities,
)


def test_auroc_counts_ordered_pairs_and_ties_as_one_half() -> None:
    # Positives 0.8, 0.4; negatives 0.4, 0.1. Pairs (pos > neg): (0.8,0.4) (0.8,0.1) (0.4,0.1)
    # = 3, the tie (0.4,0.4) = 0.5: 3.5 of 4 pairs.
    assert auroc(np.array([0.8, 0.4, 0.4, 0.1]), np.array([1, 1, 0, 0], bool)) == 3.5 / 4
    assert auroc(np.array([0.1, 0.9]), np.array([1, 0], bool)) == 0.0
    assert np.isnan(auroc(np.array([0.3, 0.7]), np.array([1, 1], bool)))


def test_macro_auroc_averages_the_classes_that_can_be_measured() -> None:
    p = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0]])
    y = np.array([0, 1, 0])  # class 2 has no case: left out, not counted as 0.5
    assert macro_auroc(p, y) == pytest.approx(1.0)


def test_sensitivity_is_per_class_recall() -> None:
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    y = np.array([0, 1, 1, 1])
    assert sensitivities(p, y) == [1.0, pytest.approx(2 / 3)]


def _models(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    good = np.full((n, 3), 0.1)
    good[np.arange(n), y] = 0.8  # always right
    noisy = rng.dirichlet(np.ones(3), size=n)  # chance
    return good, noisy, y


def test_the_bootstrap_is_paired_deterministic_and_sees_a_real_difference() -> None:
    good, noisy, y = _models(60, seed=1)
    first = paired_bootstrap(macro_auroc, good, noisy, y, resamples=500, seed=7)
    again = paired_bootstrap(macro_auroc, good, noisy, y, resamples=500, seed=7)
    assert first == again  # same evidence, same decision
    assert first.low > 0.2  # the better model is better beyond doubt
    worse = paired_bootstrap(macro_auroc, noisy, good, y, resamples=500, seed=7)
    assert worse.high < -0.2


def test_the_same_model_against_itself_differs_by_exactly_zero() -> None:
    _, noisy, y = _models(40, seed=2)
    same = paired_bootstrap(macro_auroc, noisy, noisy, y, resamples=200, seed=0)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)


def test_models_scored_on_different_cases_are_refused() -> None:
    good, noisy, y = _models(10, seed=3)
    with pytest.raises(ValueError, match="same"):
        paired_bootstrap(macro_auroc, good, noisy[:5], y)


def test_auroc_equals_the_share_of_ordered_pairs_on_random_tied_scores() -> None:
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, size=80) / 5.0  # many ties
    positive = rng.random(80) < 0.4
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0
        for p in scores[positive]
        for n in scores[~positive]
    ]
    assert auroc(scores, positive) == pytest.approx(np.mean(pairs))


def test_accuracy_and_macro_f1_score_the_top_class() -> None:
    p = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0], [0.2, 0.1, 0.7]])
    y = np.array([0, 1, 1, 1])
    assert accuracy(p, y) == 0.5
    # Class 0: TP 1, 1 true, 2 predicted -> 2/3. Class 1: TP 1, 3 true, 1 predicted -> 1/2.
    # Class 2: predicted once, never true -> 0 (a spurious prediction counts).
    assert macro_f1(p, y) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)


def test_one_models_interval_holds_its_figure_and_narrows_with_more_cases() -> None:
    _, noisy, y = _models(40, seed=6)
    low, high = bootstrap_interval(accuracy, noisy, y, resamples=400, seed=1)
    assert low <= accuracy(noisy, y) <= high
    _, big_noisy, big_y = _models(400, seed=6)
    big_low, big_high = bootstrap_interval(accuracy, big_noisy, big_y, resamples=400, seed=1)
    assert big_high - big_low < high - low
    assert bootstrap_interval(accuracy, noisy[:0], y[:0]) is None
