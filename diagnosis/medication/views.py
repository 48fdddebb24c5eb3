"""Medication safety pages: the encounter's allergies, current medications and medication
plan (nurses and doctors; the plan is the doctor's), and the knowledge table (clinical leads
write, approve and retire its entries; doctors read it)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from diagnosis.encounters.models import Encounter
from diagnosis.medication.forms import (
    AllergyForm,
    KnowledgeEntryForm,
    KnowledgeRetireForm,
    MedicationForm,
    PlanForm,
)
from diagnosis.medication.models import KnowledgeEntry, KnowledgeVersion
from diagnosis.medication.selectors import (
    allergies_current,
    allergy_history,
    entry_state,
    knowledge_library,
    latest_version,
    medication_history,
    medications_current,
    pathway_steps_check,
    patient_check,
    plan_of,
    versions_of,
)
from diagnosis.medication.services import (
    Acknowledgement,
    EntryContent,
    allergy_record,
    knowledge_entry_create,
    knowledge_entry_edit,
    knowledge_entry_retire,
    knowledge_version_approve,
    medication_plan_add,
    medication_record,
)
from medassist.roles import Role, role_required, user_roles
from medassist.services import audit_record, client_ip

LEAD, DOCTOR, NURSE = Role.CLINICAL_LEAD, Role.DOCTOR, Role.NURSE
PAGE = "diagnosis/medication/encounter.html"


def _add_errors(form: Form, exc: ValidationError) -> None:
    """The service's reasons on the form, each next to its field where it has one."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        form.add_error(None, " ".join(exc.messages))


def _encounter(encounter_id: int) -> Encounter:
    return get_object_or_404(
        Encounter.objects.select_related("patient", "opened_by"), pk=encounter_id
    )


def _page(
    request: HttpRequest,
    encounter: Encounter,
    *,
    allergy_form: AllergyForm | None = None,
    medication_form: MedicationForm | None = None,
    plan_form: PlanForm | None = None,
    plan_checked: bool = False,
    plan_recognised: bool = False,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    patient = encounter.patient
    roles = user_roles(request.user)
    context = {
        "encounter": encounter,
        "patient": patient,
        "is_doctor": DOCTOR in roles,
        "allergies": list(allergies_current(patient=patient)),
        "allergy_history": allergy_history(patient=patient),
        "medications": list(medications_current(patient=patient)),
        "medication_history": medication_history(patient=patient),
        "plan": plan_of(encounter=encounter),
        "step_checks": pathway_steps_check(encounter=encounter),
        "allergy_form": allergy_form or AllergyForm(),
        "medication_form": medication_form or MedicationForm(),
        "plan_form": plan_form or PlanForm(),
        "plan_checked": plan_checked,
        "plan_recognised": plan_recognised,
        "error": error,
    }
    return render(request, PAGE, context, status=status)


@role_required(NURSE, DOCTOR)
@require_http_methods(["GET"])
def medication_page(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """The patient's allergies and medications, and the encounter's medication plan."""
    encounter = _encounter(encounter_id)
    audit_record(
        actor=request.user, action="encounter.view", obj=encounter, remote_addr=client_ip(request)
    )
    return _page(request, encounter)


def _replaces(form: Form) -> int | None:
    return form.cleaned_data.get("replaces")


@role_required(NURSE, DOCTOR)
@require_http_methods(["POST"])
def allergy_add(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Record an allergy or "no known allergies", change one, or mark one inactive."""
    encounter = _encounter(encounter_id)
    form = AllergyForm(request.POST)
    if form.is_valid():
        try:
            allergy_record(
                patient=encounter.patient,
                actor=request.user,
                encounter=encounter,
                kind=form.cleaned_data["kind"],
                substance=form.cleaned_data["substance"],
                reaction=form.cleaned_data["reaction"],
                severity=form.cleaned_data["severity"],
                replaces=_replaces(form),
                remove=form.cleaned_data["remove"],
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Allergy record saved.")
            return redirect("diagnosis:medication", encounter_id=encounter.pk)
    return _page(request, encounter, allergy_form=form, status=400)


@role_required(NURSE, DOCTOR)
@require_http_methods(["POST"])
def medication_add(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Record a current medication, change one, or mark one stopped."""
    encounter = _encounter(encounter_id)
    form = MedicationForm(request.POST)
    if form.is_valid():
        try:
            medication_record(
                patient=encounter.patient,
                actor=request.user,
                encounter=encounter,
                name=form.cleaned_data["name"],
                dose=form.cleaned_data["dose"],
                route=form.cleaned_data["route"],
                frequency=form.cleaned_data["frequency"],
                replaces=_replaces(form),
                remove=form.cleaned_data["remove"],
                remote_addr=client_ip(request),
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Medication record saved.")
            return redirect("diagnosis:medication", encounter_id=encounter.pk)
    return _page(request, encounter, medication_form=form, status=400)


@role_required(DOCTOR)
@require_http_methods(["POST"])
def plan_add(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """Check a medication for the plan (``action=check``) or save it: saving needs every
    warning acknowledged with a reason; otherwise the page shows why, next to each warning."""
    encounter = _encounter(encounter_id)
    name = request.POST.get("name", "")[:100]
    result = patient_check(patient=encounter.patient, name=name) if name.strip() else None
    warnings = result.warnings if result else []
    form = PlanForm(request.POST, warnings=warnings)
    form.is_valid()  # every field is optional text; the service judges
    recognised = bool(result and result.recognised)
    if request.POST.get("action") == "check":
        return _page(
            request, encounter, plan_form=form, plan_checked=True, plan_recognised=recognised
        )
    acknowledgements = {
        w.key: Acknowledgement(
            acknowledged=bool(form.cleaned_data.get(f"ack_{w.key}")),
            reason=form.cleaned_data.get(f"reason_{w.key}", ""),
        )
        for w in warnings
    }
    try:
        entry = medication_plan_add(
            encounter=encounter,
            doctor=request.user,
            name=form.cleaned_data.get("name", ""),
            dose=form.cleaned_data.get("dose", ""),
            route=form.cleaned_data.get("route", ""),
            frequency=form.cleaned_data.get("frequency", ""),
            acknowledgements=acknowledgements,
            remote_addr=client_ip(request),
        )
    except ValidationError as exc:
        _add_errors(form, exc)
        return _page(
            request,
            encounter,
            plan_form=form,
            plan_checked=True,
            plan_recognised=recognised,
            status=400,
        )
    overridden = entry.overrides.count()
    messages.success(
        request,
        f"{entry.name} entered in the plan"
        + (f" with {overridden} warning(s) overridden." if overridden else "."),
    )
    return redirect("diagnosis:medication", encounter_id=encounter.pk)


# --- The knowledge table -----------------------------------------------------------------


@role_required(LEAD, DOCTOR)
@require_http_methods(["GET"])
def knowledge_list(request: HttpRequest) -> HttpResponse:
    context = {
        "states": knowledge_library(),
        "is_lead": LEAD in user_roles(request.user),
        "retire_form": KnowledgeRetireForm(),
    }
    return render(request, "diagnosis/medication/knowledge_list.html", context)


def _detail(
    request: HttpRequest,
    entry: KnowledgeEntry,
    *,
    approve_error: str = "",
    retire_form: KnowledgeRetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "entry": entry,
        "state": entry_state(entry=entry),
        "versions": versions_of(entry=entry),
        "is_lead": LEAD in user_roles(request.user),
        "approve_error": approve_error,
        "retire_form": retire_form or KnowledgeRetireForm(),
    }
    return render(request, "diagnosis/medication/knowledge_detail.html", context, status=status)


@role_required(LEAD, DOCTOR)
@require_http_methods(["GET"])
def knowledge_detail(request: HttpRequest, knowledge_entry_id: int) -> HttpResponse:
    entry = get_object_or_404(
        KnowledgeEntry.objects.select_related("retired_by"), pk=knowledge_entry_id
    )
    return _detail(request, entry)


def _content(form: KnowledgeEntryForm) -> EntryContent:
    data = form.cleaned_data
    return EntryContent(
        name=data["name"],
        members=data["members"],
        term_a=data["term_a"],
        term_b=data["term_b"],
        severity=data["severity"],
        note=data["note"],
        action=data["action"],
        source=data["source"],
    )


def _editor(
    request: HttpRequest,
    *,
    form: KnowledgeEntryForm,
    entry: KnowledgeEntry | None,
    based_on: KnowledgeVersion | None,
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "entry": entry, "based_on": based_on}
    return render(request, "diagnosis/medication/knowledge_edit.html", context, status=status)


@role_required(LEAD)
@require_http_methods(["GET", "POST"])
def knowledge_new(request: HttpRequest) -> HttpResponse:
    """Write a new entry; its first version waits for another clinical lead's approval."""
    if request.method == "GET":
        form = KnowledgeEntryForm(creating=True, initial={"kind": request.GET.get("kind", "")})
        return _editor(request, form=form, entry=None, based_on=None)
    form = KnowledgeEntryForm(request.POST, creating=True)
    if form.is_valid():
        try:
            version = knowledge_entry_create(
                author=request.user, kind=form.cleaned_data["kind"], content=_content(form)
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request, "Saved as version 1. Another clinical lead approves it before it checks."
            )
            return redirect("diagnosis:medication-knowledge-entry", version.entry_id)
    return _editor(request, form=form, entry=None, based_on=None, status=400)


@role_required(LEAD)
@require_http_methods(["GET", "POST"])
def knowledge_edit(request: HttpRequest, knowledge_entry_id: int) -> HttpResponse:
    """Edit an entry: the editor starts from its latest version and saves the next one."""
    entry = get_object_or_404(KnowledgeEntry, pk=knowledge_entry_id)
    if request.method == "GET" and entry.is_retired:
        messages.error(request, "This entry is retired: it takes no new version.")
        return redirect("diagnosis:medication-knowledge-entry", entry.pk)
    if request.method == "GET":
        latest = latest_version(entry=entry)
        assert latest is not None, "every entry is created with its first version"
        fields = ("name", "members", "term_a", "term_b", "severity", "note", "action", "source")
        initial = {f: getattr(latest, f) for f in fields}
        form = KnowledgeEntryForm(creating=False, initial=initial)
        return _editor(request, form=form, entry=entry, based_on=latest)
    based_on = get_object_or_404(
        KnowledgeVersion, pk=_int(request.POST.get("based_on")), entry=entry
    )
    form = KnowledgeEntryForm(request.POST, creating=False)
    if form.is_valid():
        try:
            version = knowledge_entry_edit(
                entry=entry,
                author=request.user,
                based_on=based_on,
                content=_content(form),
                change_note=form.cleaned_data["change_note"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                f"Saved as version {version.number}. The checks keep using the current "
                "approved version until another clinical lead approves this one.",
            )
            return redirect("diagnosis:medication-knowledge-entry", entry.pk)
    return _editor(request, form=form, entry=entry, based_on=based_on, status=400)


@role_required(LEAD)
@require_http_methods(["POST"])
def knowledge_approve(request: HttpRequest, knowledge_version_id: int) -> HttpResponse:
    """Approve a version written by another clinical lead (four eyes)."""
    version = get_object_or_404(
        KnowledgeVersion.objects.select_related("entry"), pk=knowledge_version_id
    )
    try:
        knowledge_version_approve(version=version, approver=request.user)
    except ValidationError as exc:
        return _detail(request, version.entry, approve_error=" ".join(exc.messages), status=400)
    messages.success(request, f"Version {version.number} approved: the checks use it now.")
    return redirect("diagnosis:medication-knowledge-entry", version.entry_id)


def _int(value: str | None) -> int:
    """A posted id; -1 (no row has it) for anything that is not a whole number."""
    return int(value) if value and value.isdigit() else -1


@role_required(LEAD)
@require_http_methods(["POST"])
def knowledge_retire(request: HttpRequest, knowledge_entry_id: int) -> HttpResponse:
    """Retire an entry, with a reason: it checks nothing from now on; its versions, and the
    overrides that cited them, stay readable. A refusal shows on the entry's page."""
    entry = get_object_or_404(
        KnowledgeEntry.objects.select_related("retired_by"), pk=knowledge_entry_id
    )
    form = KnowledgeRetireForm(request.POST)
    if form.is_valid():
        try:
            knowledge_entry_retire(
                entry=entry, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Entry retired: it no longer warns about anything.")
            return redirect("diagnosis:medication-knowledge-entry", entry.pk)
    return _detail(request, entry, retire_form=form, status=400)
