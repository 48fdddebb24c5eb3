"""``{% idle_signout_attributes %}``: what static/js/idle.js reads from ``<body>``."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ..idle import idle_limit_seconds, idle_warning_seconds

register = template.Library()


@register.simple_tag
def idle_signout_attributes() -> SafeString:
    return format_html(
        'data-idle-seconds="{}" data-idle-warning-seconds="{}" '
        'data-session-url="{}" data-login-url="{}"',
        f"{idle_limit_seconds():g}",
        f"{idle_warning_seconds():g}",
        reverse("session-status"),
        resolve_url(settings.LOGIN_URL),
    )
