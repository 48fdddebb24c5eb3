"""What django-axes asks of MedAssist: the limits, and the page a locked-out user sees.

Axes reads these through ``AXES_FAILURE_LIMIT``, ``AXES_COOLOFF_TIME`` and
``AXES_LOCKOUT_CALLABLE`` (dotted paths in settings), at each sign-in, so the MEDASSIST_
settings are the only knobs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axes.helpers import get_client_username
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .selectors import lockout_ends_at

# 429 Too Many Requests: the request was fine, there were too many of them.
LOCKED_OUT_STATUS = 429


def failure_limit(request: HttpRequest | None, credentials: dict[str, Any] | None) -> int:
    return int(settings.MEDASSIST_SIGNIN_FAILURE_LIMIT)


def cooloff_time(request: HttpRequest | None) -> dt.timedelta:
    return dt.timedelta(minutes=settings.MEDASSIST_SIGNIN_COOLOFF_MINUTES)


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The sign-in page again, saying the pair is locked, until when, and who can unlock it.

    Axes calls this in place of the sign-in view's own answer (``AxesMiddleware``), on the
    attempt that reached the limit and on every attempt while locked.
    """
    credentials = credentials or getattr(request, "axes_credentials", None)
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", ""),
        "locked_out": True,
        "locked_username": username,
        "locked_until": lockout_ends_at(
            username=username,
            ip_address=getattr(request, "axes_ip_address", None),
            cooloff=cooloff_time(request),
        ),
    }
    return render(request, "registration/login.html", context, status=LOCKED_OUT_STATUS)
