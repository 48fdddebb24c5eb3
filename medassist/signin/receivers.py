"""Every sign-in, failed sign-in, lockout and sign-out becomes an audit event.

Connected by ``SigninConfig.ready``. The password never reaches the audit log: Django hands
``user_login_failed`` credentials with the password already masked, and only the user name
is kept.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from medassist.services import audit_record, client_ip

from .idle import activity_record

# A user name is stored as typed, cut to the longest a user name may be.
USERNAME_MAX = 150


def _username(credentials: dict[str, Any] | None) -> str:
    value = (credentials or {}).get(get_user_model().USERNAME_FIELD, "")
    return str(value)[:USERNAME_MAX]


def _address(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_login_failed, dispatch_uid="medassist.signin.failed")
def signin_failed_audit(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Axes' receiver runs first (its app comes first), so a refused locked-out try is known.
    audit_record(
        actor=None,
        action="auth.signin_failed",
        detail={
            "username": _username(credentials),
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
        remote_addr=_address(request),
    )


@receiver(user_locked_out, dispatch_uid="medassist.signin.locked_out")
def locked_out_audit(
    sender: Any, request: HttpRequest, username: str, ip_address: str | None, **kwargs: Any
) -> None:
    # Axes sends this for the failure that reaches the limit and again for every try while
    # locked; only the first starts a lockout, and only that one counted a failure.
    if getattr(request, "axes_failures_since_start", None) is None:
        return
    audit_record(
        actor=None,
        action="auth.locked_out",
        detail={"username": str(username or "")[:USERNAME_MAX]},
        remote_addr=ip_address,
    )


@receiver(user_logged_in, dispatch_uid="medassist.signin.signin")
def signin_audit(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    if request is not None and hasattr(request, "session"):
        activity_record(request.session, force=True)
    audit_record(actor=user, action="auth.signin", remote_addr=_address(request))


@receiver(user_logged_out, dispatch_uid="medassist.signin.signout")
def signout_audit(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser | None, **kwargs: Any
) -> None:
    if user is None:  # signing out when nobody was signed in
        return
    audit_record(
        actor=user,
        action="auth.signout",
        detail={"reason": getattr(request, "signout_reason", "user")},
        remote_addr=_address(request),
    )
