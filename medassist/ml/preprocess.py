"""Display image -> model input: the tensor side of preprocessing.

The pipeline is split so that the viewer and the model see the same pixels:

1. :func:`medassist.ml.display.dicom_to_display` turns one frame of a dataset into a float32
   ``(H, W)`` array in ``[0, 1]`` where bright always means dense (numpy only: the viewer
   uses it too).
2. :func:`resize` makes it square at the model's resolution.
3. :func:`to_model_input` replicates the grey channel three times and applies the ImageNet
   normalisation the pretrained backbone expects.

Any change to what these functions, or :mod:`medassist.ml.display`, compute must bump
:data:`PREPROCESS_VERSION`, because a checkpoint is only valid for the preprocessing it was
trained with.
"""

from __future__ import annotations

import numpy as np
import pydicom
import torch
import torch.nn.functional as F

from medassist.ml.display import dicom_to_display

PREPROCESS_VERSION = "1"

# ImageNet statistics, in RGB order, that the EfficientNet-Lite0 weights were trained with.
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float32)[:, None, None]
_STD = torch.tensor(IMAGENET_STD, dtype=torch.float32)[:, None, None]


def resize(img: np.ndarray, size: int) -> np.ndarray:
    """Resize a 2-D image to ``(size, size)`` with antialiased bilinear interpolation.

    The aspect ratio is not preserved: non-square images are stretched, which keeps every
    pixel of the field of view in the model's input.

    Raises:
        ValueError: ``img`` is not 2-D or ``size`` is not positive.
    """
    if img.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img.shape}")
    if size <= 0:
        raise ValueError("size must be positive")
    t = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
    out = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out[0, 0].numpy()


def to_model_input(img01: np.ndarray) -> torch.Tensor:
    """Turn a grey ``(H, W)`` image in ``[0, 1]`` into a normalised ``(3, H, W)`` float32 tensor.

    The grey channel is replicated into R, G and B, then each channel is normalised with the
    ImageNet mean and standard deviation.

    Raises:
        ValueError: ``img01`` is not 2-D.
    """
    if img01.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img01.shape}")
    t = torch.from_numpy(np.ascontiguousarray(img01, dtype=np.float32))
    return (t[None].expand(3, -1, -1) - _MEAN) / _STD


def dicom_to_tensor(ds: pydicom.Dataset, *, size: int) -> torch.Tensor:
    """Frame 0 of ``ds`` as a model input: float32 tensor of shape ``(3, size, size)``.

    Raises:
        medassist.ml.display.PixelDataError: see :func:`dicom_to_display`.
    """
    return to_model_input(resize(dicom_to_display(ds), size))
