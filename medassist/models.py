"""Core records shared by every app: the patient and the append-only audit log."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"
        UNKNOWN = "U", "Unknown"

    mrn = models.CharField("MRN", max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    # Demo and test patients are generated; every page that shows one says so.
    is_synthetic = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.mrn} {self.name}".strip()


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise ValueError("Audit records are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit records are append-only.")


class AppendOnlyModel(models.Model):
    """A row that is written once and never updated or deleted, singly or in bulk.

    This is the Python guard (the only one on SQLite). On PostgreSQL a trigger refuses
    UPDATE, DELETE and TRUNCATE of these tables whatever the client (see migration
    ``0002_audit_chain``), so neither ``_base_manager`` nor raw SQL gets round it.
    """

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Audit records are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit records are append-only.")


class AuditEvent(AppendOnlyModel):
    """One thing somebody did. Rows are never updated or deleted, singly or in bulk.

    Events are written unchained, so that no request waits on a lock; a background step
    (``medassist.services.audit_chain_extend``) gives each its :class:`AuditChainLink`.

    The indexes follow the audit log's reads (``medassist.audit_views``): every list is
    newest first, ``(at, id)`` descending, and pages by keyset on that pair; each equality
    filter has an index that ends in ``(at, id)`` so that a filtered page is one ordered index
    range, not a sort of every match; the patient filter looks events up by the objects that
    lead to the patient, ``(object_type, object_id)``, and by the MRN some events carry in
    ``detail``.
    """

    at = models.DateTimeField(auto_now_add=True)
    # Indexed by audit_actor_at, which starts with it.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, db_index=False
    )
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["at", "id"], name="audit_at_id"),
            models.Index(fields=["actor", "at", "id"], name="audit_actor_at"),
            models.Index(fields=["object_type", "at", "id"], name="audit_object_type_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # Only the events that name a patient's MRN in their detail (a small share).
            models.Index(
                KT("detail__mrn"), name="audit_detail_mrn", condition=Q(detail__has_key="mrn")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"

    def canonical_content(self) -> bytes:
        """The event as the chain hashes it: every column, as read back from the database.

        Hash only a row read from the database (not the instance just created): the stored
        form (time precision, JSON numbers, the address) is what a later check reads again.
        """
        content = {
            "id": self.pk,
            "at": self.at.isoformat(),
            "actor": self.actor_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "detail": self.detail,
            "remote_addr": self.remote_addr,
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


# The hash before the first link.
CHAIN_GENESIS = "0" * 64


def chain_hash(*, previous: str, sequence: int, event: AuditEvent) -> str:
    """SHA-256 (hex) of a link: the previous link's hash, this sequence number, the event."""
    digest = hashlib.sha256(f"{previous}\n{sequence}\n".encode())
    digest.update(event.canonical_content())
    return digest.hexdigest()


class AuditChainLink(AppendOnlyModel):
    """An audit event's place in the tamper-evident chain (append-only, like the events).

    ``hash`` is :func:`chain_hash` over the previous link's hash, ``sequence`` and the
    event's content, so changing, removing or reordering any chained event breaks every
    later link (``manage.py audit_verify`` finds the first). A separate table, because the
    event's own row may never be updated once written.
    """

    event = models.OneToOneField(
        AuditEvent, primary_key=True, on_delete=models.PROTECT, related_name="chain_link"
    )
    sequence = models.PositiveBigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    chained_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"#{self.sequence} event {self.event_id} {self.hash[:12]}"
