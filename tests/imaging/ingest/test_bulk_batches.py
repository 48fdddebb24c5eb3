"""A bulk upload files its images in batches (one transaction a batch), and each file still
stands or falls on its own: a bad file among good ones, the same file twice, a file the
disk refuses."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.ingest import bulk
from imaging.ingest.bulk import instance_ingest_bulk
from imaging.models import Instance
from medassist.ml.synthetic import dicom_bytes
from tests.factories import synthetic_dataset, synthetic_file, truncated_file

pytestmark = pytest.mark.django_db


class _Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.size, self._data = name, len(data), io.BytesIO(data)

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(size)

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._data.seek(offset, whence)


def _series(n: int) -> list[bytes]:
    """``n`` images of one series of one study, as a folder from a scanner holds them."""
    first = synthetic_dataset(0, patient_id="TEST-BULK")
    out = []
    for i in range(n):
        ds = synthetic_dataset(i, patient_id="TEST-BULK")
        ds.StudyInstanceUID, ds.SeriesInstanceUID = first.StudyInstanceUID, first.SeriesInstanceUID
        ds.InstanceNumber = i + 1
        out.append(dicom_bytes(ds))
    return out


def test_files_are_filed_in_batches_and_each_keeps_its_own_outcome_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk, "BULK_BATCH_FILES", 10)
    files = [(f"good-{i}.dcm", data) for i, data in enumerate(_series(25))]
    files.insert(7, ("broken.dcm", truncated_file(99)))
    files.insert(15, ("again.dcm", files[3][1]))  # the same file twice in one upload

    with CaptureQueriesContext(connection) as ctx:
        summary = instance_ingest_bulk(uploads=[_Upload(n, d) for n, d in files])

    assert [item.name for item in summary.items] == [name for name, _ in files]
    outcomes = {item.name: item for item in summary.items}
    assert outcomes["broken.dcm"].outcome == "rejected" and outcomes["broken.dcm"].reason
    assert outcomes["again.dcm"].outcome == "duplicate"
    assert sum(item.outcome == "stored" for item in summary.items) == 25
    assert Instance.objects.count() == 25
    # Three batches of ten files (27 files, one study): a few transactions and a few
    # statements a file, where one transaction a file took about fifteen.
    commits = sum(q["sql"].upper().startswith("COMMIT") for q in ctx.captured_queries)
    assert commits <= 3 * 3
    assert len(ctx.captured_queries) <= 3 * len(files)


def test_a_file_the_disk_refuses_is_rejected_with_that_reason_and_the_others_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from imaging.ingest import services

    real = services.instances_ingest

    def one_file_fails(**kwargs: Any) -> list[Any]:
        outcomes = real(**kwargs)
        # As instances_ingest reports a file it could not write: the OSError as its outcome.
        outcomes[1] = OSError("No space left on device")
        return outcomes

    monkeypatch.setattr(bulk, "instances_ingest", one_file_fails)
    summary = instance_ingest_bulk(
        uploads=[_Upload(f"f{i}.dcm", synthetic_file(40 + i)) for i in range(3)]
    )

    failed = summary.items[1]
    assert failed.outcome == "rejected" and failed.code == "storage"
    assert "could not write this file" in failed.reason
    assert [item.outcome for item in summary.items] == ["stored", "rejected", "stored"]
