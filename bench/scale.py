"""A year of a large hospital's data: how the pages hold up at 10^4, 10^5 and 10^6 studies.

Creates a scratch PostgreSQL database (``medassist_bench_scale`` on the server of
``DATABASE_URL``, default 127.0.0.1:5432), migrates it, and grows it to each size in turn with
SYNTHETIC rows written by ``COPY`` (no image files: storage keys name files that do not
exist). Per study: 1-4 series, 1-50 instances (mean ~12), one AI suggestion and one finished
inference request per instance, 0.7 reviews, 0.5 emergency encounters with a triage
assessment (most older ones with a disposition and a final diagnosis), 10 audit events, and
one patient per 3 studies. The sizes are one large hospital's history at a fixed pace
(``--studies-per-year``, 10^6 by default): 10^4 studies are its last 3.7 days, 10^5 its last
five weeks, 10^6 its year, each size growing the one before further back in time, so the
department now (the triage board, the last day's studies) is the same at every size and only
the history grows. The rows the services derive are written as the services would
leave them: each study's urgency (``StudyUrgency``), each reviewed image's reading state and
label (``ReadingState``), the review findings, and the audit hash chain (``AuditChainLink``).
The summaries PostgreSQL keeps itself (label counts per finding, the statistics page's weekly
figures) are kept by its triggers as the rows are copied in, as they are for any write.
Triage assessments are copies of ones the real intake services computed on a pool of
synthetic notes. After each fill: ``VACUUM ANALYZE``, then a frozen test set (the real
``test_set_grow``) once.

Then, in-process through Django's test client as a signed-in user of the right role, it
times every page a busy department leans on (worklist with each filter, first and deep
page; a case; statistics; the triage board; the audit log, its filters and its CSV export;
QIDO-RS searches; the ML admin's pages) and the training-set and test-set reads of a training
run. It prints p50/p95 ms and queries per request for each size, the growth between sizes,
and ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest queries seen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/scale.py \\
        [--sizes 10000,100000,1000000] [--requests 15] [--budget-s 20] [--reuse] [--drop]

The fill is importable (:func:`fill`), so tests can grow a test database the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "medassist_bench_scale"
YEAR_S = 365 * 24 * 3600.0
# A large hospital's pace: 10^6 studies are its year, 10^5 about five weeks, 10^4 3.7 days.
STUDIES_PER_YEAR = 1_000_000
UTC = dt.UTC
# Marks the bench's rows wherever a text field allows.
SYNTHETIC = "SYNTHETIC bench data"
UID_ROOT = "1.2.826.0.1.3680043.10.1999"  # studies .1.n, series .2.n, instances .3.n

# Goals set by the issue.
GOAL_P95_MS = 150.0
GOAL_GROWTH = 1.5
GOAL_EXPORT_ROWS_S = 20_000
GOAL_TRAINING_S = 10.0
# Growth of a page answering in less than this is not judged: it is jitter.
NOISE_MS = 50.0
TRAINING_SET = "image: training set"
EXPORT_ALL = "CSV export, everything"


# --- Writing rows with COPY ------------------------------------------------------------


def _copy_escape(text: str) -> str:
    """A value as PostgreSQL's COPY text format wants it (backslash, tab, newlines escaped)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _render(model_field: Any, value: Any) -> str:
    """One value of ``model_field`` in COPY text format."""
    from django.db.models import JSONField

    if value is None:
        return "\\N"
    if isinstance(model_field, JSONField):
        return _copy_escape(json.dumps(value, cls=model_field.encoder))
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return _copy_escape(str(value))


class Table:
    """How the bench writes one model's table with COPY.

    ``explicit`` names the attnames the generator supplies, already rendered, in order.
    With ``templated``, every other column comes from a pre-rendered template segment (see
    :meth:`segment`); otherwise from its model default, rendered once. A field the bench
    cannot fill that way (NOT NULL, no default: a column added since this was written)
    stops the fill with its name instead of failing half-way through a COPY.
    """

    def __init__(self, model: Any, explicit: str, *, templated: bool = False) -> None:
        from django.db.models import NOT_PROVIDED

        self.model = model
        self.explicit = explicit.split()
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [a for a in self.explicit if a not in by_attname]
        if unknown:
            raise RuntimeError(f"{model._meta.label} has no fields {unknown}")
        rest = [
            f
            for f in model._meta.concrete_fields
            if f.attname not in self.explicit and f.db_default is NOT_PROVIDED
        ]
        self.rest_fields = rest
        self.suffix = ""
        if not templated:
            values = []
            for f in rest:
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                    values.append(dt.datetime.now(UTC).isoformat())
                    continue
                if not f.has_default() and not f.null and not f.empty_strings_allowed:
                    raise RuntimeError(
                        f"bench/scale.py does not know how to fill {model._meta.label}."
                        f"{f.name} (NOT NULL, no default): add it to the generator."
                    )
                values.append(_render(f, f.get_default()))
            self.suffix = "".join("\t" + v for v in values)
        columns = [by_attname[a].column for a in self.explicit] + [f.column for f in rest]
        self.sql = "COPY {} ({}) FROM STDIN".format(
            _quote(model._meta.db_table), ", ".join(_quote(c) for c in columns)
        )

    def segment(self, obj: Any) -> str:
        """The template columns of ``obj`` (a saved instance of the model), rendered once."""
        return "".join("\t" + _render(f, getattr(obj, f.attname)) for f in self.rest_fields)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy(cursor: Any, table: Table, lines: list[str]) -> None:
    """Send ``lines`` (each ending in a newline) to ``table`` with one COPY."""
    if not lines:
        return
    with cursor.copy(table.sql) as copy:
        for start in range(0, len(lines), 5000):
            copy.write("".join(lines[start : start + 5000]))


# --- What the fill writes ---------------------------------------------------------------

COMPLAINTS = [
    "chest pain radiating to the left arm",
    "shortness of breath since this morning",
    "fall from standing height, wrist pain",
    "fever and cough for three days",
    "abdominal pain in the right lower quadrant",
    "sudden severe headache",
    "laceration to the forearm",
    "sore throat and difficulty swallowing",
    "confusion and slurred speech",
    "ankle injury playing football",
    "vomiting and diarrhoea since yesterday",
    "back pain after lifting",
    "palpitations and dizziness",
    "rash on both legs",
    "burning on urination",
    "red painful eye",
]
ICD10_CODES = ["R07.4", "J18.9", "S52.50", "J06.9", "K35.8", "R51", "S61.9", "N39.0", "R55"]
FINDING_WEIGHTS = {"normal": 60, "opacity": 25, "nodule": 15}
# Radiographs are the one- and two-image studies; the rest are cross-sectional.
SOP_CLASS = {
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
}
MATRIX = {
    "CR": (2500, 2048),
    "DX": (3000, 2500),
    "CT": (512, 512),
    "MR": (256, 256),
    "US": (600, 800),
}
BODY_PARTS = ["CHEST", "CHEST", "CHEST", "ABDOMEN", "HEAD", "SPINE", "KNEE", "HAND"]
OUTCOMES = [
    ("discharged", 60),
    ("admitted_ward", 25),
    ("critical_care", 4),
    ("theatre", 3),
    ("transferred", 3),
    ("died", 1),
    ("left", 4),
]
DOCTORS, NURSES = 24, 12
CODE_VERSION = "bench-synthetic"
DEVICE = "cpu (synthetic bench data)"


@dataclass
class TriageTemplate:
    """An intake (and maybe a retake) as the real services stored it, rendered for COPY."""

    encounter: str
    vitals: str
    assessment: str
    suggested: int
    rules_floor: int | None
    rules_level: int | None
    retake_vitals: str
    retake_assessment: str
    retake_suggested: int


@dataclass
class Context:
    """What every chunk needs: users, the champion, findings, templates, tables."""

    anchor: float  # epoch seconds: the moment the newest data leads up to
    # The hospital's pace: the studies fill history back from the anchor at this rate, so a
    # larger size is a longer history of the same hospital, not a busier one.
    seconds_per_study: float
    seed: int
    doctors: list[int]
    nurses: list[int]
    version_id: int
    weights_sha256: str
    preprocess_version: str
    labels: list[str]
    findings: dict[str, int]  # code -> id
    scope_reason: dict[tuple[str, str], str]  # (modality, body part) -> out-of-scope reason
    attention_margin: float
    templates: list[TriageTemplate]
    icd10: list[tuple[str, str]]
    icd10_edition: str
    tables: dict[str, Table]
    remote_addrs: list[str]


def _users(prefix: str, role: str, n: int) -> list[int]:
    from django.contrib.auth.models import Group, User

    group = Group.objects.get(name=role)
    ids = []
    for i in range(1, n + 1):
        user, created = User.objects.get_or_create(
            username=f"{prefix}-{i:02d}",
            defaults={"first_name": "Synthetic", "last_name": f"{role.title()} {i:02d}"},
        )
        if created:
            user.set_unusable_password()
            user.save()
            user.groups.add(group)
        ids.append(user.pk)
    return ids


def _image_champion() -> Any:
    from django.utils import timezone

    from diagnosis.registry.models import Finding, ModelVersion, Task

    version = ModelVersion.objects.filter(
        task=Task.IMAGE, status=ModelVersion.Status.CHAMPION
    ).first()
    if version is not None:
        return version
    last = ModelVersion.objects.filter(task=Task.IMAGE).order_by("-version").first()
    return ModelVersion.objects.create(
        task=Task.IMAGE,
        version=(last.version + 1) if last else 1,
        status=ModelVersion.Status.CHAMPION,
        weights_key="bench/synthetic-weights-not-on-disk.pt",
        weights_sha256=hashlib.sha256(b"bench synthetic weights").hexdigest(),
        labels=list(Finding.objects.order_by("sort_order").values_list("code", flat=True)),
        image_size=224,
        preprocess_version="bench",
        # Radiographs and CT of the chest and abdomen are in scope: MR and US images, and
        # other body parts, get "out of scope" suggestions that need attention.
        model_card={
            "intended_use": SYNTHETIC,
            "modalities": ["CR", "CT", "DX"],
            "body_parts": ["ABDOMEN", "CHEST"],
            "scope_min_cases": 20,
        },
        trained_on_synthetic_data=True,
        promoted_at=timezone.now() - dt.timedelta(days=400),
    )


def _triage_templates(
    nurse_id: int, n: int, seed: int, tables: dict[str, Table]
) -> list[TriageTemplate]:
    """``n`` synthetic intakes run through the real services, rolled back, kept rendered.

    The services run as a deployment whose web processes do not load the triage model:
    the rules alone suggest the level (what a site without a triage champion stores).
    """
    from django.contrib.auth.models import User
    from django.db import transaction
    from django.test.utils import override_settings

    from diagnosis.encounters.services import encounter_open
    from diagnosis.triage.services import triage_assess, vitals_retake
    from medassist.models import Patient

    rng = random.Random(seed)
    nurse = User.objects.get(pk=nurse_id)

    def vitals(sick: bool) -> dict[str, Any]:
        absent_bp = rng.random() < 0.03
        systolic = None if absent_bp else rng.randint(75, 110) if sick else rng.randint(105, 165)
        return {
            "heart_rate": rng.randint(105, 150) if sick else rng.randint(55, 100),
            "respiratory_rate": rng.randint(22, 34) if sick else rng.randint(12, 20),
            "spo2": rng.randint(86, 93) if sick else rng.randint(95, 100),
            "systolic_bp": systolic,
            "diastolic_bp": None if systolic is None else max(30, systolic - rng.randint(30, 60)),
            "bp_unobtainable": absent_bp,
            "temperature_c": Decimal(f"{rng.uniform(35.8, 40.2) if sick else 36.6:.1f}"),
            "pain": rng.randint(0, 10),
            "mental_status": "V" if sick and rng.random() < 0.3 else "A",
        }

    templates = []
    with override_settings(MEDASSIST_WEB_SERVES_TRIAGE_MODEL=False), transaction.atomic():
        point = transaction.savepoint()
        patient = Patient.objects.create(
            mrn=f"SYN-TEMPLATE-{seed}", name=SYNTHETIC, is_synthetic=True
        )
        for i in range(n):
            sick = rng.random() < 0.3
            encounter, _ = encounter_open(
                patient=patient,
                opened_by=nurse,
                chief_complaint=f"{COMPLAINTS[i % len(COMPLAINTS)]} ({SYNTHETIC})",
                arrival_mode=rng.choice(["walk_in", "walk_in", "ambulance", "transfer"]),
                age_years=Decimal(rng.randint(1, 95)),
                **vitals(sick),
            )
            first = triage_assess(encounter=encounter, actor=nurse)
            retake = vitals_retake(
                encounter=encounter,
                actor=nurse,
                temperature_unit="C",
                gcs=None,
                **vitals(sick and rng.random() < 0.6),
            )
            templates.append(
                TriageTemplate(
                    encounter=tables["encounter"].segment(encounter),
                    vitals=tables["vitals"].segment(first.vitals),
                    assessment=tables["triage"].segment(first),
                    suggested=first.suggested_level,
                    rules_floor=first.rules_floor,
                    rules_level=first.rules_level,
                    retake_vitals=tables["vitals"].segment(retake.vitals),
                    retake_assessment=tables["triage"].segment(retake),
                    retake_suggested=retake.suggested_level,
                )
            )
        transaction.savepoint_rollback(point)
    return templates


def _tables() -> dict[str, Table]:
    from diagnosis.encounters.models import Disposition, Encounter, FinalDiagnosis, VitalSigns
    from diagnosis.inference.models import InferenceRequest, Suggestion
    from diagnosis.review.models import ReadingState, Review, StudyUrgency
    from diagnosis.triage.models import TriageAssessment
    from imaging.models import Instance, Series, Study
    from medassist.models import AuditChainLink, AuditEvent, Patient

    return {
        "patient": Table(Patient, "id mrn name birth_date sex is_synthetic created_at"),
        "study": Table(
            Study,
            "id patient_id study_instance_uid study_date description accession_number "
            "is_synthetic created_at",
        ),
        "series": Table(
            Series, "id study_id series_instance_uid modality description body_part created_at"
        ),
        "instance": Table(
            Instance,
            "id series_id sop_instance_uid sop_class_uid instance_number rows columns frames "
            "storage_key sha256 dataset_sha256 size_bytes source uploaded_by_id created_at",
        ),
        "request": Table(
            InferenceRequest,
            "id instance_id status attempts last_error created_at claimed_at finished_at "
            "not_before",
        ),
        "suggestion": Table(
            Suggestion,
            "id instance_id model_version_id status probabilities top_finding_id "
            "top_probability error needs_attention attention_reason attention_margin "
            "saliency_key input_sha256 weights_sha256 preprocess_version code_version device "
            "latency_ms created_at",
        ),
        "urgency": Table(StudyUrgency, "study_id priority key_suggestion_id updated_at"),
        "review": Table(
            Review,
            "id instance_id suggestion_id reviewer_id action kind finding_id comment source "
            "imported_from supersedes_id created_at",
        ),
        "review_finding": Table(Review.findings.through, "id review_id finding_id"),
        "reading_state": Table(
            ReadingState, "instance_id status label_id first_reader_id updated_at"
        ),
        "encounter": Table(Encounter, "id patient_id opened_by_id created_at", templated=True),
        "vitals": Table(VitalSigns, "id encounter_id taken_at taken_by_id", templated=True),
        "triage": Table(
            TriageAssessment,
            "id encounter_id supersedes_id vitals_id assessed_by_id created_at confirmed_level "
            "confirmed_by_id confirmed_at override_reason",
            templated=True,
        ),
        "disposition": Table(
            Disposition,
            "id encounter_id doctor_id outcome esi_in_hindsight note supersedes_id created_at",
        ),
        "diagnosis": Table(
            FinalDiagnosis,
            "id encounter_id doctor_id icd10_code icd10_title code_system note supersedes_id "
            "created_at",
        ),
        "audit": Table(
            AuditEvent, "id at actor_id action object_type object_id detail remote_addr"
        ),
        "link": Table(AuditChainLink, "event_id sequence hash chained_at"),
    }


# Tables in the order a chunk is written (parents first).
ORDER = [
    "patient",
    "study",
    "series",
    "instance",
    "request",
    "suggestion",
    "urgency",
    "review",
    "review_finding",
    "reading_state",
    "encounter",
    "vitals",
    "triage",
    "disposition",
    "diagnosis",
    "audit",
    "link",
]
# Tables whose primary key comes from their own identity sequence.
SEQUENCED = [t for t in ORDER if t not in {"urgency", "reading_state", "link"}]


def prepare(
    *, anchor: dt.datetime, seed: int = 1, studies_per_year: float = STUDIES_PER_YEAR
) -> Context:
    """Users, the image champion, the triage templates: what the fill builds on (idempotent).

    ``studies_per_year``: the hospital's pace (see :class:`Context`)."""
    from django.conf import settings

    from diagnosis.encounters.icd10 import icd10_validate
    from diagnosis.encounters.models import ICD10_EDITION
    from diagnosis.inference.services import attention_check
    from diagnosis.registry.models import Finding
    from medassist.roles import Role, ensure_role_groups

    ensure_role_groups()
    doctors = _users("bench-doctor", Role.DOCTOR, DOCTORS)
    nurses = _users("bench-nurse", Role.NURSE, NURSES)
    _users("bench-auditor", Role.AUDITOR, 1)
    _users("bench-mladmin", Role.ML_ADMIN, 1)
    version = _image_champion()
    findings = dict(Finding.objects.values_list("code", "pk"))
    missing = set(FINDING_WEIGHTS) - set(findings)
    if missing:
        raise RuntimeError(f"The finding vocabulary lacks {sorted(missing)}")
    labels = [c for c in version.labels if c in FINDING_WEIGHTS]
    sure = {code: (1.0 if i == 0 else 0.0) for i, code in enumerate(labels)}
    scope = {
        (m, b): attention_check(
            probabilities=sure, modality=m, body_part=b, model_card=version.model_card
        )
        for m in SOP_CLASS
        for b in set(BODY_PARTS)
    }
    icd10 = []
    for code in ICD10_CODES:
        try:
            entry = icd10_validate(code=code)
        except Exception:  # noqa: S112 - an edition without this code: use the others
            continue
        icd10.append((entry.code, entry.title))
    if not icd10:
        raise RuntimeError("None of the bench's ICD-10 codes is in this edition.")
    tables = _tables()
    rng = random.Random(seed)
    return Context(
        anchor=anchor.timestamp(),
        seconds_per_study=YEAR_S / studies_per_year,
        seed=seed,
        doctors=doctors,
        nurses=nurses,
        version_id=version.pk,
        weights_sha256=version.weights_sha256,
        preprocess_version=version.preprocess_version,
        labels=labels,
        findings=findings,
        scope_reason=scope,
        attention_margin=float(settings.MEDASSIST_ATTENTION_MARGIN),
        templates=_triage_templates(nurses[0], 24, seed, tables),
        icd10=icd10,
        icd10_edition=ICD10_EDITION,
        tables=tables,
        remote_addrs=[f"10.{20 + rng.randint(0, 3)}.{rng.randint(0, 40)}.{i}" for i in range(64)],
    )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass
class Chunk:
    """The rows of one chunk of studies, rendered, and the last id it used per table."""

    lines: dict[str, list[str]]
    max_ids: dict[str, int]


NULL = "\\N"


def _id(value: int | None) -> str:
    return str(value) if value else NULL


@dataclass
class _Image:
    """What the review step needs of a study's first image."""

    instance: int
    suggestion: int
    ok: bool
    top: int | None


class Generator:
    """Renders the rows of consecutive chunks of studies, allocating ids and the audit chain.

    Ids continue each table's sequence from ``ids``; the chain continues from
    ``(sequence, hash)``. Chunks must be generated in order, one at a time. Touches no
    database (it runs in a thread of its own).
    """

    def __init__(self, ctx: Context, *, ids: dict[str, int], chain: tuple[int, str]) -> None:
        self.ctx = ctx
        self.ids = dict(ids)
        self.first = dict(ids)
        self.sequence, self.head = chain
        self.now = _iso(time.time())
        self.code_of = {f: c for c, f in ctx.findings.items()}

    def _next(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def chunk(self, lo: int, hi: int) -> Chunk:
        """Studies ``lo..hi-1`` with their patients, images, reads, encounters and events."""
        self.rng = random.Random(self.ctx.seed * 1_000_003 + lo)
        self.out: dict[str, list[str]] = {name: [] for name in ORDER}
        self.events: list[tuple[float, int | None, str, str, str, dict[str, Any]]] = []
        n = hi - lo
        # Studies lo..hi-1 are the hospital's history from lo to hi studies back from the
        # anchor, in any order within the chunk: a larger size reaches further back.
        self.span = (
            self.ctx.anchor - hi * self.ctx.seconds_per_study,
            n * self.ctx.seconds_per_study,
        )
        patients = self._patients(max(1, round(n / 3)))
        ingests = []
        for _ in range(n):
            pid, mrn = self.rng.choice(patients)
            t = self._moment()
            first, ingest = self._study(pid, t)
            ingests.append(ingest)
            if self.rng.random() < 0.665:
                self._reviews(first, t)
            if self.rng.random() < 0.5:
                self._encounter(pid, mrn, t - self.rng.uniform(600, 7200))
            self._views(mrn, t)
        self._ingest_events(ingests, budget=10 * n)
        self._audit()
        used = {t: self.ids[t] - 1 for t in SEQUENCED if self.ids[t] > self.first[t]}
        self.first = dict(self.ids)
        return Chunk(lines=self.out, max_ids=used)

    def _moment(self) -> float:
        """A moment within the chunk's stretch of history."""
        oldest, length = self.span
        return oldest + self.rng.random() * length

    def _row(self, table: str, *values: object) -> None:
        self.out[table].append("\t".join(map(str, values)) + self.ctx.tables[table].suffix + "\n")

    def _event(
        self,
        at: float,
        actor: int | None,
        action: str,
        object_type: str = "",
        object_id: int | str = "",
        detail: dict[str, Any] | None = None,
    ) -> None:
        """One audit event as the service that does this writes it (never in the future)."""
        at = min(at, self.ctx.anchor)
        self.events.append((at, actor, action, object_type, str(object_id), detail or {}))

    def _patients(self, count: int) -> list[tuple[int, str]]:
        """Patients registered (by an ingest, so by nobody) in the year before the chunk's
        stretch of history."""
        patients = []
        for _ in range(count):
            pid = self._next("patient")
            mrn = f"SYN{pid:09d}"
            born = dt.date(1930, 1, 1) + dt.timedelta(days=self.rng.randint(0, 33000))
            registered = self.span[0] - self.rng.random() * YEAR_S
            sex = self.rng.choice("FMFMU")
            self._row(
                "patient", pid, mrn, f"Synthetic Patient {pid}", born, sex, "t", _iso(registered)
            )
            self._event(registered, None, "patient.register", "medassist.Patient", pid)
            patients.append((pid, mrn))
        return patients

    def _study(self, pid: int, t: float) -> tuple[_Image, list[tuple[float, int, str]]]:
        """One study, its series and images, a finished inference request and a suggestion
        per image, and the study's urgency as ``study_urgency_refresh`` computes it."""
        ctx, rng = self.ctx, self.rng
        labels, findings, margin = ctx.labels, ctx.findings, ctx.attention_margin
        normal = findings["normal"]
        sid = self._next("study")
        when = _iso(t)
        n_inst = 1 + int(49 * rng.random() ** 3)
        if n_inst <= 2:
            modality = "CR" if rng.random() < 0.65 else "DX"
            n_series = n_inst
        else:
            modality = rng.choices(["CT", "MR", "US"], [50, 30, 20])[0]
            n_series = min(rng.randint(1, 4), n_inst)
        body = rng.choice(BODY_PARTS)
        day = dt.datetime.fromtimestamp(t, UTC).date()
        description = f"{SYNTHETIC} {modality} {body.lower()}"
        self._row(
            "study", sid, pid, f"{UID_ROOT}.1.{sid:012d}", day, description,
            f"SYN{sid:010d}", "t", when,
        )  # fmt: skip
        cuts = sorted(rng.sample(range(1, n_inst), n_series - 1)) if n_series > 1 else []
        per_series = [b - a for a, b in zip([0, *cuts], [*cuts, n_inst], strict=True)]
        claimed, finished = _iso(t + 5), _iso(t + 6)
        sop_class = SOP_CLASS[modality]
        rows, cols = MATRIX[modality]
        size_bytes = rows * cols * 2 + 2000
        source = "c-store" if rng.random() < 0.9 else "stow-rs"
        scope = ctx.scope_reason[(modality, body)]
        provenance = f"{ctx.weights_sha256}\t{ctx.preprocess_version}\t{CODE_VERSION}\t{DEVICE}"
        best: tuple[float, int] | None = None  # (-priority, suggestion id): the key suggestion
        first: _Image | None = None
        ingest = []
        for k, count in enumerate(per_series):
            se_id = self._next("series")
            self._row(
                "series", se_id, sid, f"{UID_ROOT}.2.{se_id:012d}", modality,
                f"{SYNTHETIC} series {k + 1}", body, when,
            )  # fmt: skip
            for number in range(1, count + 1):
                iid = self._next("instance")
                key = f"bench/synthetic/{iid:012d}.dcm"
                sha = hashlib.sha256(key.encode()).hexdigest()
                self._row(
                    "instance", iid, se_id, f"{UID_ROOT}.3.{iid:012d}", sop_class, number,
                    rows, cols, 1, key, sha, sha, size_bytes, source, NULL, when,
                )  # fmt: skip
                ingest.append((t, iid, source))
                failed = rng.random() < 0.001
                self._row(
                    "request", self._next("request"), iid, "failed" if failed else "done",
                    3 if failed else 1, "synthetic failure" if failed else "", when, claimed,
                    finished, NULL,
                )  # fmt: skip
                sug = self._next("suggestion")
                if failed:
                    priority, top_id = 3.0, None
                    self._row(
                        "suggestion", sug, iid, ctx.version_id, "failed", "{}", NULL, NULL,
                        f"{SYNTHETIC}: inference failed", "t",
                        "Inference failed; a person has to read this image.", 0.0, "", sha,
                        provenance, 0.0, finished,
                    )  # fmt: skip
                else:
                    top = rng.choices(list(FINDING_WEIGHTS), list(FINDING_WEIGHTS.values()))[0]
                    raw = sorted((rng.random() ** 2 for _ in labels), reverse=True)
                    raw[0] += 0.05
                    values = [round(r / sum(raw), 6) for r in raw]
                    others = [c for c in labels if c != top]
                    rng.shuffle(others)
                    probs = dict(zip([top, *others], values, strict=True))
                    p = probs[top]
                    reason = scope
                    if not reason and p - values[1] < margin:
                        # Unsure: the service's own words (scope was checked above).
                        reason = _attention(probs, modality, body)
                    top_id = findings[top]
                    if reason:
                        priority = 3.0 + p
                    elif top_id != normal:
                        priority = 2.0 + p
                    else:
                        priority = 1.0 + (1.0 - p)
                    body_json = ", ".join(f'"{c}": {probs[c]!r}' for c in labels)
                    self._row(
                        "suggestion", sug, iid, ctx.version_id, "ok", "{" + body_json + "}",
                        top_id, repr(p), "", "t" if reason else "f", reason, repr(margin), "",
                        sha, provenance, repr(round(rng.uniform(4, 40), 3)), finished,
                    )  # fmt: skip
                if best is None or (-priority, sug) < best:
                    best = (-priority, sug)
                if first is None:
                    first = _Image(iid, sug, not failed, top_id)
        assert best is not None and first is not None
        self._row("urgency", sid, repr(-best[0]), best[1], finished)
        return first, ingest

    def _reviews(self, image: _Image, t: float) -> None:
        """A doctor's read of the study's first image (the one the worklist opens), now and
        then superseded by a colleague's correction, as ``review_record`` stores them: the
        review, its findings, the reading state and label, the audit events."""
        ctx, rng = self.ctx, self.rng
        reviewed_at = min(t + 60 + rng.expovariate(1 / (8 * 3600)), ctx.anchor - 30)
        if reviewed_at <= t + 30:
            return
        shown = image.suggestion if image.ok else None
        roll = rng.random()
        if image.ok and roll < 0.78:
            finding, action = image.top, "accept"
        elif roll < 0.98:
            finding = rng.choice([f for f in ctx.findings.values() if f != image.top])
            action = "correct"
        else:
            finding, action = None, "reject"
        chain = [(rng.choice(ctx.doctors), reviewed_at, action, finding)]
        if rng.random() < 0.0526 and reviewed_at + 7200 < ctx.anchor:
            # A colleague's correction supersedes the first read (single reading).
            other = rng.choice([f for f in ctx.findings.values() if f != finding])
            action = "accept" if other == image.top and image.ok else "correct"
            chain.append((rng.choice(ctx.doctors), reviewed_at + 3600, action, other))
        previous: int | None = None
        for reviewer, at, action, found in chain:
            rid = self._next("review")
            self._row(
                "review", rid, image.instance, _id(shown), reviewer, action, "read",
                _id(found), SYNTHETIC, "clinician", "", _id(previous), _iso(at),
            )  # fmt: skip
            if found:
                self._row("review_finding", self._next("review_finding"), rid, found)
            code = self.code_of[found] if found else None
            self._event(at - 40, reviewer, "case.view", "imaging.Instance", image.instance)
            detail = {
                "instance": image.instance,
                "finding": code,
                "action": action,
                "kind": "read",
                "findings": [code] if code else [],
                "supersedes": previous,
                "reading_state": "reviewed",
            }
            self._event(at, reviewer, "review.submit", "diagnosis.Review", rid, detail)
            previous = rid
        self._row("reading_state", image.instance, "reviewed", previous, NULL, _iso(chain[-1][1]))

    def _encounter(self, pid: int, mrn: str, t: float) -> None:
        """An emergency visit as the intake services store it: the encounter, its vital
        signs, the triage assessment (sometimes a retake that supersedes it) and the nurse's
        decision; older visits mostly ended with a disposition and a final diagnosis."""
        ctx, rng = self.ctx, self.rng
        template = rng.choice(ctx.templates)
        nurse = rng.choice(ctx.nurses)
        eid = self._next("encounter")
        self.out["encounter"].append(f"{eid}\t{pid}\t{nurse}\t{_iso(t)}{template.encounter}\n")
        v1 = self._next("vitals")
        self.out["vitals"].append(f"{v1}\t{eid}\t{_iso(t)}\t{nurse}{template.vitals}\n")
        self._event(t, nurse, "encounter.open", "diagnosis.Encounter", eid, {"vitals": v1})
        steps = [(v1, t + 5, template.assessment, template.suggested)]
        if rng.random() < 0.1 and t + 3600 < ctx.anchor:
            v2 = self._next("vitals")
            self.out["vitals"].append(
                f"{v2}\t{eid}\t{_iso(t + 3600)}\t{nurse}{template.retake_vitals}\n"
            )
            detail = {"encounter": eid, "mrn": mrn}
            self._event(t + 3600, nurse, "vitals.record", "diagnosis.VitalSigns", v2, detail)
            steps.append((v2, t + 3605, template.retake_assessment, template.retake_suggested))
        previous: int | None = None
        level = None
        for vitals_id, at, segment, suggested in steps:
            aid = self._next("triage")
            confirmed = rng.random() < 0.85 and at + 180 < ctx.anchor
            decided, reason = suggested, ""
            if confirmed and rng.random() < 0.15:
                decided = min(5, max(1, suggested + rng.choice([-1, 1])))
                reason = f"{SYNTHETIC}: nurse's judgement" if decided != suggested else ""
            decision = (
                f"{decided}\t{nurse}\t{_iso(at + 180)}\t{reason}"
                if confirmed
                else f"{NULL}\t{NULL}\t{NULL}\t"
            )
            self.out["triage"].append(
                f"{aid}\t{eid}\t{_id(previous)}\t{vitals_id}\t{nurse}\t{_iso(at)}\t"
                f"{decision}{segment}\n"
            )
            detail = {
                "encounter": eid,
                "suggested_level": suggested,
                "rules_floor": template.rules_floor,
                "model_version": None,
                "model_level": None,
                "rules_level": template.rules_level,
                "vitals": vitals_id,
            }
            self._event(at, nurse, "triage.assess", "diagnosis.TriageAssessment", aid, detail)
            if confirmed:
                action = "triage.override" if decided != suggested else "triage.confirm"
                detail = {
                    "encounter": eid,
                    "suggested_level": suggested,
                    "confirmed_level": decided,
                    "reason": reason,
                }
                self._event(at + 180, nurse, action, "diagnosis.TriageAssessment", aid, detail)
                level = decided
            previous = aid
        level = level or steps[-1][3]
        if t >= ctx.anchor - 6 * 3600:
            return  # still in the department
        doctor = rng.choice(ctx.doctors)
        if rng.random() < 0.95:
            outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
            esi = None if outcome == "left" else level
            if outcome in {"critical_care", "theatre", "died"}:
                esi = min(esi or 2, 2)
            at = t + rng.uniform(2, 5) * 3600
            did = self._next("disposition")
            self._row("disposition", did, eid, doctor, outcome, _id(esi), SYNTHETIC, NULL, _iso(at))
            detail = {
                "encounter": eid,
                "mrn": mrn,
                "outcome": outcome,
                "esi_in_hindsight": esi,
                "supersedes": None,
            }
            self._event(at, doctor, "disposition.record", "diagnosis.Disposition", did, detail)
        if rng.random() < 0.9:
            code, title = rng.choice(ctx.icd10)
            at = t + rng.uniform(1, 4) * 3600
            fid = self._next("diagnosis")
            self._row(
                "diagnosis", fid, eid, doctor, code, _copy_escape(title), ctx.icd10_edition,
                SYNTHETIC, NULL, _iso(at),
            )  # fmt: skip
            detail = {"encounter": eid, "mrn": mrn, "icd10": code, "supersedes": None}
            self._event(
                at, doctor, "final_diagnosis.record", "diagnosis.FinalDiagnosis", fid, detail
            )

    def _views(self, mrn: str, t: float) -> None:
        """Pages that list patients are audited too: the worklist, DICOMweb searches."""
        rng, doctors = self.rng, self.ctx.doctors
        if rng.random() < 0.2:
            detail = {"query": "status=awaiting", "page": 1}
            self._event(
                t + rng.uniform(0, 86400), rng.choice(doctors), "worklist.view", detail=detail
            )
        if rng.random() < 0.1:
            detail = {"path": "/imaging/dicomweb/studies", "query": f"PatientID={mrn}"}
            self._event(
                t + rng.uniform(0, 86400), rng.choice(doctors), "dicomweb.search", detail=detail
            )

    def _ingest_events(self, ingests: list[list[tuple[float, int, str]]], budget: int) -> None:
        """The rest of the chunk's 10 events per study: its images' ``instance.ingest``,
        spread evenly over the studies (by C-STORE nobody is the actor; by STOW-RS a doctor).
        A study with fewer images than its share adds worklist views."""
        rng, doctors = self.rng, self.ctx.doctors
        per, extra = divmod(max(0, budget - len(self.events)), len(ingests))
        for k, ingest in enumerate(ingests):
            want = per + (1 if k < extra else 0)
            for t, iid, source in ingest[:want]:
                actor = None if source == "c-store" else rng.choice(doctors)
                detail = {"source": source}
                self._event(t, actor, "instance.ingest", "imaging.Instance", iid, detail)
            for j in range(want - len(ingest)):
                at = self._moment()
                detail = {"query": "status=all", "page": j + 2}
                self._event(at, rng.choice(doctors), "worklist.view", detail=detail)

    def _audit(self) -> None:
        """The chunk's audit events in id order, each with its chain link, as
        ``audit_chain_extend`` links them."""
        from medassist.models import chain_hash

        addrs = self.ctx.remote_addrs
        row = _ChainRow()
        for at, actor, action, object_type, object_id, detail in self.events:
            eid = self._next("audit")
            moment = dt.datetime.fromtimestamp(at, UTC)
            addr = addrs[eid % len(addrs)]
            self._row(
                "audit", eid, moment.isoformat(), _id(actor), action, object_type, object_id,
                _copy_escape(json.dumps(detail)), addr,
            )  # fmt: skip
            row.set(eid, moment, actor, action, object_type, object_id, detail, addr)
            self.sequence += 1
            self.head = chain_hash(previous=self.head, sequence=self.sequence, event=row)  # type: ignore[arg-type]
            self._row("link", eid, self.sequence, self.head, self.now)


def _attention(probabilities: dict[str, float], modality: str, body_part: str) -> str:
    from diagnosis.inference.services import attention_check

    return attention_check(
        probabilities=probabilities, modality=modality, body_part=body_part, model_card={}
    )


class _ChainRow:
    """Stands in for an AuditEvent read back from the database, for ``chain_hash``.

    ``canonical_content`` is the model's own method, so the links hash exactly what
    ``audit_chain_verify`` will read back: ``at`` as PostgreSQL returns it (UTC, ISO).
    """

    def set(
        self,
        pk: int,
        at: dt.datetime,
        actor: int | None,
        action: str,
        object_type: str,
        object_id: str,
        detail: dict[str, Any],
        addr: str,
    ) -> None:
        self.pk, self.at = pk, at
        self.actor_id, self.action = actor, action
        self.object_type, self.object_id = object_type, object_id
        self.detail, self.remote_addr = detail, addr

    def canonical_content(self) -> bytes:
        from medassist.models import AuditEvent

        return AuditEvent.canonical_content(self)  # type: ignore[arg-type]


def _sequence_starts(cursor: Any, tables: dict[str, Table]) -> dict[str, int]:
    """The next id of each sequenced table (each sequence advanced by one to get it)."""
    starts = {}
    for name in SEQUENCED:
        table = tables[name].model._meta.db_table
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [_quote(table)])
        starts[name] = cursor.fetchone()[0]
    return starts


def _sequences_set(cursor: Any, tables: dict[str, Table], max_ids: dict[str, int]) -> None:
    """Move each sequence past the ids a chunk used (they all came after its start)."""
    for name, value in max_ids.items():
        table = tables[name].model._meta.db_table
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [_quote(table), value]
        )


@dataclass
class FillReport:
    studies: int
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)


# The worklist state each study row carries, as the review and inference services keep it
# (diagnosis.review.services.study_worklist_refresh, study_urgency_refresh), for the studies
# after the given id.
STUDY_WORKLIST_STATE = """
UPDATE imaging_study st SET
  worklist_priority = coalesce(
    (SELECT u.priority FROM diagnosis_studyurgency u WHERE u.study_id = st.id), 0),
  unread = EXISTS (
    SELECT 1 FROM imaging_instance i JOIN imaging_series se ON se.id = i.series_id
    WHERE se.study_id = st.id
      AND NOT EXISTS (SELECT 1 FROM diagnosis_readingstate rs WHERE rs.instance_id = i.id)),
  second_read_pending = EXISTS (
    SELECT 1 FROM diagnosis_readingstate rs JOIN imaging_instance i ON i.id = rs.instance_id
    JOIN imaging_series se ON se.id = i.series_id
    WHERE se.study_id = st.id AND rs.status = 'one_read'),
  in_adjudication = EXISTS (
    SELECT 1 FROM diagnosis_readingstate rs JOIN imaging_instance i ON i.id = rs.instance_id
    JOIN imaging_series se ON se.id = i.series_id
    WHERE se.study_id = st.id AND rs.status = 'adjudication')
WHERE st.id > %s
"""

# The findings each study's suggestions name first (one model version: all are current), as
# study_urgency_refresh keeps them, for the studies after the given id.
STUDY_FINDINGS = """
INSERT INTO diagnosis_studyfinding (study_id, finding_id)
SELECT DISTINCT se.study_id, s.top_finding_id
FROM diagnosis_suggestion s
JOIN imaging_instance i ON i.id = s.instance_id
JOIN imaging_series se ON se.id = i.series_id
WHERE se.study_id > %s AND s.top_finding_id IS NOT NULL
"""

# The current ESI and the awaiting-a-diagnosis flag each encounter row carries, as the triage
# services (encounter_esi_store) and final_diagnosis_record keep them, after the given id.
ENCOUNTER_AWAITING_STATE = """
UPDATE diagnosis_encounter e SET
  esi_level = cur.level, esi_confirmed = coalesce(cur.confirmed, false),
  awaiting_diagnosis = NOT EXISTS (
    SELECT 1 FROM diagnosis_finaldiagnosis f WHERE f.encounter_id = e.id)
FROM diagnosis_encounter e2
LEFT JOIN LATERAL (
  SELECT coalesce(a.confirmed_level, a.suggested_level) AS level,
         a.confirmed_level IS NOT NULL AS confirmed
  FROM diagnosis_triageassessment a
  WHERE a.encounter_id = e2.id
    AND NOT EXISTS (SELECT 1 FROM diagnosis_triageassessment b WHERE b.supersedes_id = a.id)
  ORDER BY a.id DESC LIMIT 1
) cur ON true
WHERE e2.id = e.id AND e.id > %s
"""


def fill(
    ctx: Context,
    *,
    start: int,
    stop: int,
    chunk: int = 1000,
    progress: Callable[[int, float], None] | None = None,
) -> FillReport:
    """Add studies ``start..stop-1`` (and everything that goes with them) to the database.

    Each chunk of studies is one transaction. A second thread renders the next chunk while
    PostgreSQL takes in the current one. Pending audit events are chained first (with the
    app's own :func:`medassist.services.audit_chain_extend`), so the new links continue
    the chain. Runs on Django's default connection; inside a test's transaction too.
    """
    from django.db import connection, transaction

    from medassist.models import CHAIN_GENESIS, AuditChainLink
    from medassist.services import audit_chain_extend

    began = time.perf_counter()
    audit_chain_extend(everything=True)
    head = AuditChainLink.objects.order_by("-sequence").values_list("sequence", "hash").first()
    with connection.cursor() as cursor:
        ids = _sequence_starts(cursor, ctx.tables)
        cursor.execute("SELECT coalesce(max(id), 0) FROM imaging_study")
        (last_study,) = cursor.fetchone()
        cursor.execute("SELECT coalesce(max(id), 0) FROM diagnosis_encounter")
        (last_encounter,) = cursor.fetchone()
    generator = Generator(ctx, ids=ids, chain=head or (0, CHAIN_GENESIS))
    bounds = [(lo, min(stop, lo + chunk)) for lo in range(start, stop, chunk)]
    rows = dict.fromkeys(ORDER, 0)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(generator.chunk, *bounds[0]) if bounds else None
        for k, (_, hi) in enumerate(bounds):
            assert pending is not None
            done = pending.result()
            pending = pool.submit(generator.chunk, *bounds[k + 1]) if k + 1 < len(bounds) else None
            with transaction.atomic(), connection.cursor() as cursor:
                psycopg_cursor = cursor.cursor
                for name in ORDER:
                    _copy(psycopg_cursor, ctx.tables[name], done.lines[name])
                    rows[name] += len(done.lines[name])
                _sequences_set(cursor, ctx.tables, done.max_ids)
                cursor.execute(STUDY_WORKLIST_STATE, [last_study])
                cursor.execute(ENCOUNTER_AWAITING_STATE, [last_encounter])
                cursor.execute(STUDY_FINDINGS, [last_study])
                cursor.execute("SELECT coalesce(max(id), 0) FROM imaging_study")
                (last_study,) = cursor.fetchone()
                cursor.execute("SELECT coalesce(max(id), 0) FROM diagnosis_encounter")
                (last_encounter,) = cursor.fetchone()
            if progress is not None:
                progress(hi, time.perf_counter() - began)
    return FillReport(studies=stop - start, seconds=time.perf_counter() - began, rows=rows)


# --- The bench: a scratch database, sizes, measurements --------------------------------


def _setup(database_url: str, *, reuse: bool, name: str = DB_NAME) -> None:
    import psycopg

    parsed = urlparse(database_url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (reuse and exists):
            conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")
            conn.execute(f"CREATE DATABASE {_quote(name)}")
    os.environ["DATABASE_URL"] = parsed._replace(path=f"/{name}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    os.environ.setdefault("MEDASSIST_VAR_DIR", tempfile.mkdtemp(prefix="bench-scale-"))
    # Timed as production serves it: no debug toolbar of queries, no template debugging.
    os.environ.setdefault("DEBUG", "false")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _drop(database_url: str, name: str = DB_NAME) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin = urlparse(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)}")


def _vacuum_analyze() -> float:
    """VACUUM ANALYZE the whole database, as autovacuum would have by the time pages are read.

    Freshly copied rows have neither hint bits nor a visibility map: without this, the first
    readers pay for setting them and no index-only scan is possible.
    """
    from django.db import connection

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - began


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass
class Samples:
    """What the probes need: real identifiers from the filled data."""

    mrn: str
    patient_id: int
    study_uid: str
    series_uid: str
    accession: str
    case_instance: int
    study_id: int
    week_from: dt.date
    week_to: dt.date
    day: dt.date
    # The audit log's Older-link cursor half-way down the log (a deep page).
    audit_middle: str = ""
    # The places the worklist's Next link names to reach its deep page (awaiting, all).
    awaiting_middle: str = ""
    all_middle: str = ""


def samples_of(anchor: dt.datetime) -> Samples:
    """Identifiers for the probes: the biggest recent reviewed study, its patient."""
    from django.db import connection

    with connection.cursor() as cursor:
        # Among the 3,000 newest studies (history grows back in time: the highest ids are
        # the oldest), so the sample is as recent at every size.
        cursor.execute(
            """
            SELECT st.id, st.study_instance_uid, st.accession_number, p.mrn, p.id,
                   min(se.series_instance_uid), count(i.id) AS n,
                   min(rs.instance_id)
            FROM imaging_study st
            JOIN medassist_patient p ON p.id = st.patient_id
            JOIN imaging_series se ON se.study_id = st.id
            JOIN imaging_instance i ON i.series_id = se.id
            LEFT JOIN diagnosis_readingstate rs ON rs.instance_id = i.id
            WHERE st.id IN (
                SELECT id FROM imaging_study WHERE is_synthetic
                ORDER BY created_at DESC LIMIT 3000
            )
            GROUP BY st.id, p.id
            HAVING min(rs.instance_id) IS NOT NULL
            ORDER BY n DESC, st.id LIMIT 1
            """
        )
        sid, uid, accession, mrn, pid, series_uid, _, instance = cursor.fetchone()
    from medassist.audit_views import Cursor
    from medassist.models import AuditEvent

    events = AuditEvent.objects.order_by("-at", "-pk").values_list("at", "pk")
    middle = events[AuditEvent.objects.count() // 2]
    from diagnosis.review.selectors import WorklistCursor, worklist_page_size
    from imaging.models import Study

    # The last study of the page before the deep page (see probes): what its Next link names.
    before_deep = (_deep_page(Study.objects.count()) - 1) * worklist_page_size() - 1
    in_order = ("-worklist_priority", "created_at", "pk")
    awaiting = Study.objects.filter(unread=True, in_adjudication=False).order_by(*in_order)
    every = Study.objects.order_by(*in_order)
    # A week (and its last day) that ended two days ago: inside the history from 10^5 on
    # (10^4 studies, 3.7 days at the default pace, hold its last 1.7 days).
    week_to = (anchor - dt.timedelta(days=2)).date()
    return Samples(
        mrn=mrn,
        patient_id=pid,
        study_uid=uid,
        series_uid=series_uid,
        accession=accession,
        case_instance=instance,
        study_id=sid,
        week_from=week_to - dt.timedelta(days=6),
        week_to=week_to,
        day=week_to,
        audit_middle=str(Cursor(*middle)),
        awaiting_middle=str(WorklistCursor.of(awaiting[before_deep])),
        all_middle=str(WorklistCursor.of(every[before_deep])),
    )


def _deep_page(studies: int) -> int:
    """The worklist page half-way through ``studies`` studies (25 a page)."""
    return max(2, studies // 50)


@dataclass(frozen=True)
class Probe:
    """One page or search the bench times: who asks, what, and the answers that are fine."""

    group: str
    label: str
    role: str  # doctor, nurse, auditor, ml_admin
    path: str
    htmx: bool = False
    accept: str = ""
    ok: tuple[int, ...] = (200,)


def probes(s: Samples, *, studies: int) -> list[Probe]:
    """Every page and search the bench times, over data holding ``studies`` studies.

    Deep pages are half-way through the list at that size (so they move with it).
    """
    deep_cases = _deep_page(studies)
    deep_audit = max(2, studies // 10)
    week = urlencode({"date_from": s.week_from, "date_to": s.week_to})
    study_date = f"{s.week_from:%Y%m%d}-{s.week_to:%Y%m%d}"
    root = "/imaging/dicomweb"
    one_study = f"{root}/studies/{s.study_uid}"
    one_day = f"{s.day:%Y%m%d}"

    def qido(label: str, path: str) -> Probe:
        return Probe("qido", label, "doctor", path, accept="application/dicom+json", ok=(200, 204))

    return [
        Probe("worklist", "awaiting, page 1", "doctor", "/cases/"),
        # Half-way down, as the Next links reach it (they name the study before the page) ...
        Probe(
            "worklist",
            "awaiting, deep page",
            "doctor",
            f"/cases/?page={deep_cases}&after={s.awaiting_middle}",
        ),
        # ... and as a typed page number, which walks its offset.
        Probe("worklist", "awaiting, deep page number", "doctor", f"/cases/?page={deep_cases}"),
        Probe("worklist", "awaiting, htmx refresh", "doctor", "/cases/", htmx=True),
        Probe("worklist", "status=reviewed", "doctor", "/cases/?status=reviewed"),
        Probe("worklist", "status=adjudication", "doctor", "/cases/?status=adjudication"),
        Probe("worklist", "status=all", "doctor", "/cases/?status=all"),
        Probe(
            "worklist",
            "status=all, deep page",
            "doctor",
            f"/cases/?status=all&page={deep_cases}&after={s.all_middle}",
        ),
        Probe("worklist", "modality=CT", "doctor", "/cases/?modality=CT"),
        # The rarest modality the fill writes (7% of series): few matches, many to look at.
        Probe("worklist", "modality=DX (rare)", "doctor", "/cases/?modality=DX"),
        Probe("worklist", "finding=nodule", "doctor", "/cases/?finding=nodule"),
        Probe(
            "worklist",
            "status=all, from/to one week",
            "doctor",
            f"/cases/?status=all&from={s.week_from}&to={s.week_to}",
        ),
        Probe("worklist", "mine=1", "doctor", "/cases/?mine=1"),
        Probe(
            "worklist",
            "next case (keyset)",
            "doctor",
            f"/cases/next/?status=all&after={s.study_id}",
            ok=(302,),
        ),
        Probe("case", "case page (largest recent study)", "doctor", f"/cases/{s.case_instance}/"),
        Probe("stats", "statistics", "doctor", "/stats/"),
        Probe("triage", "triage board", "nurse", "/triage/"),
        Probe("triage", "triage board, htmx refresh", "nurse", "/triage/", htmx=True),
        Probe("audit", "page 1", "auditor", "/audit/"),
        # Half-way down the log, as the Older links reach it (a cursor, not an offset) ...
        Probe(
            "audit",
            "deep page",
            "auditor",
            f"/audit/?before={s.audit_middle}&page={max(2, deep_audit)}",
        ),
        # ... and a page number past the numbered pages, which shows the last numbered one.
        Probe("audit", "deep page number", "auditor", f"/audit/?page={deep_audit}"),
        Probe("audit", "action=review", "auditor", "/audit/?action=review"),
        Probe("audit", "actor=bench-doctor-01", "auditor", "/audit/?actor=bench-doctor-01"),
        Probe(
            "audit",
            "object_type=diagnosis.Encounter",
            "auditor",
            "/audit/?object_type=diagnosis.Encounter",
        ),
        Probe("audit", "mrn=<one patient>", "auditor", f"/audit/?mrn={s.mrn}"),
        Probe("audit", "one week", "auditor", f"/audit/?{week}"),
        qido("studies PatientID", f"{root}/studies?PatientID={s.mrn}"),
        qido(
            "studies StudyDate one week, limit 100",
            f"{root}/studies?StudyDate={study_date}&limit=100",
        ),
        qido(
            "studies ModalitiesInStudy=CT, limit 100",
            f"{root}/studies?ModalitiesInStudy=CT&limit=100",
        ),
        qido("studies AccessionNumber", f"{root}/studies?AccessionNumber={s.accession}"),
        qido("studies limit 100, deep offset", f"{root}/studies?limit=100&offset={studies // 2}"),
        qido("series PatientID", f"{root}/series?PatientID={s.mrn}"),
        qido("series Modality=CT, limit 100", f"{root}/series?Modality=CT&limit=100"),
        qido("series of one study", f"{one_study}/series"),
        qido("instances of one study", f"{one_study}/instances"),
        qido("instances of one series", f"{one_study}/series/{s.series_uid}/instances"),
        qido("instances PatientID, limit 100", f"{root}/instances?PatientID={s.mrn}&limit=100"),
        qido(
            "instances StudyDate one day, limit 100",
            f"{root}/instances?StudyDate={one_day}&limit=100",
        ),
        Probe("ml admin", "models page", "ml_admin", "/models/"),
        Probe("ml admin", "findings page", "ml_admin", "/models/findings/"),
        Probe("ml admin", "test-set page", "ml_admin", "/models/test-set/"),
    ]


def clients() -> dict[str, Any]:
    """A signed-in test client per role (the bench's synthetic users)."""
    from django.contrib.auth.models import User
    from django.test import Client

    out = {}
    for role, username in (
        ("doctor", "bench-doctor-01"),
        ("nurse", "bench-nurse-01"),
        ("auditor", "bench-auditor-01"),
        ("ml_admin", "bench-mladmin-01"),
    ):
        client = Client()
        client.force_login(User.objects.get(username=username))
        out[role] = client
    return out


def request(client: Any, probe: Probe) -> Any:
    headers = {}
    if probe.htmx:
        headers["HX-Request"] = "true"
    if probe.accept:
        headers["Accept"] = probe.accept
    return client.get(probe.path, headers=headers)


@dataclass
class Measured:
    """One measurement at one size. ``kind``: a page (p50/p95 over requests), the CSV
    export (``p50`` = ``p95`` = ms to the first data row), or one timed call."""

    group: str
    label: str
    kind: str  # "page", "export" or "call"
    n: int
    p50: float
    p95: float
    queries: int | None
    rows: int | None = None
    seconds: float | None = None
    note: str = ""

    @property
    def rows_per_s(self) -> float | None:
        if self.rows is None or not self.seconds:
            return None
        return self.rows / self.seconds


@dataclass
class SlowQuery:
    ms: float
    label: str
    sql: str


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _captured(ctx: Any, label: str, slow: list[SlowQuery]) -> None:
    for q in ctx.captured_queries:
        slow.append(SlowQuery(float(q["time"]) * 1000, label, q["sql"]))


def measure_probe(
    client: Any,
    probe: Probe,
    *,
    requests: int,
    budget_s: float,
    slow_s: float,
    slow: list[SlowQuery],
) -> Measured:
    """p50/p95 of up to ``requests`` requests after a warm-up whose queries are captured.

    Timing stops after ``budget_s`` once 3 requests are in; a page whose warm-up took more
    than ``slow_s`` is timed once (at 10^6 studies a slow page can take minutes).
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        response = request(client, probe)
        warm = time.perf_counter() - t0
    # Counted now: the timed requests below reset the connection's query log, which the
    # context reads lazily.
    queries = len(ctx)
    if response.status_code not in probe.ok:
        raise RuntimeError(f"{probe.path} answered {response.status_code}, not {probe.ok}")
    _captured(ctx, f"{probe.group}: {probe.label}", slow)
    least = 1 if warm > slow_s else 3
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < requests and (len(times) < least or time.perf_counter() - began < budget_s):
        t0 = time.perf_counter()
        request(client, probe)
        times.append((time.perf_counter() - t0) * 1000)
    return Measured(
        probe.group,
        probe.label,
        "page",
        len(times),
        statistics.median(times),
        _p95(times),
        queries,
        note=probe.path if "<" in probe.label or "deep" in probe.label else "",
    )


def measure_export(
    client: Any, path: str, label: str, *, max_rows: int, slow: list[SlowQuery]
) -> Measured:
    """The streamed CSV export: time to the first data row, rows/s over the stream, and how
    far the resident memory of this process rose while it streamed (sampled every 20,000
    rows)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rss0 = peak = _rss_kb()
    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        first = None
        rows = -1  # the header row
        stopped = False
        for _ in response.streaming_content:
            rows += 1
            if rows == 1:
                first = (time.perf_counter() - t0) * 1000
            if rows % 20_000 == 0:
                peak = max(peak, _rss_kb())
            if max_rows and rows >= max_rows:
                stopped = True
                break
        if stopped:
            # A stream read to its end closed itself (and its server-side cursor).
            response.close()
        seconds = time.perf_counter() - t0
    _captured(ctx, f"audit: {label}", slow)
    peak = max(peak, _rss_kb())
    note = (
        f"{rows:,} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s, "
        f"RSS +{(peak - rss0) / 1024:.1f} MiB"
        + (" (stopped at --export-max-rows)" if stopped else "")
    )
    ms = first if first is not None else seconds * 1000
    return Measured("audit", label, "export", 1, ms, ms, len(ctx), rows, seconds, note)


def measure_call(
    group: str, label: str, call: Callable[[], Any], count: Callable[[Any], int],
    slow: list[SlowQuery],
) -> Measured:  # fmt: skip
    """One timed call of a function (a training run's data reads), with its queries;
    ``count`` says how many rows (cases, findings) it returned."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        t0 = time.perf_counter()
        result = call()
        seconds = time.perf_counter() - t0
    _captured(ctx, f"{group}: {label}", slow)
    rows = count(result)
    note = f"{rows:,} rows"
    if rows >= 1000 and seconds:
        note += f", {rows / seconds:,.0f} rows/s = {1e5 * seconds / rows:.1f} s per 100,000"
    return Measured(
        group, label, "call", 1, seconds * 1000, seconds * 1000, len(ctx), rows, seconds, note
    )


def training_calls() -> list[tuple[str, Callable[[], Any], Callable[[Any], int]]]:
    """The reads of a training run, as ``finetune.services._execute`` makes them (without
    reading any image), and the planning step of growing the frozen test set."""
    from diagnosis.registry.models import Task
    from finetune.adapters import ADAPTERS
    from finetune.services import test_set_grow

    image, triage = ADAPTERS[Task.IMAGE], ADAPTERS[Task.TRIAGE]
    labels = list(FINDING_WEIGHTS)
    return [
        ("image: offered labels (readiness)", lambda: image.offered_labels(None), len),
        (TRAINING_SET, lambda: image.training_data(labels), lambda d: d.n),
        ("image: test set", lambda: image.test_data(labels), lambda d: d.n),
        ("triage: training set", lambda: triage.training_data(), lambda d: d.n),
        ("test-set growth plan (dry run)",
         lambda: test_set_grow(per_finding=100, actor=None, seed=1, dry_run=True),
         lambda plan: plan.cases),
    ]  # fmt: skip


def measure(
    *,
    studies: int,
    samples: Samples,
    requests: int,
    budget_s: float,
    slow_s: float,
    export_max_rows: int,
    only: set[str] | None = None,
) -> tuple[list[Measured], list[SlowQuery]]:
    """Every probe, the CSV exports, the training reads and the audit chain's minute step
    (or those of the groups in ``only``)."""
    from medassist.services import audit_chain_extend

    slow: list[SlowQuery] = []
    from medassist.process import startup_objects_freeze

    startup_objects_freeze()  # what medassist.wsgi does before a web process serves
    by_role = clients()
    out = []
    for probe in probes(samples, studies=studies):
        if only and probe.group not in only:
            continue
        out.append(
            measure_probe(
                by_role[probe.role],
                probe,
                requests=requests,
                budget_s=budget_s,
                slow_s=slow_s,
                slow=slow,
            )
        )
        print(f"  {probe.group:<9} {probe.label:<44} p95 {out[-1].p95:9.1f} ms", flush=True)
    week = urlencode(
        {"date_from": samples.week_from.isoformat(), "date_to": samples.week_to.isoformat()}
    )
    for label, path in (
        ("CSV export, one week", f"/audit/export.csv?{week}"),
        (EXPORT_ALL, "/audit/export.csv"),
    ):
        if only and "audit" not in only:
            continue
        out.append(
            measure_export(by_role["auditor"], path, label, max_rows=export_max_rows, slow=slow)
        )
        print(f"  audit     {label:<44} {out[-1].note}", flush=True)
    calls = [*training_calls(), ("audit chain step (minute task)", audit_chain_extend, int)]
    for label, call, count in calls:
        group = "audit" if "chain" in label else "training"
        if only and group not in only:
            continue
        out.append(measure_call(group, label, call, count, slow))
        print(f"  {group:<9} {label:<44} {out[-1].p95:9.1f} ms  {out[-1].note}", flush=True)
    return out, slow


def explain(sql: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured SELECT, rolled back whatever it does."""
    from django.db import connection, transaction

    lines: list[str] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            lines = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
    except Exception as exc:  # an EXPLAIN that fails still lets the bench go on
        lines = [f"(EXPLAIN failed: {exc})"]
    return lines


def _print_table(studies: int, rows: list[Measured]) -> None:
    print(f"\n== {studies:,} studies ==")
    print(f"{'group':<9} {'measurement':<46} {'n':>3} {'p50 ms':>9} {'p95 ms':>9} {'queries':>7}")
    for m in rows:
        queries = "" if m.queries is None else str(m.queries)
        print(
            f"{m.group:<9} {m.label[:46]:<46} {m.n:>3} {m.p50:>9.1f} {m.p95:>9.1f} {queries:>7}"
            + (f"  {m.note}" if m.note else "")
        )


def _verdict(m: Measured, growth: float | None) -> str:
    """The issue's goal for this measurement at the largest size: "ok" or what misses."""
    if m.kind == "export":
        if m.label != EXPORT_ALL:
            return ""
        rate = m.rows_per_s or 0.0
        return "ok" if rate >= GOAL_EXPORT_ROWS_S else f"MISS rows/s < {GOAL_EXPORT_ROWS_S:,}"
    if m.kind == "call":
        if m.label == TRAINING_SET and m.rows and m.rows >= 10_000 and m.seconds is not None:
            per = 1e5 * m.seconds / m.rows
            return "ok" if per < GOAL_TRAINING_S else f"MISS {per:.0f} s per 100,000 rows"
        return ""
    misses = []
    if m.p95 > GOAL_P95_MS:
        misses.append(f"p95 > {GOAL_P95_MS:.0f}")
    if growth is not None and growth > GOAL_GROWTH:
        # Below NOISE_MS a shared machine's jitter is larger than any growth worth seeing.
        misses.append(f"growth > x{GOAL_GROWTH}" if m.p95 >= NOISE_MS else "")
    misses = [miss for miss in misses if miss]
    return "MISS " + ", ".join(misses) if misses else "ok"


def _print_growth(results: list[tuple[int, list[Measured]]]) -> None:
    if not results:
        return
    sizes = [s for s, _ in results]
    tables = [{(m.group, m.label): m for m in rows} for _, rows in results]
    head = "".join(f"{f'{sizes[k - 1]:,} -> {sizes[k]:,}':>26}" for k in range(1, len(sizes)))
    print("\n== growth of p95 between sizes (q a->b: queries per request changed) ==")
    print(f"{'group':<9} {'measurement':<46}{head}  goal at {sizes[-1]:,}")
    for key, last in tables[-1].items():
        cells = []
        growth = None
        for k in range(1, len(sizes)):
            before, after = tables[k - 1].get(key), tables[k].get(key)
            if before is None or after is None:
                cells.append(f"{'-':>26}")
                continue
            growth = after.p95 / before.p95 if before.p95 else float("inf")
            q = f" q {before.queries}->{after.queries}" if before.queries != after.queries else ""
            cells.append(f"{f'x{growth:.2f}{q}':>26}")
        print(f"{key[0]:<9} {key[1][:46]:<46}{''.join(cells)}  {_verdict(last, growth)}")


_PLAN_TIMES = ("Planning Time", "Execution Time")


def _print_slowest(studies: int, slow: list[SlowQuery], *, top: int = 3) -> None:
    """The ``top`` slowest SELECTs (one per page) with their plans. A captured statement that
    cannot be explained as captured is named and passed over, so the ranks all have plans."""
    seen: set[str] = set()
    rank = 0
    for q in sorted(slow, key=lambda q: -q.ms):
        if q.label in seen or not q.sql.lstrip().upper().startswith("SELECT"):
            continue
        seen.add(q.label)
        plan = explain(q.sql)
        if plan and plan[0].startswith("(EXPLAIN failed"):
            print(f"\n-- {q.ms:.1f} ms in {q.label}: {plan[0]}")
            continue
        rank += 1
        print(f"\n-- slowest query #{rank} at {studies:,} studies: {q.ms:.1f} ms in {q.label}")
        print(q.sql if len(q.sql) < 3000 else q.sql[:3000] + " ...")
        limit = 70 if rank == 1 else 35
        print("\n".join(plan[:limit]))
        if len(plan) > limit:
            # A long plan is cut, but its planning and execution times (its last lines) are
            # always shown: they are what the rank is about.
            times = [line for line in plan[limit:] if line.lstrip().startswith(_PLAN_TIMES)]
            print(f"   ... ({len(plan) - limit - len(times)} more plan lines)")
            print("\n".join(times))
        if rank == top:
            break


def _counts() -> dict[str, int]:
    from django.db import connection

    tables = _tables()
    out = {}
    with connection.cursor() as cursor:
        for name in ORDER:
            table = tables[name].model._meta.db_table
            cursor.execute(f"SELECT count(*) FROM {_quote(table)}")  # noqa: S608
            out[name] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        out["database bytes"] = cursor.fetchone()[0]
    return out


def ensure_frozen_test_set(*, per_finding: int = 200) -> str:
    """Freeze the image test set once (the real ``test_set_grow``, as an ML admin does);
    a database that has one keeps it. Returns what it did, in words."""
    from django.contrib.auth.models import User

    from finetune.models import TestSetCase
    from finetune.services import test_set_grow

    if TestSetCase.objects.exists():
        return "kept the frozen test set"
    t0 = time.perf_counter()
    admin = User.objects.get(username="bench-mladmin-01")
    plan = test_set_grow(per_finding=per_finding, actor=admin, seed=1)
    return (
        f"froze {plan.cases} test cases of {plan.patients} patients in "
        f"{time.perf_counter() - t0:.1f} s"
    )


def _newest_study() -> dt.datetime | None:
    """When the newest synthetic study of a kept database arrived (None: none yet)."""
    from django.db.models import Max

    from imaging.models import Study

    newest = Study.objects.filter(is_synthetic=True).aggregate(at=Max("created_at"))["at"]
    return None if newest is None else newest.replace(microsecond=0) + dt.timedelta(seconds=1)


def _existing_studies() -> int:
    from imaging.models import Study

    return Study.objects.filter(is_synthetic=True).count()


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=15, help="timed requests per page")
    parser.add_argument(
        "--budget-s", type=float, default=20.0, help="stop timing a page after this (>= 3 done)"
    )
    parser.add_argument(
        "--slow-s", type=float, default=15.0, help="time a page once if it takes longer"
    )
    parser.add_argument("--chunk", type=int, default=1000, help="studies per COPY transaction")
    parser.add_argument("--export-max-rows", type=int, default=0, help="0: the whole export")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--studies-per-year",
        type=float,
        default=STUDIES_PER_YEAR,
        help="the hospital's pace: the sizes are its history back from now at this rate",
    )
    parser.add_argument("--reuse", action="store_true", help="keep a database left by a run")
    parser.add_argument(
        "--database",
        default=DB_NAME,
        help="scratch database name (one per size lets --reuse re-measure each without a refill)",
    )
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--fill-only", action="store_true")
    parser.add_argument(
        "--only", default="", help="measure these groups only, e.g. audit,qido (after any fill)"
    )
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/x")
    _setup(database_url, reuse=args.reuse, name=args.database)
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    settings.ALLOWED_HOSTS = ["*"]
    with connection.cursor() as cursor:
        # The bench's own writes need not wait for the disk; nothing else runs on this DB.
        cursor.execute("SET synchronous_commit = off")
    # A kept database goes on from where its history ends (its newest study), so growing it
    # extends the same history and the samples fall in it; a new one ends now. (The pages
    # themselves ask about now: the triage board's department is the last day before the
    # request, so measure a kept database soon after its fill.)
    anchor = _newest_study() or timezone.now().replace(microsecond=0)
    ctx = prepare(anchor=anchor, seed=args.seed, studies_per_year=args.studies_per_year)
    done = _existing_studies()
    results: list[tuple[int, list[Measured]]] = []
    for size in [int(s) for s in args.sizes.split(",")]:
        if size < done:
            print(f"skipping {size:,}: the database already holds {done:,} studies")
            continue
        if size > done:
            print(f"\nfilling {done:,} -> {size:,} studies ({_load()})", flush=True)
            step = max(args.chunk, (size - done) // 10)

            def progress(
                hi: int, seconds: float, start: int = done, step: int = step, stop: int = size
            ) -> None:
                if (hi - start) % step < args.chunk or hi == stop:
                    print(
                        f"  {hi:>9,} studies  {seconds:7.1f} s  "
                        f"{(hi - start) / seconds:8.0f} studies/s  ({_load()})",
                        flush=True,
                    )

            report = fill(ctx, start=done, stop=size, chunk=args.chunk, progress=progress)
            vacuum = _vacuum_analyze()
            done = size
            counts = _counts()
            print(
                f"filled {report.studies:,} studies in {report.seconds:.1f} s "
                f"({sum(report.rows.values()) / report.seconds:,.0f} rows/s); "
                f"VACUUM ANALYZE {vacuum:.1f} s; database "
                f"{counts.pop('database bytes') / 2**30:.1f} GiB"
            )
            print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
            print(ensure_frozen_test_set())
        if args.fill_only:
            continue
        print(f"\nmeasuring at {size:,} studies ({_load()})", flush=True)
        samples = samples_of(anchor)
        rows, slow = measure(
            studies=size,
            samples=samples,
            requests=args.requests,
            budget_s=args.budget_s,
            slow_s=args.slow_s,
            export_max_rows=args.export_max_rows,
            only=set(filter(None, args.only.split(","))) or None,
        )
        results.append((size, rows))
        _print_table(size, rows)
        _print_slowest(size, slow)
        print(f"({_load()})", flush=True)
    for size, rows in results:
        _print_table(size, rows)
    _print_growth(results)
    if args.drop:
        _drop(database_url, args.database)


if __name__ == "__main__":
    main()
