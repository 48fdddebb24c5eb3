"""Signs out a session left idle; notes activity otherwise."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect

from .idle import LAST_ACTIVITY_KEY, activity_record, idle_seconds_left, is_poll


class IdleSignoutMiddleware:
    """Sign out a session idle past ``MEDASSIST_IDLE_LOGOUT_MINUTES``; else note activity.

    Sits after the session, authentication and message middleware. A request that arrives
    past the limit is served signed out: a page goes on to the sign-in page (``login_required``
    sends it), and an htmx request is answered with ``HX-Redirect`` to the sign-in page, so
    the sign-in form is never swapped into a fragment of the page. A poll (``is_poll``) does
    not count as activity; it only starts the clock of a session that has none yet.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session = request.session
            if idle_seconds_left(session) <= 0:
                return self._sign_out(request) or self.get_response(request)
            if not is_poll(request) or LAST_ACTIVITY_KEY not in session:
                activity_record(session)
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest) -> HttpResponse | None:
        # Read by the sign-out audit receiver, which records why the session ended.
        request.signout_reason = "idle"  # type: ignore[attr-defined]
        logout(request)
        minutes = settings.MEDASSIST_IDLE_LOGOUT_MINUTES
        messages.info(
            request,
            f"You were signed out after {minutes:g} minutes without activity. "
            "Sign in again to carry on.",
            fail_silently=True,
        )
        if request.headers.get("HX-Request") != "true":
            return None
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        next_path = page.path + (f"?{page.query}" if page.query else "") or "/"
        login_url = resolve_url(settings.LOGIN_URL)
        return HttpResponseClientRedirect(f"{login_url}?{urlencode({'next': next_path})}")
