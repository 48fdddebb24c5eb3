"""Imaging pages: the upload form and rendered frames."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from medassist.roles import Role, role_required

from .forms import UploadForm
from .models import Instance
from .selectors import instance_render_png
from .services import IngestError, instance_ingest


@role_required(Role.DOCTOR)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = instance_ingest(
                data=form.cleaned_data["file"].read(), uploaded_by=request.user, source="upload"
            )
        except IngestError as exc:
            form.add_error("file", str(exc))
            return render(request, "imaging/upload.html", {"form": form}, status=exc.status)
        return redirect("diagnosis:case", instance_id=result.instance.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "imaging/upload.html", {"form": form}, status=status)


@role_required(Role.DOCTOR)
def frame_png(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(Instance, pk=instance_id)
    response = HttpResponse(instance_render_png(instance=instance), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
