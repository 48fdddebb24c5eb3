#!/usr/bin/env python
"""Django's command-line utility for MedAssist."""

from __future__ import annotations

import importlib
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    # Settings refuse an unsafe or broken environment with one line that says what to fix;
    # print just that line, not a traceback around it.
    try:
        importlib.import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    except ImproperlyConfigured as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    execute_from_command_line(sys.argv)
