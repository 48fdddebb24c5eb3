"""Class targets for training: label names to indices, and inverse-frequency class weights.

Shared by the triage text model, the triage head and the encounter diagnosis model; torch
only.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def class_targets(names: Sequence[str], labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The index in ``labels`` of each name, and a float32 weight per class: ``n / (k *
    count)`` for the ``k`` classes present, 1 for a class absent from ``names``.

    Names, not indices, so ESI ``"1"`` cannot be confused with index 1.

    Raises:
        ValueError: a name that is not one of ``labels``.
    """
    labels = list(labels)
    unknown = sorted(set(names) - set(labels))
    if unknown:
        raise ValueError(f"unknown labels {unknown}; expected names from {labels}")
    index = {name: i for i, name in enumerate(labels)}
    y = torch.tensor([index[name] for name in names], dtype=torch.long)
    counts = torch.bincount(y, minlength=len(labels)).double()
    present = counts > 0
    weights = torch.ones(len(labels), dtype=torch.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return y, weights.float()
