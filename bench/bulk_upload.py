"""Bulk upload benchmark: the upload page's batched filing against one transaction a file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/bulk_upload.py
    ... bench/bulk_upload.py --files 200 --rounds 5

Creates the scratch database ``medassist_bench_bulk`` on the server of ``DATABASE_URL``
(dropped first, and at the end), migrates it, and stores, ``--rounds`` times, alternating
which goes first, ``--files`` copies of pydicom's real ``CT_small.dcm`` (one study, fresh
SOP Instance UIDs) in-process:
  1. one file a transaction: :func:`imaging.ingest.services.instance_ingest` per file, as
     the bulk upload filed them before it was batched;
  2. the bulk upload as it is: :func:`imaging.ingest.bulk.instance_ingest_bulk`, which files
     them in batches through ``instances_ingest``.
It prints the median files/s of each and their ratio. The files are written and flushed to
a temporary storage folder as in production; no web request (see bench/ingest.py for the
whole request against Orthanc).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "medassist_bench_bulk"


class _Upload:
    """A file as the upload page receives it."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.size, self._data = name, len(data), io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(size)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._data.seek(offset, whence)


def _setup(database_url: str) -> str:
    import psycopg

    parsed = urlparse(database_url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["DATABASE_URL"] = parsed._replace(path=f"/{DB_NAME}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    os.environ.setdefault("MEDASSIST_VAR_DIR", tempfile.mkdtemp(prefix="bench-bulk-"))
    os.environ.setdefault("DEBUG", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return admin


def _files(n: int) -> list[bytes]:
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    base = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study, series = generate_uid(), generate_uid()
    out = []
    for i in range(n):
        ds = base.copy()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID, ds.InstanceNumber = generate_uid(), i + 1
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append(buffer.getvalue())
    return out


def one_a_transaction(files: list[bytes]) -> float:
    from imaging.ingest.services import instance_ingest

    start = time.perf_counter()
    for data in files:
        instance_ingest(data=data, source="upload")
    return time.perf_counter() - start


def batched(files: list[bytes]) -> float:
    from imaging.ingest.bulk import instance_ingest_bulk

    uploads = [_Upload(f"{i}.dcm", data) for i, data in enumerate(files)]
    start = time.perf_counter()
    summary = instance_ingest_bulk(uploads=uploads, source="upload")
    seconds = time.perf_counter() - start
    stored = sum(item.outcome == "stored" for item in summary.items)
    if stored != len(files):
        raise RuntimeError(f"{stored} of {len(files)} files stored")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    admin = _setup(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x"))
    rates: dict[str, list[float]] = {"one file a transaction": [], "batched (as served)": []}
    runs = {"one file a transaction": one_a_transaction, "batched (as served)": batched}
    batched(_files(5))  # warm-up: imports, the first patient and study
    for round_ in range(args.rounds):
        order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
        for name in order:
            rates[name].append(args.files / runs[name](_files(args.files)))
    for name, values in rates.items():
        shown = ", ".join(f"{v:,.0f}" for v in values)
        print(f"{name:24s} median {statistics.median(values):7,.0f} files/s  ({shown})")
    ratio = statistics.median(rates["batched (as served)"]) / statistics.median(
        rates["one file a transaction"]
    )
    print(f"batched / one a transaction: x{ratio:.2f}")

    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')


if __name__ == "__main__":
    main()
