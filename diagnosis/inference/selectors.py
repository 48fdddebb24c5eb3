"""Reads of inference results: an instance's latest suggestion, a study's aggregate, failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet

from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.registry.models import NORMAL_CODE
from imaging.models import Instance


def inference_failures(*, limit: int = 20) -> QuerySet[Suggestion]:
    """The latest images inference gave up on, with the reason, for the ML admin."""
    return (
        Suggestion.objects.select_related("model_version", "instance__series__study__patient")
        .filter(status=Suggestion.Status.FAILED)
        .order_by("-created_at", "-pk")[:limit]
    )


def latest_suggestion(*, instance: Instance) -> Suggestion | None:
    return (
        Suggestion.objects.select_related("model_version", "top_finding")
        .filter(instance=instance)
        .order_by("-created_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class StudySuggestion:
    """The study-level view of its instances' suggestions (computed on read)."""

    rule: str
    probabilities: dict[str, float]
    top_finding: str
    instances: list[Suggestion]  # the per-instance detail, one per instance
    needs_attention: bool


def study_suggestion(*, study_id: int, rule: str | None = None) -> StudySuggestion | None:
    """Aggregate the latest OK suggestion of each instance of a study.

    ``rule`` (default ``MEDASSIST_STUDY_AGGREGATION``): "max" takes, per finding, the highest
    probability of any instance and, for "no finding", the lowest (one abnormal slice makes an
    abnormal study); "mean" averages each finding over the instances.
    Returns None when no instance has a suggestion yet.
    """
    rule = rule or settings.MEDASSIST_STUDY_AGGREGATION
    latest: dict[int, Suggestion] = {}
    for suggestion in (
        Suggestion.objects.select_related("model_version", "top_finding", "instance")
        .filter(instance__series__study_id=study_id, status=Suggestion.Status.OK)
        .order_by("instance_id", "-created_at", "-pk")
    ):
        latest.setdefault(suggestion.instance_id, suggestion)
    if not latest:
        return None
    codes = sorted({code for s in latest.values() for code in s.probabilities})
    values = {code: [s.probabilities.get(code, 0.0) for s in latest.values()] for code in codes}
    if rule == "mean":
        combined = {code: sum(v) / len(v) for code, v in values.items()}
    elif rule == "max":
        # Any abnormal image makes an abnormal study, and the study is normal only as far as
        # its least normal image: max for findings, min for "no finding". These are
        # per-finding scores, so they need not sum to 1.
        combined = {code: min(v) if code == NORMAL_CODE else max(v) for code, v in values.items()}
    else:
        raise ValueError(f"Unknown study aggregation rule {rule!r}; use 'max' or 'mean'.")
    top = max(combined, key=lambda code: combined[code])
    return StudySuggestion(
        rule=rule,
        probabilities=combined,
        top_finding=top,
        instances=sorted(latest.values(), key=lambda s: s.instance_id),
        needs_attention=any(s.needs_attention for s in latest.values()),
    )


def request_claimable(now: datetime) -> Q:
    """Requests a worker may take now: waiting and past their backoff, or gone stale.

    A request put back after a failed try waits until its ``not_before`` (backoff). A
    request left "running" longer than ``MEDASSIST_INFERENCE_STALE_SECONDS`` belonged to a
    worker that died; it is claimable again.
    """
    stale = now - timedelta(seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS)
    return Q(status=InferenceRequest.Status.PENDING) & (
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    ) | Q(status=InferenceRequest.Status.RUNNING, claimed_at__lt=stale)
