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
