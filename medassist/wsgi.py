"""WSGI entry point (gunicorn medassist.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
application = get_wsgi_application()
