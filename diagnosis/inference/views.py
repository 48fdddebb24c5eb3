"""The saliency heatmap of one suggestion."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from diagnosis.inference.models import Suggestion
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
