"""Frames for the study viewer: modality values for client-side windowing, PNGs for the rest.

Decision: the browser windows. Each frame is sent once, losslessly, as little-endian modality
values (the stored values with Rescale Slope/Intercept applied, e.g. Hounsfield units for CT),
gzip-compressed, and the viewer's JavaScript maps them through the window onto a canvas. A
window/level drag then costs no round-trip at all: at 512x512 a server-rendered PNG per drag
step costs tens of milliseconds of server time plus the network (bench/viewer_latency.py
measures both), where re-windowing in the browser is a LUT lookup per pixel. Server-rendered
8-bit PNGs (window applied here, cached on disk by every parameter that changes the pixels)
remain for thumbnails, for pages without JavaScript and for anything that just wants a picture.

Everything cached is derived from bytes whose SHA-256 was verified when they were read, and is
keyed by that SHA-256, so a cache entry can never describe a different file.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from PIL import Image
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut
from pydicom.pixels import pixel_array as decode_pixels

from medassist.ml.display import PixelDataError, dicom_to_display, display_to_png

from ..models import Instance
from ..selectors import instance_read_dataset

# Bump when what is cached changes shape, so stale entries are simply never read again.
CACHE_VERSION = "1"
THUMBNAIL_SIZE = 96
MAX_PNG_SIZE = 2048


class FrameNotFound(LookupError):
    """The requested frame number is outside the instance's frames."""


@dataclass(frozen=True)
class FramePixels:
    """One frame as modality values.

    ``gzipped`` holds ``rows * columns`` values of ``pixel_type`` (``rgb8``: 3 bytes per
    pixel, R G B) in row-major, little-endian order, gzip-compressed.
    """

    gzipped: bytes
    pixel_type: str
    rows: int
    columns: int


def _cache_dir(instance: Instance) -> Path:
    return Path(settings.MEDIA_ROOT) / "render" / "viewer" / CACHE_VERSION / instance.sha256


def _write_atomically(path: Path, data: bytes) -> None:
    # A unique temporary name, then an atomic rename: two workers rendering the same frame
    # at once both succeed and a reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _first(value: Any) -> Any:
    if isinstance(value, (list, tuple, MultiValue)):
        return value[0] if len(value) else None
    return value


def _number(value: Any) -> float | None:
    try:
        number = float(_first(value))
    except (TypeError, ValueError, IndexError):
        return None
    return number if math.isfinite(number) else None


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    return str(ds.get(keyword, "") or "").strip()


def _slice_location(ds: pydicom.Dataset) -> float | None:
    """Slice Location if present, else the position along the slice normal (PS3.3 C.7.6.2)."""
    location = _number(ds.get("SliceLocation"))
    if location is not None:
        return location
    try:
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        orientation = np.array([float(v) for v in ds.ImageOrientationPatient])
    except (AttributeError, TypeError, ValueError):
        return None
    if position.shape != (3,) or orientation.shape != (6,):
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    return round(float(position @ normal), 4)


def _attributes_from(ds: pydicom.Dataset) -> dict[str, Any]:
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    frame_time = _number(ds.get("FrameTime"))
    cine_rate = _number(ds.get("CineRate")) or _number(ds.get("RecommendedDisplayFrameRate"))
    if cine_rate is None and frame_time:
        cine_rate = round(1000.0 / frame_time, 2)
    return {
        "patient_name": _text(ds, "PatientName").replace("^", " ").strip(),
        "patient_id": _text(ds, "PatientID"),
        "study_date": _text(ds, "StudyDate"),
        "modality": _text(ds, "Modality"),
        "series_description": _text(ds, "SeriesDescription"),
        "series_number": _number(ds.get("SeriesNumber")),
        "instance_number": _number(ds.get("InstanceNumber")),
        "rows": int(ds.get("Rows", 0) or 0),
        "columns": int(ds.get("Columns", 0) or 0),
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "pixel_spacing": [float(v) for v in spacing] if spacing else None,
        "slice_thickness": _number(ds.get("SliceThickness")),
        "slice_location": _slice_location(ds),
        "window_center": _number(ds.get("WindowCenter")),
        "window_width": _number(ds.get("WindowWidth")),
        "rescale_slope": _number(ds.get("RescaleSlope")),
        "rescale_intercept": _number(ds.get("RescaleIntercept")),
        "photometric": _text(ds, "PhotometricInterpretation").upper() or "MONOCHROME2",
        "transfer_syntax": syntax.name if syntax else "",
        "transfer_syntax_uid": str(syntax) if syntax else "",
        "cine_rate": cine_rate,
    }


def instance_attributes(*, instance: Instance) -> dict[str, Any]:
    """The DICOM attributes the viewer shows beside the image, cached by the file's SHA-256.

    Raises:
        imaging.selectors.StoredFileError: the stored file is missing or damaged.
    """
    path = _cache_dir(instance) / "attributes.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        pass
    attributes = _attributes_from(instance_read_dataset(instance=instance))
    _write_atomically(path, json.dumps(attributes).encode())
    return attributes


def _check_frame(instance: Instance, frame: int) -> None:
    if not 0 <= frame < max(instance.frames, 1):
        raise FrameNotFound(
            f"This image has {instance.frames} frame(s); frame {frame + 1} does not exist."
        )


def _decode_frame(ds: pydicom.Dataset, frame: int) -> np.ndarray:
    """Decode only ``frame`` (pydicom decodes one frame of a multi-frame image on request)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise PixelDataError("This DICOM file contains no image (it has no pixel data).")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    try:
        return np.asarray(decode_pixels(ds, index=frame if n_frames > 1 else None))
    except Exception as exc:  # pydicom raises many types for undecodable data
        raise PixelDataError(
            f"The image in this DICOM file could not be decoded ({type(exc).__name__}: {exc})."
        ) from exc


def _to_wire(ds: pydicom.Dataset, arr: np.ndarray) -> tuple[np.ndarray, str]:
    """Modality values in the smallest lossless type the viewer understands."""
    if arr.ndim == 3:
        # pydicom converts YBR to RGB while decoding; colour has no modality LUT or window.
        bits = int(ds.get("BitsStored", 8) or 8)
        if arr.dtype != np.uint8:
            arr = np.round(arr.astype(np.float64) * (255.0 / float(2**bits - 1)))
        return np.ascontiguousarray(arr, dtype=np.uint8), "rgb8"
    values = np.asarray(apply_modality_lut(arr, ds))
    if values.size and np.all(np.isfinite(values)) and np.array_equal(values, np.round(values)):
        lo, hi = float(values.min()), float(values.max())
        for name, dtype in (("uint8", np.uint8), ("int16", np.int16), ("uint16", np.uint16)):
            info = np.iinfo(dtype)
            if info.min <= lo and hi <= info.max:
                return values.astype(np.dtype(dtype).newbyteorder("<")), name
    return values.astype(np.dtype("<f4")), "float32"


def instance_frame_pixels(*, instance: Instance, frame: int) -> FramePixels:
    """One frame as gzip-compressed modality values, decoded once and then cached on disk.

    Args:
        frame: zero-based frame index.

    Raises:
        FrameNotFound: ``frame`` is out of range.
        imaging.selectors.StoredFileError: the stored file is missing or damaged.
        PixelDataError: the pixel data cannot be decoded.
    """
    _check_frame(instance, frame)
    folder = _cache_dir(instance)
    for cached in folder.glob(f"frame-{frame}-*.gz"):
        _, _, shape, pixel_type = cached.name.removesuffix(".gz").split("-")
        rows, columns = (int(v) for v in shape.split("x"))
        return FramePixels(cached.read_bytes(), pixel_type, rows, columns)
    ds = instance_read_dataset(instance=instance)
    values, pixel_type = _to_wire(ds, _decode_frame(ds, frame))
    rows, columns = int(values.shape[0]), int(values.shape[1])
    # Level 1: most of the size win of gzip at a fraction of its time.
    gzipped = gzip.compress(values.tobytes(), compresslevel=1, mtime=0)
    _write_atomically(folder / f"frame-{frame}-{rows}x{columns}-{pixel_type}.gz", gzipped)
    return FramePixels(gzipped, pixel_type, rows, columns)


def _fit(img01: np.ndarray, size: int) -> np.ndarray:
    """Shrink so the longer side is at most ``size`` pixels, keeping the aspect ratio."""
    rows, columns = img01.shape
    scale = size / max(rows, columns)
    if scale >= 1.0:
        return img01
    shape = (max(1, round(columns * scale)), max(1, round(rows * scale)))
    resized = Image.fromarray(img01.astype(np.float32), mode="F").resize(
        shape, Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return np.asarray(resized)


def _key(value: float | None) -> str:
    return "file" if value is None else f"{value:g}"


def instance_frame_png(
    *,
    instance: Instance,
    frame: int = 0,
    window: tuple[float, float] | None = None,
    invert: bool = False,
    size: int = MAX_PNG_SIZE,
) -> bytes:
    """An 8-bit greyscale PNG of one frame with the window applied here, cached on disk.

    The cache key is (SHA-256, frame, window center, window width, invert, size). Without
    ``window`` the file's own window (or VOI LUT, or a min-max stretch) is used;
    MONOCHROME1 is shown with bright meaning dense, and ``invert`` flips that.

    Args:
        window: ``(center, width)`` in modality units (e.g. HU).
        size: the longer side of the PNG in pixels; the image is never enlarged.

    Raises:
        FrameNotFound, imaging.selectors.StoredFileError, PixelDataError: see
            :func:`instance_frame_pixels`.
        ValueError: the window width is not positive or ``size`` is out of range.
    """
    _check_frame(instance, frame)
    if not 1 <= size <= MAX_PNG_SIZE:
        raise ValueError(f"The image size must be between 1 and {MAX_PNG_SIZE} pixels.")
    if window is not None and not window[1] >= 1:
        raise ValueError("The window width must be at least 1.")
    center, width = window if window is not None else (None, None)
    path = _cache_dir(instance) / (
        f"png-{frame}-c{_key(center)}-w{_key(width)}-i{int(invert)}-s{size}.png"
    )
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    img01 = dicom_to_display(instance_read_dataset(instance=instance), frame=frame, window=window)
    if invert:
        img01 = 1.0 - img01
    png = display_to_png(_fit(img01, size))
    _write_atomically(path, png)
    return png


def instance_thumbnail_png(*, instance: Instance) -> bytes:
    """A small PNG of the middle frame with the file's own window, for the series list."""
    return instance_frame_png(
        instance=instance, frame=max(instance.frames, 1) // 2, size=THUMBNAIL_SIZE
    )
