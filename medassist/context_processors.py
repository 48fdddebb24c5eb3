from __future__ import annotations

from django.http import HttpRequest

from .roles import Role, user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    mine = user_roles(request.user)
    return {
        "is_nurse": Role.NURSE in mine,
        "is_doctor": Role.DOCTOR in mine,
        "is_ml_admin": Role.ML_ADMIN in mine,
        "is_clinical_lead": Role.CLINICAL_LEAD in mine,
        # From the roles already read for this request: no permission query on every page.
        "is_auditor": Role.AUDITOR in mine or getattr(request.user, "is_superuser", False),
    }
