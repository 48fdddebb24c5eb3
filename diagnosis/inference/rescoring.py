"""Re-scoring on a new champion: what a woken inference worker runs for a :class:`RescoreJob`.

:func:`diagnosis.inference.services.rescore_start` records the job; each wake-up
(``diagnosis.tasks.rescore_run``) runs one step of it, through the same path every new image
takes: it opens an :class:`InferenceRequest` for the next chunk of unreviewed images, and
:func:`diagnosis.inference.batching.inference_batch_run` claims, batches and stores them (with
any upload waiting meanwhile, in arrival order). Then the step counts the progress from the
suggestion rows, beats, and hands the job to the next wake-up, so other inference work gets
the worker between steps and no message runs longer than one chunk.

The job row is the truth. A step first takes the job (queued, or running with a heartbeat
older than ``MEDASSIST_INFERENCE_STALE_SECONDS``) in one conditional update, so a duplicate
or redelivered wake-up finds it taken and does nothing. The unique (instance, version)
suggestion and the batch's own redelivery check mean no image is answered twice; an image
reviewed meanwhile is no longer a candidate and is skipped. If the champion changes, the job
stops and says so: its images keep what they got, and the admin re-scores on the new one.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from diagnosis.inference import batching, services
from diagnosis.inference.models import InferenceRequest, RescoreJob
from diagnosis.inference.selectors import (
    RescoreProgress,
    rescore_candidates,
    rescore_progress,
    rescore_restored,
)
from diagnosis.registry.models import ModelVersion, Task
from diagnosis.registry.serving import NoChampionError
from diagnosis.review.services import study_urgency_refresh
from medassist.jobs import job_enqueue

logger = logging.getLogger(__name__)

# A step that found nothing it could run (its images are held by another worker, or wait out
# a retry's backoff) hands over with this delay instead of spinning.
IDLE_SECONDS = 5
URGENCY_CHUNK = 500


def rescore_run(*, job_id: int) -> RescoreJob | None:
    """Run one step of re-score ``job_id``; None if another wake-up holds it or it ended.

    Never raises for the job's own failures: an error stops the job with the reason (the
    images re-scored so far keep their suggestion), which the version page shows.
    """
    lease = _take(job_id)
    if lease is None:
        return None
    job, first = lease
    try:
        return _step(job, first=first)
    except Exception as exc:
        logger.exception("Re-score %s stopped on an error", job.pk)
        services.rescore_job_stop(
            job=job,
            reason=f"Stopped on an error: {type(exc).__name__}: {exc}. The images re-scored "
            "so far keep their new suggestion; start again to go on.",
        )
        return RescoreJob.objects.get(pk=job.pk)


def _take(job_id: int) -> tuple[RescoreJob, bool] | None:
    """Take the job for this step (one conditional update); whether it is its first step."""
    now = timezone.now()
    first = RescoreJob.objects.filter(
        pk=job_id, status=RescoreJob.Status.QUEUED, started_at__isnull=True
    ).update(status=RescoreJob.Status.RUNNING, heartbeat_at=now, started_at=now)
    if not first:
        stale = now - timedelta(seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS)
        taken = (
            RescoreJob.objects.filter(pk=job_id)
            .filter(
                Q(status=RescoreJob.Status.QUEUED)
                | Q(status=RescoreJob.Status.RUNNING, heartbeat_at__lt=stale)
            )
            .update(status=RescoreJob.Status.RUNNING, heartbeat_at=now)
        )
        if not taken:
            logger.info("Re-score %s is held by another wake-up or has ended", job_id)
            return None
    return RescoreJob.objects.select_related("model_version").get(pk=job_id), bool(first)


def _champion() -> ModelVersion | None:
    return ModelVersion.objects.filter(task=Task.IMAGE, status=ModelVersion.Status.CHAMPION).first()


def _step(job: RescoreJob, *, first: bool) -> RescoreJob:
    version = job.model_version
    champion = _champion()
    if champion is None or champion.pk != version.pk:
        return _stop_for_new_champion(job, champion)
    if first:
        _restored_refresh(version)
    candidates = rescore_candidates(version=version)
    open_request = InferenceRequest.objects.filter(
        instance_id=OuterRef("pk"),
        status__in=[InferenceRequest.Status.PENDING, InferenceRequest.Status.RUNNING],
    )
    chunk = settings.MEDASSIST_RESCORE_CHUNK
    # A new chunk only once the last one is through, so an upload waits behind one chunk at
    # most, never behind the whole re-score.
    if not candidates.filter(Exists(open_request)).exists():
        services.inference_requests_create(
            instance_ids=list(
                candidates.exclude(Exists(open_request))
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
        )
    max_batches = math.ceil(chunk / settings.MEDASSIST_INFERENCE_MAX_BATCH) + 1
    try:
        outcome = batching.inference_batch_run(max_batches=max_batches)
    except NoChampionError:
        return _stop_for_new_champion(job, _champion())
    champion = _champion()
    if champion is None or champion.pk != version.pk:
        return _stop_for_new_champion(job, champion)
    progress = rescore_progress(job=job)
    if progress.remaining == 0:
        return _finish(job, progress)
    return _hand_over(job, progress, idle=not outcome.claimed)


def _restored_refresh(version: ModelVersion) -> None:
    """Re-rank the studies whose ``version`` suggestion is current again after a rollback."""
    study_ids = list(
        rescore_restored(version=version)
        .values_list("series__study_id", flat=True)
        .distinct()
        .order_by("series__study_id")
    )
    for start in range(0, len(study_ids), URGENCY_CHUNK):
        study_urgency_refresh(study_ids=study_ids[start : start + URGENCY_CHUNK])


def _this_step(job: RescoreJob) -> Q:
    """The job while this step holds it: a sweep or another wake-up that took it since has
    set another heartbeat, and this step's updates then match nothing."""
    return Q(pk=job.pk, status=RescoreJob.Status.RUNNING, heartbeat_at=job.heartbeat_at)


def _finish(job: RescoreJob, progress: RescoreProgress) -> RescoreJob:
    message = f"Re-scored {progress.done} of {job.total} images on v{job.model_version.version}"
    if progress.failed:
        message += f"; {progress.failed} failed and are shown to the doctor as failed"
    if progress.skipped:
        message += f"; {progress.skipped} were reviewed meanwhile and kept their suggestion"
    RescoreJob.objects.filter(_this_step(job)).update(
        status=RescoreJob.Status.DONE,
        done=progress.done,
        failed=progress.failed,
        message=(message + ".")[:300],
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    logger.info("Re-score %s done: %s", job.pk, message)
    return RescoreJob.objects.get(pk=job.pk)


def _hand_over(job: RescoreJob, progress: RescoreProgress, *, idle: bool) -> RescoreJob:
    """Record the progress and queue the next step (unless a sweep or a stop took the job)."""
    handed = RescoreJob.objects.filter(_this_step(job)).update(
        status=RescoreJob.Status.QUEUED,
        done=progress.done,
        failed=progress.failed,
        message=(
            f"{progress.done + progress.failed} of {job.total} images re-scored; "
            f"{progress.remaining} to go."
        ),
        heartbeat_at=timezone.now(),
    )
    if handed:
        if idle and settings.CELERY_TASK_ALWAYS_EAGER:
            # Run inline, an idle step would call the next at once, over and over; the
            # minute sweep wakes the job again instead.
            return RescoreJob.objects.get(pk=job.pk)
        job_enqueue(services.RESCORE_RUN, countdown=IDLE_SECONDS if idle else None, job_id=job.pk)
    return RescoreJob.objects.get(pk=job.pk)


def _stop_for_new_champion(job: RescoreJob, champion: ModelVersion | None) -> RescoreJob:
    services.rescore_job_outdated(job=job, champion=champion)
    # Images of this job still waiting are ordinary requests now: the new champion answers
    # them, and this wakes a worker for them.
    waiting = (
        InferenceRequest.objects.filter(status=InferenceRequest.Status.PENDING)
        .values_list("instance_id", flat=True)
        .first()
    )
    if waiting is not None:
        job_enqueue(services.SUGGESTION_COMPUTE, instance_id=waiting)
    return RescoreJob.objects.get(pk=job.pk)
