"""Signals the core sends; higher apps listen (the core imports none of them).

- ``web_process_ready`` (no arguments): sent once by ``medassist.wsgi`` in each web process,
  after the WSGI application is built and before it serves a request. What a web process
  should hold in memory from its first request on (the triage model) is loaded here, never
  at import of settings or apps, so ``manage.py`` commands and Celery workers skip it.
"""

from __future__ import annotations

from django.dispatch import Signal

web_process_ready = Signal()
