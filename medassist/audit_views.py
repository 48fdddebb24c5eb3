"""The audit log for whoever oversees access: list, filter, page through, export as CSV.

Who may see it: users holding the permission ``medassist.view_auditevent``: the auditor
role (the ``auditor`` group, which holds only that permission; the demo account ``auditor``)
and superusers, who hold every permission. It is deliberately not given to a clinical role:
a hospital puts its privacy officer in the auditor group, and doctors, nurses and ML admins
get 403. Looking at or exporting the log is itself audited.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.apps import apps
from django.db import connection
from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from .models import AuditEvent, Patient
from .roles import permission_required
from .services import audit_record, client_ip

AUDIT_PERMISSION = "medassist.view_auditevent"
PAGE_SIZE = 50
EXPORT_CHUNK = 2000
# Matching events are counted up to here; beyond, the page says "more than 10,000". An exact
# count of millions of events would cost a scan of all of them on every page.
COUNT_CAP = 10_000
# ``?page=N`` (an OFFSET) reaches back this far; older events are reached by the cursor the
# Older link carries, which costs the same at any depth.
MAX_NUMBERED_PAGE = COUNT_CAP // PAGE_SIZE

# How an audited object leads to its patient, by the object's model label. The models live
# in apps above this core layer, so they are looked up by name (an app that is not
# installed is skipped) rather than imported.
PATIENT_LINKS: dict[str, str] = {
    "medassist.Patient": "pk",
    "imaging.Study": "patient",
    "imaging.Series": "study__patient",
    "imaging.Instance": "series__study__patient",
    "diagnosis.Suggestion": "instance__series__study__patient",
    "diagnosis.Review": "instance__series__study__patient",
    "diagnosis.Encounter": "patient",
    "diagnosis.FinalDiagnosis": "encounter__patient",
}


audit_permission_required = permission_required(
    AUDIT_PERMISSION, "Only users allowed to audit access can see the audit log."
)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="User name")
    action = forms.CharField(
        required=False, max_length=64, help_text="The start is enough: 'case' finds case.view."
    )
    object_type = forms.CharField(
        required=False, max_length=64, label="Object type", help_text="e.g. diagnosis.Encounter"
    )
    mrn = forms.CharField(required=False, max_length=64, label="Patient MRN")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


def _patient_objects(patient: Patient) -> dict[str, list[str]]:
    """The ids (as audit events store them) of every object that leads to ``patient``, by
    model label: one query (a UNION of one indexed lookup per model), whose size is this
    patient's records, not the database's."""
    lookups = []
    for label, path in PATIENT_LINKS.items():
        if path == "pk":
            continue
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        lookups.append(
            model._default_manager.filter(**{path: patient.pk})
            .annotate(label=Value(label, output_field=CharField()), key=Cast("pk", CharField()))
            .values_list("label", "key")
        )
    found: dict[str, list[str]] = {"medassist.Patient": [str(patient.pk)]}
    if lookups:
        for label, key in lookups[0].union(*lookups[1:], all=True):
            found.setdefault(label, []).append(key)
    return found


def _patient_q(mrn: str) -> Q:
    """Events about this patient: any that names the MRN in its detail, or is about their
    own record or an object that leads to them.

    The objects are looked up first and matched by value, so the events come from two indexes
    (``audit_object``, ``audit_detail_mrn``) whatever the size of the log, instead of a
    subquery per model tested against every event. The patient is found through the objects
    as they are now: no MRN is copied onto the (append-only) events, so events written before
    this filter existed are found the same way as new ones.
    """
    if connection.vendor == "postgresql":
        # detail->>'mrn', the expression of the partial index audit_detail_mrn.
        q = Q(detail__has_key="mrn", detail_mrn=mrn)
    else:
        # SQLite's JSON functions refuse the whole query if any row's text is not JSON.
        q = Q(detail__mrn=mrn)
    patient = Patient.objects.filter(mrn=mrn).first()
    if patient is None:
        return q
    for label, keys in _patient_objects(patient).items():
        q |= Q(object_type=label, object_id__in=keys)
    return q


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


# The most events of one patient listed by id (see audit_events).
PATIENT_EVENTS_LISTED = 5000


def audit_events(
    *,
    actor: str = "",
    action: str = "",
    object_type: str = "",
    mrn: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching every filter given, newest first. Dates are in the server time zone."""
    qs = AuditEvent.objects.select_related("actor")
    if actor:
        qs = qs.filter(actor__username=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if mrn:
        # The patient's events are found first, on their own, and the other filters and the
        # order then apply to those ids. As one query with the order and a page's LIMIT,
        # PostgreSQL misjudged how many events the patient's OR of lookups matches (thousands
        # for 49) and walked the whole log backwards by time: 8 s at 10^6 studies, 10^7
        # events. Alone, the lookups are one bitmap scan of their indexes (see _patient_q).
        # A patient with more events than PATIENT_EVENTS_LISTED (years of admissions) is
        # filtered by the lookups themselves instead of a list of ids that every page and
        # every chunk of an export would carry.
        pg = connection.vendor == "postgresql"
        events = AuditEvent.objects.all()
        if pg:
            events = events.alias(detail_mrn=KT("detail__mrn"))
        found = _patient_q(mrn)
        ids = list(events.filter(found).values_list("pk", flat=True)[: PATIENT_EVENTS_LISTED + 1])
        if len(ids) <= PATIENT_EVENTS_LISTED:
            qs = qs.filter(pk__in=ids)
        else:
            qs = (qs.alias(detail_mrn=KT("detail__mrn")) if pg else qs).filter(found)
    if date_from:
        qs = qs.filter(at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(date_to + dt.timedelta(days=1)))
    return qs.order_by("-at", "-pk")


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Cursor:
    """A place in the log, which is ordered by ``(at, id)``: the event a page starts next to.

    Written in links as ``<microseconds since 1970>_<id>``.
    """

    at: dt.datetime
    pk: int

    @classmethod
    def of(cls, event: AuditEvent) -> Cursor:
        return cls(event.at, event.pk)

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        """The cursor a link carried, or None for anything that is not one."""
        micro, sep, pk = token.partition("_")
        if not sep or not micro.isdigit() or not pk.isdigit() or len(micro) > 18:
            return None
        try:
            return cls(_EPOCH + dt.timedelta(microseconds=int(micro)), int(pk))
        except OverflowError:
            return None

    def __str__(self) -> str:
        return f"{(self.at - _EPOCH) // dt.timedelta(microseconds=1)}_{self.pk}"

    def older(self) -> Q:
        """Events before this one. ``at <= `` on its own makes the index range start here
        rather than at the newest event; the rest breaks ties on ``at`` by id."""
        return Q(at__lte=self.at) & (Q(at__lt=self.at) | Q(pk__lt=self.pk))

    def newer(self) -> Q:
        return Q(at__gte=self.at) & (Q(at__gt=self.at) | Q(pk__gt=self.pk))


@dataclass(frozen=True)
class AuditPage:
    """One page of events, newest first, and where the pages next to it start.

    ``count`` is exact up to :data:`COUNT_CAP` and ``COUNT_CAP + 1`` beyond. ``newer`` and
    ``older`` are the cursors of the Newer and Older links (None: no such page); ``newest``
    says the Newer link is the first page itself.
    """

    events: list[AuditEvent]
    number: int
    count: int
    newer: Cursor | None
    older: Cursor | None
    newest: bool = False
    numbered_too_deep: bool = False

    @property
    def count_is_capped(self) -> bool:
        return self.count > COUNT_CAP

    @property
    def num_pages(self) -> int | None:
        if self.count_is_capped:
            return None
        return max(1, -(-self.count // PAGE_SIZE))


def audit_page(
    events: QuerySet[AuditEvent],
    *,
    number: int = 1,
    before: Cursor | None = None,
    after: Cursor | None = None,
) -> AuditPage:
    """The page of ``events`` (ordered newest first) older than ``before``, newer than
    ``after``, or else page ``number`` counted from the newest (at most
    :data:`MAX_NUMBERED_PAGE`; a larger number shows that page and says so).

    A constant number of queries whatever the size of the log: the capped count, the page
    (one more row than shown, to know whether an older page exists), and for a cursor page
    whether a newer one exists. ``number`` of a cursor page is only shown, never used to
    find the rows.
    """
    count = events.values("pk").order_by()[: COUNT_CAP + 1].count()
    if after is not None:
        rows = list(events.filter(after.newer()).order_by("at", "pk")[: PAGE_SIZE + 1])
        if rows:
            has_newer = len(rows) > PAGE_SIZE
            rows = rows[:PAGE_SIZE][::-1]
            older_exists = events.filter(Cursor.of(rows[-1]).older()).exists()
            return AuditPage(
                events=rows,
                number=max(number, 2) if has_newer else 1,
                count=count,
                newer=Cursor.of(rows[0]) if has_newer else None,
                older=Cursor.of(rows[-1]) if older_exists else None,
            )
        # Nothing newer than the cursor: the newest page.
        number, before = 1, None
    if before is not None:
        rows = list(events.filter(before.older())[: PAGE_SIZE + 1])
        newer_exists = events.filter((Cursor.of(rows[0]) if rows else before).newer()).exists()
        return AuditPage(
            events=rows[:PAGE_SIZE],
            number=max(number, 2) if newer_exists else 1,
            count=count,
            newer=Cursor.of(rows[0]) if rows and newer_exists else None,
            older=Cursor.of(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None,
            newest=not rows and newer_exists,
        )
    too_deep = number > MAX_NUMBERED_PAGE
    number = min(max(number, 1), MAX_NUMBERED_PAGE)
    if count <= COUNT_CAP:
        # Past the last page: the last page, as Django's paginator does.
        number = min(number, max(1, -(-count // PAGE_SIZE)))
    offset = (number - 1) * PAGE_SIZE
    rows = list(events[offset : offset + PAGE_SIZE + 1])
    return AuditPage(
        events=rows[:PAGE_SIZE],
        number=number,
        count=count,
        newer=Cursor.of(rows[0]) if rows and number > 1 else None,
        older=Cursor.of(rows[PAGE_SIZE - 1]) if len(rows) > PAGE_SIZE else None,
        newest=number == 2,
        numbered_too_deep=too_deep,
    )


def _filters(form: AuditFilterForm) -> dict[str, Any]:
    return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}


def _detail_for_audit(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in filters.items()}


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 10 else 1


def _link(query: QueryDict, **params: Any) -> str:
    """The list's query string with the filters kept and the paging ones replaced."""
    query = query.copy()
    for key in ("page", "before", "after"):
        query.pop(key, None)
    for key, value in params.items():
        if value is not None:
            query[key] = str(value)
    return query.urlencode()


@audit_permission_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = _filters(form) if form.is_valid() else {}
    before = Cursor.parse(request.GET.get("before", ""))
    after = None if before is not None else Cursor.parse(request.GET.get("after", ""))
    page = audit_page(
        audit_events(**filters),
        number=_page_number(request.GET.get("page")),
        before=before,
        after=after,
    )
    detail: dict[str, Any] = {"filters": _detail_for_audit(filters), "page": page.number}
    if before is not None:
        detail["before"] = str(before)
    if after is not None:
        detail["after"] = str(after)
    audit_record(
        actor=request.user, action="audit.view", detail=detail, remote_addr=client_ip(request)
    )
    links = {
        "newer": None,
        "older": None,
        "first": _link(request.GET),
        "export": _link(request.GET),
    }
    if page.newest or (page.newer is not None and page.number <= 2):
        links["newer"] = links["first"]
    elif page.newer is not None:
        links["newer"] = _link(request.GET, after=page.newer, page=page.number - 1)
    if page.older is not None:
        links["older"] = _link(request.GET, before=page.older, page=page.number + 1)
    context = {
        "form": form,
        "page": page,
        "links": links,
        "filtered": bool(filters),
        "count_cap": f"{COUNT_CAP:,}",
        "max_numbered_page": MAX_NUMBERED_PAGE,
    }
    template = "medassist/audit.html#results" if request.htmx else "medassist/audit.html"
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render(request, template, context, status=status)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


# A cell starting with one of these is a formula to a spreadsheet; quote it so that an
# audit value (a user name, a query string) cannot run anything on the reader's machine.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_rows(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """The header, then every event of ``events`` (newest first) as a CSV line.

    Read in keyset chunks of :data:`EXPORT_CHUNK` events, each one short query that starts
    where the last one stopped (``(at, id)`` below its last row) through the same indexes as
    the list: the first line goes out after one chunk whatever the size of the log, memory
    stays flat, and no transaction or server-side cursor is held open while a slow client
    reads. (A server-side cursor outside a transaction is declared WITH HOLD, and PostgreSQL
    then computes the whole result before the first row.) An event written after the export
    began is newer than its first row, so it is not in the file.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["at", "actor", "action", "object_type", "object_id", "detail", "remote_addr"]
    )
    rows = events.values_list(
        "at",
        "pk",
        "actor__username",
        "action",
        "object_type",
        "object_id",
        "detail",
        "remote_addr",
    )
    position: Cursor | None = None
    while True:
        chunk = list((rows if position is None else rows.filter(position.older()))[:EXPORT_CHUNK])
        for at, _, actor, action, object_type, object_id, detail, remote_addr in chunk:
            yield writer.writerow(
                [
                    at.isoformat(),
                    _cell(actor),
                    _cell(action),
                    _cell(object_type),
                    _cell(object_id),
                    _cell(json.dumps(detail, sort_keys=True, default=str)),
                    _cell(remote_addr),
                ]
            )
        if len(chunk) < EXPORT_CHUNK:
            return
        position = Cursor(chunk[-1][0], chunk[-1][1])


@audit_permission_required
def audit_export(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "medassist/audit.html", {"form": form, "page": None}, status=400)
    filters = _filters(form) if form.is_bound else {}
    audit_record(
        actor=request.user,
        action="audit.export",
        detail={"filters": _detail_for_audit(filters)},
        remote_addr=client_ip(request),
    )
    response = StreamingHttpResponse(
        _csv_rows(audit_events(**filters)), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    return response
