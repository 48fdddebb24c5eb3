"""The case page's PACS panel: its status (polled while an export moves) and the doctor's
"Send to PACS" button."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from diagnosis.pacs.models import PacsExport
from diagnosis.pacs.selectors import pacs_panel
from diagnosis.pacs.services import PacsRefused, pacs_export_request
from imaging.models import Instance
from medassist.roles import Role, role_required


@role_required(Role.DOCTOR)
@require_GET
def pacs_status(request: HttpRequest, instance_id: int) -> HttpResponse:
    """The panel alone (the case page's HTMX poll; it stops once nothing moves)."""
    instance = get_object_or_404(Instance, pk=instance_id)
    panel = pacs_panel(instance=instance)
    response = render(request, "diagnosis/case.html#pacs", {"instance": instance, "pacs": panel})
    if request.htmx and not panel.moving:
        response.status_code = HttpResponseStopPolling.status_code
    return response


@role_required(Role.DOCTOR)
@require_POST
def pacs_send(request: HttpRequest, instance_id: int) -> HttpResponse:
    """Queue this image's final review for the PACS (or retry its failed export now)."""
    instance = get_object_or_404(Instance, pk=instance_id)
    try:
        export, queued = pacs_export_request(instance=instance, actor=request.user)
    except PacsRefused as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        if queued:
            messages.success(request, "Queued for the PACS: its status is shown below.")
        elif export.status == PacsExport.Status.SENT:
            messages.info(request, "This review was already sent to the PACS.")
        else:
            messages.info(request, "This review is already on its way to the PACS.")
    return redirect("diagnosis:case", instance_id=instance.pk)
