"""The size limits of ingest: settings, read at each call (documented in docs/ingest.md).

Each bounds what one file, one archive or one request may cost in memory, disk or decoding
time before it is refused.
"""

from __future__ import annotations

from django.conf import settings

# Bytes inflated per step by every bounded inflate (a Deflated dataset, a .zip member): the
# most that is ever held beyond a limit before the input is refused.
INFLATE_CHUNK = 1 << 20


def max_upload_bytes() -> int:
    """Largest single DICOM file accepted, in bytes (MEDASSIST_MAX_UPLOAD_BYTES)."""
    return int(settings.MEDASSIST_MAX_UPLOAD_BYTES)


def max_pixels() -> int:
    """Largest Rows x Columns x Frames x SamplesPerPixel accepted (MEDASSIST_MAX_PIXELS)."""
    return int(settings.MEDASSIST_MAX_PIXELS)


def max_inflated_bytes() -> int:
    """Largest inflated dataset of a Deflated file, in bytes (MEDASSIST_MAX_INFLATED_BYTES)."""
    return int(settings.MEDASSIST_MAX_INFLATED_BYTES)


def max_bulk_request_bytes() -> int:
    """Largest bulk-upload request body, in bytes (MEDASSIST_MAX_BULK_REQUEST_BYTES)."""
    return int(settings.MEDASSIST_MAX_BULK_REQUEST_BYTES)


def max_zip_members() -> int:
    """Most files one .zip may hold (MEDASSIST_MAX_ZIP_MEMBERS)."""
    return int(settings.MEDASSIST_MAX_ZIP_MEMBERS)


def max_zip_uncompressed_bytes() -> int:
    """Most bytes one .zip may unpack to (MEDASSIST_MAX_ZIP_UNCOMPRESSED_BYTES)."""
    return int(settings.MEDASSIST_MAX_ZIP_UNCOMPRESSED_BYTES)


def megabytes(n: int) -> str:
    """``n`` bytes as a refusal message states a limit or a size: "25 MB", "0.5 MB"."""
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"
