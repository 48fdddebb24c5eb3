"""Reads of the fine-tuning app."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet, Value

from diagnosis.encounters.selectors import (
    current_diagnosis_count_rows,
    current_final_diagnoses,
    dx_group_of,
)
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.selectors import (
    NO_LABELS,
    active_findings,
    finding_label_counts,
    label_counts_of,
)
from diagnosis.review.models import ReadingState, Review
from medassist.models import AuditEvent, Patient

from .models import EncounterTestCase, TestSetCase, TrainingRun

# Age bands of the test set's composition, in years at the study date (upper bound inclusive).
AGE_BANDS: tuple[tuple[str, int], ...] = (("0-17", 17), ("18-39", 39), ("40-64", 64))
AGE_OLDEST = "65+"
AGE_UNKNOWN = "unknown"


def training_runs(*, limit: int = 20) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("candidate", "base_version", "started_by").order_by(
        "-created_at"
    )[:limit]


@dataclass(frozen=True)
class FindingReadiness:
    """Whether an offered finding has the cases to be learnt and measured.

    ``labelled`` counts its current labels outside the test set's patients (what training
    would read); ``test_cases`` its frozen test cases. A finding the champion does not know
    yet joins the model only once both reach their minimum
    (``MEDASSIST_FINDING_MIN_LABELS``, ``MEDASSIST_GATE_MIN_CASES_PER_FINDING``).
    """

    code: str
    name: str
    labelled: int
    labels_needed: int
    test_cases: int
    test_cases_needed: int

    @property
    def ready(self) -> bool:
        return self.labelled >= self.labels_needed and self.test_cases >= self.test_cases_needed

    @property
    def status(self) -> str:
        """ "ready", or what is still missing, as the findings page says it."""
        if self.ready:
            return "ready"
        missing = []
        if self.labelled < self.labels_needed:
            missing.append(f"collecting labels: {self.labelled} of {self.labels_needed}")
        if self.test_cases < self.test_cases_needed:
            missing.append(f"test cases: {self.test_cases} of {self.test_cases_needed}")
        return "; ".join(missing)


def finding_readiness(*, codes: Collection[str] | None = None) -> list[FindingReadiness]:
    """:class:`FindingReadiness` of every offered finding (or of those of ``codes``), in
    vocabulary order; at most 5 queries, whatever the number of labels.

    The labels outside the test set's patients are every label (the count the database keeps
    per finding) less those of the test set's patients, which are counted live: a set that
    grows with the test set, not with the reviews. The patients are read first and matched
    by value, so that the count starts from their studies (indexes all the way) rather than
    from every reading state.
    """
    findings = list(
        active_findings() if codes is None else active_findings().filter(code__in=codes)
    )
    if not findings:
        return []
    patients = list(test_set_patient_ids())
    of_test_patients = (
        label_counts_of(
            ReadingState.objects.filter(instance__series__study__patient_id__in=patients)
        )
        if patients
        else {}
    )
    labelled = finding_label_counts()
    frozen = dict(
        TestSetCase.objects.filter(task=Task.IMAGE)
        .values_list("finding_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [
        FindingReadiness(
            code=f.code,
            name=f.name,
            labelled=(
                labelled.get(f.pk, NO_LABELS) - of_test_patients.get(f.pk, NO_LABELS)
            ).labelled,
            labels_needed=settings.MEDASSIST_FINDING_MIN_LABELS,
            test_cases=frozen.get(f.pk, 0),
            test_cases_needed=settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING,
        )
        for f in findings
    ]


def age_band(*, birth_date: dt.date | None, study_date: dt.date | None) -> str:
    """The age band at the study date; "unknown" without both dates or before birth."""
    if birth_date is None or study_date is None or study_date < birth_date:
        return AGE_UNKNOWN
    years = study_date.year - birth_date.year
    if (study_date.month, study_date.day) < (birth_date.month, birth_date.day):
        years -= 1
    for name, upper in AGE_BANDS:
        if years <= upper:
            return name
    return AGE_OLDEST


@dataclass(frozen=True)
class Candidate:
    """A labelled image that could be frozen: ids and the facts the sampling reads."""

    instance_id: int
    finding_id: int
    finding_code: str
    patient_id: int
    synthetic: bool


def test_set_candidates(*, task: str = Task.IMAGE) -> list[Candidate]:
    """Every instance with a current label of an active finding that is not frozen yet.

    The label is :func:`diagnosis.review.selectors.current_label_reviews` (the single read, the
    agreed second read or the adjudication); its first finding is the one frozen, as training
    reads it. An image is synthetic when its study or its patient is marked so by the ingest.
    One query, read from the reading states (each names its label), one row per labelled
    image: this reads every label, so it is for the growth step, not for a page.
    """
    if task != Task.IMAGE:
        raise ValueError(f"No labelled-case test set for task {task!r}.")
    frozen = TestSetCase.objects.values("instance_id")
    rows = (
        ReadingState.objects.filter(
            status=ReadingState.Status.REVIEWED,
            label__isnull=False,
            label__finding__is_active=True,
        )
        .exclude(label__action=Review.Action.REJECT)
        .exclude(instance__in=frozen)
        .values_list(
            "instance_id",
            "label__finding_id",
            "label__finding__code",
            "instance__series__study__patient_id",
            "instance__series__study__is_synthetic",
            "instance__series__study__patient__is_synthetic",
        )
        .order_by("instance_id")
    )
    return [
        Candidate(instance, finding, code, patient, study_synthetic or patient_synthetic)
        for instance, finding, code, patient, study_synthetic, patient_synthetic in rows
    ]


def test_set_patient_ids() -> set[int]:
    """The patients of the frozen image test set: they never reach training (see
    :func:`finetune.adapters.training_set`)."""
    return set(TestSetCase.objects.values_list("instance__series__study__patient_id", flat=True))


@dataclass
class FindingComposition:
    code: str
    name: str
    cases: int = 0
    real: int = 0
    synthetic: int = 0
    patients: int = 0
    # Labelled cases not frozen yet, of which real: what a growth step could still freeze.
    eligible: int = 0
    eligible_real: int = 0


@dataclass
class Composition:
    """What the frozen test set of a task holds; counts only, no patient identifiers."""

    total: int = 0
    real: int = 0
    synthetic: int = 0
    patients: int = 0
    findings: list[FindingComposition] = field(default_factory=list)
    # (modality, body part) -> cases; (sex label, age band) -> cases. Sorted for display.
    by_modality: list[tuple[str, str, int]] = field(default_factory=list)
    by_sex_age: list[tuple[str, str, int]] = field(default_factory=list)
    batches: list[dict[str, Any]] = field(default_factory=list)


def test_set_composition(*, task: str = Task.IMAGE) -> Composition:
    """Per finding (cases, real vs synthetic, patients, still eligible), per modality and body
    part, per sex and age band (at the study date), and the growth steps so far.

    Reads the frozen cases themselves (the test set grows by growth steps, not with the
    reviews); the cases still eligible are every label of the finding (the count the database
    keeps) less the labels of images already frozen, so no query reads every label.
    """
    rows = list(
        TestSetCase.objects.filter(task=task)
        .values_list(
            "finding_id",
            "instance__series__study__patient_id",
            "instance__series__study__is_synthetic",
            "instance__series__study__patient__is_synthetic",
            "instance__series__modality",
            "instance__series__body_part",
            "instance__series__study__patient__sex",
            "instance__series__study__patient__birth_date",
            "instance__series__study__study_date",
        )
        .order_by("pk")
    )
    active = list(active_findings())
    findings = {f.pk: FindingComposition(code=f.code, name=f.name) for f in active}
    # A finding retired from the vocabulary still counts, marked as retired (listed after the
    # offered ones, in the order the test set first froze it).
    retired = Finding.objects.in_bulk({row[0] for row in rows} - set(findings))
    for finding_id in dict.fromkeys(row[0] for row in rows if row[0] in retired):
        f = retired[finding_id]
        findings[f.pk] = FindingComposition(code=f.code, name=f"{f.name} (retired)")
    patients_of: dict[int, set[int]] = defaultdict(set)
    modality: Counter[tuple[str, str]] = Counter()
    sex_age: Counter[tuple[str, str]] = Counter()
    sex_names = dict(Patient.Sex.choices)
    comp = Composition(total=len(rows))
    for finding_id, patient, s_syn, p_syn, mod, body, sex, birth, study_date in rows:
        row = findings[finding_id]
        synthetic = s_syn or p_syn
        row.cases += 1
        row.synthetic += synthetic
        row.real += not synthetic
        comp.synthetic += synthetic
        comp.real += not synthetic
        patients_of[finding_id].add(patient)
        modality[(mod.upper() or "unknown", body.upper() or "unknown")] += 1
        sex_age[(sex_names.get(sex, sex), age_band(birth_date=birth, study_date=study_date))] += 1
    for finding_id, patients in patients_of.items():
        findings[finding_id].patients = len(patients)
    comp.patients = len({p for patients in patients_of.values() for p in patients})
    if task == Task.IMAGE:
        labelled = finding_label_counts()
        frozen = label_counts_of(
            ReadingState.objects.filter(instance__in=TestSetCase.objects.values("instance_id"))
        )
        for f in active:
            eligible = labelled.get(f.pk, NO_LABELS) - frozen.get(f.pk, NO_LABELS)
            findings[f.pk].eligible = eligible.labelled
            findings[f.pk].eligible_real = eligible.real
    comp.findings = list(findings.values())
    comp.by_modality = [(m, b, n) for (m, b), n in sorted(modality.items())]
    band_order = [name for name, _ in AGE_BANDS] + [AGE_OLDEST, AGE_UNKNOWN]
    comp.by_sex_age = [
        (sex, band, n)
        for (sex, band), n in sorted(
            sex_age.items(), key=lambda i: (i[0][0], band_order.index(i[0][1]))
        )
    ]
    comp.batches = list(
        TestSetCase.objects.filter(task=task, batch__isnull=False)
        .values("batch", "frozen_by__username")
        .annotate(cases=Count("pk"), frozen_at=Min("frozen_at"))
        .order_by("-frozen_at")
    )
    return comp


# --- One model version: its page and its model card ----------------------------------------


@dataclass(frozen=True)
class DataOrigin:
    """How much of a version's training data was real, as far as its summary records it.

    ``kind`` is "real", "synthetic" or "mixed" from the recorded counts, or "unrecorded" for
    a version trained before the counts were kept: then only ``flag`` (the version's
    ``trained_on_synthetic_data``, which may have come from its parent) is known.
    """

    kind: str
    n_real: int | None
    n_synthetic: int | None
    flag: bool


@dataclass(frozen=True)
class VersionPage:
    """What the version page shows; see :func:`model_version_page`."""

    version: ModelVersion
    ancestors: list[ModelVersion]  # parent first, then its parent, up to the first version
    children: list[ModelVersion]
    champion: ModelVersion | None  # of the same task
    origin: DataOrigin
    per_class: list[dict[str, Any]]  # {"label", "precision", "recall", "f1", "support"}
    confusion: list[dict[str, Any]]  # {"label", "counts"}, rows in the order of its labels
    confusion_labels: list[str]
    summary_extra: dict[str, Any]  # the training summary's keys the page has no row for
    # What calibration measured (medassist.ml.calibration.Calibration.summary()), or {} for a
    # version trained before it was measured; its reliability bins before and after, side by
    # side: {"range", "n", "before": (confidence, accuracy) | None, "after": ... | None}.
    calibration: dict[str, Any]
    reliability: list[dict[str, Any]]
    card_rows: list[tuple[str, str]]  # the model card's keys, each value as one line of text
    events: list[AuditEvent]


# Training summary keys the version page shows in rows of their own.
SUMMARY_SHOWN = frozenset(
    {
        "n_train",
        "n_calibration",
        "n_real",
        "n_synthetic",
        "label_counts",
        "label_sources",
        "run",
        "calibration",
        "loss_per_epoch",
        "study_dates",
    }
)


def model_card_rows(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The model card's keys in words ("intended_use" -> "Intended use") with their values;
    lists are joined, and an empty value is "not stated"."""
    rows = []
    for key, value in card.items():
        if isinstance(value, list | tuple):
            text = ", ".join(str(item) for item in value)
        elif isinstance(value, dict):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            text = "" if value is None else str(value)
        rows.append((str(key).replace("_", " ").capitalize(), text or "not stated"))
    return rows


def data_origin(version: ModelVersion) -> DataOrigin:
    """Real vs synthetic training cases from the version's own summary, never its parent's."""
    summary = version.training_summary or {}
    if "n_real" not in summary and "n_synthetic" not in summary:
        return DataOrigin("unrecorded", None, None, version.trained_on_synthetic_data)
    real, synthetic = int(summary.get("n_real") or 0), int(summary.get("n_synthetic") or 0)
    kind = "mixed" if real and synthetic else "synthetic" if synthetic else "real"
    return DataOrigin(kind, real, synthetic, version.trained_on_synthetic_data)


def model_version_audit_events(version: ModelVersion) -> QuerySet[AuditEvent]:
    """Who promoted or rolled back ``version``, and when, oldest first."""
    return (
        AuditEvent.objects.filter(object_type=ModelVersion._meta.label, object_id=str(version.pk))
        .select_related("actor")
        .order_by("at", "pk")
    )


def model_version_page(*, version_id: int) -> VersionPage:
    """Everything the version page shows; raises ModelVersion.DoesNotExist for no such id."""
    version = ModelVersion.objects.select_related("parent").get(pk=version_id)
    ancestors: list[ModelVersion] = []
    seen = {version.pk}
    parent = version.parent
    while parent is not None and parent.pk not in seen:  # guards against a corrupt cycle
        ancestors.append(parent)
        seen.add(parent.pk)
        parent = (
            ModelVersion.objects.filter(pk=parent.parent_id).first() if parent.parent_id else None
        )
    metrics = version.metrics or {}
    labels = [str(label) for label in metrics.get("labels") or []]
    figures_of = metrics.get("per_class") or {}
    # In the model's output order: PostgreSQL's jsonb keeps object keys in its own order.
    order = [label for label in labels if label in figures_of] + sorted(
        set(figures_of) - set(labels)
    )
    per_class = [
        {"label": label, **figures_of[label]}
        for label in order
        if isinstance(figures_of[label], dict)
    ]
    matrix = metrics.get("confusion") or []
    confusion = (
        [{"label": label, "counts": row} for label, row in zip(labels, matrix, strict=True)]
        if len(labels) == len(matrix)
        else []
    )
    summary = version.training_summary or {}
    return VersionPage(
        version=version,
        ancestors=ancestors,
        children=list(ModelVersion.objects.filter(parent=version).order_by("version")),
        champion=ModelVersion.objects.filter(
            task=version.task, status=ModelVersion.Status.CHAMPION
        ).first(),
        origin=data_origin(version),
        per_class=per_class,
        confusion=confusion,
        confusion_labels=labels if confusion else [],
        summary_extra={k: v for k, v in summary.items() if k not in SUMMARY_SHOWN},
        calibration=summary.get("calibration") or {},
        reliability=_reliability_rows(summary.get("calibration") or {}),
        card_rows=model_card_rows(version.model_card or {}),
        events=list(model_version_audit_events(version)),
    )


def _reliability_rows(calibration: dict[str, Any]) -> list[dict[str, Any]]:
    """The reliability diagram as a table: per confidence bin, before and after scaling."""
    rows: dict[tuple[float, float], dict[str, Any]] = {}
    for side in ("before", "after"):
        for b in calibration.get(f"reliability_{side}") or []:
            key = (float(b["lower"]), float(b["upper"]))
            row = rows.setdefault(key, {"range": key, "before": None, "after": None})
            row[side] = {"n": b["n"], "confidence": b["confidence"], "accuracy": b["accuracy"]}
    return [rows[key] for key in sorted(rows)]


def model_card_document(*, version_id: int) -> dict[str, Any]:
    """The model card of a version as a self-contained document (the JSON download and the
    printable page). Raises ModelVersion.DoesNotExist for no such id."""
    version = ModelVersion.objects.select_related("parent").get(pk=version_id)
    origin = data_origin(version)
    promotions = [
        {
            "at": event.at.isoformat(),
            "by": event.actor.get_username() if event.actor else None,
            "reason": event.detail.get("reason", ""),
        }
        for event in model_version_audit_events(version).filter(action="model.promote")
    ]
    return {
        "model": f"{version.get_task_display()} v{version.version}",
        "task": version.task,
        "version": version.version,
        "status": version.status,
        "parent_version": version.parent.version if version.parent else None,
        "created_at": version.created_at.isoformat(),
        "weights_sha256": version.weights_sha256,
        "labels": version.labels,
        "preprocess_version": version.preprocess_version,
        "temperature": version.temperature,
        "model_card": version.model_card,
        "training_data": {
            "n_train": (version.training_summary or {}).get("n_train"),
            "n_real": origin.n_real,
            "n_synthetic": origin.n_synthetic,
            "origin": origin.kind,
            "trained_on_synthetic_data_flag": origin.flag,
        },
        "metrics_on_frozen_test_set": version.metrics,
        "promotions": promotions,
    }


@dataclass(frozen=True)
class EncounterComposition:
    """The encounter diagnosis test set: counts only, no patient identifiers."""

    total: int
    patients: int
    real: int
    synthetic: int
    groups: list[tuple[str, int, int]]  # (group, training encounters, test encounters)


def encounter_test_set_composition() -> EncounterComposition:
    """What the frozen encounter test set holds, and per diagnosis group how many diagnosed
    encounters training would read beside its frozen ones."""
    rows = list(
        EncounterTestCase.objects.values_list(
            "encounter__patient_id", "encounter__patient__is_synthetic"
        )
    )
    synthetic = sum(flag for _, flag in rows)
    counts = encounter_group_counts()
    return EncounterComposition(
        total=len(rows),
        patients=len({p for p, _ in rows}),
        real=len(rows) - synthetic,
        synthetic=synthetic,
        groups=[(g, train, test) for g, (train, test) in counts.items()],
    )


def encounter_test_patient_ids() -> set[int]:
    """The patients of the frozen encounter test set: none of their encounters trains."""
    return set(EncounterTestCase.objects.values_list("encounter__patient_id", flat=True))


def encounter_group_counts() -> dict[str, tuple[int, int]]:
    """Per diagnosis group (see :func:`diagnosis.encounters.selectors.dx_group_of`), sorted
    by group: its diagnosed encounters that training would read, and its frozen test
    encounters. A group is listed when some encounter's current final diagnosis is in it.

    Training reads every current final diagnosis except those of the test set's patients
    (:func:`encounter_test_patient_ids`), and every frozen encounter is one of theirs; so
    both figures come from the counts per code the database keeps
    (:func:`diagnosis.encounters.selectors.current_diagnosis_count_rows`) and the test
    patients' own current diagnoses, counted per code. One query (a union, so both parts
    read the same snapshot) whose cost grows with the codes and the test patients, not
    with the diagnoses.
    """
    test_patients = EncounterTestCase.objects.values("encounter__patient_id")
    frozen = EncounterTestCase.objects.values("encounter_id")
    every = current_diagnosis_count_rows().annotate(test=Value(0))
    theirs = (
        current_final_diagnoses()
        .filter(encounter__patient_id__in=test_patients)
        .order_by()
        .values("icd10_code")
        .annotate(
            n=Value(0) - Count("pk"),
            test=Count("pk", filter=Q(encounter_id__in=frozen)),
        )
    )
    counts: dict[str, list[int]] = {}
    for code, train, test in every.values_list("icd10_code", "n", "test").union(
        theirs.values_list("icd10_code", "n", "test"), all=True
    ):
        row = counts.setdefault(dx_group_of(icd10_code=code), [0, 0])
        row[0] += train
        row[1] += test
    return {group: (train, test) for group, (train, test) in sorted(counts.items())}
