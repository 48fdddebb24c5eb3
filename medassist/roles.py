"""Roles are Django groups with permissions: nurse, doctor, ML admin, clinical lead, auditor.

The auditor reads the audit log and nothing clinical: the group holds only
``medassist.view_auditevent``, the permission the audit log pages check.

The clinical lead writes and approves the hospital's care pathways (``diagnosis/pathways``):
one lead writes a version, another approves it. The role sees no patient record.

A page names the roles it serves with :func:`role_required`; anonymous users go to the login
page and signed-in users of another role get 403, so a wrong role never sees patient data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse


class Role(models.TextChoices):
    NURSE = "nurse", "Triage nurse"
    DOCTOR = "doctor", "Doctor"
    ML_ADMIN = "ml_admin", "ML admin"
    CLINICAL_LEAD = "clinical_lead", "Clinical lead"
    AUDITOR = "auditor", "Auditor"


# (app_label, codename) pairs each role is granted; unknown ones are skipped until they exist.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    Role.NURSE: [
        ("medassist", "add_patient"),
        ("medassist", "view_patient"),
        ("diagnosis", "add_encounter"),
        ("diagnosis", "view_encounter"),
    ],
    Role.DOCTOR: [
        ("medassist", "view_patient"),
        ("imaging", "add_instance"),
        ("imaging", "view_instance"),
        ("diagnosis", "view_suggestion"),
        ("diagnosis", "add_review"),
        ("diagnosis", "view_review"),
        ("diagnosis", "view_encounter"),
        ("diagnosis", "add_finaldiagnosis"),
        ("diagnosis", "view_finaldiagnosis"),
        ("diagnosis", "view_pathway"),
        ("diagnosis", "view_pathwayversion"),
        ("diagnosis", "add_pathwayuse"),
        ("diagnosis", "view_pathwayuse"),
    ],
    Role.ML_ADMIN: [
        ("diagnosis", "view_modelversion"),
        ("finetune", "add_trainingrun"),
        ("finetune", "view_trainingrun"),
    ],
    Role.CLINICAL_LEAD: [
        ("diagnosis", "add_pathway"),
        ("diagnosis", "view_pathway"),
        ("diagnosis", "add_pathwayversion"),
        ("diagnosis", "view_pathwayversion"),
        ("diagnosis", "add_pathwayapproval"),
    ],
    Role.AUDITOR: [
        ("medassist", "view_auditevent"),
    ],
}


def ensure_role_groups(**kwargs: Any) -> None:
    """Create the role groups and grant their permissions (idempotent; runs after migrate)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in perms:
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                group.permissions.add(perm)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    # Asked several times per request (the view's check, the navigation): one query, or
    # none when the query that loaded the user read them too (user_roles_remember).
    cached = getattr(user, "_medassist_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
        user._medassist_roles = cached  # type: ignore[union-attr]
    return set(cached)


def user_roles_remember(user: AbstractBaseUser, names: Iterable[str]) -> None:
    """Keep ``names``, every group of ``user`` as read with the user itself, as its roles:
    :func:`user_roles` then asks the database nothing more for it."""
    user._medassist_roles = frozenset(names)  # type: ignore[attr-defined]


View = Callable[..., HttpResponse]


def access_required(allowed: Callable[[Any], bool], refusal: str) -> Callable[[View], View]:
    """Let the view run only for signed-in users ``allowed`` accepts; others get 403 ``refusal``.

    Anonymous users are sent to the login page first, so nobody learns what a page holds.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not allowed(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def role_required(*roles: str) -> Callable[[View], View]:
    """Let the view run only for signed-in users holding one of ``roles``."""
    return access_required(
        lambda user: bool(user_roles(user) & set(roles)),
        "Your role does not give access to this page.",
    )


def permission_required(permission: str, refusal: str) -> Callable[[View], View]:
    """Let the view run only for signed-in users holding ``permission`` ("app.codename")."""
    return access_required(lambda user: user.has_perm(permission), refusal)
