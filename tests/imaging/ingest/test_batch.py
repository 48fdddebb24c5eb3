"""Many files, one transaction: a STOW-RS request or a batch is filed at once, and a bad file
in it costs only itself."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from imaging.ingest.errors import IngestError
from imaging.ingest.services import IngestResult, instances_ingest
from imaging.models import Instance, Series
from imaging.selectors import instance_read_dataset
from imaging.signals import instance_stored
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent, Patient
from tests.factories import synthetic_dataset, synthetic_file

STOW_TYPE = 'multipart/related; type="application/dicom"; boundary={}'


def series_files(n: int, *, patient: str = "BATCH-1", seed: int = 0) -> list[bytes]:
    """``n`` images of one new series of one new study."""
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    files = []
    for i in range(n):
        ds = synthetic_dataset(seed + i, patient_id=patient)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = study, series, i + 1
        files.append(dicom_bytes(ds))
    return files


def media_files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def stow(client: Client, files: list[bytes]) -> Any:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
        for data in files
    )
    return client.post(
        "/imaging/dicomweb/studies",
        data=body + f"--{boundary}--\r\n".encode(),
        content_type=STOW_TYPE.format(boundary),
        HTTP_ACCEPT="application/dicom+json",
    )


@pytest.mark.django_db(transaction=True)
def test_a_stow_request_of_ten_instances_stores_all_ten_in_one_transaction(doctor: User) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")
    files = series_files(10)

    with CaptureQueriesContext(connection) as queries:
        response = stow(client, files)

    assert response.status_code == 200
    assert len(response.json()["00081199"]["Value"]) == 10
    assert Instance.objects.count() == 10
    commits = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("COMMIT")]
    assert len(commits) == 1
    # All ten are on disk, each with its row.
    assert len(media_files()) == 10
    assert AuditEvent.objects.filter(action="instance.ingest").count() == 10


@pytest.mark.django_db
def test_the_queries_of_a_batch_do_not_grow_with_its_size() -> None:
    def queries_for(n: int) -> int:
        files = series_files(n, patient=f"BATCH-{n}")
        with CaptureQueriesContext(connection) as queries:
            outcomes = instances_ingest(files=files, source="stow-rs")
        assert all(isinstance(o, IngestResult) and o.created for o in outcomes)
        return len(queries.captured_queries)

    # A new patient, study and series each time: the same statements for 3 files or 30.
    assert queries_for(3) == queries_for(30)


@pytest.mark.django_db
def test_a_bad_file_in_a_batch_fails_only_itself_and_loses_nothing() -> None:
    good = series_files(3)
    truncated = synthetic_file(50)[:-2000]
    other = synthetic_dataset(51, patient_id="SOMEONE-ELSE")
    # The first good file's study, claimed by another patient: refused as a hierarchy conflict.
    other.StudyInstanceUID = pydicom.dcmread(io.BytesIO(good[0])).StudyInstanceUID
    conflicting = dicom_bytes(other)

    outcomes = instances_ingest(files=[good[0], truncated, good[1], conflicting, good[2]])

    assert [type(o).__name__ for o in outcomes] == [
        "IngestResult",
        "IngestError",
        "IngestResult",
        "IngestError",
        "IngestResult",
    ]
    assert isinstance(outcomes[1], IngestError) and outcomes[1].code == "truncated"
    assert isinstance(outcomes[3], IngestError) and outcomes[3].code == "hierarchy_conflict"
    # The three good ones are stored whole, and nothing else is: no orphan file, and the
    # refused file's patient was not registered.
    assert Instance.objects.count() == 3
    for outcome in (outcomes[0], outcomes[2], outcomes[4]):
        assert isinstance(outcome, IngestResult)
        instance_read_dataset(instance=outcome.instance).pixel_array  # noqa: B018
    assert len(media_files()) == 3
    assert not Patient.objects.filter(mrn="SOMEONE-ELSE").exists()
    assert Series.objects.count() == 1


@pytest.mark.django_db
def test_a_database_failure_in_a_batch_leaves_no_file_and_no_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("the database failed midway (injected)")

    monkeypatch.setattr("imaging.ingest.services.audit_record_many", fail)

    with pytest.raises(RuntimeError, match="injected"):
        instances_ingest(files=series_files(4))

    assert Instance.objects.count() == 0
    assert media_files() == []


@pytest.mark.django_db
def test_the_same_file_twice_in_one_batch_is_stored_once_and_answered_as_a_duplicate() -> None:
    data = synthetic_file(60)

    first, second = instances_ingest(files=[data, data])

    assert isinstance(first, IngestResult) and first.created
    assert isinstance(second, IngestResult) and second.duplicate
    assert second.instance.pk == first.instance.pk
    assert len(media_files()) == 1


@pytest.mark.django_db(transaction=True)
def test_a_batch_signals_once_per_study_with_all_its_images() -> None:
    heard: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs)

    instance_stored.connect(receiver, dispatch_uid="test-batch")
    try:
        outcomes = instances_ingest(files=series_files(4) + series_files(2), source="stow-rs")
    finally:
        instance_stored.disconnect(dispatch_uid="test-batch")

    ids = [o.instance.pk for o in outcomes if isinstance(o, IngestResult)]
    assert [h["instance_ids"] for h in heard] == [ids[:4], ids[4:]]
    assert all(h["source"] == "stow-rs" for h in heard)
