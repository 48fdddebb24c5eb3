"""Celery tasks of the imaging app: thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from . import stability


@shared_task(name="imaging.tasks.study_stable_check")
def study_stable_check(*, study_id: int) -> None:
    stability.study_stable_check(study_id=study_id)
