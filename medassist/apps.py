from __future__ import annotations

from django.apps import AppConfig


class MedassistConfig(AppConfig):
    name = "medassist"
    verbose_name = "MedAssist core"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import celery  # noqa: F401 - binds shared tasks to the MedAssist app
        from .roles import ensure_role_groups

        post_migrate.connect(ensure_role_groups, sender=self)
