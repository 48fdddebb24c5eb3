"""Celery tasks of the core app: thin wrappers over services."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="medassist.tasks.audit_chain")
def audit_chain() -> None:
    """Link the audit events written since the last run into the hash chain (beat: 1 min)."""
    services.audit_chain_extend()
