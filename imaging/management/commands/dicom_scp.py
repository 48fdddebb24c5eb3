"""``manage.py dicom_scp``: run the C-STORE listener in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from imaging.scp import parse_ae_titles, scp_config_from_settings, scp_start

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
        stop = threading.Event()
        # Ctrl-C (SIGINT) and `docker stop` (SIGTERM) both end the wait below.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        server = scp_start(config=config)
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
