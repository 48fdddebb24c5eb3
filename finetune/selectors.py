"""Reads of the fine-tuning app."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import TrainingRun


def training_runs(*, limit: int = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("candidate", "base_version", "started_by").order_by(
        "-created_at"
    )[:limit]
