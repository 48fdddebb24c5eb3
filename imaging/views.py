"""Imaging pages: the upload form (one file, many, a folder or a .zip) and rendered frames."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from medassist.roles import Role, role_required

from .forms import UploadForm
from .ingest.bulk import BulkIngestSummary, instance_ingest_bulk
from .ingest.errors import IngestError
from .ingest.limits import max_bulk_request_bytes, max_upload_bytes
from .ingest.parsing import read_bounded, refuse_declared_size
from .ingest.services import instance_ingest
from .models import Instance
from .viewer.rendering import instance_frame_png


def _wants_json(request: HttpRequest) -> bool:
    # upload.js asks for JSON so it can send a big selection in batches and add them up.
    return "application/json" in request.headers.get("Accept", "")


def _open_url(*, instance_id: int | None, study_id: int | None) -> str:
    """Where a stored file opens: an image's case page, else (a report, a PDF...) the viewer
    of its study, which lists it; "" for nothing stored."""
    if instance_id is not None:
        return reverse("diagnosis:case", kwargs={"instance_id": instance_id})
    if study_id is not None:
        return reverse("imaging:viewer:study", kwargs={"study_id": study_id})
    return ""


def _summary_json(summary: BulkIngestSummary, *, single: bool) -> dict[str, Any]:
    items = [
        {
            "name": item.name,
            "outcome": item.outcome,
            "reason": item.reason,
            "code": item.code,
            "non_image": item.non_image,
            "case_url": _open_url(
                instance_id=item.instance_id,
                study_id=item.study_id if item.outcome != "rejected" else None,
            ),
        }
        for item in summary.items
    ]
    data: dict[str, Any] = {
        "stored": summary.stored,
        "duplicates": summary.duplicates,
        "rejected": summary.rejected,
        "items": items,
        "studies": [
            {
                "study_instance_uid": study.study_instance_uid,
                "description": study.description,
                "patient": study.patient,
                "images": study.images,
                "non_images": study.non_images,
                "case_url": _open_url(instance_id=study.first_instance_id, study_id=study.study_id),
            }
            for study in summary.studies
        ],
    }
    if single and len(items) == 1 and items[0]["case_url"]:
        # One plain file goes straight to its case, exactly as the form does without JS.
        data["redirect"] = items[0]["case_url"]
    return data


def _page(
    request: HttpRequest,
    form: UploadForm,
    *,
    status: int = 200,
    summary: BulkIngestSummary | None = None,
    request_error: str = "",
) -> HttpResponse:
    context = {
        "form": form,
        "summary": summary,
        "request_error": request_error,
        "max_request_bytes": max_bulk_request_bytes(),
    }
    return render(request, "imaging/upload.html", context, status=status)


def _refuse_request(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": message}, status=status)
    return _page(request, UploadForm(), status=status, request_error=message)


@role_required(Role.DOCTOR)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """One file goes to its case page; many files, a folder or a .zip get a summary."""
    if request.method == "GET":
        return _page(request, UploadForm())
    limit = max_bulk_request_bytes()
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0  # Django itself treats a malformed length as none
    if length > limit:
        # Refused before Django reads (and spools to disk) a single byte of the body.
        return _refuse_request(
            request,
            f"This upload is {length / 1e6:.0f} MB; one upload may be at most "
            f"{limit / 1e6:.0f} MB. Send the files in smaller groups.",
            413,
        )
    try:
        form = UploadForm(request.POST, request.FILES)
        valid = form.is_valid()
    except TooManyFilesSent:
        most = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return _refuse_request(
            request,
            f"This upload holds more than {most} files at once. Put them in a .zip, or use "
            "this page with JavaScript on, which sends them in batches.",
            413,
        )
    except RequestDataTooBig:
        return _refuse_request(
            request, "This upload's form data is too large. Send the files in smaller groups.", 413
        )
    if not valid:
        if _wants_json(request):
            return JsonResponse({"detail": " ".join(form.errors.get("file", []))}, status=400)
        return _page(request, form, status=400)
    single = form.is_single_file()
    if single and not _wants_json(request):
        upload = form.uploads()[0]
        try:
            # Django spooled a large upload to disk; it is read only if within the limit.
            refuse_declared_size(upload.size, limit=max_upload_bytes())
            data = read_bounded(upload, limit=max_upload_bytes())
            result = instance_ingest(data=data, uploaded_by=request.user, source="upload")
        except IngestError as exc:
            form.add_error("file", str(exc))
            return _page(request, form, status=exc.status)
        if not result.is_image:
            # A report, a PDF...: no case to open; the study's viewer lists it.
            return redirect("imaging:viewer:study", study_id=result.instance.series.study_id)
        return redirect("diagnosis:case", instance_id=result.instance.pk)
    summary = instance_ingest_bulk(
        uploads=form.uploads(), uploaded_by=request.user, source="upload"
    )
    if _wants_json(request):
        return JsonResponse(_summary_json(summary, single=single))
    return _page(request, UploadForm(), summary=summary)


@role_required(Role.DOCTOR)
def frame_png(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(Instance, pk=instance_id)
    # The viewer's renderer and cache: the file's own window, the longer side at most
    # MAX_PNG_SIZE (2048) pixels.
    response = HttpResponse(instance_frame_png(instance=instance), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
