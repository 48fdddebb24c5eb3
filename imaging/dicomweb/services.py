"""Writes behind DICOMweb: storing the parts of a STOW-RS request, auditing reads."""

from __future__ import annotations

import errno
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

import pydicom
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from pydicom.uid import DeflatedExplicitVRLittleEndian

from medassist.services import audit_record

from ..ingest.errors import IngestError
from ..ingest.limits import max_upload_bytes, megabytes
from ..ingest.parsing import parse_header, read_file_meta
from ..ingest.services import IngestResult, Outcome, instances_ingest
from ..models import StoredInstance
from .multipart import Part

logger = logging.getLogger(__name__)

# Failure Reason (0008,1197) values, PS3.18 Table I.2-2 and PS3.7 Annex C.
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
TRANSFER_SYNTAX_NOT_SUPPORTED = 0xC122
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111

# IngestError.code -> Failure Reason. Codes not listed fall back on IngestError.status.
_REASON_BY_CODE = {
    "too_large": OUT_OF_RESOURCES,
    # A decompression bomb is refused for what it would cost to decode, not for its syntax.
    "bomb": OUT_OF_RESOURCES,
    "conflict": DUPLICATE_SOP_INSTANCE,
    "hierarchy_conflict": DUPLICATE_SOP_INSTANCE,
    # A malformed UID breaks the data set's conformance rather than its readability.
    "invalid_uid": DATA_SET_DOES_NOT_MATCH,
    "unsupported_transfer_syntax": TRANSFER_SYNTAX_NOT_SUPPORTED,
    "not_dicom": CANNOT_UNDERSTAND,
    "truncated": CANNOT_UNDERSTAND,
    "no_pixel_data": CANNOT_UNDERSTAND,
    "missing_uid": CANNOT_UNDERSTAND,
    "corrupt": CANNOT_UNDERSTAND,
    "undecodable": CANNOT_UNDERSTAND,
}
_REASON_BY_STATUS = {413: OUT_OF_RESOURCES, 409: DUPLICATE_SOP_INSTANCE}

# A copy of an image already stored (by any path) is a success that stored nothing new.
DUPLICATE_MESSAGE = (
    "This image was already stored (the same SOP Instance UID and the same image); "
    "it was not stored again."
)


def failure_reason(exc: IngestError) -> int:
    """The STOW-RS Failure Reason for a refused instance."""
    code = getattr(exc, "code", None)
    if code in _REASON_BY_CODE:
        return _REASON_BY_CODE[code]
    return _REASON_BY_STATUS.get(exc.status, CANNOT_UNDERSTAND)


@dataclass(frozen=True)
class StowOutcome:
    """What became of one part: ``instance`` when stored, or already stored (``duplicate``,
    the same image by whatever path, with a ``message`` saying so), otherwise
    ``failure_reason`` and a ``message`` a person can act on."""

    sop_class_uid: str
    sop_instance_uid: str
    instance: StoredInstance | None = None
    failure_reason: int | None = None
    message: str = ""
    duplicate: bool = False


def _identify(data: bytes, *, need_study: bool) -> tuple[str, str, str] | IngestError:
    """(SOP Class UID, SOP Instance UID, Study Instance UID) of a part, "" where unreadable.

    A Deflated part is never handed to pydicom here: it would inflate the whole data set in
    memory first, whatever it inflates to. Its file meta names the instance; its study, when
    ``need_study``, comes from ingest's bounded parse, whose refusal is then returned.
    """
    try:
        meta = read_file_meta(data)
    except IngestError:  # not Part 10: the ingest says so
        meta = pydicom.Dataset()
    if meta.get("TransferSyntaxUID", "") == DeflatedExplicitVRLittleEndian:
        if not need_study:
            return (
                str(meta.get("MediaStorageSOPClassUID", "")).strip(),
                str(meta.get("MediaStorageSOPInstanceUID", "")).strip(),
                "",
            )
        try:
            header = parse_header(data)[0]
        except IngestError as exc:
            return exc
        return header.sop_class_uid, header.sop_instance_uid, header.study_instance_uid
    try:
        ds = pydicom.dcmread(
            io.BytesIO(data),
            stop_before_pixels=True,
            force=True,
            specific_tags=["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"],
        )
        meta = getattr(ds, "file_meta", None) or pydicom.Dataset()
        return (
            str(ds.get("SOPClassUID", "") or meta.get("MediaStorageSOPClassUID", "")).strip(),
            str(ds.get("SOPInstanceUID", "") or meta.get("MediaStorageSOPInstanceUID", "")).strip(),
            str(ds.get("StudyInstanceUID", "")).strip(),
        )
    except Exception:  # anything unreadable is reported by the ingest itself
        return "", "", ""


# A STOW-RS request is stored in batches of at most this many instances or bytes (the last
# instance may pass it): one transaction and one flush to disk each, with memory bounded
# whatever the request's size (MEDASSIST_MAX_STOW_BYTES).
STOW_BATCH_INSTANCES = 50
STOW_BATCH_BYTES = 64 * 1024 * 1024


def _refused_before_ingest(part: Part, *, study_uid: str | None) -> StowOutcome | None:
    """The outcome of a part refused before it is stored (not DICOM by its type, over the
    size limit, of another study than the URL's), or None when it goes to ingest."""
    wrong_type = bool(part.content_type) and part.content_type != "application/dicom"
    if not wrong_type and not part.oversize and study_uid is None:
        return None  # the usual case: ingest reads it, once
    identity = _identify(part.body, need_study=study_uid is not None)
    if isinstance(identity, IngestError):
        return StowOutcome(
            sop_class_uid="",
            sop_instance_uid="",
            failure_reason=failure_reason(identity),
            message=str(identity),
        )
    sop_class, sop_instance, part_study = identity
    ids = {"sop_class_uid": sop_class, "sop_instance_uid": sop_instance}
    if wrong_type:
        return StowOutcome(
            **ids,
            failure_reason=CANNOT_UNDERSTAND,
            message=f"This part is {part.content_type}; only application/dicom parts are stored.",
        )
    if part.oversize:
        # Refused from its size, never read into memory.
        return StowOutcome(
            **ids,
            failure_reason=OUT_OF_RESOURCES,
            message=(
                f"This instance is {part.oversize / 1e6:.1f} MB; the limit is "
                f"{megabytes(max_upload_bytes())}. Nothing was stored."
            ),
        )
    if study_uid is not None and part_study and part_study != study_uid:
        return StowOutcome(
            **ids,
            failure_reason=DATA_SET_DOES_NOT_MATCH,
            message=(
                f"This instance belongs to study {part_study}, not to study {study_uid} "
                "named in the request URL; nothing was stored."
            ),
        )
    return None


def _stow_outcome(part: Part, outcome: Outcome) -> StowOutcome:
    """What ingest did with a part, as STOW-RS reports it."""
    if isinstance(outcome, IngestResult):
        instance = outcome.instance
        return StowOutcome(
            sop_class_uid=instance.sop_class_uid,
            sop_instance_uid=instance.sop_instance_uid,
            instance=instance,
            duplicate=outcome.duplicate,
            message=DUPLICATE_MESSAGE if outcome.duplicate else "",
        )
    # Named from its own header where that can be read (a refused part may not be DICOM).
    identity = _identify(part.body, need_study=False)
    sop_class, sop_instance = identity[:2] if isinstance(identity, tuple) else ("", "")
    ids = {"sop_class_uid": sop_class, "sop_instance_uid": sop_instance}
    if isinstance(outcome, IngestError):
        return StowOutcome(**ids, failure_reason=failure_reason(outcome), message=str(outcome))
    logger.error(
        "STOW-RS could not store instance %s",
        sop_instance or "?",
        exc_info=(type(outcome), outcome, outcome.__traceback__),
    )
    full = isinstance(outcome, OSError) and outcome.errno in {errno.ENOSPC, errno.EDQUOT}
    return StowOutcome(
        **ids,
        failure_reason=OUT_OF_RESOURCES if full else PROCESSING_FAILURE,
        message="The server could not write this instance to storage; "
        "tell the IT administrator (the server log has the details).",
    )


def _store_batch(
    batch: list[tuple[int, Part]],
    outcomes: list[StowOutcome | None],
    *,
    uploaded_by: AbstractBaseUser | None,
) -> None:
    results = instances_ingest(
        files=[part.body for _, part in batch], uploaded_by=uploaded_by, source="stow-rs"
    )
    for (index, part), result in zip(batch, results, strict=True):
        outcomes[index] = _stow_outcome(part, result)


def stow_store(
    *,
    parts: Iterable[Part],
    uploaded_by: AbstractBaseUser | None,
    study_uid: str | None = None,
) -> list[StowOutcome]:
    """Store the parts through ``instances_ingest``; one outcome per part, in order.

    The parts are stored in batches (:data:`STOW_BATCH_INSTANCES`, :data:`STOW_BATCH_BYTES`),
    each with one transaction: a request of ten instances is one. One bad part never costs
    the others, as STOW-RS requires: it is refused alone and the rest are stored. With
    ``study_uid`` (``POST /studies/{uid}``), instances of any other study are refused.
    Raises only for a malformed multipart body (MultipartError, from iterating ``parts``);
    the batch being gathered then is not stored.
    """
    outcomes: list[StowOutcome | None] = []
    batch: list[tuple[int, Part]] = []
    size = 0
    for part in parts:
        outcomes.append(_refused_before_ingest(part, study_uid=study_uid))
        if outcomes[-1] is not None:
            continue
        batch.append((len(outcomes) - 1, part))
        size += len(part.body)
        if len(batch) >= STOW_BATCH_INSTANCES or size >= STOW_BATCH_BYTES:
            _store_batch(batch, outcomes, uploaded_by=uploaded_by)
            batch, size = [], 0
    if batch:
        _store_batch(batch, outcomes, uploaded_by=uploaded_by)
    return [outcome for outcome in outcomes if outcome is not None]


def dicomweb_access_record(
    *, actor: AbstractBaseUser | None, action: str, path: str, query: str, remote_addr: str | None
) -> None:
    """Audit one DICOMweb read of patient data (a search or a retrieve)."""
    audit_record(
        actor=actor,
        action=action,
        detail={"path": path[:500], "query": query[:500]},
        remote_addr=remote_addr,
    )


def study_block_counts_rebuild() -> int:
    """Count the studies of every block of ids again, from the studies themselves, and
    return how many were counted (PostgreSQL; the triggers of migration imaging 0009 keep the
    counts otherwise). Inserts and deletes of studies wait for it (a lock for the moment of
    one GROUP BY over the primary key index). For counts lost or doubled by a restore of data
    only, or emptied by hand."""
    if connection.vendor != "postgresql":
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE imaging_study IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("DELETE FROM imaging_studyblockcount")
        cursor.execute(
            "INSERT INTO imaging_studyblockcount (block, slot, studies) "
            "SELECT id >> 12, 0, count(*) FROM imaging_study GROUP BY 1"
        )
        cursor.execute("SELECT coalesce(sum(studies), 0) FROM imaging_studyblockcount")
        return int(cursor.fetchone()[0])
