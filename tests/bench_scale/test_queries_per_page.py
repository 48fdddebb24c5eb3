"""A page costs the same number of queries however much data there is: every page the scale
bench times (the worklist, the case page, the triage board, the audit log, the statistics,
QIDO-RS and the ML admin), over the bench's own fill at two sizes. A query per row (or per
page of an OFFSET walk) would show here long before it shows in the timings."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import scale
from diagnosis.registry.models import Finding

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

GROUPS = {"worklist", "case", "triage", "audit", "stats", "qido", "ml admin"}
# No page of these groups needs more (the case page, with its images, suggestions, reads
# and viewer, needs 13); most need 5 to 10 (session, user, roles, the audit event of the
# view, then the page's own reads).
MOST = 13


def _qido(s: scale.Samples, studies: int) -> list[scale.Probe]:
    """QIDO-RS searches whose answers have the same shape at both sizes (some rows, and a
    full page or not), since a search whose page comes out empty or short asks one query
    less or more whatever the data size."""
    root = "/imaging/dicomweb"
    year = f"{s.week_to.year - 2}0101-{s.week_to.year + 1}1231"
    one_study = f"{root}/studies/{s.study_uid}"
    paths = {
        "studies, all": f"{root}/studies?limit=1000",
        "studies deep offset, full page": f"{root}/studies?limit=10&offset={studies // 2}",
        "studies StudyDate": f"{root}/studies?StudyDate={year}&limit=1000",
        "studies ModalitiesInStudy=CT": f"{root}/studies?ModalitiesInStudy=CT&limit=1000",
        "studies AccessionNumber": f"{root}/studies?AccessionNumber={s.accession}",
        "studies PatientID": f"{root}/studies?PatientID={s.mrn}",
        "series Modality=CT": f"{root}/series?Modality=CT&limit=1000",
        "series PatientID": f"{root}/series?PatientID={s.mrn}",
        "series of one study": f"{one_study}/series",
        "instances StudyDate, full page": f"{root}/instances?StudyDate={year}&limit=10",
        "instances PatientID": f"{root}/instances?PatientID={s.mrn}&limit=1000",
        "instances of one study": f"{one_study}/instances",
    }
    return [
        scale.Probe("qido", label, "doctor", path, accept="application/dicom+json")
        for label, path in paths.items()
    ]


def _queries_per_page(anchor, studies: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    samples = scale.samples_of(anchor)
    clients = scale.clients()
    counted = {}
    probes = [p for p in scale.probes(samples, studies=studies) if p.group != "qido"]
    for probe in [*probes, *_qido(samples, studies)]:
        if probe.group not in GROUPS:
            continue
        # The first view may build what later ones read (the statistics summaries).
        scale.request(clients[probe.role], probe)
        with CaptureQueriesContext(connection) as queries:
            response = scale.request(clients[probe.role], probe)
        assert response.status_code in probe.ok, (probe.label, probe.path)
        counted[f"{probe.group}: {probe.label}"] = len(queries)
    return counted


def test_every_page_takes_as_many_queries_over_three_times_the_data(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_FINDING_MIN_LABELS = 1
    settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING = 1
    anchor = timezone.now().replace(microsecond=0)
    # 60 then 180 studies at a small clinic's pace: 11 then 33 days of the same clinic.
    ctx = scale.prepare(anchor=anchor, seed=4, studies_per_year=2_000)
    scale.fill(ctx, start=0, stop=60, chunk=30)
    scale.ensure_frozen_test_set(per_finding=5)
    # A finding the champion does not know yet, so the findings page counts its readiness.
    Finding.objects.create(code="effusion", name="Effusion", sort_order=99)
    small = _queries_per_page(anchor, 60)
    scale.fill(ctx, start=60, stop=180, chunk=60)
    large = _queries_per_page(anchor, 180)
    assert large == small
    assert max(small.values()) <= MOST, small
    # The pages this covers, so a probe renamed in the bench is not silently dropped.
    for page in (
        "audit: page 1",
        "audit: deep page",
        "audit: mrn=<one patient>",
        "audit: action=review",
        "stats: statistics",
        "ml admin: findings page",
        "ml admin: test-set page",
        "qido: studies deep offset, full page",
    ):
        assert page in small
