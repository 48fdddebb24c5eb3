"""The saliency heatmap of one suggestion, and re-scoring the unreviewed studies on a new
champion (started from the champion's version page, whose panel polls the job)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from diagnosis.inference.models import RescoreJob, Suggestion
from diagnosis.inference.services import RescoreRefused, rescore_start
from diagnosis.registry.models import ModelVersion
from medassist.roles import Role, role_required


@role_required(Role.DOCTOR)
def saliency(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    """The stored Grad-CAM heatmap of a suggestion (RGBA PNG to overlay on the image)."""
    suggestion = get_object_or_404(Suggestion, pk=suggestion_id)
    if not suggestion.saliency_key:
        raise Http404("No heatmap for this suggestion yet.")
    path = Path(settings.MEDIA_ROOT) / suggestion.saliency_key
    response = HttpResponse(path.read_bytes(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@role_required(Role.ML_ADMIN)
@require_POST
def rescore_start_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """Queue a re-score of the unreviewed studies on this version (the champion)."""
    version = get_object_or_404(ModelVersion, pk=version_id)
    try:
        job = rescore_start(version=version, actor=request.user)
    except RescoreRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Re-scoring {job.total} unreviewed images on v{version.version}: "
            "the progress is shown below.",
        )
    return redirect("finetune:version", version_id=version.pk)


@role_required(Role.ML_ADMIN)
@require_GET
def rescore_job(request: HttpRequest, job_id: int) -> HttpResponse:
    """A re-score's progress; the version page's panel polls its partial until it ends."""
    job = get_object_or_404(
        RescoreJob.objects.select_related("model_version", "requested_by"), pk=job_id
    )
    context = {"job": job}
    if request.htmx:
        response = render(request, "diagnosis/rescore_job.html#progress", context)
        if job.status in {RescoreJob.Status.DONE, RescoreJob.Status.FAILED}:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "diagnosis/rescore_job.html", context)
