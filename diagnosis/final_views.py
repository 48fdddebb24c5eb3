"""Doctor pages for the final diagnosis of an encounter, and the statistics page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip

from .coding import Icd10Code, final_diagnoses_of, final_diagnosis_record, icd10_search
from .disposition import disposition_record, dispositions_of
from .models import Encounter
from .models_final import Disposition
from .stats import review_statistics
from .triage.selectors import latest_assessment

SEARCH_LIMIT = 20


@role_required(Role.DOCTOR)
@require_http_methods(["GET", "POST"])
def final_diagnosis(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """The encounter with its final diagnoses; GET ?q= searches ICD-10, POST records a code."""
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    query = request.GET.get("q", "").strip()[:100]
    if request.method == "GET" and request.htmx:
        # Only the search results change while the doctor types; the page is not re-audited.
        results = {"encounter": encounter, "query": query, "results": _search(query)}
        return render(request, "diagnosis/final_diagnosis.html#results", results)
    if request.method == "POST":
        code = request.POST.get("icd10_code", "").strip()
        note = request.POST.get("note", "")
        try:
            saved = final_diagnosis_record(
                encounter=encounter,
                doctor=request.user,
                icd10_code=code,
                note=note,
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            # Keep what the doctor typed so nothing has to be entered twice.
            context = _page_context(
                encounter, chosen=code, note=note, code_error=" ".join(exc.messages)
            )
            return render(request, "diagnosis/final_diagnosis.html", context, status=400)
        messages.success(request, f"Final diagnosis saved: {saved.icd10_code} {saved.icd10_title}.")
        return redirect("diagnosis:final-diagnosis", encounter_id=encounter.pk)
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=client_ip(request)
    )
    context = _page_context(encounter, query=query)
    return render(request, "diagnosis/final_diagnosis.html", context)


def _page_context(
    encounter: Encounter, *, query: str = "", **overrides: object
) -> dict[str, object]:
    """Everything the final-diagnosis page shows, with ``overrides`` for a form to refill."""
    return {
        "encounter": encounter,
        "query": query,
        "results": _search(query),
        "chosen": "",
        "note": "",
        "code_error": "",
        "history": final_diagnoses_of(encounter=encounter),
        **_disposition_context(encounter),
        **overrides,
    }


def _search(query: str) -> list[Icd10Code]:
    return icd10_search(query=query, limit=SEARCH_LIMIT) if query else []


def _disposition_context(encounter: Encounter) -> dict[str, object]:
    """The disposition card: its history, the nurse's level and the form's first values."""
    triage = latest_assessment(encounter=encounter)
    nurse_level = triage.confirmed_level if triage is not None else None
    dispositions = list(dispositions_of(encounter=encounter))
    current = dispositions[0] if dispositions else None
    defaults = {
        "outcome": current.outcome if current else "",
        # Prefilled with what is known: the doctor's earlier judgement, else the nurse's.
        "esi": str(current.esi_in_hindsight or "") if current else str(nurse_level or ""),
        "note": "",
        "error": "",
    }
    return {
        "dispositions": dispositions,
        "nurse_level": nurse_level,
        "outcomes": Disposition.Outcome.choices,
        "disposition_form": defaults,
    }


@role_required(Role.DOCTOR)
@require_http_methods(["POST"])
def disposition(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Record where the patient went and the ESI level they needed in hindsight."""
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    outcome = request.POST.get("outcome", "")
    esi = request.POST.get("esi_in_hindsight", "").strip()
    note = request.POST.get("disposition_note", "")
    try:
        level = int(esi) if esi else None
    except ValueError:
        level = -1  # reported by the service as out of range
    try:
        saved = disposition_record(
            encounter=encounter,
            doctor=request.user,
            outcome=outcome,
            esi_in_hindsight=level,
            note=note,
            remote_addr=client_ip(request),
        )
    except ValidationError as exc:
        # Everything the doctor entered stays on the page.
        context = _page_context(
            encounter,
            disposition_form={
                "outcome": outcome,
                "esi": esi,
                "note": note,
                "error": " ".join(exc.messages),
            },
        )
        return render(request, "diagnosis/final_diagnosis.html", context, status=400)
    level_text = f", ESI {saved.esi_in_hindsight} in hindsight" if saved.esi_in_hindsight else ""
    messages.success(request, f"Disposition saved: {saved.get_outcome_display()}{level_text}.")
    return redirect("diagnosis:final-diagnosis", encounter_id=encounter.pk)


@role_required(Role.DOCTOR, Role.ML_ADMIN)
def statistics(request: HttpRequest) -> HttpResponse:
    return render(request, "diagnosis/stats.html", {"stats": review_statistics()})
