"""Bring existing labels from a CSV: ``manage.py label_import labels.csv [--files DIR_OR_ZIP]``."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from finetune.label_import import (
    FolderFiles,
    LabelImportRefused,
    LabelImportReport,
    Outcome,
    label_import,
)


class Command(BaseCommand):
    help = (
        "Import existing labels from a CSV (a column naming the image: sop_instance_uid, "
        "study_instance_uid or file; a finding column; an optional comment), storing the DICOM "
        "files of --files first through the ordinary ingest. Labels become reviews with source "
        "'import'; a clinician's label is never overwritten and frozen test cases keep theirs. "
        "Audited as labels.import. Try --dry-run first: it writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", type=Path, help="The labels CSV (UTF-8, with a header row).")
        parser.add_argument(
            "--files",
            type=Path,
            default=None,
            metavar="DIR_OR_ZIP",
            help="A folder (read with its subfolders) or a .zip of the DICOM files the CSV "
            "names. Without it, the CSV labels images already stored.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would happen; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Paths whether the options came from the command line or from call_command.
        csv_path = Path(options["csv"])
        files = Path(options["files"]) if options["files"] is not None else None
        if not csv_path.is_file():
            raise CommandError(f"{csv_path}: no such file.")
        if files is not None and not files.exists():
            raise CommandError(f"{files}: no such folder or file.")
        with ExitStack() as stack:
            uploads: Any = ()
            if files is not None and files.is_dir():
                uploads = FolderFiles(files)
            elif files is not None:
                handle = stack.enter_context(files.open("rb"))
                uploads = [File(handle, name=files.name)]
            try:
                report = label_import(
                    csv_data=csv_path.read_bytes(),
                    csv_name=csv_path.name,
                    uploads=uploads,
                    actor=None,
                    dry_run=options["dry_run"],
                )
            except LabelImportRefused as exc:
                raise CommandError(str(exc)) from None
        self._print(report)

    def _print(self, report: LabelImportReport) -> None:
        for row, outcome in report.rows_with_labels:
            where = f"{row.kind_label} {row.key}" if row.kind else "(no image named)"
            line = f"row {row.number:>5}  {outcome:<32} {where}: {row.message}"
            if row.status in {Outcome.IMPORT, Outcome.SAME}:
                self.stdout.write(line)
            else:
                self.stdout.write(self.style.WARNING(line))
        for item in report.rejected_files:
            self.stdout.write(self.style.WARNING(f"file refused  {item.name}: {item.reason}"))
        counts = ", ".join(f"{label} {n}" for _, label, n in report.status_counts)
        files = ""
        if report.files:
            verb = "to store" if report.dry_run else "stored"
            files = (
                f" Files: {len(report.files)} ({verb} {report.files_stored}, already stored "
                f"{report.files_duplicate}, refused {len(report.rejected_files)}; "
                f"{report.unlabelled_files} stored without a label)."
            )
        rows = f"{len(report.rows)} rows ({counts}).{files}"
        if report.dry_run:
            self.stdout.write(
                f"Dry run, nothing written: would label {report.labels} images from {rows}"
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Labelled {report.labels} images from {rows} Batch {report.batch}."
                )
            )
