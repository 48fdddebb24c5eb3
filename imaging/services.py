"""Writes of the imaging app: the one ingest service every path goes through.

Every DICOM file — browser upload, bulk upload, REST API, DICOMweb STOW-RS, C-STORE — passes
through :func:`instance_ingest`. It refuses what it cannot keep safely (with an
:class:`IngestError` that says why, in words and as a short machine code), never loses what it
accepted, and never overwrites a stored image. The limits are settings (see docs/ingest.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import re
import uuid
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import pydicom
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pydicom.dataelem import RawDataElement
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from medassist.services import audit_record, patient_get_or_register

from .models import IngestConflict, Instance, Series, Study
from .signals import instance_stored

logger = logging.getLogger(__name__)

PREAMBLE_LENGTH = 128
# A (0002,eeee) element header plus the 'DICM' marker: nothing shorter can be Part 10.
_MIN_PART10_BYTES = PREAMBLE_LENGTH + 4 + 8
_UNDEFINED_LENGTH = 0xFFFFFFFF
_INFLATE_CHUNK = 1 << 20
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Characters PostgreSQL text cannot hold (NUL) or that only confuse a reader (controls).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# What an executable header looks like at the start of the preamble (PS3.10 7.5 lets it hold
# anything, which is how a DICOM file can also be a runnable program: CVE-2019-11687).
_EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows PE"),
    (b"\x7fELF", "ELF"),
    (b"\xfe\xed\xfa\xce", "Mach-O"),
    (b"\xfe\xed\xfa\xcf", "Mach-O"),
    (b"\xce\xfa\xed\xfe", "Mach-O"),
    (b"\xcf\xfa\xed\xfe", "Mach-O"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal"),
)

# --- Limits (settings; documented in docs/ingest.md) -------------------------------------


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


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e6:.1f} MB"


# --- Errors and results ------------------------------------------------------------------


class IngestError(ValueError):
    """The input was refused; ``str(error)`` is a sentence a clinician or IT admin can act on.

    ``status`` is the HTTP status an API answers with; ``code`` is a short machine code that
    STOW-RS and the C-STORE SCP map to DICOM failure statuses:

    ==============================  ======  ===================================================
    code                            status  meaning
    ==============================  ======  ===================================================
    ``not_dicom``                   400     no Part 10 'DICM' marker, or not parseable as DICOM
    ``truncated``                   400     the file ends before its elements/pixels do
    ``corrupt``                     400     a header value cannot be understood (bad VR/length)
    ``missing_uid``                 400     no SOP Instance/Study/Series UID
    ``invalid_uid``                 400     a UID that is not digits and dots, or > 64 chars
    ``no_pixel_data``               400     no image in the file (e.g. a report or DICOMDIR)
    ``too_large``                   413     file size or Rows x Columns x Frames x Samples
                                            over the limit
    ``bomb``                        413     a Deflated file inflating past the limit
    ``unsupported_transfer_syntax`` 415     no decoder for the file's transfer syntax
    ``undecodable``                 422     a decoder exists but cannot decode this image
    ``conflict``                    409     same SOP Instance UID, different bytes: the new
                                            file is kept aside for an administrator
    ``hierarchy_conflict``          409     the study/series is filed under another
                                            patient/study
    ``invalid``                     400     the default for a refusal with no finer code
    ==============================  ======  ===================================================
    """

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class IngestResult:
    """What :func:`instance_ingest` did: ``created`` (new rows) or ``duplicate`` (a no-op)."""

    instance: Instance
    created: bool
    duplicate: bool = False
    # "Windows PE", "ELF", ... when the original preamble held an executable header (zeroed).
    preamble_executable: str = ""


# --- Parsing -----------------------------------------------------------------------------


def _executable_kind(preamble: bytes) -> str:
    for magic, kind in _EXECUTABLE_MAGIC:
        if preamble.startswith(magic):
            return kind
    return ""


def _syntax_name(uid: str) -> str:
    name = UID(uid).name
    return f"{name} ({uid})" if name and name != uid else uid


def _read_meta(data: bytes) -> tuple[pydicom.Dataset, int]:
    """Return the File Meta group and the offset where the dataset starts."""
    fp = io.BytesIO(data)
    try:
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
        # Converting every element now surfaces a bogus VR or length as a refusal here.
        for elem in meta:
            _ = elem.value
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file's header (file meta information) could not be read: {exc}",
            code="not_dicom",
        ) from exc
    return meta, fp.tell()


def _check_inflated_size(data: bytes, offset: int) -> int:
    """Inflate a Deflated dataset in bounded chunks; refuse it as soon as it passes the limit.

    Nothing bigger than one chunk over the limit is ever held, so a deflate bomb (kilobytes
    that inflate to gigabytes) costs at most the limit in time and memory. Returns the size.
    """
    limit = max_inflated_bytes()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = memoryview(data)[offset:]
    total = 0
    try:
        while True:
            out = inflater.decompress(pending, _INFLATE_CHUNK)
            total += len(out)
            if total > limit:
                raise IngestError(
                    "This Deflated DICOM file inflates to more than "
                    f"{_mb(limit)} (the limit); it was refused unread, as a possible "
                    "decompression bomb.",
                    status=413,
                    code="bomb",
                )
            pending = memoryview(inflater.unconsumed_tail)
            if inflater.eof or (not out and not pending):
                break
    except zlib.error as exc:
        raise IngestError(
            f"This Deflated DICOM file could not be inflated (it may be truncated): {exc}",
            code="truncated",
        ) from exc
    return total


def _check_complete(ds: pydicom.Dataset, stream_length: int) -> None:
    """Refuse a dataset whose last elements claim more bytes than the file holds.

    pydicom reads a short final value without complaint, so a cut-off file would otherwise
    look complete up to the cut.
    """
    # Dataset.elements() would convert each value (and raise on a bogus VR) before we look;
    # the raw elements keep where their value starts in the stream.
    for elem in list(ds._dict.values()):
        if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED_LENGTH:
            continue
        if elem.value_tell + elem.length > stream_length:
            raise IngestError(
                f"This DICOM file is truncated: element {elem.tag} needs {elem.length} bytes "
                f"but the file ends {stream_length - elem.value_tell} bytes into it.",
                code="truncated",
            )


def _read_dataset(data: bytes, *, stop_before_pixels: bool) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
    except MemoryError:
        raise
    except EOFError as exc:
        raise IngestError(
            f"This DICOM file could not be read (it is truncated): {exc}", code="truncated"
        ) from exc
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file could not be read (it may be truncated or damaged): {exc}",
            code="not_dicom",
        ) from exc


def _uid(ds: pydicom.Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "") or "").strip().rstrip("\0").strip()
    if not value:
        raise IngestError(
            f"This DICOM file has no {keyword}, so it cannot be filed.", code="missing_uid"
        )
    if len(value) > 64 or not _UID_RE.match(value):
        raise IngestError(
            f"This DICOM file's {keyword} is not a valid UID (digits and dots, at most 64 "
            "characters), so it cannot be filed.",
            code="invalid_uid",
        )
    return value


@dataclass(frozen=True)
class _Header:
    """The values ingest needs, read and checked before any pixel data is decoded."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    rows: int
    columns: int
    frames: int
    samples: int
    instance_number: int | None


def _positive(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword)
    if value in (None, ""):
        if default is None:
            raise KeyError(keyword)
        return default
    number = int(value)  # type: ignore[arg-type]
    if number < 1:
        raise ValueError(f"{keyword} is {number}")
    return number


def _read_header(ds: pydicom.Dataset, transfer_syntax: str) -> _Header:
    uids = {k: _uid(ds, k) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")}
    try:
        sop_class = str(ds.get("SOPClassUID", "") or "").strip()[:64]
        rows = _positive(ds, "Rows")
        columns = _positive(ds, "Columns")
        frames = _positive(ds, "NumberOfFrames", default=1)
        samples = _positive(ds, "SamplesPerPixel", default=1)
        number = ds.get("InstanceNumber")
        instance_number = int(number) if number not in (None, "") else None
    except MemoryError:
        raise
    except KeyError as exc:
        raise IngestError(
            "This DICOM file has no pixel data (it is not an image): it gives no Rows and Columns.",
            code="no_pixel_data",
        ) from exc
    except Exception as exc:  # bogus VRs/lengths surface as many types when converted
        raise IngestError(
            f"This DICOM file's image header is not valid: {exc}", code="corrupt"
        ) from exc
    return _Header(
        sop_instance_uid=uids["SOPInstanceUID"],
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
        sop_class_uid=_CONTROL_RE.sub("", sop_class),
        transfer_syntax=transfer_syntax,
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        instance_number=instance_number,
    )


def _check_pixel_count(header: _Header) -> None:
    limit = max_pixels()
    count = header.rows * header.columns * header.frames * header.samples
    if count > limit:
        raise IngestError(
            f"This image is {header.columns} x {header.rows} pixels x {header.frames} frame(s) "
            f"x {header.samples} sample(s) = {count:,} values; the limit is {limit:,}. "
            "It was refused before decoding.",
            status=413,
            code="too_large",
        )


def _check_decodes(ds: pydicom.Dataset, header: _Header) -> None:
    """Decode every frame once (one at a time, so memory stays at one frame)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise IngestError(
            "This DICOM file has no pixel data (it is not an image).", code="no_pixel_data"
        )
    syntax = header.transfer_syntax
    try:
        decoder = get_decoder(UID(syntax))
        available = decoder.is_available
    except NotImplementedError:
        available = False
    if not available:
        raise IngestError(
            f"Images in the transfer syntax {_syntax_name(syntax)} cannot be decoded here. "
            "Ask the sender to send it uncompressed (Explicit VR Little Endian) or as JPEG "
            "2000 / JPEG-LS; docs/ingest.md lists what is supported.",
            status=415,
            code="unsupported_transfer_syntax",
        )
    try:
        decoded = sum(1 for _frame in iter_pixels(ds))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:
        # Every decoder plugin raises its own types, and the Rust ones (pylibjpeg-rle) panic
        # on hostile input with pyo3's PanicException, which derives from BaseException.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        if UID(syntax).is_compressed:
            raise IngestError(
                f"The image in this DICOM file ({_syntax_name(syntax)}) could not be decoded; "
                f"it may be truncated, damaged, or a variant no installed decoder reads: {exc}",
                status=422,
                code="undecodable",
            ) from exc
        raise IngestError(
            f"The image in this DICOM file could not be decoded (it may be truncated): {exc}",
            code="truncated",
        ) from exc
    if decoded != header.frames:
        # An encapsulated image with fewer fragments than frames decodes "successfully" frame
        # by frame, then fails in whichever reader asks for the whole array.
        raise IngestError(
            f"This DICOM file says it has {header.frames} frame(s) but holds {decoded}; it may "
            "be truncated.",
            code="truncated",
        )


def _convert_all(ds: pydicom.Dataset) -> None:
    """Convert every element (sequences included) now, so a bogus VR or length is a refusal
    here rather than an error later in whichever page first reads that element."""

    def convert(dataset: pydicom.Dataset, elem: pydicom.DataElement) -> None:
        _ = elem.value

    try:
        ds.walk(convert)
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file's header holds a value that cannot be read: {exc}", code="corrupt"
        ) from exc


def _parse_header(data: bytes) -> tuple[_Header, pydicom.Dataset, int]:
    """Check everything that can be checked without decoding pixels.

    Returns the checked header values, the dataset without its pixel data (every element
    already converted, so reading one cannot fail) and the length element positions count in.
    """
    if len(data) < _MIN_PART10_BYTES or data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] != b"DICM":
        raise IngestError(
            "This file is not a DICOM file: it lacks the 'DICM' marker of a DICOM Part 10 file.",
            code="not_dicom",
        )
    meta, offset = _read_meta(data)
    syntax = str(meta.get("TransferSyntaxUID", "") or "").strip().rstrip("\0")
    if not syntax or not _UID_RE.match(syntax) or len(syntax) > 64:
        raise IngestError(
            "This DICOM file does not say how it is encoded (no valid Transfer Syntax UID "
            "in its file meta information).",
            code="not_dicom",
        )
    # Element positions count from the start of the file, or of the inflated dataset.
    stream_length = len(data)
    if syntax == DeflatedExplicitVRLittleEndian:
        # pydicom inflates the whole dataset at once; prove it is bounded before it may.
        stream_length = _check_inflated_size(data, offset)
    head = _read_dataset(data, stop_before_pixels=True)
    _check_complete(head, stream_length)
    _convert_all(head)
    header = _read_header(head, syntax)
    _check_pixel_count(header)
    return header, head, stream_length


def _parse_pixels(data: bytes, header: _Header, stream_length: int) -> None:
    ds = _read_dataset(data, stop_before_pixels=False)
    _check_complete(ds, stream_length)
    _check_decodes(ds, header)


def _dicom_date(value: Any) -> dt.date | None:
    try:
        return dt.datetime.strptime(str(value), "%Y%m%d").date()
    except (ValueError, TypeError):
        return None


def _text(ds: pydicom.Dataset, keyword: str, limit: int) -> str:
    try:
        value = str(ds.get(keyword, "") or "")
    except Exception:  # a damaged optional text value is dropped, not fatal
        return ""
    value = value.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL_RE.sub("", value).strip()[:limit]


def _is_synthetic(ds: pydicom.Dataset) -> bool:
    marks = " ".join(
        _text(ds, k, 1000) for k in ("ImageComments", "StudyDescription", "SeriesDescription")
    )
    return "SYNTHETIC" in marks.upper()


# --- Storage -----------------------------------------------------------------------------


def _write_atomically(data: bytes, folder: str) -> tuple[str, Path]:
    """Write ``data`` under a new server-generated key; return (key, path).

    The bytes go to a temporary name in the same folder, are flushed to disk, then renamed:
    a reader (or a crash) sees the whole file or none of it.
    """
    name = uuid.uuid4().hex
    key = f"{folder}/{name[:2]}/{name}.dcm"
    path = Path(settings.MEDIA_ROOT) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.tmp")
    try:
        with tmp.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return key, path


def _conflict_keep(
    *,
    data: bytes,
    sha256: str,
    existing: Instance,
    by: AbstractBaseUser | None,
    source: str,
    executable: str,
) -> IngestError:
    """Keep a different file with a stored SOP Instance UID aside; return the error to raise.

    The stored instance is never touched. The same conflicting bytes sent twice are kept once.
    """
    uid = existing.sop_instance_uid
    message = (
        "A different image with the same SOP Instance UID is already stored; nothing was "
        "changed. The new file was kept aside for an administrator to review."
    )
    error = IngestError(message, status=409, code="conflict")
    if IngestConflict.objects.filter(
        sop_instance_uid=uid, sha256=sha256, resolved_at__isnull=True
    ).exists():
        return error
    key, path = _write_atomically(data, "conflicts")
    try:
        with transaction.atomic():
            conflict = IngestConflict.objects.create(
                sop_instance_uid=uid,
                existing_instance=existing,
                storage_key=key,
                sha256=sha256,
                size_bytes=len(data),
                source=source[:32],
                received_by=by if by is not None and by.is_authenticated else None,
            )
            audit_record(
                actor=by,
                action="ingest.conflict",
                obj=conflict,
                detail={
                    "sop_instance_uid": uid,
                    "existing_instance_id": existing.pk,
                    "existing_sha256": existing.sha256,
                    "sha256": sha256,
                    "source": source,
                    "preamble_executable": executable,
                },
            )
    except IntegrityError:
        # The same conflicting bytes arrived twice at once; the other copy is kept.
        path.unlink(missing_ok=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.warning("Ingest conflict on SOP Instance UID %s kept aside as %s", uid, key)
    return error


def _audit_executable(
    *, kind: str, instance: Instance, by: AbstractBaseUser | None, source: str
) -> None:
    if kind:
        audit_record(
            actor=by,
            action="ingest.preamble_executable",
            obj=instance,
            detail={"kind": kind, "source": source, "preamble": "zeroed before storing"},
        )


def instance_ingest(
    *, data: bytes, uploaded_by: AbstractBaseUser | None = None, source: str = "upload"
) -> IngestResult:
    """Validate, store and file one DICOM Part 10 file.

    Order of checks, cheapest first and nothing decoded before it is known to be bounded:
    file size (``MEDASSIST_MAX_UPLOAD_BYTES``) -> 'DICM' marker -> file meta -> for Deflated
    files a chunked, bounded inflate (``MEDASSIST_MAX_INFLATED_BYTES``) -> header read without
    pixel data -> UIDs -> Rows x Columns x Frames x SamplesPerPixel (``MEDASSIST_MAX_PIXELS``)
    -> identical-duplicate check -> decoder for the transfer syntax -> every frame decoded.

    The 128-byte preamble is zeroed before storing (PS3.10 7.5); if it held an executable
    header an ``ingest.preamble_executable`` audit event is written and the zeroed file is
    still stored. The file is written atomically under a server-generated key with its
    SHA-256; if the rows cannot be written the file is removed, so neither an orphan file nor
    a half-filed instance remains. The same SOP Instance UID with identical bytes is a no-op
    (``duplicate=True``); with different bytes the new file is kept aside as an
    :class:`~imaging.models.IngestConflict` for an administrator and ``IngestError(409,
    "conflict")`` is raised. ``instance_stored`` is sent once the new rows are committed.

    Raises:
        IngestError: refused input (see its docstring for ``code`` and ``status``); nothing
            was stored except, for ``code="conflict"``, the kept-aside copy.
    """
    limit = max_upload_bytes()
    if len(data) > limit:
        raise IngestError(
            f"This file is {len(data) / 1e6:.1f} MB; the limit is {_mb(limit)}.",
            status=413,
            code="too_large",
        )
    header, head, stream_length = _parse_header(data)
    executable = _executable_kind(data[:PREAMBLE_LENGTH])
    # Zero the preamble: it can hold an executable header (CVE-2019-11687).
    data = b"\0" * PREAMBLE_LENGTH + data[PREAMBLE_LENGTH:]
    sha256 = hashlib.sha256(data).hexdigest()

    existing = Instance.objects.filter(sop_instance_uid=header.sop_instance_uid).first()
    if existing is not None and existing.sha256 == sha256:
        # The stored copy was decoded when it arrived; the same bytes need no second look.
        _audit_executable(kind=executable, instance=existing, by=uploaded_by, source=source)
        return IngestResult(
            instance=existing, created=False, duplicate=True, preamble_executable=executable
        )

    _parse_pixels(data, header, stream_length)
    if existing is not None:
        raise _conflict_keep(
            data=data,
            sha256=sha256,
            existing=existing,
            by=uploaded_by,
            source=source,
            executable=executable,
        )

    key, path = _write_atomically(data, "dicom")
    # Set by the first on-commit callback: from then on the rows point at the file, so
    # nothing below may delete it, whatever the later callbacks (the broker, the cache) raise.
    committed: list[bool] = []
    commit_tried = False
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))
            instance = _file_instance(
                ds=head,
                header=header,
                key=key,
                sha256=sha256,
                size=len(data),
                by=uploaded_by,
                source=source,
            )
            audit_record(
                actor=uploaded_by,
                action="instance.ingest",
                obj=instance,
                detail={"source": source},
            )
            _audit_executable(kind=executable, instance=instance, by=uploaded_by, source=source)
            # Robust: what listeners start (stability checks, inference) is recorded in rows a
            # sweep finds again; a broker or cache outage is logged, never the uploader's 500.
            transaction.on_commit(
                lambda: instance_stored.send(Instance, instance_id=instance.pk), robust=True
            )
            commit_tried = True
    except IntegrityError:
        # Another upload of the same SOP Instance UID committed first.
        path.unlink(missing_ok=True)
        winner = Instance.objects.filter(sop_instance_uid=header.sop_instance_uid).first()
        if winner is None:
            raise
        if winner.sha256 == sha256:
            return IngestResult(
                instance=winner, created=False, duplicate=True, preamble_executable=executable
            )
        raise _conflict_keep(
            data=data,
            sha256=sha256,
            existing=winner,
            by=uploaded_by,
            source=source,
            executable=executable,
        ) from None
    except BaseException:
        # No orphan file when the rows could not be written (the transaction rolled back). A
        # file whose rows committed is never deleted: the archive's copy is the only one.
        if not commit_tried:
            path.unlink(missing_ok=True)
        elif not committed:
            # The COMMIT itself failed (a dropped connection): the server may have committed
            # the rows anyway. An orphan file is harmless; a row without its file is a lost image.
            logger.error(
                "Commit of instance %s failed with an unknown outcome; its file %s is kept.",
                header.sop_instance_uid,
                key,
            )
        raise
    return IngestResult(instance=instance, created=True, preamble_executable=executable)


def _file_instance(
    *,
    ds: pydicom.Dataset,
    header: _Header,
    key: str,
    sha256: str,
    size: int,
    by: AbstractBaseUser | None,
    source: str,
) -> Instance:
    synthetic = _is_synthetic(ds)
    sex = _text(ds, "PatientSex", 1).upper()
    patient = patient_get_or_register(
        mrn=_text(ds, "PatientID", 64) or f"UNKNOWN-{header.study_instance_uid}"[:64],
        name=_text(ds, "PatientName", 200).replace("^", " ").strip(),
        birth_date=_dicom_date(ds.get("PatientBirthDate", "")),
        sex=sex if sex in {"F", "M", "O"} else "U",
        is_synthetic=synthetic,
        actor=by,
    )
    study, _ = Study.objects.get_or_create(
        study_instance_uid=header.study_instance_uid,
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
            code="hierarchy_conflict",
        )
    series, _ = Series.objects.get_or_create(
        series_instance_uid=header.series_instance_uid,
        defaults={
            "study": study,
            "modality": _text(ds, "Modality", 16),
            "description": _text(ds, "SeriesDescription", 200),
            "body_part": _text(ds, "BodyPartExamined", 64),
        },
    )
    if series.study_id != study.pk:
        raise IngestError(
            "This series is already filed under another study; nothing was changed.",
            status=409,
            code="hierarchy_conflict",
        )
    instance = Instance(
        series=series,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        instance_number=header.instance_number,
        rows=header.rows,
        columns=header.columns,
        frames=header.frames,
        storage_key=key,
        sha256=sha256,
        size_bytes=size,
        source=source[:32],
        uploaded_by=by if by is not None and by.is_authenticated else None,
    )
    try:
        # Uniqueness is the database's job (its constraint and the IntegrityError handling
        # above); asking it here again would cost two queries per instance.
        instance.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise IngestError(
            f"This DICOM file's header holds values that cannot be filed: {exc.messages}",
            code="corrupt",
        ) from exc
    instance.save()
    return instance


# --- Bulk upload -------------------------------------------------------------------------


class Upload(Protocol):
    """A file as Django's UploadedFile presents it."""

    name: str | None
    size: int | None

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...


Outcome = Literal["stored", "duplicate", "rejected"]


@dataclass(frozen=True)
class BulkItem:
    """One file of a bulk upload and what became of it."""

    name: str
    outcome: Outcome
    reason: str = ""
    code: str = ""
    instance_id: int | None = None
    study_instance_uid: str = ""


@dataclass(frozen=True)
class BulkStudy:
    """A study that received files in a bulk upload; ``first_instance_id`` opens its case."""

    study_instance_uid: str
    description: str
    patient: str
    first_instance_id: int
    images: int


@dataclass
class BulkIngestSummary:
    """What became of each file of a bulk upload, in the order they were sent."""

    items: list[BulkItem] = field(default_factory=list)
    studies: list[BulkStudy] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def stored(self) -> int:
        return self.count("stored")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def rejected(self) -> int:
        return self.count("rejected")

    @property
    def rejected_items(self) -> list[BulkItem]:
        return [item for item in self.items if item.outcome == "rejected"]


# Files an operating system or archiver adds next to the images; never DICOM, never shown.
_JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def _is_junk(name: str) -> bool:
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if not parts:
        return True
    base = parts[-1].lower()
    return "__MACOSX" in parts or base in _JUNK_NAMES or base.startswith("._")


def _display_name(name: str | None) -> str:
    cleaned = _CONTROL_RE.sub("", name or "").strip()
    return (cleaned or "(unnamed file)")[-200:]


def is_zip(head: bytes, name: str) -> bool:
    """Whether an upload is a .zip archive, from its first 132 bytes and its name."""
    if head[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] == b"DICM":
        return False  # a DICOM file whose preamble happens to look like a zip is DICOM
    return head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or name.lower().endswith(".zip")


Payload = tuple[str, bytes | IngestError]


def _refused(name: str, message: str, *, code: str, status: int = 400) -> Payload:
    return name, IngestError(message, status=status, code=code)


def _zip_members(upload: Upload, archive: str) -> Iterator[Payload]:
    """Yield (name, bytes or the reason it is refused) for each file in a zip, in memory.

    Members are read one at a time into memory, never extracted to disk, and never by the
    names the archive gives them. The member count and the bytes actually inflated are both
    capped, so a zip bomb stops at the cap rather than at the end of the disk or memory.
    """
    upload.seek(0)
    try:
        archive_file = zipfile.ZipFile(upload)  # type: ignore[arg-type]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        yield _refused(archive, f"This .zip file could not be opened: {exc}", code="not_zip")
        return
    with archive_file:
        members = [
            info
            for info in archive_file.infolist()
            if not info.is_dir() and not _is_junk(info.filename)
        ]
        if len(members) > max_zip_members():
            yield _refused(
                archive,
                f"This .zip holds {len(members):,} files; the limit is {max_zip_members():,} "
                "per archive. Split it into smaller archives.",
                code="bomb",
                status=413,
            )
            return
        budget = max_zip_uncompressed_bytes()
        total = _mb(budget)
        per_file = max_upload_bytes()
        for index, info in enumerate(members):
            name = _display_name(f"{archive}/{info.filename}")
            if info.flag_bits & 0x1:
                yield _refused(name, "This file is encrypted in the .zip.", code="encrypted")
                continue
            if info.file_size > per_file:
                size = info.file_size / 1e6
                yield _refused(
                    name,
                    f"This file is {size:.1f} MB; the limit is {_mb(per_file)}.",
                    code="too_large",
                    status=413,
                )
                continue
            # The sizes in a zip's directory can lie; count what actually comes out.
            cap = min(per_file, budget)
            try:
                data = _read_capped(archive_file, info, cap)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as exc:
                yield _refused(name, f"This file could not be unpacked: {exc}", code="not_zip")
                continue
            except NotImplementedError as exc:  # an unsupported compression method
                yield _refused(name, f"This file could not be unpacked: {exc}", code="not_zip")
                continue
            if len(data) <= cap:
                budget -= len(data)
                yield name, data
            elif len(data) <= budget:
                yield _refused(
                    name, f"This file is over the {_mb(per_file)} limit.", code="too_large"
                )
            else:
                yield _refused(
                    name,
                    f"This .zip unpacks to more than {total} (the limit); this file and the "
                    "rest of the archive were refused as a possible zip bomb.",
                    code="bomb",
                    status=413,
                )
                # Every later member is still accounted for, so nothing vanishes unseen.
                for rest in members[index + 1 :]:
                    yield _refused(
                        _display_name(f"{archive}/{rest.filename}"),
                        f"Not unpacked: this .zip passed its {total} limit before reaching "
                        "this file.",
                        code="bomb",
                        status=413,
                    )
                return


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """Read one member, stopping one chunk past ``cap`` bytes (then ``len(result) > cap``)."""
    chunks: list[bytes] = []
    got = 0
    with archive.open(info) as member:
        while got <= cap:
            chunk = member.read(min(_INFLATE_CHUNK, cap + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks)


def _bulk_inputs(uploads: Iterable[Upload]) -> Iterator[Payload]:
    limit = max_upload_bytes()
    for upload in uploads:
        name = _display_name(upload.name)
        if _is_junk(upload.name or ""):
            continue
        size = upload.size if upload.size is not None else 0
        upload.seek(0)
        head = upload.read(PREAMBLE_LENGTH + 4)
        if is_zip(head, name):
            yield from _zip_members(upload, name)
            continue
        if size > limit:
            # Refused from its declared size, without reading it into memory.
            yield _refused(
                name,
                f"This file is {size / 1e6:.1f} MB; the limit is {_mb(limit)}.",
                code="too_large",
                status=413,
            )
            continue
        upload.seek(0)
        yield name, upload.read(limit + 1)


def instance_ingest_bulk(
    *,
    uploads: Iterable[Upload],
    uploaded_by: AbstractBaseUser | None = None,
    source: str = "upload",
) -> BulkIngestSummary:
    """Ingest many files (and the members of any .zip among them), each on its own.

    Every file goes through :func:`instance_ingest` in its own transaction, so one refused
    file never costs the others. Returns what became of each file and the studies that
    received images. Raises nothing for bad files; they are ``rejected`` items with a reason.
    """
    summary = BulkIngestSummary()
    studies: dict[str, BulkStudy] = {}
    for name, payload in _bulk_inputs(uploads):
        if isinstance(payload, IngestError):
            summary.items.append(
                BulkItem(name=name, outcome="rejected", reason=str(payload), code=payload.code)
            )
            continue
        try:
            result = instance_ingest(data=payload, uploaded_by=uploaded_by, source=source)
        except IngestError as exc:
            summary.items.append(
                BulkItem(name=name, outcome="rejected", reason=str(exc), code=exc.code)
            )
            continue
        instance = result.instance
        study = instance.series.study
        summary.items.append(
            BulkItem(
                name=name,
                outcome="stored" if result.created else "duplicate",
                instance_id=instance.pk,
                study_instance_uid=study.study_instance_uid,
            )
        )
        known = studies.get(study.study_instance_uid)
        studies[study.study_instance_uid] = BulkStudy(
            study_instance_uid=study.study_instance_uid,
            description=study.description,
            patient=str(study.patient),
            first_instance_id=known.first_instance_id if known else instance.pk,
            images=(known.images if known else 0) + 1,
        )
    summary.studies = list(studies.values())
    return summary
