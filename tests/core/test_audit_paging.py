"""The audit log at scale: paging by cursor, the capped count, the patient filter through the
objects' indexes, and the CSV export read in keyset chunks."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from unittest import mock

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from medassist import audit_views
from medassist.audit_views import Cursor
from medassist.models import AuditEvent
from medassist.services import audit_record
from tests.conftest import make_user
from tests.diagnosis.encounters.helpers import encounter_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(db) -> User:  # type: ignore[no-untyped-def]
    user = make_user("auditor-test", None)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="medassist", codename="view_auditevent")
    )
    return user


@pytest.fixture
def client(auditor: User) -> Client:
    client = Client()
    client.force_login(auditor)
    return client


def _events(doctor: User, n: int, *, at: dt.datetime | None = None) -> None:
    """``n`` case.view events with detail n=0..n-1, all at the same moment when ``at`` is
    given (ties on ``at`` are broken by id)."""
    for k in range(n):
        if at is None:
            audit_record(actor=doctor, action="case.view", detail={"n": k})
        else:
            with mock.patch("django.utils.timezone.now", return_value=at):
                audit_record(actor=doctor, action="case.view", detail={"n": k})


def _shown(body: str) -> list[int]:
    return [int(n) for n in re.findall(r"n=(\d+)<", body)]


def _link(body: str, rel: str) -> str | None:
    found = re.search(rf'<a href="\?([^"]*)"[^>]*rel="{rel}"', body)
    return found.group(1).replace("&amp;", "&") if found else None


def test_older_and_newer_links_walk_the_whole_log_by_cursor(client: Client, doctor) -> None:
    # Half the events share one timestamp, so the cursor must break ties on the id.
    _events(doctor, 70)
    _events(doctor, 60, at=timezone.now() + dt.timedelta(seconds=5))
    seen: list[int] = []
    pages = []
    query = "action=case"
    while query is not None:
        body = client.get(f"{reverse('audit')}?{query}").content.decode()
        pages.append(body)
        seen.extend(_shown(body))
        query = _link(body, "next")
    assert len(pages) == 3
    # Every event once, newest first: the tied batch (written last) first, each by id.
    assert seen == list(range(59, -1, -1)) + list(range(69, -1, -1))
    assert "page 3 of 3" in pages[-1] and "130 events match" in pages[-1]
    # Newer from the last page goes back to the second page, then to the first.
    second = client.get(f"{reverse('audit')}?{_link(pages[-1], 'prev')}").content.decode()
    assert _shown(second) == _shown(pages[1]) and "page 2 of 3" in second
    first_query = _link(second, "prev")
    assert "before" not in first_query and "after" not in first_query
    assert _shown(client.get(f"{reverse('audit')}?{first_query}").content.decode()) == _shown(
        pages[0]
    )


def test_a_cursor_page_is_not_shifted_by_events_written_since(client: Client, doctor) -> None:
    _events(doctor, 60)
    first = client.get(reverse("audit"), {"action": "case"}).content.decode()
    older = _link(first, "next")
    _events(doctor, 7)  # newer events arrive while the auditor reads page 1
    second = client.get(f"{reverse('audit')}?{older}").content.decode()
    assert _shown(second) == list(range(9, -1, -1))


def test_the_count_stops_at_the_cap_and_says_so(client: Client, doctor, monkeypatch) -> None:
    monkeypatch.setattr(audit_views, "COUNT_CAP", 20)
    monkeypatch.setattr(audit_views, "PAGE_SIZE", 5)
    monkeypatch.setattr(audit_views, "MAX_NUMBERED_PAGE", 4)
    _events(doctor, 30)
    body = client.get(reverse("audit"), {"action": "case"}).content.decode()
    assert "more than 20 events match · page 1" in body and "page 1 of" not in body
    # A page number past the numbered pages shows the last numbered one and says so.
    deep = client.get(reverse("audit"), {"action": "case", "page": 999}).content.decode()
    assert 'data-testid="audit-too-deep"' in deep
    assert _shown(deep) == [14, 13, 12, 11, 10]
    # ... and its Older link goes on past it.
    assert _shown(client.get(f"{reverse('audit')}?{_link(deep, 'next')}").content.decode()) == [
        9,
        8,
        7,
        6,
        5,
    ]


def test_a_page_number_past_the_end_shows_the_last_page(client: Client, doctor) -> None:
    _events(doctor, 60)
    body = client.get(reverse("audit"), {"action": "case", "page": 7}).content.decode()
    assert "page 2 of 2" in body and _shown(body) == list(range(9, -1, -1))


@pytest.mark.parametrize("cursor", ["nonsense", "12_", "_4", "99999999999999999999_1", "-5_3"])
def test_a_mangled_cursor_shows_the_newest_events(client: Client, doctor, cursor: str) -> None:
    _events(doctor, 3)
    response = client.get(reverse("audit"), {"before": cursor})
    assert response.status_code == 200
    assert _shown(response.content.decode())[:3] == [2, 1, 0]


def test_the_cursor_round_trips_to_the_microsecond() -> None:
    moment = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert Cursor.parse(str(Cursor(moment, 42))) == Cursor(moment, 42)


def test_viewing_a_cursor_page_is_audited_with_the_cursor(client: Client, auditor, doctor) -> None:
    _events(doctor, 60)
    first = client.get(reverse("audit")).content.decode()
    client.get(f"{reverse('audit')}?{_link(first, 'next')}")
    viewed = AuditEvent.objects.filter(actor=auditor, action="audit.view").order_by("pk")
    assert "before" not in viewed[0].detail
    assert viewed[1].detail["page"] == 2 and Cursor.parse(viewed[1].detail["before"])


def test_the_mrn_filter_finds_events_about_every_kind_of_record(client: Client, doctor, nurse):
    from imaging.models import Instance
    from tests.factories import ingested_instance

    encounter = encounter_of(nurse, mrn="SYN-AUDIT-C")
    instance = ingested_instance(31)
    patient = instance.series.study.patient
    other = ingested_instance(32)
    audit_record(actor=doctor, action="case.view", obj=instance)
    audit_record(actor=doctor, action="study.view", obj=instance.series.study)
    audit_record(actor=doctor, action="patient.view", obj=patient)
    audit_record(actor=doctor, action="case.view.other", obj=other)
    audit_record(actor=doctor, action="encounter.view", obj=encounter)
    audit_record(actor=doctor, action="vitals.record", detail={"mrn": patient.mrn})
    body = client.get(reverse("audit"), {"mrn": patient.mrn}).content.decode()
    actions = re.findall(r"<td>[^<]*</td><td>[^<]*</td><td>([a-z_.]+)</td>", body)
    assert {"case.view", "study.view", "patient.view", "vitals.record"} <= set(actions)
    assert "case.view.other" not in actions and "encounter.view" not in actions
    # The ingest of this patient's image is about them too; the other image's is not.
    ingests = AuditEvent.objects.filter(action="instance.ingest")
    assert actions.count("instance.ingest") == ingests.filter(object_id=str(instance.pk)).count()
    assert f"{len(actions)} events match" in body
    assert Instance.objects.count() == 2
    # An MRN nobody has: only events that name it in their detail.
    audit_record(actor=doctor, action="lookup.miss", detail={"mrn": "NOBODY-1"})
    body = client.get(reverse("audit"), {"mrn": "NOBODY-1"}).content.decode()
    assert "lookup.miss" in body and "1 event match" in body


def test_the_export_reads_in_chunks_and_keeps_every_event_once(
    client: Client, doctor, monkeypatch
) -> None:
    monkeypatch.setattr(audit_views, "EXPORT_CHUNK", 7)
    _events(doctor, 20)
    _events(doctor, 15, at=timezone.now() + dt.timedelta(seconds=5))
    response = client.get(reverse("audit-export"), {"action": "case"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["detail"] for r in rows] == [
        f'{{"n": {k}}}' for k in [*range(14, -1, -1), *range(19, -1, -1)]
    ]
