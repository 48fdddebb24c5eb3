"""The retraining schedule, idempotent inference, Celery and audit rules."""

from __future__ import annotations

import json
import os

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from diagnosis.inference.models import Suggestion
from diagnosis.inference.services import suggestion_compute
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import Review
from diagnosis.review.services import review_submit
from finetune.models import TrainingRun
from finetune.services import (
    TrainingRunBusy,
    training_run_start,
    training_run_start_if_new_labels,
)
from medassist.models import AuditEvent
from medassist.services import audit_record
from tests.conftest import run_script
from tests.factories import ModelVersionFactory, TrainingRunFactory, ingested_instance

# --- Scheduled retraining ----------------------------------------------------------------


@pytest.fixture
def reviewed_champion(db: None, doctor: User) -> ModelVersion:
    """A champion trained through every review that exists so far."""
    instance = ingested_instance(21, by=doctor)
    review = review_submit(
        instance=instance, reviewer=doctor, finding=Finding.objects.get(code="nodule")
    )
    return ModelVersionFactory(
        status=ModelVersion.Status.CHAMPION, trained_through_review_id=review.pk
    )


def test_the_schedule_starts_nothing_without_new_reviews(reviewed_champion: ModelVersion) -> None:
    assert training_run_start_if_new_labels() is None
    assert not TrainingRun.objects.exists()


def test_the_schedule_starts_a_run_once_a_clinician_has_reviewed_a_new_case(
    reviewed_champion: ModelVersion, doctor: User
) -> None:
    instance = ingested_instance(22, by=doctor)
    review_submit(instance=instance, reviewer=doctor, finding=Finding.objects.get(code="opacity"))

    run = training_run_start_if_new_labels()

    assert run is not None
    assert run.trigger == TrainingRun.Trigger.SCHEDULE
    assert run.status == TrainingRun.Status.QUEUED
    assert run.started_by is None
    assert list(TrainingRun.objects.all()) == [run]


def test_the_nightly_tick_does_not_queue_a_second_run_while_one_is_active(
    reviewed_champion: ModelVersion, doctor: User
) -> None:
    from finetune.tasks import training_schedule_tick

    active = TrainingRunFactory(status=TrainingRun.Status.RUNNING)
    instance = ingested_instance(23, by=doctor)
    review_submit(instance=instance, reviewer=doctor, finding=Finding.objects.get(code="normal"))

    training_schedule_tick()

    assert list(TrainingRun.objects.all()) == [active]


def test_a_second_run_cannot_start_while_one_is_queued(db: None, ml_admin: User) -> None:
    first = training_run_start(trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    with pytest.raises(TrainingRunBusy):
        training_run_start(trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    assert list(TrainingRun.objects.all()) == [first]


def test_a_new_run_can_start_once_the_previous_one_has_finished(db: None, ml_admin: User) -> None:
    TrainingRunFactory(status=TrainingRun.Status.FAILED)
    run = training_run_start(trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    assert run.status == TrainingRun.Status.QUEUED


# --- Idempotent inference ------------------------------------------------------------------


def test_a_redelivered_inference_task_stores_no_second_suggestion(
    db: None, image_champion: ModelVersion, doctor: User
) -> None:
    instance = ingested_instance(24, by=doctor)

    first = suggestion_compute(instance_id=instance.pk)
    again = suggestion_compute(instance_id=instance.pk)

    assert again.pk == first.pk
    assert Suggestion.objects.filter(instance=instance).count() == 1
    assert first.model_version == image_champion
    assert first.status == Suggestion.Status.OK
    assert set(first.probabilities) == set(image_champion.labels)


# --- Celery configuration ------------------------------------------------------------------


def test_the_beat_schedule_retrains_nightly_when_labels_are_new() -> None:
    entries = [
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "finetune.tasks.training_schedule_tick"
    ]
    assert len(entries) == 1
    schedule = entries[0]["schedule"]
    assert isinstance(schedule, crontab)
    # Once a day, every day, at a fixed minute.
    assert len(schedule.hour) == 1 and len(schedule.minute) == 1
    assert schedule.day_of_week == set(range(7))
    assert schedule.day_of_month == set(range(1, 32))


REDIS_OPTIONS = """
import json
from medassist.celery import app
print(json.dumps(app.conf.broker_transport_options))
"""


def _with_redis_url() -> dict[str, str]:
    # Only read, never connected to: the settings alone decide the transport's options.
    return {**os.environ, "REDIS_URL": "redis://127.0.0.1:1/0"}


def test_celery_never_loses_a_task_to_a_dying_worker_and_routes_by_workload() -> None:
    import diagnosis.inference.tasks
    import finetune.tasks
    from medassist.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    # Redis re-delivers an unacked task after the visibility timeout: it must outlast training.
    # The filesystem broker (no REDIS_URL) has no such timeout, so Redis's settings are read
    # in a process of their own then.
    if app.conf.broker_url.startswith("redis"):
        options = app.conf.broker_transport_options
    else:
        options = json.loads(run_script(REDIS_OPTIONS, env=_with_redis_url()))
    assert options.get("visibility_timeout", 3600) >= 3 * 3600
    assert finetune.tasks.training_schedule_tick.name in app.tasks

    def queue_of(task_name: str) -> str:
        return app.amqp.router.route({}, task_name)["queue"].name

    assert queue_of(diagnosis.inference.tasks.suggestion_compute.name) == "inference"
    assert queue_of(finetune.tasks.training_run_execute.name) == "training"
    assert queue_of(finetune.tasks.training_schedule_tick.name) == "default"


# --- The audit log -------------------------------------------------------------------------


def test_audit_events_can_be_neither_changed_nor_deleted(db: None, doctor: User) -> None:
    event = audit_record(actor=doctor, action="case.view", detail={"instance": 1})

    event.action = "nothing.happened"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.action == "case.view"
    assert stored.actor == doctor


def test_reviews_and_their_supersession_are_audited(db: None, doctor: User) -> None:
    instance = ingested_instance(25, by=doctor)
    first = review_submit(
        instance=instance, reviewer=doctor, finding=Finding.objects.get(code="normal")
    )
    second = review_submit(
        instance=instance, reviewer=doctor, finding=Finding.objects.get(code="nodule")
    )
    assert second.supersedes == first
    assert Review.objects.get(pk=first.pk).finding.code == "normal"  # never edited
    logged = AuditEvent.objects.filter(action="review.submit", actor=doctor).order_by("pk")
    assert [e.detail["finding"] for e in logged] == ["normal", "nodule"]


def test_the_schedule_retrains_triage_once_a_nurse_has_confirmed_a_new_level(
    db: None, nurse: User
) -> None:
    from decimal import Decimal

    from diagnosis.encounters.models import Encounter
    from diagnosis.registry.models import Task
    from diagnosis.triage.models import TriageAssessment
    from medassist.models import Patient

    ModelVersionFactory(task=Task.TRIAGE, status=ModelVersion.Status.CHAMPION, image_size=0)
    assert training_run_start_if_new_labels(task=Task.TRIAGE) is None

    encounter = Encounter.objects.create(
        patient=Patient.objects.create(mrn="TRI-1", is_synthetic=True),
        opened_by=nurse,
        chief_complaint="ankle sprain",
        heart_rate=80,
        respiratory_rate=16,
        spo2=98,
        systolic_bp=120,
        diastolic_bp=80,
        temperature_c=Decimal("37.0"),
        pain=3,
        mental_status="A",
    )
    unconfirmed = TriageAssessment.objects.create(
        encounter=encounter, suggested_level=4, input_sha256="0" * 64
    )
    assert training_run_start_if_new_labels(task=Task.TRIAGE) is None  # not a label yet

    TriageAssessment.objects.filter(pk=unconfirmed.pk).update(confirmed_level=4)
    run = training_run_start_if_new_labels(task=Task.TRIAGE)
    assert run is not None and run.task == Task.TRIAGE
    assert run.trigger == TrainingRun.Trigger.SCHEDULE
