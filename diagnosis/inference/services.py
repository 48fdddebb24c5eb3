"""Writes of inference: queuing requests, building and storing suggestions, saliency, failures."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.inference.selectors import request_claimable
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.serving import champion, classifier_for, device_description
from diagnosis.review.services import study_urgency_refresh
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.jobs import job_enqueue, job_enqueue_on_commit
from medassist.version import code_version

# The registered names of the tasks these services start (see diagnosis/inference/tasks.py).
SUGGESTION_COMPUTE = "diagnosis.tasks.suggestion_compute"
SALIENCY_COMPUTE_MANY = "diagnosis.tasks.saliency_compute_many"

# A request or image younger than this is left to its own wake-up (it is probably on its way).
SETTLE = timedelta(minutes=1)
SWEEP_LIMIT = 500
SALIENCY_SWEEPS = 3

logger = logging.getLogger(__name__)


def suggestions_enqueue_missing(*, instance_ids: list[int]) -> list[int]:
    """Queue inference for those instances the current champion has not answered yet.

    Runs once the current transaction commits; returns the ids it queued. A study that
    becomes stable again after a late instance re-queues only that instance.
    """
    version = ModelVersion.objects.filter(
        task=Task.IMAGE, status=ModelVersion.Status.CHAMPION
    ).first()
    done = (
        set(
            Suggestion.objects.filter(
                instance_id__in=instance_ids, model_version=version
            ).values_list("instance_id", flat=True)
        )
        if version is not None
        else set()
    )
    todo = inference_requests_create(instance_ids=[pk for pk in instance_ids if pk not in done])
    for pk in todo:
        job_enqueue_on_commit(SUGGESTION_COMPUTE, instance_id=pk)
    return todo


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
    """Open a pending request for each instance that has none open; returns their ids."""
    opened = []
    for instance_id in instance_ids:
        try:
            with transaction.atomic():
                InferenceRequest.objects.create(instance_id=instance_id)
        except IntegrityError:
            continue  # already waiting or running
        opened.append(instance_id)
    return opened


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
    return {"wake_up": int(first is not None), "lost": len(lost), "saliency": len(retry)}
