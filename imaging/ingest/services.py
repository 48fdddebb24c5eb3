"""The one ingest service every path goes through.

Every DICOM file — browser upload, bulk upload, REST API, DICOMweb STOW-RS, C-STORE — passes
through :func:`instance_ingest`. It refuses what it cannot keep safely (with an
:class:`~imaging.ingest.errors.IngestError` that says why, in words and as a short machine
code), never loses what it accepted, and never overwrites a stored image. The limits are
settings (see docs/ingest.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from medassist.services import audit_record, patient_get_or_register

from ..models import Instance, NonImageInstance, Series, StoredInstance, Study
from ..signals import instance_stored
from .errors import IngestError
from .identity import same_dataset, same_image
from .limits import max_upload_bytes, megabytes
from .parsing import (
    CONTROL_RE,
    PREAMBLE_LENGTH,
    Header,
    executable_kind,
    parse_header,
    parse_pixels,
)
from .storage import conflict_keep, write_atomically

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    """What :func:`instance_ingest` did: ``created`` (new rows) or ``duplicate`` (a no-op).

    ``instance`` is an :class:`Instance` for an image, a :class:`NonImageInstance` for any
    other object (``is_image`` says which).
    """

    instance: StoredInstance
    created: bool
    duplicate: bool = False
    # "Windows PE", "ELF", ... when the original preamble held an executable header (zeroed).
    preamble_executable: str = ""

    @property
    def is_image(self) -> bool:
        return isinstance(self.instance, Instance)


def _audit_executable(
    *, kind: str, instance: StoredInstance, by: AbstractBaseUser | None, source: str
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
    -> same-data-set duplicate check -> decoder for the transfer syntax -> every frame decoded.

    The 128-byte preamble is zeroed before storing (PS3.10 7.5); if it held an executable
    header an ``ingest.preamble_executable`` audit event is written and the zeroed file is
    still stored. The file is written atomically under a server-generated key with its
    SHA-256; if the rows cannot be written the file is removed, so neither an orphan file nor
    a half-filed instance remains. The same SOP Instance UID holding the same image is a
    no-op (``duplicate=True``): the same data set whatever its file meta group and preamble,
    or, in another transfer syntax, the same decoded pixels and attributes
    (:mod:`imaging.ingest.identity`). A different image under a stored UID is kept aside as
    an :class:`~imaging.models.IngestConflict` for an administrator and ``IngestError(409,
    "conflict")`` is raised. ``instance_stored`` is sent once the new rows are committed.

    A file without pixel data whose SOP class is not an image class (a structured report, an
    RT structure set or plan, a waveform, an encapsulated PDF, a presentation state...) goes
    through the same checks, bar the pixel count and the decoding, and is filed as a
    :class:`~imaging.models.NonImageInstance` in its study. Nothing is signalled for it: it is
    never sent to inference and never puts its study on the worklist.

    Raises:
        IngestError: refused input (see its docstring for ``code`` and ``status``); nothing
            was stored except, for ``code="conflict"``, the kept-aside copy.
    """
    limit = max_upload_bytes()
    if len(data) > limit:
        raise IngestError(
            f"This file is {len(data) / 1e6:.1f} MB; the limit is {megabytes(limit)}.",
            status=413,
            code="too_large",
        )
    header, head, stream_length = parse_header(data)
    executable = executable_kind(data[:PREAMBLE_LENGTH])
    # Zero the preamble: it can hold an executable header (CVE-2019-11687).
    data = b"\0" * PREAMBLE_LENGTH + data[PREAMBLE_LENGTH:]
    sha256 = hashlib.sha256(data).hexdigest()

    existing = _stored_under(header.sop_instance_uid)
    if existing is not None and same_dataset(
        instance=existing, sha256=sha256, dataset_sha256=header.dataset_sha256
    ):
        # The stored copy was decoded when it arrived; the same data set needs no second look,
        # whatever file meta group or preamble wraps it this time.
        _audit_executable(kind=executable, instance=existing, by=uploaded_by, source=source)
        return IngestResult(
            instance=existing, created=False, duplicate=True, preamble_executable=executable
        )

    parse_pixels(data, header, stream_length)
    if existing is not None:
        if same_image(
            instance=existing,
            data=data,
            transfer_syntax=header.transfer_syntax,
            has_pixel_data=header.has_pixel_data,
        ):
            # The same image in another transfer syntax (the rare path that decodes both).
            _audit_executable(kind=executable, instance=existing, by=uploaded_by, source=source)
            return IngestResult(
                instance=existing, created=False, duplicate=True, preamble_executable=executable
            )
        raise conflict_keep(
            data=data,
            sha256=sha256,
            existing=existing,
            by=uploaded_by,
            source=source,
            executable=executable,
        )

    key, path = write_atomically(data, "dicom")
    # Set by the first on-commit callback: from then on the rows point at the file, so
    # nothing below may delete it, whatever the later callbacks (the broker, the cache) raise.
    committed: list[bool] = []
    commit_tried = False
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))
            file_row = _file_instance if header.has_pixel_data else _file_non_image
            instance = file_row(
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
            if isinstance(instance, Instance):
                # Robust: what listeners start (stability checks, inference) is recorded in
                # rows a sweep finds again; a broker or cache outage is logged, never the
                # uploader's 500. A non-image object starts nothing.
                stored_id = instance.pk
                transaction.on_commit(
                    lambda: instance_stored.send(Instance, instance_id=stored_id), robust=True
                )
            commit_tried = True
    except IntegrityError:
        # Another upload of the same SOP Instance UID committed first.
        path.unlink(missing_ok=True)
        winner = _stored_under(header.sop_instance_uid)
        if winner is None:
            raise
        if same_dataset(
            instance=winner, sha256=sha256, dataset_sha256=header.dataset_sha256
        ) or same_image(
            instance=winner,
            data=data,
            transfer_syntax=header.transfer_syntax,
            has_pixel_data=header.has_pixel_data,
        ):
            return IngestResult(
                instance=winner, created=False, duplicate=True, preamble_executable=executable
            )
        raise conflict_keep(
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


def _stored_under(sop_instance_uid: str) -> StoredInstance | None:
    """The image or non-image object stored under this SOP Instance UID, if any."""
    found = Instance.objects.filter(sop_instance_uid=sop_instance_uid).first()
    if found is not None:
        return found
    return NonImageInstance.objects.filter(sop_instance_uid=sop_instance_uid).first()


def _file_series(
    *, ds: pydicom.Dataset, header: Header, by: AbstractBaseUser | None
) -> tuple[Series, bool]:
    """The patient, study and series a new object belongs to, created when new; returns the
    series (its study loaded) and whether the study was created now. Raises IngestError
    (``hierarchy_conflict``) when the study or series is filed under another one."""
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
    study, study_created = Study.objects.get_or_create(
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
    series.study = study  # the same row, already loaded: callers read it without a query
    return series, study_created


def _file_instance(
    *,
    ds: pydicom.Dataset,
    header: Header,
    key: str,
    sha256: str,
    size: int,
    by: AbstractBaseUser | None,
    source: str,
) -> Instance:
    series, study_created = _file_series(ds=ds, header=header, by=by)
    study = series.study
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
        dataset_sha256=header.dataset_sha256,
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
    if not study_created:
        # A new image is unread: the study goes back on the worklist, under the row lock the
        # review services take before they recompute it (so neither overwrites the other).
        Study.objects.filter(pk=study.pk).update(unread=True)
    return instance


def _file_non_image(
    *,
    ds: pydicom.Dataset,
    header: Header,
    key: str,
    sha256: str,
    size: int,
    by: AbstractBaseUser | None,
    source: str,
) -> NonImageInstance:
    series, study_created = _file_series(ds=ds, header=header, by=by)
    if study_created:
        # A study that holds no image yet has nothing for a doctor to read.
        Study.objects.filter(pk=series.study_id).update(unread=False)
    row = NonImageInstance(
        series=series,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        instance_number=header.instance_number,
        title=_title(ds),
        storage_key=key,
        sha256=sha256,
        dataset_sha256=header.dataset_sha256,
        size_bytes=size,
        source=source[:32],
        uploaded_by=by if by is not None and by.is_authenticated else None,
    )
    try:
        row.full_clean(validate_unique=False)
    except ValidationError as exc:
        raise IngestError(
            f"This DICOM file's header holds values that cannot be filed: {exc.messages}",
            code="corrupt",
        ) from exc
    row.save()
    return row


# Where a non-image object names itself, most specific first.
_TITLE_KEYWORDS = (
    "DocumentTitle",
    "ContentLabel",
    "StructureSetLabel",
    "RTPlanLabel",
    "ContentDescription",
    "SeriesDescription",
)


def _title(ds: pydicom.Dataset) -> str:
    """What a non-image object calls itself: a report's concept name (its title), a PDF's
    document title, an RT label...; "" when it says nothing."""
    concept = ds.get("ConceptNameCodeSequence")  # converted and checked at parse time
    meaning = _text(concept[0], "CodeMeaning", 200) if concept else ""
    if meaning:
        return meaning
    for keyword in _TITLE_KEYWORDS:
        value = _text(ds, keyword, 200)
        if value:
            return value
    return ""


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
    return CONTROL_RE.sub("", value).strip()[:limit]


def _is_synthetic(ds: pydicom.Dataset) -> bool:
    marks = " ".join(
        _text(ds, k, 1000) for k in ("ImageComments", "StudyDescription", "SeriesDescription")
    )
    return "SYNTHETIC" in marks.upper()
