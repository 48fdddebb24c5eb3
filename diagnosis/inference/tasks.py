"""Celery tasks of inference: thin wrappers over its services.

Their registered names keep the ``diagnosis.tasks.`` prefix they had before this module moved,
so routes, and messages already queued, keep working.
"""

from __future__ import annotations

import logging

from celery import shared_task

from diagnosis.inference import batching, rescoring, services
from diagnosis.registry.serving import NoChampionError

logger = logging.getLogger(__name__)


NO_CHAMPION_RETRIES = 3


@shared_task(
    name="diagnosis.tasks.suggestion_compute",
    bind=True,
    max_retries=NO_CHAMPION_RETRIES,
    acks_late=True,
)
def suggestion_compute(self, *, instance_id: int) -> None:  # type: ignore[no-untyped-def]
    """Wake-up call for an inference worker: it runs whatever batch is waiting.

    ``instance_id`` names the request that sent it (for logs); the batches may hold it and
    others, or nothing if another worker took them already. Poison inputs are retried and
    failed per request inside the batch service, not here.
    """
    try:
        batching.inference_drain()
    except NoChampionError:
        # Nothing to run yet; the requests wait (bounded, then the case page says so).
        if self.request.retries < NO_CHAMPION_RETRIES:
            raise self.retry(countdown=30) from None
        logger.warning(
            "No champion for instance %s after %s tries", instance_id, self.request.retries
        )


@shared_task(name="diagnosis.tasks.saliency_compute", acks_late=True)
def saliency_compute(*, suggestion_id: int) -> None:
    services.saliency_compute(suggestion_id=suggestion_id)


@shared_task(name="diagnosis.tasks.saliency_compute_many", acks_late=True)
def saliency_compute_many(*, suggestion_ids: list[int]) -> None:
    """Heatmaps of one inference batch: one message per batch, not per image; images waiting
    for their suggestion go first (see ``batching.saliency_compute_many``)."""
    batching.saliency_compute_many(suggestion_ids=suggestion_ids)


@shared_task(name="diagnosis.tasks.rescore_run", acks_late=True)
def rescore_run(*, job_id: int) -> None:
    """Wake-up for one step of a re-score on the new champion (see inference/rescoring.py).

    The job row is the work: a duplicate or redelivered wake-up finds the job held by
    another step, or ended, and does nothing.
    """
    rescoring.rescore_run(job_id=job_id)


@shared_task(name="diagnosis.tasks.inference_sweep")
def inference_sweep() -> None:
    """Each minute, from beat: re-send wake-ups for inference work the database says waits."""
    services.inference_sweep()
