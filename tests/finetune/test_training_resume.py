"""A run whose worker is killed goes on from its last epoch and decides as if nothing happened.

The killed worker is a real process running the production ``training_run_execute``
(SIGKILL: no cleanup runs); the sweep hands the run back to the queue; the next worker goes
on from the epoch checkpoint with the saved optimizer and random state.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from django.conf import settings as django_settings
from django.utils import timezone

from diagnosis.registry.models import ModelVersion
from finetune import services
from finetune.models import TrainingRun
from finetune.services import training_run_execute, training_run_start, training_runs_sweep
from medassist.ml.image_model import load_checkpoint
from medassist.models import AuditEvent
from tests.conftest import ROOT, service_env

EXECUTE = """
import sys
import django
django.setup()
from finetune.services import training_run_execute
training_run_execute(run_id=int(sys.argv[1]))
"""


@pytest.fixture
def wake_ups(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(services, "job_enqueue", lambda name, **kw: sent.append((name, kw)))
    monkeypatch.setattr(
        services, "job_enqueue_on_commit", lambda name, **kw: sent.append((name, kw))
    )
    return sent


def _weights(version: ModelVersion) -> dict[str, torch.Tensor]:
    path = Path(django_settings.MEDIA_ROOT) / version.weights_key
    return load_checkpoint(path).model.state_dict()


@pytest.mark.django_db(transaction=True)
def test_a_killed_run_goes_on_from_its_last_epoch_and_ends_as_the_uninterrupted_run(
    postgres, image_champion, ml_admin, settings, media_root, wake_ups
):
    """The killed worker is another process: it needs the test database to be PostgreSQL."""
    settings.MEDASSIST_TRAIN_EPOCHS = 5
    # Nothing is promoted, so both runs start from and compare with the same champion.
    settings.MEDASSIST_GATE_SECOND_APPROVAL = True
    reference = training_run_execute(
        run_id=training_run_start(task="image", trigger="manual", started_by=ml_admin).pk
    )
    assert reference.status == "succeeded", reference.error

    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    env = {
        **service_env(broker_url="redis://127.0.0.1:1/0", media_root=media_root),
        "MEDASSIST_TRAIN_EPOCHS": "5",
        "MEDASSIST_GATE_SECOND_APPROVAL": "1",
    }
    worker = subprocess.Popen([sys.executable, "-c", EXECUTE, str(run.pk)], cwd=ROOT, env=env)
    run_dir = Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run.pk)
    deadline = time.monotonic() + 180
    try:
        while not any(run_dir.glob("epoch-*.pt")):
            assert worker.poll() is None, "the worker ended before its first epoch"
            assert time.monotonic() < deadline, "no epoch checkpoint in time"
            time.sleep(0.02)
    finally:
        worker.kill()  # SIGKILL: no finally, no cleanup, as when a machine dies
        worker.wait()
    run.refresh_from_db()
    assert run.status == "running" and any(run_dir.glob("state-*.pt"))

    later = timezone.now() + dt.timedelta(seconds=settings.MEDASSIST_TRAINING_STALE_SECONDS + 1)
    assert training_runs_sweep(now=later)["resumed"] == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.resumes) == ("queued", 1)
    assert "goes on from its last epoch checkpoint" in run.message
    assert AuditEvent.objects.filter(action="training.resume", object_id=str(run.pk)).exists()
    assert wake_ups[-1] == (services.TRAINING_RUN_EXECUTE, {"run_id": run.pk})

    run = training_run_execute(run_id=run.pk)  # the next worker

    assert run.status == "succeeded", run.error
    assert not run_dir.exists()
    summary, expected = run.candidate.training_summary, reference.candidate.training_summary
    assert summary["loss_per_epoch"] == expected["loss_per_epoch"]
    assert len(summary["loss_per_epoch"]) == 5
    ours, theirs = _weights(run.candidate), _weights(reference.candidate)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    assert (run.decision, run.gate["criteria"]) == (reference.decision, reference.gate["criteria"])


@pytest.mark.django_db
def test_a_run_resumed_too_often_is_failed_instead(image_champion, ml_admin, settings, wake_ups):
    run = training_run_start(task="image", trigger="manual", started_by=ml_admin)
    run_dir = Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run.pk)
    run_dir.mkdir(parents=True)
    (run_dir / "state-1.pt").write_bytes(b"state")
    (run_dir / "epoch-1.pt").write_bytes(b"weights")
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running",
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
        resumes=settings.MEDASSIST_TRAINING_MAX_RESUMES,
    )
    assert training_runs_sweep()["failed"] == [run.pk]
    run.refresh_from_db()
    assert run.status == "failed" and "already been resumed" in run.error
    assert not run_dir.exists()


@pytest.mark.django_db
def test_a_run_whose_champion_changed_meanwhile_promotes_nothing(
    image_champion, ml_admin, settings, monkeypatch, wake_ups
):
    from diagnosis.registry.services import model_version_promote
    from tests.factories import ModelVersionFactory

    settings.MEDASSIST_GATE_MARGIN = 1.0
    settings.MEDASSIST_GATE_SENSITIVITY_MARGIN = 1.0
    settings.MEDASSIST_GATE_MAX_ECE = 1.0
    report = services._progress
    other = ModelVersionFactory(version=99)

    def meanwhile(run: TrainingRun, progress: float, message: str) -> None:
        if message.startswith("Epoch"):  # an ML admin rolls back while the run trains
            model_version_promote(version=other, actor=ml_admin, reason="rollback")
        report(run, progress, message)

    monkeypatch.setattr(services, "_progress", meanwhile)
    run = training_run_execute(
        run_id=training_run_start(task="image", trigger="manual", started_by=ml_admin).pk
    )

    assert run.status == "succeeded", run.error
    assert run.decision == "kept"
    assert "the champion changed while this run trained" in run.decision_reason
    assert "the champion is now v99" in run.decision_reason
    assert ModelVersion.objects.get(status="champion", task="image") == other
