"""The audit log cannot be changed, even past Django, and its hash chain shows any tampering."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from medassist.models import AuditChainLink, AuditEvent
from medassist.services import audit_chain_extend, audit_origin, audit_record

pytestmark = pytest.mark.django_db


def _refused(sql: str, params: list[object] | None = None) -> str:
    """Run ``sql`` and return the database's refusal (the test fails if it is accepted)."""
    with (
        pytest.raises(IntegrityError) as refusal,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(refusal.value)


def _verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def _tamper(*statements: tuple[str, list[object]]) -> None:
    """What a database owner could do: switch the trigger off, change rows, switch it on.

    SQLite has no trigger (the models' Python guard is all it has), so there the raw SQL
    simply runs.
    """
    postgres = connection.vendor == "postgresql"
    tables = ("medassist_auditevent", "medassist_auditchainlink")
    with connection.cursor() as cursor:
        if postgres:
            # Check the foreign keys of rows this test inserted, as a commit would:
            # PostgreSQL alters no table with such checks pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        if postgres:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_the_database_refuses_to_change_or_remove_an_audit_event_whoever_asks(
    postgres, doctor: User
) -> None:
    event = audit_record(actor=doctor, action="case.view")
    message = _refused(
        "UPDATE medassist_auditevent SET action = 'nothing' WHERE id = %s", [event.pk]
    )
    assert "append-only" in message and "UPDATE" in message
    assert "DELETE" in _refused("DELETE FROM medassist_auditevent WHERE id = %s", [event.pk])
    # The base manager skips the model's Python guard; the trigger still holds.
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(pk=event.pk).update(action="nothing")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent._base_manager.filter(pk=event.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.get(pk=event.pk).action == "case.view"


def test_the_database_refuses_to_empty_the_audit_log_with_truncate(postgres, doctor) -> None:
    audit_record(actor=doctor, action="case.view")
    with (
        pytest.raises(IntegrityError, match="TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        # The test suite lets its own flushes through (tests/conftest.py); production
        # sessions never set this.
        cursor.execute("SET LOCAL medassist.allow_audit_truncate = 'off'")
        # The row above was inserted in this test's transaction: check its deferred foreign
        # key now, or PostgreSQL refuses TRUNCATE for that before the trigger is asked.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE medassist_auditevent CASCADE")
    assert AuditEvent.objects.exists()


def test_chain_links_are_as_unchangeable_as_the_events(postgres, doctor) -> None:
    audit_record(actor=doctor, action="case.view")
    audit_chain_extend()
    link = AuditChainLink.objects.get()
    assert "append-only" in _refused(
        "UPDATE medassist_auditchainlink SET hash = %s WHERE sequence = %s", ["0" * 64, 1]
    )
    assert "append-only" in _refused("DELETE FROM medassist_auditchainlink")
    with pytest.raises(ValueError, match="append-only"):
        link.save()
    with pytest.raises(ValueError, match="append-only"):
        AuditChainLink.objects.all().delete()


def test_events_are_chained_in_id_order_after_they_are_written(doctor) -> None:
    first = [audit_record(actor=doctor, action=f"case.view.{n}") for n in range(3)]
    assert not AuditChainLink.objects.exists(), "writing an event takes no chain lock"
    assert audit_chain_extend() == 3
    later = audit_record(actor=doctor, action="case.view.later")
    assert audit_chain_extend() == 1
    assert audit_chain_extend() == 0
    links = list(AuditChainLink.objects.order_by("sequence"))
    assert [link.event_id for link in links] == [e.pk for e in [*first, later]]
    assert [link.sequence for link in links] == [1, 2, 3, 4]
    assert len({link.hash for link in links}) == 4


def test_verify_chains_what_is_new_and_reports_an_intact_chain(doctor) -> None:
    for n in range(5):
        audit_record(actor=doctor, action="case.view", detail={"n": n, "ratio": 0.1 * n})
    audit_chain_extend()
    audit_record(actor=None, action="training.fail", detail={"error": "ünïcode"})
    output = _verify()
    assert "6 events, chain intact" in output
    assert AuditChainLink.objects.count() == 6


def test_verify_names_the_event_whose_content_was_changed_after_chaining(doctor) -> None:
    events = [audit_record(actor=doctor, action="case.view", detail={"n": n}) for n in range(4)]
    audit_chain_extend()
    victim = events[2]
    _tamper(("UPDATE medassist_auditevent SET detail = '{\"n\": 99}' WHERE id = %s", [victim.pk]))
    with pytest.raises(CommandError) as failure:
        _verify()
    assert failure.value.returncode == 1
    assert f"event {victim.pk} (sequence 3, case.view) was changed" in str(failure.value)
    assert "after 2 intact events" in str(failure.value)


def test_verify_notices_chained_events_that_were_removed(doctor) -> None:
    events = [audit_record(actor=doctor, action="case.view", detail={"n": n}) for n in range(4)]
    audit_chain_extend()
    gone = events[1]
    _tamper(
        ("DELETE FROM medassist_auditchainlink WHERE event_id = %s", [gone.pk]),
        ("DELETE FROM medassist_auditevent WHERE id = %s", [gone.pk]),
    )
    with pytest.raises(CommandError) as failure:
        _verify()
    assert "sequence 2 is missing" in str(failure.value)


def test_the_chain_step_runs_as_a_periodic_task_on_the_default_queue(settings, doctor) -> None:
    from medassist.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if "audit_chain" in e["task"]]
    assert [e["task"] for e in entries] == ["medassist.tasks.audit_chain"]
    assert entries[0]["schedule"] <= 60
    assert "medassist.tasks.audit_chain" not in settings.CELERY_TASK_ROUTES
    audit_record(actor=doctor, action="case.view")
    app.loader.import_default_modules()
    app.tasks["medassist.tasks.audit_chain"].apply()
    assert AuditChainLink.objects.count() == 1


def test_events_written_within_an_origin_record_its_address_and_peer(doctor) -> None:
    with audit_origin(remote_addr="10.1.2.3", calling_ae_title="CT_SCANNER"):
        implicit = audit_record(actor=None, action="instance.ingest", detail={"source": "x"})
        explicit = audit_record(actor=doctor, action="case.view", remote_addr="10.9.9.9")
    outside = audit_record(actor=doctor, action="case.view")
    implicit.refresh_from_db()
    assert implicit.remote_addr == "10.1.2.3"
    assert implicit.detail == {"source": "x", "calling_ae_title": "CT_SCANNER"}
    assert AuditEvent.objects.get(pk=explicit.pk).remote_addr == "10.9.9.9"
    assert AuditEvent.objects.get(pk=outside.pk).remote_addr is None
