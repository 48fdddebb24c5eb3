"""QIDO-RS study searches with a deep ``offset``: the page starts at the block of ids that
holds the offset (counts per block PostgreSQL keeps by trigger) instead of walking every
study before it, and gives exactly the studies the plain offset gives, after inserts and
deletes alike."""

from __future__ import annotations

import io
import random
import threading
from collections import Counter

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from imaging.dicomweb.query import QidoQuery
from imaging.dicomweb.selectors import study_search
from imaging.models import STUDY_BLOCK_BITS, Study, StudyBlockCount
from medassist.services import patient_get_or_register

pytestmark = pytest.mark.django_db

BLOCK = 1 << STUDY_BLOCK_BITS
UID = "1.2.826.0.1.3680043.10.1999.77"  # synthetic


def _studies(ids: list[int]) -> None:
    """Studies with these ids, written in one statement as a bulk load would."""
    patient = patient_get_or_register(mrn="BLOCKS-1", name="Synthetic Blocks")
    Study.objects.bulk_create(
        [
            Study(pk=pk, patient=patient, study_instance_uid=f"{UID}.{pk}", description="SYNTHETIC")
            for pk in ids
        ],
        batch_size=2000,
    )


def _kept() -> dict[int, int]:
    """Each block's count: the sum of its slots."""
    kept: Counter[int] = Counter()
    for block, studies in StudyBlockCount.objects.values_list("block", "studies"):
        kept[block] += studies
    return {block: n for block, n in kept.items() if n}


def _live() -> dict[int, int]:
    return dict(
        Counter(pk >> STUDY_BLOCK_BITS for pk in Study.objects.values_list("pk", flat=True))
    )


def _page(offset: int, limit: int = 5) -> list[int]:
    return [s.pk for s in study_search(query=QidoQuery())[offset : offset + limit]]


def _walked(offset: int, limit: int = 5) -> list[int]:
    return list(Study.objects.order_by("pk").values_list("pk", flat=True)[offset : offset + limit])


@pytest.fixture
def spread() -> list[int]:
    """9,000 studies over ten blocks of ids, unevenly (ids skipped, one block empty)."""
    rng = random.Random(7)
    ids = sorted(
        rng.sample(range(1, 4 * BLOCK), 6000) + rng.sample(range(6 * BLOCK, 10 * BLOCK), 3000)
    )
    _studies(ids)
    return ids


def test_postgres_counts_the_studies_of_each_block(postgres: None, spread: list[int]) -> None:
    assert sum(_kept().values()) == len(spread) == Study.objects.count()
    assert _kept() == _live()
    assert 4 not in _kept() and 5 not in _kept()


def test_a_deep_offset_gives_the_studies_the_walk_gives(postgres: None, spread: list[int]) -> None:
    total = len(spread)
    offsets = [
        0,
        1,
        BLOCK - 1,
        BLOCK,
        BLOCK + 1,
        4095 + 2000,
        5999,
        6000,
        6001,
        total - 3,
        total - 1,
    ]
    for offset in offsets:
        assert _page(offset) == _walked(offset) != [], offset
    assert _page(total) == [] == _walked(total)
    assert _page(total + 10 * BLOCK) == []


def test_inserts_and_deletes_keep_the_pages_exact(postgres: None, spread: list[int]) -> None:
    # Deleted across three blocks, one study at a time and in one statement; added after.
    Study.objects.filter(pk__gte=2 * BLOCK - 50, pk__lt=3 * BLOCK + 50).delete()
    Study.objects.get(pk=spread[-1]).delete()
    _studies([11 * BLOCK + 1, 11 * BLOCK + 2, 5 * BLOCK])

    assert _kept() == _live()
    for offset in [BLOCK, 2 * BLOCK, 3000, 4800, 5500, Study.objects.count() - 2]:
        assert _page(offset) == _walked(offset), offset


def test_a_study_id_never_changes(postgres: None, spread: list[int]) -> None:
    """The counts follow inserts and deletes; nothing changes an id, and an attempt is refused
    rather than silently leaving the counts wrong."""
    with pytest.raises(DatabaseError, match="id does not change"), transaction.atomic():
        Study.objects.filter(pk=spread[0]).update(id=20 * BLOCK)
    Study.objects.filter(pk=spread[0]).update(description="SYNTHETIC, checked")
    assert _kept() == _live()


def test_a_deep_offset_costs_one_query_more_than_page_one(
    postgres: None, spread: list[int]
) -> None:
    with CaptureQueriesContext(connection) as first:
        _page(0)
    with CaptureQueriesContext(connection) as deep:
        _page(7000)
    assert len(deep) == len(first) + 1
    # The page's ids are looked for from its block's first id: no walk of 7,000 studies.
    block_start = (_walked(7000, 1)[0] >> STUDY_BLOCK_BITS) << STUDY_BLOCK_BITS
    sql = " ".join(q["sql"] for q in deep.captured_queries)
    assert "imaging_studyblockcount" in sql
    assert f'."id" >= {block_start} ' in sql
    assert "OFFSET 7000" not in sql


def test_qido_rs_answers_a_deep_offset_with_the_right_studies(
    postgres: None, spread: list[int], doctor: User
) -> None:
    client = Client()
    client.force_login(doctor)
    answer = client.get(
        "/imaging/dicomweb/studies?limit=3&offset=7000", HTTP_ACCEPT="application/dicom+json"
    )
    assert answer.status_code == 200
    uids = [study["0020000D"]["Value"][0] for study in answer.json()]
    assert uids == [f"{UID}.{pk}" for pk in _walked(7000, 3)]


@pytest.mark.django_db(transaction=True)
def test_ingests_creating_studies_at_once_keep_the_counts_exact(postgres: None) -> None:
    """Four writers, each on its own connection, create studies in the same blocks at the
    same time, each in transactions of several statements (as an ingest batch is); every
    block's count is its studies, whatever slots they landed in (the slot is the writer's
    process id modulo 8: which ones they share is not chosen here)."""
    patient = patient_get_or_register(mrn="BLOCKS-2", name="Synthetic Blocks")
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            start.wait()
            for batch in range(5):
                with transaction.atomic():
                    for k in range(3):
                        pk = BLOCK - 30 + (batch * 3 + k) * 4 + w  # across blocks 0 and 1
                        Study.objects.create(
                            pk=pk, patient=patient, study_instance_uid=f"{UID}.c{pk}"
                        )
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert Study.objects.count() == 60
    assert _kept() == _live() == {0: 30, 1: 30}


def test_counts_emptied_or_wrong_are_walked_past_and_rebuilt(postgres: None, spread) -> None:
    """Counts emptied by hand (or lost in a restore of data only): the search walks its
    offset as without them; counts gone wrong are recounted by the rebuild command."""
    from django.core.management import call_command

    StudyBlockCount.objects.all().delete()
    for offset in (BLOCK, 7000, len(spread) - 1):
        assert _page(offset) == _walked(offset) != [], offset
    out = io.StringIO()
    call_command("study_block_counts_rebuild", stdout=out)
    assert f"{len(spread)} studies counted" in out.getvalue()
    assert _kept() == _live() and _page(7000) == _walked(7000)
    StudyBlockCount.objects.create(block=0, slot=3, studies=500)  # a doubled restore, say
    assert _page(7000) != _walked(7000)
    call_command("study_block_counts_rebuild", stdout=io.StringIO())
    assert _kept() == _live()
    assert _page(7000) == _walked(7000)
