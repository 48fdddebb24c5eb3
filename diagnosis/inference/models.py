"""Inference's rows: the requests workers claim and the suggestions they store."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from diagnosis.registry.models import Finding, ModelVersion
from imaging.models import Instance


class Suggestion(models.Model):
    """What a model version said about one instance. Written once per (instance, version)."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="suggestions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    probabilities = models.JSONField(default=dict)  # finding code -> probability
    top_finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.PROTECT)
    top_probability = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # "Needs attention" instead of a confident wrong answer: unsure, or out of scope.
    needs_attention = models.BooleanField(default=False)
    attention_reason = models.CharField(max_length=300, blank=True)
    attention_margin = models.FloatField(default=0.0)  # the threshold in use
    saliency_key = models.CharField(max_length=200, blank=True)  # under MEDIA_ROOT
    # Provenance: enough to say exactly what produced this output.
    input_sha256 = models.CharField(max_length=64)
    weights_sha256 = models.CharField(max_length=64, default="")
    preprocess_version = models.CharField(max_length=16, default="")
    code_version = models.CharField(max_length=64, default="")
    device = models.CharField(max_length=100, default="")
    latency_ms = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "model_version"], name="one_suggestion_per_instance_version"
            ),
        ]
        # The ML admin's list of images inference gave up on (newest first): a few rows of
        # a partial index, not a scan of every suggestion.
        indexes = [
            models.Index(
                fields=["-created_at", "-id"],
                name="suggestion_failed_recent",
                condition=models.Q(status="failed"),
            )
        ]

    def __str__(self) -> str:
        return f"Suggestion {self.top_finding_id} for {self.instance_id} by {self.model_version}"


class InferenceRequest(models.Model):
    """One instance waiting for the image champion; workers claim these in batches.

    The Celery message only wakes a worker; the row is the work. A worker claims up to a
    batch of pending rows at once (skipping rows other workers hold), so a burst of uploads
    runs as a few large batches instead of many single images.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A request put back after a failed try is not claimed again before this (backoff).
    not_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance"],
                condition=Q(status__in=["pending", "running"]),
                name="one_open_inference_request_per_instance",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            # "Is an older request still waiting?", asked after every upload's commit
            # (services.inference_wake): the oldest waiting request is the first entry, however
            # long the queue and whatever the table's statistics say.
            models.Index(
                fields=["id"], condition=Q(status="pending"), name="inference_request_waiting"
            ),
        ]

    def __str__(self) -> str:
        return f"Inference request {self.pk} for {self.instance_id} ({self.status})"


class RescoreJob(models.Model):
    """Re-running the unreviewed studies on a (new) champion, after a promotion or rollback.

    Each re-scored instance gets a new :class:`Suggestion` row of ``model_version``; the older
    rows stay and are shown as superseded. Reviewed instances are left as they are.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Re-scoring {self.pk} on {self.model_version} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * (self.done + self.failed) / self.total) if self.total else 0
