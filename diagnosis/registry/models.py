"""The model registry: the model tasks, the finding vocabulary and every trained version."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


class Task(models.TextChoices):
    IMAGE = "image", "Image finding"
    TRIAGE = "triage", "Triage"
    ENCOUNTER_DX = "encounter_dx", "Encounter diagnosis"


NORMAL_CODE = "normal"  # the finding vocabulary's "no finding" entry


SNOMED_CT_VALIDATOR = RegexValidator(
    r"^[0-9]{6,18}$", "A SNOMED CT concept id is 6 to 18 digits, such as 233604007."
)
RADLEX_VALIDATOR = RegexValidator(
    r"^RID[0-9]+$", "A RadLex id is RID followed by digits, such as RID5350."
)


class Finding(models.Model):
    """One entry of the finding vocabulary the image model predicts over.

    ``is_active`` means "offered to reviewers and trained by new versions". Retiring sets it
    False and stamps ``retired_at``; a finding is never deleted (reviews, test cases and old
    versions' labels point at it) and its code, unique, is never given to another finding.
    """

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    snomed_ct = models.CharField(
        "SNOMED CT concept id", max_length=18, blank=True, validators=[SNOMED_CT_VALIDATOR]
    )
    radlex = models.CharField("RadLex id", max_length=24, blank=True, validators=[RADLEX_VALIDATOR])
    # The promotion gate refuses a candidate whose sensitivity for this finding drops by more
    # than this (empty: MEDASSIST_GATE_SENSITIVITY_MARGIN).
    sensitivity_margin = models.FloatField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(is_active=False),
                name="finding_retired_is_not_offered",
            ),
        ]

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
    # for the image task, nurses' confirmed triage assessments for the triage task, doctors'
    # final diagnoses (FinalDiagnosis ids) for the encounter diagnosis task.
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
    def data_mix(self) -> str:
        """ "mixed: 16 real, 156 synthetic", "synthetic" or "real", from this version's own
        training summary (never a flag inherited from its parent); "" when not recorded."""
        summary = self.training_summary or {}
        if "n_real" not in summary and "n_synthetic" not in summary:
            return ""
        real, synthetic = int(summary.get("n_real") or 0), int(summary.get("n_synthetic") or 0)
        if real and synthetic:
            return f"mixed: {real} real, {synthetic} synthetic"
        return "synthetic" if synthetic else "real"

    @property
    def calibration_note(self) -> str:
        """One sentence for the pages that show this version's probabilities."""
        measured = self.training_summary.get("calibration")
        if isinstance(measured, dict):
            if measured.get("used"):
                return (
                    f"Probabilities are calibrated (temperature {self.temperature:.2f}, fitted "
                    f"on {measured['n_fit']} held-back cases; expected calibration error "
                    f"{measured['ece_before']:.3f} -> {measured['ece_after']:.3f} on "
                    f"{measured['n_judge']} others)."
                )
            if measured.get("measured"):
                return (
                    "Probabilities are not rescaled: a temperature did not lower the expected "
                    f"calibration error ({measured['ece_before']:.3f}) on held-back cases."
                )
            return (
                "Probabilities are not calibrated: too few held-back cases to measure "
                "calibration when this version was trained."
            )
        # Versions trained before calibration was measured.
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


# --- Summaries the database keeps ----------------------------------------------------------


class FindingLabelCount(models.Model):
    """How many images carry each finding as their current label, and how many of those
    images are real (neither their study nor their patient is marked synthetic).

    The current label is the one :func:`diagnosis.review.selectors.current_label_reviews`
    returns: a reviewed reading state's label review, unless it rejected the image. On
    PostgreSQL the database keeps these rows, in the transaction of every change to a reading
    state or to a labelling review (the triggers of migration ``0016_summaries``), so that
    the findings page, the readiness of new findings and the test-set page read one row per
    finding instead of counting every label. Nothing in Python writes them. SQLite has no such
    triggers: there the selectors count live (development data is small).
    """

    finding = models.OneToOneField(
        Finding, primary_key=True, on_delete=models.CASCADE, related_name="label_count"
    )
    labelled = models.IntegerField(default=0)
    labelled_real = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.finding_id}: {self.labelled} labelled ({self.labelled_real} real)"


class ReviewAgreementWeek(models.Model):
    """Current clinician reviews of images that had a suggestion, counted per week of the
    review, suggested finding and model version: the statistics page's agreement figures
    (see :mod:`diagnosis.review.stats`, which defines them). ``agreed`` are the accepts.

    Like the other statistics summaries, kept by PostgreSQL triggers (migration
    ``0016_summaries``) as reviews are added, rebuilt from the reviews when the summary says
    it is stale, and unused on SQLite.
    """

    week = models.DateField()  # its Monday, in the time zone of ReviewStatsState
    finding_key = models.BigIntegerField(default=0)  # the suggestion's top finding; 0: none
    version_key = models.BigIntegerField()  # the suggestion's model version
    n = models.IntegerField(default=0)
    agreed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["week", "finding_key", "version_key"], name="review_agreement_week_key"
            )
        ]

    def __str__(self) -> str:
        return f"Week of {self.week}: {self.agreed} of {self.n} agreed"


class ReviewWaitWeek(models.Model):
    """Per week of suggestions: how many OK suggestions have had a clinician review of their
    image since, and the total and longest time to the first such review, in seconds."""

    week = models.DateField(primary_key=True)
    n = models.IntegerField(default=0)
    total_seconds = models.FloatField(default=0.0)
    longest_seconds = models.FloatField(default=0.0)

    def __str__(self) -> str:
        return f"Week of {self.week}: {self.n} suggestions reviewed"


class SuggestionFirstReview(models.Model):
    """How long each OK suggestion waited for the first clinician review of its image: one
    row per reviewed suggestion, so that a suggestion is counted in ReviewWaitWeek once, and
    a review that turns out to be earlier than the one counted is noticed (the summaries are
    then rebuilt)."""

    # The suggestion's id. No foreign key: these rows are derived, suggestions are never
    # deleted, and a rebuild empties the table with TRUNCATE, which a foreign key's pending
    # checks would refuse inside the transaction that wrote them.
    suggestion_key = models.BigIntegerField(primary_key=True)
    week = models.DateField()  # of the suggestion
    wait_seconds = models.FloatField()

    def __str__(self) -> str:
        return f"Suggestion {self.suggestion_key} first reviewed after {self.wait_seconds:.0f} s"


class ReviewStatsState(models.Model):
    """The one row (id 1) saying what the statistics summaries hold: the time zone of their
    weeks, whether they are stale (a review or suggestion was changed or removed after it was
    counted, or a review arrived before one already counted as the first: the next read
    rebuilds them), and whether any clinician review involves synthetic data (a synthetic
    patient, or a model trained on synthetic data). No row (a flushed test database): the
    triggers leave the summaries alone and the next read builds them."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    time_zone = models.CharField(max_length=64)
    stale = models.BooleanField(default=False)
    synthetic = models.BooleanField(default=False)
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Review statistics in {self.time_zone}{' (stale)' if self.stale else ''}"
