"""Writes of the fine-tuning app: training runs, the gate and the schedule trigger."""

from __future__ import annotations

import logging
import random
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from diagnosis.models import Finding, ModelVersion, Review, Task
from diagnosis.selectors import active_findings
from diagnosis.services import model_version_promote, model_version_register
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.ml.image_model import (
    ImageClassifier,
    build_image_model,
    load_checkpoint,
    save_checkpoint,
)
from medassist.ml.preprocess import PREPROCESS_VERSION
from medassist.ml.training import TrainConfig, evaluate, fit_temperature, train_classifier
from medassist.services import audit_record

from .models import TestSetCase, TrainingRun

logger = logging.getLogger(__name__)

ACTIVE = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


class TrainingRunBusy(RuntimeError):
    """A run of the same task is already queued or running."""


class NotEnoughData(RuntimeError):
    """Too few labelled cases to train or to measure."""


@dataclass
class LabelledSet:
    instances: list[Instance]
    labels: list[str]  # finding codes
    max_review_id: int
    synthetic: bool


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
    from .tasks import training_run_execute

    transaction.on_commit(lambda: training_run_execute.delay(run_id=run.pk))
    return run


def training_run_start_if_new_labels(*, task: str = Task.IMAGE) -> TrainingRun | None:
    """Start a scheduled run when reviews have arrived since the champion's training data."""
    current = ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).first()
    since = current.trained_through_review_id if current is not None else 0
    new_labels = Review.objects.filter(pk__gt=since, source=Review.Source.CLINICIAN)
    if not new_labels.exists():
        logger.info("Scheduled retraining skipped: no new labels since review %s", since)
        return None
    try:
        return training_run_start(task=task, trigger=TrainingRun.Trigger.SCHEDULE, started_by=None)
    except TrainingRunBusy:
        logger.info("Scheduled retraining skipped: a run is already active")
        return None


def training_set(*, labels: list[str]) -> LabelledSet:
    """The current label of every reviewed instance, minus the test set's patients."""
    test_patients = TestSetCase.objects.values("instance__series__study__patient")
    current = (
        Review.objects.filter(superseded_by__isnull=True, finding__code__in=labels)
        .exclude(instance__series__study__patient__in=test_patients)
        .select_related("instance__series__study", "finding")
        .order_by("pk")
    )
    reviews = list(current)
    return LabelledSet(
        instances=[r.instance for r in reviews],
        labels=[r.finding.code for r in reviews],
        max_review_id=Review.objects.aggregate(m=Max("pk"))["m"] or 0,
        synthetic=any(r.source == Review.Source.SYNTHETIC_TRUTH for r in reviews),
    )


def test_set(*, task: str, labels: list[str]) -> LabelledSet:
    cases = list(
        TestSetCase.objects.filter(task=task, finding__code__in=labels)
        .select_related("instance", "finding")
        .order_by("pk")
    )
    return LabelledSet(
        instances=[c.instance for c in cases],
        labels=[c.finding.code for c in cases],
        max_review_id=0,
        synthetic=False,
    )


def _split_by_patient(
    data: LabelledSet, *, fraction: float, seed: int
) -> tuple[LabelledSet, LabelledSet]:
    """Hold back whole patients for calibration; nobody is in both parts.

    With fewer than 3 patients, or a fraction of 0, everything is used for training and
    the temperature stays 1 (no calibration).
    """
    patients = sorted({i.series.study.patient_id for i in data.instances})
    n_held = round(len(patients) * fraction)
    if fraction <= 0 or len(patients) < 3 or n_held < 1:
        return data, LabelledSet([], [], data.max_review_id, data.synthetic)
    rng = random.Random(seed)
    held = set(rng.sample(patients, n_held))
    parts: dict[bool, LabelledSet] = {
        flag: LabelledSet([], [], data.max_review_id, data.synthetic) for flag in (False, True)
    }
    for instance, label in zip(data.instances, data.labels, strict=True):
        part = parts[instance.series.study.patient_id in held]
        part.instances.append(instance)
        part.labels.append(label)
    if len(parts[False].instances) < 2:
        return data, LabelledSet([], [], data.max_review_id, data.synthetic)
    return parts[False], parts[True]


def _model_card(data: LabelledSet, *, synthetic: bool) -> dict[str, Any]:
    """What the model is for, derived from what it was trained on."""
    modalities = sorted({i.series.modality.upper() for i in data.instances if i.series.modality})
    body_parts = sorted({i.series.body_part.upper() for i in data.instances if i.series.body_part})
    return {
        "intended_use": "Suggests an image finding for a clinician to confirm or correct. "
        "It does not diagnose.",
        "modalities": modalities,
        "body_parts": body_parts,
        "training_data": "synthetic phantoms (demo)" if synthetic else "clinician-reviewed cases",
        "limitations": "Trained on synthetic phantoms only: says nothing about real patients."
        if synthetic
        else "Measured only on this site's frozen test set.",
    }


def _tensors(clf: ImageClassifier, data: LabelledSet) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.stack(
        [clf.preprocess(instance_read_dataset(instance=i)) for i in data.instances]
    )
    targets = torch.tensor([clf.labels.index(code) for code in data.labels], dtype=torch.long)
    return images, targets


def _progress(run: TrainingRun, progress: float, message: str) -> None:
    run.progress = progress
    run.message = message[:300]
    run.save(update_fields=["progress", "message"])


def training_run_execute(*, run_id: int) -> TrainingRun:
    """Fine-tune from the champion on the reviewed cases, measure, and apply the gate.

    Safe to call twice for the same run (a redelivered task): a finished run is returned as
    it is, and a run that a lost worker left "running" starts over.
    """
    run = TrainingRun.objects.get(pk=run_id)
    if run.is_finished:
        return run
    run.status = TrainingRun.Status.RUNNING
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    run_dir = Path(settings.MEDIA_ROOT) / "models" / "runs" / str(run.pk)
    try:
        _execute(run, run_dir)
    except Exception as exc:
        logger.exception("Training run %s failed", run.pk)
        run.status = TrainingRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        run.message = "Failed: " + str(exc)[:280]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "message", "finished_at"])
        audit_record(actor=None, action="training.fail", obj=run, detail={"error": run.error})
    return run


def _execute(run: TrainingRun, run_dir: Path) -> None:
    if settings.MEDASSIST_TORCH_THREADS:
        torch.set_num_threads(settings.MEDASSIST_TORCH_THREADS)
    base = ModelVersion.objects.filter(task=run.task, status=ModelVersion.Status.CHAMPION).first()
    if base is not None:
        clf = load_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )
    else:
        labels = list(active_findings().values_list("code", flat=True))
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        clf = ImageClassifier(
            build_image_model(len(labels), pretrained=True),
            labels=labels,
            image_size=settings.MEDASSIST_IMAGE_SIZE,
        )
    run.base_version = base
    run.save(update_fields=["base_version"])

    _progress(run, 0.02, "Loading the reviewed cases")
    train = training_set(labels=clf.labels)
    test = test_set(task=run.task, labels=clf.labels)
    if len(train.instances) < 2:
        raise NotEnoughData(f"Only {len(train.instances)} reviewed cases; at least 2 are needed.")
    if not test.instances:
        raise NotEnoughData("The frozen test set is empty, so no version can be measured.")
    run.n_train, run.n_test = len(train.instances), len(test.instances)
    run.save(update_fields=["n_train", "n_test"])
    fit_part, calibration_part = _split_by_patient(
        train, fraction=settings.MEDASSIST_CALIBRATION_FRACTION, seed=settings.MEDASSIST_TRAIN_SEED
    )
    train_x, train_y = _tensors(clf, fit_part)
    test_x, test_y = _tensors(clf, test)

    champion_metrics: dict[str, Any] = {}
    if base is not None:
        _progress(run, 0.05, "Measuring the champion on the frozen test set")
        champion_metrics = evaluate(clf, test_x, test_y)

    config = TrainConfig(
        epochs=settings.MEDASSIST_TRAIN_EPOCHS,
        batch_size=settings.MEDASSIST_TRAIN_BATCH_SIZE,
        lr=settings.MEDASSIST_TRAIN_LR,
        seed=settings.MEDASSIST_TRAIN_SEED,
    )
    run_dir.mkdir(parents=True, exist_ok=True)

    def on_epoch(epoch: int, loss: float) -> None:
        # A checkpoint per epoch, so a long run's work survives a lost worker.
        save_checkpoint(clf, run_dir / f"epoch-{epoch}.pt")
        _progress(
            run,
            0.1 + 0.8 * epoch / config.epochs,
            f"Epoch {epoch} of {config.epochs}: training loss {loss:.3f}",
        )

    _progress(run, 0.1, f"Training on {len(fit_part.instances)} cases")
    clf.temperature = 1.0
    train_classifier(clf, train_x, train_y, config=config, on_epoch=on_epoch)
    if calibration_part.instances:
        _progress(run, 0.9, f"Calibrating on {len(calibration_part.instances)} held-back cases")
        clf.temperature = fit_temperature(clf, *_tensors(clf, calibration_part))

    _progress(run, 0.92, "Measuring the candidate on the frozen test set")
    candidate_metrics = evaluate(clf, test_x, test_y)
    weights_key = f"models/{run.task}/{uuid.uuid4().hex}.pt"
    weights_path = Path(settings.MEDIA_ROOT) / weights_key
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    sha = save_checkpoint(clf, weights_path)
    shutil.rmtree(run_dir, ignore_errors=True)

    with transaction.atomic():
        candidate = model_version_register(
            task=run.task,
            weights_key=weights_key,
            weights_sha256=sha,
            labels=clf.labels,
            image_size=clf.image_size,
            preprocess_version=PREPROCESS_VERSION,
            parent=base,
            temperature=clf.temperature,
            model_card=_model_card(train, synthetic=train.synthetic),
            metrics=candidate_metrics,
            training_summary={
                "n_train": len(fit_part.instances),
                "n_calibration": len(calibration_part.instances),
                "label_counts": {c: train.labels.count(c) for c in clf.labels},
                "epochs": config.epochs,
                "batch_size": config.batch_size,
                "lr": config.lr,
                "image_size": clf.image_size,
                "run": run.pk,
            },
            trained_through_review_id=train.max_review_id,
            trained_on_synthetic_data=train.synthetic
            or (base is not None and base.trained_on_synthetic_data),
        )
        promote, reason = gate_decide(candidate=candidate_metrics, champion=champion_metrics)
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


def gate_decide(*, candidate: dict[str, Any], champion: dict[str, Any]) -> tuple[bool, str]:
    """The promotion rule: not worse than the champion on the same frozen test set.

    Promote iff ``candidate[metric] >= champion[metric] - margin`` (``MEDASSIST_GATE_METRIC``
    and ``MEDASSIST_GATE_MARGIN``). Returns the decision and the sentence shown to admins.
    """
    metric = settings.MEDASSIST_GATE_METRIC
    margin = settings.MEDASSIST_GATE_MARGIN
    if not champion:
        return True, "There was no champion to compare with."
    new, old = float(candidate[metric]), float(champion[metric])
    n = candidate.get("n", 0)
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
