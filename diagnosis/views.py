"""Doctor and nurse pages of the clinical loop."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from imaging.models import Instance
from medassist.roles import Role, role_required
from medassist.services import audit_record, patient_get_or_register

from . import selectors
from .forms import EncounterForm, ReviewForm
from .models import Encounter, Suggestion
from .services import encounter_open, review_submit


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


@role_required(Role.DOCTOR)
def worklist(request: HttpRequest) -> HttpResponse:
    return render(request, "diagnosis/worklist.html", {"instances": selectors.worklist()[:100]})


@role_required(Role.DOCTOR)
def case(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(
        Instance.objects.select_related("series__study__patient"), pk=instance_id
    )
    suggestion = selectors.latest_suggestion(instance=instance)
    # Without a champion no suggestion will come: say so instead of polling for ever.
    no_model = suggestion is None and not selectors.champion_exists()
    overlays = {}
    if suggestion is not None and suggestion.saliency_key:
        overlays[instance.pk] = reverse(
            "diagnosis:saliency", kwargs={"suggestion_id": suggestion.pk}
        )
    context = {
        "study_suggestion": selectors.study_suggestion(study_id=instance.series.study_id),
        "no_model": no_model,
        "viewer_overlays": overlays,
        "instance": instance,
        "study": instance.series.study,
        "patient": instance.series.study.patient,
        "suggestion": suggestion,
        "reviews": selectors.reviews_of(instance=instance),
        "form": ReviewForm(
            findings=selectors.active_findings(),
            initial={"finding": suggestion.top_finding_id if suggestion else None},
        ),
    }
    if request.htmx:
        # The suggestion panel polls until the worker has written the suggestion.
        response = render(request, "diagnosis/case.html#suggestion", context)
        if suggestion is not None or no_model:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    audit_record(
        actor=request.user, action="case.view", obj=instance, remote_addr=_client_ip(request)
    )
    return render(request, "diagnosis/case.html", context)


@role_required(Role.DOCTOR)
def saliency(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    """The stored Grad-CAM heatmap of a suggestion (RGBA PNG to overlay on the image)."""
    suggestion = get_object_or_404(Suggestion, pk=suggestion_id)
    if not suggestion.saliency_key:
        raise Http404("No heatmap for this suggestion yet.")
    path = Path(settings.MEDIA_ROOT) / suggestion.saliency_key
    response = HttpResponse(path.read_bytes(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=86400"
    return response


@role_required(Role.DOCTOR)
@require_POST
def review(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(Instance, pk=instance_id)
    form = ReviewForm(request.POST, findings=selectors.active_findings())
    if not form.is_valid():
        for error in form.errors.get("finding", []):
            messages.error(request, error)
        return redirect("diagnosis:case", instance_id=instance.pk)
    saved = review_submit(
        instance=instance,
        reviewer=request.user,
        finding=form.cleaned_data["finding"],
        comment=form.cleaned_data["comment"],
        remote_addr=_client_ip(request),
    )
    messages.success(request, f"Review saved: {saved.finding.name} ({saved.get_action_display()}).")
    return redirect("diagnosis:case", instance_id=instance.pk)


@role_required(Role.NURSE)
def triage_board(request: HttpRequest) -> HttpResponse:
    return render(
        request, "diagnosis/triage_board.html", {"encounters": selectors.recent_encounters()}
    )


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest) -> HttpResponse:
    form = EncounterForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            patient = patient_get_or_register(
                mrn=data["mrn"],
                name=data["name"],
                birth_date=data["birth_date"],
                sex=data["sex"],
                actor=request.user,
            )
            encounter = encounter_open(
                patient=patient,
                opened_by=request.user,
                chief_complaint=data["chief_complaint"],
                heart_rate=data["heart_rate"],
                respiratory_rate=data["respiratory_rate"],
                spo2=data["spo2"],
                systolic_bp=data["systolic_bp"],
                diastolic_bp=data["diastolic_bp"],
                temperature_c=data["temperature_c"],
                pain=data["pain"],
                mental_status=data["mental_status"],
            )
            messages.success(request, f"Encounter opened for {patient}.")
            return redirect("diagnosis:encounter", encounter_id=encounter.pk)
        return render(request, "diagnosis/encounter_new.html", {"form": form}, status=400)
    return render(request, "diagnosis/encounter_new.html", {"form": form})


@role_required(Role.NURSE, Role.DOCTOR)
def encounter_detail(request: HttpRequest, encounter_id: int) -> HttpResponse:
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=_client_ip(request)
    )
    return render(request, "diagnosis/encounter_detail.html", {"encounter": encounter})
