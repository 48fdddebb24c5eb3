"""When is a study complete? When no new instance has arrived for a quiet period.

Scanners and PACS push a study one instance at a time over seconds or minutes; running the AI
on the first slice would be wasted work. Every stored instance schedules a check for its
study after the quiet period; only the check that finds no newer instance declares the study
stable. An instance that arrives later schedules its own check, so the study becomes stable
again and listeners (diagnosis) see it and redo only what is missing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from django.utils import timezone

from medassist.jobs import job_enqueue

from .models import Instance, Study
from .signals import INTERACTIVE_SOURCES, study_stable

logger = logging.getLogger(__name__)


def quiet_period() -> timedelta:
    return timedelta(seconds=settings.MEDASSIST_STUDY_QUIET_SECONDS)


def _pending_key(study_id: int) -> str:
    return f"imaging:stable-check:{study_id}"


def instance_stored_receiver(
    sender: Any,
    *,
    instance_id: int,
    instance_ids: list[int] | None = None,
    study_id: int | None = None,
    source: str | None = None,
    **kwargs: Any,
) -> None:
    """One stored image, or (``instance_ids``, ``study_id`` and ``source`` given, as ingest
    sends them) the images of one study stored together: one check for them all."""
    if instance_ids is None or study_id is None or source is None:
        row = Instance.objects.filter(pk=instance_id).values("source", "series__study_id").get()
        study_id, source = row["series__study_id"], row["source"]
        instance_ids = [instance_id]
    if source in INTERACTIVE_SOURCES:
        return  # declared stable inside the transaction that stored them (below)
    if quiet_period().total_seconds() <= 0:
        study_stable.send(Study, study_id=study_id, instance_ids=list(instance_ids))
        return
    # One pending check per study, not one per instance: a 500-slice push publishes one task.
    quiet = quiet_period().total_seconds()
    if cache.add(_pending_key(study_id), 1, timeout=quiet * 2 + 60):
        _schedule(study_id, quiet)


def instances_filed_receiver(
    sender: Any, *, instance_ids: list[int], study_id: int, source: str, **kwargs: Any
) -> None:
    """A doctor's own upload is stable at once, declared inside the transaction that stores
    it: what listeners open for it (an inference request) commits with the image, in one
    commit, and only their wake-ups wait for it."""
    if source in INTERACTIVE_SOURCES:
        study_stable.send(Study, study_id=study_id, instance_ids=list(instance_ids))


def _schedule(study_id: int, countdown: float) -> None:
    if job_enqueue("imaging.tasks.study_stable_check", countdown=countdown, study_id=study_id):
        return
    # The broker refused the check (job_enqueue logged why). Drop the pending marker, so the
    # next instance of this study schedules a check instead of waiting on one never sent.
    try:
        cache.delete(_pending_key(study_id))
    except Exception:  # the cache shares the broker's Redis and may be down with it
        logger.exception("Could not clear the pending stability check of study %s", study_id)


def study_stable_check(*, study_id: int) -> bool:
    """Declare the study stable if its newest instance is older than the quiet period.

    Returns whether it did. If a newer instance arrived meanwhile, the check schedules
    itself again for when that one will have been quiet long enough.
    """
    # Clear the marker before reading, so an instance committed after the read schedules
    # its own check instead of relying on this one.
    cache.delete(_pending_key(study_id))
    newest = Instance.objects.filter(series__study_id=study_id).aggregate(at=Max("created_at"))
    if newest["at"] is None:
        return False
    age = timezone.now() - newest["at"]
    # A little slack for clock granularity between the worker and the database.
    if age < quiet_period() - timedelta(milliseconds=200):
        remaining = (quiet_period() - age).total_seconds()
        if cache.add(_pending_key(study_id), 1, timeout=remaining * 2 + 60):
            _schedule(study_id, remaining)
        return False
    ids = list(
        Instance.objects.filter(series__study_id=study_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    logger.info("Study %s is stable with %s instances", study_id, len(ids))
    study_stable.send(Study, study_id=study_id, instance_ids=ids)
    return True
