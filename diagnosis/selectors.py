"""Reads of the diagnosis app."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from imaging.models import Instance

from .models import Encounter, Finding, ModelVersion, Review, Suggestion, Task


def worklist() -> QuerySet[Instance]:
    """Instances no clinician has reviewed yet, newest first (with or without a suggestion)."""
    reviewed = Review.objects.filter(instance=OuterRef("pk"), source=Review.Source.CLINICIAN)
    return (
        Instance.objects.select_related("series__study__patient")
        .exclude(Exists(reviewed))
        .order_by("-created_at")
    )


def champion_exists(*, task: str = Task.IMAGE) -> bool:
    return ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).exists()


def latest_suggestion(*, instance: Instance) -> Suggestion | None:
    return (
        Suggestion.objects.select_related("model_version", "top_finding")
        .filter(instance=instance)
        .order_by("-created_at", "-pk")
        .first()
    )


def reviews_of(*, instance: Instance) -> QuerySet[Review]:
    """Every review of the instance, newest first; the first one is the current label."""
    return (
        Review.objects.select_related("reviewer", "finding", "supersedes")
        .filter(instance=instance)
        .order_by("-created_at", "-pk")
    )


def active_findings() -> QuerySet[Finding]:
    return Finding.objects.filter(is_active=True).order_by("sort_order", "code")


def model_versions(*, task: str = Task.IMAGE) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(task=task).order_by("-version")


def recent_encounters(*, limit: int = 50) -> QuerySet[Encounter]:
    return Encounter.objects.select_related("patient", "opened_by").order_by("-created_at")[:limit]
