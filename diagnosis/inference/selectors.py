"""Reads of inference results: an instance's current suggestion and the ones it superseded, a
study's aggregate, failures, and what re-scoring on a new champion would do or is doing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from diagnosis.inference.models import InferenceRequest, RescoreJob, Suggestion
from diagnosis.registry.models import NORMAL_CODE, ModelVersion, Task
from diagnosis.review.models import ReadingState, Review
from imaging.models import Instance


def inference_failures(*, limit: int = 20) -> QuerySet[Suggestion]:
    """The latest images inference gave up on, with the reason, for the ML admin."""
    return (
        Suggestion.objects.select_related("model_version", "instance__series__study__patient")
        .filter(status=Suggestion.Status.FAILED)
        .order_by("-created_at", "-pk")[:limit]
    )


# A version never promoted sorts before every promoted one.
NEVER_PROMOTED = datetime(1970, 1, 1, tzinfo=UTC)


def promoted_at() -> Coalesce:
    """When a suggestion's model version last became champion: the order of suggestions.

    A suggestion is superseded by a suggestion of the same instance from a version promoted
    later. A rollback promotes an earlier version again, so its suggestion (one per instance
    and version, never rewritten) is current again: creation order would keep showing the
    retired version's.
    """
    return Coalesce(
        F("model_version__promoted_at"), Value(NEVER_PROMOTED), output_field=DateTimeField()
    )


def superseding_suggestions() -> QuerySet[Suggestion]:
    """For a subquery under a Suggestion queryset annotated with ``promoted``
    (:func:`promoted_at`): the suggestions of the same instance that supersede its row."""
    return (
        Suggestion.objects.annotate(promoted=promoted_at())
        .filter(instance_id=OuterRef("instance_id"))
        .filter(
            Q(promoted__gt=OuterRef("promoted"))
            | Q(promoted=OuterRef("promoted"), pk__gt=OuterRef("pk"))
        )
    )


def current_suggestions() -> QuerySet[Suggestion]:
    """One suggestion per instance: the one no suggestion of a later-promoted version
    supersedes (annotated ``promoted``)."""
    return Suggestion.objects.annotate(promoted=promoted_at()).exclude(
        Exists(superseding_suggestions())
    )


def suggestion_history(*, instance: Instance) -> QuerySet[Suggestion]:
    """Every suggestion of ``instance``, the current one first, then each one it superseded.

    Each row is annotated ``superseded_by_version``: the version number of the suggestion
    that directly superseded it (None for the current one). Nothing is ever deleted: a
    doctor's review keeps pointing at the suggestion the doctor saw.
    """
    successor = superseding_suggestions().order_by("promoted", "pk")
    return (
        Suggestion.objects.select_related("model_version", "top_finding")
        .annotate(promoted=promoted_at())
        .annotate(superseded_by_version=Subquery(successor.values("model_version__version")[:1]))
        .filter(instance=instance)
        .order_by("-promoted", "-pk")
    )


def latest_suggestion(*, instance: Instance) -> Suggestion | None:
    """The current suggestion of ``instance`` (see :func:`current_suggestions`), or None.

    It carries ``superseded``: the suggestions it and its predecessors superseded, newest
    first, each with ``superseded_by_version`` (two queries in all; the case page lists them
    under the current one).
    """
    history = list(suggestion_history(instance=instance))
    if not history:
        return None
    current = history[0]
    current.superseded = history[1:]  # type: ignore[attr-defined]
    return current


@dataclass(frozen=True)
class StudySuggestion:
    """The study-level view of its instances' suggestions (computed on read)."""

    rule: str
    probabilities: dict[str, float]
    top_finding: str
    instances: list[Suggestion]  # the per-instance detail, one per instance
    needs_attention: bool


def study_suggestion(*, study_id: int, rule: str | None = None) -> StudySuggestion | None:
    """Aggregate the latest OK suggestion of each instance of a study (latest by the
    promotion of its version, as :func:`current_suggestions`).

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
        .annotate(promoted=promoted_at())
        .order_by("instance_id", "-promoted", "-pk")
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


# --- Re-scoring the unreviewed studies on a new champion -----------------------------------

RESCORE_ACTIVE = (RescoreJob.Status.QUEUED, RescoreJob.Status.RUNNING)


def unreviewed_instances() -> QuerySet[Instance]:
    """Instances nobody has reviewed: no review of any source (a clinician's read, an
    imported label, the demo's ground truth), hence no reading state either.

    Under double reading an image with one read is reviewed: the second reader must judge the
    same suggestion the first one saw. Frozen test cases are not set apart: the ordinary
    inference path answers them like any image and the worklist shows them, while the gate
    measures every version on their images directly, never through stored suggestions.
    """
    return Instance.objects.exclude(
        Exists(Review.objects.filter(instance_id=OuterRef("pk")))
    ).exclude(Exists(ReadingState.objects.filter(instance_id=OuterRef("pk"))))


def rescore_candidates(*, version: ModelVersion) -> QuerySet[Instance]:
    """Unreviewed instances an earlier version answered and ``version`` has not: what a
    re-score on ``version`` runs (one new suggestion each)."""
    answered = Suggestion.objects.filter(instance_id=OuterRef("pk"))
    return (
        unreviewed_instances()
        .filter(Exists(answered.exclude(model_version=version)))
        .exclude(Exists(answered.filter(model_version=version)))
    )


def rescore_restored(*, version: ModelVersion) -> QuerySet[Instance]:
    """Unreviewed instances whose ``version`` suggestion is older than another version's.

    After a rollback to ``version`` that suggestion is current again (see
    :func:`promoted_at`) without a new row: only their studies' worklist urgency, stored
    when the newer row was written, needs refreshing.
    """
    own = Suggestion.objects.filter(instance_id=OuterRef("pk"), model_version=version)
    return (
        unreviewed_instances()
        .annotate(own_suggestion=Subquery(own.values("pk")[:1]))
        .filter(own_suggestion__isnull=False)
        .filter(
            Exists(
                Suggestion.objects.filter(
                    instance_id=OuterRef("pk"), pk__gt=OuterRef("own_suggestion")
                )
            )
        )
    )


def rescore_job_active() -> RescoreJob | None:
    """The queued or running re-score, if any (there is at most one)."""
    return (
        RescoreJob.objects.select_related("model_version")
        .filter(status__in=RESCORE_ACTIVE)
        .order_by("-created_at", "-pk")
        .first()
    )


@dataclass(frozen=True)
class RescoreProgress:
    """What a re-score has done so far, counted from the suggestion rows (the truth)."""

    done: int  # candidates with a new OK suggestion of the job's version
    failed: int  # candidates whose inference failed (a visible "failed" suggestion)
    remaining: int  # candidates still without a suggestion of the job's version
    skipped: int  # candidates reviewed meanwhile: left as they were


def rescore_progress(*, job: RescoreJob) -> RescoreProgress:
    """Count the job's progress: suggestions of its version written since it was created for
    instances an earlier version had answered, and the candidates still waiting."""
    earlier = Suggestion.objects.filter(instance_id=OuterRef("instance_id")).exclude(
        model_version_id=job.model_version_id
    )
    counts = (
        Suggestion.objects.filter(model_version_id=job.model_version_id)
        .filter(created_at__gte=job.created_at)
        .filter(Exists(earlier))
        .aggregate(
            done=Count("pk", filter=Q(status=Suggestion.Status.OK)),
            failed=Count("pk", filter=Q(status=Suggestion.Status.FAILED)),
        )
    )
    remaining = rescore_candidates(version=job.model_version).count()
    done = min(counts["done"], job.total)
    failed = min(counts["failed"], job.total - done)
    return RescoreProgress(
        done=done,
        failed=failed,
        remaining=remaining,
        skipped=max(0, job.total - remaining - done - failed),
    )


@dataclass(frozen=True)
class RescoreOverview:
    """The version page's re-scoring panel of an image model version."""

    version: ModelVersion
    is_champion: bool
    images: int  # unreviewed images a re-score would run now (0 unless champion)
    studies: int  # ... and their studies
    job: RescoreJob | None  # the latest re-score on this version
    active: RescoreJob | None  # the re-score queued or running now, on any version

    @property
    def can_start(self) -> bool:
        return self.is_champion and self.active is None and self.images > 0


def rescore_overview(*, version: ModelVersion) -> RescoreOverview | None:
    """What re-scoring on ``version`` would do and its latest job; None for a non-image task."""
    if version.task != Task.IMAGE:
        return None
    is_champion = version.status == ModelVersion.Status.CHAMPION
    images = studies = 0
    if is_champion:
        candidates = rescore_candidates(version=version)
        images = candidates.count()
        studies = candidates.values("series__study_id").distinct().count() if images else 0
    return RescoreOverview(
        version=version,
        is_champion=is_champion,
        images=images,
        studies=studies,
        job=RescoreJob.objects.select_related("model_version", "requested_by")
        .filter(model_version=version)
        .order_by("-created_at", "-pk")
        .first(),
        active=rescore_job_active(),
    )
