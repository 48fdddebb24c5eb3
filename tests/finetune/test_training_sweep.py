"""Training runs have a heartbeat: a lost worker cannot block retraining, an admin can cancel.

Before, a killed training worker left its run "running" for good: every new run was refused
and its checkpoints stayed on disk.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.registry.models import ModelVersion
from finetune import services
from finetune.models import TrainingRun
from finetune.services import (
    TrainingRunBusy,
    training_run_cancel,
    training_run_execute,
    training_run_start,
    training_runs_sweep,
)
from medassist.models import AuditEvent


def _champion_ids() -> list[int]:
    return list(
        ModelVersion.objects.filter(status=ModelVersion.Status.CHAMPION).values_list(
            "pk", flat=True
        )
    )


@pytest.mark.django_db
def test_a_run_whose_worker_stopped_beating_is_failed_cleaned_and_no_longer_blocks(
    image_champion, ml_admin, wake_ups
):
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    last_beat = timezone.now() - dt.timedelta(seconds=settings.MEDASSIST_TRAINING_STALE_SECONDS)
    TrainingRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=last_beat)
    checkpoints = Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run.pk)
    checkpoints.mkdir(parents=True)
    (checkpoints / "epoch-1.pt").write_bytes(b"weights")
    with pytest.raises(TrainingRunBusy):
        training_run_start(task="image", trigger="manual", started_by=ml_admin)
    champions = _champion_ids()

    # A beat a moment ago: the worker is alive, the run is left alone.
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    assert training_runs_sweep()["failed"] == []

    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=last_beat)
    assert training_runs_sweep()["failed"] == [run.pk]
    run.refresh_from_db()
    assert run.status == "failed"
    assert "stopped responding" in run.error and "champion is unchanged" in run.error
    assert not checkpoints.exists()
    assert _champion_ids() == champions
    assert AuditEvent.objects.filter(action="training.fail", object_id=str(run.pk)).exists()
    # Retraining is possible again at once.
    assert training_run_start(task="image", trigger="manual", started_by=ml_admin).pk != run.pk


@pytest.fixture
def wake_ups(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(services, "job_enqueue", lambda name, **kw: sent.append((name, kw)))
    monkeypatch.setattr(
        services, "job_enqueue_on_commit", lambda name, **kw: sent.append((name, kw))
    )
    return sent


@pytest.mark.django_db
def test_a_queued_run_whose_message_was_lost_is_sent_again_only_while_nothing_runs(
    ml_admin, wake_ups
):
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    wake_ups.clear()
    assert training_runs_sweep()["woken"] == []  # just queued: its own message is on its way
    TrainingRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    assert training_runs_sweep()["woken"] == [run.pk]
    assert wake_ups == [(services.TRAINING_RUN_EXECUTE, {"run_id": run.pk})]


@pytest.mark.django_db
def test_a_cancelled_queued_run_never_starts_and_a_redelivered_message_changes_nothing(
    image_champion, ml_admin
):
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    champions = _champion_ids()
    training_run_cancel(run=run, actor=ml_admin)
    assert training_run_execute(run_id=run.pk).status == "cancelled"
    assert _champion_ids() == champions
    assert ModelVersion.objects.filter(task="image").count() == 1
    with pytest.raises(ValueError, match="already ended"):
        training_run_cancel(run=run, actor=ml_admin)


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_run_stops_it_keeps_the_champion_and_removes_its_files(
    image_champion, ml_admin, settings, monkeypatch
):
    settings.MEDASSIST_TRAIN_EPOCHS = 2
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    champions = _champion_ids()
    # The run pauses at its first epoch report until the admin has pressed Cancel, so the
    # tiny run cannot finish first (timing only; the run itself is the production path).
    reached, go = threading.Event(), threading.Event()
    report = services._progress

    def paused(run: TrainingRun, progress: float, message: str) -> None:
        if message.startswith("Epoch") and not reached.is_set():
            reached.set()
            go.wait(60)
        report(run, progress, message)

    monkeypatch.setattr(services, "_progress", paused)

    def work() -> None:
        try:
            training_run_execute(run_id=run.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert reached.wait(120), "the run never reached its first epoch"
        checkpoints = Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run.pk)
        assert any(checkpoints.glob("epoch-*.pt"))
        client = Client()
        client.force_login(ml_admin)
        response = client.post(reverse("finetune:run-cancel", kwargs={"run_id": run.pk}))
        assert response.status_code == 302
    finally:
        go.set()
        worker.join(timeout=120)
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert run.candidate is None
    assert _champion_ids() == champions
    assert ModelVersion.objects.filter(task="image").count() == 1
    assert not checkpoints.exists()
    assert AuditEvent.objects.filter(action="training.cancel", object_id=str(run.pk)).exists()


@pytest.mark.django_db
def test_only_an_ml_admin_may_cancel_a_run(doctor, nurse, ml_admin):
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    url = reverse("finetune:run-cancel", kwargs={"run_id": run.pk})
    for user in (doctor, nurse):
        client = Client()
        client.force_login(user)
        assert client.post(url).status_code == 403
    assert Client().post(url).status_code == 302  # to sign-in
    run.refresh_from_db()
    assert run.status == "queued"
