"""Fine-tuning, evaluation and temperature calibration of an :class:`ImageClassifier`.

All functions take images already preprocessed into a float32 ``(N, 3, S, S)`` tensor (see
:func:`medassist.ml.preprocess.dicom_to_tensor`) and integer class indices ``(N,)`` into
``clf.labels``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medassist.ml.calibration import temperature_from_logits
from medassist.ml.image_model import ImageClassifier

_EVAL_BATCH = 64


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train_classifier`.

    ``augment`` enables, per image and per epoch: a horizontal flip with probability 0.5 and
    a random shift of up to 1/16 of the image size in each direction (edges replicated). Both
    are mild enough to keep findings inside the lungs. Left-right flips are acceptable for
    finding detection but would be wrong for a laterality-sensitive task.
    """

    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    augment: bool = True


def _check(clf: ImageClassifier, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Raise ValueError unless images/labels have matching, valid shapes and values."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be (N, 3, S, S), got {tuple(images.shape)}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError("labels must be (N,) with N matching images")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(clf.labels)):
        raise ValueError(f"labels must be class indices in [0, {len(clf.labels)})")


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to size/16 pixels; see :class:`TrainConfig`."""
    n, _, h, w = batch.shape
    flip = torch.rand(n, generator=generator) < 0.5
    batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
    pad = max(1, min(h, w) // 16)
    padded = F.pad(batch, (pad, pad, pad, pad), mode="replicate")
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).tolist()
    return torch.stack(
        [padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offsets)]
    )


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Shuffled index batches; a trailing batch of one is merged into the previous one
    because BatchNorm cannot normalise a single item in training mode."""
    chunks = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        last = chunks.pop()
        chunks[-1] = torch.cat([chunks[-1], last])
    return chunks


@dataclass
class TrainState:
    """Everything besides the weights that the rest of a training run depends on, after
    ``epoch``: the optimizer's moments, the shuffling/augmentation generator and torch's
    global RNG (dropout). Resuming from the weights of that epoch and this state continues
    exactly as the uninterrupted run would have (same hardware and thread count).

    :meth:`as_payload` holds only tensors and plain values (``torch.load(weights_only=True)``).
    """

    epoch: int
    optimizer: dict[str, Any]
    generator: torch.Tensor
    torch_rng: torch.Tensor

    def as_payload(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "optimizer": self.optimizer,
            "generator": self.generator,
            "torch_rng": self.torch_rng,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TrainState:
        return cls(
            epoch=int(payload["epoch"]),
            optimizer=payload["optimizer"],
            generator=payload["generator"],
            torch_rng=payload["torch_rng"],
        )


def train_classifier(
    clf: ImageClassifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: TrainConfig,
    on_epoch: Callable[[int, float], None] | None = None,
    on_state: Callable[[TrainState], None] | None = None,
    resume: TrainState | None = None,
) -> ImageClassifier:
    """Fine-tune ``clf.model`` in place on ``images``/``labels`` and return ``clf`` in eval mode.

    AdamW over all parameters; cross-entropy weighted by inverse class frequency
    (``N / (K_present * count_c)``), which is all ones for a balanced set. Runs on the
    model's device. Deterministic for a given ``config.seed`` on the same hardware and
    thread count: the seed drives dropout (via ``torch.manual_seed``) and a private
    generator for shuffling and augmentation.

    Args:
        images: float32 ``(N, 3, S, S)``, N >= 2.
        labels: int64 ``(N,)`` class indices into ``clf.labels``.
        on_epoch: called as ``on_epoch(epoch, mean_loss)`` after each epoch, ``epoch``
            counting from 1 and ``mean_loss`` the per-image mean training loss; use it to
            checkpoint or report progress. An exception it raises stops training.
        on_state: called with the :class:`TrainState` after each epoch, just before
            ``on_epoch``: keep it with that epoch's weights to resume from there.
        resume: continue after ``resume.epoch`` (``clf`` must hold that epoch's weights).

    Raises:
        ValueError: bad shapes, labels out of range, fewer than 2 images, or epochs < 1.
    """
    _check(clf, images, labels)
    if images.shape[0] < 2:
        raise ValueError("training needs at least 2 images")
    if config.epochs < 1 or config.batch_size < 2:
        raise ValueError("epochs must be >= 1 and batch_size >= 2")

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = clf.device
    model = clf.model

    counts = torch.bincount(labels.cpu(), minlength=len(clf.labels)).double()
    present = counts > 0
    weights = torch.ones(len(clf.labels), dtype=torch.float64)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    weights = weights.float().to(device)

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    first = 1
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer)
        generator.set_state(resume.generator)
        torch.set_rng_state(resume.torch_rng)
        first = resume.epoch + 1
    n = images.shape[0]
    for epoch in range(first, config.epochs + 1):
        model.train()
        total = 0.0
        for idx in _batches(n, config.batch_size, generator):
            x = images[idx]
            if config.augment:
                x = _augment(x, generator)
            y = labels[idx].to(device)
            loss = F.cross_entropy(model(x.to(device)), y, weight=weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        if on_state is not None:
            on_state(
                TrainState(
                    epoch=epoch,
                    optimizer=optimizer.state_dict(),
                    generator=generator.get_state(),
                    torch_rng=torch.get_rng_state(),
                )
            )
        if on_epoch is not None:
            model.eval()
            on_epoch(epoch, total / n)
    model.eval()
    return clf


def _logits(clf: ImageClassifier, images: torch.Tensor) -> torch.Tensor:
    """Logits for all images, predicted in chunks to bound memory."""
    if images.shape[0] == 0:
        return torch.zeros((0, len(clf.labels)))
    return torch.cat([clf.predict(chunk) for chunk in images.split(_EVAL_BATCH)])


def evaluate(clf: ImageClassifier, images: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class metrics and the confusion matrix of ``clf``.

    Returns:
        ``{"n", "accuracy", "macro_f1", "per_class", "confusion", "labels"}`` where
        ``per_class[label] = {"precision", "recall", "f1", "support"}`` for every label of
        ``clf``; ``confusion[i][j]`` counts true class ``i`` predicted as ``j`` in the order of
        ``labels``. Precision/recall/F1 with a zero denominator are 0. ``macro_f1`` averages
        F1 over the classes that occur in the true labels or the predictions: a class absent
        from both says nothing about this test set, while a class predicted but never true
        must count (its F1 is 0), or spurious predictions would go unpunished. With N = 0
        everything is 0.

    Raises:
        ValueError: bad shapes or labels out of range.
    """
    _check(clf, images, labels)
    y_true = labels.cpu().numpy().astype(np.int64)
    y_pred = _logits(clf, images).argmax(dim=1).numpy().astype(np.int64)
    return classification_metrics(y_true, y_pred, labels=clf.labels)


def classification_metrics(
    y_true: np.ndarray | Sequence[int], y_pred: np.ndarray | Sequence[int], *, labels: Sequence[str]
) -> dict[str, Any]:
    """The figures of :func:`evaluate` for class indices already predicted (any model).

    Raises:
        ValueError: lengths differ or an index is outside ``labels``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    k = len(labels)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError("y_true and y_pred must be 1-D and of the same length")
    if y_true.size and (
        min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k
    ):
        raise ValueError(f"class indices must be in 0..{k - 1}")
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)

    tp = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    seen = (support > 0) | (predicted > 0)
    n = int(y_true.shape[0])
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1[seen].mean()) if seen.any() else 0.0,
        "per_class": {
            label: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": confusion.tolist(),
        "labels": list(labels),
    }


def classifier_logits(clf: ImageClassifier, images: torch.Tensor) -> torch.Tensor:
    """The model's raw logits ``(N, K)`` for preprocessed ``images`` (evaluation mode)."""
    return _logits(clf, images)


def fit_temperature(clf: ImageClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fit the softmax temperature that minimises NLL on a held-out set (temperature scaling).

    The model is run once, then :func:`temperature_from_logits`. ``clf`` is not modified:
    store the returned value in ``clf.temperature``.

    Raises:
        ValueError: bad shapes, labels out of range, or no images.
    """
    _check(clf, images, labels)
    if images.shape[0] == 0:
        raise ValueError("temperature fitting needs at least 1 image")
    return temperature_from_logits(_logits(clf, images), labels)
