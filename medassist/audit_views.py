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
from typing import Any

from django import forms
from django.apps import apps
from django.core.paginator import Paginator
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from .models import AuditEvent, Patient
from .roles import permission_required
from .services import audit_record, client_ip

AUDIT_PERMISSION = "medassist.view_auditevent"
PAGE_SIZE = 50
EXPORT_CHUNK = 2000

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


def _patient_q(mrn: str) -> Q:
    """Events about this patient: their own record, or any object that leads to them."""
    q = Q(detail__mrn=mrn)
    patient = Patient.objects.filter(mrn=mrn).first()
    if patient is None:
        return q
    for label, path in PATIENT_LINKS.items():
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        lookup = "pk" if path == "pk" else f"{path}__pk"
        ids = (
            model._default_manager.filter(**{lookup: patient.pk})
            .annotate(pk_text=Cast("pk", CharField()))
            .values("pk_text")
        )
        q |= Q(object_type=label, object_id__in=ids)
    return q


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


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
        qs = qs.filter(_patient_q(mrn))
    if date_from:
        qs = qs.filter(at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(date_to + dt.timedelta(days=1)))
    return qs.order_by("-at", "-pk")


def _filters(form: AuditFilterForm) -> dict[str, Any]:
    return {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}


def _detail_for_audit(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in filters.items()}


@audit_permission_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = _filters(form) if form.is_valid() else {}
    page = Paginator(audit_events(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    audit_record(
        actor=request.user,
        action="audit.view",
        detail={"filters": _detail_for_audit(filters), "page": page.number},
        remote_addr=client_ip(request),
    )
    context = {"form": form, "page": page, "filtered": bool(filters)}
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
    writer = csv.writer(_Echo())
    yield writer.writerow(
        ["at", "actor", "action", "object_type", "object_id", "detail", "remote_addr"]
    )
    rows = events.values_list(
        "at", "actor__username", "action", "object_type", "object_id", "detail", "remote_addr"
    )
    # iterator() streams rows with a server-side cursor on PostgreSQL: memory stays flat
    # however many events match.
    for at, actor, action, object_type, object_id, detail, remote_addr in rows.iterator(
        chunk_size=EXPORT_CHUNK
    ):
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
