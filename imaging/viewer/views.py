"""The doctor's study viewer: the page, its JSON manifest, frame data and thumbnails."""

from __future__ import annotations

import gzip
import math

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from medassist.ml.display import PixelDataError
from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip

from ..models import Instance
from ..selectors import StoredFileError
from .rendering import (
    MAX_PNG_SIZE,
    FrameNotFound,
    instance_frame_pixels,
    instance_frame_png,
    instance_thumbnail_png,
)
from .selectors import viewer_manifest, viewer_opening_instance, viewer_study

# Frames never change: an instance's bytes are fixed at ingest (a different file with the same
# SOP Instance UID is refused), so the browser may keep them for the whole session.
FRAME_CACHE_CONTROL = "private, max-age=86400"

DAMAGED_FILE = (
    "The stored file of this image is missing or does not match its checksum, so it is not "
    "shown. Ask IT to restore it from the archive or PACS."
)


def _text_error(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@role_required(Role.DOCTOR)
@require_GET
def study_viewer(request: HttpRequest, study_id: int) -> HttpResponse:
    study = viewer_study(study_id=study_id)
    first = viewer_opening_instance(study=study, requested=request.GET.get("instance"))
    # Opening a patient's images is a view of their data: it is audited like the case page.
    audit_record(
        actor=request.user,
        action="study.view",
        obj=study,
        detail={"mrn": study.patient.mrn},
        remote_addr=client_ip(request),
    )
    return render(
        request,
        "imaging/viewer.html",
        {"study": study, "patient": study.patient, "instance": first},
    )


@role_required(Role.DOCTOR)
@require_GET
def study_manifest(request: HttpRequest, study_id: int) -> HttpResponse:
    try:
        manifest = viewer_manifest(study=viewer_study(study_id=study_id))
    except StoredFileError as exc:
        return JsonResponse({"error": f"{exc} {DAMAGED_FILE}"}, status=500)
    return JsonResponse(manifest)


def _frame_errors(exc: Exception) -> HttpResponse:
    if isinstance(exc, FrameNotFound):
        return _text_error(str(exc), 404)
    if isinstance(exc, StoredFileError):
        return _text_error(DAMAGED_FILE, 500)
    return _text_error(str(exc), 422)


@role_required(Role.DOCTOR)
@require_GET
def frame_raw(request: HttpRequest, instance_id: int, frame: int) -> HttpResponse:
    """Little-endian modality values of one frame; the headers say their type and shape."""
    instance = get_object_or_404(Instance, pk=instance_id)
    try:
        pixels = instance_frame_pixels(instance=instance, frame=frame)
    except (FrameNotFound, StoredFileError, PixelDataError) as exc:
        return _frame_errors(exc)
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response = HttpResponse(pixels.gzipped, content_type="application/octet-stream")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(
            gzip.decompress(pixels.gzipped), content_type="application/octet-stream"
        )
    response["X-Pixel-Type"] = pixels.pixel_type
    response["X-Rows"] = str(pixels.rows)
    response["X-Columns"] = str(pixels.columns)
    response["Cache-Control"] = FRAME_CACHE_CONTROL
    response["Vary"] = "Accept-Encoding"
    return response


def _window_param(request: HttpRequest) -> tuple[float, float] | None:
    """``?wc=&ww=`` as a window, or None for the file's own; raises ValueError when invalid."""
    wc, ww = request.GET.get("wc"), request.GET.get("ww")
    if wc is None and ww is None:
        return None
    try:
        window = (float(wc or ""), float(ww or ""))
    except ValueError:
        raise ValueError("Give both wc and ww as numbers (window center and width).") from None
    if not all(math.isfinite(v) for v in window) or window[1] < 1:
        raise ValueError("The window width must be a number of at least 1.")
    return window


@role_required(Role.DOCTOR)
@require_GET
def frame_png(request: HttpRequest, instance_id: int, frame: int) -> HttpResponse:
    """An 8-bit PNG windowed on the server: ``?wc=&ww=&invert=1&size=`` (all optional)."""
    instance = get_object_or_404(Instance, pk=instance_id)
    try:
        window = _window_param(request)
    except ValueError as exc:
        return _text_error(str(exc), 400)
    size_param = request.GET.get("size", str(MAX_PNG_SIZE))
    if not size_param.isdigit():
        return _text_error("The size must be a whole number of pixels.", 400)
    size = int(size_param)
    invert = request.GET.get("invert", "") in {"1", "true", "on"}
    try:
        png = instance_frame_png(
            instance=instance, frame=frame, window=window, invert=invert, size=size
        )
    except (FrameNotFound, StoredFileError, PixelDataError) as exc:
        return _frame_errors(exc)
    except ValueError as exc:
        return _text_error(str(exc), 400)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = FRAME_CACHE_CONTROL
    return response


@role_required(Role.DOCTOR)
@require_GET
def thumbnail(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(Instance, pk=instance_id)
    try:
        png = instance_thumbnail_png(instance=instance)
    except (FrameNotFound, StoredFileError, PixelDataError) as exc:
        return _frame_errors(exc)
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = FRAME_CACHE_CONTROL
    return response
