"""De-identified dataset export: chosen labelled images and their labels, in one zip file.

An ML admin picks findings and a study-date range; :func:`export_plan` counts what would go
(the dry run) and what is left out and why; :func:`dataset_export` writes the zip under
``MEDIA_ROOT/exports/<server key>.zip`` and audits it. Every image is de-identified by
:mod:`imaging.deid` (PS3.15 Basic Application Level Confidentiality Profile, optionally
with Modified Dates and Clean Descriptors). ``labels.csv`` is keyed by the new UIDs and a
per-export patient pseudonym, never by the MRN or name. The export runs in the request,
so one export holds at most ``MEDASSIST_EXPORT_MAX_IMAGES`` labelled images.

The audit event (``dataset.export``) is also the export's record: who made it, its key,
counts and options. Only that user may download it (:func:`export_download`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import secrets
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from diagnosis.review.models import Review
from diagnosis.review.selectors import current_label_reviews
from imaging.deid import (
    Deidentifier,
    DeidOptions,
    burned_in_reason,
    dataset_file_bytes,
    descriptor_normalized,
    instance_header,
)
from imaging.selectors import StoredFileError, instance_read_dataset
from medassist.models import AuditEvent
from medassist.services import audit_record

EXPORT_ACTION = "dataset.export"
DOWNLOAD_ACTION = "dataset.export.download"
UNREADABLE = "stored file missing or damaged"
# Descriptors kept under Clean Descriptors when nothing else is configured: plain
# anatomical and projection words that cannot name anybody.
DEFAULT_DESCRIPTOR_ALLOWLIST = (
    "CHEST",
    "CHEST PA",
    "CHEST AP",
    "CHEST LAT",
    "CHEST LATERAL",
    "CHEST PA AND LATERAL",
    "CHEST PA LAT",
    "THORAX",
    "CT CHEST",
    "CT THORAX",
    "CR CHEST",
    "DX CHEST",
    "PA",
    "AP",
    "LAT",
    "LATERAL",
)
_KEY = re.compile(r"[0-9a-f]{32}")
LABEL_COLUMNS = (
    "file",
    "sop_instance_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient",
    "finding",
    "findings",
    "label_kind",
    "label_source",
    "modality",
)


class ExportRefused(ValueError):
    """The export cannot be made as asked; the message says why, for the ML admin."""


class ExportNotFound(LookupError):
    """No export with that key belongs to this user, or its file is gone."""


def max_images() -> int:
    """The most labelled images one export may hold (it is written during the request)."""
    return int(settings.MEDASSIST_EXPORT_MAX_IMAGES)


def descriptor_allowlist() -> frozenset[str]:
    """The descriptors Clean Descriptors keeps (``MEDASSIST_EXPORT_DESCRIPTOR_ALLOWLIST``)."""
    configured = getattr(
        settings, "MEDASSIST_EXPORT_DESCRIPTOR_ALLOWLIST", DEFAULT_DESCRIPTOR_ALLOWLIST
    )
    return frozenset(descriptor_normalized(text) for text in configured if str(text).strip())


def exports_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "exports"


@dataclass(frozen=True)
class ExportChoice:
    """What the ML admin asked for. ``findings`` are finding codes (at least one)."""

    findings: tuple[str, ...]
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    modified_dates: bool = False
    clean_descriptors: bool = False
    include_burned_in: bool = False

    def detail(self) -> dict[str, Any]:
        """The choice for the audit log: codes, dates of the range and flags, no PHI."""
        return {
            "findings": list(self.findings),
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "modified_dates": self.modified_dates,
            "clean_descriptors": self.clean_descriptors,
            "include_burned_in": self.include_burned_in,
        }


@dataclass(frozen=True)
class LeftOut:
    """An image that matched but stays out; ``instance_id`` is MedAssist's own row id."""

    instance_id: int
    modality: str
    reason: str


@dataclass
class ExportPlan:
    """The dry run: the labels whose images go in, and what is left out."""

    choice: ExportChoice
    labels: list[Review]
    left_out: list[LeftOut]

    @property
    def n_images(self) -> int:
        return len(self.labels)

    @property
    def n_patients(self) -> int:
        return len({review.instance.series.study.patient_id for review in self.labels})

    @property
    def left_out_counts(self) -> dict[str, int]:
        return dict(Counter(item.reason for item in self.left_out))


@dataclass
class ExportResult:
    key: str
    n_images: int
    n_patients: int
    left_out: list[LeftOut] = field(default_factory=list)

    @property
    def left_out_counts(self) -> dict[str, int]:
        return dict(Counter(item.reason for item in self.left_out))


def export_labels(*, choice: ExportChoice) -> QuerySet[Review]:
    """The current label of every image matching ``choice`` (oldest label first).

    The same labels training learns from (:func:`current_label_reviews`): the single read,
    the agreed double read or the adjudication; never a rejected image. The date range is
    on the study date, inclusive; studies without a date match only when no range is given.
    """
    labels = current_label_reviews().filter(finding__code__in=choice.findings)
    if choice.date_from:
        labels = labels.filter(instance__series__study__study_date__gte=choice.date_from)
    if choice.date_to:
        labels = labels.filter(instance__series__study__study_date__lte=choice.date_to)
    return (
        labels.select_related("instance__series__study", "finding")
        .prefetch_related("findings")
        .order_by("pk")
    )


def export_plan(*, choice: ExportChoice) -> ExportPlan:
    """Count what an export of ``choice`` would hold (reads headers, writes nothing).

    Raises ExportRefused when more labelled images match than one export may hold.
    """
    labels = export_labels(choice=choice)
    limit = max_images()
    matching = labels.count()
    if matching > limit:
        raise ExportRefused(
            f"{matching:,} labelled images match, but one export holds at most {limit:,} "
            "because it is written while you wait. Choose fewer findings or a shorter "
            "date range, and export in parts."
        )
    plan = ExportPlan(choice=choice, labels=[], left_out=[])
    for review in labels:
        instance = review.instance
        try:
            header = instance_header(instance=instance)
        except (OSError, InvalidDicomError):
            plan.left_out.append(_left_out(review, UNREADABLE))
            continue
        reason = burned_in_reason(header)
        if reason and not choice.include_burned_in:
            plan.left_out.append(_left_out(review, reason))
            continue
        plan.labels.append(review)
    return plan


def dataset_export(
    *, choice: ExportChoice, actor: AbstractBaseUser, remote_addr: str | None = None
) -> ExportResult:
    """Write the de-identified export of ``choice`` and audit it; return its key and counts.

    The zip appears under its final name only when complete. Each file is read verified
    against its SHA-256 and checked for burned-in annotation again, since the dry run read
    unverified headers. Raises ExportRefused when too many or no images would go in.
    """
    plan = export_plan(choice=choice)
    if not plan.labels:
        raise ExportRefused("No labelled image matches these choices: there is nothing to export.")
    key = secrets.token_hex(16)
    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{key}.zip"
    partial = folder / f".{key}.part"
    deid = Deidentifier(
        DeidOptions(
            modified_dates=choice.modified_dates,
            clean_descriptors=choice.clean_descriptors,
            descriptor_allowlist=descriptor_allowlist(),
        )
    )
    left_out = list(plan.left_out)
    rows: list[dict[str, str]] = []
    pseudonyms: dict[int, str] = {}
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for review in plan.labels:
                instance = review.instance
                try:
                    ds = instance_read_dataset(instance=instance)
                except (StoredFileError, InvalidDicomError, OSError):
                    left_out.append(_left_out(review, UNREADABLE))
                    continue
                reason = burned_in_reason(ds)
                if reason and not choice.include_burned_in:
                    left_out.append(_left_out(review, reason))
                    continue
                patient_id = instance.series.study.patient_id
                out = deid.deidentify(ds, patient_key=str(patient_id))
                name = f"images/{len(rows) + 1:06d}.dcm"
                # Pixel data hardly compresses; storing it keeps the export fast.
                archive.writestr(name, dataset_file_bytes(out), compress_type=zipfile.ZIP_STORED)
                pseudonym = pseudonyms.setdefault(patient_id, f"P{len(pseudonyms) + 1:04d}")
                rows.append(_label_row(name, out, review, pseudonym))
            if not rows:
                raise ExportRefused(
                    "Every matching image was left out (see the reasons in the dry run)."
                )
            archive.writestr("labels.csv", _labels_csv(rows))
            archive.writestr("README.txt", _readme(choice, len(rows), len(pseudonyms), left_out))
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    detail = {
        "key": key,
        "counts": {"images": len(rows), "patients": len(pseudonyms), "left_out": len(left_out)},
        "options": choice.detail(),
        "left_out": [{"instance": item.instance_id, "reason": item.reason} for item in left_out],
    }
    try:
        audit_record(actor=actor, action=EXPORT_ACTION, detail=detail, remote_addr=remote_addr)
    except BaseException:
        # An export nobody can account for must not stay on disk.
        final.unlink(missing_ok=True)
        raise
    return ExportResult(key=key, n_images=len(rows), n_patients=len(pseudonyms), left_out=left_out)


def exports_of(*, actor: AbstractBaseUser, limit: int = 10) -> list[dict[str, Any]]:
    """``actor``'s latest exports, newest first, from their audit events."""
    events = AuditEvent.objects.filter(action=EXPORT_ACTION, actor=actor).order_by("-at")[:limit]
    return [
        {
            "at": event.at,
            "key": event.detail.get("key", ""),
            "counts": event.detail.get("counts", {}),
            "options": event.detail.get("options", {}),
            "available": _available(event.detail.get("key", "")),
        }
        for event in events
    ]


def export_download(*, actor: AbstractBaseUser, key: str, remote_addr: str | None = None) -> Path:
    """The zip of export ``key`` if ``actor`` made it (the download is audited).

    Raises ExportNotFound for a malformed key, somebody else's export or a missing file,
    alike, so that nobody learns which keys exist.
    """
    if not _KEY.fullmatch(key or ""):
        raise ExportNotFound(key)
    made = AuditEvent.objects.filter(action=EXPORT_ACTION, actor=actor, detail__key=key)
    if not made.exists() or not _available(key):
        raise ExportNotFound(key)
    audit_record(actor=actor, action=DOWNLOAD_ACTION, detail={"key": key}, remote_addr=remote_addr)
    return exports_dir() / f"{key}.zip"


def _available(key: str) -> bool:
    # Only a server-made key names a file; nothing else is looked up on disk.
    return bool(_KEY.fullmatch(key or "")) and (exports_dir() / f"{key}.zip").is_file()


def _left_out(review: Review, reason: str) -> LeftOut:
    instance = review.instance
    return LeftOut(instance_id=instance.pk, modality=instance.series.modality, reason=reason)


def _label_row(name: str, ds: Dataset, review: Review, pseudonym: str) -> dict[str, str]:
    first = review.finding.code if review.finding else ""
    codes = [finding.code for finding in review.findings.all()] or [first]
    return {
        "file": name,
        "sop_instance_uid": str(ds.SOPInstanceUID),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
        "study_instance_uid": str(ds.get("StudyInstanceUID", "")),
        "patient": pseudonym,
        "finding": first,
        "findings": ";".join(sorted(codes)),
        "label_kind": review.kind,
        "label_source": review.source,
        "modality": str(ds.get("Modality", "")),
    }


def _labels_csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _readme(choice: ExportChoice, n_images: int, n_patients: int, left_out: list[LeftOut]) -> str:
    options = ["DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"]
    if choice.modified_dates:
        options.append(
            "Retain Longitudinal Temporal Information with Modified Dates Option "
            "(each patient's dates moved back by one random offset)"
        )
    if choice.clean_descriptors:
        options.append("Clean Descriptors Option (only allow-listed descriptors kept)")
    lines = [
        "MedAssist de-identified dataset export",
        "",
        f"Images: {n_images} of {n_patients} patients (labels.csv, one row per image).",
        "De-identification: " + "; ".join(options) + ".",
        "Pixel data is unchanged; text burned into the pixels is not removed.",
        "Images with burned-in annotation: "
        + ("included at the exporter's request." if choice.include_burned_in else "left out."),
        "",
        "labels.csv columns: " + ", ".join(LABEL_COLUMNS) + ".",
        "patient is a pseudonym valid inside this export only.",
    ]
    counts = Counter(item.reason for item in left_out)
    if counts:
        lines += ["", "Left out:"] + [f"  {n} x {reason}" for reason, n in sorted(counts.items())]
    return "\n".join(lines) + "\n"
