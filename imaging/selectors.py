"""Reads of the imaging app."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pydicom
from django.conf import settings
from django.db.models import QuerySet

from medassist.ml.preprocess import dicom_to_display, display_to_png

from .models import Instance


class StoredFileError(RuntimeError):
    """A stored file is missing or no longer matches the SHA-256 recorded at ingest."""


def instance_read_bytes(*, instance: Instance) -> bytes:
    """Return the stored file, verified against its SHA-256 (raises StoredFileError)."""
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoredFileError(f"The stored file of {instance} is missing.") from exc
    if hashlib.sha256(data).hexdigest() != instance.sha256:
        raise StoredFileError(f"The stored file of {instance} does not match its checksum.")
    return data


def instance_read_dataset(*, instance: Instance) -> pydicom.Dataset:
    """The stored file parsed, from bytes read once and verified against its SHA-256."""
    return pydicom.dcmread(io.BytesIO(instance_read_bytes(instance=instance)))


def instance_render_png(*, instance: Instance) -> bytes:
    """An 8-bit PNG of the first frame with the file's own window, cached on disk."""
    cache = Path(settings.MEDIA_ROOT) / "render" / f"{instance.sha256}.png"
    if cache.exists():
        return cache.read_bytes()
    png = display_to_png(dicom_to_display(instance_read_dataset(instance=instance)))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    tmp.write_bytes(png)
    tmp.replace(cache)
    return png


def instance_list() -> QuerySet[Instance]:
    return Instance.objects.select_related("series__study__patient")
