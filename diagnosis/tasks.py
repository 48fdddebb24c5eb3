"""Celery tasks of the diagnosis app: thin wrappers over services."""

from __future__ import annotations

import logging

from celery import shared_task

from . import services
from .serving import NoChampionError

logger = logging.getLogger(__name__)

MAX_RETRIES = 3


@shared_task(bind=True, max_retries=MAX_RETRIES, acks_late=True)
def suggestion_compute(self, *, instance_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        services.suggestion_compute(instance_id=instance_id)
    except NoChampionError:
        # Nothing to run yet; the case waits for a champion (bounded, then logged).
        if self.request.retries < MAX_RETRIES:
            raise self.retry(countdown=30) from None
        logger.warning("No champion for instance %s after %s tries", instance_id, MAX_RETRIES)
    except Exception as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        services.suggestion_record_failure(instance_id=instance_id, error=str(exc))
