"""Starting background work by task name: the one way services wake a Celery worker.

Services never import task modules (tasks import services, so that would be a circle).
They call :func:`job_enqueue_on_commit` with the task's registered ``name=``; the routes in
``settings.CELERY_TASK_ROUTES`` pick the queue by that same name.

The message is only a wake-up. The row that says what must happen (an inference request, a
training run) is committed first and is the truth; so a broker that cannot be reached is
logged and the call returns ``False``, it never raises into the request that committed the
work, and never undoes it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def job_enqueue(name: str, *, countdown: float | None = None, **kwargs: Any) -> bool:
    """Send one wake-up for the task registered as ``name`` with these keyword arguments.

    Returns whether the broker accepted it. With ``CELERY_TASK_ALWAYS_EAGER`` the task runs
    here and now, as ``apply_async`` would run it.
    """
    from medassist.celery import app

    try:
        if app.conf.task_always_eager:
            app.loader.import_default_modules()  # registers every app's tasks
            app.tasks[name].apply(kwargs=kwargs)
        else:
            app.send_task(name, kwargs=kwargs, countdown=countdown)
    except Exception:
        # Kombu raises OperationalError, redis-py ConnectionError, and more on an outage.
        logger.exception("Could not queue %s(%s); the work waits in the database.", name, kwargs)
        return False
    return True


def job_enqueue_on_commit(name: str, *, countdown: float | None = None, **kwargs: Any) -> None:
    """Queue ``name`` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: job_enqueue(name, countdown=countdown, **kwargs))
