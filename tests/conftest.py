"""Fixtures shared by the Django tests: real services, role users, tiny model settings."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connections
from django.db.backends.signals import connection_created
from django.test import override_settings

from medassist.roles import Role

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _allow_flushing_the_audit_log(sender, connection, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Let this process's connections TRUNCATE the append-only audit tables.

    Between transactional tests Django empties every table with one TRUNCATE, which the
    audit tables' trigger refuses unless the session sets this (migration medassist 0002).
    Only the tests set it; UPDATE and DELETE stay refused here too.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET medassist.allow_audit_truncate = 'on'")


connection_created.connect(_allow_flushing_the_audit_log, dispatch_uid="allow-audit-flush")


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    """Share the CPUs among the parallel test processes (pytest-xdist's workers).

    Each worker's torch would otherwise start one thread per CPU, so two workers on two
    cores run four busy threads, and torch's spinning threads then wait on each other: the
    encoder's pass over a vignette took 0.86 s instead of 0.03 s. The workers' own torch,
    the thread setting the served models read (MEDASSIST_TORCH_THREADS) and every process a
    test starts (OMP_NUM_THREADS) take their share instead.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers < 2:
        return
    import torch

    from medassist.ml.device import available_cpus

    threads = max(1, available_cpus() // workers)
    os.environ["OMP_NUM_THREADS"] = os.environ["MEDASSIST_TORCH_THREADS"] = str(threads)
    django_settings.MEDASSIST_TORCH_THREADS = threads
    torch.set_num_threads(threads)


# Tiny settings, set through the same knobs a hospital turns (see medassist/settings.py).
TINY = {
    "MEDASSIST_IMAGE_SIZE": 64,
    "MEDASSIST_TRAIN_EPOCHS": 1,
    "MEDASSIST_TRAIN_BATCH_SIZE": 8,
    "MEDASSIST_DEMO_IMAGE_PIXELS": 96,
    "MEDASSIST_TORCH_THREADS": 1,
    "MEDASSIST_STUDY_QUIET_SECONDS": 1,
    "MEDASSIST_TRIAGE_EPOCHS": 1,
    "MEDASSIST_TRIAGE_TRAIN_NOTES": 24,
    # Calibrate even on the few cases tiny runs hold back (a hospital keeps the default).
    "MEDASSIST_CALIBRATION_MIN_CASES": 1,
    # The tiny demo freezes one test case per finding and trains on a handful: the gate,
    # the finding readiness and the scope are measured on what there is (a hospital keeps
    # the defaults; the gate's own tests set them to what each case needs).
    "MEDASSIST_GATE_MIN_CASES_PER_FINDING": 1,
    "MEDASSIST_GATE_RESAMPLES": 200,
    "MEDASSIST_FINDING_MIN_LABELS": 1,
    "MEDASSIST_SCOPE_MIN_CASES": 1,
}


def service_missing(what: str) -> None:
    """A missing real service fails the test in CI and skips it on a developer's machine."""
    message = f"{what} is not reachable; integration tests need the real service."
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres() -> None:
    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        service_missing("PostgreSQL (set DATABASE_URL)")


# --- The session's own cache and broker --------------------------------------------------
# Tests write cache entries and queue wake-ups like any process. They must neither see what
# another run left (SQLite reuses ids, so a stale "already tried" count would belong to a
# different row) nor touch anyone else's: REDIS_URL may name a developer's own database, and
# the embedded defaults keep their queue and cache under the checkout's var/. So the session
# claims a Redis database of its own on REDIS_URL's server (empty when claimed, emptied when
# done), or, without Redis, keeps its queue and cache files in a temporary folder; this
# process, and every worker or web process a test starts, use only those.
REDIS_OWNER_KEY = "medassist-tests:owner"
# Atomic, so two sessions never claim one database, and a database holding anything is
# never taken.
_CLAIM = """
if redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1]) return 1 end
return 0
"""
# Everything in a claimed database is the session's own; nothing else is ever deleted.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('FLUSHDB') return 1 end
return 0
"""
_EMPTY = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def _with_db(url: str, db: int) -> str:
    return urlparse(url)._replace(path=f"/{db}").geturl()


def _owner_is_gone(owner: bytes | None) -> bool:
    """Whether ``owner`` is a session of this machine whose process has ended (a crash)."""
    host, _, rest = (owner or b"").decode(errors="replace").partition("/")
    pid = rest.partition("/")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim_redis_database(url: str, owner: str) -> str | None:
    """The URL of a database on ``url``'s server that this session now owns, or None.

    The database ``url`` names is tried first, then the others from the highest down;
    database 0, where applications keep their data by default, never. A database left by a
    crashed session of this machine is taken back.
    """
    import redis

    try:
        first = redis.Redis.from_url(url, socket_timeout=5)
        named = int(first.connection_pool.connection_kwargs.get("db") or 0)
        try:
            count = int(first.config_get("databases").get("databases", 16))
        except redis.ResponseError:  # CONFIG may be refused; 16 is Redis's default
            count = 16
    except (redis.RedisError, OSError):
        return None
    for db in dict.fromkeys([named, *range(count - 1, 0, -1)]):
        if db == 0:
            continue
        client = redis.Redis.from_url(_with_db(url, db), socket_timeout=5)
        if client.eval(_CLAIM, 1, REDIS_OWNER_KEY, owner):
            return _with_db(url, db)
        left = client.get(REDIS_OWNER_KEY)
        if (
            _owner_is_gone(left)
            and client.eval(_RELEASE, 1, REDIS_OWNER_KEY, left)
            and client.eval(_CLAIM, 1, REDIS_OWNER_KEY, owner)
        ):
            return _with_db(url, db)
    return None


@dataclass
class SessionRedis:
    """The Redis database this session claimed: its URL and the owner mark it holds."""

    url: str
    owner: str


_session_redis: SessionRedis | None = None
_no_redis_reason = "Redis (set REDIS_URL)"


@pytest.fixture(scope="session", autouse=True)
def session_cache_and_broker(tmp_path_factory) -> Iterator[str | None]:  # type: ignore[no-untyped-def]
    """Point this session's cache and broker at its own Redis database, or its own folder.

    Yields the claimed Redis URL (None without Redis), which ``redis_broker`` hands to the
    tests that need Redis; ``REDIS_URL`` in this process's environment names it too, so every
    process a test starts uses it.
    """
    global _session_redis, _no_redis_reason
    from medassist.celery import app

    url = os.environ.get("REDIS_URL", "")
    owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex}"
    claimed = None
    if url and _reachable(url, 6379):
        claimed = _claim_redis_database(url, owner)
        if claimed is None:
            _no_redis_reason = "A free Redis database on REDIS_URL's server (every one holds data)"
    if claimed:
        _session_redis = SessionRedis(url=claimed, owner=owner)
        cache = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": claimed,
            "KEY_PREFIX": "medassist",
        }
        broker: dict[str, object] = {"CELERY_BROKER_URL": claimed}
        os.environ["REDIS_URL"] = claimed
    else:
        folder = tmp_path_factory.mktemp("var")
        for sub in ("queue", "processed", "control"):
            (folder / "broker" / sub).mkdir(parents=True)
        cache = {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(folder / "cache"),
        }
        broker = {
            "CELERY_BROKER_URL": "filesystem://localhost/",
            "CELERY_BROKER_TRANSPORT_OPTIONS": {
                "data_folder_in": str(folder / "broker" / "queue"),
                "data_folder_out": str(folder / "broker" / "queue"),
                "processed_folder": str(folder / "broker" / "processed"),
                "store_processed": False,
                "control_folder": str(folder / "broker" / "control"),
                "polling_interval": 0.1,
            },
        }
    overrides = override_settings(CACHES={"default": cache}, **broker)
    overrides.enable()
    # The Celery app read its settings once; it connects to the broker on first use.
    for name, value in broker.items():
        app.conf[name.removeprefix("CELERY_").lower()] = value
    try:
        yield claimed
    finally:
        overrides.disable()
        if claimed:
            import redis

            os.environ["REDIS_URL"] = url
            redis.Redis.from_url(claimed).eval(_RELEASE, 1, REDIS_OWNER_KEY, owner)
            _session_redis = None


@pytest.fixture
def redis_broker(session_cache_and_broker: str | None) -> str:
    """The session's own Redis database (see ``session_cache_and_broker``)."""
    if not session_cache_and_broker:
        service_missing(_no_redis_reason)
    return session_cache_and_broker


def redis_database_empty() -> None:
    """Empty the session's own Redis database; any other is left alone."""
    import redis

    assert _session_redis is not None, "this test session claimed no Redis database"
    emptied = redis.Redis.from_url(_session_redis.url).eval(
        _EMPTY, 1, REDIS_OWNER_KEY, _session_redis.owner
    )
    assert emptied == 1, f"{_session_redis.url} is no longer this session's; nothing deleted."


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings) -> Path:  # type: ignore[no-untyped-def]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def tiny(settings) -> dict[str, int]:  # type: ignore[no-untyped-def]
    for name, value in TINY.items():
        setattr(settings, name, value)
    return TINY


def make_user(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-for-tests-only")
    if role is not None:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def doctor(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("dr-test", Role.DOCTOR)


@pytest.fixture
def nurse(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("nurse-test", Role.NURSE)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The inference wake-ups sent, (task name, arguments), recorded instead of published
    (as if the broker accepted them)."""
    from diagnosis.inference import services

    messages: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, **kwargs: Any) -> bool:
        messages.append((name, kwargs))
        return True

    monkeypatch.setattr(services, "job_enqueue", record)
    return messages


@pytest.fixture
def ml_admin(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("mladmin-test", Role.ML_ADMIN)


@pytest.fixture
def image_champion(tiny):  # type: ignore[no-untyped-def]
    """Synthetic data (4 patients, 1 held out) and a first champion trained with tiny settings."""
    call_command("demo_seed", patients=4, images_per_patient=3, triage=False, verbosity=0)
    from diagnosis.registry.models import ModelVersion

    return ModelVersion.objects.get(task="image", status=ModelVersion.Status.CHAMPION)


def service_env(*, broker_url: str, media_root: Path) -> dict[str, str]:
    """The environment of a MedAssist process (worker, web, sweep) on the test database."""
    db = django_settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker_url,
        "MEDIA_ROOT": str(media_root),
        **{name: str(value) for name, value in TINY.items()},
    }


@contextmanager
def worker_running(*, broker_url: str, media_root: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process (all queues, one pool child) until the block ends."""
    log = media_root.parent / f"worker-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "medassist",
                "worker",
                "-Q",
                "default,inference,training",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            ],
            cwd=ROOT,
            env=service_env(broker_url=broker_url, media_root=media_root),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while b" ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("The Celery worker did not start:\n" + log.read_text()[-3000:])
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if os.environ.get("MEDASSIST_SHOW_WORKER_LOG"):
            print(log.read_text())


@pytest.fixture
def celery_worker(  # type: ignore[no-untyped-def]
    transactional_db, postgres, redis_broker, tiny, media_root
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on Redis and the test PostgreSQL database (its Popen)."""
    # Wake-ups earlier tests queued name rows that are gone; the worker must not get them.
    redis_database_empty()
    with worker_running(broker_url=redis_broker, media_root=media_root) as proc:
        yield proc


def wait_for(predicate, *, timeout: float = 90.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    pytest.fail(f"Timed out after {timeout:.0f} s waiting for {what}.")


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:  # type: ignore[no-untyped-def]
    """Users are made in nearly every test; the production hasher costs ~0.25 s per user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


TEST_PASSWORD = "pw-for-tests-only"  # make_user's password
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(monkeypatch, live_server):  # type: ignore[no-untyped-def]
    """A fresh page in Debian's chromium; the browser is closed before the database is flushed.

    Playwright's own browser download cannot work offline, so the system chromium is used.
    """
    executable = shutil.which("chromium")
    if executable is None:
        service_missing("chromium")
    try:
        from playwright import sync_api
    except ImportError:
        service_missing("Playwright (pip install playwright)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # meanwhile are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()
            # With a loop running, Django keeps this thread's connections per context, so the
            # ones the test opened would outlive it and block dropping the test database.
            connections.close_all()


def sign_in(page, live_server, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login page as a user made by make_user."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, "signing in failed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A redis-server of the test's own, on its own port, that the test stops and starts."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("the test's redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()  # as a crash: nothing is saved, the queues are gone
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis the test owns: the fault tests kill and restart it without touching others'."""
    if shutil.which("redis-server") is None:
        service_missing("redis-server")
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    redis.stop()


# The minute sweep, as beat runs it, in a process of its own (on the broker its env names).
SWEEP_SCRIPT = """
import json
import django
django.setup()
from diagnosis.inference.services import inference_sweep
print(json.dumps(inference_sweep()))
"""


def run_process(code: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in a fresh MedAssist process; fails the test if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def run_script(code: str, *args: str, env: dict[str, str]) -> str:
    """:func:`run_process`, returning the last line the process printed."""
    return run_process(code, *args, env=env).stdout.strip().splitlines()[-1]
