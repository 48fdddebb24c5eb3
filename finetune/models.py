"""Training runs and the frozen per-task test set."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from diagnosis.encounters.models import Encounter
from diagnosis.registry.models import Finding, ModelVersion, Task
from imaging.models import Instance


class TestSetCaseQuerySet(models.QuerySet["TestSetCase"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError(TEST_SET_NEVER_SHRINKS)


TEST_SET_NEVER_SHRINKS = (
    "Frozen test cases are never removed by MedAssist: the test set only grows. Removing "
    "one needs a database administrator and a new baseline for every version's figures."
)


class TestSetCase(models.Model):
    """One case of a task's frozen test set: never trained on, every version measured on it.

    Its patients are kept out of training entirely, so no patient is in both. The set grows
    only through :func:`finetune.services.test_set_freeze` (the demo) and
    :func:`finetune.services.test_set_grow` (audited); deleting a row raises, so it never
    shrinks silently.
    """

    task = models.CharField(max_length=16, choices=Task.choices, default=Task.IMAGE)
    instance = models.OneToOneField(Instance, on_delete=models.PROTECT)
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT)
    frozen_at = models.DateTimeField(auto_now_add=True)
    # Who froze it and in which growth step; empty for the demo's cases.
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    batch = models.UUIDField(null=True, blank=True, db_index=True)

    objects = TestSetCaseQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Test case {self.instance_id} ({self.finding_id})"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(TEST_SET_NEVER_SHRINKS)


class EncounterTestCaseQuerySet(models.QuerySet["EncounterTestCase"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise ValueError(TEST_SET_NEVER_SHRINKS)


class EncounterTestCase(models.Model):
    """One encounter of the encounter diagnosis task's frozen test set.

    Its label is the encounter's current final diagnosis (mapped to the model's groups when
    measured). The set is disjoint by patient: every encounter of a patient with a frozen
    encounter is kept out of training (:func:`finetune.adapters.EncounterDiagnosisAdapter.
    training_data`). It grows only through :func:`finetune.services.encounter_test_set_freeze`
    and :func:`finetune.services.encounter_test_set_grow`; deleting a row raises.
    """

    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="+")
    frozen_at = models.DateTimeField(auto_now_add=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    batch = models.UUIDField(null=True, blank=True, db_index=True)

    objects = EncounterTestCaseQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Encounter test case {self.encounter_id}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(TEST_SET_NEVER_SHRINKS)


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by an ML admin"
        SCHEDULE = "schedule", "Scheduled (new labels)"
        BOOTSTRAP = "bootstrap", "First champion (demo data)"

    class Decision(models.TextChoices):
        NONE = "", "Not decided"
        PROMOTED = "promoted", "Promoted to champion"
        KEPT = "kept", "Kept the champion"
        # The gate passed; MEDASSIST_GATE_SECOND_APPROVAL asks another ML admin to approve.
        AWAITING = "awaiting", "Awaiting a second ML admin's approval"
        REJECTED = "rejected", "Not approved by the second ML admin"

    task = models.CharField(max_length=16, choices=Task.choices, default=Task.IMAGE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written every MEDASSIST_TRAINING_HEARTBEAT_SECONDS by the worker running it: a running
    # run whose heartbeat stops belonged to a worker that is gone (see training_runs_sweep).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1
    message = models.CharField(max_length=300, blank=True)
    base_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    candidate = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    n_train = models.PositiveIntegerField(default=0)
    n_test = models.PositiveIntegerField(default=0)
    candidate_metrics = models.JSONField(default=dict)
    champion_metrics = models.JSONField(default=dict)
    decision = models.CharField(
        max_length=16, choices=Decision.choices, default=Decision.NONE, blank=True
    )
    decision_reason = models.TextField(blank=True)
    # How often the sweep handed this run to a new worker after its worker was lost; each
    # time it goes on from its last epoch checkpoint (see training_runs_sweep).
    resumes = models.PositiveSmallIntegerField(default=0)
    # Every criterion of the gate: name, figure, limit, passed (finetune.gate).
    gate = models.JSONField(default=dict, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Training run {self.pk} ({self.task}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED, self.Status.CANCELLED}

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def percent(self) -> int:
        return round(self.progress * 100)


class TriageNote(models.Model):
    """A note with a reference ESI level that is not a live encounter.

    ``test``: the frozen triage test set (every triage version is measured on it, never
    trained on it). ``train``: labelled notes for training besides the nurses' confirmed
    levels — in the demo, the synthetic generator's notes, always marked synthetic.
    """

    class Split(models.TextChoices):
        TRAIN = "train", "Training"
        TEST = "test", "Frozen test set"

    split = models.CharField(max_length=8, choices=Split.choices)
    complaint = models.TextField()
    # The keyword arguments of diagnosis.triage.rules.Vitals (age_years, heart_rate, ...).
    vitals = models.JSONField()
    esi_level = models.PositiveSmallIntegerField()
    synthetic = models.BooleanField(default=True)
    source = models.CharField(max_length=64, blank=True)  # e.g. the generator's template
    frozen_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Triage {self.split} note {self.pk} (ESI {self.esi_level})"
