"""DICOM pixel data -> a grey display image, with numpy and Pillow only.

:func:`dicom_to_display` turns one frame of a dataset into a float32 ``(H, W)`` array in
``[0, 1]`` where bright always means dense (modality LUT, then VOI LUT or window, then
MONOCHROME1 inversion); :func:`display_to_png` encodes it for the viewer. The model reads the
same array (:func:`medassist.ml.preprocess.dicom_to_tensor`), so the doctor and the model see
the same pixels, and a change to what this module computes must bump
:data:`medassist.ml.preprocess.PREPROCESS_VERSION`.

This module imports no torch: the web process renders images with it and stays free of the
tensor libraries (``tests/core/test_lazy_ml_imports.py``).
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
from PIL import Image
from pydicom.pixels import apply_modality_lut, apply_voi_lut

# ITU-R BT.601 luma weights: the usual choice for turning RGB medical captures into grey.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)

_GREY = ("MONOCHROME1", "MONOCHROME2")


class PixelDataError(ValueError):
    """The dataset has no image in it, or its image could not be decoded."""


def _native_grey(ds: pydicom.Dataset) -> np.ndarray | None:
    """The pixels of a plain single-frame grey image, read straight from its bytes.

    Most files a hospital sends are uncompressed little-endian grey images of one frame;
    for those this gives exactly what pydicom's ``pixel_array`` gives (unused high bits
    corrected as PS3.5 8.1.1 says, as pydicom does) at a small fraction of its cost, which
    matters when a worker decodes hundreds of images a second. Anything else (compressed,
    big-endian, colour, palette, multi-frame, odd bit depths, short data) returns ``None``
    and goes through pydicom.
    """
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is None or syntax.is_encapsulated or not syntax.is_little_endian:
        return None
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        allocated, stored = int(ds.BitsAllocated), int(ds.BitsStored)
        signed = int(ds.PixelRepresentation)
        if (
            int(ds.get("SamplesPerPixel", 1) or 1) != 1
            or int(ds.get("NumberOfFrames", 1) or 1) != 1
            or str(ds.get("PhotometricInterpretation", "")).upper() not in _GREY
            or allocated not in (8, 16, 32)
            or not 1 <= stored <= allocated
            or signed not in (0, 1)
            or rows < 1
            or columns < 1
        ):
            return None
        data = ds.PixelData
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    count = rows * columns
    if not isinstance(data, bytes) or len(data) < count * allocated // 8:
        return None  # let pydicom word the error
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    arr = np.frombuffer(data, dtype=dtype, count=count).reshape(rows, columns)
    if stored < allocated:
        shift = allocated - stored
        arr = np.right_shift(np.left_shift(arr, shift), shift)
    return arr


def _decode(ds: pydicom.Dataset) -> np.ndarray:
    """Return the decoded pixel array of ``ds`` or raise :class:`PixelDataError`."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDataError("This DICOM file contains no image (it has no pixel data).")
    fast = _native_grey(ds)
    if fast is not None:
        return fast
    try:
        return np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises many types for undecodable data
        raise PixelDataError(
            f"The image in this DICOM file could not be decoded ({type(exc).__name__}: {exc})."
        ) from exc


def _frame(arr: np.ndarray, ds: pydicom.Dataset, frame: int) -> np.ndarray:
    """Pick frame ``frame`` out of a decoded array; single-frame arrays are ``(H, W[, 3])``."""
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    multi = n_frames > 1 or arr.ndim == (4 if samples > 1 else 3)
    if not multi:
        if frame != 0:
            raise IndexError(f"frame {frame} requested but the image has only 1 frame")
        return arr
    if not 0 <= frame < arr.shape[0]:
        raise IndexError(f"frame {frame} requested but the image has {arr.shape[0]} frames")
    return arr[frame]


def _first(value: object) -> float:
    """WindowCenter/WindowWidth may be multi-valued; the first value is the default view."""
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return float(value[0])
    return float(value)  # type: ignore[arg-type]


def _window(arr: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """Map modality values to ``[0, 1]`` with a DICOM PS3.3 C.11.2.1.2 window.

    Raises:
        ValueError: the width is not positive (or below 1 for ``LINEAR``), or the VOI LUT
            function is unknown.
    """
    function = function.upper()
    if function == "SIGMOID":
        if width <= 0:
            raise ValueError("window width must be greater than 0")
        return (1.0 / (1.0 + np.exp(-4.0 * (arr - center) / width))).astype(arr.dtype)
    if function == "LINEAR":
        if width < 1:
            raise ValueError("window width must be at least 1 for a LINEAR window")
        # The standard's LINEAR function is defined on integer-centred bins.
        center, width = center - 0.5, width - 1.0
        if width == 0:
            return (arr > center).astype(arr.dtype)
    elif function == "LINEAR_EXACT":
        if width <= 0:
            raise ValueError("window width must be greater than 0")
    else:
        raise ValueError(f"unsupported VOI LUT function {function!r}")
    out = arr - np.float32(center)
    out *= np.float32(1.0 / width)
    out += np.float32(0.5)
    return np.clip(out, 0.0, 1.0, out=out)


def _min_max(arr: np.ndarray) -> np.ndarray:
    """Stretch to ``[0, 1]``; a constant image becomes all zeros rather than NaN."""
    lo, hi = float(np.min(arr)), float(np.max(arr))
    if hi <= lo:
        return np.zeros_like(arr, dtype=np.float64)
    return (arr - lo) / (hi - lo)


def _modality_values(arr: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    """Stored values -> modality units (e.g. HU) as float32 (PS3.3 C.11.1).

    A rescale is done in float32 directly (pydicom's ``apply_modality_lut`` works in
    float64, which costs a float64 copy of the image and gives the same float32 values to
    within a rounding); a Modality LUT Sequence goes through pydicom.
    """
    if ds.get("ModalityLUTSequence"):
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    values = arr.astype(np.float32)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        if slope != 1.0:
            values *= np.float32(slope)
        if intercept != 0.0:
            values += np.float32(intercept)
    return values


def dicom_to_display(
    ds: pydicom.Dataset,
    *,
    frame: int = 0,
    window: tuple[float, float] | None = None,
) -> np.ndarray:
    """Render one frame of ``ds`` as a grey image ready to view or to feed to a model.

    Steps: the modality LUT (Rescale Slope/Intercept or a Modality LUT Sequence) turns stored
    values into modality units (e.g. HU); then ``window`` if given, else the file's own
    Window Center/Width (first view) or VOI LUT Sequence, else a min-max stretch over the frame;
    then MONOCHROME1 images are inverted so that bright always means dense. Colour images
    (RGB, YBR_*) are converted to luminance and scaled by their bit depth; windows do not
    apply to them.

    Args:
        ds: a dataset with pixel data (it is not modified).
        frame: zero-based frame index for multi-frame images.
        window: ``(center, width)`` in modality units, overriding the file's window.

    Returns:
        float32 array of shape ``(Rows, Columns)`` with values in ``[0, 1]``.

    Raises:
        PixelDataError: no pixel data, or it cannot be decoded.
        IndexError: ``frame`` is out of range.
        ValueError: the window width is invalid.
    """
    arr = _frame(_decode(ds), ds, frame)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()

    if arr.ndim == 3:
        # pydicom already converts YBR to RGB when decoding, so luminance is enough here.
        bits = int(ds.get("BitsStored", 8) or 8)
        grey = (arr.astype(np.float64) @ _LUMA) / float(2**bits - 1)
        return np.clip(grey, 0.0, 1.0).astype(np.float32)
    if arr.ndim != 2:
        raise PixelDataError(f"Unexpected image shape {arr.shape} for a single frame.")

    # float32 halves the memory traffic of the window arithmetic; its 24-bit mantissa holds
    # every 16-bit stored value and rescaled HU exactly enough for an 8-bit display or model.
    values = _modality_values(arr, ds)
    if window is not None:
        out = _window(values, float(window[0]), float(window[1]), "LINEAR")
    elif photometric in _GREY and "WindowCenter" in ds and "WindowWidth" in ds:
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR")
        out = _window(values, _first(ds.WindowCenter), _first(ds.WindowWidth), function)
    elif photometric in _GREY and ds.get("VOILUTSequence"):
        # A VOI LUT's output range is given by its descriptor; a min-max of the result is the
        # simplest faithful normalisation and keeps the LUT's shape.
        out = _min_max(np.asarray(apply_voi_lut(values, ds, prefer_lut=True), dtype=np.float64))
    else:
        out = _min_max(values)

    if photometric == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32, copy=False)


def display_to_png(img01: np.ndarray) -> bytes:
    """Encode a ``(H, W)`` image in ``[0, 1]`` as 8-bit greyscale PNG bytes.

    Values outside ``[0, 1]`` are clipped.

    Raises:
        ValueError: ``img01`` is not 2-D.
    """
    if img01.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {img01.shape}")
    u8 = np.round(np.clip(img01, 0.0, 1.0) * 255.0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="PNG")
    return buf.getvalue()
