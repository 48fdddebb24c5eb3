"""Writes of the imaging app: the one ingest service every path goes through."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from pydicom.errors import InvalidDicomError

from medassist.services import audit_record, patient_get_or_register

from .models import Instance, Series, Study
from .signals import instance_stored

logger = logging.getLogger(__name__)

PREAMBLE_LENGTH = 128


class IngestError(ValueError):
    """The input was refused; ``str(error)`` is a sentence a clinician can act on.

    ``status`` is the HTTP status an API answers with (400 bad input, 409 conflict, 413 too big).
    """

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IngestResult:
    instance: Instance
    created: bool


def _parse(data: bytes) -> pydicom.Dataset:
    if len(data) < PREAMBLE_LENGTH + 4 or data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] != b"DICM":
        raise IngestError(
            "This file is not a DICOM file: it lacks the 'DICM' marker of a DICOM Part 10 file."
        )
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, ValueError, KeyError, OSError) as exc:
        raise IngestError(
            f"This DICOM file could not be read (it may be truncated): {exc}"
        ) from exc
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        if not str(ds.get(keyword, "")).strip():
            raise IngestError(f"This DICOM file has no {keyword}, so it cannot be filed.")
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise IngestError("This DICOM file has no pixel data (it is not an image).")
    try:
        # Decoding proves the pixels are complete: a truncated file fails here.
        ds.pixel_array  # noqa: B018
    except Exception as exc:  # pydicom raises many types from its decoders
        raise IngestError(
            f"The image in this DICOM file could not be decoded (it may be truncated): {exc}"
        ) from exc
    return ds


def _dicom_date(value: Any) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(value), "%Y%m%d").date()
    except ValueError:
        return None


def _text(ds: pydicom.Dataset, keyword: str, limit: int) -> str:
    return str(ds.get(keyword, "") or "").strip()[:limit]


def _is_synthetic(ds: pydicom.Dataset) -> bool:
    marks = " ".join(
        _text(ds, k, 1000) for k in ("ImageComments", "StudyDescription", "SeriesDescription")
    )
    return "SYNTHETIC" in marks.upper()


def instance_ingest(
    *, data: bytes, uploaded_by: AbstractBaseUser | None = None, source: str = "upload"
) -> IngestResult:
    """Validate, store and file one DICOM Part 10 file.

    The 128-byte preamble is zeroed before storing (PS3.10 7.5), the file is stored under a
    server-generated key with its SHA-256, and the same SOP Instance UID with identical bytes
    is a no-op. Raises :class:`IngestError` (nothing stored, nothing changed) for anything it
    refuses. ``instance_stored`` is sent once the new rows are committed.
    """
    if len(data) > settings.MEDASSIST_MAX_UPLOAD_BYTES:
        raise IngestError(
            f"This file is {len(data) / 1e6:.1f} MB; the limit is "
            f"{settings.MEDASSIST_MAX_UPLOAD_BYTES / 1e6:.0f} MB.",
            status=413,
        )
    ds = _parse(data)
    # Zero the preamble: it can hold an executable header (CVE-2019-11687).
    data = b"\0" * PREAMBLE_LENGTH + data[PREAMBLE_LENGTH:]
    sha256 = hashlib.sha256(data).hexdigest()
    sop_uid = str(ds.SOPInstanceUID).strip()

    existing = Instance.objects.filter(sop_instance_uid=sop_uid).first()
    if existing is not None:
        if existing.sha256 == sha256:
            return IngestResult(instance=existing, created=False)
        raise IngestError(
            "A different image with the same SOP Instance UID is already stored; "
            "nothing was changed.",
            status=409,
        )

    key = f"dicom/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}.dcm"
    path = Path(settings.MEDIA_ROOT) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    try:
        with transaction.atomic():
            instance = _file_instance(
                ds=ds, key=key, sha256=sha256, size=len(data), by=uploaded_by, source=source
            )
            audit_record(
                actor=uploaded_by, action="instance.ingest", obj=instance, detail={"source": source}
            )
            transaction.on_commit(lambda: instance_stored.send(Instance, instance_id=instance.pk))
    except IntegrityError:
        # Another upload of the same SOP Instance UID committed first.
        path.unlink(missing_ok=True)
        winner = Instance.objects.filter(sop_instance_uid=sop_uid).first()
        if winner is not None and winner.sha256 == sha256:
            return IngestResult(instance=winner, created=False)
        raise IngestError(
            "A different image with the same SOP Instance UID is already stored; "
            "nothing was changed.",
            status=409,
        ) from None
    except Exception:
        # No orphan file when the rows could not be written.
        path.unlink(missing_ok=True)
        raise
    return IngestResult(instance=instance, created=True)


def _file_instance(
    *,
    ds: pydicom.Dataset,
    key: str,
    sha256: str,
    size: int,
    by: AbstractBaseUser | None,
    source: str,
) -> Instance:
    synthetic = _is_synthetic(ds)
    sex = _text(ds, "PatientSex", 1).upper()
    patient = patient_get_or_register(
        mrn=_text(ds, "PatientID", 64) or f"UNKNOWN-{ds.StudyInstanceUID}"[:64],
        name=_text(ds, "PatientName", 200).replace("^", " ").strip(),
        birth_date=_dicom_date(ds.get("PatientBirthDate", "")),
        sex=sex if sex in {"F", "M", "O"} else "U",
        is_synthetic=synthetic,
        actor=by,
    )
    study, _ = Study.objects.get_or_create(
        study_instance_uid=str(ds.StudyInstanceUID).strip(),
        defaults={
            "patient": patient,
            "study_date": _dicom_date(ds.get("StudyDate", "")),
            "description": _text(ds, "StudyDescription", 200),
            "accession_number": _text(ds, "AccessionNumber", 64),
            "is_synthetic": synthetic,
        },
    )
    if study.patient_id != patient.pk:
        raise IngestError(
            "This study is already filed under another patient ID; nothing was changed.",
            status=409,
        )
    series, _ = Series.objects.get_or_create(
        series_instance_uid=str(ds.SeriesInstanceUID).strip(),
        defaults={
            "study": study,
            "modality": _text(ds, "Modality", 16),
            "description": _text(ds, "SeriesDescription", 200),
            "body_part": _text(ds, "BodyPartExamined", 64),
        },
    )
    if series.study_id != study.pk:
        raise IngestError("This series is already filed under another study.", status=409)
    number = ds.get("InstanceNumber")
    instance = Instance(
        series=series,
        sop_instance_uid=str(ds.SOPInstanceUID).strip(),
        sop_class_uid=str(ds.get("SOPClassUID", "")).strip(),
        instance_number=int(number) if number not in (None, "") else None,
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=int(ds.get("NumberOfFrames", 1) or 1),
        storage_key=key,
        sha256=sha256,
        size_bytes=size,
        source=source,
        uploaded_by=by if by is not None and by.is_authenticated else None,
    )
    instance.full_clean()
    instance.save()
    return instance
