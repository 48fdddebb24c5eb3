"""Writes of the core app: the audit log (and its chain) and patient registration."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import CHAIN_GENESIS, AuditChainLink, AuditEvent, Patient, chain_hash


def client_ip(request: HttpRequest) -> str | None:
    """The address an audit event records for a request (as the web server saw it)."""
    return request.META.get("REMOTE_ADDR")


@dataclass(frozen=True)
class AuditOrigin:
    """Where the work being done now came from: a web client's address, a DICOM peer."""

    remote_addr: str | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


_origin: ContextVar[AuditOrigin | None] = ContextVar("medassist_audit_origin", default=None)


@contextmanager
def audit_origin(*, remote_addr: str | None, **detail: Any) -> Iterator[None]:
    """Within this block, every audit event records where the work came from.

    An event written without its own ``remote_addr`` gets this one, and ``detail`` keys it
    does not set itself (a C-STORE peer's ``calling_ae_title``). The access middleware wraps
    each request in it, so a service deep below a view (registering the patient of an
    upload, opening an encounter) records the client's address without every layer in
    between passing it on. The context is per thread and per asyncio task.
    """
    token = _origin.set(AuditOrigin(remote_addr=remote_addr, detail=detail))
    try:
        yield
    finally:
        _origin.reset(token)


_batch: ContextVar[list[AuditEvent] | None] = ContextVar("medassist_audit_batch", default=None)


@contextmanager
def audit_batch() -> Iterator[None]:
    """Within this block, the events :func:`audit_record` and :func:`audit_record_many`
    make are written together, in one INSERT, in the order they were made, when the block
    ends without an exception (and not at all when it raises: a batch inside a batch drops
    its own events when it raises, and the outer one writes the rest at its end).

    Use it inside the transaction whose rows the events record (it refuses to start outside
    one: the rows would commit before their events), around writes that each audit
    themselves (the nurse's intake registers a patient, opens an encounter and stores its
    assessment: one INSERT for three events). An event recorded in the block has no primary
    key until the block ends, and its time is the block's end (the same transaction).
    A block that raises takes its writes with it: a batch inside a batch is a savepoint, and
    the outermost marks the caller's transaction for rollback, so no write of it commits
    without its events.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_batch() belongs inside the transaction of what it records.")
    events = _batch.get()
    if events is not None:  # inside another batch: its end writes these too
        start = len(events)
        try:
            # A savepoint: the block's writes are undone with its events.
            with transaction.atomic():
                yield
        except BaseException:
            del events[start:]
            raise
        return
    events = []
    token = _batch.set(events)
    try:
        # No savepoint (no round trip): an error marks the caller's transaction for
        # rollback, so no write of the block can commit without its events.
        with transaction.atomic(savepoint=False):
            yield
            if events:
                AuditEvent.objects.bulk_create(events)
    finally:
        _batch.reset(token)


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    obj: Any = None,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Append one audit event; ``obj`` is any model instance (its type and pk are kept).

    The event is written unchained, without waiting on any lock; :func:`audit_chain_extend`
    links it into the hash chain within the minute. Inside :func:`audit_batch` it is
    written when the batch ends.
    """
    origin = _origin.get()
    detail = dict(detail or {})
    if origin is not None:
        remote_addr = remote_addr if remote_addr is not None else origin.remote_addr
        for key, value in origin.detail.items():
            detail.setdefault(key, value)
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail,
        remote_addr=remote_addr,
    )
    batch = _batch.get()
    if batch is not None:
        batch.append(event)
    else:
        event.save(force_insert=True)
    return event


def audit_record_many(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    objs: list[Any],
    detail: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """One audit event per object of ``objs`` (the same action and detail), in one INSERT:
    what :func:`audit_record` would write for each, for a batch (an ingest of many files).
    Inside :func:`audit_batch` they are written when the batch ends."""
    origin = _origin.get()
    detail = dict(detail or {})
    remote_addr = None
    if origin is not None:
        remote_addr = origin.remote_addr
        for key, value in origin.detail.items():
            detail.setdefault(key, value)
    who = actor if actor is not None and actor.is_authenticated else None
    events = [
        AuditEvent(
            actor=who,
            action=action,
            object_type=obj._meta.label,
            object_id=str(obj.pk),
            detail=detail,
            remote_addr=remote_addr,
        )
        for obj in objs
    ]
    batch = _batch.get()
    if batch is not None:  # written, in order, when the batch ends
        batch.extend(events)
        return events
    return AuditEvent.objects.bulk_create(events)


# One chaining step at a time, across every process: a PostgreSQL advisory lock, taken only
# by the background step, never by a request writing an event. (SQLite serialises writers.)
AUDIT_CHAIN_LOCK = 0x4D41_5544_4954  # "MAUDIT"
AUDIT_CHAIN_BATCH = 2000
# The minute's step looks this far back for unchained events, so that it reads through an
# index instead of the whole log; audit_verify chains everything, however old.
AUDIT_CHAIN_LOOKBACK = dt.timedelta(days=1)


def audit_chain_extend(*, everything: bool = False) -> int:
    """Chain the events written since the last step, in id order; return how many.

    Each new :class:`AuditChainLink` takes the next ``sequence`` and hashes the previous
    link's hash with the event's content. An event that committed late, after events with
    higher ids were chained, simply gets a later sequence number. Without ``everything``
    only events of the last :data:`AUDIT_CHAIN_LOOKBACK` are looked for. Holds the chain's
    advisory lock for one batch (:data:`AUDIT_CHAIN_BATCH` events) at a time.
    """
    chained = 0
    cutoff = None if everything else timezone.now() - AUDIT_CHAIN_LOOKBACK
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK])
            head = (
                AuditChainLink.objects.order_by("-sequence").values_list("sequence", "hash").first()
            )
            sequence, previous = head or (0, CHAIN_GENESIS)
            pending = AuditEvent.objects.filter(chain_link__isnull=True)
            if cutoff is not None:
                pending = pending.filter(at__gte=cutoff)
            links = []
            for event in pending.order_by("pk")[:AUDIT_CHAIN_BATCH]:
                sequence += 1
                previous = chain_hash(previous=previous, sequence=sequence, event=event)
                links.append(AuditChainLink(event=event, sequence=sequence, hash=previous))
            AuditChainLink.objects.bulk_create(links)
        chained += len(links)
        if len(links) < AUDIT_CHAIN_BATCH:
            return chained


@dataclass(frozen=True)
class ChainReport:
    """What :func:`audit_chain_verify` found. ``broken`` is None when the chain is intact."""

    links: int
    head: str
    unchained: int
    broken: str | None = None
    broken_event_id: int | None = None


def audit_chain_verify() -> ChainReport:
    """Recompute every link in sequence order and report the first that does not hold.

    A link breaks when its event's content changed since it was chained, when sequence
    numbers skip (a link and its event were removed), or when its stored hash was changed.
    Reads only; ``unchained`` counts events with no link yet (written since the last step).
    """
    previous, expected = CHAIN_GENESIS, 1
    links = AuditChainLink.objects.select_related("event").order_by("sequence")
    for link in links.iterator(chunk_size=AUDIT_CHAIN_BATCH):
        broken = None
        if link.sequence != expected:
            broken = (
                f"sequence {expected} is missing (the next is {link.sequence}, "
                f"event {link.event_id}): chained events were removed"
            )
        elif chain_hash(previous=previous, sequence=link.sequence, event=link.event) != link.hash:
            broken = (
                f"event {link.event_id} (sequence {link.sequence}, {link.event.action}) "
                "was changed after it was chained"
            )
        if broken is not None:
            return ChainReport(
                links=expected - 1,
                head=previous,
                unchained=0,
                broken=broken,
                broken_event_id=link.event_id,
            )
        previous, expected = link.hash, expected + 1
    unchained = AuditEvent.objects.filter(chain_link__isnull=True).count()
    return ChainReport(links=expected - 1, head=previous, unchained=unchained)


# No savepoint of its own (two round trips): get_or_create has one for the insert's race.
@transaction.atomic(savepoint=False)
def patient_get_or_register(
    *,
    mrn: str,
    name: str = "",
    birth_date: dt.date | None = None,
    sex: str = Patient.Sex.UNKNOWN,
    is_synthetic: bool = False,
    actor: AbstractBaseUser | None = None,
) -> Patient:
    """Return the patient with this MRN, registering them first if they are new.

    Details of an existing patient are filled in where they were blank, never overwritten.
    Inside a caller's transaction it takes no savepoint: any error it raises (a
    ValidationError of the details too) leaves the caller's atomic block to be rolled back,
    so a caller must not catch it inside that block and go on (the intake does not catch
    it; ingest calls it in a per-file atomic block and catches an IngestError outside it).
    """
    patient, created = Patient.objects.select_for_update().get_or_create(
        mrn=mrn.strip(),
        defaults={"name": name, "birth_date": birth_date, "sex": sex, "is_synthetic": is_synthetic},
    )
    if created:
        # The row is in (the database held its unique MRN): the fields' own checks only, no
        # second look-up of the MRN.
        patient.full_clean(validate_unique=False, validate_constraints=False)
        audit_record(actor=actor, action="patient.register", obj=patient)
        return patient
    changed = []
    for field, value in (("name", name), ("birth_date", birth_date)):
        if value and not getattr(patient, field):
            setattr(patient, field, value)
            changed.append(field)
    if sex != Patient.Sex.UNKNOWN and patient.sex == Patient.Sex.UNKNOWN:
        patient.sex = sex
        changed.append("sex")
    if changed:
        patient.full_clean()
        patient.save(update_fields=changed)
    return patient
