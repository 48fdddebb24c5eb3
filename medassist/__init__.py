"""MedAssist: the project package and the core app (users, roles, patients, audit).

The Celery app lives in ``medassist.celery`` and is loaded by the core app's ``ready()``, not
here, so that ``medassist.ml`` can be imported without Django or Celery.
"""
