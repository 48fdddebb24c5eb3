"""The Celery application: queues ``default``, ``inference`` and ``training``."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")

app = Celery("medassist")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(
    Queue(name, routing_key=name) for name in ("default", "inference", "training")
)
# Every package holding a tasks.py: the apps, and the workflows of diagnosis in their own
# sub-packages (tests/core/test_celery_names.py fails if one is missing here).
TASK_PACKAGES = ["medassist", "imaging", "diagnosis.inference", "finetune"]
app.autodiscover_tasks(lambda: TASK_PACKAGES)
