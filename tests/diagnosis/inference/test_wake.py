"""When a newly queued image wakes an inference worker, and when a wake-up is on its way.

The request rows are real PostgreSQL rows; the broker is replaced by a recorder, so these
tests say which messages a worker would receive.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from diagnosis.inference import services
from diagnosis.inference.models import InferenceRequest
from imaging.ingest.services import instance_ingest
from tests.factories import synthetic_file

pytestmark = pytest.mark.django_db


def _pushed(seed: int) -> int:
    """An image as a PACS pushes it: its request waits for its study to be quiet, so in this
    test's transaction (no on-commit listener runs) none is opened."""
    return instance_ingest(data=synthetic_file(seed), source="c-store").instance.pk


def _queued(seed: int) -> int:
    pk = _pushed(seed)
    assert services.inference_requests_create(instance_ids=[pk]) == [pk]
    return pk


def test_a_request_with_nothing_older_waiting_wakes_a_worker(sent) -> None:  # type: ignore[no-untyped-def]
    pk = _queued(1)

    assert services.inference_wake(instance_ids=[pk]) is True
    assert sent == [(services.SUGGESTION_COMPUTE, {"instance_id": pk})]


def test_an_older_request_waiting_for_a_worker_means_its_wake_up_is_on_its_way(sent) -> None:  # type: ignore[no-untyped-def]
    _queued(2)
    pk = _queued(3)

    assert services.inference_wake(instance_ids=[pk]) is False
    assert sent == []


def test_an_older_request_waiting_out_its_backoff_does_not_hold_back_the_wake_up(sent) -> None:  # type: ignore[no-untyped-def]
    older = _queued(4)
    InferenceRequest.objects.filter(instance_id=older).update(
        attempts=1, not_before=timezone.now() + dt.timedelta(minutes=5)
    )
    pk = _queued(5)

    assert services.inference_wake(instance_ids=[pk]) is True
    assert sent == [(services.SUGGESTION_COMPUTE, {"instance_id": pk})]


def test_requests_a_worker_has_taken_already_send_nothing(sent) -> None:  # type: ignore[no-untyped-def]
    pk = _queued(6)
    InferenceRequest.objects.filter(instance_id=pk).update(
        status=InferenceRequest.Status.RUNNING, claimed_at=timezone.now()
    )

    assert services.inference_wake(instance_ids=[pk]) is False
    assert sent == []


def test_a_batch_wakes_once_for_its_oldest_waiting_request(sent) -> None:  # type: ignore[no-untyped-def]
    ids = [_pushed(10 + i) for i in range(3)]
    assert services.inference_requests_create(instance_ids=ids) == ids
    # The oldest was taken meanwhile; the others still wait with nothing older before them.
    InferenceRequest.objects.filter(instance_id=ids[0]).update(
        status=InferenceRequest.Status.RUNNING, claimed_at=timezone.now()
    )

    assert services.inference_wake(instance_ids=ids) is True
    assert sent == [(services.SUGGESTION_COMPUTE, {"instance_id": min(ids)})]
