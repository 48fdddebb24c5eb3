"""WSGI entry point (gunicorn medassist.wsgi; runserver loads it too, as WSGI_APPLICATION)."""

from __future__ import annotations

import logging
import os

from django.core.wsgi import get_wsgi_application
from django.db import connections

from medassist.process import startup_objects_freeze
from medassist.signals import web_process_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
application = get_wsgi_application()


def _web_process_ready() -> None:
    """Let the apps load what this web process serves, before its first request.

    A receiver that fails (weights missing, say) is logged, and the process starts all the
    same: the pages work, and triage falls back to the rules. Database connections opened
    here are closed, so a server that forks after loading the application (gunicorn
    ``--preload``) does not share one between its workers.
    """
    for receiver, result in web_process_ready.send_robust(sender=None):
        if isinstance(result, Exception):
            logging.getLogger(__name__).error(
                "Starting the web process: %s failed; serving without it.",
                getattr(receiver, "__qualname__", receiver),
                exc_info=result,
            )
    connections.close_all()


_web_process_ready()
startup_objects_freeze()
