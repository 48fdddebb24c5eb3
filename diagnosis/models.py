"""The clinical loop: findings, model registry, suggestions, reviews and encounters."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from imaging.models import Instance
from medassist.models import Patient


class Task(models.TextChoices):
    IMAGE = "image", "Image finding"
    TRIAGE = "triage", "Triage"


NORMAL_CODE = "normal"  # the finding vocabulary's "no finding" entry


class Finding(models.Model):
    """One entry of the finding vocabulary the image model predicts over."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """A trained model: its weights file, what it was trained on and how good it is."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        CHAMPION = "champion", "Champion"
        RETIRED = "retired", "Retired"

    task = models.CharField(max_length=16, choices=Task.choices)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    weights_key = models.CharField(max_length=200)  # relative to MEDIA_ROOT
    weights_sha256 = models.CharField(max_length=64)
    labels = models.JSONField()  # finding codes, in the order of the model's outputs
    image_size = models.PositiveIntegerField()
    preprocess_version = models.CharField(max_length=16)
    # Temperature scaling fitted on validation patients when the version was trained.
    temperature = models.FloatField(default=1.0)
    # What the model is for and what it is not for; inputs outside it need attention.
    model_card = models.JSONField(default=dict)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT)
    # Metrics on the task's frozen test set, measured when the version was trained.
    metrics = models.JSONField(default=dict)
    training_summary = models.JSONField(default=dict)
    # Labels up to this id were in the training data; later ones are "new labels": reviews
    # for the image task, nurses' confirmed triage assessments for the triage task.
    trained_through_review_id = models.BigIntegerField(default=0)
    # Triage task only: doctors' dispositions up to this id were in the training data.
    trained_through_disposition_id = models.BigIntegerField(default=0)
    trained_on_synthetic_data = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "version"], name="unique_task_version"),
            models.UniqueConstraint(
                fields=["task"], condition=Q(status="champion"), name="one_champion_per_task"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task} v{self.version}"

    @property
    def calibration_note(self) -> str:
        """One sentence for the pages that show this version's probabilities."""
        held = int(self.training_summary.get("n_calibration", 0) or 0)
        if held:
            return (
                f"Probabilities are calibrated (temperature {self.temperature:.2f}, fitted "
                f"on {held} held-back cases)."
            )
        return (
            "Probabilities are not calibrated: too few held-back cases when this version "
            "was trained."
        )


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

    def __str__(self) -> str:
        return f"Suggestion {self.top_finding_id} for {self.instance_id} by {self.model_version}"


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
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["instance", "source"], name="review_instance_source")]

    def __str__(self) -> str:
        return f"Review {self.pk}: {self.finding_id or self.action} on {self.instance_id}"


class Encounter(models.Model):
    """A patient's visit as the triage nurse records it."""

    class MentalStatus(models.TextChoices):
        ALERT = "A", "Alert"
        VOICE = "V", "Responds to voice"
        PAIN = "P", "Responds to pain"
        UNRESPONSIVE = "U", "Unresponsive"

    class ArrivalMode(models.TextChoices):
        WALK_IN = "walk_in", "Walk-in"
        AMBULANCE = "ambulance", "Ambulance"
        HELICOPTER = "helicopter", "Helicopter"
        POLICE = "police", "Police"
        TRANSFER = "transfer", "Transfer from another hospital"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    chief_complaint = models.TextField()
    heart_rate = models.PositiveIntegerField(
        "heart rate (/min)", validators=[MinValueValidator(20), MaxValueValidator(300)]
    )
    respiratory_rate = models.PositiveIntegerField(
        "respiratory rate (/min)", validators=[MinValueValidator(2), MaxValueValidator(80)]
    )
    spo2 = models.PositiveIntegerField(
        "SpO2 (%)", validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    systolic_bp = models.PositiveIntegerField(
        "systolic BP (mmHg)", validators=[MinValueValidator(30), MaxValueValidator(300)]
    )
    diastolic_bp = models.PositiveIntegerField(
        "diastolic BP (mmHg)", validators=[MinValueValidator(10), MaxValueValidator(200)]
    )
    temperature_c = models.DecimalField(
        "temperature (°C)",
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(25), MaxValueValidator(45)],
    )
    pain = models.PositiveSmallIntegerField(
        "pain (0-10)", validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    # AVPU, or the Glasgow Coma Scale instead (blank when the nurse scored GCS only).
    mental_status = models.CharField(max_length=1, choices=MentalStatus.choices, blank=True)
    gcs = models.PositiveSmallIntegerField(
        "GCS (3-15)",
        null=True,
        blank=True,
        validators=[MinValueValidator(3), MaxValueValidator(15)],
    )
    # As the nurse entered it; temperature_c is always stored in Celsius.
    temperature_unit = models.CharField(
        max_length=1, choices=[("C", "°C"), ("F", "°F")], default="C"
    )
    arrival_mode = models.CharField(
        max_length=16, choices=ArrivalMode.choices, default=ArrivalMode.WALK_IN
    )
    # Age on arrival (years, fractions for infants): ESI's danger-zone vitals depend on it.
    age_years = models.DecimalField(
        "age at arrival (years)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(130)],
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Encounter {self.pk} ({self.patient.mrn}) {self.created_at:%Y-%m-%d %H:%M}"


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
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Inference request {self.pk} for {self.instance_id} ({self.status})"


from .models_triage import *  # noqa: E402,F403


class ReadingState(models.Model):
    """Where an instance stands in reading, derived from its reviews by the review services.

    Only :mod:`diagnosis.review` writes it, inside the transaction that adds a review, so
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


from .models_final import *  # noqa: E402,F403


class StudyUrgency(models.Model):
    """How urgent a study is for the worklist, kept up to date when suggestions are stored.

    Sorting 100,000 studies by a subquery over their suggestions costs a second per page;
    one indexed number per study costs milliseconds. Written only by
    :func:`diagnosis.review.study_urgency_refresh`.
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
