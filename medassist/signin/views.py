"""The session endpoint the idle warning (static/js/idle.js) talks to."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .idle import idle_seconds_left


@never_cache
@require_http_methods(["GET", "POST"])
def session_status(request: HttpRequest) -> JsonResponse:
    """How long this session has before it is signed out for inactivity.

    GET sent with ``X-MedAssist-Poll: 1`` only asks; POST is the keep-alive (the middleware
    has counted it as activity before this runs). Signed out: ``signed_in`` is false.
    """
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False, "idle_seconds_left": 0})
    return JsonResponse(
        {"signed_in": True, "idle_seconds_left": round(idle_seconds_left(request.session))}
    )
