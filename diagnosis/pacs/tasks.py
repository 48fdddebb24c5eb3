"""Celery tasks of the PACS export (default queue): thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from diagnosis.pacs import services


@shared_task(name="diagnosis.pacs.tasks.pacs_export_send", acks_late=True)
def pacs_export_send(*, export_id: int) -> None:
    """Wake-up for one export: one attempt if it is due (a duplicate finds nothing to do)."""
    services.pacs_export_send(export_id=export_id)


@shared_task(name="diagnosis.pacs.tasks.pacs_sweep")
def pacs_sweep() -> None:
    """Each minute, from beat: re-wake exports the database says wait, take back stuck ones."""
    services.pacs_export_sweep()
