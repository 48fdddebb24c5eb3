"""Reads of the model registry: its versions, whether a champion exists, the active findings."""

from __future__ import annotations

from django.db.models import QuerySet

from diagnosis.registry.models import Finding, ModelVersion, Task


def champion_exists(*, task: str = Task.IMAGE) -> bool:
    return ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).exists()


def active_findings() -> QuerySet[Finding]:
    return Finding.objects.filter(is_active=True).order_by("sort_order", "code")


def model_versions(*, task: str = Task.IMAGE) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(task=task).order_by("-version")
