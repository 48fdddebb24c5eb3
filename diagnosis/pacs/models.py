"""Results back to the PACS: one row per Structured Report to send (docs/pacs_export.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from diagnosis.review.models import Review
from imaging.models import Instance, Study


class PacsExport(models.Model):
    """A doctor's final review of one image, to be stored in the PACS as a DICOM SR.

    The row is the work: it is committed with (or after) the review, and a Celery message only
    wakes a worker to send it; the sweep re-wakes exports whose message was lost. Its UIDs are
    chosen when the row is made, so every attempt sends the same objects and an archive that
    got one twice keeps one. An amended review makes a new export whose ``replaces`` is the
    export of the review it supersedes: its SR names that SR in its Predecessor Documents
    Sequence. An export still waiting when its review is amended is never sent (``replaced``).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        # With ``next_attempt_at`` set a retry is scheduled; without, it gave up.
        FAILED = "failed", "Failed"
        REPLACED = "replaced", "Replaced by an amended review before it was sent"

    class Trigger(models.TextChoices):
        AUTO = "auto", "Sent automatically on the final review"
        MANUAL = "manual", "Sent by the doctor"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="+")
    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="+")
    review = models.OneToOneField(Review, on_delete=models.PROTECT, related_name="pacs_export")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    sr_sop_instance_uid = models.CharField(max_length=64, unique=True)
    sr_series_instance_uid = models.CharField(max_length=64)
    # Empty when no Secondary Capture of the heatmap goes with the SR.
    sc_sop_instance_uid = models.CharField(max_length=64, blank=True)
    sc_series_instance_uid = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Where the last attempt went: "CALLED_AE@host:port".
    destination = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["instance", "-id"], name="pacs_export_instance"),
            # The sweep's look for work that waits: a few rows of a partial index.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="pacs_export_waiting",
                condition=models.Q(status__in=["queued", "sending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"PACS export {self.pk} of review {self.review_id} ({self.status})"

    @property
    def retry_scheduled(self) -> bool:
        return self.status == self.Status.FAILED and self.next_attempt_at is not None
