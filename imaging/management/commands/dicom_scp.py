"""``manage.py dicom_scp``: run the C-STORE listener in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from imaging.ingest.scp import ScpConfig, parse_ae_titles, scp_config_from_settings, scp_start

# Associations still busy at shutdown get this long to finish their current instance.
GRACE_SECONDS = 30.0


class Command(BaseCommand):
    help = (
        "Listen for DICOM C-STORE (and C-ECHO) from a PACS or modality and ingest what "
        "arrives. Settings: MEDASSIST_SCP_*; the options below override them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, help="TCP port (MEDASSIST_SCP_PORT, 11112)")
        parser.add_argument(
            "--ae-title", help="our AE title, the 'called AE' (MEDASSIST_SCP_AE_TITLE, MEDASSIST)"
        )
        parser.add_argument("--bind", help="address to listen on (MEDASSIST_SCP_BIND, 127.0.0.1)")
        parser.add_argument(
            "--processes",
            type=int,
            default=settings.MEDASSIST_SCP_PROCESSES,
            help="listener processes sharing the port (MEDASSIST_SCP_PROCESSES, 1); "
            "one Python process uses one core",
        )
        parser.add_argument(
            "--allowed-ae-titles",
            help="comma-separated calling AE titles let in (MEDASSIST_SCP_ALLOWED_AE_TITLES)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verbosity"] < 2:
            # pynetdicom logs every association and every C-STORE at INFO; our own per-
            # association summary says what an IT admin needs without one line per image.
            logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        config = scp_config_from_settings().with_overrides(
            port=options["port"],
            ae_title=options["ae_title"],
            bind_address=options["bind"],
            allowed_calling_ae_titles=(
                parse_ae_titles(options["allowed_ae_titles"])
                if options["allowed_ae_titles"] is not None
                else None
            ),
        )
        processes = max(1, options["processes"])
        if processes > 1:
            self._run_processes(config, processes)
            return
        self._serve(config, shared_port=False)

    def _run_processes(self, config: ScpConfig, processes: int) -> None:
        """Fork listeners that share the port; stop them all on Ctrl-C or SIGTERM."""
        # Children must not inherit the parent's database connections.
        connections.close_all()
        children = []
        for _ in range(processes):
            pid = os.fork()
            if pid == 0:  # the child serves until it is told to stop
                code = 1
                try:
                    self._serve(config, shared_port=True)
                    code = 0
                except Exception:
                    logging.getLogger(__name__).exception("A listener process failed")
                finally:
                    # os._exit skips the interpreter's shutdown, which would run the
                    # parent's atexit handlers and close its inherited resources.
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            children.append(pid)
        self.stdout.write(f"Started {processes} listener processes sharing port {config.port}.")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.is_set():
            # A child that dies takes the whole listener down, so supervision notices.
            for pid in children:
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    stop.set()
            stop.wait(0.5)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    def _serve(self, config: ScpConfig, *, shared_port: bool) -> None:
        stop = threading.Event()
        # Ctrl-C (SIGINT) and `docker stop` (SIGTERM) both end the wait below.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        server = scp_start(config=config, shared_port=shared_port)
        self.stdout.write(
            f"Listening for DICOM as {config.ae_title!r} on "
            f"{config.bind_address}:{server.server_address[1]}. Ctrl-C stops."
        )
        stop.wait()
        self.stdout.write("Stopping: no new associations; finishing the ones in progress...")
        # Stop accepting first, then let running associations finish their instance. Any
        # still running after the grace period are aborted; their sender retries, and an
        # identical re-send is a success, so nothing is lost or stored twice.
        server.shutdown()
        deadline = time.monotonic() + GRACE_SECONDS
        while server.ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.2)
        for assoc in server.ae.active_associations:
            assoc.abort()
        self.stdout.write("DICOM listener stopped.")
