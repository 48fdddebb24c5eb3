"""Run all of MedAssist on one machine: migrate, web, workers, beat, then the demo.

The site comes up first: migrate, start the web server, one Celery worker per queue
(``default`` for the light steps and sweeps, ``inference`` for suggestions, ``training``
for training runs, so training never delays a suggestion) and beat, and print the URL once
the web server answers. Only then are the demo accounts and images loaded and the first
models queued for the training worker; their progress prints here (``demo_seed --queue
--follow``) and shows on the models page. Ctrl-C stops every process it started. Data stays
under var/ (or wherever DATABASE_URL and MEDIA_ROOT point), so running it again keeps what
was there, and an interrupted first start goes on where it stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

# Queue -> worker processes: one worker per queue, so no kind of work waits behind another
# (the embedded filesystem broker is safe for several consumers: medassist/broker.py).
WORKERS = {"default": 1, "inference": 1, "training": 1}


class Command(BaseCommand):
    help = "Serve MedAssist with Celery workers and beat beside it (development and demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Skip the demo data.")

    def say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        self.say("Preparing the database (migrate)...")
        call_command("migrate", interactive=False, verbosity=0)
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "medassist"]
        commands: dict[str, list[str]] = {
            "web": [python, "manage.py", "runserver", options["addr"], "--noreload"],
        }
        for queue, concurrency in WORKERS.items():
            commands[f"worker-{queue}"] = [
                *celery,
                "worker",
                "-Q",
                queue,
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "WARNING",
                "-n",
                f"{queue}@%h",
            ]
        commands["beat"] = [
            *celery,
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]
        procs: dict[str, subprocess.Popen[bytes]] = {}
        self.say(
            "Starting the web server, beat and a worker for each of default, inference, training"
        )
        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, cwd=settings.BASE_DIR, env=os.environ.copy())
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        demo: subprocess.Popen[bytes] | None = None
        try:
            url = f"http://{options['addr']}/"
            if self._wait_for_web(url, procs, lambda: stopping):
                self.say(
                    self.style.SUCCESS(
                        f"MedAssist is at {url} (answered {time.monotonic() - started:.0f} s "
                        "after start; Ctrl-C stops it)"
                    )
                )
            if not options["no_demo"] and not stopping:
                # The demo loads beside the running site; the models train in the worker.
                demo = subprocess.Popen(
                    [python, "manage.py", "demo_seed", "--queue", "--follow"],
                    cwd=settings.BASE_DIR,
                    env=os.environ.copy(),
                )
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping.")
                        stopping = True
                if demo is not None and demo.poll() is not None:
                    if demo.returncode != 0:
                        self.stderr.write(f"Loading the demo failed ({demo.returncode}).")
                    demo = None
                time.sleep(0.5)
        finally:
            everything = [*procs.values(), *([demo] if demo is not None else [])]
            for proc in everything:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 20
            for proc in everything:
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            self.say("Stopped.")

    def _wait_for_web(
        self, url: str, procs: dict[str, subprocess.Popen[bytes]], stopping: Any
    ) -> bool:
        """Poll /healthz until the web server answers (True), it dies or Ctrl-C (False)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not stopping():
            if procs["web"].poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2):  # noqa: S310 - our own
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        return False
