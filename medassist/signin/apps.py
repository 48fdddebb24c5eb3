from __future__ import annotations

from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "medassist.signin"
    label = "signin"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - connects the audit receivers
