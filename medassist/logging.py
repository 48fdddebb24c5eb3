"""How every MedAssist process logs: one line per event, tied to its request or task.

Web processes and Celery workers share one configuration (``LOGGING`` in settings, applied
to workers by ``medassist.celery``): in production each record is one JSON object per line
(:class:`JsonFormatter`), in development readable text. Every record carries the id of the
request or task it belongs to and the signed-in user's id (:class:`ContextFilter`), never a
user name, a URL's query string or anything else that may hold patient data.

:class:`RequestIdMiddleware` gives each request its id (returned as ``X-Request-ID``, so a
clinician reporting a problem can quote it); ``medassist.celery`` gives each task its own
(the task id). :class:`ExpectedRefusalFilter` keeps expected refusals (a 403 from a role
check, a 400) to one line: they are answers, not errors, and need no traceback.
"""

from __future__ import annotations

import contextvars
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase


@dataclass
class LogContext:
    """What a log record says about the work it belongs to."""

    request_id: str
    user_id: int | None = None


_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar(
    "medassist_log_context", default=None
)


def log_context_start(*, request_id: str) -> contextvars.Token[LogContext | None]:
    """Tie the records logged from now on, in this thread, to ``request_id``."""
    return _context.set(LogContext(request_id=request_id))


def log_context_end(token: contextvars.Token[LogContext | None] | None = None) -> None:
    """End what :func:`log_context_start` began (with its token when there is one)."""
    if token is not None:
        _context.reset(token)
    else:
        _context.set(None)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``user_id`` to every record (None outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        record.request_id = context.request_id if context else None
        record.user_id = context.user_id if context else None
        return True


class ExpectedRefusalFilter(logging.Filter):
    """Logs a refused request (4xx) as one line: the refusal's reason, without a traceback.

    Django's ``django.request`` logger attaches the exception to the warning it writes for a
    ``PermissionDenied`` (a role check) or a ``BadRequest``; printed, that is a traceback for
    every 403. A 5xx keeps its traceback: that one is a fault.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            reason = str(record.exc_info[1] or "")
            message = record.getMessage()
            record.msg = f"{message} ({reason})" if reason else message
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with a fixed set of keys.

    Keys: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``request_id``,
    ``user_id``, and ``traceback`` when the record carries an exception. Only these: a
    record's other attributes (Django's ``request`` among them) are never written, so no
    query string or form value reaches the log.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdMiddleware:
    """Gives each request an id for its log records, and sends it back as ``X-Request-ID``.

    The id is made here, never taken from the request: a client cannot make its records look
    like another request's. The signed-in user's id joins the records once authentication
    has run (``process_view``), so put this first in ``MIDDLEWARE``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = uuid.uuid4().hex
        token = log_context_start(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            log_context_end(token)
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        context = _context.get()
        user = getattr(request, "user", None)
        if context is not None and user is not None and user.is_authenticated:
            context.user_id = user.pk
