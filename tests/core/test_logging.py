"""Logs an operator can read: one line per expected refusal, JSON lines in production.

Every record of a request or a task carries its id and the user's id, and nothing of the
request itself (medassist/logging.py); a start on the embedded broker warns about nothing.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from medassist.logging import ContextFilter, JsonFormatter
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def printed() -> Iterator[io.StringIO]:
    """What the configured console handlers print, for every logger (Django's own too)."""
    out = io.StringIO()
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    handlers = {
        handler
        for logger in loggers
        if isinstance(logger, logging.Logger)
        for handler in logger.handlers
        if type(handler) is logging.StreamHandler
    }
    streams = {handler: handler.setStream(out) for handler in handlers}
    try:
        yield out
    finally:
        for handler, stream in streams.items():
            handler.setStream(stream)


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_page_refused_to_a_role_logs_one_line_and_no_traceback(
    nurse: User, printed: io.StringIO, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = True  # development, where Django's own handler used to print it again

    response = _signed_in(nurse).get(reverse("finetune:models"))

    assert response.status_code == 403
    lines = [line for line in printed.getvalue().splitlines() if "Forbidden" in line]
    assert len(lines) == 1, printed.getvalue()
    assert "/models/" in lines[0] and "Your role does not give access" in lines[0]
    assert "Traceback" not in printed.getvalue()


def test_a_csrf_failure_logs_one_line_and_no_traceback(db, printed: io.StringIO) -> None:  # type: ignore[no-untyped-def]
    response = Client(enforce_csrf_checks=True).post(
        reverse("login"), {"username": "someone", "password": "x"}
    )

    assert response.status_code == 403
    lines = [line for line in printed.getvalue().splitlines() if "Forbidden" in line]
    assert len(lines) == 1 and "CSRF" in lines[0], printed.getvalue()
    assert "Traceback" not in printed.getvalue()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every record, as the production console handler writes it (its filter and format)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield out
    finally:
        root.removeHandler(handler)


def test_a_request_s_records_carry_its_id_and_the_user_s_and_no_query_string(
    doctor: User, nurse: User, json_lines: io.StringIO
) -> None:
    response = _signed_in(nurse).get(reverse("finetune:models"), {"q": "Jane Doe"})

    records = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (line,) = [r for r in records if r["logger"] == "django.request"]
    assert line["request_id"] == response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
    assert line["user_id"] == nurse.pk
    assert line["level"] == "WARNING" and line["logger"] == "django.request"
    assert "traceback" not in line
    assert "Jane" not in json_lines.getvalue() and "nurse-test" not in json_lines.getvalue()
    # Each request has its own id.
    assert _signed_in(doctor).get(reverse("home"))["X-Request-ID"] != response["X-Request-ID"]


PRODUCTION_SCRIPT = r"""
import logging
import django
django.setup()
from medassist.celery import app
from medassist.logging import log_context_end, log_context_start

app.log.setup(loglevel="INFO")  # what a worker or beat does when it starts
log = logging.getLogger("medassist.probe")
token = log_context_start(request_id="req-1")
log.warning("a request's record")
try:
    1 / 0
except ZeroDivisionError:
    log.exception("a fault")
log_context_end(token)


@app.task(name="medassist.probe")
def probe():
    log.info("a task's record")


probe.apply(task_id="task-1")
log.info("outside any request")
"""


def _production_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY_FILE"}}
    env.update(
        MEDASSIST_ENV="production",
        MEDASSIST_VAR_DIR=str(tmp_path / "var"),
        # Named, never connected to: nothing listens on port 1.
        DATABASE_URL="postgres://medassist@127.0.0.1:1/medassist",
        REDIS_URL="redis://127.0.0.1:1/0",
        SECRET_KEY=secrets.token_urlsafe(48),
        LOG_LEVEL="INFO",
    )
    return env


def test_production_logs_are_json_lines_with_the_request_or_task_id(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PRODUCTION_SCRIPT],
        cwd=ROOT,
        env=_production_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    by_message = {r["message"]: r for r in records}

    request = by_message["a request's record"]
    assert request["request_id"] == "req-1"
    assert set(request) == {"time", "level", "logger", "message", "request_id", "user_id"}
    assert "ZeroDivisionError" in by_message["a fault"]["traceback"]
    # A worker's task logs the same way, under the task's id.
    assert by_message["a task's record"]["request_id"] == "task-1"
    assert by_message["outside any request"]["request_id"] is None
    assert all(r["time"].endswith("+00:00") for r in records)


def test_development_logs_stay_readable_text(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"MEDASSIST_ENV", "DEBUG"}},
        "MEDASSIST_VAR_DIR": str(tmp_path / "var"),
    }
    script = "import django, logging\ndjango.setup()\nlogging.getLogger('x').warning('hello')\n"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r" WARNING x: hello$", done.stderr.strip())


def test_the_embedded_broker_starts_without_a_kombu_warning(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "REDIS_URL_FILE"}},
        "MEDASSIST_VAR_DIR": str(tmp_path / "var"),
    }
    # What a worker and beat do on start: describe the broker connection.
    script = (
        "import django\ndjango.setup()\nfrom medassist.celery import app\n"
        "connection = app.connection_for_write()\nconnection.info()\n"
        "print(connection.as_uri())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "@localhost/" in done.stdout  # the embedded broker, named with its host
    assert "No hostname was supplied" not in done.stderr, done.stderr


def test_the_pages_name_the_favicon_and_it_is_served(doctor: User) -> None:
    pages = [
        Client().get(reverse("login")),
        _signed_in(doctor).get(reverse("home"), follow=True),  # the worklist
    ]
    for page in pages:
        assert page.status_code == 200
        links = re.findall(r'<link rel="icon" href="([^"]+)"', page.content.decode())
        assert len(links) == 1
        icon = Client().get(links[0])
        assert icon.status_code == 200
        body = b"".join(icon.streaming_content) if icon.streaming else icon.content
        assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
        assert icon["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
