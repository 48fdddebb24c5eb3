"""What each model task plugs into the shared training path: its data, model, gate and labels.

:class:`TaskAdapter` is the contract; :data:`ADAPTERS` holds one adapter per
:class:`~diagnosis.registry.models.Task` and is the only place that tells the tasks apart.
The run itself (start, execute, gate, promote) is in :mod:`finetune.services`.

The ML admin's pages ask the adapters only database questions (test-set size, new labels),
so the tensor modules (torch, transformers) are imported inside the methods that build,
train, evaluate or save a model: only the training worker loads them.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from diagnosis.encounters.models import Disposition, Encounter, FinalDiagnosis, VitalsFields
from diagnosis.encounters.selectors import (
    current_final_diagnoses,
    dx_group_of,
    dx_groups_configured,
    dx_inputs_of,
)
from diagnosis.registry.models import ModelVersion, Task
from diagnosis.registry.selectors import active_findings
from diagnosis.review.models import Review
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.selectors import triage_labels
from diagnosis.triage.services import note_text, vitals_of
from imaging.selectors import instance_read_dataset
from medassist.models import Patient

from .gate import Scores, align
from .models import EncounterTestCase, TestSetCase, TriageNote
from .selectors import encounter_group_counts, encounter_test_patient_ids

if TYPE_CHECKING:
    import torch

    from diagnosis.triage.rules import Vitals
    from medassist.ml.encounter_inputs import EncounterInputs
    from medassist.ml.encounter_model import EncounterClassifier
    from medassist.ml.image_model import ImageClassifier
    from medassist.ml.text_model import TextClassifier
    from medassist.ml.triage_head import TriageHeadClassifier

    TriageModel = TextClassifier | TriageHeadClassifier


@dataclass(frozen=True, slots=True)
class LabelledImage:
    """One image of a training or test set: what a run reads of it and of its study and
    patient (the file and its checksum, the model card's modality, body part and date, the
    patient for the calibration split and the subgroup figures), read as plain values."""

    pk: int
    sop_instance_uid: str
    storage_key: str
    sha256: str
    modality: str
    body_part: str
    study_date: datetime.date | None
    is_synthetic: bool
    patient_id: int
    sex: str  # as displayed
    birth_date: datetime.date | None

    def __str__(self) -> str:
        return f"Instance {self.sop_instance_uid}"


# The columns of a LabelledImage, from a row that reaches the image as ``instance``.
_IMAGE_COLUMNS = (
    "instance_id",
    "instance__sop_instance_uid",
    "instance__storage_key",
    "instance__sha256",
    "instance__series__modality",
    "instance__series__body_part",
    "instance__series__study__study_date",
    "instance__series__study__is_synthetic",
    "instance__series__study__patient_id",
    "instance__series__study__patient__sex",
    "instance__series__study__patient__birth_date",
)


def _image(row: Sequence[Any], sexes: dict[str, str]) -> LabelledImage:
    return LabelledImage(*row[:9], sexes.get(row[9], row[9]), row[10])  # type: ignore[arg-type]


@dataclass
class LabelledSet:
    instances: list[LabelledImage]
    labels: list[str]  # finding codes
    max_review_id: int
    synthetic: bool
    # How many of the cases are synthetic (a synthetic study, or the generator's ground
    # truth as the label); the rest are real. Recorded in the version's training summary.
    n_synthetic: int = 0

    @classmethod
    def of_rows(
        cls, rows: list[tuple[Any, ...]], *, max_review_id: int, truth: Callable[[Any], bool]
    ) -> LabelledSet:
        """From rows of ``_IMAGE_COLUMNS`` + (finding code, source); ``truth(source)`` says
        whether the label is the generator's ground truth (synthetic)."""
        sexes = {str(value): str(label) for value, label in Patient.Sex.choices}
        images = [_image(row, sexes) for row in rows]
        truths = [truth(row[-1]) for row in rows]
        return cls(
            instances=images,
            labels=[row[-2] for row in rows],
            max_review_id=max_review_id,
            synthetic=any(truths),
            n_synthetic=sum(t or i.is_synthetic for t, i in zip(truths, images, strict=True)),
        )


def training_set(*, labels: list[str]) -> LabelledSet:
    """The current label of every reviewed instance, minus the test set's patients.

    Under double reading that is the agreed or adjudicated read, never a lone first read.
    Read as plain values, not models: building four model objects per row was 80% of the
    time at 10^5 labelled cases (bench/scale.py).
    """
    from diagnosis.review.selectors import current_label_reviews

    test_patients = TestSetCase.objects.values("instance__series__study__patient")
    rows = list(
        current_label_reviews()
        .filter(finding__code__in=labels)
        .exclude(instance__series__study__patient__in=test_patients)
        .order_by("pk")
        .values_list(*_IMAGE_COLUMNS, "finding__code", "source")
    )
    truth = Review.Source.SYNTHETIC_TRUTH
    return LabelledSet.of_rows(
        rows,
        max_review_id=Review.objects.aggregate(m=Max("pk"))["m"] or 0,
        truth=lambda source: source == truth,
    )


def test_set(*, task: str, labels: list[str]) -> LabelledSet:
    rows = list(
        TestSetCase.objects.filter(task=task, finding__code__in=labels)
        .order_by("pk")
        .values_list(*_IMAGE_COLUMNS, "finding__code", "pk")
    )
    data = LabelledSet.of_rows(rows, max_review_id=0, truth=lambda _: False)
    data.synthetic = data.n_synthetic > 0
    return data


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
    patients = [i.patient_id for i in data.instances]
    held = _held_back(patients, fraction=fraction, seed=seed, min_held=min_held)
    parts: dict[bool, LabelledSet] = {
        flag: LabelledSet([], [], data.max_review_id, data.synthetic) for flag in (False, True)
    }
    for instance, patient, label in zip(data.instances, patients, data.labels, strict=True):
        part = parts[patient in held]
        part.instances.append(instance)
        part.labels.append(label)
    return parts[False], parts[True]


def scope_of(
    values: Sequence[str], *, min_cases: int, families: Sequence[Sequence[str]]
) -> list[str]:
    """The values (modalities or body parts, upper case) with at least ``min_cases`` cases.

    Members of one family count together and enter together: 15 CR and 10 DX images make
    both CR and DX in scope at a minimum of 20; 5 DX alone do not.
    """
    counts: dict[str, int] = {}
    for value in values:
        if value:
            counts[value.upper()] = counts.get(value.upper(), 0) + 1
    family_of = {member: tuple(family) for family in families for member in family}
    totals: dict[tuple[str, ...], int] = {}
    for value, n in counts.items():
        key = family_of.get(value, (value,))
        totals[key] = totals.get(key, 0) + n
    return sorted({m for key, n in totals.items() if n >= min_cases for m in key})


def _date_range(data: LabelledSet) -> list[str]:
    """[first, last] study date of the cases (ISO), or [] when none has a date."""
    dates = sorted(i.study_date for i in data.instances if i.study_date)
    return [dates[0].isoformat(), dates[-1].isoformat()] if dates else []


def _model_card(data: LabelledSet, *, synthetic: bool) -> dict[str, Any]:
    """What the model is for, derived from what it was trained on (see :func:`scope_of`)."""
    min_cases = settings.MEDASSIST_SCOPE_MIN_CASES
    modalities = scope_of(
        [i.modality for i in data.instances],
        min_cases=min_cases,
        families=settings.MEDASSIST_SCOPE_FAMILIES,
    )
    body_parts = scope_of([i.body_part for i in data.instances], min_cases=min_cases, families=())
    return {
        "intended_use": "Suggests an image finding for a clinician to confirm or correct. "
        "It does not diagnose.",
        "modalities": modalities,
        "body_parts": body_parts,
        # Cards with this key have a scope measured from the training data: an image outside
        # it (or any image, when nothing reached the minimum) is out of scope.
        "scope_min_cases": min_cases,
        "training_data": "synthetic phantoms (demo)" if synthetic else "clinician-reviewed cases",
        "limitations": "Trained on synthetic phantoms only: says nothing about real patients."
        if synthetic
        else "Measured only on this site's frozen test set.",
    }


def _tensors(
    image_size: int, labels: list[str], data: LabelledSet, manufacturers: list[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The preprocessed images and the class indices of their labels in ``labels``; each
    file's Manufacturer is appended to ``manufacturers`` when given (files are read once)."""
    import torch

    from medassist.ml.preprocess import dicom_to_tensor

    if not data.instances:
        return torch.empty((0, 3, image_size, image_size)), torch.empty(0, dtype=torch.long)
    images = []
    for instance in data.instances:
        ds = instance_read_dataset(instance=instance)
        images.append(dicom_to_tensor(ds, size=image_size))
        if manufacturers is not None:
            manufacturers.append(str(getattr(ds, "Manufacturer", "") or "unknown"))
    targets = torch.tensor([labels.index(code) for code in data.labels], dtype=torch.long)
    return torch.stack(images), targets


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
    # How many notes are synthetic (a synthetic patient's encounter, or a synthetic training
    # note); the rest are real. Recorded in the version's training summary.
    n_synthetic: int = 0
    # Test notes only: per note, whether it is real (the gate measures real ones apart).
    real: list[bool] = dataclasses.field(default_factory=list)

    @property
    def n_real(self) -> int:
        return self.n - self.n_synthetic

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

    _manufacturers: list[str] = dataclasses.field(default_factory=list, repr=False)

    def tensors(self, image_size: int, labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        key = (image_size, tuple(labels))
        if key not in self._cache:
            read = [] if not self._manufacturers else None
            self._cache[key] = _tensors(image_size, labels, self.data, read)
            if read is not None:
                self._manufacturers = read
        return self._cache[key]

    @property
    def real(self) -> list[bool]:
        """Per case: a real patient's study (not synthetic)."""
        return [not i.is_synthetic for i in self.data.instances]

    def groups(self) -> dict[str, list[str]]:
        """Per case: sex, age band at the study, modality and manufacturer (from the file)."""
        from .selectors import age_band

        images = self.data.instances
        return {
            "sex": [i.sex for i in images],
            "age band": [
                age_band(birth_date=i.birth_date, study_date=i.study_date) for i in images
            ],
            "modality": [i.modality or "unknown" for i in images],
            # Read with the pixels by :meth:`tensors`, which the evaluation calls first.
            "manufacturer": self._manufacturers or ["unknown"] * self.n,
        }

    @property
    def n_real(self) -> int:
        return self.n - self.data.n_synthetic

    @property
    def n(self) -> int:
        return len(self.data.instances)

    @property
    def synthetic(self) -> bool:
        return self.data.synthetic

    @property
    def max_review_id(self) -> int:
        return self.data.max_review_id


@dataclass
class Evaluation:
    """A model measured on the frozen test cases: the scores the gate compares, and the
    figures the run and version pages show (:meth:`metrics`)."""

    scores: Scores
    # Triage: the figures of the suggestions after the ESI rules (under-triage and so on).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Per attribute (sex, age band, modality, manufacturer): each case's value, for the
    # version page's subgroup table.
    groups: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """Accuracy, macro-F1, per class and confusion (top class), macro AUROC, and the
        same on real and on synthetic cases apart."""
        from medassist.ml.gate_stats import macro_auroc
        from medassist.ml.training import classification_metrics

        s = self.scores

        def figures(rows: np.ndarray) -> dict[str, Any]:
            p, y = s.probabilities[rows], s.targets[rows]
            out = classification_metrics(y, p.argmax(axis=1), labels=s.labels) if len(y) else {}
            auc = macro_auroc(p, y) if len(y) else float("nan")
            out["macro_auroc"] = None if np.isnan(auc) else auc
            return out

        from medassist.ml.gate_stats import accuracy, bootstrap_interval

        everything = np.ones(s.n, dtype=bool)
        metrics = {**figures(everything), **self.extra}
        # 95% intervals of this version's own figures (resampled cases, seeded).
        metrics["ci"] = {
            name: bootstrap_interval(
                fn,
                s.probabilities,
                s.targets,
                resamples=settings.MEDASSIST_GATE_RESAMPLES,
                seed=settings.MEDASSIST_TRAIN_SEED,
            )
            for name, fn in (("macro_auroc", macro_auroc), ("accuracy", accuracy))
        }
        metrics["subgroups"] = {
            attribute: {
                value: {
                    "n": int(rows.sum()),
                    "accuracy": accuracy(s.probabilities[rows], s.targets[rows]),
                }
                for value in sorted(set(values))
                for rows in [np.array([v == value for v in values], dtype=bool)]
            }
            for attribute, values in self.groups.items()
        }
        metrics["by_source"] = {
            kind: {
                k: v
                for k, v in figures(rows).items()
                if k in {"n", "accuracy", "macro_f1", "macro_auroc"}
            }
            for kind, rows in (("real", s.real), ("synthetic", ~s.real))
            if rows.any()
        }
        return metrics


class TaskAdapter(Protocol):
    """What a model task plugs into the shared start / execute / gate / promote path."""

    def build_new(self, labels: list[str] | None = None) -> Any: ...
    def load_base(self, base: ModelVersion) -> Any: ...
    def offered_labels(self, base: Any) -> list[str]: ...
    def prepare(self, base: Any, labels: list[str]) -> Any: ...
    def starts_afresh(self, base: Any) -> bool: ...
    def training_data(self, labels: list[str]) -> Any: ...
    def test_data(self, labels: list[str]) -> Any: ...
    def epochs(self) -> int: ...
    def train(
        self,
        clf: Any,
        data: Any,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
        on_state: Callable[[dict[str, Any]], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    # Whether a run interrupted after an epoch can go on from that epoch's weights and
    # training state (``on_state`` payloads) and end as the uninterrupted run would.
    resumable: bool

    def load_file(self, path: Path) -> Any: ...
    def fingerprint(self, data: Any) -> str: ...
    def evaluate(self, clf: Any, data: Any, labels: list[str]) -> Evaluation: ...
    def save(self, clf: Any, path: Path) -> str: ...
    def version_fields(self, clf: Any, data: Any) -> dict[str, Any]: ...
    def test_set_size(self) -> int: ...
    def has_new_labels(self, *, champion: ModelVersion | None) -> bool: ...


class ImageAdapter:
    """EfficientNet-Lite0 over the finding vocabulary, labels from doctors' reviews."""

    def build_new(self, labels: list[str] | None = None) -> ImageClassifier:
        import torch

        from medassist.ml.image_model import ImageClassifier, build_image_model

        if labels is None:
            labels = list(active_findings().values_list("code", flat=True))
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return ImageClassifier(
            build_image_model(len(labels), pretrained=True),
            labels=labels,
            image_size=settings.MEDASSIST_IMAGE_SIZE,
        )

    def load_base(self, base: ModelVersion) -> ImageClassifier:
        """The champion's classifier as it serves (measured as it is, before any change)."""
        from medassist.ml.image_model import load_checkpoint

        return load_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )

    def offered_labels(self, base: ImageClassifier | None) -> list[str]:
        """What the next version predicts over: the base's findings still offered, in the
        base's order (their rows are inherited), then findings added since that have enough
        labels and frozen test cases to be learnt and measured (see
        :func:`finetune.selectors.finding_readiness`; until then they are "collecting
        labels"). A retired finding is dropped, so new versions stop suggesting it; the
        versions that had it keep it."""
        from .selectors import finding_readiness

        offered = list(active_findings().values_list("code", flat=True))
        kept = [c for c in base.labels if c in offered] if base is not None else []
        ready = {r.code for r in finding_readiness() if r.ready}
        return kept + [c for c in offered if c not in kept and c in ready]

    def starts_afresh(self, base: ImageClassifier | None) -> bool:
        """Whether :meth:`prepare` leaves ``base`` behind (never: it grows its head)."""
        return base is None

    def prepare(self, base: ImageClassifier | None, labels: list[str]) -> ImageClassifier:
        """The model to train: a new one, or a copy of the base with its head fitted to
        ``labels`` (see :func:`medassist.ml.image_model.grow_head`); the base is not changed."""
        import torch

        from medassist.ml.image_model import grow_head

        if base is None:
            return self.build_new(labels)
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return grow_head(base, labels)

    def training_data(self, labels: list[str]) -> ImageSet:
        return ImageSet(training_set(labels=labels))

    def test_data(self, labels: list[str]) -> ImageSet:
        return ImageSet(test_set(task=Task.IMAGE, labels=labels))

    def epochs(self) -> int:
        return int(settings.MEDASSIST_TRAIN_EPOCHS)

    resumable = True

    def load_file(self, path: Path) -> ImageClassifier:
        """A checkpoint this run wrote itself (an epoch's weights, to resume from)."""
        from medassist.ml.image_model import load_checkpoint

        return load_checkpoint(path)

    def fingerprint(self, data: ImageSet) -> str:
        """What the training data is: which images with which labels, in order."""
        digest = hashlib.sha256()
        for instance, label in zip(data.data.instances, data.data.labels, strict=True):
            digest.update(f"{instance.pk}:{instance.sha256}:{label}\n".encode())
        return digest.hexdigest()

    def train(
        self,
        clf: ImageClassifier,
        data: ImageSet,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
        on_state: Callable[[dict[str, Any]], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        import torch

        from medassist.ml.calibration import calibrate
        from medassist.ml.training import (
            TrainConfig,
            TrainState,
            classifier_logits,
            train_classifier,
        )

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
        train_x, train_y = _tensors(clf.image_size, clf.labels, fit_part)
        clf.temperature = 1.0
        train_classifier(
            clf,
            train_x,
            train_y,
            config=config,
            on_epoch=on_epoch,
            on_state=None if on_state is None else lambda state: on_state(state.as_payload()),
            resume=None if resume is None else TrainState.from_payload(resume),
        )
        logits, targets = torch.empty((0, len(clf.labels))), torch.empty(0, dtype=torch.long)
        if calibration_part.instances:
            progress(0.9, f"Calibrating on {len(calibration_part.instances)} held-back cases")
            images, targets = _tensors(clf.image_size, clf.labels, calibration_part)
            logits = classifier_logits(clf, images)
        calibration = calibrate(
            logits,
            targets,
            groups=[i.patient_id for i in calibration_part.instances],
            min_cases=settings.MEDASSIST_CALIBRATION_MIN_CASES,
            seed=settings.MEDASSIST_TRAIN_SEED,
        )
        clf.temperature = calibration.temperature
        return {
            "n_train": len(fit_part.instances),
            "n_calibration": len(calibration_part.instances),
            "calibration": calibration.summary(),
            "label_counts": {c: data.data.labels.count(c) for c in clf.labels},
            "study_dates": _date_range(data.data),
            # Over the training and calibration cases together, so they add up to n + held.
            "n_real": data.n - data.data.n_synthetic,
            "n_synthetic": data.data.n_synthetic,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "image_size": clf.image_size,
        }

    def evaluate(self, clf: ImageClassifier, data: ImageSet, labels: list[str]) -> Evaluation:
        """The probabilities a clinician would see (calibrated), over ``labels``."""
        import torch

        from medassist.ml.training import classifier_logits

        images, targets = data.tensors(clf.image_size, labels)
        logits = classifier_logits(clf, images)
        probabilities = torch.softmax(logits.double() / clf.temperature, dim=1).numpy()
        scores = Scores(
            labels=list(labels),
            probabilities=align(probabilities, clf.labels, labels),
            targets=targets.numpy(),
            real=np.array(data.real, dtype=bool),
        )
        return Evaluation(scores, groups=data.groups())

    def save(self, clf: ImageClassifier, path: Path) -> str:
        from medassist.ml.image_model import save_checkpoint

        return save_checkpoint(clf, path)

    def version_fields(self, clf: ImageClassifier, data: ImageSet) -> dict[str, Any]:
        from medassist.ml.preprocess import PREPROCESS_VERSION

        return {
            "labels": clf.labels,
            "image_size": clf.image_size,
            "preprocess_version": PREPROCESS_VERSION,
            "temperature": clf.temperature,
            "model_card": _model_card(data.data, synthetic=data.synthetic),
        }

    def test_set_size(self) -> int:
        return TestSetCase.objects.filter(task=Task.IMAGE).count()

    def has_new_labels(self, *, champion: ModelVersion | None) -> bool:
        """Whether a clinician has reviewed a case, or an ML admin imported a label, since the
        champion's training data.

        ``trained_through_review_id`` holds the newest review id the champion was trained with.
        """
        since = champion.trained_through_review_id if champion is not None else 0
        return Review.objects.filter(
            pk__gt=since, source__in=[Review.Source.CLINICIAN, Review.Source.IMPORT]
        ).exists()


TRIAGE_PREPROCESS_VERSION = "triage-text-v1"  # diagnosis.triage.services.note_text
# The complaint as the frozen encoder embeds it, the vital signs as numbers
# (medassist.ml.triage_head.vitals_features).
TRIAGE_HEAD_PREPROCESS_VERSION = "triage-head-v1"
# The two kinds of triage model (MEDASSIST_TRIAGE_MODEL).
TRIAGE_FROZEN_ENCODER = "frozen-encoder"
TRIAGE_FINE_TUNED = "fine-tuned"
TRIAGE_MODELS = (TRIAGE_FROZEN_ENCODER, TRIAGE_FINE_TUNED)


def _kind_of(clf: TriageModel) -> str:
    return getattr(clf, "kind", TRIAGE_FINE_TUNED)


def triage_metrics(
    *, references: list[int], suggested: list[int], model_levels: list[int]
) -> dict[str, Any]:
    """Safety figures of triage suggestions against reference levels (ESI 1 = most acute).

    Under-triage: the suggestion is less acute than the reference (a higher number); over-
    triage: more acute. ``accuracy``/``macro_f1`` score the suggestion after the rules; the
    model alone is reported as ``model_accuracy``, ``model_under_triage_rate`` and
    ``model_over_triage_rate`` (its own level, before the rules raise it), so the rules'
    safety net is not mistaken for the model's skill. Macro-F1 averages over the levels that
    occur in the references or the suggestions.
    """
    from medassist.ml.text_model import TRIAGE_LABELS
    from medassist.ml.training import classification_metrics

    n = len(references)
    figures = classification_metrics(
        [r - 1 for r in references], [s - 1 for s in suggested], labels=TRIAGE_LABELS
    )
    under = sum(s > r for r, s in zip(references, suggested, strict=True))
    over = sum(s < r for r, s in zip(references, suggested, strict=True))
    model_right = sum(r == m for r, m in zip(references, model_levels, strict=True))
    model_under = sum(m > r for r, m in zip(references, model_levels, strict=True))
    model_over = sum(m < r for r, m in zip(references, model_levels, strict=True))
    return {
        **figures,
        "under_triage_rate": under / n if n else 0.0,
        "over_triage_rate": over / n if n else 0.0,
        "model_accuracy": model_right / n if n else 0.0,
        "model_under_triage_rate": model_under / n if n else 0.0,
        "model_over_triage_rate": model_over / n if n else 0.0,
    }


def _triage_case(complaint: str, vitals: dict[str, Any]) -> tuple[str, tuple[str, Vitals]]:
    # The rules engine is imported where used, so the image pipeline never depends on it.
    from diagnosis.triage.rules import Vitals

    v = Vitals(**vitals)
    return note_text(complaint=complaint, vitals=v), (complaint, v)


def _triage_inputs(clf: TriageModel, data: TriageSet) -> list[Any]:
    """What ``clf`` reads of each case: the note as text for the fine-tuned text model, the
    complaint and the vital signs for the head on the frozen encoder."""
    if getattr(clf, "kind", "") == TRIAGE_FROZEN_ENCODER:
        return [(complaint, dataclasses.asdict(vitals)) for complaint, vitals in data.cases]
    return list(data.texts)


class TriageAdapter:
    """ESI 1-5 from the triage note; labels are the doctors' ESI levels in hindsight, else
    the nurses' confirmed levels, plus the synthetic training notes.

    Two kinds of model (MEDASSIST_TRIAGE_MODEL): ``frozen-encoder``, a head on the frozen
    all-MiniLM-L6-v2 embedding of the complaint and the vital signs as numbers
    (:mod:`medassist.ml.triage_head`, served from the meaning match's own encoder pass), or
    ``fine-tuned``, the whole encoder fine-tuned on the note with its vitals written as text
    (:mod:`medassist.ml.text_model`)."""

    @staticmethod
    def kind() -> str:
        return settings.MEDASSIST_TRIAGE_MODEL

    def build_new(self, labels: list[str] | None = None) -> TriageModel:
        import torch

        from medassist.ml.text_model import TRIAGE_LABELS, TextClassifier, build_text_model

        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        if self.kind() == TRIAGE_FROZEN_ENCODER:
            from medassist.ml.triage_head import build_triage_head

            return build_triage_head(len(TRIAGE_LABELS))
        return TextClassifier(build_text_model(len(TRIAGE_LABELS)), TRIAGE_LABELS)

    def load_base(self, base: ModelVersion) -> TriageModel:
        from medassist.ml.triage_head import load_triage_checkpoint

        return load_triage_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )

    def offered_labels(self, base: TriageModel | None) -> list[str]:
        from medassist.ml.text_model import TRIAGE_LABELS

        return list(TRIAGE_LABELS)

    def starts_afresh(self, base: TriageModel | None) -> bool:
        """Whether :meth:`prepare` builds a new model rather than continue ``base``: without
        one, or when it is of the other kind than MEDASSIST_TRIAGE_MODEL names."""
        return base is None or _kind_of(base) != self.kind()

    def prepare(self, base: TriageModel | None, labels: list[str]) -> TriageModel:
        """A new model, or the base itself (it is trained in place once it has been measured).

        A base of the other kind than MEDASSIST_TRIAGE_MODEL names is not continued: the
        new model is built afresh (the gate still compares it with that champion)."""
        if self.starts_afresh(base):
            return self.build_new(labels)
        return base

    def training_data(self, labels: list[str] | None = None) -> TriageSet:
        """Every labelled encounter (see :func:`diagnosis.triage.selectors.triage_labels`), then
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
        # Only what the note and the rules read (vitals_of, note_text): every column of two
        # models per encounter was half the time at 10^5 encounters (bench/scale.py).
        columns = ("chief_complaint", "age_years", "patient__is_synthetic")
        vitals = tuple(field.name for field in VitalsFields._meta.get_fields())
        for encounter in (
            Encounter.objects.filter(pk__in=labels)
            .select_related("patient")
            .only(*columns, *vitals)
            .order_by("pk")
        ):
            vitals = vitals_of(encounter=encounter)
            data.texts.append(note_text(complaint=encounter.chief_complaint, vitals=vitals))
            level, source = labels[encounter.pk]
            data.labels.append(str(level))
            data.label_sources[source] = data.label_sources.get(source, 0) + 1
            data.cases.append((encounter.chief_complaint, vitals))
            data.groups.append(f"patient-{encounter.patient_id}")
            data.n_synthetic += encounter.patient.is_synthetic
        for note in TriageNote.objects.filter(split=TriageNote.Split.TRAIN).order_by("pk"):
            text, case = _triage_case(note.complaint, note.vitals)
            data.texts.append(text)
            data.labels.append(str(note.esi_level))
            data.cases.append(case)
            data.groups.append(f"note-{note.pk}")
            data.label_sources["notes"] = data.label_sources.get("notes", 0) + 1
            data.synthetic = data.synthetic or note.synthetic
            data.n_synthetic += note.synthetic
        return data

    def test_data(self, labels: list[str] | None = None) -> TriageSet:
        data = TriageSet([], [], [])
        for note in TriageNote.objects.filter(split=TriageNote.Split.TEST).order_by("pk"):
            text, case = _triage_case(note.complaint, note.vitals)
            data.texts.append(text)
            data.labels.append(str(note.esi_level))
            data.cases.append(case)
            data.synthetic = data.synthetic or note.synthetic
            data.n_synthetic += note.synthetic
            data.real.append(not note.synthetic)
        return data

    def epochs(self) -> int:
        if self.kind() == TRIAGE_FROZEN_ENCODER:
            return settings.MEDASSIST_TRIAGE_HEAD_EPOCHS
        return settings.MEDASSIST_TRIAGE_EPOCHS

    # A triage run takes minutes: one whose worker is lost starts again from the champion.
    resumable = False

    def load_file(self, path: Path) -> TriageModel:
        from medassist.ml.triage_head import load_triage_checkpoint

        return load_triage_checkpoint(path)

    def fingerprint(self, data: TriageSet) -> str:
        digest = hashlib.sha256()
        for text, label in zip(data.texts, data.labels, strict=True):
            digest.update(f"{label}:{text}\n".encode())
        return digest.hexdigest()

    def train(
        self,
        clf: TriageModel,
        data: TriageSet,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
        on_state: Callable[[dict[str, Any]], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        import torch

        from medassist.ml.calibration import calibrate
        from medassist.ml.text_model import train_text_classifier

        batch_size = settings.MEDASSIST_TRIAGE_BATCH_SIZE
        frozen = _kind_of(clf) == TRIAGE_FROZEN_ENCODER
        lr = settings.MEDASSIST_TRIAGE_HEAD_LR if frozen else settings.MEDASSIST_TRIAGE_LR
        fit_part, calibration_part = data.split(
            fraction=settings.MEDASSIST_CALIBRATION_FRACTION,
            seed=settings.MEDASSIST_TRAIN_SEED,
            min_held=settings.MEDASSIST_CALIBRATION_MIN_CASES,
        )
        clf.temperature = 1.0
        schedule = {
            "epochs": self.epochs(),
            "batch_size": batch_size,
            "lr": lr,
            "seed": settings.MEDASSIST_TRAIN_SEED,
            "on_epoch": on_epoch,
        }
        if frozen:
            from medassist.ml.triage_head import train_triage_head, vitals_features

            progress(0.1, f"Reading {fit_part.n} notes with the frozen encoder")
            features = [vitals_features(dataclasses.asdict(v)) for _, v in fit_part.cases]
            train_triage_head(
                clf,  # type: ignore[arg-type]
                clf.embed([complaint for complaint, _ in fit_part.cases]),  # type: ignore[union-attr]
                torch.tensor(features, dtype=torch.float32),
                fit_part.labels,
                **schedule,
            )
        else:
            train_text_classifier(clf, fit_part.texts, fit_part.labels, **schedule)  # type: ignore[arg-type]
        if calibration_part.n:
            progress(0.9, f"Calibrating on {calibration_part.n} held-back notes")
        targets = torch.tensor(
            [clf.labels.index(label) for label in calibration_part.labels], dtype=torch.long
        )
        calibration = calibrate(
            clf.logits(_triage_inputs(clf, calibration_part), batch_size=64)
            if calibration_part.n
            else torch.empty((0, len(clf.labels))),
            targets,
            groups=calibration_part.groups,
            min_cases=settings.MEDASSIST_CALIBRATION_MIN_CASES,
            seed=settings.MEDASSIST_TRAIN_SEED,
        )
        clf.temperature = calibration.temperature
        return {
            "n_train": fit_part.n,
            "n_calibration": calibration_part.n,
            "calibration": calibration.summary(),
            "label_sources": data.label_sources,
            "labels_read_at": data.labels_read_at.isoformat() if data.labels_read_at else "",
            "label_counts": {c: data.labels.count(c) for c in clf.labels},
            # Over the training and calibration notes together, so they add up to n + held.
            "n_real": data.n - data.n_synthetic,
            "n_synthetic": data.n_synthetic,
            "epochs": self.epochs(),
            "batch_size": batch_size,
            "lr": lr,
        }

    def evaluate(self, clf: TriageModel, data: TriageSet, labels: list[str]) -> Evaluation:
        """The model's calibrated probabilities over the ESI levels, and the suggestion a
        nurse would see (the model's level after combine()) for under- and over-triage."""
        from diagnosis.triage.rules import combine, esi_rules

        probabilities = clf.classify(_triage_inputs(clf, data), batch_size=64)
        model_levels = [int(max(p, key=lambda k: p[k])) for p in probabilities]
        suggested = [
            combine(rules=esi_rules(complaint=complaint, vitals=vitals), model_level=level)[0]
            for (complaint, vitals), level in zip(data.cases, model_levels, strict=True)
        ]
        references = [int(x) for x in data.labels]
        matrix = np.array([[p.get(code, 0.0) for code in labels] for p in probabilities])
        scores = Scores(
            labels=list(labels),
            probabilities=matrix.reshape(len(probabilities), len(labels)),
            targets=np.array([labels.index(x) for x in data.labels], dtype=np.int64),
            real=np.array(data.real, dtype=bool),
            under_triage=np.array(
                [s > r for r, s in zip(references, suggested, strict=True)], dtype=bool
            ),
        )
        # The suggestion's figures (after the rules) are what nurses see: they replace the
        # model-only accuracy and macro-F1; macro AUROC stays the model's own ranking.
        return Evaluation(
            scores,
            extra=triage_metrics(
                references=references, suggested=suggested, model_levels=model_levels
            ),
        )

    def save(self, clf: TriageModel, path: Path) -> str:
        if _kind_of(clf) == TRIAGE_FROZEN_ENCODER:
            from medassist.ml.triage_head import save_triage_head

            return save_triage_head(clf, path)  # type: ignore[arg-type]
        from medassist.ml.text_model import save_text_checkpoint

        return save_text_checkpoint(clf, path)  # type: ignore[arg-type]

    def version_fields(self, clf: TriageModel, data: TriageSet) -> dict[str, Any]:
        frozen = _kind_of(clf) == TRIAGE_FROZEN_ENCODER
        return {
            "labels": list(clf.labels),
            "image_size": 0,
            "preprocess_version": TRIAGE_HEAD_PREPROCESS_VERSION
            if frozen
            else TRIAGE_PREPROCESS_VERSION,
            "temperature": clf.temperature,
            "trained_through_disposition_id": data.max_disposition_id,
            "model_card": {
                "intended_use": "Suggests an ESI level from the triage note for the nurse to "
                "confirm or change; the ESI rules can only raise its acuity. It does not triage.",
                "model": "a head on the frozen all-MiniLM-L6-v2 embedding of the complaint, "
                "with the vital signs as numbers"
                if frozen
                else "all-MiniLM-L6-v2 fine-tuned on the complaint with the vital signs as text",
                "training_data": "synthetic triage notes (demo)"
                if data.synthetic
                else "doctors' ESI levels in hindsight and nurse-confirmed triage levels",
                "limitations": "Trained on synthetic notes only: says nothing about real patients."
                if data.synthetic
                else "Measured only on this site's frozen triage test set.",
            },
        }

    def test_set_size(self) -> int:
        return TriageNote.objects.filter(split=TriageNote.Split.TEST).count()

    def has_new_labels(self, *, champion: ModelVersion | None) -> bool:
        """Whether a nurse has confirmed an ESI level, or a doctor's disposition has given or
        taken back one, since the champion's training data.

        ``trained_through_review_id`` and ``trained_through_disposition_id`` hold the newest
        confirmed assessment and disposition ids the champion was trained with.
        """
        since = champion.trained_through_review_id if champion is not None else 0
        since_disposition = champion.trained_through_disposition_id if champion is not None else 0
        # A nurse confirms on an existing assessment row, so an assessment older than the
        # champion's data can carry a newer label: compare confirmation times, not ids.
        read_at = parse_datetime(
            champion.training_summary.get("labels_read_at", "") if champion is not None else ""
        )
        confirmed = TriageAssessment.objects.filter(confirmed_level__isnull=False)
        new_levels = (
            confirmed.filter(confirmed_at__gt=read_at)
            if read_at is not None
            else confirmed.filter(pk__gt=since)
        )
        if new_levels.exists():
            return True
        # A disposition is a new label when it gives a level in hindsight, or takes one
        # back (supersedes one that gave a level); "cannot judge" alone changes nothing.
        return (
            Disposition.objects.filter(pk__gt=since_disposition)
            .filter(
                Q(esi_in_hindsight__isnull=False) | Q(supersedes__esi_in_hindsight__isnull=False)
            )
            .exists()
        )


ENCOUNTER_DX_PREPROCESS_VERSION = "encounter-dx-v1"  # medassist.ml.encounter_inputs
OTHER_GROUP = "other"  # medassist.ml.encounter_inputs.OTHER, without importing it here


@dataclass
class EncounterSet:
    """Diagnosed encounters: what the model reads, and their groups as the run's labels
    name them (a group the run does not offer is "other")."""

    inputs: list[EncounterInputs]
    labels: list[str]
    codes: list[str]  # the ICD-10 codes of the final diagnoses
    groups: list[str]  # "patient-<id>": the calibration split keeps patients whole
    real: list[bool]
    max_review_id: int = 0  # the newest FinalDiagnosis id when the labels were read
    synthetic: bool = False
    n_synthetic: int = 0
    subgroups: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.inputs)

    @property
    def n_real(self) -> int:
        return self.n - self.n_synthetic

    def split(
        self, *, fraction: float, seed: int, min_held: int = 1
    ) -> tuple[EncounterSet, EncounterSet]:
        """(fit, held back) by whole patients, see :func:`_held_back`."""
        held = _held_back(self.groups, fraction=fraction, seed=seed, min_held=min_held)
        parts = {
            flag: EncounterSet([], [], [], [], [], self.max_review_id, self.synthetic)
            for flag in (0, 1)
        }
        for i, group in enumerate(self.groups):
            part = parts[group in held]
            part.inputs.append(self.inputs[i])
            part.labels.append(self.labels[i])
            part.codes.append(self.codes[i])
            part.groups.append(group)
            part.real.append(self.real[i])
        return parts[0], parts[1]


def _age_band(age: float | None) -> str:
    if age is None:
        return "unknown"
    return "0-17" if age < 18 else "18-39" if age < 40 else "40-64" if age < 65 else "65+"


class EncounterDiagnosisAdapter:
    """all-MiniLM-L6-v2 + a fusion head over diagnosis groups (ICD-10 blocks, or the
    hospital's list); labels are the doctors' final diagnoses, the test set frozen
    encounters whose patients never train."""

    not_enough_labels = (
        "Fewer than 2 diagnosis groups have enough final diagnoses and frozen test "
        "encounters (MEDASSIST_ENCOUNTER_DX_MIN_CASES, "
        "MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP); the others are pooled as "
        '"other" until they have.'
    )

    def _image_codes(self) -> list[str]:
        return list(active_findings().values_list("code", flat=True))

    def build_new(self, labels: list[str] | None = None) -> EncounterClassifier:
        import torch

        from medassist.ml.encounter_model import EncounterClassifier, build_encounter_model

        labels = labels if labels is not None else self.offered_labels(None)
        codes = self._image_codes()
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return EncounterClassifier(build_encounter_model(len(labels), len(codes)), labels, codes)

    def load_base(self, base: ModelVersion) -> EncounterClassifier:
        from medassist.ml.encounter_model import load_encounter_checkpoint

        return load_encounter_checkpoint(
            Path(settings.MEDIA_ROOT) / base.weights_key, expected_sha256=base.weights_sha256
        )

    def offered_labels(self, base: EncounterClassifier | None) -> list[str]:
        """The groups with at least ``MEDASSIST_ENCOUNTER_DX_MIN_CASES`` training encounters
        and ``MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP`` frozen test encounters (the
        base's first, in its order, so their outputs are inherited; then the others in code
        order), then "other": every other group pooled, once the pool reaches the same two
        minimums (until then those encounters wait, neither trained on nor measured)."""
        counts = encounter_group_counts()

        def enough(train: int, test: int) -> bool:
            return (
                train >= settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES
                and test >= settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP
            )

        ready = {g for g, n in counts.items() if g != OTHER_GROUP and enough(*n)}
        kept = [g for g in base.labels if g in ready] if base is not None else []
        labels = kept + sorted(ready - set(kept))
        pooled = [n for g, n in counts.items() if g not in ready]
        if enough(sum(n[0] for n in pooled), sum(n[1] for n in pooled)):
            labels.append(OTHER_GROUP)
        return labels

    def starts_afresh(self, base: EncounterClassifier | None) -> bool:
        """Whether :meth:`prepare` leaves ``base`` behind (never: it adapts a copy of it)."""
        return base is None

    def prepare(self, base: EncounterClassifier | None, labels: list[str]) -> EncounterClassifier:
        """A new model; the base itself when its groups and findings are unchanged (it is
        trained in place once it has been measured); else a copy fitted to them."""
        import torch

        from medassist.ml.encounter_model import adapt

        if base is None:
            return self.build_new(labels)
        codes = self._image_codes()
        if base.labels == labels and base.image_codes == codes:
            return base
        torch.manual_seed(settings.MEDASSIST_TRAIN_SEED)
        return adapt(base, labels, codes)

    def _encounter_set(self, finals: Any, labels: list[str]) -> EncounterSet:
        data = EncounterSet([], [], [], [], [])
        for final in finals:
            group = dx_group_of(icd10_code=final.icd10_code)
            label = group if group in labels else OTHER_GROUP
            if label not in labels:
                continue  # a group that reached no run's labels yet, and no "other" output
            encounter = final.encounter
            read = dx_inputs_of(encounter=encounter)
            synthetic = encounter.patient.is_synthetic
            data.inputs.append(read.inputs)
            data.labels.append(label)
            data.codes.append(final.icd10_code)
            data.groups.append(f"patient-{encounter.patient_id}")
            data.real.append(not synthetic)
            data.n_synthetic += synthetic
            data.synthetic = data.synthetic or synthetic
            data.subgroups.setdefault("images", []).append(
                "with images" if read.inputs.images is not None else "without images"
            )
            data.subgroups.setdefault("sex", []).append(encounter.patient.get_sex_display())
            data.subgroups.setdefault("age band", []).append(_age_band(read.inputs.age_years))
        return data

    def training_data(self, labels: list[str]) -> EncounterSet:
        """Every encounter's current final diagnosis, minus every encounter of the frozen
        test set's patients (the test set is disjoint by patient)."""
        # The watermark first: a diagnosis arriving while this reads is newer than it and
        # starts the next scheduled run.
        max_id = FinalDiagnosis.objects.aggregate(m=Max("pk"))["m"] or 0
        finals = current_final_diagnoses().exclude(
            encounter__patient_id__in=list(encounter_test_patient_ids())
        )
        data = self._encounter_set(finals, labels)
        data.max_review_id = max_id
        return data

    def test_data(self, labels: list[str]) -> EncounterSet:
        frozen = EncounterTestCase.objects.values("encounter_id")
        return self._encounter_set(
            current_final_diagnoses().filter(encounter_id__in=frozen), labels
        )

    def epochs(self) -> int:
        return settings.MEDASSIST_ENCOUNTER_DX_EPOCHS

    # Minutes of MiniLM, like triage: a run whose worker is lost starts again.
    resumable = False

    def load_file(self, path: Path) -> EncounterClassifier:
        from medassist.ml.encounter_model import load_encounter_checkpoint

        return load_encounter_checkpoint(path)

    def fingerprint(self, data: EncounterSet) -> str:
        digest = hashlib.sha256()
        for x, label in zip(data.inputs, data.labels, strict=True):
            digest.update(f"{label}:{x.fingerprint()}\n".encode())
        return digest.hexdigest()

    def train(
        self,
        clf: EncounterClassifier,
        data: EncounterSet,
        *,
        on_epoch: Callable[[int, float], None],
        progress: Callable[[float, str], None],
        on_state: Callable[[dict[str, Any]], None] | None = None,
        resume: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        import torch

        from medassist.ml.calibration import calibrate
        from medassist.ml.encounter_model import train_encounter_classifier

        batch_size = settings.MEDASSIST_ENCOUNTER_DX_BATCH_SIZE
        lr, head_lr = settings.MEDASSIST_ENCOUNTER_DX_LR, settings.MEDASSIST_ENCOUNTER_DX_HEAD_LR
        fit_part, held = data.split(
            fraction=settings.MEDASSIST_CALIBRATION_FRACTION,
            seed=settings.MEDASSIST_TRAIN_SEED,
            min_held=settings.MEDASSIST_CALIBRATION_MIN_CASES,
        )
        clf.temperature = 1.0
        train_encounter_classifier(
            clf,
            fit_part.inputs,
            fit_part.labels,
            epochs=self.epochs(),
            batch_size=batch_size,
            lr=lr,
            head_lr=head_lr,
            seed=settings.MEDASSIST_TRAIN_SEED,
            on_epoch=on_epoch,
        )
        if held.n:
            progress(0.9, f"Calibrating on {held.n} held-back encounters")
        targets = torch.tensor([clf.labels.index(x) for x in held.labels], dtype=torch.long)
        calibration = calibrate(
            clf.logits(held.inputs) if held.n else torch.empty((0, len(clf.labels))),
            targets,
            groups=held.groups,
            min_cases=settings.MEDASSIST_CALIBRATION_MIN_CASES,
            seed=settings.MEDASSIST_TRAIN_SEED,
        )
        clf.temperature = calibration.temperature
        with_images = sum(x.images is not None for x in data.inputs)
        return {
            "n_train": fit_part.n,
            "n_calibration": held.n,
            "calibration": calibration.summary(),
            "label_counts": {g: data.labels.count(g) for g in clf.labels},
            "n_real": data.n - data.n_synthetic,
            "n_synthetic": data.n_synthetic,
            "with_images": with_images,
            "without_images": data.n - with_images,
            "groups": "configured" if dx_groups_configured() else "ICD-10 blocks",
            "min_cases_per_group": settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES,
            "epochs": self.epochs(),
            "batch_size": batch_size,
            "lr": lr,
            "head_lr": head_lr,
        }

    def evaluate(
        self, clf: EncounterClassifier, data: EncounterSet, labels: list[str]
    ) -> Evaluation:
        """Calibrated probabilities over ``labels``; top-3 recall overall, with and without
        images, beside the figures every task has."""
        from medassist.ml.gate_stats import bootstrap_interval, top3_recall

        probabilities = (
            clf.probabilities(data.inputs).numpy()
            if data.n
            else np.zeros((0, len(clf.labels)), dtype=np.float64)
        )
        scores = Scores(
            labels=list(labels),
            probabilities=align(probabilities, clf.labels, labels),
            targets=np.array([labels.index(x) for x in data.labels], dtype=np.int64),
            real=np.array(data.real, dtype=bool),
        )
        extra: dict[str, Any] = {}
        if scores.n:
            extra["top3_recall"] = top3_recall(scores.probabilities, scores.targets)
            extra["top3_recall_ci"] = bootstrap_interval(
                top3_recall,
                scores.probabilities,
                scores.targets,
                resamples=settings.MEDASSIST_GATE_RESAMPLES,
                seed=settings.MEDASSIST_TRAIN_SEED,
            )
            has = np.array([x.images is not None for x in data.inputs], dtype=bool)
            for name, rows in (("with_images", has), ("without_images", ~has)):
                extra[f"top3_recall_{name}"] = (
                    top3_recall(scores.probabilities[rows], scores.targets[rows])
                    if rows.any()
                    else None
                )
                extra[f"n_{name}"] = int(rows.sum())
        return Evaluation(scores, extra=extra, groups=dict(data.subgroups))

    def save(self, clf: EncounterClassifier, path: Path) -> str:
        from medassist.ml.encounter_model import save_encounter_checkpoint

        return save_encounter_checkpoint(clf, path)

    def version_fields(self, clf: EncounterClassifier, data: EncounterSet) -> dict[str, Any]:
        configured = [g.label for g in dx_groups_configured()]
        return {
            "labels": list(clf.labels),
            "image_size": 0,
            "preprocess_version": ENCOUNTER_DX_PREPROCESS_VERSION,
            "temperature": clf.temperature,
            "model_card": {
                "intended_use": "Decision support: ranks likely diagnosis groups of an "
                "encounter for the doctor, who decides the final diagnosis. It does not "
                "diagnose.",
                "inputs": "complaint, vital signs at intake, age and sex, the patient's earlier "
                "final diagnoses (never the encounter's own), and the calibrated image findings "
                "of the encounter's studies when there are any",
                "groups": ", ".join(configured) if configured else "WHO ICD-10 blocks",
                "pooled_as_other": "groups with fewer than "
                f"{settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES} training encounters or "
                f"{settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP} frozen test "
                "encounters",
                "image_findings": list(clf.image_codes),
                "training_data": "synthetic encounters (demo)"
                if data.synthetic and not data.n_real
                else "doctors' ICD-10 final diagnoses",
                "limitations": "Trained on synthetic encounters only: says nothing about real "
                "patients."
                if data.synthetic and not data.n_real
                else "Measured only on this site's frozen, patient-disjoint test encounters.",
            },
        }

    def test_set_size(self) -> int:
        return EncounterTestCase.objects.count()

    def has_new_labels(self, *, champion: ModelVersion | None) -> bool:
        """Whether a doctor has recorded (or superseded) a final diagnosis since the
        champion's training data (``trained_through_review_id`` holds the newest
        FinalDiagnosis id it was trained with)."""
        since = champion.trained_through_review_id if champion is not None else 0
        return FinalDiagnosis.objects.filter(pk__gt=since).exists()


ADAPTERS: dict[str, TaskAdapter] = {
    Task.IMAGE: ImageAdapter(),
    Task.TRIAGE: TriageAdapter(),
    Task.ENCOUNTER_DX: EncounterDiagnosisAdapter(),
}


def adapter_for(task: str) -> TaskAdapter:
    """The adapter of ``task``; raises ValueError for a task without a training pipeline."""
    try:
        return ADAPTERS[task]
    except KeyError:
        raise ValueError(f"No training pipeline for task {task!r}.") from None
