"""Bring existing labels: a CSV of labels, with or without the DICOM files it names.

A hospital that already labelled images elsewhere brings them in once: an ML admin gives a CSV
(a header row, then one row per label) and, optionally, a folder or ``.zip`` of DICOM files.
Each row names its image by ``sop_instance_uid``, ``study_instance_uid`` (every image of the
study) or ``file`` / ``file_name`` (a path inside the folder or zip; a bare name when it is
unique), and gives a ``finding``: a code or a name of the vocabulary, in any case. An optional
``comment`` travels with the label. A row that fills several of the naming columns is matched
by the most specific: SOP Instance UID, then file, then Study Instance UID.

:func:`label_import` with ``dry_run=True`` reports, row by row, what an import would do and
writes nothing at all: no row, no audit event, no file. The files are read the way the bulk
ingest reads them (the same limits on files, archives and zip bombs) and checked by the
ingest's own parser, header and every frame, without being stored. Ingesting inside a
transaction that is then rolled back was not an option: the ingest writes each file to the
archive before its rows, so a rollback would leave the files behind. What a dry run cannot
foresee (another upload storing the same image meanwhile, a study already filed under another
patient ID) the real run reports as it happens.

The real run stores the files through :func:`imaging.ingest.bulk.instance_ingest_bulk` (each
file in its own transaction, as every upload), then, in one transaction with the images
locked, plans again on what is stored now and writes one review per labelled image through
:func:`diagnosis.review.services.review_record`: source "import", no reviewer, and
``imported_from`` naming the CSV, its row and the import batch. One ``labels.import`` audit
event keeps the counts; every audit event the import writes carries the batch.

What is never changed:

- a clinician's label: an image with a current clinician review is reported, as already
  labelled the same or as a conflict, and left alone;
- any other current label (an earlier import, the demo's synthetic ground truth): an import
  only labels images without a current review, so it never supersedes anything; a doctor
  corrects a label on the case page;
- a frozen test case: its label is the reference every model version was measured against,
  so an import neither relabels it nor adds a second label beside it. The row is reported
  (with the frozen finding when it differs) and a frozen label that is wrong is a matter for
  the team, not for an import.

Rows that cannot be imported (unknown or retired finding, no such image, an ambiguous file
name, a refused file, a duplicate or contradicting row) are reported and skipped; the others
are imported. A CSV that cannot be read at all is refused whole with
:class:`LabelImportRefused`, before anything is stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import models, transaction
from django.db.models import Q

from diagnosis.registry.models import Finding
from diagnosis.review.models import Review
from diagnosis.review.selectors import multi_label
from diagnosis.review.services import review_record
from imaging.ingest.bulk import Upload, bulk_inputs, instance_ingest_bulk
from imaging.ingest.errors import IngestError
from imaging.ingest.limits import max_upload_bytes, megabytes
from imaging.ingest.parsing import CONTROL_RE, PREAMBLE_LENGTH, parse_header, parse_pixels
from imaging.models import Instance
from medassist.services import audit_origin, audit_record

from .models import TestSetCase

IMPORT_ACTION = "labels.import"
# Instance.source of the images an import stores: not interactive, so a study is sent to the
# AI once, after the quiet period, as for a scanner's push (imaging/stability.py).
IMPORT_SOURCE = "import"
# Review.imported_from holds at most this many characters.
_IMPORTED_FROM_LENGTH = 300
_COMMENT_LENGTH = 2000
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")

SOP, STUDY, FILE = "sop_instance_uid", "study_instance_uid", "file"
# Header names (lower case, spaces and hyphens as underscores) -> the kind of key they hold.
_KEY_HEADERS = {
    "sop_instance_uid": SOP,
    "sopinstanceuid": SOP,
    "study_instance_uid": STUDY,
    "studyinstanceuid": STUDY,
    "file": FILE,
    "file_name": FILE,
    "filename": FILE,
}
# The most specific key a row gives is the one it is matched by.
_KEY_ORDER = (SOP, FILE, STUDY)
_KEY_WORDS = {SOP: "SOP Instance UID", STUDY: "Study Instance UID", FILE: "file"}


def max_rows() -> int:
    """The most rows one CSV may hold, and the most stored images its rows may name
    (``MEDASSIST_LABEL_IMPORT_MAX_ROWS``): every label is written during the request."""
    return int(settings.MEDASSIST_LABEL_IMPORT_MAX_ROWS)


class LabelImportRefused(ValueError):
    """The CSV cannot be imported at all; the message says why, for the ML admin."""


class Outcome(models.TextChoices):
    """What became (or, in a dry run, would become) of one row of the CSV."""

    IMPORT = "import", "Will import"
    SAME = "same", "Already labelled the same"
    CONFLICT = "conflict", "Conflicts with an existing label"
    FROZEN = "frozen", "In the frozen test set"
    UNKNOWN_FINDING = "unknown_finding", "Unknown finding"
    RETIRED_FINDING = "retired_finding", "Retired finding"
    NO_IMAGE = "no_image", "No such image"
    FILE_REFUSED = "file_refused", "File refused"
    AMBIGUOUS = "ambiguous", "Ambiguous file name"
    DUPLICATE = "duplicate", "Duplicate row"
    CONTRADICTS = "contradicts", "Contradicts another row"
    INVALID = "invalid", "Not understood"
    # A Study Instance UID row whose images fare differently (its message has the counts).
    MIXED = "mixed", "Several outcomes"


# How a row's outcome is named in the report of a real import, where it differs.
_DONE_LABELS = {Outcome.IMPORT: "Imported"}


@dataclass(frozen=True)
class LabelRow:
    """One row of the CSV. ``number`` counts as a spreadsheet does: the header is row 1."""

    number: int
    kind: str  # SOP, STUDY or FILE; "" when the row names no image
    key: str
    finding: str  # as written
    comment: str


@dataclass(frozen=True)
class LabelCsv:
    name: str
    rows: tuple[LabelRow, ...]


@dataclass(frozen=True)
class FileOutcome:
    """One DICOM file of the import and what the ingest did (or, in a dry run, would do)."""

    name: str
    outcome: str  # "stored", "duplicate" (already stored, unchanged) or "rejected"
    reason: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    # The stored instance; None for a rejected file, and in a dry run for a file not stored yet.
    instance_id: int | None = None


@dataclass
class RowReport:
    number: int
    kind: str
    key: str
    finding: str  # as written
    finding_code: str  # the vocabulary's code it was read as; "" when unknown
    status: str
    message: str
    images: int = 0  # the images this row names

    @property
    def kind_label(self) -> str:
        return _KEY_WORDS.get(self.kind, "")


@dataclass
class LabelImportReport:
    """What an import did (or, with ``dry_run``, would do), row by row and file by file."""

    csv_name: str
    dry_run: bool
    rows: list[RowReport]
    files: list[FileOutcome]
    labels: int  # images labelled (or to be labelled): one review each
    unlabelled_files: int  # files stored (or to be) that get no label from this import
    batch: uuid.UUID | None = None

    def rows_with(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def status_counts(self) -> list[tuple[str, str, int]]:
        """(status, its label, rows) for every status some row has, in the report's order."""
        counts = Counter(row.status for row in self.rows)
        return [
            (status, self.status_label(status), counts[status])
            for status in Outcome.values
            if counts[status]
        ]

    def status_label(self, status: str) -> str:
        if not self.dry_run and status in _DONE_LABELS:
            return _DONE_LABELS[Outcome(status)]
        return str(Outcome(status).label)

    @property
    def rows_with_labels(self) -> list[tuple[RowReport, str]]:
        """Each row with its outcome's name ("Will import" in a dry run, then "Imported")."""
        return [(row, self.status_label(row.status)) for row in self.rows]

    def files_with(self, outcome: str) -> int:
        return sum(1 for item in self.files if item.outcome == outcome)

    @property
    def files_stored(self) -> int:
        return self.files_with("stored")

    @property
    def files_duplicate(self) -> int:
        return self.files_with("duplicate")

    @property
    def rejected_files(self) -> list[FileOutcome]:
        return [item for item in self.files if item.outcome == "rejected"]

    def counts(self) -> dict[str, Any]:
        """The report as counts only (no UID, no name, no patient): what the audit keeps."""
        return {
            "rows": len(self.rows),
            "labels": self.labels,
            "rows_by_outcome": {status: n for status, _, n in self.status_counts},
            "files": len(self.files),
            "files_stored": self.files_with("stored"),
            "files_duplicate": self.files_with("duplicate"),
            "files_rejected": self.files_with("rejected"),
            "files_unlabelled": self.unlabelled_files,
        }


# --- Reading the CSV ------------------------------------------------------------------------


def _header_name(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


def _clean(value: str) -> str:
    return CONTROL_RE.sub("", value).strip()


def _delimiter(line: str) -> str:
    """Commas, or the semicolons or tabs some spreadsheets write, judged from the header."""
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def label_csv_parse(*, data: bytes, name: str) -> LabelCsv:
    """Read a labels CSV; raise :class:`LabelImportRefused` with the reason if it cannot be.

    UTF-8 (a byte-order mark is fine), a header row naming the columns, at most
    :func:`max_rows` rows. Blank rows are skipped. Values lose control characters and
    surrounding spaces; comments are cut at 2,000 characters.
    """
    shown = _clean(name)[-200:] or "The CSV file"
    limit = max_upload_bytes()
    if len(data) > limit:
        raise LabelImportRefused(
            f"“{shown}” is {len(data) / 1e6:.1f} MB; a labels CSV may be at most "
            f"{megabytes(limit)}."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LabelImportRefused(
            f"“{shown}” is not UTF-8 text (the first byte that is not is on line {line}). "
            "Save it as “CSV UTF-8” and try again."
        ) from None
    if not text.strip():
        raise LabelImportRefused(
            f"“{shown}” is empty: it needs a header row, then one row per label."
        )
    first_line = next(line for line in text.splitlines() if line.strip())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first_line))
    columns: dict[str, list[int]] | None = None
    rows: list[LabelRow] = []
    try:
        # Rows are numbered as a spreadsheet shows them: blank ones count, a quoted cell
        # spanning several lines is one row.
        for number, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue
            if columns is None:
                columns = _columns([_header_name(cell) for cell in cells], shown)
                continue
            if len(rows) >= max_rows():
                raise LabelImportRefused(
                    f"“{shown}” has more than {max_rows():,} rows; one import takes at most "
                    f"{max_rows():,}. Split it into several files."
                )
            rows.append(_row(cells, number=number, columns=columns))
    except csv.Error as exc:
        raise LabelImportRefused(
            f"“{shown}” could not be read as CSV near line {reader.line_num}: {exc}."
        ) from None
    if not rows:
        raise LabelImportRefused(f"“{shown}” has a header row but no label under it.")
    return LabelCsv(name=shown, rows=tuple(rows))


def _columns(header: list[str], shown: str) -> dict[str, list[int]]:
    """Where each key kind, the finding and the comment are: kind -> column positions."""
    found = ", ".join(h for h in header if h) or "no column names"
    seen = [h for h in header if h]
    doubled = sorted({h for h in seen if seen.count(h) > 1})
    if doubled:
        raise LabelImportRefused(f"“{shown}” has the column {doubled[0]} twice; keep one of them.")
    columns: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        kind = _KEY_HEADERS.get(name)
        if kind is not None:
            columns.setdefault(kind, []).append(position)
        elif name in {"finding", "comment"}:
            columns[name] = [position]
    if not any(kind in columns for kind in _KEY_ORDER):
        raise LabelImportRefused(
            f"“{shown}” has no column naming the image. Its header row needs one of "
            f"sop_instance_uid, study_instance_uid or file (it has: {found})."
        )
    if "finding" not in columns:
        raise LabelImportRefused(
            f"“{shown}” has no finding column. Its header row needs a column called finding, "
            f"holding a finding's code or name (it has: {found})."
        )
    return columns


def _row(cells: list[str], *, number: int, columns: dict[str, list[int]]) -> LabelRow:
    def cell(position: int) -> str:
        return _clean(cells[position]) if position < len(cells) else ""

    kind, key = "", ""
    for candidate in _KEY_ORDER:
        values = [cell(p) for p in columns.get(candidate, []) if cell(p)]
        if values:
            kind, key = candidate, values[0]
            break
    comment = cell(columns["comment"][0])[:_COMMENT_LENGTH] if "comment" in columns else ""
    return LabelRow(
        number=number, kind=kind, key=key, finding=cell(columns["finding"][0]), comment=comment
    )


# --- The files ------------------------------------------------------------------------------


class FolderFiles:
    """Every file under a folder (subfolders too, links not followed), named by its path
    inside the folder and opened one at a time as the ingest reads it. Iterable again."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __iter__(self) -> Iterator[File]:
        paths = []
        for folder, dirs, files in os.walk(self.root, followlinks=False):
            dirs.sort()
            paths.extend(Path(folder, name) for name in files)
        for path in sorted(paths):
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                yield File(handle, name=path.relative_to(self.root).as_posix())


def label_import_fingerprint(*, csv_data: bytes, csv_name: str, uploads: Iterable[Upload]) -> str:
    """A SHA-256 over the CSV and the files (names and bytes): the page's proof that the
    import it confirms is of the very files whose dry run the ML admin saw."""
    digest = hashlib.sha256()
    digest.update(csv_name.encode("utf-8", "replace") + b"\0")
    digest.update(hashlib.sha256(csv_data).digest())
    for upload in uploads:
        digest.update((upload.name or "").encode("utf-8", "replace") + b"\0")
        upload.seek(0)
        while chunk := upload.read(1 << 20):
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()


def _preview(name: str, payload: bytes | IngestError, seen: dict[str, str]) -> FileOutcome:
    """What :func:`instance_ingest` would do with this file, found without storing anything.

    The same checks in the same order: size, header, the identical-duplicate shortcut, every
    frame decoded, then a different file under a stored SOP Instance UID is a conflict.
    ``seen`` maps the SOP Instance UIDs of this import's earlier files to their SHA-256.
    """
    if isinstance(payload, IngestError):
        return FileOutcome(name=name, outcome="rejected", reason=str(payload))
    limit = max_upload_bytes()
    if len(payload) > limit:
        reason = f"This file is {len(payload) / 1e6:.1f} MB; the limit is {megabytes(limit)}."
        return FileOutcome(name=name, outcome="rejected", reason=reason)
    try:
        header, _head, stream_length = parse_header(payload)
    except IngestError as exc:
        return FileOutcome(name=name, outcome="rejected", reason=str(exc))
    sop, study = header.sop_instance_uid, header.study_instance_uid
    sha256 = hashlib.sha256(b"\0" * PREAMBLE_LENGTH + payload[PREAMBLE_LENGTH:]).hexdigest()
    stored = Instance.objects.filter(sop_instance_uid=sop).values_list("pk", "sha256").first()
    earlier = seen.get(sop)
    if stored is not None and stored[1] == sha256:
        return FileOutcome(name, "duplicate", "", sop, study, instance_id=stored[0])
    if earlier == sha256:
        return FileOutcome(name, "duplicate", "", sop, study)
    try:
        parse_pixels(payload, header, stream_length)
    except IngestError as exc:
        return FileOutcome(name=name, outcome="rejected", reason=str(exc))
    if stored is not None or earlier is not None:
        reason = (
            "A different image with the same SOP Instance UID is already stored; it would not "
            "be changed, and this file would be kept aside for an administrator to review."
        )
        return FileOutcome(name=name, outcome="rejected", reason=reason)
    seen[sop] = sha256
    return FileOutcome(name, "stored", "", sop, study)


def _stored_outcomes(
    uploads: Iterable[Upload], *, actor: AbstractBaseUser | None
) -> list[FileOutcome]:
    summary = instance_ingest_bulk(uploads=uploads, uploaded_by=actor, source=IMPORT_SOURCE)
    ids = [item.instance_id for item in summary.items if item.instance_id is not None]
    sops = dict(Instance.objects.filter(pk__in=ids).values_list("pk", "sop_instance_uid"))
    return [
        FileOutcome(
            name=item.name,
            outcome=item.outcome,
            reason=item.reason,
            sop_instance_uid=sops.get(item.instance_id or 0, ""),
            study_instance_uid=item.study_instance_uid,
            instance_id=item.instance_id,
        )
        for item in summary.items
    ]


# --- Matching rows to images, and what each image's label would be ---------------------------


@dataclass(frozen=True)
class _Image:
    sop: str
    study: str
    instance_id: int | None  # None: a file the dry run would store


@dataclass
class _Index:
    """The images the rows can name: the import's files and the stored instances."""

    by_sop: dict[str, _Image]
    by_study: dict[str, list[_Image]]
    files: list[FileOutcome]
    # Every tail of every file's path (case-folded parts) -> the files whose path ends so.
    by_tail: dict[tuple[str, ...], list[FileOutcome]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for item in self.files:
            parts = _path_parts(item.name)
            for start in range(len(parts)):
                self.by_tail.setdefault(parts[start:], []).append(item)

    def file_matches(self, key: str) -> list[FileOutcome]:
        """Files whose path ends with ``key``'s path (case-insensitive, / or \\)."""
        return self.by_tail.get(_path_parts(key), [])


def _path_parts(name: str) -> tuple[str, ...]:
    return tuple(p for p in name.replace("\\", "/").casefold().split("/") if p not in {"", "."})


def _stored_targets(parsed: LabelCsv) -> Q:
    sops = {row.key for row in parsed.rows if row.kind == SOP}
    studies = {row.key for row in parsed.rows if row.kind == STUDY}
    return Q(sop_instance_uid__in=sops) | Q(series__study__study_instance_uid__in=studies)


def _check_stored_targets(parsed: LabelCsv) -> None:
    """Refuse rows naming more stored images than one import may label (a Study Instance
    UID row names all of its study's)."""
    named = Instance.objects.filter(_stored_targets(parsed)).count()
    if named > max_rows():
        raise LabelImportRefused(
            f"The rows of “{parsed.name}” name {named:,} stored images (a Study Instance UID "
            f"names every image of its study); one import labels at most {max_rows():,}. "
            "Split it into several files."
        )


def _index(parsed: LabelCsv, files: list[FileOutcome]) -> _Index:
    by_sop: dict[str, _Image] = {}
    for item in files:
        if item.outcome != "rejected" and item.sop_instance_uid:
            by_sop.setdefault(
                item.sop_instance_uid,
                _Image(item.sop_instance_uid, item.study_instance_uid, item.instance_id),
            )
    stored = Instance.objects.filter(_stored_targets(parsed)).values_list(
        "pk", "sop_instance_uid", "series__study__study_instance_uid"
    )
    for pk, sop, study in stored:
        by_sop[sop] = _Image(sop, study, pk)
    by_study: dict[str, list[_Image]] = {}
    for image in sorted(by_sop.values(), key=lambda i: (i.instance_id is None, i.sop)):
        by_study.setdefault(image.study, []).append(image)
    return _Index(by_sop, by_study, files)


class _Vocabulary:
    def __init__(self) -> None:
        findings = list(Finding.objects.order_by("-is_active", "sort_order", "code"))
        self.by_code = {f.code.casefold(): f for f in findings}
        self.by_name: dict[str, Finding] = {}
        for finding in findings:  # offered findings first, so a name prefers the offered one
            self.by_name.setdefault(finding.name.strip().casefold(), finding)
        self.offered = [f.code for f in findings if f.is_active]

    def find(self, text: str) -> Finding | None:
        key = text.strip().casefold()
        return self.by_code.get(key) or self.by_name.get(key)


@dataclass
class _Claim:
    row: LabelRow
    finding: Finding
    status: str = Outcome.IMPORT
    message: str = ""


@dataclass
class _Label:
    """One image's label: the findings the rows give it, and what becomes of it."""

    image: _Image
    claims: list[_Claim] = field(default_factory=list)

    @property
    def live(self) -> list[_Claim]:
        return [c for c in self.claims if c.status == Outcome.IMPORT]

    @property
    def findings(self) -> list[Finding]:
        return list({c.finding.pk: c.finding for c in self.live}.values())


def _names(findings: Iterable[Finding]) -> str:
    return " + ".join(f"{f.name} ({f.code})" for f in findings) or "no finding"


def _resolve_row(
    row: LabelRow, index: _Index, vocabulary: _Vocabulary, report: RowReport
) -> tuple[Finding | None, list[_Image]]:
    """The finding and the images ``row`` names; on a row-level problem, set ``report``'s
    status and message and return no image."""

    def refuse(status: str, message: str) -> tuple[Finding | None, list[_Image]]:
        report.status, report.message = status, message
        return None, []

    if not row.kind:
        return refuse(
            Outcome.INVALID,
            "This row names no image: its SOP Instance UID, Study Instance UID and file are empty.",
        )
    if not row.finding:
        return refuse(Outcome.INVALID, "This row gives no finding.")
    finding = vocabulary.find(row.finding)
    if finding is None:
        return refuse(
            Outcome.UNKNOWN_FINDING,
            f"“{row.finding}” is neither the code nor the name of a finding in the vocabulary "
            f"(the offered codes are {', '.join(vocabulary.offered) or 'none'}). An ML admin "
            "adds findings on Models → Findings.",
        )
    report.finding_code = finding.code
    if not finding.is_active:
        return refuse(
            Outcome.RETIRED_FINDING,
            f"“{finding.name}” ({finding.code}) is retired: it is no longer offered or trained, "
            "so labels with it are not imported.",
        )
    if row.kind in {SOP, STUDY} and (len(row.key) > 64 or not _UID_RE.match(row.key)):
        return refuse(
            Outcome.INVALID,
            f"“{row.key[:80]}” is not a valid {_KEY_WORDS[row.kind]} (digits and dots, at most "
            "64 characters).",
        )
    if row.kind == SOP:
        image = index.by_sop.get(row.key)
        if image is None:
            return refuse(
                Outcome.NO_IMAGE,
                "No image with this SOP Instance UID is stored, nor among the files given.",
            )
        return finding, [image]
    if row.kind == STUDY:
        images = index.by_study.get(row.key, [])
        if not images:
            return refuse(
                Outcome.NO_IMAGE,
                "No image of this Study Instance UID is stored, nor among the files given.",
            )
        return finding, images
    matches = index.file_matches(row.key)
    if not matches:
        given = "" if index.files else " (no files were given)"
        return refuse(Outcome.NO_IMAGE, f"No file “{row.key}” among the files given{given}.")
    if len(matches) > 1:
        shown = ", ".join(m.name for m in matches[:3]) + (", …" if len(matches) > 3 else "")
        return refuse(
            Outcome.AMBIGUOUS,
            f"“{row.key}” matches {len(matches)} files ({shown}); give its path inside the "
            "folder or zip.",
        )
    item = matches[0]
    if item.outcome == "rejected":
        return refuse(Outcome.FILE_REFUSED, f"The file {item.name} is refused: {item.reason}")
    image = index.by_sop.get(item.sop_instance_uid)
    if image is None:  # an identical copy of an earlier file of this import
        image = _Image(item.sop_instance_uid, item.study_instance_uid, item.instance_id)
    return finding, [image]


def _settle_rows(label: _Label, single: bool) -> None:
    """Mark repeated and contradicting rows of one image; the rest stay to import."""
    first: dict[int, _Claim] = {}
    for claim in label.claims:
        earlier = first.get(claim.finding.pk)
        if earlier is not None:
            claim.status = Outcome.DUPLICATE
            claim.message = f"Repeats row {earlier.row.number} for this image."
        else:
            first[claim.finding.pk] = claim
    if single and len(first) > 1:
        numbers = ", ".join(str(c.row.number) for c in first.values())
        given = ", ".join(f"{c.finding.code} (row {c.row.number})" for c in first.values())
        for claim in first.values():
            claim.status = Outcome.CONTRADICTS
            claim.message = (
                f"Rows {numbers} give this image different findings: {given}. An image takes "
                "one finding here, so none of them is imported."
            )


_SOURCE_WORDS = {
    Review.Source.CLINICIAN: "by a clinician",
    Review.Source.IMPORT: "by an earlier import",
    Review.Source.SYNTHETIC_TRUTH: "by the demo's synthetic ground truth",
}


def _source_word(review: Review) -> str:
    return _SOURCE_WORDS.get(review.source, f"({review.source})")


def _settle_state(
    label: _Label,
    *,
    current: list[Review],
    frozen: TestSetCase | None,
    dry_run: bool,
) -> None:
    """Decide the image's live rows against what it already has: a frozen case, a label."""
    live = label.live
    if not live:
        return
    wanted = {f.pk for f in label.findings}
    names = _names(label.findings)
    status, message = Outcome.IMPORT, ""
    if frozen is not None:
        status = Outcome.FROZEN
        if {frozen.finding_id} == wanted:
            message = f"A frozen test case, already {frozen.finding.name}: nothing to import."
        else:
            message = (
                f"A frozen test case, labelled {frozen.finding.name} ({frozen.finding.code}) in "
                f"the test set: its label never changes, so {names} is not imported. Every "
                "model version was measured against the frozen label; if it is wrong, raise it "
                "with the team."
            )
    elif current:
        differing = [
            r
            for r in current
            if r.action == Review.Action.REJECT or {f.pk for f in r.findings.all()} != wanted
        ]
        if not differing:
            status = Outcome.SAME
            message = f"Already labelled {names} {_source_word(current[-1])}: nothing to import."
        else:
            status = Outcome.CONFLICT
            other = next(
                (r for r in differing if r.source == Review.Source.CLINICIAN), differing[0]
            )
            if other.action == Review.Action.REJECT:
                existing = "rejected this image as non-diagnostic"
            else:
                existing = f"labelled this image {_names(other.findings.all())}"
            if other.source == Review.Source.CLINICIAN:
                message = (
                    f"A clinician {existing}; a clinician's label is never overwritten, so "
                    f"{names} is not imported."
                )
            else:
                message = (
                    f"This image is already labelled {_names(other.findings.all())} "
                    f"{_source_word(other)}; an import never replaces a label, so {names} is "
                    "not imported. A doctor can correct the label on the case page."
                )
    elif dry_run and label.image.instance_id is None:
        message = f"Will store the file and import {names}."
    elif dry_run:
        message = f"Will import {names}."
    else:
        message = f"Imported {names}."
    for claim in live:
        claim.status, claim.message = status, message


def _row_outcome(report: RowReport, claims: list[_Claim]) -> None:
    """A row's status and message from what became of each image it names."""
    report.images = len(claims)
    statuses = Counter(c.status for c in claims)
    if len(claims) == 1:
        report.status, report.message = claims[0].status, claims[0].message
        return
    if len(statuses) == 1:
        report.status = claims[0].status
        report.message = f"All {len(claims)} images of this study: {claims[0].message}"
        return
    report.status = Outcome.MIXED
    parts = []
    for status in Outcome.values:
        if statuses[status]:
            example = next(c.message for c in claims if c.status == status)
            parts.append(f"{statuses[status]}: {example}")
    report.message = f"{len(claims)} images of this study. " + " ".join(parts)


@dataclass
class _Plan:
    report: LabelImportReport
    labels: list[_Label]
    row_claims: list[list[_Claim]]  # per row of the report, the images it names

    def restate_rows(self) -> None:
        """Each row's outcome from its images' (again, once labels have been written)."""
        for report, claims in zip(self.report.rows, self.row_claims, strict=True):
            if claims:
                _row_outcome(report, claims)

    @property
    def to_import(self) -> list[_Label]:
        """The images to label: those with rows still to import after every check."""
        return [label for label in self.labels if label.live]

    def count(self) -> None:
        """Set the report's totals: images to label, and new files left without a label."""
        to_import = self.to_import
        labelled = {label.image.sop for label in to_import}
        self.report.labels = len(to_import)
        self.report.unlabelled_files = sum(
            1
            for item in self.report.files
            if item.outcome == "stored" and item.sop_instance_uid not in labelled
        )


def _plan(
    parsed: LabelCsv, files: list[FileOutcome], *, dry_run: bool, lock: bool = False
) -> _Plan:
    """Match every row to its images and decide each image's label against what is stored.

    With ``lock`` (inside the real run's transaction) the stored images named are locked
    before their labels and frozen cases are read, so a review submitted meanwhile waits.
    """
    index = _index(parsed, files)
    vocabulary = _Vocabulary()
    reports: list[RowReport] = []
    labels: dict[str, _Label] = {}
    row_claims: list[list[_Claim]] = []
    for row in parsed.rows:
        report = RowReport(row.number, row.kind, row.key, row.finding, "", "", "")
        reports.append(report)
        claims = []
        finding, images = _resolve_row(row, index, vocabulary, report)
        for image in images:
            assert finding is not None  # an image is named only with a known finding
            claim = _Claim(row=row, finding=finding)
            labels.setdefault(image.sop, _Label(image)).claims.append(claim)
            claims.append(claim)
        row_claims.append(claims)

    single = not multi_label()
    for label in labels.values():
        _settle_rows(label, single)
    ids = sorted(
        label.image.instance_id
        for label in labels.values()
        if label.live and label.image.instance_id is not None
    )
    if lock and ids:
        list(Instance.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    current: dict[int, list[Review]] = {}
    for review in (
        Review.objects.filter(instance_id__in=ids, superseded_by__isnull=True)
        .prefetch_related("findings")
        .order_by("pk")
    ):
        current.setdefault(review.instance_id, []).append(review)
    frozen = {
        case.instance_id: case
        for case in TestSetCase.objects.filter(instance_id__in=ids).select_related("finding")
    }
    for label in labels.values():
        pk = label.image.instance_id
        _settle_state(
            label,
            current=current.get(pk, []) if pk is not None else [],
            frozen=frozen.get(pk) if pk is not None else None,
            dry_run=dry_run,
        )
    plan = _Plan(
        LabelImportReport(
            csv_name=parsed.name,
            dry_run=dry_run,
            rows=reports,
            files=files,
            labels=0,
            unlabelled_files=0,
        ),
        list(labels.values()),
        row_claims,
    )
    plan.restate_rows()
    plan.count()
    return plan


def _imported_from(csv_name: str, rows: Sequence[LabelRow], batch: uuid.UUID) -> str:
    """Where a label came from: "<csv name> row <n> (import <batch>)", within 300 characters."""
    numbers = sorted({r.number for r in rows})
    where = f" row{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))} (import {batch})"
    return csv_name[: _IMPORTED_FROM_LENGTH - len(where)] + where


def _write(plan: _Plan, *, csv_name: str, batch: uuid.UUID) -> None:
    """One review per image to label; an image the review service refuses is reported."""
    to_import = plan.to_import
    instances = Instance.objects.in_bulk([label.image.instance_id for label in to_import])
    for label in to_import:
        live = label.live
        comments = list(dict.fromkeys(c.row.comment for c in live if c.row.comment))
        try:
            review_record(
                instance=instances[label.image.instance_id],  # type: ignore[index]
                reviewer=None,
                decision=Review.Action.CORRECT,
                findings=label.findings,
                comment="\n".join(comments)[:_COMMENT_LENGTH],
                source=Review.Source.IMPORT,
                imported_from=_imported_from(csv_name, [c.row for c in live], batch),
            )
        except ValidationError as exc:
            for claim in live:
                claim.status = Outcome.INVALID
                claim.message = "The label could not be recorded: " + " ".join(exc.messages)
            continue


# --- The service ----------------------------------------------------------------------------


def label_import(
    *,
    csv_data: bytes,
    csv_name: str,
    uploads: Iterable[Upload] = (),
    actor: AbstractBaseUser | None,
    dry_run: bool,
    remote_addr: str | None = None,
) -> LabelImportReport:
    """Import the labels of a CSV, storing the DICOM files of ``uploads`` first; see the
    module docstring for what is imported, what is reported and what is never changed.

    ``uploads`` are files as Django presents them (an upload, a :class:`FolderFiles` entry),
    plain DICOM files or ``.zip`` archives, read as the bulk ingest reads them. With
    ``dry_run`` nothing is written anywhere. Otherwise the files are stored (each in its own
    transaction: a file stored stays stored), then every label is written in one transaction
    with one ``labels.import`` audit event (counts only). ``remote_addr`` is recorded on
    every audit event the import writes, with the batch id.

    Raises:
        LabelImportRefused: the CSV cannot be read, or names too many images; nothing was
            stored.
    """
    parsed = label_csv_parse(data=csv_data, name=csv_name)
    _check_stored_targets(parsed)
    if dry_run:
        seen: dict[str, str] = {}
        files = [_preview(name, payload, seen) for name, payload in bulk_inputs(uploads)]
        return _plan(parsed, files, dry_run=True).report
    batch = uuid.uuid4()
    with audit_origin(remote_addr=remote_addr, label_import=str(batch)):
        files = _stored_outcomes(uploads, actor=actor)
        with transaction.atomic():
            plan = _plan(parsed, files, dry_run=False, lock=True)
            _write(plan, csv_name=parsed.name, batch=batch)
            plan.restate_rows()
            plan.count()
            plan.report.batch = batch
            audit_record(
                actor=actor,
                action=IMPORT_ACTION,
                detail={**plan.report.counts(), "batch": str(batch)},
            )
    return plan.report
