"""Writes of the fine-tuning app: training runs, the gate and the schedule trigger."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import random
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from diagnosis.disposition import triage_labels
from diagnosis.models import (
    Disposition,
    Encounter,
    Finding,
    ModelVersion,
    Review,
    Task,
    TriageAssessment,
)
from diagnosis.selectors import active_findings
from diagnosis.services import model_version_promote, model_version_register
from diagnosis.triage.services import note_text, vitals_of
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.ml.calibration import temperature_from_logits
from medassist.ml.image_model import (
    ImageClassifier,
    build_image_model,
    load_checkpoint,
    save_checkpoint,
)
from medassist.ml.preprocess import PREPROCESS_VERSION
from medassist.ml.text_model import (
    TRIAGE_LABELS,
    TextClassifier,
    build_text_model,
    load_text_checkpoint,
    save_text_checkpoint,
    train_text_classifier,
)
from medassist.ml.training import (
    TrainConfig,
    classification_metrics,
    evaluate,
    fit_temperature,
    train_classifier,
)
from medassist.services import audit_record

from .models import TestSetCase, TrainingRun, TriageNote

if TYPE_CHECKING:
    from diagnosis.triage.rules import Vitals

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
    """Start a scheduled run when labels have arrived since the champion's training data.

    The labels of the image task are clinicians' reviews; those of the triage task are the
    nurses' confirmed ESI levels and the doctors' dispositions. ``trained_through_review_id``
    (and, for triage, ``trained_through_disposition_id``) hold the newest label ids the
    champion was trained with.
    """
    current = ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).first()
    since = current.trained_through_review_id if current is not None else 0
    if task == Task.TRIAGE:
        since_disposition = current.trained_through_disposition_id if current is not None else 0
        # A nurse confirms on an existing assessment row, so an assessment older than the
        # champion's data can carry a newer label: compare confirmation times, not ids.
        read_at = parse_datetime(
            current.training_summary.get("labels_read_at", "") if current is not None else ""
        )
        confirmed = TriageAssessment.objects.filter(confirmed_level__isnull=False)
        new_labels = (
            confirmed.filter(confirmed_at__gt=read_at)
            if read_at is not None
            else confirmed.filter(pk__gt=since)
        )
        if not new_labels.exists():
            # A disposition is a new label when it gives a level in hindsight, or takes one
            # back (supersedes one that gave a level); "cannot judge" alone changes nothing.
            new_labels = Disposition.objects.filter(pk__gt=since_disposition).filter(
                Q(esi_in_hindsight__isnull=False) | Q(supersedes__esi_in_hindsight__isnull=False)
            )
    else:
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
    """The current label of every reviewed instance, minus the test set's patients.

    Under double reading that is the agreed or adjudicated read, never a lone first read.
    """
    from diagnosis.review import current_label_reviews

    test_patients = TestSetCase.objects.values("instance__series__study__patient")
    current = (
        current_label_reviews()
        .filter(finding__code__in=labels)
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


def _held_back(
    case_groups: Sequence[Any], *, fraction: float, seed: int, min_held: int
) -> set[Any]:
    """The groups (patients) whose cases are held back for calibration; empty for none.

    Whole groups, so nobody is on both sides. Nothing is held back with fewer than 3
    groups, a fraction of 0, fewer than ``min_held`` cases held back (a temperature fitted
    on a handful is noise) or fewer than 2 cases left to train on: then everything trains
    and the temperature stays 1 (no calibration).
    """
    groups = sorted(set(case_groups))
    n_held = round(len(groups) * fraction)
    if fraction <= 0 or len(groups) < 3 or n_held < 1:
        return set()
    held = set(random.Random(seed).sample(groups, n_held))
    n_held_cases = sum(group in held for group in case_groups)
    if n_held_cases < min_held or len(case_groups) - n_held_cases < 2:
        return set()
    return held


def _split_by_patient(
    data: LabelledSet, *, fraction: float, seed: int, min_held: int = 1
) -> tuple[LabelledSet, LabelledSet]:
    """(fit, held back) by whole patients, see :func:`_held_back`."""
    patients = [i.series.study.patient_id for i in data.instances]
    held = _held_back(patients, fraction=fraction, seed=seed, min_held=min_held)
    parts: dict[bool, LabelledSet] = {
        flag: LabelledSet([], [], data.max_review_id, data.synthetic) for flag in (False, True)
    }
    for instance, patient, label in zip(data.instances, patients, data.labels, strict=True):
        part = parts[patient in held]
        part.instances.append(instance)
        part.labels.append(label)
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


@dataclass
class TriageSet:
    """Labelled triage notes: the text the model reads, and what the rules read."""

    texts: list[str]
    labels: list[str]  # ESI level names "1".."5"
    cases: list[tuple[str, Vitals]]  # (complaint, vitals) for the rules
    max_review_id: int = 0
    synthetic: bool = False
    max_disposition_id: int = 0
    labels_read_at: datetime.datetime | None = None  # when training_data read the labels
    # Where the labels came from: {"disposition": n, "nurse": n, "notes": n (TriageNote)}.
    label_sources: dict[str, int] = dataclasses.field(default_factory=dict)
    # Who each note is about ("patient-<id>", or "note-<id>" for a synthetic note), so the
    # calibration split never has one patient on both sides.
    groups: list[str] = dataclasses.field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.texts)

    def split(
        self, *, fraction: float, seed: int, min_held: int = 1
    ) -> tuple[TriageSet, TriageSet]:
        """(fit, held back) by whole groups, see :func:`_held_back`."""
        held = _held_back(self.groups, fraction=fraction, seed=seed, min_held=min_held)
        parts = {flag: TriageSet([], [], [], self.max_review_id, self.synthetic) for flag in (0, 1)}
        for i, group in enumerate(self.groups):
            part = parts[group in held]
            part.texts.append(self.texts[i])
            part.labels.append(self.labels[i])
            part.cases.append(self.cases[i])
            part.groups.append(group)
        return parts[0], parts[1]


@dataclass
class ImageSet:
    data: LabelledSet
    # Preprocessed tensors by (image size, labels): the test set is read once per run for
    # both the champion and the candidate.
    _cache: dict[tuple[int, tuple[str, ...]], tuple[torch.Tensor, torch.Tensor]] = (
        dataclasses.field(default_factory=dict, repr=False)
    )

    def tensors(self, clf: ImageClassifier) -> tuple[torch.Tensor, torch.Tensor]:
        key = (clf.image_size, tuple(clf.labels))
        if key not in self._cache:
            self._cache[key] = _tensors(clf, self.data)
        return self._cache[key]

    @property
    def n(self) -> int:
        return len(self.data.instances)

    @property
    def synthetic(self) -> bool:
        return self.data.synthetic

    @property
    def max_review_id(self) -> int:
        return self.data.max_review_id


class TaskAdapter(Protocol):
    """What a model task plugs into the shared start / execute / gate / promote path."""

    def build_new(self) -> Any: ...
    def load_base(self, base: ModelVersion) -> Any: ...
    def training_data(self, clf: Any) -> Any: ...
    def test_data(self, clf: Any) -> Any: ...
    def epochs(self) -> int: ...
    def train(
        self,
        clf: Any,
        data: Any,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
    ) -> dict[str, Any]: ...
    def evaluate(self, clf: Any, data: Any) -> dict[str, Any]: ...
    def save(self, clf: Any, path: Path) -> str: ...
    def version_fields(self, clf: Any, data: Any) -> dict[str, Any]: ...


class ImageAdapter:
    """EfficientNet-Lite0 over the finding vocabulary, labels from doctors' reviews."""

    def build_new(self) -> ImageClassifier:
        labels = list(active_findings().values_list("code", flat=True))
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return ImageClassifier(
            build_image_model(len(labels), pretrained=True),
            labels=labels,
            image_size=settings.MEDASSIST_IMAGE_SIZE,
        )

    def load_base(self, base: ModelVersion) -> ImageClassifier:
        return load_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )

    def training_data(self, clf: ImageClassifier) -> ImageSet:
        return ImageSet(training_set(labels=clf.labels))

    def test_data(self, clf: ImageClassifier) -> ImageSet:
        return ImageSet(test_set(task=Task.IMAGE, labels=clf.labels))

    def epochs(self) -> int:
        return int(settings.MEDASSIST_TRAIN_EPOCHS)

    def train(
        self,
        clf: ImageClassifier,
        data: ImageSet,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
    ) -> dict[str, Any]:
        fit_part, calibration_part = _split_by_patient(
            data.data,
            fraction=settings.MEDASSIST_CALIBRATION_FRACTION,
            seed=settings.MEDASSIST_TRAIN_SEED,
            min_held=settings.MEDASSIST_CALIBRATION_MIN_CASES,
        )
        config = TrainConfig(
            epochs=self.epochs(),
            batch_size=settings.MEDASSIST_TRAIN_BATCH_SIZE,
            lr=settings.MEDASSIST_TRAIN_LR,
            seed=settings.MEDASSIST_TRAIN_SEED,
        )
        train_x, train_y = _tensors(clf, fit_part)
        clf.temperature = 1.0
        train_classifier(clf, train_x, train_y, config=config, on_epoch=on_epoch)
        if calibration_part.instances:
            progress(0.9, f"Calibrating on {len(calibration_part.instances)} held-back cases")
            clf.temperature = fit_temperature(clf, *_tensors(clf, calibration_part))
        return {
            "n_train": len(fit_part.instances),
            "n_calibration": len(calibration_part.instances),
            "label_counts": {c: data.data.labels.count(c) for c in clf.labels},
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "image_size": clf.image_size,
        }

    def evaluate(self, clf: ImageClassifier, data: ImageSet) -> dict[str, Any]:
        return evaluate(clf, *data.tensors(clf))

    def save(self, clf: ImageClassifier, path: Path) -> str:
        return save_checkpoint(clf, path)

    def version_fields(self, clf: ImageClassifier, data: ImageSet) -> dict[str, Any]:
        return {
            "labels": clf.labels,
            "image_size": clf.image_size,
            "preprocess_version": PREPROCESS_VERSION,
            "temperature": clf.temperature,
            "model_card": _model_card(data.data, synthetic=data.synthetic),
        }


TRIAGE_PREPROCESS_VERSION = "triage-text-v1"  # diagnosis.triage.services.note_text


def triage_metrics(
    *, references: list[int], suggested: list[int], model_levels: list[int]
) -> dict[str, Any]:
    """Safety figures of triage suggestions against reference levels (ESI 1 = most acute).

    Under-triage: the suggestion is less acute than the reference (a higher number); over-
    triage: more acute. ``accuracy``/``macro_f1`` score the suggestion after the rules; the
    model alone is reported as ``model_accuracy``. Macro-F1 averages over the levels that
    occur in the references or the suggestions.
    """
    n = len(references)
    figures = classification_metrics(
        [r - 1 for r in references], [s - 1 for s in suggested], labels=TRIAGE_LABELS
    )
    under = sum(s > r for r, s in zip(references, suggested, strict=True))
    over = sum(s < r for r, s in zip(references, suggested, strict=True))
    model_right = sum(r == m for r, m in zip(references, model_levels, strict=True))
    return {
        **figures,
        "under_triage_rate": under / n if n else 0.0,
        "over_triage_rate": over / n if n else 0.0,
        "model_accuracy": model_right / n if n else 0.0,
    }


def _triage_case(complaint: str, vitals: dict[str, Any]) -> tuple[str, tuple[str, Vitals]]:
    # The rules engine is imported where used, so the image pipeline never depends on it.
    from diagnosis.triage.rules import Vitals

    v = Vitals(**vitals)
    return note_text(complaint=complaint, vitals=v), (complaint, v)


class TriageAdapter:
    """all-MiniLM-L6-v2 over ESI 1-5; labels are the doctors' ESI levels in hindsight, else
    the nurses' confirmed levels, plus the synthetic training notes."""

    def build_new(self) -> TextClassifier:
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return TextClassifier(build_text_model(len(TRIAGE_LABELS)), TRIAGE_LABELS)

    def load_base(self, base: ModelVersion) -> TextClassifier:
        return load_text_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )

    def training_data(self, clf: TextClassifier) -> TriageSet:
        """Every labelled encounter (see :func:`diagnosis.disposition.triage_labels`), then
        the synthetic training notes."""
        data = TriageSet([], [], [])
        # The watermarks first: a label arriving while this reads is then newer than them
        # and starts the next scheduled run, instead of being marked as trained but missed.
        data.labels_read_at = timezone.now()
        data.max_review_id = (
            TriageAssessment.objects.filter(confirmed_level__isnull=False).aggregate(m=Max("pk"))[
                "m"
            ]
            or 0
        )
        data.max_disposition_id = Disposition.objects.aggregate(m=Max("pk"))["m"] or 0
        labels = triage_labels()
        for encounter in Encounter.objects.filter(pk__in=labels).order_by("pk"):
            vitals = vitals_of(encounter=encounter)
            data.texts.append(note_text(complaint=encounter.chief_complaint, vitals=vitals))
            level, source = labels[encounter.pk]
            data.labels.append(str(level))
            data.label_sources[source] = data.label_sources.get(source, 0) + 1
            data.cases.append((encounter.chief_complaint, vitals))
            data.groups.append(f"patient-{encounter.patient_id}")
        for note in TriageNote.objects.filter(split=TriageNote.Split.TRAIN).order_by("pk"):
            text, case = _triage_case(note.complaint, note.vitals)
            data.texts.append(text)
            data.labels.append(str(note.esi_level))
            data.cases.append(case)
            data.groups.append(f"note-{note.pk}")
            data.label_sources["notes"] = data.label_sources.get("notes", 0) + 1
            data.synthetic = data.synthetic or note.synthetic
        return data

    def test_data(self, clf: TextClassifier) -> TriageSet:
        data = TriageSet([], [], [])
        for note in TriageNote.objects.filter(split=TriageNote.Split.TEST).order_by("pk"):
            text, case = _triage_case(note.complaint, note.vitals)
            data.texts.append(text)
            data.labels.append(str(note.esi_level))
            data.cases.append(case)
            data.synthetic = data.synthetic or note.synthetic
        return data

    def epochs(self) -> int:
        return settings.MEDASSIST_TRIAGE_EPOCHS

    def train(
        self,
        clf: TextClassifier,
        data: TriageSet,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
    ) -> dict[str, Any]:
        batch_size = settings.MEDASSIST_TRIAGE_BATCH_SIZE
        lr = settings.MEDASSIST_TRIAGE_LR
        fit_part, calibration_part = data.split(
            fraction=settings.MEDASSIST_CALIBRATION_FRACTION,
            seed=settings.MEDASSIST_TRAIN_SEED,
            min_held=settings.MEDASSIST_CALIBRATION_MIN_CASES,
        )
        clf.temperature = 1.0
        train_text_classifier(
            clf,
            fit_part.texts,
            fit_part.labels,
            epochs=self.epochs(),
            batch_size=batch_size,
            lr=lr,
            seed=settings.MEDASSIST_TRAIN_SEED,
            on_epoch=on_epoch,
        )
        if calibration_part.n:
            progress(0.9, f"Calibrating on {calibration_part.n} held-back notes")
            clf.temperature = temperature_from_logits(
                clf.logits(calibration_part.texts, batch_size=64),
                torch.tensor([clf.labels.index(label) for label in calibration_part.labels]),
            )
        return {
            "n_train": fit_part.n,
            "n_calibration": calibration_part.n,
            "label_sources": data.label_sources,
            "labels_read_at": data.labels_read_at.isoformat() if data.labels_read_at else "",
            "label_counts": {c: data.labels.count(c) for c in clf.labels},
            "epochs": self.epochs(),
            "batch_size": batch_size,
            "lr": lr,
        }

    def evaluate(self, clf: TextClassifier, data: TriageSet) -> dict[str, Any]:
        """Scores the suggestion a nurse would see: the model's level after combine()."""
        from diagnosis.triage.rules import combine, esi_rules

        probabilities = clf.classify(data.texts, batch_size=64)
        model_levels = [int(max(p, key=lambda k: p[k])) for p in probabilities]
        suggested = [
            combine(rules=esi_rules(complaint=complaint, vitals=vitals), model_level=level)[0]
            for (complaint, vitals), level in zip(data.cases, model_levels, strict=True)
        ]
        return triage_metrics(
            references=[int(x) for x in data.labels],
            suggested=suggested,
            model_levels=model_levels,
        )

    def save(self, clf: TextClassifier, path: Path) -> str:
        return save_text_checkpoint(clf, path)

    def version_fields(self, clf: TextClassifier, data: TriageSet) -> dict[str, Any]:
        return {
            "labels": list(clf.labels),
            "image_size": 0,
            "preprocess_version": TRIAGE_PREPROCESS_VERSION,
            "temperature": clf.temperature,
            "trained_through_disposition_id": data.max_disposition_id,
            "model_card": {
                "intended_use": "Suggests an ESI level from the triage note for the nurse to "
                "confirm or change; the ESI rules can only raise its acuity. It does not triage.",
                "training_data": "synthetic triage notes (demo)"
                if data.synthetic
                else "doctors' ESI levels in hindsight and nurse-confirmed triage levels",
                "limitations": "Trained on synthetic notes only: says nothing about real patients."
                if data.synthetic
                else "Measured only on this site's frozen triage test set.",
            },
        }


ADAPTERS: dict[str, TaskAdapter] = {Task.IMAGE: ImageAdapter(), Task.TRIAGE: TriageAdapter()}


def adapter_for(task: str) -> TaskAdapter:
    try:
        return ADAPTERS[task]
    except KeyError:
        raise ValueError(f"No training pipeline for task {task!r}.") from None


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
    """The task-agnostic path: base -> data -> champion's score -> train -> score -> gate."""
    if settings.MEDASSIST_TORCH_THREADS:
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

    Promote iff ``candidate[metric] >= champion[metric] - margin`` (``MEDASSIST_GATE_METRIC``
    and ``MEDASSIST_GATE_MARGIN``). For triage, a candidate that under-triages more often
    than the champion (suggests a less acute level than the reference, after the rules) is
    refused whatever its other figures: sending a sick patient to wait is the costly error.
    Returns the decision and the sentence shown to admins.
    """
    metric = settings.MEDASSIST_GATE_METRIC
    margin = settings.MEDASSIST_GATE_MARGIN
    if not champion:
        return True, "There was no champion to compare with."
    n = candidate.get("n", 0)
    if task == Task.TRIAGE:
        new_under = float(candidate["under_triage_rate"])
        old_under = float(champion["under_triage_rate"])
        if new_under > old_under:
            return False, (
                f"Kept the champion: the candidate under-triages {new_under:.1%} of the "
                f"{n} frozen test notes, more than the champion's {old_under:.1%}. "
                "A less acute suggestion than needed is never traded for other gains."
            )
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
