"""Reads of the fine-tuning app."""

from __future__ import annotations

from django.db.models import QuerySet

from diagnosis.models import Task

from .models import TestSetCase, TrainingRun, TriageNote


def training_runs(*, limit: int = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("candidate", "base_version", "started_by").order_by(
        "-created_at"
    )[:limit]


def test_set_size(*, task: str) -> int:
    if task == Task.TRIAGE:
        return TriageNote.objects.filter(split=TriageNote.Split.TEST).count()
    return TestSetCase.objects.filter(task=task).count()
