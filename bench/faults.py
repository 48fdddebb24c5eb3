"""Fault injection: what a killed worker, a broker outage or dropped database connections lose.

A benchmark script, not a test: it prints figures (goal: nothing lost). See bench/README.md::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/faults.py

It creates (and afterwards drops) a scratch PostgreSQL database ``medassist_faults``, starts
its own ``redis-server`` (so it can kill and restart it), gunicorn (``--workers``) and a Celery
worker (``--concurrency``), trains a tiny synthetic champion (demo_seed), then runs:

- ``worker-kill``: ``--rounds`` (5) rounds of ``--per-round`` (20) STOW-RS uploads, during
  each of which the worker is SIGKILLed ``--kills`` (20) times, every ``--kill-every`` second,
  alternately its pool child and the whole worker (which its supervisor restarts, as docker's
  restart policy or systemd would).
- ``broker-outage``: uploads from ``--clients`` clients while Redis is killed for
  ``--outage`` seconds and restarted empty.
- ``db-kill``: uploads while every database connection of the web and worker processes is
  terminated (``pg_terminate_backend``) each second.
- ``load``: ``--clients`` clients each uploading and opening the worklist.

After the faults the script runs the minute sweep (``inference_sweep``) each
``--sweep-seconds`` until every accepted image has a suggestion or ``--deadline`` passes, and
prints per scenario: accepted uploads, server errors, images whose file is missing, images
without exactly one suggestion (lost or doubled), how long the last one took after the
faults stopped, and upload latency (median and p95). Stale requests are retried after
``MEDASSIST_INFERENCE_STALE_SECONDS`` (``--stale``, 20 s here instead of 300 s, so a run
takes minutes rather than hours; the recovery figure scales with it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import _accepts, _admin, _free_port, _process, _wait, _with_db  # noqa: E402

STOW_PATH = "/imaging/dicomweb/studies"

FAULTS_DB = "medassist_faults"
# Every connection to the scratch database but the one asking: the web's and the worker's.
TERMINATE_OTHERS = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = 'medassist_faults' AND pid <> pg_backend_pid()"
)


def stack_env(tmp: Path, database_url: str, redis_port: int, **settings: str) -> dict[str, str]:
    """The environment of a scratch MedAssist whose demo trains a tiny synthetic image
    champion in seconds (64-pixel input, one epoch), the triage model off; ``settings``
    add or replace entries."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "medassist.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "MEDASSIST_VAR_DIR": str(tmp / "var"),
        "MEDIA_ROOT": str(tmp / "media"),
        "MEDASSIST_ENV": "development",
        "DEBUG": "false",
        "MEDASSIST_IMAGE_SIZE": "64",
        "MEDASSIST_TRAIN_EPOCHS": "1",
        "MEDASSIST_DEMO_IMAGE_PIXELS": "96",
        "MEDASSIST_TORCH_THREADS": "1",
        "MEDASSIST_CALIBRATION_MIN_CASES": "1",
        # The tiny demo's champion is measured on what there is (a hospital keeps the defaults).
        "MEDASSIST_GATE_MIN_CASES_PER_FINDING": "1",
        "MEDASSIST_FINDING_MIN_LABELS": "1",
        "MEDASSIST_SCOPE_MIN_CASES": "1",
        "MEDASSIST_WEB_SERVES_TRIAGE_MODEL": "false",
        **settings,
    }


def tiny_stack_seed(username: str) -> str:
    """Migrate the scratch database (Django set up on it), train the tiny synthetic champion
    (``demo_seed``) and make a doctor ``username``; returns the doctor's API token."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from medassist.roles import Role

    print("# migrating and training a tiny synthetic champion...", flush=True)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo_seed", patients=4, images_per_patient=3, triage=False, verbosity=0)
    user = User.objects.create_user(username=username, password=uuid.uuid4().hex)
    user.groups.add(Group.objects.get(name=Role.DOCTOR))
    return Token.objects.create(user=user).key


class Redis:
    """A redis-server of the script's own, killed and restarted (empty) on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir, self.proc = _free_port(), workdir, None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _accepts(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class Uploads:
    """STOW-RS uploads, one synthetic instance each, with their status and latency."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.lock = threading.Lock()
        self.statuses: list[int] = []
        self.latencies: list[float] = []
        self.reads: list[tuple[int, float]] = []

    def one(self, seed: int) -> None:
        import requests

        from tests.factories import synthetic_file

        data = synthetic_file(seed)
        boundary = uuid.uuid4().hex
        body = b"".join(
            (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(), data,
             f"\r\n--{boundary}--\r\n".encode())
        )  # fmt: skip
        started = time.perf_counter()
        try:
            status = requests.post(
                self.base + STOW_PATH,
                data=body,
                headers={
                    "Content-Type": f'multipart/related; type="application/dicom"; '
                    f"boundary={boundary}",
                    "Accept": "application/dicom+json",
                    "Authorization": f"Token {self.token}",
                },
                timeout=120,
            ).status_code
        except requests.RequestException:
            status = 0  # no answer at all
        with self.lock:
            self.statuses.append(status)
            self.latencies.append(time.perf_counter() - started)

    def search(self, _: int) -> None:
        """One QIDO-RS study search (a read against PostgreSQL), timed apart from uploads."""
        import requests

        started = time.perf_counter()
        try:
            status = requests.get(
                self.base + STOW_PATH + "?limit=25",
                headers={"Authorization": f"Token {self.token}"},
                timeout=120,
            ).status_code
        except requests.RequestException:
            status = 0
        with self.lock:
            self.reads.append((status, time.perf_counter() - started))

    def searches(self, n: int, clients: int) -> None:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(self.search, range(n)))

    def many(self, seeds: list[int], clients: int) -> None:
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            list(pool.map(self.one, seeds))


class Worker:
    """The Celery worker, supervised as docker's restart policy or systemd would: when it
    exits (killed, or crashed by a vanished broker) it is started again. Counts restarts."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.restarts = 0
        self.stopping = threading.Event()
        self.proc = self._spawn()
        self.watch = threading.Thread(target=self._supervise, daemon=True)
        self.watch.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )  # fmt: skip

    def _supervise(self) -> None:
        while not self.stopping.wait(0.5):
            if self.proc.poll() is not None:
                self.restarts += 1
                self.proc = self._spawn()

    def kill_children(self) -> None:
        for child in _children(self.proc.pid):
            os.kill(child, signal.SIGKILL)

    def kill_all(self) -> None:
        for pid in [*_children(self.proc.pid), self.proc.pid]:
            os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        self.stopping.set()
        self.watch.join()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _settle(deadline: float, sweep_seconds: float, since: set[int]) -> tuple[float, dict]:
    """Run the sweep until every instance not in ``since`` has a suggestion; returns (s, counts)."""
    from django.db.models import Count

    from diagnosis.inference.services import inference_sweep
    from imaging.models import Instance

    started = time.monotonic()
    while True:
        rows = Instance.objects.exclude(pk__in=since).annotate(n=Count("suggestions"))
        waiting = [r.pk for r in rows if r.n == 0]
        if not waiting or time.monotonic() - started > deadline:
            break
        inference_sweep()
        time.sleep(sweep_seconds)
    seconds = time.monotonic() - started
    rows = list(Instance.objects.exclude(pk__in=since).annotate(n=Count("suggestions")))
    media = Path(os.environ["MEDIA_ROOT"])
    return seconds, {
        "images": len(rows),
        "without a suggestion": sum(1 for r in rows if r.n == 0),
        "with more than one": sum(1 for r in rows if r.n > 1),
        "file missing": sum(1 for r in rows if not (media / r.storage_key).is_file()),
    }


def _report(name: str, uploads: Uploads, recovery: float, counts: dict) -> None:
    ok = sum(1 for s in uploads.statuses if s == 200)
    errors = sum(1 for s in uploads.statuses if s >= 500 or s == 0)
    lat = sorted(uploads.latencies)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else 0.0
    lost = counts["without a suggestion"] + counts["file missing"]
    print(
        f"{name:14} uploads {len(uploads.statuses):4}  accepted {ok:4}  "
        f"server errors {errors:3}  stored {counts['images']:4}  "
        f"file missing {counts['file missing']:2}  "
        f"no suggestion {counts['without a suggestion']:2}  "
        f"doubled {counts['with more than one']:2}  LOST {lost}  recovered in {recovery:5.1f} s  "
        f"upload median {statistics.median(lat) if lat else 0:.2f} s, p95 {p95:.2f} s  "
        f"worker restarts {counts['worker restarts']}",
        flush=True,
    )
    if uploads.reads:
        times = sorted(t for _, t in uploads.reads)
        failed = sum(1 for status, _ in uploads.reads if status != 200)
        print(
            f"{'':14} QIDO-RS searches {len(times)}  failed {failed}  median "
            f"{statistics.median(times):.2f} s, p95 {times[int(0.95 * (len(times) - 1))]:.2f} s",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="worker-kill,broker-outage,db-kill,load")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20, help="uploads per round")
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per round")
    parser.add_argument("--kill-every", type=float, default=1.0, help="seconds between kills")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery pool processes")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds Redis is down")
    parser.add_argument("--stale", type=int, default=20)
    parser.add_argument("--sweep-seconds", type=float, default=5.0)
    parser.add_argument("--deadline", type=float, default=300.0)
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    tmp = Path(tempfile.mkdtemp(prefix="medassist-faults-"))
    redis = Redis(tmp)
    redis.start()
    env = stack_env(
        tmp,
        _with_db(server_url, FAULTS_DB),
        redis.port,
        MEDASSIST_STUDY_QUIET_SECONDS="1",
        MEDASSIST_INFERENCE_STALE_SECONDS=str(args.stale),
    )
    os.environ.update(env)
    _admin(server_url, f"DROP DATABASE IF EXISTS {FAULTS_DB} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {FAULTS_DB}")
    try:
        import django

        django.setup()
        from django.db import connection

        from imaging.models import Instance

        token = tiny_stack_seed("faults")
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        gunicorn = [sys.executable, "-m", "gunicorn", "medassist.wsgi", "--bind",
                    f"127.0.0.1:{port}", "--workers", str(args.workers),
                    "--timeout", "120"]  # fmt: skip
        worker = [sys.executable, "-m", "celery", "-A", "medassist", "worker", "-Q",
                  "default,inference,training", "--concurrency", str(args.concurrency),
                  "--loglevel", "WARNING"]  # fmt: skip
        seed = 10_000
        print(
            f"# {os.cpu_count()} CPUs; gunicorn {args.workers} workers, Celery {args.concurrency}"
            f" pool processes, stale after {args.stale} s, sweep every {args.sweep_seconds} s",
            flush=True,
        )
        with _process(gunicorn, env, tmp / "gunicorn.log") as web:
            _wait(lambda: _accepts(port), "gunicorn", web)
            for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
                before = set(Instance.objects.values_list("pk", flat=True))
                uploads = Uploads(base, token)
                proc = Worker(worker, env, tmp / f"{scenario}.log")
                time.sleep(8)  # the worker's imports
                if scenario == "worker-kill":
                    for _ in range(args.rounds):
                        thread = threading.Thread(
                            target=uploads.many,
                            args=(list(range(seed, seed + args.per_round)), 4),
                        )
                        seed += args.per_round
                        thread.start()
                        for kill in range(args.kills):
                            time.sleep(args.kill_every)  # uploads arriving, the worker computing
                            if kill % 2 == 0:
                                proc.kill_children()  # the pool child, mid-batch
                            else:
                                proc.kill_all()  # the whole worker; its supervisor restarts it
                        thread.join()
                elif scenario == "broker-outage":
                    thread = threading.Thread(
                        target=uploads.many,
                        args=(list(range(seed, seed + args.clients * 3)), args.clients),
                    )
                    seed += args.clients * 3
                    thread.start()
                    time.sleep(1.0)
                    redis.kill()
                    time.sleep(args.outage)
                    redis.start()
                    thread.join()
                elif scenario == "db-kill":
                    stop = threading.Event()

                    def terminate(stop: threading.Event = stop) -> None:
                        while not stop.wait(1.0):
                            _admin(
                                server_url,
                                TERMINATE_OTHERS,
                            )

                    connection.close()
                    killer = threading.Thread(target=terminate)
                    killer.start()
                    uploads.many(list(range(seed, seed + 60)), 6)
                    seed += 60
                    stop.set()
                    killer.join()
                    connection.close()
                elif scenario == "load":
                    # Each of the clients uploads and searches, all at once.
                    searcher = threading.Thread(
                        target=uploads.searches, args=(args.clients * 5, max(1, args.clients // 2))
                    )
                    searcher.start()
                    uploads.many(list(range(seed, seed + args.clients * 5)), args.clients)
                    searcher.join()
                    seed += args.clients * 5
                else:
                    raise SystemExit(f"unknown scenario {scenario!r}")
                recovery, counts = _settle(args.deadline, args.sweep_seconds, before)
                counts["worker restarts"] = proc.restarts
                _report(scenario, uploads, recovery, counts)
                proc.stop()
        connection.close()
    finally:
        redis.kill()
        _admin(server_url, f"DROP DATABASE IF EXISTS {FAULTS_DB} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
