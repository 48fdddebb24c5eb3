"""Temperature scaling: calibrated probabilities for any classifier's logits.

Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017): one scalar ``T`` fitted on
held-out data so that ``softmax(logits / T)`` minimises the negative log-likelihood. It
changes how sure the model says it is, never which class it ranks first.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

# Temperatures outside this range mean the fit went wrong (or the data are degenerate);
# clamping keeps a calibrated model from being absurdly over- or under-confident.
TEMPERATURE_MIN = 0.05
TEMPERATURE_MAX = 20.0


def temperature_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature ``T`` minimising the NLL of ``softmax(logits / T)`` (any classifier).

    LBFGS optimises ``log T`` on the fixed logits (the log keeps T positive). The result is
    clamped to ``[0.05, 20]``; if the fit diverges to a non-finite value, 1.0 (no
    calibration) is returned.

    Raises:
        ValueError: ``logits`` is not ``(N, K)`` with N >= 1, or labels are not N indices
            in ``[0, K)``.
    """
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError("temperature fitting needs (N, K) logits with N >= 1")
    y = labels.cpu().long()
    if y.shape != (logits.shape[0],) or int(y.min()) < 0 or int(y.max()) >= logits.shape[1]:
        raise ValueError("labels must be one class index in [0, K) per row of logits")
    logits = logits.detach().cpu().double()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [log_t], lr=0.1, max_iter=200, tolerance_change=1e-12, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    t = float(log_t.detach().exp())
    if not np.isfinite(t):
        return 1.0
    return float(min(max(t, TEMPERATURE_MIN), TEMPERATURE_MAX))


ECE_BINS = 15


def reliability_bins(
    probabilities: np.ndarray, labels: np.ndarray, *, bins: int = ECE_BINS
) -> list[dict[str, float]]:
    """The reliability diagram's bins: confidence against accuracy of the top class.

    ``probabilities`` is ``(N, K)`` (rows sum to 1), ``labels`` N class indices. Each row's
    confidence is its largest probability; bin ``b`` holds confidences in
    ``(b / bins, (b + 1) / bins]`` (the first bin also holds 0). Returns one dict per non-empty
    bin: ``lower``, ``upper``, ``n``, ``confidence`` (mean), ``accuracy`` (share correct).

    Raises:
        ValueError: shapes that do not match, or no rows.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels)
    if p.ndim != 2 or p.shape[0] == 0 or y.shape != (p.shape[0],):
        raise ValueError("reliability needs (N, K) probabilities and N labels, N >= 1")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # ceil(c * bins) - 1 puts c in (b/bins, (b+1)/bins]; 0 goes to the first bin.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        members = index == b
        n = int(members.sum())
        if n:
            out.append(
                {
                    "lower": b / bins,
                    "upper": (b + 1) / bins,
                    "n": n,
                    "confidence": float(confidence[members].mean()),
                    "accuracy": float(correct[members].mean()),
                }
            )
    return out


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, *, bins: int = ECE_BINS
) -> float:
    """ECE (Naeini et al. 2015; Guo et al. 2017): the case-weighted mean gap between the
    confidence and the accuracy of the top class over ``bins`` equal-width bins. 0 is perfect;
    a model that says 0.99 and is right half the time scores about 0.49.
    """
    curve = reliability_bins(probabilities, labels, bins=bins)
    total = sum(b["n"] for b in curve)
    return float(sum(b["n"] * abs(b["confidence"] - b["accuracy"]) for b in curve) / total)


@dataclass(frozen=True)
class Calibration:
    """What measured calibration found; ``temperature`` is 1.0 unless it was used.

    ``measured`` is False below the minimum number of held-back cases: then there is no
    temperature and no ECE figure, and ``reason`` says so in words for the model card.
    """

    temperature: float
    measured: bool
    used: bool = False
    ece_before: float | None = None
    ece_after: float | None = None
    n_fit: int = 0
    n_judge: int = 0
    reliability_before: list[dict[str, float]] = field(default_factory=list)
    reliability_after: list[dict[str, float]] = field(default_factory=list)
    reason: str = ""

    def summary(self) -> dict[str, object]:
        return asdict(self)


def calibrate(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    groups: Sequence[object] | None = None,
    min_cases: int,
    seed: int = 0,
) -> Calibration:
    """Fit a temperature on one part of held-back cases and judge it on the other.

    The cases are split in two halves by ``groups`` (patients: nobody on both sides) or by
    case, seeded. ``T`` is fitted on the first half (:func:`temperature_from_logits`); the ECE
    of the second half is measured without and with it. The temperature is used only if it
    lowers that ECE; otherwise calibration is measured but the model keeps ``T = 1``. Fewer
    than ``min_cases`` cases (or fewer than 2 on either side): nothing is fitted or measured.
    """
    n = int(labels.shape[0])
    too_few = Calibration(
        temperature=1.0,
        measured=False,
        reason=f"too few cases to measure calibration ({n} held back, {min_cases} needed)",
    )
    if n < max(min_cases, 4):
        return too_few
    keys = list(groups) if groups is not None else list(range(n))
    distinct = sorted(set(keys), key=str)
    random.Random(seed).shuffle(distinct)
    judge_keys = set(distinct[: len(distinct) // 2])
    judge = np.array([k in judge_keys for k in keys])
    if judge.sum() < 2 or (~judge).sum() < 2:
        return too_few
    fit_idx = torch.from_numpy(np.flatnonzero(~judge))
    judge_idx = torch.from_numpy(np.flatnonzero(judge))
    t = temperature_from_logits(logits[fit_idx], labels[fit_idx])
    judged = logits[judge_idx].detach().cpu().double()
    y = labels[judge_idx].cpu().numpy()
    before = torch.softmax(judged, dim=1).numpy()
    after = torch.softmax(judged / t, dim=1).numpy()
    ece_before = expected_calibration_error(before, y)
    ece_after = expected_calibration_error(after, y)
    used = ece_after < ece_before
    return Calibration(
        temperature=t if used else 1.0,
        measured=True,
        used=used,
        ece_before=ece_before,
        ece_after=ece_after,
        n_fit=len(fit_idx),
        n_judge=len(judge_idx),
        reliability_before=reliability_bins(before, y),
        reliability_after=reliability_bins(after, y),
        reason="" if used else f"temperature {t:.2f} did not lower the ECE of the judged cases",
    )
