"""The doctors' worklist: one row per study, most urgent first, filtered, paged, live."""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnosis.registry.models import Finding
from diagnosis.review.services import review_assign, review_submit
from imaging.ingest.services import instance_ingest
from imaging.models import Series
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from medassist.roles import Role
from tests.conftest import make_user
from tests.diagnosis.review import builders
from tests.web.helpers import text_of

pytestmark = pytest.mark.django_db

URL = "/cases/"


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


def _order(client: Client, query: str = "") -> list[str]:
    """Study descriptions in the order the worklist shows them."""
    response = client.get(reverse("diagnosis:worklist") + query)
    assert response.status_code == 200
    return [row.study.description for row in response.context["rows"]]


def test_the_most_urgent_study_comes_first_then_the_longest_waiting(
    doctor_client: Client,
) -> None:
    routine_old = builders.study(finding="normal", probability=0.95, waiting_hours=48)
    unsure_normal = builders.study(finding="normal", probability=0.55, waiting_hours=1)
    nodule_likely = builders.study(finding="nodule", probability=0.9, waiting_hours=1)
    opacity_less = builders.study(finding="opacity", probability=0.6, waiting_hours=1)
    attention = builders.study(finding="normal", probability=0.5, needs_attention=True)
    no_result = builders.study(finding=None, waiting_hours=100)
    same_old = builders.study(finding="nodule", probability=0.9, waiting_hours=5)

    assert _order(doctor_client) == [
        s.description
        for s in [
            attention,
            same_old,  # same urgency as nodule_likely, but waiting longer
            nodule_likely,
            opacity_less,
            unsure_normal,
            routine_old,
            no_result,
        ]
    ]


def test_a_study_with_several_images_is_one_row_ranked_by_its_most_urgent_image(
    doctor_client: Client,
) -> None:
    multi = builders.study(finding="nodule", probability=0.8, images=4)
    builders.study(finding="normal", probability=0.9)
    rows = doctor_client.get(URL).context["rows"]
    assert len(rows) == 2
    assert rows[0].study == multi


def test_filters_narrow_the_list_and_reviewed_studies_leave_it(
    doctor_client: Client, doctor: User
) -> None:
    ct_nodule = builders.study(finding="nodule", modality="CT")
    cr_normal = builders.study(finding="normal", modality="CR", waiting_hours=30)
    done = builders.study(finding="opacity", modality="CR")
    review_submit(
        instance=builders.first_instance(done),
        reviewer=doctor,
        finding=Finding.objects.get(code="opacity"),
    )

    assert set(_order(doctor_client)) == {ct_nodule.description, cr_normal.description}
    assert _order(doctor_client, "?modality=CT") == [ct_nodule.description]
    assert _order(doctor_client, "?finding=normal") == [cr_normal.description]
    assert _order(doctor_client, "?status=reviewed") == [done.description]
    assert len(_order(doctor_client, "?status=all")) == 3
    today = ct_nodule.created_at.date().isoformat()
    assert cr_normal.description not in _order(doctor_client, f"?from={today}")

    review_assign(study=cr_normal, assignee=doctor, assigned_by=None)
    assert _order(doctor_client, "?mine=1") == [cr_normal.description]


def test_a_bad_date_in_the_filters_is_explained_not_an_error(doctor_client: Client) -> None:
    builders.study()
    response = doctor_client.get(URL + "?from=yesterday")
    assert response.status_code == 200
    assert "is not a date (use YYYY-MM-DD)" in text_of(response)


def test_pages_hold_the_page_size_and_keep_the_filters_in_their_links(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 3
    for hours in range(7):
        builders.study(finding="normal", waiting_hours=hours + 1, modality="CR")
    first = doctor_client.get(URL + "?modality=CR")
    third = doctor_client.get(URL + "?modality=CR&page=3")
    assert len(first.context["rows"]) == 3 and len(third.context["rows"]) == 1
    assert "Page 1 of 3 (7 studies)" in text_of(first)
    assert "modality=CR&page=2" in text_of(first)


def test_the_table_polls_and_an_htmx_poll_gets_the_table_with_the_same_filters(
    doctor_client: Client,
) -> None:
    builders.study(finding="nodule", modality="CT")
    page = text_of(doctor_client.get(URL + "?modality=CT"))
    assert 'hx-trigger="every ' in page and 'hx-get="/cases/?status=awaiting&modality=CT' in page

    builders.study(finding="opacity", modality="CT")  # a new suggestion arrives
    poll = doctor_client.get(URL + "?modality=CT", HTTP_HX_REQUEST="true")
    body = text_of(poll)
    assert "<html" not in body and 'id="worklist"' in body
    assert body.count("data-case-url") == 2


@pytest.mark.parametrize("page_size", [10, 50])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(
    doctor_client: Client, settings, django_assert_max_num_queries, page_size: int
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = page_size
    for i in range(60):
        builders.study(finding=["normal", "nodule", "opacity"][i % 3], images=1 + i % 2)
    # Session, user, groups (role check), count, rows, suggestions, modalities, findings,
    # the encounters awaiting a diagnosis, and the audit event of the page view: a fixed number
    # whatever the page size (the parametrisation runs 10 and 50 rows against one bound).
    with django_assert_max_num_queries(10):
        response = doctor_client.get(URL)
    assert len(response.context["rows"]) == page_size


def test_only_doctors_see_the_worklist(client: Client) -> None:
    client.force_login(make_user("nurse-2", "nurse"))
    assert client.get(URL).status_code == 403


def test_encounters_await_a_diagnosis_most_acute_first_then_longest_waiting(
    doctor_client: Client, nurse
) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from diagnosis.encounters.models import Encounter
    from diagnosis.encounters.services import final_diagnosis_record
    from diagnosis.triage.models import TriageAssessment
    from diagnosis.triage.services import encounter_esi_store
    from medassist.models import Patient

    def encounter(mrn: str, *, esi: int | None, confirmed: int | None = None, minutes: int = 0):  # type: ignore[no-untyped-def]
        patient = Patient.objects.create(mrn=mrn, name=f"Synthetic {mrn}", is_synthetic=True)
        e = Encounter.objects.create(
            patient=patient,
            opened_by=nurse,
            chief_complaint="c/o pain",
            heart_rate=80,
            respiratory_rate=16,
            spo2=98,
            systolic_bp=120,
            diastolic_bp=80,
            temperature_c=Decimal("37.0"),
            pain=2,
            mental_status="A",
        )
        Encounter.objects.filter(pk=e.pk).update(
            created_at=timezone.now() - dt.timedelta(minutes=minutes)
        )
        if esi is not None:
            assessment = TriageAssessment.objects.create(
                encounter=e,
                suggested_level=esi,
                confirmed_level=confirmed,
                input_text="x",
                input_sha256="0" * 64,
                latency_ms=1.0,
            )
            # What triage_assess / triage_confirm do with every assessment they store.
            encounter_esi_store(assessment=assessment)
        return e

    waiting_long_esi3 = encounter("E1", esi=3, minutes=90)
    recent_esi2 = encounter("E2", esi=4, confirmed=2, minutes=5)
    recent_esi3 = encounter("E3", esi=3, minutes=10)
    untriaged = encounter("E4", esi=None, minutes=200)
    diagnosed = encounter("E5", esi=1, minutes=300)
    final_diagnosis_record(encounter=diagnosed, doctor=nurse, icd10_code="R07.4")

    body = doctor_client.get(URL).content.decode()
    order = [
        body.index(f'data-encounter="{e.pk}"')
        for e in (recent_esi2, waiting_long_esi3, recent_esi3, untriaged)
    ]
    assert order == sorted(order)
    assert f'data-encounter="{diagnosed.pk}"' not in body


def test_a_new_image_brings_a_read_study_back_to_the_worklist(
    doctor_client: Client, doctor: User
) -> None:
    """The worklist reads the state stored on the study; ingest and reviews keep it true."""
    read = builders.study(finding="opacity", modality="CR")
    review_submit(
        instance=builders.first_instance(read),
        reviewer=doctor,
        finding=Finding.objects.get(code="opacity"),
    )
    assert read.description not in _order(doctor_client)
    assert _order(doctor_client, "?status=reviewed") == [read.description]

    late = synthetic_dicom(
        finding="normal",
        patient_id=read.patient.mrn,
        patient_name="SYNTHETIC^LATE",
        study_uid=read.study_instance_uid,
        size=32,
        rng=np.random.default_rng(1),
    )
    instance_ingest(data=dicom_bytes(late), uploaded_by=doctor, source="upload")

    assert _order(doctor_client) == [read.description]
    assert _order(doctor_client, "?status=reviewed") == []


def test_a_deep_page_costs_what_the_first_page_costs(doctor_client: Client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 5
    for i in range(23):
        builders.study(finding=["normal", "nodule", "opacity"][i % 3], waiting_hours=i + 1)
    with CaptureQueriesContext(connection) as first:
        first_page = doctor_client.get(URL)
    with CaptureQueriesContext(connection) as deep:
        deep_page = doctor_client.get(URL + "?page=5")
    assert len(deep.captured_queries) == len(first.captured_queries)
    assert len(first_page.context["rows"]) == 5 and len(deep_page.context["rows"]) == 3
    # Same order as one list: the deep page continues where page 4 stopped.
    everything = [r.study.description for r in first_page.context["rows"]]
    for page in range(2, 6):
        everything += _order(doctor_client, f"?page={page}")
    assert len(set(everything)) == 23


def test_past_the_count_cap_the_worklist_says_more_than_and_pages_go_on(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 3
    settings.MEDASSIST_WORKLIST_COUNT_CAP = 6
    for i in range(11):
        builders.study(finding="nodule", modality="CT", waiting_hours=i + 1)
    first = doctor_client.get(URL + "?status=all")
    assert "Page 1 (more than 6 studies)" in text_of(first)
    assert "status=all&page=2" in text_of(first)
    # Next goes on past the cap, by the place of each page's last study.
    seen, response = _follow_next(doctor_client, first)
    assert len(seen) == len(set(seen)) == 11  # every study once, past the cap too
    assert len(response.context["rows"]) == 2  # the last page, with no Next
    # A page number past the numbered pages (6 studies: 2 pages) shows the deepest, says so,
    # and its Next goes on from there.
    deep = doctor_client.get(URL + "?status=all&page=4")
    assert deep.context["page"].number == 2
    assert "Page 4 was asked for: page numbers stop at 2" in text_of(deep)
    assert [r.study.pk for r in deep.context["rows"]] == seen[3:6]
    assert "page=3&after=" in _link(deep, "next")
    # Under the cap the count is exact.
    settings.MEDASSIST_WORKLIST_COUNT_CAP = 100
    assert "Page 1 of 4 (11 studies)" in text_of(doctor_client.get(URL + "?status=all"))


def test_a_narrowed_worklist_counts_among_the_first_studies_of_its_status_and_goes_on(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    """A modality filter counts its studies among the first COUNT_WINDOW of the status, in
    order: a rare modality costs no more than a common one. The pages it numbers are exact;
    Next goes on past the window to every matching study."""
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 2
    settings.MEDASSIST_WORKLIST_COUNT_WINDOW = 6
    # Same urgency, so the longest waiting first: i = 11, 10, ..., 0; CT when i % 3 == 0.
    ct = {}
    for i in range(12):
        s = builders.study(finding="nodule", modality="CT" if i % 3 == 0 else "MR",
                           waiting_hours=i + 1)  # fmt: skip
        if i % 3 == 0:
            ct[i] = s.pk
    first = doctor_client.get(URL + "?modality=CT")
    assert "Page 1 (2 among the first 6 studies of this status; Next goes on)" in text_of(first)
    assert [r.study.pk for r in first.context["rows"]] == [ct[9], ct[6]]
    seen, last = _follow_next(doctor_client, first)
    assert seen == [ct[9], ct[6], ct[3], ct[0]]  # past the window too, each once, in order
    assert [r.study.pk for r in last.context["rows"]] == [ct[3], ct[0]]
    deep = doctor_client.get(URL + "?modality=CT&page=3")
    assert deep.context["page"].number == 1
    assert "page numbers stop at 1 (numbered pages cover the first 6 studies" in text_of(deep)
    # The status alone still counts up to the cap; with a window as large as the status, the
    # filtered count is exact.
    assert "Page 1 of 6 (12 studies)" in text_of(doctor_client.get(URL))
    settings.MEDASSIST_WORKLIST_COUNT_WINDOW = 100
    assert "Page 1 of 2 (4 studies)" in text_of(doctor_client.get(URL + "?modality=CT"))


def _follow_next(client: Client, first):  # type: ignore[no-untyped-def]
    """The studies of ``first`` and of every page its Next links lead to, and the last page."""
    seen, response = [], first
    while True:
        seen += [row.study.pk for row in response.context["rows"]]
        query = _link(response, "next")
        if query is None:
            return seen, response
        response = client.get(URL + query)


def _link(response, rel: str) -> str | None:  # type: ignore[no-untyped-def]
    """The query of the page's Next or Previous link, as the browser follows it."""
    import html
    import re

    found = re.search(rf'<a href="(\?[^"]*)" rel="{rel}">', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def test_next_and_previous_name_the_study_beside_the_page_and_show_the_same_rows(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 4
    for i in range(15):
        builders.study(finding=["normal", "nodule", "opacity"][i % 3], waiting_hours=i + 1)
    by_offset = [_order(doctor_client, f"?page={page}") for page in range(1, 5)]

    # Following Next from the first page: each link carries the last study shown.
    response, pages, queries = doctor_client.get(URL), [], []
    while True:
        pages.append([r.study.description for r in response.context["rows"]])
        query = _link(response, "next")
        if query is None:
            break
        assert f"page={len(pages) + 1}&after=" in query
        with CaptureQueriesContext(connection) as ctx:
            response = doctor_client.get(URL + query)
        queries.append(len(ctx.captured_queries))
    assert pages == by_offset
    assert len(set(queries)) == 1  # page 2 and page 4 cost the same
    # The refresh of a page reached so keeps showing that page.
    assert "page=4&amp;after=" in response.content.decode()

    # Previous goes back to the same rows, by the first study shown.
    back = doctor_client.get(URL + _link(response, "prev"))
    assert [r.study.description for r in back.context["rows"]] == by_offset[2]
    first = doctor_client.get(URL + _link(doctor_client.get(URL + "?page=2"), "prev"))
    assert [r.study.description for r in first.context["rows"]] == by_offset[0]

    # A neighbour that is not a study (gone, or typed by hand) leaves the page number alone.
    assert _order(doctor_client, "?page=3&after=99999999") == by_offset[2]
    assert _order(doctor_client, "?page=3&after=abc") == by_offset[2]


def test_next_goes_on_to_the_end_after_colleagues_read_the_pages_before(
    doctor_client: Client, doctor: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 4
    studies = [builders.study(finding="normal", waiting_hours=40 - i) for i in range(16)]
    page_2 = doctor_client.get(URL + "?page=2")
    link = _link(page_2, "next")
    assert link is not None
    # Meanwhile a colleague reads the first page's four studies: the list is 12 long now.
    colleague = make_user("dr-colleague", Role.DOCTOR)
    for s in studies[:4]:
        review_submit(
            instance=builders.first_instance(s),
            reviewer=colleague,
            finding=Finding.objects.get(code="normal"),
        )
    page_3 = doctor_client.get(URL + link)
    shown = [r.study.pk for r in page_3.context["rows"]]
    assert shown == [s.pk for s in studies[8:12]]  # the page after the one on screen
    page_4 = doctor_client.get(URL + _link(page_3, "next"))
    assert [r.study.pk for r in page_4.context["rows"]] == [s.pk for s in studies[12:16]]
    assert _link(page_4, "next") is None


def test_next_continues_from_the_page_shown_even_if_its_last_study_was_re_scored(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    from imaging.models import Study

    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 3
    studies = [builders.study(finding="normal", waiting_hours=30 - i) for i in range(9)]
    page_1 = doctor_client.get(URL)
    link = _link(page_1, "next")
    # The page's last study gets a new, less urgent score (as a new image would give it).
    last = page_1.context["rows"][-1].study
    Study.objects.filter(pk=last.pk).update(worklist_priority=-1.0)
    page_2 = doctor_client.get(URL + link)
    assert [r.study.pk for r in page_2.context["rows"]] == [s.pk for s in studies[3:6]]


def test_a_narrowed_worklist_whose_matches_fill_its_last_page_has_no_next(
    doctor_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    """Past the window the count is a lower bound, so whether a study follows is asked: the
    last page has no Next to an empty one, within the window or beyond it."""
    settings.MEDASSIST_WORKLIST_PAGE_SIZE = 2
    settings.MEDASSIST_WORKLIST_COUNT_WINDOW = 6
    # Longest waiting first: i = 11 ... 0; two CT studies at the top, two far below.
    ct = []
    for i in range(12):
        s = builders.study(finding="nodule", modality="CT" if i in (11, 10) else "MR",
                           waiting_hours=i + 1)  # fmt: skip
        if i in (11, 10):
            ct.append(s.pk)
    only = doctor_client.get(URL + "?modality=CT")
    assert [r.study.pk for r in only.context["rows"]] == ct[::-1]  # i = 11 waited longest
    assert _link(only, "next") is None
    assert "Page 1 (2 among the first 6 studies of this status)" in text_of(only)
    # None within the window: page 1 lists the first ones after it, and says so.
    Series.objects.filter(study_id__in=ct).update(modality="MR")
    late = [builders.study(finding="nodule", modality="US", waiting_hours=0.5).pk]
    beyond = doctor_client.get(URL + "?modality=US")
    assert [r.study.pk for r in beyond.context["rows"]] == late
    assert "none among the first 6 studies of this status: these come after them" in (
        text_of(beyond)
    )
    assert _link(beyond, "next") is None
