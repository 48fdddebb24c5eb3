"""MedAssist: the project package and the core app (users, roles, patients, audit)."""

from __future__ import annotations

from .celery import app as celery_app

__all__ = ["celery_app"]
