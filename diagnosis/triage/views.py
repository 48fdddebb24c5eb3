"""The triage nurse's pages: intake, the encounter with its ESI suggestion, the board."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from diagnosis.encounters.models import Encounter
from diagnosis.triage import selectors
from diagnosis.triage.forms import ConfirmForm, IntakeForm
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import encounter_intake, triage_confirm
from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip


@role_required(Role.NURSE)
def triage_board(request: HttpRequest) -> HttpResponse:
    """Waiting patients by acuity; the table refreshes itself every few seconds."""
    context = {"rows": selectors.triage_board()}
    if request.htmx:
        return render(request, "diagnosis/triage_board.html#board", context)
    # The board lists patients: audited once per page load, not on every refresh.
    audit_record(actor=request.user, action="triage_board.view", remote_addr=client_ip(request))
    return render(request, "diagnosis/triage_board.html", context)


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest) -> HttpResponse:
    form = IntakeForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                assessment = encounter_intake(
                    mrn=data["mrn"],
                    name=data["name"],
                    birth_date=data["birth_date"],
                    sex=data["sex"],
                    age_years=data.get("age_years"),
                    chief_complaint=data["chief_complaint"],
                    heart_rate=data["heart_rate"],
                    pulseless=data["pulseless"],
                    respiratory_rate=data["respiratory_rate"],
                    apnoeic=data["apnoeic"],
                    spo2=data["spo2"],
                    spo2_unobtainable=data["spo2_unobtainable"],
                    systolic_bp=data["systolic_bp"],
                    diastolic_bp=data["diastolic_bp"],
                    bp_unobtainable=data["bp_unobtainable"],
                    temperature_c=data["temperature_c"],
                    temperature_unit=data["temperature_unit"],
                    pain=data["pain"],
                    mental_status=data["mental_status"],
                    gcs=data.get("gcs"),
                    arrival_mode=data["arrival_mode"],
                    actor=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                encounter = assessment.encounter
                messages.success(
                    request, f"Encounter opened for {encounter.patient}: suggested ESI "
                    f"{assessment.suggested_level}. Confirm or change it below."
                )  # fmt: skip
                return redirect("diagnosis:encounter", encounter_id=encounter.pk)
        return render(request, "diagnosis/encounter_new.html", {"form": form}, status=400)
    return render(request, "diagnosis/encounter_new.html", {"form": form})


def _detail_context(encounter: Encounter, form: ConfirmForm | None = None) -> dict[str, object]:
    assessment = selectors.latest_assessment(encounter=encounter)
    if form is None and assessment is not None:
        level = assessment.confirmed_level or assessment.suggested_level
        form = ConfirmForm(initial={"level": level})
    return {
        "encounter": encounter,
        "assessment": assessment,
        "history": selectors.assessments_of(encounter=encounter)[1:],
        "form": form,
    }


@role_required(Role.NURSE, Role.DOCTOR)
def encounter_detail(request: HttpRequest, encounter_id: int) -> HttpResponse:
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=client_ip(request)
    )
    return render(request, "diagnosis/encounter_detail.html", _detail_context(encounter))


@role_required(Role.NURSE)
@require_POST
def encounter_confirm(request: HttpRequest, assessment_id: int) -> HttpResponse:
    assessment = get_object_or_404(
        TriageAssessment.objects.select_related("encounter__patient", "encounter__opened_by"),
        pk=assessment_id,
    )
    encounter = assessment.encounter
    form = ConfirmForm(request.POST)
    if form.is_valid():
        try:
            saved = triage_confirm(
                assessment=assessment,
                level=form.cleaned_data["level"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            verb = "changed to" if saved.is_override else "confirmed at"
            messages.success(request, f"Triage {verb} ESI {saved.confirmed_level}.")
            return redirect("diagnosis:encounter", encounter_id=encounter.pk)
    return render(
        request, "diagnosis/encounter_detail.html", _detail_context(encounter, form), status=400
    )
