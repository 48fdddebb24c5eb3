"""Writes of inference: queuing requests, building and storing suggestions, saliency, failures."""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from diagnosis.inference.models import InferenceRequest, RescoreJob, Suggestion
from diagnosis.inference.selectors import (
    RESCORE_ACTIVE,
    request_claimable,
    rescore_candidates,
    rescore_progress,
)
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.serving import champion, classifier_for, device_description
from diagnosis.review.services import study_urgency_refresh
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.jobs import job_enqueue, job_enqueue_on_commit
from medassist.services import audit_record
from medassist.version import code_version

# The registered names of the tasks these services start (see diagnosis/inference/tasks.py).
SUGGESTION_COMPUTE = "diagnosis.tasks.suggestion_compute"
SALIENCY_COMPUTE_MANY = "diagnosis.tasks.saliency_compute_many"
RESCORE_RUN = "diagnosis.tasks.rescore_run"

# A request or image younger than this is left to its own wake-up (it is probably on its way).
SETTLE = timedelta(minutes=1)
SWEEP_LIMIT = 500
SALIENCY_SWEEPS = 3
# A re-score whose worker stopped is resumed this many times, then failed with the reason.
RESCORE_RESUMES = 3

logger = logging.getLogger(__name__)


def suggestions_enqueue_missing(*, instance_ids: list[int]) -> list[int]:
    """Queue inference for those instances the current champion has not answered yet.

    Opens the requests in the current transaction (an upload's commit with its images) and
    sends the wake-up once it commits; returns the ids it queued. A study that becomes
    stable again after a late instance re-queues only that instance.
    """
    # The champion's answers in one query, joined through its version: without a champion
    # nothing is answered yet.
    done = set(
        Suggestion.objects.filter(
            instance_id__in=instance_ids,
            model_version__task=Task.IMAGE,
            model_version__status=ModelVersion.Status.CHAMPION,
        ).values_list("instance_id", flat=True)
    )
    todo = inference_requests_create(instance_ids=[pk for pk in instance_ids if pk not in done])
    if todo:
        # One wake-up for the whole batch: a woken worker drains every waiting request.
        # Robust: the requests are committed and a sweep wakes a worker for them, so a
        # failure here (the database gone just after the commit) is logged, never the
        # uploader's error, and the other studies' wake-ups still run.
        transaction.on_commit(lambda: inference_wake(instance_ids=todo), robust=True)
    return todo


def inference_wake(*, instance_ids: list[int]) -> bool:
    """Wake an inference worker for these instances' newly committed requests, unless a
    wake-up is already on its way; returns whether it sent one.

    One is on its way when an older request is still waiting to be claimed: whoever
    committed it sent a wake-up after its commit (or found an even older one waiting), and
    the worker that takes that wake-up claims batch after batch until nothing is waiting,
    so it takes these too. A worker that already claimed the older ones leaves nothing older
    waiting, and these send their own. So a bulk upload, a STOW-RS request or a pushed study
    sends one message however many images it holds, not one per image. Requests only
    waiting for their backoff count for nothing (their retry sends its own wake-up). If the
    broker is down, nothing is undone: the requests wait and the minute sweep re-wakes.
    """
    mine = InferenceRequest.objects.filter(
        instance_id__in=instance_ids, status=InferenceRequest.Status.PENDING
    )
    oldest = mine.order_by("pk").values_list("pk", flat=True).first()
    if oldest is None:
        return False  # a worker has taken them already
    # The waiting half of request_claimable, written so that the partial index on waiting
    # requests answers it from its first entries (a stale request "running" is not waiting).
    now = timezone.now()
    waiting = InferenceRequest.objects.filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now),
        status=InferenceRequest.Status.PENDING,
        pk__lt=oldest,
    )
    if waiting.exists():
        return False
    return job_enqueue(SUGGESTION_COMPUTE, instance_id=min(instance_ids))


def suggestion_compute(*, instance_id: int) -> Suggestion:
    """Run the current image champion on one instance now and store its suggestion.

    The unbatched path (tests, the management shell); workers use
    :func:`diagnosis.inference.batching.inference_drain`. Idempotent per (instance, champion).
    Raises NoChampionError, StoredFileError, or whatever decoding raises for a poison input.
    """
    instance = Instance.objects.select_related("series").get(pk=instance_id)
    version = champion(Task.IMAGE)
    existing = Suggestion.objects.filter(instance=instance, model_version=version).first()
    if existing is not None:
        return existing
    started = time.perf_counter()
    clf = classifier_for(version)
    # Reading verifies the file against the instance's SHA-256, which is then the input's.
    probabilities = clf.classify_datasets([instance_read_dataset(instance=instance)])[0]
    return suggestion_store(
        instance=instance,
        version=version,
        probabilities=probabilities,
        input_sha256=instance.sha256,
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )


def attention_check(
    *,
    probabilities: dict[str, float],
    modality: str,
    body_part: str,
    model_card: dict[str, Any],
) -> str:
    """Why this output needs a human's attention before anyone leans on it ("" if not).

    Out of scope (a modality or body part the model card does not cover) comes first; then an
    unsure model: the top two probabilities closer than ``MEDASSIST_ATTENTION_MARGIN``.
    """
    modalities = [m.upper() for m in model_card.get("modalities", [])]
    # A scope measured from training data ("scope_min_cases") is strict even when empty; an
    # older card without it leaves an empty list unchecked.
    measured = "scope_min_cases" in model_card
    if not modalities and measured:
        return (
            "Out of scope: no modality had the "
            f"{model_card['scope_min_cases']} training cases this model needs to cover it."
        )
    if modalities and modality.upper() not in modalities:
        return (
            f"Out of scope: this model is for {', '.join(modalities)} images, "
            f"not {modality or 'an unknown modality'}."
        )
    body_parts = [b.upper() for b in model_card.get("body_parts", [])]
    if body_parts and body_part and body_part.upper() not in body_parts:
        return f"Out of scope: this model is for {', '.join(body_parts)}, not {body_part}."
    ranked = sorted(probabilities.values(), reverse=True)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)
    if margin < settings.MEDASSIST_ATTENTION_MARGIN:
        return (
            f"The model is unsure: its top two findings are only {margin:.2f} apart "
            f"(threshold {settings.MEDASSIST_ATTENTION_MARGIN:.2f})."
        )
    return ""


def suggestion_record_failure(*, instance_id: int, error: str) -> Suggestion | None:
    """Store a visible "failed" suggestion once inference has given up on an instance."""
    instance = Instance.objects.get(pk=instance_id)
    try:
        version = champion(Task.IMAGE)
    except LookupError:
        logger.error("Inference failed for instance %s with no champion: %s", instance_id, error)
        return None
    suggestion, _ = Suggestion.objects.get_or_create(
        instance=instance,
        model_version=version,
        defaults={
            "status": Suggestion.Status.FAILED,
            "error": error[:2000],
            "needs_attention": True,
            "attention_reason": "Inference failed; a person has to read this image.",
            "input_sha256": instance.sha256,
            "weights_sha256": version.weights_sha256,
            "preprocess_version": version.preprocess_version,
            "code_version": code_version(),
            "device": device_description(),
            "latency_ms": 0.0,
        },
    )
    # A failed image needs a person first: it rises to the top of the worklist.
    study_urgency_refresh(study_ids=[instance.series.study_id])
    return suggestion


def inference_requests_create(*, instance_ids: list[int]) -> list[int]:
    """Open a pending request for each instance that has none open; returns the ids of the
    instances it opened one for, in the order given.

    One statement for them all (a pushed study's stability check opens hundreds): the
    database skips an instance whose request is already waiting or running (the partial
    unique constraint), ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` says which it took.
    """
    wanted = list(dict.fromkeys(instance_ids))
    if not wanted:
        return []
    columns = ("instance_id", "status", "attempts", "last_error", "created_at")
    quote = connection.ops.quote_name
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    chunks = [wanted[start : start + 1000] for start in range(0, len(wanted), 1000)]
    opened: set[int] = set()
    # One statement is atomic on its own: a transaction (or, inside the caller's, a
    # savepoint) is only needed to keep several chunks all or nothing.
    with (
        transaction.atomic() if len(chunks) > 1 else nullcontext(),
        connection.cursor() as cursor,
    ):
        for chunk in chunks:  # well under any bound on parameters
            params: list[Any] = []
            for instance_id in chunk:
                params += [instance_id, InferenceRequest.Status.PENDING, 0, "", now]
            cursor.execute(
                f"INSERT INTO {quote(InferenceRequest._meta.db_table)} "  # noqa: S608
                f"({', '.join(map(quote, columns))}) "
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING {quote('instance_id')}",
                params,
            )
            opened.update(row[0] for row in cursor.fetchall())
    return [pk for pk in wanted if pk in opened]


def suggestion_build(
    *,
    instance: Instance,
    version: ModelVersion,
    probabilities: dict[str, float],
    input_sha256: str,
    latency_ms: float,
    findings: dict[str, Finding],
    device: str | None = None,
) -> Suggestion:
    """An unsaved suggestion with its provenance and its "needs attention" verdict.

    ``device`` says where it ran (default: this worker's device).
    """
    top_code = max(probabilities, key=lambda code: probabilities[code])
    attention = attention_check(
        probabilities=probabilities,
        modality=instance.series.modality,
        body_part=instance.series.body_part,
        model_card=version.model_card,
    )
    return Suggestion(
        instance=instance,
        model_version=version,
        probabilities={code: round(float(p), 6) for code, p in probabilities.items()},
        top_finding=findings[top_code],
        top_probability=float(probabilities[top_code]),
        needs_attention=bool(attention),
        attention_reason=attention[:300],
        attention_margin=settings.MEDASSIST_ATTENTION_MARGIN,
        input_sha256=input_sha256,
        weights_sha256=version.weights_sha256,
        preprocess_version=version.preprocess_version,
        code_version=code_version(),
        device=device or device_description(),
        latency_ms=latency_ms,
    )


def suggestion_store(
    *,
    instance: Instance,
    version: ModelVersion,
    probabilities: dict[str, float],
    input_sha256: str,
    latency_ms: float,
) -> Suggestion:
    """Write one suggestion with its provenance; idempotent per (instance, version)."""
    suggestion = suggestion_build(
        instance=instance,
        version=version,
        probabilities=probabilities,
        input_sha256=input_sha256,
        latency_ms=latency_ms,
        findings={f.code: f for f in Finding.objects.all()},
    )
    try:
        with transaction.atomic():
            suggestion.save()
            instances_urgency_refresh(instances=[instance])
    except IntegrityError:
        # A redelivered task raced us to it; the first write stands.
        return Suggestion.objects.get(instance=instance, model_version=version)
    saliency_enqueue(suggestion_ids=[suggestion.pk])
    return suggestion


def instances_urgency_refresh(*, instances: list[Instance]) -> None:
    """Re-rank the studies of these instances in the worklist (their suggestions changed)."""
    study_urgency_refresh(study_ids={i.series.study_id for i in instances})


def saliency_enqueue(*, suggestion_ids: list[int]) -> None:
    """Heatmaps of a batch, after it commits: one message per batch, not per image."""
    job_enqueue_on_commit(SALIENCY_COMPUTE_MANY, suggestion_ids=suggestion_ids)


def saliency_compute(*, suggestion_id: int) -> str:
    """Store the Grad-CAM heatmap of a suggestion as an RGBA PNG; returns its media key.

    Runs after the suggestion is stored, so the doctor never waits for it; a heatmap that
    already exists is kept.
    """
    from medassist.ml.saliency import gradcam, heatmap_png

    suggestion = Suggestion.objects.select_related("model_version", "instance").get(
        pk=suggestion_id
    )
    if suggestion.saliency_key or suggestion.status != Suggestion.Status.OK:
        return suggestion.saliency_key
    clf = classifier_for(suggestion.model_version)
    ds = instance_read_dataset(instance=suggestion.instance)
    target = clf.labels.index(suggestion.top_finding.code) if suggestion.top_finding else None
    cam = gradcam(clf, clf.preprocess(ds), target=target)
    png = heatmap_png(cam, size=(suggestion.instance.rows, suggestion.instance.columns))
    key = f"saliency/{suggestion.model_version_id}/{suggestion.instance.sha256}.png"
    path = Path(settings.MEDIA_ROOT) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    Suggestion.objects.filter(pk=suggestion.pk, saliency_key="").update(saliency_key=key)
    return key


def inference_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Re-send the wake-ups of inference work that waits too long (each minute, from beat).

    The rows are the truth: a broker outage or a killed worker loses messages, never work.
    - Requests a worker may take now (waiting past their backoff, or held by a worker gone
      for ``MEDASSIST_INFERENCE_STALE_SECONDS``): one wake-up, since a worker drains them all.
    - Images stored over ``MEDASSIST_STUDY_QUIET_SECONDS`` plus a minute ago (within the last
      ``MEDASSIST_SWEEP_WINDOW_HOURS``) with no request and no suggestion at all: the study
      check or the request was lost after the commit; they are queued now.
    - Suggestions without their heatmap after two minutes: queued again, at most
      ``SALIENCY_SWEEPS`` times each (a heatmap is evidence, not the answer).
    - Re-scores whose wake-up was lost or whose worker died (:func:`rescore_jobs_sweep`).
    Returns how many of each it found.
    """
    now = now or timezone.now()
    ready = InferenceRequest.objects.filter(request_claimable(now), created_at__lt=now - SETTLE)
    first = ready.order_by("created_at", "pk").values_list("instance_id", flat=True).first()
    if first is not None:
        job_enqueue(SUGGESTION_COMPUTE, instance_id=first)

    window = now - timedelta(hours=settings.MEDASSIST_SWEEP_WINDOW_HOURS)
    quiet = now - timedelta(seconds=settings.MEDASSIST_STUDY_QUIET_SECONDS) - SETTLE
    lost = list(
        Instance.objects.filter(created_at__gte=window, created_at__lt=quiet)
        .exclude(Exists(InferenceRequest.objects.filter(instance_id=OuterRef("pk"))))
        .exclude(Exists(Suggestion.objects.filter(instance_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    if lost:
        logger.warning("Sweep: %s stored images had no inference request; queued", len(lost))
        suggestions_enqueue_missing(instance_ids=lost)

    unheated = list(
        Suggestion.objects.filter(
            status=Suggestion.Status.OK,
            saliency_key="",
            created_at__gte=window,
            created_at__lt=now - timedelta(minutes=2),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    retry = []
    for pk in unheated:
        key = f"inference:saliency-sweeps:{pk}"
        try:
            tries = cache.get(key, 0)
            if tries < SALIENCY_SWEEPS:
                cache.set(key, tries + 1, timeout=settings.MEDASSIST_SWEEP_WINDOW_HOURS * 3600)
                retry.append(pk)
        except Exception:  # the cache may be the Redis that is down; heatmaps can wait
            logger.warning("Sweep: cache unavailable; heatmaps not re-queued")
            break
    if retry:
        job_enqueue(SALIENCY_COMPUTE_MANY, suggestion_ids=retry)
    return {
        "wake_up": int(first is not None),
        "lost": len(lost),
        "saliency": len(retry),
        "rescore": rescore_jobs_sweep(now=now),
    }


# --- Re-scoring the unreviewed studies on a new champion -----------------------------------
# The worker's side (the steps that run the batches) is diagnosis/inference/rescoring.py.


class RescoreRefused(ValueError):
    """A re-score cannot start; the message says why, in the ML admin's words."""


def rescore_start(*, version: ModelVersion, actor: AbstractBaseUser | None) -> RescoreJob:
    """Queue a re-score of the unreviewed images on ``version``, the image champion.

    Every unreviewed image an earlier version answered (see
    :func:`diagnosis.inference.selectors.rescore_candidates`) gets a new suggestion of
    ``version``; the old ones stay, shown as superseded. The job row records the count, is
    audited ("inference.rescore"), and an inference worker is woken once it commits.

    Raises RescoreRefused for a version that is not the image champion, while another
    re-score is queued or running, or when there is nothing to re-score. A queued or running
    re-score on a version that is no longer champion is stopped here, with the reason.
    """
    with transaction.atomic():
        # One start at a time, and none while a promotion or a rollback changes the champion
        # (model_version_promote locks the same rows).
        list(ModelVersion.objects.select_for_update().filter(task=Task.IMAGE).order_by("pk"))
        locked = ModelVersion.objects.get(pk=version.pk)
        if locked.task != Task.IMAGE:
            raise RescoreRefused("Only the image model re-scores studies.")
        if locked.status != ModelVersion.Status.CHAMPION:
            raise RescoreRefused(
                f"v{locked.version} is not the champion: only the current champion re-scores "
                "the unreviewed studies."
            )
        for active in RescoreJob.objects.select_for_update().filter(status__in=RESCORE_ACTIVE):
            if active.model_version_id == locked.pk:
                raise RescoreRefused(
                    f"A re-score on v{locked.version} is already {active.get_status_display()} "
                    f"({active.done + active.failed} of {active.total} images): wait for it "
                    "to end."
                )
            rescore_job_outdated(job=active, champion=locked)
        candidates = rescore_candidates(version=locked)
        total = candidates.count()
        if total == 0:
            raise RescoreRefused(
                f"Nothing to re-score: every unreviewed image already has a v{locked.version} "
                "suggestion."
            )
        studies = candidates.values("series__study_id").distinct().count()
        job = RescoreJob.objects.create(
            model_version=locked,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
            total=total,
            message=f"Waiting for an inference worker: {total} images of {studies} studies.",
        )
        audit_record(
            actor=actor,
            action="inference.rescore",
            obj=job,
            detail={"version": locked.version, "images": total, "studies": studies},
        )
        job_enqueue_on_commit(RESCORE_RUN, job_id=job.pk)
    return job


def rescore_job_outdated(*, job: RescoreJob, champion: ModelVersion | None) -> bool:
    """Stop a re-score whose version is no longer the champion, saying which one is now."""
    progress = rescore_progress(job=job)
    now = f"v{champion.version} became the champion" if champion else "no version is champion"
    return rescore_job_stop(
        job=job,
        reason=(
            f"Stopped: {now} while this re-score on v{job.model_version.version} ran. "
            f"{progress.done} of {job.total} images were re-scored and keep their new "
            "suggestion; re-score on the new champion from its page."
        ),
    )


def rescore_job_stop(*, job: RescoreJob, reason: str) -> bool:
    """Fail a queued or running re-score with ``reason``; False if it had already ended.

    Its suggestions so far stay; a worker still on one of its steps stops at the step's end
    (its wake-ups find the job ended).
    """
    progress = rescore_progress(job=job)
    stopped = RescoreJob.objects.filter(pk=job.pk, status__in=RESCORE_ACTIVE).update(
        status=RescoreJob.Status.FAILED,
        done=progress.done,
        failed=progress.failed,
        message=reason[:300],
        error=reason,
        finished_at=timezone.now(),
    )
    if stopped:
        logger.warning("Re-score %s stopped: %s", job.pk, reason)
    return bool(stopped)


def rescore_jobs_sweep(*, now: datetime) -> int:
    """Re-scores whose wake-up was lost or whose worker died; returns how many it touched.

    - Queued (waiting for its next step) for over a minute: its wake-up is sent again (a
      duplicate finds the job taken and does nothing).
    - Running with a heartbeat older than ``MEDASSIST_INFERENCE_STALE_SECONDS``: its worker
      died; it is put back in the queue and woken, at most ``RESCORE_RESUMES`` times, then
      failed with the reason. The images it held go back to waiting by the same stale time.
    - Either, on a version that is no longer champion: failed with the reason.
    """
    stale = now - timedelta(seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS)
    champion_now = ModelVersion.objects.filter(
        task=Task.IMAGE, status=ModelVersion.Status.CHAMPION
    ).first()
    touched = 0
    for job in RescoreJob.objects.select_related("model_version").filter(status__in=RESCORE_ACTIVE):
        beat = job.heartbeat_at or job.created_at
        waiting = job.status == RescoreJob.Status.QUEUED and beat < now - SETTLE
        dead = job.status == RescoreJob.Status.RUNNING and beat < stale
        if job.model_version.status != ModelVersion.Status.CHAMPION:
            if waiting or dead:
                touched += rescore_job_outdated(job=job, champion=champion_now)
            continue
        if waiting:
            logger.warning("Sweep: re-score %s waits for its wake-up; sent again", job.pk)
            job_enqueue(RESCORE_RUN, job_id=job.pk)
            touched += 1
        elif dead:
            touched += _rescore_resume(job=job, now=now)
    return touched


def _rescore_resume(*, job: RescoreJob, now: datetime) -> int:
    """Put back a re-score whose worker died, or fail it once it died too often."""
    # The creation time too, so a database rebuilt under the same cache starts from zero.
    key = f"inference:rescore-resumes:{job.pk}:{job.created_at.timestamp():.6f}"
    try:
        resumes = cache.get(key, 0)
        cache.set(key, resumes + 1, timeout=7 * 24 * 3600)
    except Exception:  # the cache may be the Redis that is down; resuming is still right
        logger.warning("Sweep: cache unavailable; re-score %s resumed uncounted", job.pk)
        resumes = 0
    progress = rescore_progress(job=job)
    at = f"{progress.done + progress.failed} of {job.total} images"
    if resumes >= RESCORE_RESUMES:
        reason = (
            f"Stopped: its inference worker stopped {resumes + 1} times (the last at {at}). "
            "The images re-scored so far keep their new suggestion; start again to go on."
        )
        return int(rescore_job_stop(job=job, reason=reason))
    resumed = RescoreJob.objects.filter(
        pk=job.pk, status=RescoreJob.Status.RUNNING, heartbeat_at=job.heartbeat_at
    ).update(
        status=RescoreJob.Status.QUEUED,
        heartbeat_at=now,
        done=progress.done,
        failed=progress.failed,
        message=f"Resumed: its inference worker stopped at {at}.",
    )
    if resumed:
        logger.warning("Sweep: re-score %s lost its worker at %s; resumed", job.pk, at)
        job_enqueue(RESCORE_RUN, job_id=job.pk)
    return resumed
