"""Wake, don't flood: a batch of stored images sends one inference wake-up, not one per image.

These tests count the messages sent to the broker (``job_enqueue`` calls), with the
publishing replaced by a recorder that accepts every message: they say how many wake-ups a
worker would receive, not that any work was done. The request rows are real PostgreSQL rows
and the uploads go through the real ingest, signals and on-commit callbacks.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from diagnosis.inference import services
from diagnosis.inference.models import InferenceRequest
from imaging import stability
from imaging.ingest.bulk import instance_ingest_bulk
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.ml.synthetic import dicom_bytes
from tests.factories import synthetic_dataset, synthetic_file

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The study stability checks scheduled (recorded, not published)."""
    scheduled: list[dict[str, Any]] = []

    def record(name: str, **kwargs: Any) -> bool:
        scheduled.append({"name": name, **kwargs})
        return True

    monkeypatch.setattr(stability, "job_enqueue", record)
    return scheduled


def _pushed(seed: int, *, study: str = "") -> int:
    """Store a synthetic image as a PACS pushes it (C-STORE); its instance id."""
    ds = synthetic_dataset(seed, patient_id="PUSHED-1")
    if study:
        ds.StudyInstanceUID = study
    return instance_ingest(data=dicom_bytes(ds), source="c-store").instance.pk


def test_a_bulk_upload_of_many_files_sends_one_wake_up(
    sent: list[tuple[str, dict[str, Any]]], doctor
) -> None:  # type: ignore[no-untyped-def]
    files = [SimpleUploadedFile(f"{i}.dcm", synthetic_file(i)) for i in range(12)]

    summary = instance_ingest_bulk(uploads=files, uploaded_by=doctor, source="upload")

    assert summary.stored == 12
    # Every image has its request (the work), and one message wakes the worker for all.
    assert InferenceRequest.objects.filter(status="pending").count() == 12
    assert [name for name, _ in sent] == [services.SUGGESTION_COMPUTE]


def test_a_stable_pushed_study_sends_one_wake_up_for_all_its_images(
    sent: list[tuple[str, dict[str, Any]]], checks: list[dict[str, Any]]
) -> None:
    study = "1.2.826.0.1.3680043.9.7777.42"
    ids = [_pushed(i, study=study) for i in range(5)]
    assert sent == []  # pushed images wait for their study to be stable
    # One stability check for the study, not one per image (default queue: no route).
    assert [c["name"] for c in checks] == ["imaging.tasks.study_stable_check"]

    services.suggestions_enqueue_missing(instance_ids=ids)

    assert sent == [(services.SUGGESTION_COMPUTE, {"instance_id": min(ids)})]


def test_a_new_batch_wakes_again_only_once_the_worker_has_taken_the_waiting_ones(
    sent: list[tuple[str, dict[str, Any]]], checks: list[dict[str, Any]]
) -> None:
    first = [_pushed(i) for i in range(3)]
    services.suggestions_enqueue_missing(instance_ids=first)
    second = [_pushed(10 + i) for i in range(2)]

    # The first wake-up is still on its way: the worker it wakes takes these too.
    services.suggestions_enqueue_missing(instance_ids=second[:1])
    assert len(sent) == 1

    # A worker claimed everything waiting; what arrives next needs its own wake-up.
    InferenceRequest.objects.update(status="running", claimed_at=timezone.now())
    services.suggestions_enqueue_missing(instance_ids=second[1:])
    assert [kw["instance_id"] for _, kw in sent] == [min(first), second[1]]


def test_a_broker_outage_leaves_the_requests_for_the_sweep(
    monkeypatch: pytest.MonkeyPatch, checks: list[dict[str, Any]]
) -> None:
    monkeypatch.setattr(services, "job_enqueue", lambda name, **kw: False)
    ids = [_pushed(i) for i in range(3)]

    assert services.suggestions_enqueue_missing(instance_ids=ids) == ids

    # Nothing is undone: the rows wait, and the minute sweep re-sends the wake-up.
    assert InferenceRequest.objects.filter(instance_id__in=ids, status="pending").count() == 3
    assert Instance.objects.count() == 3
    recorded: list[str] = []
    monkeypatch.setattr(services, "job_enqueue", lambda name, **kw: recorded.append(name))
    services.inference_sweep(now=timezone.now() + services.SETTLE * 2)
    assert services.SUGGESTION_COMPUTE in recorded
