"""Production settings: HTTPS, refusals with one clear line, the CSP, and no cached PHI."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import Permission, User
from django.core.signals import request_started
from django.db import connection, connections
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from imaging.models import Instance
from tests.conftest import ROOT, make_user, sign_in
from tests.factories import ingested_instance

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

# The variables these tests set; whatever the outer environment says about them is dropped.
_OWN = {
    "MEDASSIST_ENV",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "MEDASSIST_TRUSTED_PROXY_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
}


def _production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A production-like environment; an override of "" removes that variable."""
    env = {k: v for k, v in os.environ.items() if k not in _OWN}
    env.update(
        MEDASSIST_ENV="production",
        MEDASSIST_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL="postgres://medassist@127.0.0.1:5432/medassist",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters
        ALLOWED_HOSTS="medassist.example",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- Starting -----------------------------------------------------------------------------


def test_check_deploy_finds_nothing_to_warn_about_in_production(tmp_path: Path) -> None:
    done = _manage(_production(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    assert "WARNINGS" not in done.stdout + done.stderr


def test_a_secret_key_from_a_file_starts_production(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(48) + "\n")
    done = _manage(_production(tmp_path, SECRET_KEY="", SECRET_KEY_FILE=str(key_file)), "check")
    assert done.returncode == 0, done.stderr


REFUSALS = [
    ("debug", {"DEBUG": "true"}, "DEBUG must be off in production"),
    ("no-database", {"DATABASE_URL": ""}, "needs DATABASE_URL naming PostgreSQL"),
    ("sqlite", {"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, "it names sqlite"),
    ("no-redis", {"REDIS_URL": ""}, "Production needs REDIS_URL"),
    ("no-secret", {"SECRET_KEY": ""}, "SECRET_KEY (or SECRET_KEY_FILE) must be set"),
    ("short-secret", {"SECRET_KEY": "x7#kQ" * 9}, "SECRET_KEY is too weak for production"),
    ("few-characters", {"SECRET_KEY": "abcd" * 20}, "SECRET_KEY is too weak for production"),
    (
        "django-insecure",
        {"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(48)},
        "SECRET_KEY is too weak for production",
    ),
    (
        "missing-secret-file",
        {"SECRET_KEY": "", "SECRET_KEY_FILE": "/nonexistent/secret_key"},
        "SECRET_KEY_FILE=/nonexistent/secret_key: no such file",
    ),
    (
        "secret-file-is-a-folder",
        {"SECRET_KEY": "", "SECRET_KEY_FILE": "/"},
        "SECRET_KEY_FILE=/: cannot be read",
    ),
    (
        "bad-proxy-header",
        {"MEDASSIST_TRUSTED_PROXY_HEADER": "X-Forwarded-Proto: https"},
        "MEDASSIST_TRUSTED_PROXY_HEADER='X-Forwarded-Proto: https' is not a header name",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "words"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_production_refuses_an_unsafe_setting_with_one_clear_line(
    tmp_path: Path, overrides: dict[str, str], words: str
) -> None:
    done = _manage(_production(tmp_path, **overrides), "check")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()], done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert "System check" not in done.stdout


def test_a_missing_file_for_any_setting_is_named_even_outside_production(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _OWN}
    env.update(MEDASSIST_VAR_DIR=str(tmp_path / "var"), REDIS_URL_FILE="/nonexistent/redis")
    done = _manage(env, "check")
    assert done.returncode == 2
    assert done.stderr.strip() == "REDIS_URL_FILE=/nonexistent/redis: no such file."


_REQUESTS = """
from django.test import Client
client = Client(HTTP_HOST="medassist.example")
plain = client.get("/accounts/login/")
print("plain", plain.status_code, plain.get("Location"))
proxied = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print("proxied", proxied.status_code, proxied.get("Strict-Transport-Security"))
print("health", client.get("/healthz").status_code)
"""


def test_behind_the_trusted_proxy_plain_http_is_redirected_and_https_gets_hsts(
    tmp_path: Path,
) -> None:
    env = _production(tmp_path, MEDASSIST_TRUSTED_PROXY_HEADER="X-Forwarded-Proto")
    done = _manage(env, "shell", "--no-imports", "-c", _REQUESTS)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines["plain"] == "301 https://medassist.example/accounts/login/"
    assert lines["proxied"] == "200 max-age=31536000; includeSubDomains"
    # A load balancer may probe the health check over plain HTTP.
    assert lines["health"] == "200"


def test_without_a_trusted_proxy_header_a_forwarded_https_claim_is_ignored(
    tmp_path: Path,
) -> None:
    done = _manage(_production(tmp_path), "shell", "--no-imports", "-c", _REQUESTS)
    assert done.returncode == 0, done.stderr
    assert "proxied 301 None" in done.stdout


# --- Pages --------------------------------------------------------------------------------

_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_EVENT_ATTRIBUTE = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)


def _inline_code(html: str) -> list[str]:
    """What a CSP without 'unsafe-inline' would block in this page."""
    found = []
    for attributes in _SCRIPT_TAG.findall(html):
        # A JSON data block (json_script) is not run, so the CSP does not apply to it.
        if "src=" not in attributes and "application/json" not in attributes:
            found.append(f"<script{attributes}>")
    found += re.findall(r"<style\b", html, re.IGNORECASE)
    found += re.findall(r"<[^>]*\sstyle\s*=", html, re.IGNORECASE)
    found += _EVENT_ATTRIBUTE.findall(html)
    found += re.findall(r"javascript:", html, re.IGNORECASE)
    found += re.findall(r"\shx-on", html)
    return found


@pytest.fixture
def case(db, doctor: User) -> Instance:  # type: ignore[no-untyped-def]
    return ingested_instance(1, by=doctor)


@pytest.fixture
def auditor(db) -> User:  # type: ignore[no-untyped-def]
    user = make_user("auditor-test", None)
    user.is_staff = True
    user.save()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="medassist", codename="view_auditevent")
    )
    return user


def _client(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _pages(case: Instance) -> list[tuple[str, str, int]]:
    """(page, fixture of the user who sees it, expected status)."""
    return [
        (reverse("login"), "", 200),
        (reverse("home"), "nobody", 403),  # a user without a role is told so on the page
        (reverse("diagnosis:worklist"), "doctor", 200),
        (reverse("diagnosis:case", kwargs={"instance_id": case.pk}), "doctor", 200),
        (reverse("imaging:upload"), "doctor", 200),
        (reverse("diagnosis:stats"), "doctor", 200),
        (reverse("diagnosis:triage-board"), "nurse", 200),
        (reverse("diagnosis:encounter-new"), "nurse", 200),
        (reverse("finetune:models"), "ml_admin", 200),
        (reverse("audit"), "auditor", 200),
    ]


@pytest.mark.django_db
def test_no_page_holds_inline_script_style_or_event_handlers(
    request: pytest.FixtureRequest, case: Instance
) -> None:
    for url, who, status in _pages(case):
        if who == "nobody":
            user: User | None = make_user("no-role", None)
        else:
            user = request.getfixturevalue(who) if who else None
        response = _client(user).get(url)
        assert response.status_code == status, url
        html = response.content.decode()
        assert "<html" in html, url
        assert _inline_code(html) == [], url


@pytest.mark.django_db
def test_a_page_carries_the_content_security_policy(doctor: User) -> None:
    response = _client(doctor).get(reverse("diagnosis:worklist"))
    policy = dict(
        (part.split()[0], part.split()[1:])
        for part in response["Content-Security-Policy"].split(";")
    )
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # htmx is told not to inject its own <style>, which the policy would block.
    assert '"includeIndicatorStyles": false' in response.content.decode()


@pytest.mark.browser
def test_the_browser_blocks_nothing_on_the_pages_and_htmx_and_the_viewer_still_run(
    live_server: LiveServer, doctor: User, page: Page, settings: Settings
) -> None:
    from playwright.sync_api import expect

    settings.MEDASSIST_WORKLIST_POLL_SECONDS = 1
    instance = ingested_instance(2, by=doctor)
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, live_server, doctor.username)

    page.goto(f"{live_server.url}{reverse('diagnosis:worklist')}")
    # htmx is running: the worklist's poll replaces the table in place.
    page.evaluate("document.getElementById('worklist').dataset.firstRender = '1'")
    page.wait_for_function(
        "() => document.getElementById('worklist').dataset.firstRender === undefined",
        timeout=10_000,
    )
    # The selected-row style now comes from static/css.
    page.keyboard.press("j")
    expect(page.locator("#worklist tr.selected")).to_have_count(1)
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('#worklist tr.selected')).outlineStyle"
        )
        == "solid"
    )

    page.goto(f"{live_server.url}{reverse('diagnosis:case', args=[instance.pk])}")
    expect(page.locator("#viewer")).to_have_attribute("data-state", "ready")
    page.goto(
        f"{live_server.url}{reverse('imaging:viewer:study', args=[instance.series.study.pk])}"
    )
    expect(page.locator("#viewer")).to_have_attribute("data-state", "ready")

    assert violations == []


# --- Caching ------------------------------------------------------------------------------


def _cache_control(response: HttpResponse) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


@pytest.mark.django_db
def test_a_patient_page_is_never_stored_by_a_browser_or_proxy(doctor: User, case: Instance) -> None:
    client = _client(doctor)
    for url in (
        reverse("diagnosis:case", kwargs={"instance_id": case.pk}),
        reverse("diagnosis:worklist"),
        "/imaging/dicomweb/studies",
    ):
        response = client.get(url)
        assert response.status_code in {200, 204}, url
        assert {"no-store", "private"} <= _cache_control(response), url


@pytest.mark.django_db
def test_a_frame_keeps_its_own_private_caching(doctor: User, case: Instance) -> None:
    response = _client(doctor).get(reverse("imaging:frame", kwargs={"instance_id": case.pk}))
    assert response.status_code == 200
    cache_control = _cache_control(response)
    assert "private" in cache_control
    assert "no-store" not in cache_control
    assert any(part.startswith("max-age=") for part in cache_control)


@pytest.mark.django_db
def test_static_files_keep_their_caching_for_a_signed_in_user(doctor: User) -> None:
    response = _client(doctor).get("/static/css/medassist.css")
    assert response.status_code == 200
    assert "no-store" not in _cache_control(response)
    assert any(part.startswith("max-age=") for part in _cache_control(response))


# --- The database connection --------------------------------------------------------------


def test_the_next_request_after_the_database_dropped_its_connection_is_served(
    transactional_db: None, postgres: None, doctor: User
) -> None:
    client = _client(doctor)
    assert client.get(reverse("diagnosis:worklist")).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    # As when PostgreSQL restarts, or a firewall drops an idle connection.
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    finally:
        other.close()

    # What a web server's request handler does first (the test client leaves it out).
    request_started.send(sender=None)
    assert client.get(reverse("diagnosis:worklist")).status_code == 200
