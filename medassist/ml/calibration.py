"""Temperature scaling: calibrated probabilities for any classifier's logits.

Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017): one scalar ``T`` fitted on
held-out data so that ``softmax(logits / T)`` minimises the negative log-likelihood. It
changes how sure the model says it is, never which class it ranks first.
"""

from __future__ import annotations

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
