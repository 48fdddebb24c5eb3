"""Celery tasks of the fine-tuning app: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task

from . import services
from .adapters import ADAPTERS


@shared_task(name="finetune.tasks.training_run_execute", acks_late=True)
def training_run_execute(*, run_id: int) -> None:
    services.training_run_execute(run_id=run_id)


@shared_task(name="finetune.tasks.training_schedule_tick")
def training_schedule_tick() -> None:
    for task in ADAPTERS:
        services.training_run_start_if_new_labels(task=task)


@shared_task(name="finetune.tasks.training_sweep")
def training_sweep() -> None:
    services.training_runs_sweep()
