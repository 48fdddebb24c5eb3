"""Sign-in: lockout per (user name, address), its audit, the admin unlock, idle sign-out,
and the password rules (medassist/signin)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from typing import TYPE_CHECKING

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from finetune.management.commands.demo_seed import DEMO_PASSWORD, DEMO_USERS
from medassist.models import AuditEvent
from medassist.roles import Role
from medassist.signin.idle import LAST_ACTIVITY_KEY, POLL_HEADER
from tests.conftest import TEST_PASSWORD, make_user, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("postgres")]

WARD_PC = "10.20.0.7"
OTHER_PC = "10.20.0.8"
# What idle.js adds: to htmx's timed refreshes (with HX-Request), and to its own checks.
POLL_ONLY = {f"HTTP_{POLL_HEADER.upper().replace('-', '_')}": "1"}
POLL = {"HTTP_HX_REQUEST": "true", **POLL_ONLY}


@pytest.fixture(autouse=True)
def signin_defaults(settings) -> None:  # type: ignore[no-untyped-def]
    """The shipped defaults, whatever the environment running the tests sets."""
    settings.MEDASSIST_SIGNIN_FAILURE_LIMIT = 5
    settings.MEDASSIST_SIGNIN_COOLOFF_MINUTES = 15
    settings.MEDASSIST_IDLE_LOGOUT_MINUTES = 30


@pytest.fixture
def nurse_user(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("nurse-ward", Role.NURSE)


def _sign_in(client: Client, password: str, *, username: str = "nurse-ward", ip: str = WARD_PC):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _lock(client: Client, *, times: int = 5) -> None:
    for _ in range(times):
        _sign_in(client, "not-the-password")


# --- Lockout -------------------------------------------------------------------------------


def test_thirty_wrong_passwords_lock_the_pair_and_then_the_right_one_is_refused(
    client: Client, nurse_user: User
) -> None:
    statuses = [_sign_in(client, f"guess-{n}").status_code for n in range(30)]
    assert statuses[:4] == [200] * 4  # the form again, with its error
    assert set(statuses[4:]) == {429}  # the fifth reaches the limit

    response = _sign_in(client, TEST_PASSWORD)
    assert response.status_code == 429
    assert not _signed_in(client)
    page = response.content.decode()
    assert "signing in as <strong>nurse-ward</strong> from this computer is paused" in page
    assert "An administrator can unlock your account sooner." in page
    until = AccessAttempt.objects.get().attempt_time + dt.timedelta(minutes=15)
    assert f"until {timezone.localtime(until):%H:%M}" in page
    assert 'name="username"' in page and 'value="nurse-ward"' in page
    # Tries while locked are refused, not counted: the promised time does not move.
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_a_lockout_does_not_lock_the_ward_out(client: Client, nurse_user: User) -> None:
    _lock(client)
    make_user("nurse-colleague", Role.NURSE)

    assert _sign_in(Client(), TEST_PASSWORD, ip=OTHER_PC).status_code == 302
    colleague = Client()
    assert _sign_in(colleague, TEST_PASSWORD, username="nurse-colleague").status_code == 302
    assert _signed_in(colleague)


def test_after_the_cool_off_the_right_password_signs_in(client: Client, nurse_user: User) -> None:
    _lock(client)
    assert _sign_in(client, TEST_PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))

    assert _sign_in(client, TEST_PASSWORD).status_code == 302
    assert _signed_in(client)
    assert not AccessAttempt.objects.exists()  # success clears the count


def test_the_limit_and_the_cool_off_come_from_the_settings(
    client: Client, nurse_user: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_SIGNIN_FAILURE_LIMIT = 2
    settings.MEDASSIST_SIGNIN_COOLOFF_MINUTES = 1
    assert [_sign_in(client, "wrong").status_code for _ in range(2)] == [200, 429]
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(seconds=61))
    assert _sign_in(client, TEST_PASSWORD).status_code == 302


def test_an_administrator_unlocks_a_user(client: Client, nurse_user: User) -> None:
    _lock(client)
    admin = User.objects.create_superuser("admin-test", password=TEST_PASSWORD)
    admin_client = Client()
    admin_client.force_login(admin)
    listed = admin_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listed.status_code == 200 and "nurse-ward" in listed.content.decode()

    call_command("axes_reset_username", "nurse-ward", verbosity=0)
    assert _sign_in(client, TEST_PASSWORD).status_code == 302


# --- Audit ---------------------------------------------------------------------------------


def test_failed_sign_ins_are_audited_with_the_address_and_never_the_password(
    client: Client, nurse_user: User
) -> None:
    secret = "Correct-Horse-Guess-77"
    for _ in range(6):
        _sign_in(client, secret)

    failed = list(AuditEvent.objects.filter(action="auth.signin_failed").order_by("pk"))
    assert len(failed) == 6
    assert {e.remote_addr for e in failed} == {WARD_PC}
    assert failed[0].actor is None
    assert failed[0].detail == {"username": "nurse-ward", "locked_out": False}
    assert failed[-1].detail == {"username": "nurse-ward", "locked_out": True}
    locked = AuditEvent.objects.get(action="auth.locked_out")  # once, not once per try
    assert locked.detail == {"username": "nurse-ward"} and locked.remote_addr == WARD_PC
    stored = json.dumps([e.detail for e in AuditEvent.objects.all()])
    stored += "".join(a.post_data for a in AccessAttempt.objects.all())
    assert secret not in stored


def test_signing_in_and_out_is_audited(client: Client, nurse_user: User) -> None:
    _sign_in(client, TEST_PASSWORD)
    client.post(reverse("logout"), REMOTE_ADDR=WARD_PC)
    events = AuditEvent.objects.filter(actor=nurse_user, action__startswith="auth.")
    assert [(e.action, e.detail, e.remote_addr) for e in events.order_by("pk")] == [
        ("auth.signin", {}, WARD_PC),
        ("auth.signout", {"reason": "user"}, WARD_PC),
    ]


# --- Idle sign-out -------------------------------------------------------------------------


@pytest.fixture
def nurse_client(nurse_user: User) -> Client:
    client = Client()
    client.force_login(nurse_user)
    return client


def _idle_for(client: Client, minutes: float) -> None:
    session = client.session
    session[LAST_ACTIVITY_KEY] = time.time() - minutes * 60
    session.save()


def _last_activity(client: Client) -> float:
    return client.session[LAST_ACTIVITY_KEY]


def test_a_session_idle_past_the_limit_is_signed_out_with_a_message(
    nurse_client: Client, nurse_user: User
) -> None:
    board = reverse("diagnosis:triage-board")
    _idle_for(nurse_client, 29)
    assert nurse_client.get(board).status_code == 200  # not yet: and this is activity
    assert time.time() - _last_activity(nurse_client) < 5

    _idle_for(nurse_client, 31)
    response = nurse_client.get(board, follow=True)
    assert response.redirect_chain[-1][0] == f"{reverse('login')}?next={board}"
    assert "signed out after 30 minutes without activity" in response.content.decode()
    assert not _signed_in(nurse_client)
    signout = AuditEvent.objects.get(action="auth.signout", actor=nurse_user)
    assert signout.detail == {"reason": "idle"}


def test_the_boards_automatic_refresh_does_not_keep_a_session_alive(
    nurse_client: Client,
) -> None:
    board = reverse("diagnosis:triage-board")
    _idle_for(nurse_client, 20)
    before = _last_activity(nurse_client)
    refresh = nurse_client.get(board, **POLL)
    assert refresh.status_code == 200 and "<html" not in refresh.content.decode()
    assert _last_activity(nurse_client) == before

    _idle_for(nurse_client, 31)
    refresh = nurse_client.get(board, **POLL, HTTP_HX_CURRENT_URL=f"http://testserver{board}")
    # htmx is told to load the sign-in page, rather than swap it into the board.
    assert refresh["HX-Redirect"] == f"{reverse('login')}?next=%2Ftriage%2F"
    assert not _signed_in(nurse_client)


def test_an_htmx_request_somebody_made_is_activity(nurse_client: Client) -> None:
    _idle_for(nurse_client, 20)
    nurse_client.get(reverse("diagnosis:triage-board"), HTTP_HX_REQUEST="true")
    assert time.time() - _last_activity(nurse_client) < 5


def test_the_warning_asks_without_refreshing_and_the_keep_alive_refreshes(
    nurse_client: Client,
) -> None:
    url = reverse("session-status")
    _idle_for(nurse_client, 28.5)
    asked = nurse_client.get(url, **POLL_ONLY).json()
    assert asked["signed_in"] and 80 <= asked["idle_seconds_left"] <= 90

    kept = nurse_client.post(url).json()
    assert kept["signed_in"] and kept["idle_seconds_left"] >= 30 * 60 - 5

    _idle_for(nurse_client, 31)
    gone = nurse_client.get(url, **POLL_ONLY).json()
    assert gone == {"signed_in": False, "idle_seconds_left": 0}


def test_signed_in_pages_carry_the_idle_limit_for_the_warning_script(
    nurse_client: Client, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_IDLE_LOGOUT_MINUTES = 10
    page = nurse_client.get(reverse("diagnosis:triage-board")).content.decode()
    assert 'data-idle-seconds="600" data-idle-warning-seconds="120"' in page
    assert "/static/js/idle.js" in page
    assert "<script>" not in page  # no inline script: the page works under a strict CSP
    signed_out = Client().get(reverse("login")).content.decode()
    assert "data-idle-seconds" not in signed_out and "idle.js" not in signed_out


def test_a_session_lasts_at_most_a_shift_and_ends_with_the_browser(settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


# --- Password rules ------------------------------------------------------------------------


def test_demo_passwords_pass_the_rules_and_short_or_common_ones_do_not() -> None:
    for username, _role, full_name in DEMO_USERS:
        validate_password(DEMO_PASSWORD, User(username=username, first_name=full_name))
    nurse = User(username="nurse", first_name="Nurse Demo")
    for weak in ("nurse123", "123456789012", "password1234"):
        with pytest.raises(ValidationError):
            validate_password(weak, nurse)


# --- In a browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_the_page_warns_before_the_idle_limit_and_then_opens_the_sign_in_page(
    live_server: LiveServer, page: Page, nurse_user: User, settings
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    settings.MEDASSIST_IDLE_LOGOUT_MINUTES = 0.1  # 6 s, warned 3 s before
    sign_in(page, live_server, nurse_user.username)
    assert "/triage/" in page.url
    warning = page.get_by_test_id("idle-warning")
    expect(warning).to_contain_text("signed out in less than a minute for inactivity")

    page.mouse.move(200, 200)  # activity during the warning keeps the session
    page.mouse.move(220, 240)
    expect(warning).to_have_count(0, timeout=3_000)

    # Left alone (the board refreshes itself every 5 s meanwhile), it comes to the sign-in page.
    page.wait_for_url(re.compile(r"/accounts/login/\?next=%2Ftriage%2F$"), timeout=15_000)
    expect(page.locator(".flash")).to_contain_text("without activity")
