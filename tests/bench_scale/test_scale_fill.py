"""The scale bench's fill (bench/scale.py) at a tiny size: the rows it writes by COPY are in the
promised proportions, the rows the services derive are what the services compute, and every
page the bench times loads over them. A bench whose data no service could have written would
time the wrong thing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.db.models import Count, Min
from django.test.utils import override_settings
from django.utils import timezone

from bench import scale
from diagnosis.encounters.models import Disposition, Encounter, FinalDiagnosis
from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.review.models import ReadingState, Review, StudyFinding, StudyUrgency
from diagnosis.review.selectors import current_label_reviews
from diagnosis.review.services import (
    _state_update,
    study_urgency_refresh,
    study_worklist_refresh,
)
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import encounter_esi_store, triage_assess
from imaging.models import Instance, Study
from medassist.models import AuditChainLink, AuditEvent, Patient
from medassist.services import audit_chain_verify

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

STUDIES = 200


@dataclass
class Filled:
    ctx: scale.Context
    report: scale.FillReport
    anchor: dt.datetime


@pytest.fixture
def filled() -> Filled:
    anchor = timezone.now().replace(microsecond=0)
    # 200 studies at a small clinic's pace: five weeks of history, as 10^5 are for the bench.
    ctx = scale.prepare(anchor=anchor, seed=3, studies_per_year=2_000)
    # Several chunks, so ids, sequences and the audit chain carry over between them.
    report = scale.fill(ctx, start=0, stop=STUDIES, chunk=64)
    return Filled(ctx, report, anchor)


def test_the_history_runs_back_from_the_anchor_at_the_hospitals_pace(filled: Filled) -> None:
    """200 studies at 2,000 a year: the 36.5 days before the anchor, none after it; each
    patient registered before their first study; every visit and review before the anchor."""
    span = dt.timedelta(seconds=STUDIES * filled.ctx.seconds_per_study)
    assert span == dt.timedelta(days=36.5)
    studies = Study.objects.filter(is_synthetic=True)
    times = list(studies.values_list("created_at", flat=True))
    assert filled.anchor - span <= min(times) and max(times) <= filled.anchor
    # Spread over the whole span, not bunched at one end.
    assert max(times) - min(times) > span * 0.8
    registered = dict(Patient.objects.values_list("pk", "created_at"))
    for patient_id, first in studies.values_list("patient_id").annotate(first=Min("created_at")):
        assert registered[patient_id] < first
    assert not Encounter.objects.filter(created_at__gt=filled.anchor).exists()
    assert not Review.objects.filter(created_at__gt=filled.anchor).exists()


def test_the_fill_writes_a_hospital_year_in_the_promised_proportions(filled: Filled) -> None:
    studies = Study.objects.filter(is_synthetic=True)
    assert studies.count() == STUDIES
    assert 50 <= Patient.objects.filter(mrn__startswith="SYN0").count() <= 90  # 1 per 3 studies
    per_study = studies.annotate(
        n_series=Count("series", distinct=True), n_instances=Count("series__instances")
    )
    series = [s.n_series for s in per_study]
    instances = [s.n_instances for s in per_study]
    assert min(series) >= 1 and max(series) <= 4
    assert min(instances) >= 1 and max(instances) <= 50
    assert 7 <= sum(instances) / STUDIES <= 18  # mean about 12
    n_instances = Instance.objects.count()
    assert n_instances == sum(instances)
    # One AI suggestion and one finished inference request per image.
    per_instance = Counter(Suggestion.objects.values_list("instance_id", flat=True))
    assert len(per_instance) == n_instances and set(per_instance.values()) == {1}
    assert InferenceRequest.objects.count() == n_instances
    assert not InferenceRequest.objects.filter(status__in=["pending", "running"]).exists()
    assert 0.5 <= Review.objects.count() / STUDIES <= 0.9  # 0.7 per study
    encounters = Encounter.objects.count()
    assert 0.35 <= encounters / STUDIES <= 0.65  # 0.5 per study
    assert not Encounter.objects.filter(triage_assessments__isnull=True).exists()
    assert AuditEvent.objects.count() == 10 * STUDIES
    # Synthetic wherever a field can say so.
    assert not studies.exclude(description__startswith=scale.SYNTHETIC).exists()
    assert not Review.objects.exclude(comment=scale.SYNTHETIC).exists()
    assert not Encounter.objects.exclude(chief_complaint__contains=scale.SYNTHETIC).exists()
    assert filled.report.rows["instance"] == n_instances


def test_the_derived_rows_are_what_the_services_compute(filled: Filled) -> None:
    urgency = set(StudyUrgency.objects.values_list("study_id", "priority", "key_suggestion_id"))
    assert len(urgency) == STUDIES
    study_findings = set(StudyFinding.objects.values_list("study_id", "finding_id"))
    assert study_findings
    study_urgency_refresh(study_ids=Study.objects.values_list("pk", flat=True))
    assert (
        set(StudyUrgency.objects.values_list("study_id", "priority", "key_suggestion_id"))
        == urgency
    )
    assert set(StudyFinding.objects.values_list("study_id", "finding_id")) == study_findings

    # The worklist state on each study row, as the review and inference services keep it.
    worklist_fields = (
        "pk",
        "worklist_priority",
        "unread",
        "second_read_pending",
        "in_adjudication",
    )
    worklist = set(Study.objects.values_list(*worklist_fields))
    assert {unread for _, _, unread, _, _ in worklist} == {True, False}
    study_worklist_refresh(study_ids=Study.objects.values_list("pk", flat=True))
    assert set(Study.objects.values_list(*worklist_fields)) == worklist

    # The encounters' current ESI and awaiting flag, as the triage services keep them.
    encounter_fields = ("pk", "esi_level", "esi_confirmed", "awaiting_diagnosis")
    encounters = set(Encounter.objects.values_list(*encounter_fields))
    assert {awaiting for *_, awaiting in encounters} == {True, False}
    for assessment in TriageAssessment.objects.filter(superseded_by__isnull=True):
        encounter_esi_store(assessment=assessment)
    assert set(Encounter.objects.values_list(*encounter_fields)) == encounters
    diagnosed = set(FinalDiagnosis.objects.values_list("encounter_id", flat=True))
    assert {pk for pk, *_, awaiting in encounters if not awaiting} == diagnosed

    states = set(ReadingState.objects.values_list("instance_id", "status", "label_id"))
    assert states
    # The review service's own derivation, run again on every reviewed image.
    for instance in Instance.objects.filter(reading_state__isnull=False):
        _state_update(instance=instance)
    assert set(ReadingState.objects.values_list("instance_id", "status", "label_id")) == states
    # One current review per reviewed image; a second read supersedes the first.
    current = Review.objects.filter(superseded_by__isnull=True)
    assert current.count() == len(states)
    labelled = {label for _, _, label in states}
    assert set(current.values_list("pk", flat=True)) == labelled
    assert current_label_reviews().count() == current.exclude(action="reject").count()
    assert all(r.findings.count() == (1 if r.finding_id else 0) for r in Review.objects.all())

    # The hash chain verifies from the first event to the last, nothing left unchained.
    report = audit_chain_verify()
    assert report.broken is None
    assert report.links == AuditChainLink.objects.count() == AuditEvent.objects.count()
    assert report.unchained == 0


def test_the_summaries_the_database_keeps_count_the_filled_rows(filled: Filled) -> None:
    """The rows go in by COPY, whose inserts fire the summaries' triggers like any other."""
    from diagnosis.registry.selectors import finding_label_counts, label_counts_of
    from diagnosis.review import stats

    assert finding_label_counts() == label_counts_of(ReadingState.objects.all())
    assert (
        sum(c.labelled for c in finding_label_counts().values()) == current_label_reviews().count()
    )
    stats.summaries_rebuild()  # only if a flush emptied them before the fill
    kept, live = stats._summary_figures(), stats._live_figures()
    assert sorted(kept.agreement) == sorted(live.agreement)
    assert [(w.week, w.n) for w in kept.waits] == [(w.week, w.n) for w in live.waits]
    assert [round(w.max_hours, 6) for w in kept.waits] == [
        round(w.max_hours, 6) for w in live.waits
    ]
    assert kept.synthetic and live.synthetic


def test_a_filled_triage_assessment_is_what_the_intake_service_computes(filled: Filled) -> None:
    assessment = (
        TriageAssessment.objects.select_related("encounter", "vitals")
        .filter(supersedes__isnull=True)
        .order_by("pk")
        .first()
    )
    assert assessment is not None
    skip = {"id", "encounter", "supersedes", "vitals", "assessed_by", "created_at", "latency_ms"}
    skip |= {"confirmed_level", "confirmed_by", "confirmed_at", "override_reason"}
    fields = [f.attname for f in TriageAssessment._meta.concrete_fields if f.name not in skip]
    with override_settings(MEDASSIST_WEB_SERVES_TRIAGE_MODEL=False), transaction.atomic():
        again = triage_assess(encounter=assessment.encounter, actor=None, vitals=assessment.vitals)
        transaction.set_rollback(True)
    assert {f: getattr(again, f) for f in fields} == {f: getattr(assessment, f) for f in fields}
    # Visits older than six hours have mostly ended; the newest are still in the department.
    assert Disposition.objects.exists() and FinalDiagnosis.objects.exists()


def test_every_page_the_bench_times_loads_over_the_filled_data(filled: Filled, settings) -> None:  # type: ignore[no-untyped-def]
    # 200 studies hold a few labels per finding: enough for a finding to be learnt here.
    settings.MEDASSIST_FINDING_MIN_LABELS = 1
    settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING = 1
    scale.ensure_frozen_test_set(per_finding=5)
    samples = scale.samples_of(filled.anchor)
    clients = scale.clients()
    for probe in scale.probes(samples, studies=STUDIES):
        response = scale.request(clients[probe.role], probe)
        assert response.status_code in probe.ok, (probe.label, probe.path)

    slow: list[scale.SlowQuery] = []
    export = scale.measure_export(
        clients["auditor"], "/audit/export.csv", scale.EXPORT_ALL, max_rows=0, slow=slow
    )
    assert export.rows is not None and export.rows >= 10 * STUDIES
    assert slow, "the export's query was captured"
    for label, call, count in scale.training_calls():
        measured = scale.measure_call("training", label, call, count, slow)
        assert measured.rows, label
