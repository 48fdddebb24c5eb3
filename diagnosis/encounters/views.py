"""Doctor pages of the encounter record: the final diagnosis (ICD-10), the care pathway
offered for it, and the disposition."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from diagnosis.encounters.forms import DispositionForm, FinalDiagnosisForm
from diagnosis.encounters.icd10 import Icd10Code, icd10_search
from diagnosis.encounters.models import Encounter, FinalDiagnosis
from diagnosis.encounters.selectors import dispositions_of, final_diagnoses_of
from diagnosis.encounters.services import (
    disposition_record,
    encounter_dx_view,
    final_diagnosis_record,
)
from diagnosis.pathways.forms import PathwayUseForm
from diagnosis.pathways.selectors import (
    current_use_of,
    pathway_offer,
    pathway_uses_of,
    version_with_items,
)
from diagnosis.pathways.services import pathway_use_record
from diagnosis.triage.selectors import latest_assessment
from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip

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
        form = FinalDiagnosisForm(request.POST)
        form.is_valid()  # both fields are optional text; the service judges the code
        try:
            saved = final_diagnosis_record(
                encounter=encounter,
                doctor=request.user,
                icd10_code=form.cleaned_data["icd10_code"],
                note=form.cleaned_data["note"],
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            # Keep what the doctor typed so nothing has to be entered twice.
            form.add_error(None, exc)
            context = _page_context(encounter, diagnosis_form=form)
            return render(request, "diagnosis/final_diagnosis.html", context, status=400)
        messages.success(request, f"Final diagnosis saved: {saved.icd10_code} {saved.icd10_title}.")
        return redirect("diagnosis:final-diagnosis", encounter_id=encounter.pk)
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=client_ip(request)
    )
    context = _page_context(encounter, query=query)
    return render(request, "diagnosis/final_diagnosis.html", context)


def _page_context(
    encounter: Encounter,
    *,
    query: str = "",
    diagnosis_form: FinalDiagnosisForm | None = None,
    disposition_form: DispositionForm | None = None,
    pathway_form: PathwayUseForm | None = None,
) -> dict[str, object]:
    """Everything the final-diagnosis page shows; a bound form refills what was typed."""
    diagnosis_form = diagnosis_form or FinalDiagnosisForm()
    history = list(final_diagnoses_of(encounter=encounter))
    return {
        "encounter": encounter,
        "query": query,
        "results": _search(query),
        "diagnosis_form": diagnosis_form,
        # The code picked before the page came back (kept checked in the search results).
        "chosen": (diagnosis_form.data.get("icd10_code") or "").strip(),
        "history": history,
        **_pathway_context(history[0] if history else None, pathway_form),
        "pathway_uses": pathway_uses_of(encounter=encounter),
        **_disposition_context(encounter, disposition_form),
    }


def _pathway_context(
    current: FinalDiagnosis | None, form: PathwayUseForm | None
) -> dict[str, object]:
    """The care pathway card: the version offered for the current final diagnosis, the
    doctor's decision on it so far, and the checklist (refilled from that decision)."""
    offer = pathway_offer(icd10_code=current.icd10_code) if current is not None else None
    recorded = current_use_of(final_diagnosis=current) if current is not None else None
    if offer is not None and form is None:
        initial: dict[str, object] = {}
        if recorded is not None and recorded.version_id == offer.pk:
            for state in recorded.item_states.all():
                initial[f"item_{state.item_id}"] = state.followed
                initial[f"note_{state.item_id}"] = state.note
            initial["decline_reason"] = recorded.decline_reason
        form = PathwayUseForm(version=offer, initial=initial)
    return {
        "current_diagnosis": current,
        "pathway_offer": offer,
        "pathway_recorded": recorded,
        "pathway_form": form,
        "today": timezone.localdate(),
    }


def _search(query: str) -> list[Icd10Code]:
    return icd10_search(query=query, limit=SEARCH_LIMIT) if query else []


def _disposition_context(encounter: Encounter, form: DispositionForm | None) -> dict[str, object]:
    """The disposition card: its history, the nurse's level and the form."""
    triage = latest_assessment(encounter=encounter)
    nurse_level = triage.confirmed_level if triage is not None else None
    dispositions = list(dispositions_of(encounter=encounter))
    if form is None:
        current = dispositions[0] if dispositions else None
        # Prefilled with what is known: the doctor's earlier judgement, else the nurse's.
        level = (current.esi_in_hindsight if current else nurse_level) or ""
        form = DispositionForm(
            initial={"outcome": current.outcome if current else "", "esi_in_hindsight": str(level)}
        )
    return {"dispositions": dispositions, "nurse_level": nurse_level, "disposition_form": form}


@role_required(Role.DOCTOR)
@require_http_methods(["POST"])
def disposition(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Record where the patient went and the ESI level they needed in hindsight."""
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    form = DispositionForm(request.POST)
    saved = None
    if form.is_valid():
        try:
            saved = disposition_record(
                encounter=encounter,
                doctor=request.user,
                outcome=form.cleaned_data["outcome"],
                esi_in_hindsight=form.cleaned_data["esi_in_hindsight"],
                note=form.cleaned_data["disposition_note"],
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if saved is None:
        # Everything the doctor entered stays on the page.
        context = _page_context(encounter, disposition_form=form)
        return render(request, "diagnosis/final_diagnosis.html", context, status=400)
    level_text = f", ESI {saved.esi_in_hindsight} in hindsight" if saved.esi_in_hindsight else ""
    messages.success(request, f"Disposition saved: {saved.get_outcome_display()}{level_text}.")
    return redirect("diagnosis:final-diagnosis", encounter_id=encounter.pk)


@role_required(Role.DOCTOR)
@require_http_methods(["POST"])
def pathway_use(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Record what the doctor did with the care pathway offered for the final diagnosis:
    accepted (as written or with changes) or declined with a reason."""
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    final = get_object_or_404(
        FinalDiagnosis.objects.select_related("encounter__patient"),
        pk=_int(request.POST.get("final_diagnosis")),
        encounter=encounter,
    )
    version = version_with_items(version_id=_int(request.POST.get("version")))
    if version is None:
        raise Http404("No such pathway version.")
    form = PathwayUseForm(request.POST, version=version)
    saved = None
    if form.is_valid():
        try:
            saved = pathway_use_record(
                final_diagnosis=final,
                version=version,
                doctor=request.user,
                action=form.cleaned_data["action"],
                item_states=form.item_states(),
                decline_reason=form.cleaned_data["decline_reason"],
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
    if saved is None:
        # The ticks, notes and reason the doctor entered stay on the page.
        context = _page_context(encounter, pathway_form=form)
        return render(request, "diagnosis/final_diagnosis.html", context, status=400)
    messages.success(
        request,
        f"Care pathway “{version.title}” version {version.number}: "
        f"{saved.get_decision_display().lower()}.",
    )
    url = reverse("diagnosis:final-diagnosis", kwargs={"encounter_id": encounter.pk})
    return redirect(f"{url}#pathway-card")


def _int(value: str | None) -> int:
    """A posted id; -1 (no row has it) for anything that is not a whole number."""
    return int(value) if value and value.isdigit() else -1


@role_required(Role.DOCTOR)
@require_GET
def encounter_dx(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """The encounter diagnosis model's ranked groups: a fragment the encounter pages ask for
    once they have shown (the model runs here, never while the page itself is served)."""
    encounter = get_object_or_404(Encounter.objects.select_related("patient"), pk=encounter_id)
    context = {"encounter": encounter, "dx": encounter_dx_view(encounter=encounter)}
    return render(request, "diagnosis/encounter_dx.html", context)
