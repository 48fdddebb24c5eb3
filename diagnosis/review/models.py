"""The doctors' review rows: reviews (the labels), reading state, assignments and study urgency."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding
from imaging.models import Instance


class Review(models.Model):
    """A clinician's label for an instance. Never edited: a new review supersedes.

    With single reading a review supersedes the instance's previous current review; with
    double reading (``MEDASSIST_DOUBLE_READING``) each reader's chain is their own, so two
    independent reads stay current side by side until they agree or an adjudicator decides.
    Which review is the training label is kept in :class:`ReadingState`.
    """

    class Action(models.TextChoices):
        ACCEPT = "accept", "Accepted the suggestion"
        CORRECT = "correct", "Corrected the finding"
        REJECT = "reject", "Rejected as non-diagnostic"

    class Kind(models.TextChoices):
        READ = "read", "Read"
        ADJUDICATION = "adjudication", "Adjudication"

    class Source(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        # Demo data comes with its generator's ground truth, shown as such.
        SYNTHETIC_TRUTH = "synthetic_truth", "Synthetic ground truth (demo data)"
        # Existing labels an ML admin brought with a CSV file (finetune.label_import).
        IMPORT = "import", "Imported label"

    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="reviews")
    suggestion = models.ForeignKey(Suggestion, null=True, blank=True, on_delete=models.PROTECT)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.READ)
    # The (first) finding; empty only when the image was rejected as non-diagnostic.
    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.PROTECT)
    # Every finding the reader chose, the first included (several when multi-label).
    findings = models.ManyToManyField(Finding, blank=True, related_name="+")
    comment = models.TextField(blank=True)
    source = models.CharField(max_length=32, choices=Source.choices, default=Source.CLINICIAN)
    # Where an imported label came from: the CSV file, its row and the import batch.
    imported_from = models.CharField(max_length=300, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["instance", "source"], name="review_instance_source")]

    def __str__(self) -> str:
        return f"Review {self.pk}: {self.finding_id or self.action} on {self.instance_id}"


class ReadingState(models.Model):
    """Where an instance stands in reading, derived from its reviews by the review services.

    Only :mod:`diagnosis.review.services` writes it, inside the transaction that adds a review, so
    the worklist can filter 100,000 studies by state with one indexed join instead of
    re-deriving agreement from every review chain. ``label`` is the review that counts as
    the instance's label (the training label), or empty while reads are missing or disagree.
    """

    class Status(models.TextChoices):
        ONE_READ = "one_read", "Waiting for the second read"
        REVIEWED = "reviewed", "Reviewed"
        ADJUDICATION = "adjudication", "Needs adjudication"

    instance = models.OneToOneField(
        Instance, on_delete=models.PROTECT, primary_key=True, related_name="reading_state"
    )
    status = models.CharField(max_length=16, choices=Status.choices)
    label = models.OneToOneField(
        Review, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["status"], name="reading_state_status")]

    def __str__(self) -> str:
        return f"Reading of {self.instance_id}: {self.status}"


class ReviewAssignment(models.Model):
    """A study put on one doctor's list ("assigned to me" in the worklist)."""

    study = models.ForeignKey("imaging.Study", on_delete=models.PROTECT, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "assignee"], name="one_assignment_per_doctor")
        ]
        indexes = [models.Index(fields=["assignee", "study"], name="assignment_assignee_study")]

    def __str__(self) -> str:
        return f"Study {self.study_id} assigned to {self.assignee_id}"


class StudyUrgency(models.Model):
    """How urgent a study is for the worklist, kept up to date when suggestions are stored.

    Sorting 100,000 studies by a subquery over their suggestions costs a second per page;
    one indexed number per study costs milliseconds. Written only by
    :func:`diagnosis.review.services.study_urgency_refresh`.
    """

    study = models.OneToOneField(
        "imaging.Study", on_delete=models.CASCADE, primary_key=True, related_name="urgency"
    )
    priority = models.FloatField(default=0.0)
    key_suggestion = models.ForeignKey(
        Suggestion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["-priority"], name="study_urgency_priority")]

    def __str__(self) -> str:
        return f"Urgency {self.priority:.3f} of study {self.study_id}"


class StudyFinding(models.Model):
    """A finding that a current AI suggestion of the study names first (one row per pair).

    The worklist's finding filter reads this, not every suggestion of every study. Written
    only by :func:`diagnosis.review.services.study_urgency_refresh`, with the urgency.
    """

    study = models.ForeignKey("imaging.Study", on_delete=models.CASCADE, related_name="+")
    finding = models.ForeignKey("diagnosis.Finding", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "finding"], name="study_finding_unique")
        ]
        indexes = [models.Index(fields=["finding", "study"], name="study_finding_by_finding")]

    def __str__(self) -> str:
        return f"Study {self.study_id} suggests finding {self.finding_id}"
