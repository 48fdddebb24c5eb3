"""Reads of the imaging app."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pydicom
from django.conf import settings
from django.db.models import QuerySet

from .models import Instance, StoredInstance


class StoredFileError(RuntimeError):
    """A stored file is missing or no longer matches the SHA-256 recorded at ingest."""


def instance_read_bytes(*, instance: StoredInstance) -> bytes:
    """Return the stored file, verified against its SHA-256 (raises StoredFileError).

    ``instance`` is an image or a non-image object: both are stored the same way."""
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise StoredFileError(f"The stored file of {instance} is missing.") from exc
    if hashlib.sha256(data).hexdigest() != instance.sha256:
        raise StoredFileError(f"The stored file of {instance} does not match its checksum.")
    return data


def instance_read_dataset(*, instance: StoredInstance) -> pydicom.Dataset:
    """The stored file parsed, from bytes read once and verified against its SHA-256."""
    return pydicom.dcmread(io.BytesIO(instance_read_bytes(instance=instance)))


def instance_list() -> QuerySet[Instance]:
    return Instance.objects.select_related("series__study__patient")
