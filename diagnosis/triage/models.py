"""The triage assessment: what the rules and the text model suggested, and the nurse decided."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

_ESI = [MinValueValidator(1), MaxValueValidator(5)]


class TriageAssessment(models.Model):
    """One ESI suggestion for an encounter and, once the nurse has looked, her decision.

    Never edited after the decision: assessing the encounter again writes a new row that
    supersedes this one, so every suggestion a nurse saw stays on record.
    """

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="triage_assessments"
    )
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    # The rules engine's verdict: every fired rule as {code, decision_point, level, reason,
    # mandatory}, the hard floor (A/B), the resources level (C) and "consider 2" (D).
    rules_fired = models.JSONField(default=list, blank=True)
    rules_floor = models.PositiveSmallIntegerField(null=True, blank=True, validators=_ESI)
    resources_level = models.PositiveSmallIntegerField(null=True, blank=True, validators=_ESI)
    # Heart rate / systolic BP as the rules saw them (two decimals); null when either was
    # not measured (no pulse, a blood pressure that cannot be measured).
    shock_index = models.FloatField(null=True, blank=True)
    # What the rules alone suggest (``rules.rules_level``: expected resources, raised by the
    # hard rules and the danger zone), shown beside the model's own level and the combined
    # suggestion. Assessments from before it was stored were filled in by migration 0013.
    rules_level = models.PositiveSmallIntegerField(null=True, blank=True, validators=_ESI)
    # The measurement of the vital signs this assessment read; null only for an encounter
    # with no VitalSigns row (one made without the intake service).
    vitals = models.ForeignKey(
        "diagnosis.VitalSigns",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assessments",
    )
    # The text model's verdict; null when no triage model is champion (rules only).
    model_version = models.ForeignKey(
        "diagnosis.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    model_probabilities = models.JSONField(default=dict, blank=True)  # "1".."5" -> probability
    model_level = models.PositiveSmallIntegerField(null=True, blank=True, validators=_ESI)
    top_words = models.JSONField(default=list, blank=True)  # [[word, weight], ...], highest first
    suggested_level = models.PositiveSmallIntegerField(validators=_ESI)
    explanation = models.TextField(blank=True)
    needs_attention = models.BooleanField(default=False)
    attention_reason = models.CharField(max_length=300, blank=True)
    attention_margin = models.FloatField(default=0.0)
    # Provenance: the exact text the model read, and what read it.
    input_text = models.TextField(blank=True)
    input_sha256 = models.CharField(max_length=64)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    code_version = models.CharField(max_length=64, blank=True)
    device = models.CharField(max_length=100, blank=True)
    latency_ms = models.FloatField(default=0.0)
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The nurse's decision.
    confirmed_level = models.PositiveSmallIntegerField(null=True, blank=True, validators=_ESI)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Triage {self.pk} of encounter {self.encounter_id}: ESI {self.suggested_level}"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_level is not None

    @property
    def is_override(self) -> bool:
        return self.confirmed_level is not None and self.confirmed_level != self.suggested_level

    @property
    def probabilities_sorted(self) -> list[tuple[str, float]]:
        return sorted(self.model_probabilities.items())
