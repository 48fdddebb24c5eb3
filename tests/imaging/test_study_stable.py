"""A pushed study goes to the AI once it is complete; a doctor's upload goes at once."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest
from django.utils import timezone

from diagnosis.inference.models import Suggestion
from diagnosis.inference.services import suggestion_compute, suggestions_enqueue_missing
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from imaging.signals import study_stable
from imaging.stability import study_stable_check
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from tests.conftest import wait_for

STUDY_UID = "1.2.826.0.1.3680043.8.498.1111"
SERIES_UID = "1.2.826.0.1.3680043.8.498.1112"


def _push(seed: int, *, source: str) -> Instance:
    ds = synthetic_dicom(
        finding="normal",
        patient_id="PUSH-1",
        patient_name="Synthetic^Push",
        study_uid=STUDY_UID,
        series_uid=SERIES_UID,
        size=64,
        rng=np.random.default_rng(seed),
    )
    return instance_ingest(data=dicom_bytes(ds), source=source).instance


@pytest.fixture
def stable_events():
    events: list[dict] = []

    def receiver(sender, **kwargs):  # type: ignore[no-untyped-def]
        events.append(kwargs)

    study_stable.connect(receiver, dispatch_uid="test-stable")
    yield events
    study_stable.disconnect(dispatch_uid="test-stable")


@pytest.mark.django_db(transaction=True)
def test_a_doctors_upload_is_ready_at_once_but_a_pushed_instance_waits(stable_events, settings):
    settings.MEDASSIST_STUDY_QUIET_SECONDS = 30
    pushed = _push(1, source="c-store")
    assert stable_events == []
    uploaded = _push(2, source="upload")
    assert stable_events == [
        {
            "signal": study_stable,
            "study_id": uploaded.series.study_id,
            "instance_ids": [uploaded.pk],
        }
    ]
    assert pushed.pk != uploaded.pk


@pytest.mark.django_db(transaction=True)
def test_the_study_is_stable_only_after_the_quiet_period_with_all_its_instances(
    stable_events, settings
):
    settings.MEDASSIST_STUDY_QUIET_SECONDS = 30
    first, second = _push(1, source="c-store"), _push(2, source="c-store")
    study_id = first.series.study_id

    assert study_stable_check(study_id=study_id) is False  # the newest is seconds old
    assert stable_events == []

    Instance.objects.filter(pk__in=[first.pk, second.pk]).update(
        created_at=timezone.now() - dt.timedelta(seconds=31)
    )
    assert study_stable_check(study_id=study_id) is True
    assert stable_events[-1]["instance_ids"] == [first.pk, second.pk]


@pytest.mark.django_db(transaction=True)
def test_a_late_instance_requeues_only_itself(image_champion, settings):
    settings.MEDASSIST_STUDY_QUIET_SECONDS = 30
    early = [_push(seed, source="c-store") for seed in (1, 2)]
    for instance in early:
        suggestion_compute(instance_id=instance.pk)
    late = _push(3, source="c-store")

    queued = suggestions_enqueue_missing(instance_ids=[*(i.pk for i in early), late.pk])
    assert queued == [late.pk]


@pytest.mark.integration
def test_a_pushed_study_gets_its_suggestions_after_the_quiet_period_from_a_real_worker(
    celery_worker, image_champion
):
    # The worker runs with MEDASSIST_STUDY_QUIET_SECONDS=1 (tests/conftest.py TINY).
    instances = [_push(seed, source="c-store") for seed in (11, 12, 13)]
    last_arrival = max(
        i.created_at for i in Instance.objects.filter(pk__in=[i.pk for i in instances])
    )
    suggestions = wait_for(
        lambda: (
            list(Suggestion.objects.filter(instance__in=instances))
            if Suggestion.objects.filter(instance__in=instances).count() == 3
            else None
        ),
        timeout=60,
        what="suggestions for the whole pushed study",
    )
    assert {s.instance_id for s in suggestions} == {i.pk for i in instances}
    # None was computed before the study had been quiet for the quiet period.
    assert min(s.created_at for s in suggestions) >= last_arrival + dt.timedelta(seconds=0.8)


@pytest.mark.django_db(transaction=True)
def test_a_pushed_study_publishes_one_pending_check_not_one_per_instance(redis_broker, settings):
    import redis

    settings.MEDASSIST_STUDY_QUIET_SECONDS = 30
    # A cache of the test's own, empty (the pending checks live there); the queue is in the
    # session's own Redis database (tests/conftest.py), so emptying it touches nobody's.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }
    client = redis.Redis.from_url(redis_broker)
    client.delete("default")
    for seed in range(4):
        _push(seed, source="c-store")
    assert client.llen("default") == 1  # the real broker's queue holds one study check
