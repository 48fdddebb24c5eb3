"""Core pages: the home page sends each role to where its work is."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from .roles import Role, user_roles


@login_required
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(request.user)
    if Role.DOCTOR in roles:
        return redirect("diagnosis:worklist")
    if Role.NURSE in roles:
        return redirect("diagnosis:triage-board")
    if Role.ML_ADMIN in roles:
        return redirect("finetune:models")
    if Role.CLINICAL_LEAD in roles:
        return redirect("diagnosis:pathways")
    if request.user.has_perm("medassist.view_auditevent"):
        return redirect("audit")
    return render(request, "medassist/no_role.html", status=403)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
