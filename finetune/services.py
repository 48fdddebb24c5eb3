"""Writes of the fine-tuning app: training runs, the gate and the schedule trigger.

What differs between the model tasks (data, model, gate rules, what counts as a new label)
is in :mod:`finetune.adapters`; this module runs the same path for all of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import random
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.selectors import active_findings
from diagnosis.registry.services import model_version_promote, model_version_register
from imaging.models import Instance
from medassist.jobs import job_enqueue, job_enqueue_on_commit
from medassist.services import audit_record

from .adapters import adapter_for
from .gate import GateSettings, gate_judge
from .models import EncounterTestCase, TestSetCase, TrainingRun, TriageNote
from .selectors import Candidate, test_set_candidates, test_set_patient_ids

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
    if run.base_version_id is not None:
        # A resumed run goes on against the champion it started from.
        base: ModelVersion | None = run.base_version
    else:
        base = ModelVersion.objects.filter(
            task=run.task, status=ModelVersion.Status.CHAMPION
        ).first()
    # The champion as it serves: it is measured unchanged, before anything is trained.
    base_clf = adapter.load_base(base) if base is not None else None
    run.base_version = base
    run.save(update_fields=["base_version"])

    _progress(run, 0.02, "Loading the labelled cases")
    labels = adapter.offered_labels(base_clf)
    if len(labels) < 2:
        raise NotEnoughData(
            getattr(
                adapter,
                "not_enough_labels",
                "Fewer than 2 findings have enough labels and frozen test cases to be learnt "
                "and measured; see the findings page.",
            )
        )
    train = adapter.training_data(labels)
    test = adapter.test_data(labels)
    if train.n < 2:
        raise NotEnoughData(f"Only {train.n} labelled cases; at least 2 are needed.")
    if not test.n:
        raise NotEnoughData("The frozen test set is empty, so no version can be measured.")
    run.n_train, run.n_test = train.n, test.n
    run.save(update_fields=["n_train", "n_test"])

    champion_eval = None
    if base_clf is not None:
        _progress(run, 0.05, "Measuring the champion on the frozen test set")
        champion_eval = adapter.evaluate(base_clf, test, labels)

    epochs = adapter.epochs()
    resumed = _resume_point(adapter, run_dir, adapter.fingerprint(train))
    if resumed is not None:
        done, clf, state, losses = resumed
        _progress(run, 0.1 + 0.8 * done / epochs, f"Resuming after epoch {done} of {epochs}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "data.sha256").write_text(adapter.fingerprint(train))
        clf, state, losses = adapter.prepare(base_clf, labels), None, []

    def on_state(payload: dict[str, Any]) -> None:
        from medassist.ml.checkpoints import write_atomically

        write_atomically(payload, run_dir / f"state-{payload['epoch']}.pt")

    def on_epoch(epoch: int, loss: float) -> None:
        losses.append(round(float(loss), 6))
        # A checkpoint per epoch (losses so far, training state, then the weights, whose
        # file marks the epoch complete), so a run whose worker is lost goes on from here
        # (see training_runs_sweep); the previous epoch's files go. A task that cannot
        # resume (triage, encounter diagnosis: minutes, started again from the champion)
        # writes none: its 100 head epochs or its encoder's 90 MB were written for nothing.
        (run_dir / "losses.json.tmp").write_text(json.dumps(losses))
        os.replace(run_dir / "losses.json.tmp", run_dir / "losses.json")
        if adapter.resumable:
            adapter.save(clf, run_dir / f"epoch-{epoch}.pt")
            for old in (f"epoch-{epoch - 1}.pt", f"state-{epoch - 1}.pt"):
                (run_dir / old).unlink(missing_ok=True)
        _progress(
            run,
            0.1 + 0.8 * epoch / epochs,
            f"Epoch {epoch} of {epochs}: training loss {loss:.3f}",
        )

    if resumed is None:
        _progress(run, 0.1, f"Training on {train.n} cases")
    summary = adapter.train(
        clf,
        train,
        on_epoch=on_epoch,
        progress=lambda p, m: _progress(run, p, m),
        on_state=on_state if adapter.resumable else None,
        resume=state,
    )

    _progress(run, 0.92, "Measuring the candidate on the frozen test set")
    candidate_eval = adapter.evaluate(clf, test, labels)
    candidate_metrics = candidate_eval.metrics()
    champion_metrics = champion_eval.metrics() if champion_eval is not None else {}
    if champion_eval is None:
        gate = None
        promote, reason = True, "There was no champion yet, so this version becomes the first."
    else:
        _progress(run, 0.95, "Comparing the candidate with the champion")
        gate = gate_judge(
            candidate=candidate_eval.scores,
            champion=champion_eval.scores,
            train_has_real=train.n_real > 0,
            config=gate_settings(labels, task=run.task),
        )
        promote, reason = gate.promote, gate.reason
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
        # A model built afresh (a triage champion of the other kind) descends from nothing,
        # though the gate compared it with the champion.
        continued = base if base is not None and not adapter.starts_afresh(base_clf) else None
        candidate = model_version_register(
            task=run.task,
            weights_key=weights_key,
            weights_sha256=sha,
            parent=continued,
            metrics=candidate_metrics,
            training_summary={**summary, "loss_per_epoch": losses, "run": run.pk},
            trained_through_review_id=train.max_review_id,
            trained_on_synthetic_data=train.synthetic
            or (continued is not None and continued.trained_on_synthetic_data),
            **adapter.version_fields(clf, train),
        )
        current = (
            ModelVersion.objects.select_for_update()
            .filter(task=run.task, status=ModelVersion.Status.CHAMPION)
            .first()
        )
        if current != base:
            promote = False
            reason = (
                f"Not promoted: the champion changed while this run trained (it started from "
                f"{f'v{base.version}' if base else 'no champion'}; the champion is now "
                f"v{current.version if current else '-'}). Start a new run to compare with it. "
                f"The gate said: {reason}"
            )
        decision = TrainingRun.Decision.PROMOTED if promote else TrainingRun.Decision.KEPT
        if promote and gate is not None and settings.MEDASSIST_GATE_SECOND_APPROVAL:
            decision = TrainingRun.Decision.AWAITING
            reason += " Waiting for a second ML admin to approve the promotion."
        elif promote:
            model_version_promote(version=candidate, actor=run.started_by, reason=reason)
        run.candidate = candidate
        run.candidate_metrics = candidate_metrics
        run.champion_metrics = champion_metrics
        run.gate = gate.as_json() if gate is not None else {}
        run.decision = decision
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


def _resume_point(
    adapter: Any, run_dir: Path, fingerprint: str
) -> tuple[int, Any, dict[str, Any], list[float]] | None:
    """(epoch, its weights, its training state, losses so far) to go on from, or None.

    Only for a task whose adapter can resume, a run directory holding an epoch's weights and
    state, and training data that is still exactly what the run started with (new labels
    since: the run starts over, so its model is still of one data set).
    """
    if not adapter.resumable:
        return None
    marker = run_dir / "data.sha256"
    if not marker.is_file() or marker.read_text() != fingerprint:
        return None
    epochs = sorted(
        int(p.stem.split("-")[1])
        for p in run_dir.glob("state-*.pt")
        if (run_dir / f"epoch-{p.stem.split('-')[1]}.pt").is_file()
    )
    if not epochs:
        return None
    import torch

    done = epochs[-1]
    losses_file = run_dir / "losses.json"
    losses = json.loads(losses_file.read_text())[:done] if losses_file.is_file() else []
    return (
        done,
        adapter.load_file(run_dir / f"epoch-{done}.pt"),
        torch.load(run_dir / f"state-{done}.pt", weights_only=True),
        losses,
    )


def gate_settings(labels: list[str], *, task: str = Task.IMAGE) -> GateSettings:
    """The gate's limits as this site set them (settings, and each finding's own margin).

    The encounter diagnosis task has its own: top-3 recall as the metric, a floor under it,
    its own minimum of test cases per group and margins (``MEDASSIST_ENCOUNTER_DX_GATE_*``).
    """
    if task == Task.ENCOUNTER_DX:
        return GateSettings(
            metric="top3_recall",
            margin=settings.MEDASSIST_ENCOUNTER_DX_GATE_MARGIN,
            min_cases_per_finding=settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP,
            sensitivity_margin=settings.MEDASSIST_ENCOUNTER_DX_GATE_GROUP_MARGIN,
            max_ece=settings.MEDASSIST_GATE_MAX_ECE,
            calibration_min_cases=settings.MEDASSIST_CALIBRATION_MIN_CASES,
            resamples=settings.MEDASSIST_GATE_RESAMPLES,
            seed=settings.MEDASSIST_TRAIN_SEED,
            top=3,
            min_metric=settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_TOP3_RECALL,
        )
    margins = dict(
        Finding.objects.filter(code__in=labels, sensitivity_margin__isnull=False).values_list(
            "code", "sensitivity_margin"
        )
    )
    return GateSettings(
        metric=settings.MEDASSIST_GATE_METRIC,
        margin=settings.MEDASSIST_GATE_MARGIN,
        min_cases_per_finding=settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING,
        sensitivity_margin=settings.MEDASSIST_GATE_SENSITIVITY_MARGIN,
        max_ece=settings.MEDASSIST_GATE_MAX_ECE,
        calibration_min_cases=settings.MEDASSIST_CALIBRATION_MIN_CASES,
        resamples=settings.MEDASSIST_GATE_RESAMPLES,
        seed=settings.MEDASSIST_TRAIN_SEED,
        sensitivity_margins=margins,
    )


class ApprovalRefused(ValueError):
    """The promotion cannot be approved or declined (see :func:`training_run_approve`)."""


def training_run_approve(
    *, run: TrainingRun, actor: AbstractBaseUser, approve: bool, reason: str = ""
) -> TrainingRun:
    """A second ML admin's answer to a candidate that passed the gate
    (``MEDASSIST_GATE_SECOND_APPROVAL``): approve promotes it, decline keeps the champion.

    Refused for a run that is not waiting, by the ML admin who started the run, without a
    reason when declining, or when the champion has changed since the run measured it (the
    comparison no longer holds: run again). Audited either way.
    """
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if locked.decision != TrainingRun.Decision.AWAITING or locked.candidate is None:
            raise ApprovalRefused("This run is not waiting for an approval.")
        if locked.started_by_id is not None and locked.started_by_id == actor.pk:
            raise ApprovalRefused("A second ML admin must approve: you started this run yourself.")
        reason = reason.strip()
        if not approve and not reason:
            raise ApprovalRefused("Give the reason for not promoting this version.")
        champion = ModelVersion.objects.filter(
            task=locked.task, status=ModelVersion.Status.CHAMPION
        ).first()
        if approve and champion != locked.base_version:
            raise ApprovalRefused(
                "The champion has changed since this run compared against it; start a new run."
            )
        locked.approved_by = actor
        locked.approved_at = timezone.now()
        if approve:
            model_version_promote(
                version=locked.candidate,
                actor=actor,
                reason=f"{locked.decision_reason} Approved by {actor.get_username()}.",
            )
            locked.decision = TrainingRun.Decision.PROMOTED
            locked.decision_reason += f" Approved by {actor.get_username()}."
        else:
            locked.decision = TrainingRun.Decision.REJECTED
            locked.decision_reason += f" Not approved by {actor.get_username()}: {reason}"
        locked.save(update_fields=["approved_by", "approved_at", "decision", "decision_reason"])
        audit_record(
            actor=actor,
            action="training.approve" if approve else "training.decline",
            obj=locked,
            detail={"candidate": locked.candidate_id, "reason": reason},
        )
    return locked


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
    """Resume or fail the running runs whose worker stopped beating; wake queued ones.

    Runs each minute from beat. A running run whose heartbeat is older than
    ``MEDASSIST_TRAINING_STALE_SECONDS`` goes back to the queue when its task can resume and
    it has an epoch checkpoint, at most ``MEDASSIST_TRAINING_MAX_RESUMES`` times: the next
    worker goes on from that epoch with the same random state, so it ends as the
    uninterrupted run would. Otherwise it is failed with the reason and its checkpoints are
    removed (the champion is untouched). A run queued for over a minute while nothing runs
    lost its message (a broker outage) and gets a new one. Returns the ids it touched.
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.MEDASSIST_TRAINING_STALE_SECONDS)
    failed, resumed = [], []
    for run in TrainingRun.objects.filter(
        status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale
    ):
        silent = int((now - run.heartbeat_at).total_seconds()) if run.heartbeat_at else 0
        run_dir = _run_dir(run.pk)
        checkpoint = adapter_for(run.task).resumable and any(run_dir.glob("state-*.pt"))
        if checkpoint and run.resumes < settings.MEDASSIST_TRAINING_MAX_RESUMES:
            message = (
                f"The training worker stopped responding (no heartbeat for {silent} s); the "
                "run goes on from its last epoch checkpoint on the next worker."
            )
            if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
                status=TrainingRun.Status.QUEUED,
                resumes=run.resumes + 1,
                message=message[:300],
                heartbeat_at=None,
            ):
                audit_record(
                    actor=None,
                    action="training.resume",
                    obj=run,
                    detail={"silent_seconds": silent, "resumes": run.resumes + 1},
                )
                job_enqueue(TRAINING_RUN_EXECUTE, run_id=run.pk)
                resumed.append(run.pk)
            continue
        error = (
            f"The training worker stopped responding (no heartbeat for {silent} s); the run "
            "was stopped and its files removed. The champion is unchanged."
        )
        if run.resumes:
            error += f" It had already been resumed {run.resumes} time(s)."
        if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
            status=TrainingRun.Status.FAILED, error=error, message=error[:300], finished_at=now
        ):
            shutil.rmtree(run_dir, ignore_errors=True)
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
    return {"failed": failed, "resumed": resumed, "woken": woken}


class RollbackRefused(ValueError):
    """The version cannot be made champion by hand (see :func:`model_version_rollback`)."""


def model_version_rollback(
    *, version: ModelVersion, actor: AbstractBaseUser, reason: str
) -> ModelVersion:
    """Make an earlier (retired or candidate) version the champion of its task, by hand.

    The gate is not asked: an ML admin takes this decision and gives the reason, which
    :func:`diagnosis.registry.services.model_version_promote` keeps in the audit log
    (``model.promote``) with the champion it replaced. New suggestions use the version from
    the next batch on. Raises RollbackRefused without a reason, for the current champion,
    or when the version's weights file is missing (inference would fail on every image).
    """
    reason = reason.strip()
    if not reason:
        raise RollbackRefused("Give the reason for making this version the champion.")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status == ModelVersion.Status.CHAMPION:
            raise RollbackRefused(f"v{locked.version} is already the champion.")
        if not (Path(settings.MEDIA_ROOT) / locked.weights_key).is_file():
            raise RollbackRefused(
                f"The weights file of v{locked.version} is missing, so it cannot serve."
            )
        return model_version_promote(version=locked, actor=actor, reason=f"Rollback: {reason}")


@dataclass(frozen=True)
class FindingPlan:
    code: str
    cases: int
    real: int
    synthetic: int
    patients: int
    eligible: int  # labelled cases of this finding that could have been frozen


@dataclass(frozen=True)
class FreezePlan:
    """What one growth step of the test set freezes (or, in a dry run, would freeze).

    ``picks`` holds (instance id, finding id) pairs; everything else is counts, which are all
    the audit record keeps. ``seed`` is the one used, drawn when none was given, so a dry run
    shown on a page can be frozen exactly as shown.
    """

    task: str
    per_finding: int
    seed: int
    dry_run: bool
    findings: tuple[FindingPlan, ...]
    picks: tuple[tuple[int, int], ...]
    patients: int  # distinct patients of the picked cases
    new_patients: int  # of which not in the test set before
    # Labelled, unfrozen cases of the new patients: they leave training from now on.
    withheld_from_training: int
    batch: uuid.UUID | None = None

    @property
    def cases(self) -> int:
        return len(self.picks)

    @property
    def real(self) -> int:
        return sum(f.real for f in self.findings)

    @property
    def synthetic(self) -> int:
        return sum(f.synthetic for f in self.findings)

    def counts(self) -> dict[str, Any]:
        """The plan as counts only (no ids, no patient data): what the audit record keeps."""
        return {
            "task": self.task,
            "per_finding": self.per_finding,
            "seed": self.seed,
            "cases": self.cases,
            "real": self.real,
            "synthetic": self.synthetic,
            "patients": self.patients,
            "new_patients": self.new_patients,
            "withheld_from_training": self.withheld_from_training,
            "per_finding_cases": {f.code: f.cases for f in self.findings},
        }


def _ranks(ids: list[int], rng: random.Random) -> dict[int, int]:
    """A seeded random rank for each id of a sorted list."""
    return dict(zip(ids, rng.sample(range(len(ids)), len(ids)), strict=True))


def _plan(*, task: str, per_finding: int, seed: int, dry_run: bool) -> FreezePlan:
    """Pick up to ``per_finding`` unfrozen labelled cases per finding; see test_set_grow."""
    candidates = test_set_candidates(task=task)
    rng = random.Random(seed)
    # Random ranks drawn over id-sorted lists, so the same seed on the same rows picks the
    # same cases whatever order the database returned them in.
    patient_rank = _ranks(sorted({c.patient_id for c in candidates}), rng)
    instance_rank = _ranks(sorted({c.instance_id for c in candidates}), rng)
    by_finding: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_finding.setdefault(candidate.finding_code, []).append(candidate)

    test_patients = test_set_patient_ids()
    before = set(test_patients)
    picks: list[Candidate] = []
    findings: list[FindingPlan] = []
    # Rarest finding first: its few cases decide which patients join, and the commoner
    # findings then prefer those patients' cases (they cost no training data).
    for code in active_findings().values_list("code", flat=True):
        by_finding.setdefault(code, [])  # a finding with nothing to freeze shows as 0
    order = sorted(by_finding, key=lambda code: (len(by_finding[code]), code))
    for code in order:
        pool = by_finding[code]
        # Each patient's cases in seeded order; the n-th case of a patient is in round n, so
        # a finding takes one case from as many patients as it can before a second from any.
        rounds: dict[int, int] = {}
        seen: Counter[int] = Counter()
        for candidate in sorted(pool, key=lambda c: instance_rank[c.instance_id]):
            rounds[candidate.instance_id] = seen[candidate.patient_id]
            seen[candidate.patient_id] += 1
        chosen = sorted(
            pool,
            key=lambda c: (
                c.synthetic,  # real cases first
                rounds[c.instance_id],
                c.patient_id not in test_patients,  # then patients already held back
                patient_rank[c.patient_id],
                instance_rank[c.instance_id],
            ),
        )[:per_finding]
        picks.extend(chosen)
        test_patients.update(c.patient_id for c in chosen)
        findings.append(
            FindingPlan(
                code=code,
                cases=len(chosen),
                real=sum(not c.synthetic for c in chosen),
                synthetic=sum(c.synthetic for c in chosen),
                patients=len({c.patient_id for c in chosen}),
                eligible=len(pool),
            )
        )
    new_patients = {c.patient_id for c in picks} - before
    picked = {c.instance_id for c in picks}
    withheld = sum(c.patient_id in new_patients and c.instance_id not in picked for c in candidates)
    return FreezePlan(
        task=task,
        per_finding=per_finding,
        seed=seed,
        dry_run=dry_run,
        findings=tuple(sorted(findings, key=lambda f: f.code)),
        picks=tuple(sorted((c.instance_id, c.finding_id) for c in picks)),
        patients=len({c.patient_id for c in picks}),
        new_patients=len(new_patients),
        withheld_from_training=withheld,
    )


def test_set_grow(
    *,
    task: str = Task.IMAGE,
    per_finding: int,
    actor: AbstractBaseUser | None,
    seed: int | None = None,
    dry_run: bool = False,
) -> FreezePlan:
    """Freeze up to ``per_finding`` more reviewed cases per finding into the test set of ``task``.

    The candidates are the instances with a current label (see
    :func:`finetune.selectors.test_set_candidates`) not frozen yet; each finding is sampled on
    its own (stratified). Within a finding, real cases come before synthetic ones, then one
    case per patient before a second from anyone, then patients already in the test set (their
    cases are out of training anyway), then a seeded random order: the same seed on the same
    labels picks the same cases. Patient-disjoint by patient, not by case: only the picked
    cases are frozen, and from then on :func:`finetune.adapters.training_set` leaves out every
    case of a test patient, so a picked patient's other labelled cases leave training too
    (``withheld_from_training`` counts them); they stay eligible for a later growth step.

    ``dry_run`` returns the plan and writes nothing. Otherwise the cases are frozen in one
    transaction, under a lock that serialises concurrent growth, with one audit record
    ("test_set.grow", counts only). There is no way back: the test set never shrinks, and
    removing a frozen case needs a database administrator (see TestSetCase). Raises
    ValueError for ``per_finding`` < 1 or a task without a labelled-case test set.
    """
    if per_finding < 1:
        raise ValueError("Freeze at least one case per finding.")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    if dry_run:
        return _plan(task=task, per_finding=per_finding, seed=seed, dry_run=True)
    with transaction.atomic():
        # One growth at a time: a second one waits here, then plans without the first's cases.
        list(Finding.objects.select_for_update().order_by("pk"))
        plan = dataclasses.replace(
            _plan(task=task, per_finding=per_finding, seed=seed, dry_run=False),
            batch=uuid.uuid4(),
        )
        TestSetCase.objects.bulk_create(
            TestSetCase(
                task=task,
                instance_id=instance_id,
                finding_id=finding_id,
                frozen_by=actor if actor is not None and actor.is_authenticated else None,
                batch=plan.batch,
            )
            for instance_id, finding_id in plan.picks
        )
        audit_record(
            actor=actor,
            action="test_set.grow",
            detail={**plan.counts(), "batch": str(plan.batch)},
        )
    logger.info("Froze %d test cases (batch %s)", plan.cases, plan.batch)
    return plan


# --- The encounter diagnosis task's frozen test set ----------------------------------------


@transaction.atomic
def encounter_test_set_freeze(
    *, encounters: list[Any], actor: AbstractBaseUser | None = None, batch: uuid.UUID | None = None
) -> int:
    """Freeze diagnosed encounters into the encounter diagnosis test set (the demo, and
    :func:`encounter_test_set_grow`). From then on no encounter of their patients trains.

    Raises ValueError for an encounter without a final diagnosis (it has no label).
    """
    from diagnosis.encounters.models import FinalDiagnosis

    ids = [e.pk for e in encounters]
    diagnosed = set(
        FinalDiagnosis.objects.filter(encounter_id__in=ids).values_list("encounter_id", flat=True)
    )
    missing = sorted(set(ids) - diagnosed)
    if missing:
        raise ValueError(f"Encounters {missing} have no final diagnosis to measure against.")
    already = set(
        EncounterTestCase.objects.filter(encounter_id__in=ids).values_list(
            "encounter_id", flat=True
        )
    )
    rows = [
        EncounterTestCase(
            encounter_id=pk,
            frozen_by=actor if actor is not None and actor.is_authenticated else None,
            batch=batch,
        )
        for pk in dict.fromkeys(ids)
        if pk not in already
    ]
    EncounterTestCase.objects.bulk_create(rows)
    return len(rows)


def encounter_test_set_grow(
    *, fraction: float, actor: AbstractBaseUser | None, seed: int | None = None
) -> int:
    """Freeze every diagnosed encounter of a seeded ``fraction`` of the patients not yet in
    the encounter test set, whole patients only, so the test set stays disjoint by patient
    (their later encounters stay out of training too). Real patients are drawn before
    synthetic ones. Audited ("test_set.grow", counts only); returns how many encounters were
    frozen. Raises ValueError for a fraction outside (0, 1].
    """
    from diagnosis.encounters.selectors import current_final_diagnoses

    if not 0 < fraction <= 1:
        raise ValueError("Freeze a share of the patients between 0 and 1.")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    with transaction.atomic():
        # One growth at a time, of either test set (the image growth takes the same lock).
        list(Finding.objects.select_for_update().order_by("pk"))
        held = set(EncounterTestCase.objects.values_list("encounter__patient_id", flat=True))
        by_patient: dict[int, list[int]] = {}
        synthetic: dict[int, bool] = {}
        for encounter_id, patient_id, is_synthetic in current_final_diagnoses().values_list(
            "encounter_id", "encounter__patient_id", "encounter__patient__is_synthetic"
        ):
            if patient_id not in held:
                by_patient.setdefault(patient_id, []).append(encounter_id)
                synthetic[patient_id] = is_synthetic
        rng = random.Random(seed)
        patients = sorted(by_patient)
        rank = dict(zip(patients, rng.sample(range(len(patients)), len(patients)), strict=True))
        n = round(len(patients) * fraction)
        chosen = sorted(patients, key=lambda p: (synthetic[p], rank[p]))[:n]
        batch = uuid.uuid4()
        from diagnosis.encounters.models import Encounter

        encounters = list(
            Encounter.objects.filter(pk__in=[e for p in chosen for e in by_patient[p]])
        )
        frozen = encounter_test_set_freeze(encounters=encounters, actor=actor, batch=batch)
        audit_record(
            actor=actor,
            action="test_set.grow",
            detail={
                "task": Task.ENCOUNTER_DX,
                "seed": seed,
                "patients": len(chosen),
                "cases": frozen,
                "real": sum(not synthetic[p] for p in chosen),
                "batch": str(batch),
            },
        )
    return frozen
