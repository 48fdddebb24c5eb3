"""The idle clock: when a session last saw activity, and how long it has left.

The last activity is kept in the session as seconds since the epoch (``time.time()``), so a
test or an operator can read and set it like any other session value.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

LAST_ACTIVITY_KEY = "medassist_last_activity"
POLL_HEADER = "X-MedAssist-Poll"
# The banner appears this long before the limit (half the limit when that is shorter).
WARNING_SECONDS = 120.0
# Activity is written to the session at most this often, so a page that loads many frames
# does not write the session row for each one; the limit can come this much early.
RESOLUTION_SECONDS = 60.0


def idle_limit_seconds() -> float:
    return float(settings.MEDASSIST_IDLE_LOGOUT_MINUTES) * 60


def idle_warning_seconds() -> float:
    return min(WARNING_SECONDS, idle_limit_seconds() / 2)


def is_poll(request: HttpRequest) -> bool:
    """Whether the request is a page refreshing itself, not somebody doing something."""
    return request.headers.get(POLL_HEADER) == "1"


def idle_seconds_left(session: SessionBase, *, now: float | None = None) -> float:
    """Seconds until the session is signed out for inactivity (negative once past)."""
    now = time.time() if now is None else now
    last = session.get(LAST_ACTIVITY_KEY)
    if last is None:
        return idle_limit_seconds()
    return idle_limit_seconds() - (now - float(last))


def activity_record(session: SessionBase, *, force: bool = False, now: float | None = None) -> None:
    """Note activity now, unless it was noted within the last resolution step (or ``force``)."""
    now = time.time() if now is None else now
    last = session.get(LAST_ACTIVITY_KEY)
    resolution = min(RESOLUTION_SECONDS, idle_limit_seconds() / 30)
    if force or last is None or now - float(last) >= resolution:
        session[LAST_ACTIVITY_KEY] = now
