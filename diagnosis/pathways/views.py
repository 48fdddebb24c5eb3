"""Care pathway pages: the library (clinical leads and doctors read it), and the clinical
leads' editor, approval and retirement. No page here shows a patient."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from diagnosis.pathways.forms import (
    EXTRA_ROWS,
    PathwayForm,
    PathwayItemFormSet,
    PathwayRetireForm,
    formset_initial,
    items_of,
)
from diagnosis.pathways.models import Pathway, PathwayVersion
from diagnosis.pathways.selectors import (
    latest_version,
    pathway_library,
    pathway_state,
    uses_count,
    version_with_items,
    versions_of,
)
from diagnosis.pathways.services import (
    pathway_create,
    pathway_edit,
    pathway_retire,
    pathway_version_approve,
)
from medassist.roles import Role, role_required, user_roles

LEAD, DOCTOR = Role.CLINICAL_LEAD, Role.DOCTOR
ITEMS = "items"  # the formset's prefix


def _is_lead(request: HttpRequest) -> bool:
    return Role.CLINICAL_LEAD in user_roles(request.user)


@role_required(LEAD, DOCTOR)
@require_http_methods(["GET"])
def pathway_list(request: HttpRequest) -> HttpResponse:
    """Every pathway in service with its current version (``?retired=1``: the retired)."""
    retired = request.GET.get("retired") == "1"
    context = {
        "states": pathway_library(retired=retired),
        "retired": retired,
        "is_lead": _is_lead(request),
        "today": timezone.localdate(),
    }
    return render(request, "diagnosis/pathways/list.html", context)


@role_required(LEAD, DOCTOR)
@require_http_methods(["GET"])
def pathway_detail(request: HttpRequest, pathway_id: int) -> HttpResponse:
    pathway = get_object_or_404(Pathway.objects.select_related("retired_by"), pk=pathway_id)
    return _detail_page(request, pathway)


def _detail_page(
    request: HttpRequest,
    pathway: Pathway,
    *,
    approve_error: str = "",
    retire_form: PathwayRetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    state = pathway_state(pathway=pathway)
    context = {
        "pathway": pathway,
        "current": version_with_items(version_id=state.current.pk) if state.current else None,
        "draft": version_with_items(version_id=state.draft.pk) if state.draft else None,
        "versions": versions_of(pathway=pathway),
        "is_lead": _is_lead(request),
        "approve_error": approve_error,
        "retire_form": retire_form or PathwayRetireForm(),
        "today": timezone.localdate(),
    }
    return render(request, "diagnosis/pathways/detail.html", context, status=status)


@role_required(LEAD, DOCTOR)
@require_http_methods(["GET"])
def pathway_version_detail(request: HttpRequest, pathway_version_id: int) -> HttpResponse:
    """One version as it was written and approved: readable for ever, whatever came after."""
    version = version_with_items(version_id=pathway_version_id)
    if version is None:
        raise Http404("No such pathway version.")
    state = pathway_state(pathway=version.pathway)
    context = {
        "version": version,
        "pathway": version.pathway,
        "state": state,
        "uses": uses_count(version=version),
        "today": timezone.localdate(),
    }
    return render(request, "diagnosis/pathways/version.html", context)


def _posted_rows(data: QueryDict) -> list[dict[str, str]]:
    """The step rows as posted (blank ones dropped), to show them again with more rows."""
    try:
        total = min(int(data.get(f"{ITEMS}-TOTAL_FORMS", "0")), 60)
    except ValueError:
        total = 0
    rows = []
    for i in range(total):
        text = data.get(f"{ITEMS}-{i}-text", "").strip()
        if text:
            rows.append({"kind": data.get(f"{ITEMS}-{i}-kind", ""), "text": text})
    return rows


def _editor(
    request: HttpRequest,
    *,
    pathway: Pathway | None,
    based_on: PathwayVersion | None,
    form: PathwayForm,
    formset: Any,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "pathway": pathway,
        "based_on": based_on,
        "form": form,
        "formset": formset,
        "error": error,
        "extra_rows": EXTRA_ROWS,
    }
    return render(request, "diagnosis/pathways/edit.html", context, status=status)


def _more_rows(
    request: HttpRequest, *, pathway: Pathway | None, based_on: PathwayVersion | None
) -> HttpResponse:
    """The editor again with what was typed and blank rows below it, nothing checked yet."""
    creating = pathway is None
    form = PathwayForm(initial=request.POST.dict(), creating=creating)
    formset = PathwayItemFormSet(initial=_posted_rows(request.POST), prefix=ITEMS)
    return _editor(request, pathway=pathway, based_on=based_on, form=form, formset=formset)


@role_required(LEAD)
@require_http_methods(["GET", "POST"])
def pathway_new(request: HttpRequest) -> HttpResponse:
    """Write a new pathway; its first version waits for another clinical lead's approval."""
    if request.method == "GET":
        form = PathwayForm(creating=True, initial={"group": request.GET.get("group", "")})
        formset = PathwayItemFormSet(prefix=ITEMS)
        return _editor(request, pathway=None, based_on=None, form=form, formset=formset)
    if "more" in request.POST:
        return _more_rows(request, pathway=None, based_on=None)
    form = PathwayForm(request.POST, creating=True)
    formset = PathwayItemFormSet(request.POST, prefix=ITEMS)
    if form.is_valid() and formset.is_valid():
        try:
            version = pathway_create(
                author=request.user,
                group=form.cleaned_data["group"],
                title=form.cleaned_data["title"],
                review_date=form.cleaned_data["review_date"],
                items=items_of(formset),
            )
        except ValidationError as exc:
            return _refused(request, exc, pathway=None, based_on=None, form=form, formset=formset)
        messages.success(
            request,
            f"Pathway for {version.pathway.group_label} saved as version 1. Another clinical "
            "lead approves it before doctors see it.",
        )
        return redirect("diagnosis:pathway", pathway_id=version.pathway_id)
    return _editor(request, pathway=None, based_on=None, form=form, formset=formset, status=400)


def _refused(
    request: HttpRequest,
    exc: ValidationError,
    *,
    pathway: Pathway | None,
    based_on: PathwayVersion | None,
    form: PathwayForm,
    formset: Any,
) -> HttpResponse:
    """The editor again with the service's reasons, each next to its field where it has one."""
    error = ""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field in form.fields:
                for message in errors:
                    form.add_error(field, message)
            else:
                error = " ".join([error, *errors]).strip()
    else:
        error = " ".join(exc.messages)
    return _editor(
        request,
        pathway=pathway,
        based_on=based_on,
        form=form,
        formset=formset,
        error=error,
        status=400,
    )


@role_required(LEAD)
@require_http_methods(["GET", "POST"])
def pathway_edit_view(request: HttpRequest, pathway_id: int) -> HttpResponse:
    """Edit a pathway: the editor starts from its latest version and saves the next one."""
    pathway = get_object_or_404(Pathway, pk=pathway_id)
    if request.method == "GET":
        latest = latest_version(pathway=pathway)
        form = PathwayForm(
            creating=False,
            initial={"title": latest.title, "review_date": latest.review_date} if latest else {},
        )
        formset = PathwayItemFormSet(initial=formset_initial(latest), prefix=ITEMS)
        return _editor(request, pathway=pathway, based_on=latest, form=form, formset=formset)
    based_on = get_object_or_404(
        PathwayVersion, pk=_int(request.POST.get("based_on")), pathway=pathway
    )
    if "more" in request.POST:
        return _more_rows(request, pathway=pathway, based_on=based_on)
    form = PathwayForm(request.POST, creating=False)
    formset = PathwayItemFormSet(request.POST, prefix=ITEMS)
    if form.is_valid() and formset.is_valid():
        try:
            version = pathway_edit(
                pathway=pathway,
                author=request.user,
                based_on=based_on,
                title=form.cleaned_data["title"],
                review_date=form.cleaned_data["review_date"],
                items=items_of(formset),
                change_note=form.cleaned_data["change_note"],
            )
        except ValidationError as exc:
            return _refused(
                request, exc, pathway=pathway, based_on=based_on, form=form, formset=formset
            )
        messages.success(
            request,
            f"Saved as version {version.number}. Doctors keep seeing the current approved "
            "version until another clinical lead approves this one.",
        )
        return redirect("diagnosis:pathway", pathway_id=pathway.pk)
    return _editor(
        request, pathway=pathway, based_on=based_on, form=form, formset=formset, status=400
    )


@role_required(LEAD)
@require_http_methods(["POST"])
def pathway_approve(request: HttpRequest, pathway_version_id: int) -> HttpResponse:
    """Approve a version written by another clinical lead (four eyes)."""
    version = get_object_or_404(
        PathwayVersion.objects.select_related("pathway"), pk=pathway_version_id
    )
    try:
        pathway_version_approve(version=version, approver=request.user)
    except ValidationError as exc:
        return _detail_page(
            request, version.pathway, approve_error=" ".join(exc.messages), status=400
        )
    messages.success(
        request,
        f"Version {version.number} approved: it is offered to doctors from now on.",
    )
    return redirect("diagnosis:pathway", pathway_id=version.pathway_id)


@role_required(LEAD)
@require_http_methods(["POST"])
def pathway_retire_view(request: HttpRequest, pathway_id: int) -> HttpResponse:
    """Retire a pathway: no longer offered; its versions stay readable."""
    pathway = get_object_or_404(Pathway, pk=pathway_id)
    form = PathwayRetireForm(request.POST)
    if form.is_valid():
        try:
            pathway_retire(pathway=pathway, actor=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"The pathway for {pathway.group_label} is retired: no longer offered.",
            )
            return redirect("diagnosis:pathway", pathway_id=pathway.pk)
    return _detail_page(request, pathway, retire_form=form, status=400)


def _int(value: str | None) -> int:
    """A posted id; -1 (no row has it) for anything that is not a whole number."""
    return int(value) if value and value.isdigit() else -1
