"""The triage nurse's pages: intake, the encounter with its ESI suggestion and its vital signs
over time, taking the vital signs again, the board."""

from __future__ import annotations

import functools
import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from diagnosis.encounters.models import Encounter, VitalSigns
from diagnosis.encounters.selectors import vital_signs_of
from diagnosis.medication.selectors import PatientRecords, patient_records
from diagnosis.triage import selectors
from diagnosis.triage.forms import (
    ROWS_MAX,
    ROWS_MORE,
    ConfirmForm,
    IntakeForm,
    VitalsRetakeForm,
    row_count,
)
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import (
    assessment_words,
    encounter_intake,
    triage_confirm,
    vitals_retake,
)
from medassist.access import page_audited_by_view
from medassist.models import Patient
from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip

logger = logging.getLogger(__name__)


@role_required(Role.NURSE)
def triage_board(request: HttpRequest) -> HttpResponse:
    """Waiting patients by acuity; the table refreshes itself every few seconds."""
    # Everyone on request (?all=1); otherwise the most acute BOARD_LIMIT, saying how many more.
    everyone = request.GET.get("all") == "1"
    rows = selectors.triage_board(limit=None if everyone else selectors.BOARD_LIMIT)
    full = not everyone and len(rows) == selectors.BOARD_LIMIT
    total = selectors.triage_board_count() if full else len(rows)
    context = {"rows": rows, "total": total, "everyone": everyone}
    if request.htmx:
        return render(request, "diagnosis/triage_board.html#board", context)
    # The board lists patients: audited once per page load, not on every refresh.
    audit_record(actor=request.user, action="triage_board.view", remote_addr=client_ip(request))
    return render(request, "diagnosis/triage_board.html", context)


# Buttons of the intake form that change the page without opening the encounter.
LOOKUP, MORE_ALLERGIES, MORE_MEDICATIONS = "lookup", "more_allergies", "more_medications"
PAGE_ONLY = {LOOKUP, MORE_ALLERGIES, MORE_MEDICATIONS}
INTAKE_PAGE = "diagnosis/encounter_new.html"


def _add_errors(form: Form, exc: ValidationError) -> None:
    """The service's reasons on the form, each next to its field where it has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        form.add_error(None, exc)


def _known_patient(request: HttpRequest, mrn: str) -> PatientRecords | None:
    """What is recorded for the patient with this MRN, audited as a view of the patient."""
    known = patient_records(mrn=mrn[:64])
    if known is not None:
        audit_record(
            actor=request.user,
            action="patient.view",
            obj=known.patient,
            detail={"shown": "allergies and current medications", "page": "intake"},
            remote_addr=client_ip(request),
        )
    return known


def _intake_page(
    request: HttpRequest,
    form: IntakeForm,
    *,
    known: PatientRecords | None = None,
    looked_up: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "known": known, "looked_up": looked_up}
    return render(request, INTAKE_PAGE, context, status=status)


@role_required(Role.NURSE)
@require_http_methods(["GET", "POST"])
def encounter_new(request: HttpRequest) -> HttpResponse:
    """The intake. Besides opening the encounter (the default button, Enter), the form's
    other buttons only change the page, saving nothing: "Look up" shows what is recorded
    for the MRN typed, "More rows" adds blank allergy or medication rows; each keeps every
    value typed. A refused intake is shown again with every value and each reason."""
    if request.method == "GET":
        return _intake_page(request, IntakeForm())
    post = request.POST
    allergy_rows = row_count(post, "allergy_rows")
    medication_rows = row_count(post, "medication_rows")
    action = post.get("action", "")
    if action in PAGE_ONLY:
        mrn = post.get("mrn", "").strip()
        known = _known_patient(request, mrn) if mrn else None
        if action == LOOKUP and request.htmx and not request.htmx.boosted:
            return render(
                request, f"{INTAKE_PAGE}#known-patient", {"known": known, "looked_up": mrn}
            )
        if action == MORE_ALLERGIES:
            allergy_rows = min(ROWS_MAX, allergy_rows + ROWS_MORE)
        if action == MORE_MEDICATIONS:
            medication_rows = min(ROWS_MAX, medication_rows + ROWS_MORE)
        initial = {k: v for k, v in post.items() if k not in ("csrfmiddlewaretoken", "action")}
        if known is not None:
            # A known patient's details fill what the nurse left blank; nothing typed changes.
            patient = known.patient
            for field, value in (("name", patient.name), ("birth_date", patient.birth_date)):
                if value and not initial.get(field):
                    initial[field] = value
            unknown = ("", Patient.Sex.UNKNOWN)
            if patient.sex not in unknown and initial.get("sex", "") in unknown:
                initial["sex"] = patient.sex
        form = IntakeForm(
            initial=initial, allergy_rows=allergy_rows, medication_rows=medication_rows
        )
        response = _intake_page(request, form, known=known, looked_up=mrn)
        if request.htmx.boosted:
            response["HX-Push-Url"] = "false"  # the same page, changed: no new history entry
        return response
    form = IntakeForm(post, allergy_rows=allergy_rows, medication_rows=medication_rows)
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
                allergies=form.allergy_entries(),
                no_known_allergies=data["no_known_allergies"],
                medications=form.medication_entries(),
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            encounter = assessment.encounter
            messages.success(
                request, f"Encounter opened for {encounter.patient}: suggested "
                f"{_levels(assessment)}. Confirm or change it below."
            )  # fmt: skip
            if request.htmx.boosted:
                # The page itself in the answer, its address pushed into the browser's
                # history: the nurse waits for one request, not a redirect and a second one,
                # and reloading it shows the encounter (a GET), never a second intake. A new
                # encounter has this one assessment, on its one measurement: no need to
                # read them back.
                response = _encounter_page(
                    request,
                    encounter,
                    assessments=[assessment],
                    measurements=[assessment.vitals] if assessment.vitals else [],
                )
                response["HX-Push-Url"] = reverse("diagnosis:encounter", args=[encounter.pk])
                return response
            return redirect("diagnosis:encounter", encounter_id=encounter.pk)
    mrn = post.get("mrn", "").strip()
    known = _known_patient(request, mrn) if mrn else None
    response = _intake_page(request, form, known=known, looked_up=mrn, status=400)
    if request.htmx.boosted:
        response["HX-Push-Url"] = "false"  # still the intake: nothing to go back to
    return response


def _levels(assessment: TriageAssessment) -> str:
    """The suggestion in words, with the model's and the rules' own levels beside it."""
    model = f"model ESI {assessment.model_level}" if assessment.model_level else "no model"
    rules = f"rules ESI {assessment.rules_level}" if assessment.rules_level else ""
    return f"ESI {assessment.suggested_level} ({', '.join(filter(None, [model, rules]))})"


def _detail_context(
    encounter: Encounter,
    form: ConfirmForm | None = None,
    retake_form: VitalsRetakeForm | None = None,
    *,
    assessments: list[TriageAssessment] | None = None,
    measurements: list[VitalSigns] | None = None,
) -> dict[str, object]:
    """The encounter page's context. ``assessments`` and ``measurements`` (newest first) are
    read from the database unless the caller has them all already."""
    # Newest first: the first is the current one (one query for both).
    if assessments is None:
        assessments = list(selectors.assessments_of(encounter=encounter))
    assessment = assessments[0] if assessments else None
    if form is None and assessment is not None:
        level = assessment.confirmed_level or assessment.suggested_level
        form = ConfirmForm(initial={"level": level})
    if measurements is None:
        measurements = list(vital_signs_of(encounter=encounter))
    return {
        "encounter": encounter,
        "assessment": assessment,
        "assessments": assessments,
        "form": form,
        # The current vital signs: the latest measurement (the encounter's own columns for
        # one that has none, which only an encounter made outside the intake can be).
        "vitals": measurements[0] if measurements else encounter,
        "measurements": measurements,
        # The set the shown assessment read, for its shock index.
        "assessed_vitals": (assessment.vitals if assessment else None) or encounter,
        "retake_form": retake_form or VitalsRetakeForm(),
        # The blank re-take fields are the same on every page: rendered once per process.
        "blank_retake_fields": _blank_retake_fields() if retake_form is None else "",
    }


@functools.cache
def _blank_retake_fields() -> str:
    """The re-take form's fields, blank, as HTML (no token or encounter in them): their 16
    widgets were a fifth of the encounter page's time (bench/triage.py)."""
    html = render_to_string(
        "diagnosis/encounter_detail.html#retake-fields", {"retake_form": VitalsRetakeForm()}
    )
    return mark_safe(html)  # noqa: S308 - our own template's output, rendered once


def _encounter_page(
    request: HttpRequest,
    encounter: Encounter,
    *,
    assessments: list[TriageAssessment] | None = None,
    measurements: list[VitalSigns] | None = None,
) -> HttpResponse:
    """The encounter's page, audited as a view of the encounter (also when it answers the
    intake's POST: its fragments then count as read, as after the page's own GET)."""
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=client_ip(request)
    )
    page_audited_by_view(request, "diagnosis:encounter", encounter_id=encounter.pk)
    context = _detail_context(encounter, assessments=assessments, measurements=measurements)
    return render(request, "diagnosis/encounter_detail.html", context)


@role_required(Role.NURSE, Role.DOCTOR)
def encounter_detail(request: HttpRequest, encounter_id: int) -> HttpResponse:
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    return _encounter_page(request, encounter)


@role_required(Role.NURSE, Role.DOCTOR)
def assessment_words_fragment(request: HttpRequest, assessment_id: int) -> HttpResponse:
    """The words that weighed for the model's level, asked for by the encounter page once it
    has shown the suggestion (see ``assessment_words``)."""
    assessment = get_object_or_404(
        TriageAssessment.objects.select_related("encounter", "model_version", "vitals"),
        pk=assessment_id,
    )
    failed = ""
    try:
        assessment_words(assessment=assessment)
    except (OSError, ValueError) as exc:  # weights gone or unreadable: say so, keep the page
        logger.warning("Words of triage assessment %s not computed: %s", assessment.pk, exc)
        failed = "the model's weights could not be read"
    context = {"assessment": assessment, "words_failed": failed}
    return render(request, "diagnosis/triage_words.html", context)


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


@role_required(Role.NURSE)
@require_POST
def encounter_vitals(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Vital signs taken again: store them and suggest the ESI level on them, for the nurse
    to confirm. Errors come back on the encounter page, next to the fields."""
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )
    form = VitalsRetakeForm(request.POST)
    if form.is_valid():
        try:
            assessment = vitals_retake(
                encounter=encounter,
                actor=request.user,
                remote_addr=client_ip(request),
                **form.vitals(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Vital signs recorded: suggested {_levels(assessment)}. Confirm or change it.",
            )
            return redirect("diagnosis:encounter", encounter_id=encounter.pk)
    context = _detail_context(encounter, retake_form=form)
    return render(request, "diagnosis/encounter_detail.html", context, status=400)
