"""Bulk upload: many files and the members of .zip archives, filed in batches where each
file stands or falls on its own."""

from __future__ import annotations

import logging
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from django.contrib.auth.models import AbstractBaseUser

from .errors import IngestError
from .limits import (
    INFLATE_CHUNK,
    max_upload_bytes,
    max_zip_members,
    max_zip_uncompressed_bytes,
    megabytes,
)
from .parsing import CONTROL_RE, PREAMBLE_LENGTH, read_bounded
from .services import IngestResult, instances_ingest

logger = logging.getLogger(__name__)


class Upload(Protocol):
    """A file as Django's UploadedFile presents it."""

    name: str | None
    size: int | None

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...


Outcome = Literal["stored", "duplicate", "rejected"]


@dataclass(frozen=True)
class BulkItem:
    """One file of a bulk upload and what became of it.

    ``instance_id`` names the stored image; a non-image object (a report, a PDF...) has
    ``non_image`` set and no ``instance_id``, and is found through its study (``study_id``).
    """

    name: str
    outcome: Outcome
    reason: str = ""
    code: str = ""
    instance_id: int | None = None
    study_instance_uid: str = ""
    non_image: bool = False
    study_id: int | None = None


@dataclass(frozen=True)
class BulkStudy:
    """A study that received files in a bulk upload; ``first_instance_id`` opens its case
    (None when it received only non-image objects: then ``study_id`` opens its viewer)."""

    study_instance_uid: str
    description: str
    patient: str
    first_instance_id: int | None
    images: int
    study_id: int | None = None
    non_images: int = 0


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
    cleaned = CONTROL_RE.sub("", name or "").strip()
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
        total = megabytes(budget)
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
                    f"This file is {size:.1f} MB; the limit is {megabytes(per_file)}.",
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
                    name, f"This file is over the {megabytes(per_file)} limit.", code="too_large"
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
            chunk = member.read(min(INFLATE_CHUNK, cap + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks)


def bulk_inputs(uploads: Iterable[Upload]) -> Iterator[Payload]:
    """Each file of ``uploads`` (zips opened) as bytes or a refusal, under the bulk limits;
    what :func:`instance_ingest_bulk` stores, and what an import's dry run checks."""
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
                f"This file is {size / 1e6:.1f} MB; the limit is {megabytes(limit)}.",
                code="too_large",
                status=413,
            )
            continue
        upload.seek(0)
        try:
            payload: bytes | IngestError = read_bounded(upload, limit=limit)
        except IngestError as exc:  # its declared size was wrong: it is longer than the limit
            payload = exc
        yield name, payload


# Files are filed in batches of at most this many files or bytes (the last may go over by
# one file): one transaction, one lookup of UIDs, patients, studies and series per batch.
BULK_BATCH_FILES = 50
BULK_BATCH_BYTES = 64 * 1024 * 1024


def instance_ingest_bulk(
    *,
    uploads: Iterable[Upload],
    uploaded_by: AbstractBaseUser | None = None,
    source: str = "upload",
) -> BulkIngestSummary:
    """Ingest many files (and the members of any .zip among them).

    The files are filed in batches through :func:`instances_ingest` (one transaction a
    batch, :data:`BULK_BATCH_FILES`, :data:`BULK_BATCH_BYTES`), where one refused file never
    costs the others. Returns what became of each file and the studies that received images
    or non-image objects. Raises nothing for bad files; they are ``rejected`` items with a
    reason. A file our side could not write (the disk) is rejected with that reason, the
    error logged; nothing of it is kept.
    """
    summary = BulkIngestSummary()
    studies: dict[str, BulkStudy] = {}
    batch: list[tuple[str, bytes]] = []
    size = 0

    def file_batch() -> None:
        outcomes = instances_ingest(
            files=[data for _, data in batch], uploaded_by=uploaded_by, source=source
        )
        for (name, _), outcome in zip(batch, outcomes, strict=True):
            _add(summary, studies, name, outcome)

    for name, payload in bulk_inputs(uploads):
        if isinstance(payload, IngestError):
            # Said where it stands among the files: the batch before it is filed first.
            if batch:
                file_batch()
                batch, size = [], 0
            _add(summary, studies, name, payload)
            continue
        batch.append((name, payload))
        size += len(payload)
        if len(batch) >= BULK_BATCH_FILES or size >= BULK_BATCH_BYTES:
            file_batch()
            batch, size = [], 0
    if batch:
        file_batch()
    summary.studies = list(studies.values())
    return summary


def _add(
    summary: BulkIngestSummary,
    studies: dict[str, BulkStudy],
    name: str,
    outcome: IngestResult | Exception,
) -> None:
    """One file's outcome into the summary (and its study into ``studies``)."""
    if isinstance(outcome, IngestError):
        summary.items.append(
            BulkItem(name=name, outcome="rejected", reason=str(outcome), code=outcome.code)
        )
        return
    if isinstance(outcome, Exception):
        logger.error("Could not store %s of a bulk upload", name, exc_info=outcome)
        summary.items.append(
            BulkItem(
                name=name,
                outcome="rejected",
                reason="The server could not write this file to its storage; nothing of it "
                "was kept. Try it again, or tell the administrator if it keeps failing.",
                code="storage",
            )
        )
        return
    instance = outcome.instance
    image = outcome.is_image
    study = instance.series.study
    summary.items.append(
        BulkItem(
            name=name,
            outcome="stored" if outcome.created else "duplicate",
            instance_id=instance.pk if image else None,
            study_instance_uid=study.study_instance_uid,
            non_image=not image,
            study_id=study.pk,
        )
    )
    known = studies.get(study.study_instance_uid)
    first = known.first_instance_id if known else None
    studies[study.study_instance_uid] = BulkStudy(
        study_instance_uid=study.study_instance_uid,
        description=study.description,
        patient=str(study.patient),
        first_instance_id=first if first is not None or not image else instance.pk,
        images=(known.images if known else 0) + int(image),
        study_id=study.pk,
        non_images=(known.non_images if known else 0) + int(not image),
    )
