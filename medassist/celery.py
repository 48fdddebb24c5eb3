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
app.autodiscover_tasks()
