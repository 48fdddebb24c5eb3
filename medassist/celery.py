"""The Celery application: queues ``default``, ``inference`` and ``training``."""

from __future__ import annotations

import logging.config
import os
from contextvars import Token
from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun
from kombu import Queue

from medassist.logging import LogContext, log_context_end, log_context_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")

app = Celery("medassist")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(
    Queue(name, routing_key=name) for name in ("default", "inference", "training")
)
# Every package holding a tasks.py: the apps, and the workflows of diagnosis in their own
# sub-packages (tests/core/test_celery_names.py fails if one is missing here).
TASK_PACKAGES = ["medassist", "imaging", "diagnosis.inference", "diagnosis.pacs", "finetune"]
app.autodiscover_tasks(lambda: TASK_PACKAGES)


@setup_logging.connect
def _log_as_the_web_processes_do(**kwargs: Any) -> None:
    """Workers and beat log with the project's ``LOGGING``, not Celery's own format.

    Connected, this receiver replaces Celery's logging setup altogether, so every process
    writes the same lines (JSON in production); ``LOG_LEVEL`` sets the level everywhere.
    """
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# Tokens of the tasks running in this process, so an eager task run inside a request gives
# the request its own id back when it ends.
_task_contexts: dict[str, Token[LogContext | None]] = {}


@task_prerun.connect
def _log_with_the_task_id(task_id: str, **kwargs: Any) -> None:
    _task_contexts[task_id] = log_context_start(request_id=task_id)


@task_postrun.connect
def _end_the_task_log_context(task_id: str, **kwargs: Any) -> None:
    log_context_end(_task_contexts.pop(task_id, None))
