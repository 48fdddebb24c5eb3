"""Batched image inference: how a worker turns waiting requests into stored suggestions.

A Celery message per instance only wakes a worker. The worker claims every pending
:class:`InferenceRequest` it can (up to ``MEDASSIST_INFERENCE_MAX_BATCH``, waiting at most
``MEDASSIST_INFERENCE_MAX_WAIT_MS`` for more to arrive), runs the champion on the whole batch
and stores one suggestion per instance; while a batch computes and is stored, the next one
is already claimed and decoding on a thread pool, so the model is not left waiting between
batches. Messages whose request another worker already took find nothing to do.

A request whose input fails is retried ``MEDASSIST_INFERENCE_MAX_ATTEMPTS`` times with
backoff, then stored as a visible "failed" suggestion; the rest of its batch is unaffected.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import torch
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from diagnosis.inference import services
from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.inference.selectors import request_claimable
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.serving import champion, classifier_for
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.jobs import job_enqueue
from medassist.ml.batching import MicroBatcher
from medassist.ml.image_model import ImageClassifier

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    claimed: int = 0
    stored: list[int] = field(default_factory=list)  # suggestion ids
    retried: list[int] = field(default_factory=list)  # instance ids
    failed: list[int] = field(default_factory=list)  # instance ids
    stopped_early: bool = False  # requests may still wait (batch limit or new champion)


def _claim(*, limit: int, version: ModelVersion) -> list[InferenceRequest]:
    """Take up to ``limit`` claimable requests for ``version``, oldest first, skipping those
    other workers hold; none once ``version`` is no longer the champion.

    Each comes with its instance and series, and ``done``: whether ``version`` already has a
    suggestion for it (a redelivered request). One query and one update, because a worker
    draining a queue claims a batch every few tens of milliseconds on the cores the model
    needs.
    """
    now = timezone.now()
    still_champion = ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.CHAMPION)
    done = Suggestion.objects.filter(instance_id=OuterRef("instance_id"), model_version=version)
    with transaction.atomic():
        rows = list(
            InferenceRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("instance__series")
            .filter(request_claimable(now), Exists(still_champion))
            .annotate(done=Exists(done))
            .order_by("created_at", "pk")[:limit]
        )
        if rows:
            InferenceRequest.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=InferenceRequest.Status.RUNNING, claimed_at=now
            )
    return rows


def claim_batch(version: ModelVersion) -> list[InferenceRequest]:
    """Claim a batch: what is waiting now, plus what arrives within the maximum wait."""
    limit = settings.MEDASSIST_INFERENCE_MAX_BATCH
    rows = _claim(limit=limit, version=version)
    wait = settings.MEDASSIST_INFERENCE_MAX_WAIT_MS / 1000.0
    if rows and len(rows) < limit and wait > 0:
        time.sleep(wait)
        rows += _claim(limit=limit - len(rows), version=version)
    return rows


_batchers: dict[int, MicroBatcher[_Job]] = {}


_batchers_lock = threading.Lock()


def _batcher(version: ModelVersion, clf: ImageClassifier) -> MicroBatcher[_Job]:
    with _batchers_lock:
        batcher = _batchers.get(version.pk)
        if batcher is None or batcher.clf is not clf:
            _batchers.clear()
            batcher = MicroBatcher(
                functools.partial(_load, clf=clf),
                clf,
                max_batch=settings.MEDASSIST_INFERENCE_MAX_BATCH,
                workers=settings.MEDASSIST_INFERENCE_DECODE_THREADS or None,
            )
            _batchers[version.pk] = batcher
        return batcher


def _load(job: _Job, *, clf: ImageClassifier) -> torch.Tensor:
    # The file is checked against the instance's SHA-256, which is then the input's.
    return clf.preprocess(instance_read_dataset(instance=job.instance))


# How many batches one wake-up may run before it hands the worker back (a promotion, or
# other tasks of the queue, wait at most this long).
BATCHES_PER_WAKE_UP = 32


@dataclass(frozen=True)
class _Job:
    request: InferenceRequest
    instance: Instance
    claimed_at: float  # perf_counter() when the request was claimed


def inference_drain() -> BatchOutcome:
    """What a worker runs when woken: batch after batch while requests are waiting.

    The next batch is claimed and decoded while the current one computes and is stored (see
    :meth:`MicroBatcher.stream`). After :data:`BATCHES_PER_WAKE_UP` batches, or when the
    champion changes, it stops and sends itself a wake-up for whatever is still waiting.
    """
    outcome = inference_batch_run(max_batches=BATCHES_PER_WAKE_UP)
    if outcome.stopped_early:
        waiting = (
            InferenceRequest.objects.filter(status=InferenceRequest.Status.PENDING)
            .values_list("instance_id", flat=True)
            .first()
        )
        if waiting is not None:
            job_enqueue(services.SUGGESTION_COMPUTE, instance_id=waiting)
    return outcome


def saliency_compute_many(*, suggestion_ids: list[int]) -> None:
    """The heatmaps of one inference batch, suggestions first.

    Before each heatmap, images waiting for their suggestion are run
    (:func:`inference_drain`): a suggestion ranks the worklist and warns of urgent findings,
    a heatmap only waits for a doctor to open the case, so a study pushed while the heatmaps
    of earlier studies are drawn does not wait behind them (at 500 images a study that was
    half a minute). Without a champion the waiting requests stay for their own wake-up.
    """
    for suggestion_id in suggestion_ids:
        if InferenceRequest.objects.filter(request_claimable(timezone.now())).exists():
            # No champion (NoChampionError): the requests wait for their own wake-up.
            with contextlib.suppress(LookupError):
                inference_drain()
        services.saliency_compute(suggestion_id=suggestion_id)


def inference_batch_run(*, max_batches: int = 1) -> BatchOutcome:
    """Claim batches of waiting requests, run the champion on them and store the results.

    Only the first claim waits (up to ``MEDASSIST_INFERENCE_MAX_WAIT_MS``) for a batch to
    fill; the claims after it take what is waiting, because the worker is busy anyway.

    Raises NoChampionError, claiming nothing, when requests wait and no model is champion.
    """
    outcome = BatchOutcome()
    try:
        version = champion(Task.IMAGE)
    except LookupError:
        if InferenceRequest.objects.filter(request_claimable(timezone.now())).exists():
            raise  # the requests wait for a champion
        return outcome
    rows = claim_batch(version)
    claimed_at = time.perf_counter()
    outcome.claimed = len(rows)
    if not rows:
        return outcome
    # Requests claimed by this run and not yet stored, retried or failed: put back to wait
    # if the run stops on an error, so none is left "running" until it goes stale.
    held: set[int] = {r.pk for r in rows}
    try:
        clf = classifier_for(version)
        findings = {f.code: f for f in Finding.objects.all()}
    except BaseException as exc:
        _release(held, exc, outcome)
        raise
    first: list[InferenceRequest] | None = rows
    pulled = 0

    def next_batch() -> list[_Job]:
        nonlocal first, pulled
        while pulled < max_batches:
            pulled += 1
            if first is not None:
                batch, first, at = first, None, claimed_at
            else:
                batch = _claim(limit=settings.MEDASSIST_INFERENCE_MAX_BATCH, version=version)
                held.update(r.pk for r in batch)
                at = time.perf_counter()
                outcome.claimed += len(batch)
                if not batch:
                    # Nothing waiting, or a new champion: then the rest is for a new run.
                    outcome.stopped_early = not ModelVersion.objects.filter(
                        pk=version.pk, status=ModelVersion.Status.CHAMPION
                    ).exists()
                    return []
            jobs = _jobs(batch, version, at)
            held.difference_update(r.pk for r in batch)
            held.update(j.request.pk for j in jobs)  # the rest were done already
            if jobs:
                return jobs
        outcome.stopped_early = True
        return []

    try:
        batcher = _batcher(version, clf)
        device = batcher.describe()
        for jobs, results in batcher.stream(next_batch):
            _store(
                jobs, results, version=version, findings=findings, outcome=outcome, device=device
            )
            held.difference_update(j.request.pk for j in jobs)
    except BaseException as exc:
        _release(held, exc, outcome)
        raise
    return outcome


def _release(request_ids: set[int], exc: BaseException, outcome: BatchOutcome) -> None:
    """Give back the requests a run holds when it stops on an error.

    An error counts as a failed try of each request (backoff, then a visible failure after
    ``MEDASSIST_INFERENCE_MAX_ATTEMPTS``), so an error that repeats cannot loop forever; a
    worker being stopped (not an ``Exception``) just puts them back to wait. Never raises:
    the run's own error is what the caller must see.
    """
    try:
        held = list(
            InferenceRequest.objects.filter(
                pk__in=request_ids, status=InferenceRequest.Status.RUNNING
            )
        )
        logger.warning("Inference stopped on %r; %s requests given back", exc, len(held))
        if isinstance(exc, Exception):
            for request in held:
                _retry_or_fail(request, exc, outcome)
        elif held:
            InferenceRequest.objects.filter(pk__in=[r.pk for r in held]).update(
                status=InferenceRequest.Status.PENDING, claimed_at=None
            )
            job_enqueue(services.SUGGESTION_COMPUTE, countdown=5, instance_id=held[0].instance_id)
    except Exception:
        logger.exception("Could not give back inference requests %s", sorted(request_ids))


def _jobs(rows: list[InferenceRequest], version: ModelVersion, claimed_at: float) -> list[_Job]:
    """The claimed requests still to run; those a redelivered task already ran are closed."""
    _finish([r for r in rows if r.done], status=InferenceRequest.Status.DONE)  # type: ignore[attr-defined]
    return [_Job(r, r.instance, claimed_at) for r in rows if not r.done]  # type: ignore[attr-defined]


def _store(
    jobs: list[_Job],
    results: list[dict[str, float] | Exception],
    *,
    version: ModelVersion,
    findings: dict[str, Finding],
    outcome: BatchOutcome,
    device: str,
) -> None:
    """Store one batch's suggestions in one transaction; retry or fail the inputs that failed.

    ``latency_ms`` of each suggestion is from its request's claim to this store: the time
    the worker spent on it, including waiting in the pipeline behind other batches.
    """
    now = time.perf_counter()
    built: list[Suggestion] = []
    succeeded: list[InferenceRequest] = []
    for job, result in zip(jobs, results, strict=True):
        if isinstance(result, Exception):
            _retry_or_fail(job.request, result, outcome)
            continue
        built.append(
            services.suggestion_build(
                instance=job.instance,
                version=version,
                probabilities=result,
                input_sha256=job.instance.sha256,
                latency_ms=(now - job.claimed_at) * 1000.0,
                findings=findings,
                device=device,
            )
        )
        succeeded.append(job.request)
    if not built:
        return
    # One transaction and one insert for the whole batch, which returns the rows' ids. A row
    # another writer stored first (the unbatched path, a redelivery) is kept as it is: the
    # "update" on a conflict rewrites model_version with its own value, only so that the
    # insert returns that row's id too (idempotent per instance and version).
    with transaction.atomic():
        Suggestion.objects.bulk_create(
            built,
            update_conflicts=True,
            unique_fields=["instance", "model_version"],
            update_fields=["model_version"],
        )
        _finish(succeeded, status=InferenceRequest.Status.DONE)
        ids = [s.pk for s in built]
        outcome.stored.extend(ids)
        services.instances_urgency_refresh(instances=[s.instance for s in built])
        services.saliency_enqueue(suggestion_ids=ids)


def _finish(rows: list[InferenceRequest], *, status: str, error: str = "") -> None:
    if rows:
        InferenceRequest.objects.filter(pk__in=[r.pk for r in rows]).update(
            status=status, finished_at=timezone.now(), last_error=error[:2000]
        )


def _retry_or_fail(request: InferenceRequest, exc: Exception, outcome: BatchOutcome) -> None:
    attempts = request.attempts + 1
    error = f"{type(exc).__name__}: {exc}"
    logger.warning(
        "Inference of instance %s failed (try %s): %s", request.instance_id, attempts, error
    )
    if attempts >= settings.MEDASSIST_INFERENCE_MAX_ATTEMPTS:
        InferenceRequest.objects.filter(pk=request.pk).update(
            status=InferenceRequest.Status.FAILED,
            attempts=attempts,
            last_error=error[:2000],
            finished_at=timezone.now(),
        )
        services.suggestion_record_failure(instance_id=request.instance_id, error=error)
        outcome.failed.append(request.instance_id)
        return
    # Backoff, so a file that is still being written or a passing fault can recover: no
    # worker (this one included, later in its drain) claims it again before then.
    backoff = 2**attempts
    InferenceRequest.objects.filter(pk=request.pk).update(
        status=InferenceRequest.Status.PENDING,
        attempts=attempts,
        last_error=error[:2000],
        claimed_at=None,
        not_before=timezone.now() + timedelta(seconds=backoff),
    )
    job_enqueue(services.SUGGESTION_COMPUTE, countdown=backoff, instance_id=request.instance_id)
    outcome.retried.append(request.instance_id)
