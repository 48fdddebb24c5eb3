"""Reads of the model registry: its versions, whether a champion exists, the findings."""

from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet

from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.review.selectors import current_label_reviews


def champion_exists(*, task: str = Task.IMAGE) -> bool:
    return ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).exists()


def active_findings() -> QuerySet[Finding]:
    return Finding.objects.filter(is_active=True).order_by("sort_order", "code")


def finding_with_code(*, code: str) -> Finding | None:
    """The finding with ``code``, offered or retired; None when the code was never used."""
    return Finding.objects.filter(code=code).first()


def findings_vocabulary() -> QuerySet[Finding]:
    """Every finding, offered ones first, with ``n_labelled`` and ``n_test`` counts.

    ``n_labelled``: instances whose current label (see
    :func:`diagnosis.review.selectors.current_label_reviews`) is this finding; ``n_test``:
    frozen test cases of it (``finetune.TestSetCase``, counted through its reverse relation
    so this floor imports nothing above it).
    """
    labels = current_label_reviews().values("pk")
    return Finding.objects.annotate(
        n_labelled=Count("review", filter=Q(review__in=labels), distinct=True),
        n_test=Count("testsetcase", distinct=True),
    ).order_by(F("retired_at").asc(nulls_first=True), "sort_order", "code")


def model_versions(*, task: str = Task.IMAGE) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(task=task).order_by("-version")
