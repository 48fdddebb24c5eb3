"""Grad-CAM saliency for the image classifier, and its rendering as an overlay PNG.

Layer choice: the CAM is taken on the feature map that enters the network's global average
pooling, i.e. the output of EfficientNet-Lite0's last convolution block (``_conv_head`` ->
``_bn1`` -> ReLU6, 1280 channels at 1/32 of the input resolution: 7x7 for 224 px, 2x2 for
64 px). It is found as the input of the last ``AdaptiveAvgPool2d`` of the model (the
library's ``_avg_pooling``) rather than by a module name, because the activation module
(``_swish``) is shared with the stem and would fire twice per forward pass.

The hook swaps that input for a detached leaf tensor that requires grad, so the backward
pass only runs through pooling and the head: the whole cost is one forward pass plus a
negligible backward, no parameter gets a ``.grad``, and no ``requires_grad`` flag changes.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from medassist.ml.image_model import ImageClassifier

# Colour ramp stops (position, RGB), a jet-like blue -> cyan -> green -> yellow -> red.
_RAMP = np.array(
    [
        [0.0, 0.0, 0.0, 0.5],
        [0.125, 0.0, 0.0, 1.0],
        [0.375, 0.0, 1.0, 1.0],
        [0.625, 1.0, 1.0, 0.0],
        [0.875, 1.0, 0.0, 0.0],
        [1.0, 0.5, 0.0, 0.0],
    ]
)


def cam_layer(model: torch.nn.Module) -> torch.nn.Module:
    """The global pooling module whose input is the feature map Grad-CAM explains.

    Raises:
        ValueError: the model has no ``AdaptiveAvgPool2d``.
    """
    pools = [m for m in model.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ValueError("Grad-CAM needs a model with a global AdaptiveAvgPool2d before its head")
    return pools[-1]


def gradcam(clf: ImageClassifier, image: torch.Tensor, *, target: int | None = None) -> np.ndarray:
    """Grad-CAM of ``clf`` for one preprocessed image.

    ``cam = ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of the gradient of the
    target logit with respect to feature map ``A_k``; upsampled bilinearly to the input size
    and divided by its maximum. A map with no positive evidence is all zeros. The model runs
    in eval mode (its previous mode is restored) on its own device; call this outside
    ``torch.inference_mode``.

    Args:
        image: float32 ``(3, S, S)`` as from :meth:`ImageClassifier.preprocess`.
        target: class index to explain; default the predicted (argmax) class.

    Returns:
        float32 ``(S, S)`` array with values in ``[0, 1]``.

    Raises:
        ValueError: ``image`` is not ``(3, H, W)``, ``target`` is out of range, or the model
            has no global pooling layer.
        RuntimeError: the pooling layer was not called during the forward pass.
    """
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image, got {tuple(image.shape)}")
    if target is not None and not 0 <= target < len(clf.labels):
        raise ValueError(f"target must be in [0, {len(clf.labels)}), got {target}")
    model = clf.model
    captured: list[torch.Tensor] = []

    def swap_in_leaf(
        _module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, ...]:
        leaf = inputs[0].detach().requires_grad_(True)
        captured.append(leaf)
        return (leaf, *inputs[1:])

    was_training = model.training
    handle = cam_layer(model).register_forward_pre_hook(swap_in_leaf)
    try:
        model.eval()
        # No gradient is needed through the backbone: the pooled features are a fresh leaf.
        with torch.enable_grad():
            with torch.no_grad():
                x = image.unsqueeze(0).to(clf.device, torch.float32)
            logits = model(x)
            if not captured:
                raise RuntimeError("the pooling layer was not called; cannot compute Grad-CAM")
            features = captured[-1]
            index = int(logits[0].argmax()) if target is None else int(target)
            (grad,) = torch.autograd.grad(logits[0, index], features)
    finally:
        handle.remove()
        model.train(was_training)

    with torch.no_grad():
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * features.detach()).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)
        cam = cam[0, 0].float().cpu()
        peak = float(cam.max())
        cam = cam / peak if peak > 0 else torch.zeros_like(cam)
    return cam.clamp_(0.0, 1.0).numpy().astype(np.float32)


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in ``[0, 1]`` (any shape) to uint8 RGB (shape + ``(3,)``), jet-like."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    rgb = np.stack([np.interp(v, _RAMP[:, 0], _RAMP[:, c]) for c in (1, 2, 3)], axis=-1)
    return np.round(rgb * 255.0).astype(np.uint8)


def heatmap_png(
    cam: np.ndarray, *, size: tuple[int, int] | None = None, max_alpha: float = 0.6
) -> bytes:
    """Render a CAM as an RGBA PNG to lay over the image in the viewer.

    Colour follows a jet-like ramp; alpha is ``max_alpha * cam``, so areas without evidence
    are fully transparent and the image shows through everywhere.

    Args:
        cam: ``(H, W)`` values in ``[0, 1]`` (out-of-range values are clipped; NaN counts as 0).
        size: ``(rows, columns)`` of the original image, e.g. the DICOM Rows/Columns; the map
            is resized bilinearly to it. ``None`` keeps the CAM's size.
        max_alpha: opacity of the strongest evidence, in ``[0, 1]``.

    Returns:
        PNG bytes of an 8-bit RGBA image of ``size`` (width = columns, height = rows).

    Raises:
        ValueError: ``cam`` is not 2-D, ``size`` is not positive, or ``max_alpha`` is outside
            ``[0, 1]``.
    """
    cam = np.nan_to_num(np.asarray(cam, dtype=np.float32), nan=0.0)
    if cam.ndim != 2:
        raise ValueError(f"cam must be 2-D, got shape {cam.shape}")
    if not 0.0 <= max_alpha <= 1.0:
        raise ValueError("max_alpha must be in [0, 1]")
    cam = np.clip(cam, 0.0, 1.0)
    if size is not None:
        rows, cols = int(size[0]), int(size[1])
        if rows < 1 or cols < 1:
            raise ValueError(f"size must be positive, got {size}")
        if (rows, cols) != cam.shape:
            resized = Image.fromarray(cam).resize((cols, rows), Image.Resampling.BILINEAR)
            cam = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    rgba = np.empty((*cam.shape, 4), dtype=np.uint8)
    rgba[..., :3] = colormap(cam)
    rgba[..., 3] = np.round(cam * (255.0 * max_alpha)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()
