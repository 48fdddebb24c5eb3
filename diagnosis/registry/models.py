"""The model registry: the model tasks, the finding vocabulary and every trained version."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


class Task(models.TextChoices):
    IMAGE = "image", "Image finding"
    TRIAGE = "triage", "Triage"


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
