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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import BooleanField, Value

from medassist.models import Patient
from medassist.services import audit_record, audit_record_many, patient_get_or_register

from ..models import Instance, NonImageInstance, Series, StoredInstance, Study
from ..signals import INTERACTIVE_SOURCES, instance_stored, instances_filed
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
from .storage import conflict_keep, durable_write_start

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


# What became of one file of a batch: a result, a refusal (IngestError), or a failure on our
# side for that file alone (an OSError writing it; anything else unexpected).
Outcome = IngestResult | Exception


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
    SHA-256 and flushed to disk before its rows are committed; if the rows cannot be written
    the file is removed, so neither an orphan file nor a half-filed instance remains. The
    same SOP Instance UID holding the same image is a no-op (``duplicate=True``): the same
    data set whatever its file meta group and preamble, or, in another transfer syntax, the
    same decoded pixels and attributes (:mod:`imaging.ingest.identity`). A different image
    under a stored UID is kept aside as an :class:`~imaging.models.IngestConflict` for an
    administrator and ``IngestError(409, "conflict")`` is raised. ``instance_stored`` is sent
    once the new rows are committed.

    A file without pixel data whose SOP class is not an image class (a structured report, an
    RT structure set or plan, a waveform, an encapsulated PDF, a presentation state...) goes
    through the same checks, bar the pixel count and the decoding, and is filed as a
    :class:`~imaging.models.NonImageInstance` in its study. Nothing is signalled for it: it is
    never sent to inference and never puts its study on the worklist.

    This is :func:`instances_ingest` for one file.

    Raises:
        IngestError: refused input (see its docstring for ``code`` and ``status``); nothing
            was stored except, for ``code="conflict"``, the kept-aside copy.
        OSError: the file could not be written; nothing was stored.
    """
    outcome = instances_ingest(files=[data], uploaded_by=uploaded_by, source=source)[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@dataclass(eq=False)  # compared by identity: "is this file among those filed"
class _Item:
    """One file of a batch on its way in, checked and (preamble zeroed) ready to write."""

    index: int
    data: bytes
    header: Header
    head: pydicom.Dataset
    stream_length: int
    executable: str
    sha256: str
    key: str = ""
    path: Path | None = None
    row: StoredInstance | None = None


def instances_ingest(
    *,
    files: Sequence[bytes],
    uploaded_by: AbstractBaseUser | None = None,
    source: str = "upload",
) -> list[Outcome]:
    """Validate, store and file many DICOM Part 10 files (a STOW-RS request, a bulk upload):
    what :func:`instance_ingest` does for each, with one transaction for the whole batch.

    Returns one outcome per file, in order: an :class:`IngestResult`, the
    :class:`IngestError` that refused it, or the exception that kept it from being stored on
    our side (an ``OSError`` writing it). A refused or failed file costs only itself: the
    others are stored all the same.

    Each file is parsed once. The patients, studies and series of the batch are looked up
    together and each is created (or completed) once; the stored copies of the batch's UIDs
    are looked up in one query. The new files are written, then flushed to disk together
    (:func:`~imaging.ingest.storage.durable_write_start`) while the one transaction that
    files them all writes its rows; it commits only once every file is on disk.
    ``instance_stored`` is sent once per study after the commit. A file whose rows committed
    is never deleted; the files of rows that did not commit are removed.

    Raises:
        DatabaseError (or any other error of the transaction): nothing of this batch's new
            files was filed (their files are removed), except when the COMMIT itself failed
            with an unknown outcome, when the files are kept and the error logged.
    """
    outcomes: list[Outcome | None] = [None] * len(files)
    items: list[_Item] = []
    first_of: dict[str, int] = {}
    again: list[int] = []  # a SOP Instance UID met earlier in this batch: filed after it
    for index, data in enumerate(files):
        try:
            item = _checked(index, data)
        except IngestError as exc:
            outcomes[index] = exc
            continue
        uid = item.header.sop_instance_uid
        if uid in first_of:
            again.append(index)
            continue
        first_of[uid] = index
        items.append(item)

    stored = _stored_under_many([item.header.sop_instance_uid for item in items])
    new: list[_Item] = []
    for item in items:
        existing = stored.get(item.header.sop_instance_uid)
        try:
            if existing is not None:
                outcomes[item.index] = _against_stored(
                    item, existing, by=uploaded_by, source=source
                )
                continue
            parse_pixels(item.data, item.header, item.stream_length, item.head)
        except Exception as exc:  # an IngestError, or an OSError keeping a conflict aside
            outcomes[item.index] = exc
            continue
        new.append(item)

    if new:
        _store(new, outcomes, by=uploaded_by, source=source)
    for index in again:
        outcomes[index] = instances_ingest(
            files=[files[index]], uploaded_by=uploaded_by, source=source
        )[0]
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def _checked(index: int, data: bytes) -> _Item:
    """Size, header and pixel count (no decoding yet); the preamble zeroed, the SHA-256."""
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
    return _Item(
        index=index,
        data=data,
        header=header,
        head=head,
        stream_length=stream_length,
        executable=executable,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _against_stored(
    item: _Item, existing: StoredInstance, *, by: AbstractBaseUser | None, source: str
) -> IngestResult | IngestError:
    """A file whose SOP Instance UID is stored: a duplicate (success) or a conflict, kept
    aside. Raises IngestError when it does not decode, OSError when it cannot be kept."""
    header, data = item.header, item.data
    if same_dataset(instance=existing, sha256=item.sha256, dataset_sha256=header.dataset_sha256):
        # The stored copy was decoded when it arrived; the same data set needs no second look,
        # whatever file meta group or preamble wraps it this time.
        _audit_executable(kind=item.executable, instance=existing, by=by, source=source)
        return IngestResult(
            instance=existing, created=False, duplicate=True, preamble_executable=item.executable
        )
    parse_pixels(data, header, item.stream_length, item.head)
    if same_image(
        instance=existing,
        data=data,
        transfer_syntax=header.transfer_syntax,
        has_pixel_data=header.has_pixel_data,
    ):
        # The same image in another transfer syntax (the rare path that decodes both).
        _audit_executable(kind=item.executable, instance=existing, by=by, source=source)
        return IngestResult(
            instance=existing, created=False, duplicate=True, preamble_executable=item.executable
        )
    return conflict_keep(
        data=data,
        sha256=item.sha256,
        existing=existing,
        by=by,
        source=source,
        executable=item.executable,
    )


def _store(
    new: list[_Item], outcomes: list[Outcome | None], *, by: AbstractBaseUser | None, source: str
) -> None:
    """Write the new files, then file them all in one transaction, which commits once the
    files are flushed to disk (the flush runs while the rows are written)."""
    try:
        writing = durable_write_start([item.data for item in new], "dicom")
    except OSError as exc:
        for item in new:
            outcomes[item.index] = exc
        return
    for item, (key, path) in zip(new, writing.files, strict=True):
        item.key, item.path = key, path
    # Set by the first on-commit callback: from then on the rows point at the files, so
    # nothing below may delete them, whatever the later callbacks (the broker, the cache) raise.
    committed: list[bool] = []
    commit_tried = False
    filed: list[_Item] = []
    raced: list[_Item] = []
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(True))
            filed, raced = _file_rows(new, outcomes, by=by, source=source)
            # Nothing commits before its file is on disk.
            try:
                writing.wait()
            except OSError as exc:
                raise _FlushFailed(exc) from exc
            commit_tried = True
    except _FlushFailed as failed:
        # Rolled back, and the write removed its files: the storage failed these files alone.
        for item in [*filed, *raced]:
            outcomes[item.index] = failed.error
        return
    except BaseException:
        # No orphan file when the rows could not be written (the transaction rolled back). A
        # file whose rows committed is never deleted: the archive's copy is the only one.
        if not commit_tried:
            writing.discard()
        else:
            if not committed:
                # The COMMIT itself failed (a dropped connection): the server may have
                # committed the rows anyway. An orphan file is harmless; a row without its
                # file is a lost image.
                logger.error(
                    "Commit of instances %s failed with an unknown outcome; their files %s "
                    "are kept.",
                    [item.header.sop_instance_uid for item in filed],
                    [item.key for item in filed],
                )
            _remove([item for item in new if item not in filed])
        raise
    # Files whose rows were refused inside the transaction, or lost a race, have no row.
    _remove([item for item in new if item not in filed])
    for item in filed:
        assert item.row is not None
        outcomes[item.index] = IngestResult(
            instance=item.row, created=True, preamble_executable=item.executable
        )
    for item in raced:
        outcomes[item.index] = _after_race(item, by=by, source=source)


class _FlushFailed(Exception):
    """The files of a batch could not be flushed to disk: roll its transaction back."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _remove(items: list[_Item]) -> None:
    for item in items:
        if item.path is not None:
            item.path.unlink(missing_ok=True)


def _after_race(item: _Item, *, by: AbstractBaseUser | None, source: str) -> Outcome:
    """Another upload of the same SOP Instance UID committed first: a duplicate or a conflict."""
    winner = _stored_under_many([item.header.sop_instance_uid]).get(item.header.sop_instance_uid)
    if winner is None:
        return RuntimeError(
            f"Instance {item.header.sop_instance_uid} could not be filed (a uniqueness "
            "conflict on another column); nothing was stored."
        )
    try:
        if same_dataset(
            instance=winner, sha256=item.sha256, dataset_sha256=item.header.dataset_sha256
        ) or same_image(
            instance=winner,
            data=item.data,
            transfer_syntax=item.header.transfer_syntax,
            has_pixel_data=item.header.has_pixel_data,
        ):
            return IngestResult(
                instance=winner,
                created=False,
                duplicate=True,
                preamble_executable=item.executable,
            )
        return conflict_keep(
            data=item.data,
            sha256=item.sha256,
            existing=winner,
            by=by,
            source=source,
            executable=item.executable,
        )
    except OSError as exc:
        return exc


def _stored_under_many(uids: list[str]) -> dict[str, StoredInstance]:
    """The images and non-image objects stored under these SOP Instance UIDs (one query when
    none is, the usual case), their series and study loaded."""
    if not uids:
        return {}
    images = Instance.objects.filter(sop_instance_uid__in=uids).values_list(
        "sop_instance_uid", "pk", Value(True, output_field=BooleanField())
    )
    others = NonImageInstance.objects.filter(sop_instance_uid__in=uids).values_list(
        "sop_instance_uid", "pk", Value(False, output_field=BooleanField())
    )
    hits = list(images.union(others, all=True))
    if not hits:
        return {}
    found: dict[str, StoredInstance] = {}
    # An image wins over a non-image object under the same UID, as the one-at-a-time lookup
    # always answered.
    for model, image in ((NonImageInstance, False), (Instance, True)):
        pks = [pk for _uid, pk, is_image in hits if is_image == image]
        for row in model.objects.select_related("series__study").filter(pk__in=pks):
            found[row.sop_instance_uid] = row
    return found


@dataclass
class _Hierarchy:
    """Patients, studies and series met in one batch, by MRN and UID; ``created`` holds the
    pks of the studies created by this batch."""

    patients: dict[str, Patient] = field(default_factory=dict)
    studies: dict[str, Study] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    created: set[int] = field(default_factory=set)

    def copy(self) -> _Hierarchy:
        return _Hierarchy(
            dict(self.patients), dict(self.studies), dict(self.series), set(self.created)
        )

    def restore(self, other: _Hierarchy) -> None:
        self.patients, self.studies = other.patients, other.studies
        self.series, self.created = other.series, other.created


def _all_known(item: _Item, known: _Hierarchy) -> bool:
    """Whether this file's patient, study and series are all known to the batch already,
    with no patient detail to fill in: then filing it writes nothing but its own rows."""
    patient = known.patients.get(_patient_fields(item.head, item.header)["mrn"])
    return (
        patient is not None
        and not _completes(patient, _patient_fields(item.head, item.header))
        and item.header.study_instance_uid in known.studies
        and item.header.series_instance_uid in known.series
    )


def _file_rows(
    new: list[_Item], outcomes: list[Outcome | None], *, by: AbstractBaseUser | None, source: str
) -> tuple[list[_Item], list[_Item]]:
    """In the caller's transaction: the hierarchy, the rows, the worklist flag, the audit
    events and the on-commit signal of the batch. Returns the items filed and those that
    lost a race to another upload of their UID; the others' outcomes are set (refused)."""
    hierarchy = _hierarchy_prefetch(new)
    ready: list[_Item] = []
    for item in new:
        if _all_known(item, hierarchy):
            # The usual case past a series' first file: nothing to write, nothing to undo.
            try:
                series = _file_series(ds=item.head, header=item.header, by=by, known=hierarchy)
                item.row = _row(item, series=series, by=by, source=source)
            except IngestError as exc:
                outcomes[item.index] = exc
                continue
            ready.append(item)
            continue
        # A patient registered or completed, a study or series created: undone (with what
        # the batch noted of them) if this file is refused, as if it had never come.
        before = hierarchy.copy()
        try:
            with transaction.atomic():
                series = _file_series(ds=item.head, header=item.header, by=by, known=hierarchy)
                item.row = _row(item, series=series, by=by, source=source)
        except IngestError as exc:
            hierarchy.restore(before)
            outcomes[item.index] = exc
            continue
        ready.append(item)
    filed: list[_Item] = []
    raced: list[_Item] = []
    for model in (Instance, NonImageInstance):
        batch = [item for item in ready if isinstance(item.row, model)]
        if batch:
            done, lost = _insert(model, batch)
            filed += done
            raced += lost
    filed.sort(key=lambda item: item.index)
    if not filed:
        return filed, raced

    images = [item for item in filed if isinstance(item.row, Instance)]
    studies_with_images = {item.row.series.study_id for item in images}  # type: ignore[union-attr]
    # A new image is unread: its study goes back on the worklist, under the row lock the
    # review services take before they recompute it (so neither overwrites the other). A
    # study created now is unread already, unless it holds no image yet: then there is
    # nothing for a doctor to read.
    back_on_worklist = studies_with_images - hierarchy.created
    nothing_to_read = {
        item.row.series.study_id
        for item in filed  # type: ignore[union-attr]
    } & hierarchy.created - studies_with_images
    if back_on_worklist:
        Study.objects.filter(pk__in=back_on_worklist).update(unread=True)
    if nothing_to_read:
        Study.objects.filter(pk__in=nothing_to_read).update(unread=False)

    audit_record_many(
        actor=by,
        action="instance.ingest",
        objs=[item.row for item in filed],
        detail={"source": source},
    )
    for item in filed:
        assert item.row is not None
        _audit_executable(kind=item.executable, instance=item.row, by=by, source=source)
    if images:
        # Robust: what listeners start (stability checks, inference) is recorded in rows a
        # sweep finds again; a broker or cache outage is logged, never the uploader's 500. A
        # non-image object starts nothing. One signal per study, not one per image.
        by_study: dict[int, list[int]] = {}
        for item in images:
            by_study.setdefault(item.row.series.study_id, []).append(item.row.pk)  # type: ignore[union-attr]
        for study_id, ids in by_study.items():
            if source in INTERACTIVE_SOURCES:  # a pushed study waits for its quiet period
                _filed_signal(instance_ids=ids, study_id=study_id, source=source)
            _stored_signal_on_commit(instance_ids=ids, study_id=study_id, source=source[:32])
    return filed, raced


def _stored_signal_on_commit(*, instance_ids: list[int], study_id: int, source: str) -> None:
    # A function of its own, not a partial: Django names a robust callback that fails by its
    # __qualname__, which a partial lacks (the log line itself would raise, a 500).
    def instance_stored_send() -> None:
        instance_stored.send(
            Instance,
            instance_id=instance_ids[0],
            instance_ids=instance_ids,
            study_id=study_id,
            source=source,
        )

    transaction.on_commit(instance_stored_send, robust=True)


def _filed_signal(*, instance_ids: list[int], study_id: int, source: str) -> None:
    """``instances_filed`` in a savepoint: a receiver's error is logged and its writes undone,
    and the images are filed all the same. After an OperationalError (a lock timeout, a
    serialization failure: often gone a moment later) the signal is sent once more after
    the commit, outside the transaction, so the doctor does not wait for the sweep; should
    that fail too, or any other error have been raised, it is logged and the sweep queues
    what the listeners could not open."""

    def send() -> None:  # named: see _stored_signal_on_commit
        instances_filed.send(Instance, instance_ids=instance_ids, study_id=study_id, source=source)

    try:
        with transaction.atomic():
            send()
    except OperationalError:
        logger.exception(
            "A listener failed on the images %s of study %s; they are stored, and the "
            "listeners are called again after the commit.",
            instance_ids,
            study_id,
        )
        transaction.on_commit(send, robust=True)
    except Exception:
        logger.exception(
            "A listener failed on the images %s of study %s; they are stored.",
            instance_ids,
            study_id,
        )


def _insert(model: type[StoredInstance], batch: list[_Item]) -> tuple[list[_Item], list[_Item]]:
    """INSERT the rows of ``batch`` at once; should another upload have committed one of
    their UIDs meanwhile, each row on its own instead, in a savepoint. Returns (inserted,
    lost to another upload)."""
    try:
        with transaction.atomic():
            model.objects.bulk_create([item.row for item in batch])  # type: ignore[misc]
        return batch, []
    except IntegrityError:
        pass
    done: list[_Item] = []
    lost: list[_Item] = []
    for item in batch:
        assert item.row is not None
        item.row.pk = None
        item.row._state.adding = True
        try:
            with transaction.atomic():
                item.row.save(force_insert=True)
        except IntegrityError:
            lost.append(item)
            continue
        done.append(item)
    return done, lost


def _row(
    item: _Item, *, series: Series, by: AbstractBaseUser | None, source: str
) -> StoredInstance:
    """The unsaved, validated row of a new image or non-image object."""
    header = item.header
    common: dict[str, Any] = {
        "series": series,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "instance_number": header.instance_number,
        "storage_key": item.key,
        "sha256": item.sha256,
        "dataset_sha256": header.dataset_sha256,
        "size_bytes": len(item.data),
        "source": source[:32],
        "uploaded_by": by if by is not None and by.is_authenticated else None,
    }
    row: StoredInstance
    if header.has_pixel_data:
        row = Instance(rows=header.rows, columns=header.columns, frames=header.frames, **common)
    else:
        row = NonImageInstance(title=_title(item.head), **common)
    try:
        # Uniqueness is the database's job (its constraints and the race handling above);
        # the foreign keys point at rows just read or written. Asking the database again
        # would cost a query each.
        row.full_clean(
            exclude=["series", "uploaded_by"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        raise IngestError(
            f"This DICOM file's header holds values that cannot be filed: {exc.messages}",
            code="corrupt",
        ) from exc
    return row


def _hierarchy_prefetch(new: list[_Item]) -> _Hierarchy:
    """The series of the batch already stored, with their study and patient: one query.
    A series met again (the rest of a study being pushed) then costs no query per file."""
    known = _Hierarchy()
    uids = {item.header.series_instance_uid for item in new}
    for series in Series.objects.select_related("study__patient").filter(
        series_instance_uid__in=uids
    ):
        known.series[series.series_instance_uid] = series
        known.studies.setdefault(series.study.study_instance_uid, series.study)
        known.patients.setdefault(series.study.patient.mrn, series.study.patient)
    return known


def _patient_fields(ds: pydicom.Dataset, header: Header) -> dict[str, Any]:
    sex = _text(ds, "PatientSex", 1).upper()
    return {
        "mrn": (_text(ds, "PatientID", 64) or f"UNKNOWN-{header.study_instance_uid}"[:64]).strip(),
        "name": _text(ds, "PatientName", 200).replace("^", " ").strip(),
        "birth_date": _dicom_date(ds.get("PatientBirthDate", "")),
        "sex": sex if sex in {"F", "M", "O"} else "U",
    }


def _completes(patient: Patient, fields: dict[str, Any]) -> bool:
    """Whether these details would fill in a blank of the stored patient (which
    patient_get_or_register does under the patient's row lock)."""
    return bool(
        (fields["name"] and not patient.name)
        or (fields["birth_date"] and not patient.birth_date)
        or (fields["sex"] != Patient.Sex.UNKNOWN and patient.sex == Patient.Sex.UNKNOWN)
    )


def _file_series(
    *, ds: pydicom.Dataset, header: Header, by: AbstractBaseUser | None, known: _Hierarchy
) -> Series:
    """The patient, study and series a new object belongs to, created when new (and noted in
    ``known`` for the rest of the batch); returns the series, its study loaded. Raises
    IngestError (``hierarchy_conflict``) when the study or series is filed under another
    one."""
    fields = _patient_fields(ds, header)
    synthetic = _is_synthetic(ds)
    patient = known.patients.get(fields["mrn"])
    if patient is None or _completes(patient, fields):
        patient = patient_get_or_register(**fields, is_synthetic=synthetic, actor=by)
        known.patients[patient.mrn] = patient
    study = known.studies.get(header.study_instance_uid)
    if study is None:
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
        if study_created:
            known.created.add(study.pk)
        known.studies[study.study_instance_uid] = study
    if study.patient_id != patient.pk:
        raise IngestError(
            "This study is already filed under another patient ID; nothing was changed.",
            status=409,
            code="hierarchy_conflict",
        )
    series = known.series.get(header.series_instance_uid)
    if series is None:
        series, _ = Series.objects.get_or_create(
            series_instance_uid=header.series_instance_uid,
            defaults={
                "study": study,
                "modality": _text(ds, "Modality", 16),
                "description": _text(ds, "SeriesDescription", 200),
                "body_part": _text(ds, "BodyPartExamined", 64),
            },
        )
        known.series[series.series_instance_uid] = series
    if series.study_id != study.pk:
        raise IngestError(
            "This series is already filed under another study; nothing was changed.",
            status=409,
            code="hierarchy_conflict",
        )
    series.study = study  # the same row, already loaded: callers read it without a query
    return series


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
