"""Writes of the fine-tuning app: training runs, the gate and the schedule trigger.

What differs between the model tasks (data, model, gate rules, what counts as a new label)
is in :mod:`finetune.adapters`; this module runs the same path for all of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.services import model_version_promote, model_version_register
from imaging.models import Instance
from medassist.jobs import job_enqueue, job_enqueue_on_commit
from medassist.services import audit_record

from .adapters import adapter_for
from .models import TestSetCase, TrainingRun, TriageNote

# The registered name of the task these services start (see finetune/tasks.py).
TRAINING_RUN_EXECUTE = "finetune.tasks.training_run_execute"

logger = logging.getLogger(__name__)

ACTIVE = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


class TrainingRunBusy(RuntimeError):
    """A run of the same task is already queued or running."""


class TrainingRunCancelled(RuntimeError):
    """An ML admin cancelled the run while it was running."""


def _run_dir(run_id: int) -> Path:
    """Where a run keeps its per-epoch checkpoints until it finishes."""
    return Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run_id)


class NotEnoughData(RuntimeError):
    """Too few labelled cases to train or to measure."""


@transaction.atomic
def training_run_start(
    *, task: str = Task.IMAGE, trigger: str, started_by: AbstractBaseUser | None
) -> TrainingRun:
    """Queue a training run of ``task``; raises TrainingRunBusy if one is already active."""
    # Lock the champion rows so two admins clicking at once cannot queue two runs.
    list(ModelVersion.objects.select_for_update().filter(task=task))
    if TrainingRun.objects.filter(task=task, status__in=ACTIVE).exists():
        raise TrainingRunBusy("A training run for this model is already queued or running.")
    run = TrainingRun.objects.create(task=task, trigger=trigger, started_by=started_by)
    audit_record(actor=started_by, action="training.start", obj=run, detail={"trigger": trigger})
    job_enqueue_on_commit(TRAINING_RUN_EXECUTE, run_id=run.pk)
    return run


def training_run_start_if_new_labels(*, task: str = Task.IMAGE) -> TrainingRun | None:
    """Start a scheduled run when labels have arrived since the champion's training data.

    What counts as a new label is the task's (see ``has_new_labels`` of the adapters in
    :mod:`finetune.adapters`).
    """
    current = ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).first()
    if not adapter_for(task).has_new_labels(champion=current):
        since = current.trained_through_review_id if current is not None else 0
        logger.info("Scheduled retraining skipped: no new labels since review %s", since)
        return None
    try:
        return training_run_start(task=task, trigger=TrainingRun.Trigger.SCHEDULE, started_by=None)
    except TrainingRunBusy:
        logger.info("Scheduled retraining skipped: a run is already active")
        return None


def _progress(run: TrainingRun, progress: float, message: str) -> None:
    """Show progress; raises TrainingRunCancelled once an ML admin has cancelled the run."""
    updated = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
        progress=progress, message=message[:300], heartbeat_at=timezone.now()
    )
    if not updated:
        raise TrainingRunCancelled(f"Training run {run.pk} is no longer running.")
    run.progress, run.message = progress, message[:300]


@contextmanager
def _heartbeat(run_id: int) -> Iterator[None]:
    """Beat for the run from a thread of the worker while the body runs.

    The thread dies with the worker process, so a killed worker's run stops beating and the
    sweep fails it; a long epoch, which reports no progress for minutes, still beats.
    """
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.MEDASSIST_TRAINING_HEARTBEAT_SECONDS):
                TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:
            logger.exception("Heartbeat of training run %s stopped", run_id)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"training-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


@transaction.atomic
def triage_notes_freeze(*, notes: list[Any], split: str) -> int:
    """Store generated notes (diagnosis.triage.synthetic.SyntheticNote) as training or test."""
    rows = [
        TriageNote(
            split=split,
            complaint=note.complaint,
            vitals=dataclasses.asdict(note.vitals),
            esi_level=note.esi_level,
            synthetic=note.synthetic,
            source=getattr(note, "template", "")[:64],
        )
        for note in notes
    ]
    for row in rows:
        row.full_clean()
    TriageNote.objects.bulk_create(rows)
    return len(rows)


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Fine-tune from the champion on the reviewed cases, measure, and apply the gate.

    Only a queued run is started, and only once: a redelivered message for a run that is
    running, finished or cancelled changes nothing. A run whose worker is lost stops beating
    and :func:`training_runs_sweep` marks it failed. Failed and cancelled runs leave no files;
    the champion changes only through the gate at the very end.
    """
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    run = TrainingRun.objects.get(pk=run_id)
    if not claimed:
        logger.info("Training run %s is %s; nothing to start", run.pk, run.status)
        return run
    run_dir = _run_dir(run.pk)
    try:
        with _heartbeat(run.pk):
            _execute(run, run_dir)
    except TrainingRunCancelled:
        logger.info("Training run %s was cancelled", run.pk)
    except Exception as exc:
        logger.exception("Training run %s failed", run.pk)
        error = f"{type(exc).__name__}: {exc}"
        # Conditional: a run cancelled or swept meanwhile keeps what it says.
        if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED,
            error=error,
            message="Failed: " + str(exc)[:280],
            finished_at=timezone.now(),
        ):
            audit_record(actor=None, action="training.fail", obj=run, detail={"error": error})
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    run.refresh_from_db()
    return run


def _execute(run: TrainingRun, run_dir: Path) -> None:
    """The task-agnostic path: base -> data -> champion's score -> train -> score -> gate."""
    if settings.MEDASSIST_TORCH_THREADS:
        # Imported here, in the training worker: the pages that start a run never load torch.
        import torch

        torch.set_num_threads(settings.MEDASSIST_TORCH_THREADS)
    adapter = adapter_for(run.task)
    base = ModelVersion.objects.filter(task=run.task, status=ModelVersion.Status.CHAMPION).first()
    clf = adapter.load_base(base) if base is not None else adapter.build_new()
    run.base_version = base
    run.save(update_fields=["base_version"])

    _progress(run, 0.02, "Loading the labelled cases")
    train = adapter.training_data(clf)
    test = adapter.test_data(clf)
    if train.n < 2:
        raise NotEnoughData(f"Only {train.n} labelled cases; at least 2 are needed.")
    if not test.n:
        raise NotEnoughData("The frozen test set is empty, so no version can be measured.")
    run.n_train, run.n_test = train.n, test.n
    run.save(update_fields=["n_train", "n_test"])

    champion_metrics: dict[str, Any] = {}
    if base is not None:
        _progress(run, 0.05, "Measuring the champion on the frozen test set")
        champion_metrics = adapter.evaluate(clf, test)

    epochs = adapter.epochs()
    run_dir.mkdir(parents=True, exist_ok=True)

    def on_epoch(epoch: int, loss: float) -> None:
        # A checkpoint per epoch, so a long run's work survives a lost worker.
        adapter.save(clf, run_dir / f"epoch-{epoch}.pt")
        _progress(
            run,
            0.1 + 0.8 * epoch / epochs,
            f"Epoch {epoch} of {epochs}: training loss {loss:.3f}",
        )

    _progress(run, 0.1, f"Training on {train.n} cases")
    summary = adapter.train(
        clf, train, on_epoch=on_epoch, progress=lambda p, m: _progress(run, p, m)
    )

    _progress(run, 0.92, "Measuring the candidate on the frozen test set")
    candidate_metrics = adapter.evaluate(clf, test)
    weights_key = f"models/{run.task}/{uuid.uuid4().hex}.pt"
    weights_path = Path(settings.MEDIA_ROOT) / weights_key
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    sha = adapter.save(clf, weights_path)
    shutil.rmtree(run_dir, ignore_errors=True)

    with transaction.atomic():
        # Lock the run: a cancel (or a sweep) that came first wins, and then nothing is
        # registered or promoted; the weights file goes with the run's other files.
        if (
            not TrainingRun.objects.select_for_update()
            .filter(pk=run.pk, status=TrainingRun.Status.RUNNING)
            .exists()
        ):
            weights_path.unlink(missing_ok=True)
            raise TrainingRunCancelled(f"Training run {run.pk} is no longer running.")
        candidate = model_version_register(
            task=run.task,
            weights_key=weights_key,
            weights_sha256=sha,
            parent=base,
            metrics=candidate_metrics,
            training_summary={**summary, "run": run.pk},
            trained_through_review_id=train.max_review_id,
            trained_on_synthetic_data=train.synthetic
            or (base is not None and base.trained_on_synthetic_data),
            **adapter.version_fields(clf, train),
        )
        promote, reason = gate_decide(
            candidate=candidate_metrics, champion=champion_metrics, task=run.task
        )
        if base is None:
            promote, reason = True, "There was no champion yet, so this version becomes the first."
        if promote:
            model_version_promote(version=candidate, actor=run.started_by, reason=reason)
        run.candidate = candidate
        run.candidate_metrics = candidate_metrics
        run.champion_metrics = champion_metrics
        run.decision = TrainingRun.Decision.PROMOTED if promote else TrainingRun.Decision.KEPT
        run.decision_reason = reason
        run.status = TrainingRun.Status.SUCCEEDED
        run.progress = 1.0
        run.message = "Finished"
        run.finished_at = timezone.now()
        run.save()
        audit_record(
            actor=run.started_by,
            action="training.finish",
            obj=run,
            detail={"candidate": candidate.pk, "decision": run.decision, "reason": reason},
        )


def gate_decide(
    *, candidate: dict[str, Any], champion: dict[str, Any], task: str = Task.IMAGE
) -> tuple[bool, str]:
    """The promotion rule: not worse than the champion on the same frozen test set.

    Promote iff the task's adapter has no reason to refuse (``gate_refusal``: for triage, more
    under-triage than the champion) and ``candidate[metric] >= champion[metric] - margin``
    (``MEDASSIST_GATE_METRIC`` and ``MEDASSIST_GATE_MARGIN``). Returns the decision and the
    sentence shown to admins; raises ValueError for a task without a training pipeline.
    """
    metric = settings.MEDASSIST_GATE_METRIC
    margin = settings.MEDASSIST_GATE_MARGIN
    if not champion:
        return True, "There was no champion to compare with."
    n = candidate.get("n", 0)
    refusal = adapter_for(task).gate_refusal(candidate=candidate, champion=champion)
    if refusal is not None:
        return False, refusal
    new, old = float(candidate[metric]), float(champion[metric])
    if new >= old - margin:
        return True, (
            f"Its {metric} {new:.3f} is not worse than the champion's {old:.3f} "
            f"(allowed margin {margin:.3f}) on the same {n} frozen test cases."
        )
    return False, (
        f"Kept the champion: {metric} {new:.3f} is worse than the champion's {old:.3f} "
        f"by more than the allowed margin {margin:.3f} on the same {n} frozen test cases."
    )


@transaction.atomic
def test_set_freeze(*, instance: Instance, finding: Finding, task: str = Task.IMAGE) -> TestSetCase:
    """Add a case to the frozen test set of ``task``."""
    case = TestSetCase(task=task, instance=instance, finding=finding)
    case.full_clean()
    case.save()
    return case


def training_run_cancel(*, run: TrainingRun, actor: AbstractBaseUser) -> TrainingRun:
    """Cancel a queued or running run. Its worker stops at its next progress report and
    removes its files; nothing is registered or promoted. Raises ValueError if the run has
    already ended."""
    with transaction.atomic():
        cancelled = TrainingRun.objects.filter(
            pk=run.pk, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        ).update(
            status=TrainingRun.Status.CANCELLED,
            message=f"Cancelled by {actor.get_username()}",
            finished_at=timezone.now(),
        )
        if not cancelled:
            raise ValueError("This run has already ended; there is nothing to cancel.")
        audit_record(actor=actor, action="training.cancel", obj=run, detail={"was": run.status})
    run.refresh_from_db()
    return run


def training_runs_sweep(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """Fail the running runs whose worker stopped beating; wake a worker for queued ones.

    Runs each minute from beat. A running run whose heartbeat is older than
    ``MEDASSIST_TRAINING_STALE_SECONDS`` is failed with the reason and its checkpoints are
    removed (the champion is untouched). A run queued for over a minute while nothing runs
    lost its message (a broker outage) and gets a new one. Returns the ids it touched.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.MEDASSIST_TRAINING_STALE_SECONDS)
    failed = []
    for run in TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale
    ):
        silent = int((now - run.heartbeat_at).total_seconds()) if run.heartbeat_at else 0
        error = (
            f"The training worker stopped responding (no heartbeat for {silent} s); the run "
            "was stopped and its files removed. The champion is unchanged."
        )
        if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED, error=error, message=error[:300], finished_at=now
        ):
            shutil.rmtree(_run_dir(run.pk), ignore_errors=True)
            audit_record(actor=None, action="training.fail", obj=run, detail={"error": error})
            failed.append(run.pk)
    woken = []
    if not TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).exists():
        waiting = TrainingRun.objects.filter(
            status=TrainingRun.Status.QUEUED, created_at__lt=now - dt.timedelta(minutes=1)
        ).order_by("created_at", "pk")
        for run in waiting:
            job_enqueue(TRAINING_RUN_EXECUTE, run_id=run.pk)
            woken.append(run.pk)
    return {"failed": failed, "woken": woken}
