"""Reads of the sign-in counters django-axes keeps."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessAttempt
from django.db.models import Max


def lockout_ends_at(
    *, username: str, ip_address: str | None, cooloff: dt.timedelta
) -> dt.datetime | None:
    """When the pair (user name, address) may try again: its last counted failure + cool-off."""
    last = AccessAttempt.objects.filter(username=username, ip_address=ip_address).aggregate(
        last=Max("attempt_time")
    )["last"]
    return last + cooloff if last is not None else None
