"""The sweep: the database says what must happen, so lost wake-ups lose no image.

A broker outage or a killed worker loses messages. Each minute the sweep (Celery beat) finds
the work the rows say is waiting and wakes a worker for it, with no new upload.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import uuid

import pytest
from django.utils import timezone

from diagnosis.inference import services
from diagnosis.inference.batching import inference_drain
from diagnosis.inference.models import InferenceRequest, Suggestion
from imaging.models import Instance
from tests.conftest import SWEEP_SCRIPT, run_script, service_env, wait_for, worker_running
from tests.factories import ingested_instance


def _age(instance: Instance, minutes: float) -> None:
    Instance.objects.filter(pk=instance.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes)
    )


@pytest.fixture
def wake_ups(monkeypatch):  # type: ignore[no-untyped-def]
    """The wake-ups the sweep sends; the real broker is used by the worker test below."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(services, "job_enqueue", lambda name, **kw: sent.append((name, kw)))
    return sent


@pytest.mark.django_db
def test_an_image_whose_request_was_lost_after_its_commit_is_queued_and_answered_once(
    image_champion, wake_ups, settings
):
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    instance = ingested_instance(901)
    # What a crashed listener or a lost pushed study's check leaves: rows, file, no request
    # (an upload's request commits with its image; it is removed here to make the loss).
    InferenceRequest.objects.filter(instance=instance).delete()
    assert not InferenceRequest.objects.filter(instance=instance).exists()

    _age(instance, 0.1)
    assert services.inference_sweep()["lost"] == 0  # too young: its own wake-up may be coming

    _age(instance, 5)
    found = services.inference_sweep()
    assert found["lost"] == 1
    assert InferenceRequest.objects.filter(instance=instance, status="pending").count() == 1

    inference_drain()
    assert Suggestion.objects.filter(instance=instance, model_version=image_champion).count() == 1
    # Answered: the next sweep finds nothing to do for it.
    assert services.inference_sweep()["lost"] == 0


@pytest.mark.django_db
def test_a_request_held_by_a_dead_worker_gets_a_worker_after_the_stale_time(
    image_champion, wake_ups, settings
):
    instance = ingested_instance(902)
    services.inference_requests_create(instance_ids=[instance.pk])
    request = InferenceRequest.objects.get(instance=instance)
    wake_ups.clear()
    claimed = timezone.now() - dt.timedelta(seconds=60)
    InferenceRequest.objects.filter(pk=request.pk).update(
        status="running", claimed_at=claimed, created_at=claimed
    )
    services.inference_sweep()
    assert wake_ups == []  # the worker holding it may still be busy with it

    stale = timezone.now() - dt.timedelta(seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS + 1)
    InferenceRequest.objects.filter(pk=request.pk).update(claimed_at=stale)
    services.inference_sweep()
    assert wake_ups == [(services.SUGGESTION_COMPUTE, {"instance_id": instance.pk})]


@pytest.mark.django_db
def test_a_missing_heatmap_is_queued_again_a_bounded_number_of_times(
    image_champion, wake_ups, settings
):
    # The sweep counts its tries in the cache: this test starts from an empty one of its own
    # (ids are reused, so another test's count could be this suggestion's), clearing nobody's.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }
    instance = ingested_instance(903)
    suggestion = services.suggestion_compute(instance_id=instance.pk)
    Suggestion.objects.filter(pk=suggestion.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5), saliency_key=""
    )
    wake_ups.clear()
    for _ in range(services.SALIENCY_SWEEPS + 2):
        services.inference_sweep()
    heatmaps = [kw for name, kw in wake_ups if name == services.SALIENCY_COMPUTE_MANY]
    assert heatmaps == [{"suggestion_ids": [suggestion.pk]}] * services.SALIENCY_SWEEPS


# Whether the worker has a live pool child, holds no task (running or prefetched) and no
# wake-up waits in the broker's queues.
IDLE_SCRIPT = """
import json
import django
django.setup()
from django.conf import settings
from redis import Redis
from medassist.celery import app
inspect = app.control.inspect(timeout=3)
held = [inspect.active(), inspect.reserved()]
stats = inspect.stats() or {}
alive = all(len(s.get("pool", {}).get("processes", [])) > 0 for s in stats.values()) and stats
queued = sum(Redis.from_url(settings.REDIS_URL).llen(q) for q in ("default", "inference"))
busy = sum(len(tasks) for replies in held for tasks in (replies or {}).values())
answered = all(replies is not None for replies in held)
print(json.dumps({"idle": bool(alive) and answered and not busy and not queued}))
"""


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.integration
def test_after_a_worker_is_killed_mid_request_the_sweep_gets_the_image_answered(
    transactional_db, postgres, private_redis, image_champion, media_root, settings
):
    """A SIGKILLed pool child leaves its request "running"; no new upload comes.

    The worker and the sweep use a Redis this test started (tests/conftest.py), as CI runs it.
    """
    env = service_env(broker_url=private_redis.url, media_root=media_root)
    with worker_running(broker_url=private_redis.url, media_root=media_root) as worker:
        instance = ingested_instance(904)
        services.inference_requests_create(instance_ids=[instance.pk])
        InferenceRequest.objects.filter(instance=instance).update(
            created_at=timezone.now() - dt.timedelta(minutes=2)
        )
        assert json.loads(run_script(SWEEP_SCRIPT, env=env))["wake_up"] == 1
        wait_for(
            lambda: Suggestion.objects.filter(instance=instance).exists(),
            timeout=90,
            what="the first suggestion from the real worker",
        )
        # Kill the pool child as it would die mid-batch: its request is left held.
        for child in _children(worker.pid):
            os.kill(child, signal.SIGKILL)
        # A wake-up sent before the kill (the request's own, beside the sweep's) would reach
        # the restarted child and take the held request itself: wait until the worker has
        # nothing queued or running, so that only the sweep can wake it.
        wait_for(
            lambda: json.loads(run_script(IDLE_SCRIPT, env=env))["idle"],
            timeout=90,
            what="the worker idle again after its pool child was killed",
        )
        Suggestion.objects.filter(instance=instance).delete()
        stale = timezone.now() - dt.timedelta(
            seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS + 5
        )
        InferenceRequest.objects.filter(instance=instance).update(
            status="running", claimed_at=stale, created_at=stale, finished_at=None
        )

        assert json.loads(run_script(SWEEP_SCRIPT, env=env))["wake_up"] == 1
        wait_for(
            lambda: Suggestion.objects.filter(instance=instance).exists(),
            timeout=90,
            what="the suggestion after the sweep, from the restarted pool child",
        )
    assert Suggestion.objects.filter(instance=instance).count() == 1
    assert not InferenceRequest.objects.filter(instance=instance, status="running").exists()
