"""The ML admin's pages: model versions, retraining runs, their progress, dataset export."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from diagnosis.inference.selectors import inference_failures, rescore_overview
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.selectors import active_findings, findings_vocabulary, model_versions
from diagnosis.registry.services import (
    FINDING_EDITABLE,
    finding_add,
    finding_retire,
    finding_update,
)
from medassist.roles import Role, role_required
from medassist.services import client_ip

from . import export, selectors
from .adapters import ADAPTERS
from .forms import (
    EncounterTestSetGrowForm,
    ExportForm,
    FindingAddForm,
    FindingForm,
    FindingRetireForm,
    RollbackForm,
    TestSetGrowForm,
)
from .models import TrainingRun
from .services import (
    ApprovalRefused,
    RollbackRefused,
    TrainingRunBusy,
    encounter_test_set_grow,
    gate_settings,
    model_version_rollback,
    test_set_grow,
    training_run_approve,
    training_run_cancel,
    training_run_start,
)


@role_required(Role.ML_ADMIN)
def models_page(request: HttpRequest) -> HttpResponse:
    context = {
        "versions": model_versions(task=Task.IMAGE),
        "triage_versions": model_versions(task=Task.TRIAGE),
        "dx_versions": model_versions(task=Task.ENCOUNTER_DX),
        "dx_test_set_size": ADAPTERS[Task.ENCOUNTER_DX].test_set_size(),
        "dx_gate": gate_settings([], task=Task.ENCOUNTER_DX),
        "runs": selectors.training_runs(),
        "test_set_size": ADAPTERS[Task.IMAGE].test_set_size(),
        "triage_test_set_size": ADAPTERS[Task.TRIAGE].test_set_size(),
        "inference_failures": inference_failures(),
        "gate": gate_settings([]),
        "second_approval": settings.MEDASSIST_GATE_SECOND_APPROVAL,
        "retrain_cron": settings.RETRAIN_CRON,
    }
    return render(request, "finetune/models.html", context)


@role_required(Role.ML_ADMIN)
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    # The form names its task; anything else is the image model, as before.
    task = request.POST.get("task", "")
    if task not in ADAPTERS:
        task = Task.IMAGE
    try:
        run = training_run_start(
            task=task, trigger=TrainingRun.Trigger.MANUAL, started_by=request.user
        )
    except TrainingRunBusy as exc:
        messages.error(request, str(exc))
        return redirect("finetune:models")
    return redirect("finetune:run", run_id=run.pk)


@role_required(Role.ML_ADMIN)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        TrainingRun.objects.select_related("candidate", "base_version"), pk=run_id
    )
    context = {
        "run": run,
        "may_approve": run.decision == TrainingRun.Decision.AWAITING
        and run.started_by_id != request.user.pk,
    }
    if request.htmx:
        response = render(request, "finetune/run.html#progress", context)
        if run.is_finished:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "finetune/run.html", context)


@role_required(Role.ML_ADMIN)
@require_POST
def run_approve(request: HttpRequest, run_id: int) -> HttpResponse:
    """A second ML admin approves (``approve=yes``) or declines, with a reason, a promotion."""
    run = get_object_or_404(TrainingRun, pk=run_id)
    approve = request.POST.get("approve") == "yes"
    try:
        training_run_approve(
            run=run, actor=request.user, approve=approve, reason=request.POST.get("reason", "")
        )
    except ApprovalRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"v{run.candidate.version} is the champion now."
            if approve
            else f"v{run.candidate.version} is not promoted; the champion stays.",
        )
    return redirect("finetune:run", run_id=run.pk)


@role_required(Role.ML_ADMIN)
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=run_id)
    try:
        training_run_cancel(run=run, actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Training run {run.pk} cancelled; the champion is unchanged.")
    return redirect("finetune:run", run_id=run.pk)


@role_required(Role.ML_ADMIN)
@require_http_methods(["GET", "POST"])
def export_page(request: HttpRequest) -> HttpResponse:
    """Choose labelled images, count them (dry run), then export them de-identified."""
    findings = [(f.code, f.name) for f in active_findings()]
    context: dict[str, Any] = {
        "max_images": export.max_images(),
        "allowlist": sorted(export.descriptor_allowlist()),
    }
    status = 200
    if request.method == "GET":
        form = ExportForm(findings=findings, initial={"findings": [code for code, _ in findings]})
    else:
        form = ExportForm(request.POST, findings=findings)
        if not form.is_valid():
            status = 400
        else:
            try:
                if request.POST.get("action") == "export":
                    context["result"] = export.dataset_export(
                        choice=form.choice(), actor=request.user, remote_addr=client_ip(request)
                    )
                else:
                    context["plan"] = export.export_plan(choice=form.choice())
            except export.ExportRefused as exc:
                context["refusal"] = str(exc)
                status = 400
    context["form"] = form
    context["exports"] = export.exports_of(actor=request.user)
    return render(request, "finetune/export.html", context, status=status)


@role_required(Role.ML_ADMIN)
@require_GET
def export_download(request: HttpRequest, key: str) -> FileResponse:
    """The zip of one of the requesting ML admin's own exports."""
    try:
        path = export.export_download(actor=request.user, key=key, remote_addr=client_ip(request))
    except export.ExportNotFound as exc:
        raise Http404("No such export of yours.") from exc
    return FileResponse(
        path.open("rb"), as_attachment=True, filename=f"medassist-export-{key[:8]}.zip"
    )


def _version_page(
    request: HttpRequest, version_id: int, *, form: RollbackForm, status: int = 200
) -> HttpResponse:
    try:
        page = selectors.model_version_page(version_id=version_id)
    except ModelVersion.DoesNotExist as exc:
        raise Http404("No such model version.") from exc
    # The champion's "re-score the unreviewed studies" button and the latest re-score's
    # progress (diagnosis/inference: the button posts there, the panel polls there).
    context = {"page": page, "form": form, "rescore": rescore_overview(version=page.version)}
    return render(request, "finetune/version.html", context, status=status)


@role_required(Role.ML_ADMIN)
@require_GET
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    """One model version: lineage, training data, test-set metrics, model card, promotions."""
    return _version_page(request, version_id, form=RollbackForm())


@role_required(Role.ML_ADMIN)
@require_POST
def version_rollback(request: HttpRequest, version_id: int) -> HttpResponse:
    """Make this (earlier) version the champion of its task, with a reason for the audit log."""
    version = get_object_or_404(ModelVersion, pk=version_id)
    form = RollbackForm(request.POST)
    if not form.is_valid():
        return _version_page(request, version_id, form=form, status=400)
    try:
        model_version_rollback(
            version=version, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except RollbackRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"v{version.version} is now the champion; the previous one is retired."
        )
    return redirect("finetune:version", version_id=version.pk)


@role_required(Role.ML_ADMIN, Role.DOCTOR)
@require_GET
def version_card(request: HttpRequest, version_id: int) -> HttpResponse:
    """The model card as a printable page, or as a JSON download with ``?format=json``.

    Doctors read it too: every suggestion on the encounter pages links to its model's card.
    """
    try:
        card = selectors.model_card_document(version_id=version_id)
    except ModelVersion.DoesNotExist as exc:
        raise Http404("No such model version.") from exc
    if request.GET.get("format") == "json":
        response = JsonResponse(card, json_dumps_params={"indent": 2})
        filename = f"model-card-{card['task']}-v{card['version']}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    rows = selectors.model_card_rows(card["model_card"])
    return render(request, "finetune/version_card.html", {"card": card, "rows": rows})


@role_required(Role.ML_ADMIN)
@require_http_methods(["GET", "POST"])
def test_set_page(request: HttpRequest) -> HttpResponse:
    """The frozen image test set: its composition, and growing it (dry run, then freeze)."""
    context: dict[str, Any] = {}
    status = 200
    dx_form = EncounterTestSetGrowForm()
    if request.method == "GET":
        form = TestSetGrowForm()
    elif request.POST.get("action") == "freeze-encounters":
        form = TestSetGrowForm()
        dx_form = EncounterTestSetGrowForm(request.POST)
        if dx_form.is_valid():
            frozen = encounter_test_set_grow(
                fraction=dx_form.cleaned_data["percent"] / 100, actor=request.user
            )
            messages.success(
                request,
                f"Froze {frozen} encounter{'s' if frozen != 1 else ''} into the encounter "
                "diagnosis test set.",
            )
            return redirect("finetune:test-set")
        status = 400
    else:
        freeze = request.POST.get("action") == "freeze"
        form = TestSetGrowForm(request.POST, freeze=freeze)
        valid = form.is_valid()
        if not valid:
            status = 400
        # Freezing without the confirmation shows the dry run again, the error beside its box.
        if valid or (freeze and set(form.errors) == {"confirm"}):
            plan = test_set_grow(
                task=Task.IMAGE,
                per_finding=form.cleaned_data["per_finding"],
                seed=form.cleaned_data["seed"],
                actor=request.user,
                dry_run=not (freeze and valid),
            )
            if freeze and valid:
                messages.success(
                    request,
                    f"Froze {plan.cases} case{'s' if plan.cases != 1 else ''} "
                    f"({plan.real} real, {plan.synthetic} synthetic) of {plan.patients} "
                    f"patient{'s' if plan.patients != 1 else ''} into the test set.",
                )
                return redirect("finetune:test-set")
            context["plan"] = plan
    context["form"] = form
    context["composition"] = selectors.test_set_composition(task=Task.IMAGE)
    context["dx_form"] = dx_form
    context["dx_composition"] = selectors.encounter_test_set_composition()
    return render(request, "finetune/test_set.html", context, status=status)


def _findings_page(
    request: HttpRequest,
    *,
    add_form: FindingAddForm | None = None,
    editing: Finding | None = None,
    edit_form: FindingForm | None = None,
    retiring: Finding | None = None,
    retire_form: FindingRetireForm | None = None,
    status: int = 200,
) -> HttpResponse:
    champion = ModelVersion.objects.filter(
        task=Task.IMAGE, status=ModelVersion.Status.CHAMPION
    ).first()
    in_model = set(champion.labels) if champion is not None else set()
    findings = list(findings_vocabulary())
    # Readiness says something only of the offered findings the champion lacks.
    waiting = [f.code for f in findings if f.is_active and f.code not in in_model]
    readiness = {r.code: r for r in selectors.finding_readiness(codes=waiting)}
    for f in findings:
        ready = readiness.get(f.code)
        if not f.is_active:
            f.model_state = "not in new versions"
        elif f.code in in_model:
            f.model_state = f"in the champion (v{champion.version})"
        elif ready is not None and ready.ready:
            f.model_state = "ready: joins the model at the next training run"
        elif ready is not None:
            f.model_state = ready.status
        else:
            f.model_state = ""
    context = {
        "findings": findings,
        "default_sensitivity_margin": settings.MEDASSIST_GATE_SENSITIVITY_MARGIN,
        "add_form": add_form or FindingAddForm(),
        "editing": editing,
        "edit_form": edit_form,
        "retiring": retiring,
        "retire_form": retire_form,
    }
    return render(request, "finetune/findings.html", context, status=status)


def _finding_named_in(request: HttpRequest) -> Finding:
    """The finding whose id is the request's ``finding`` (query or form); 404 otherwise."""
    finding_id = request.POST.get("finding") or request.GET.get("finding") or ""
    if not finding_id.isdigit():
        raise Http404("No such finding.")
    return get_object_or_404(Finding, pk=int(finding_id))


@role_required(Role.ML_ADMIN)
@require_http_methods(["GET", "POST"])
def findings_page(request: HttpRequest) -> HttpResponse:
    """The finding vocabulary with its counts, and the form that adds a finding."""
    if request.method == "GET":
        return _findings_page(request)
    form = FindingAddForm(request.POST)
    if form.is_valid():
        try:
            finding = finding_add(**form.cleaned_data, actor=request.user)
        except ValidationError as exc:  # the same code added a moment ago, say
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"“{finding.name}” is offered to reviewers now; the next training run adds "
                "it to the model.",
            )
            return redirect("finetune:findings")
    return _findings_page(request, add_form=form, status=400)


@role_required(Role.ML_ADMIN)
@require_http_methods(["GET", "POST"])
def finding_edit(request: HttpRequest) -> HttpResponse:
    """Change a finding's name, description or codes (``?finding=<id>``); its code stays."""
    finding = _finding_named_in(request)
    if request.method == "GET":
        initial = {f: getattr(finding, f) for f in FINDING_EDITABLE}
        return _findings_page(request, editing=finding, edit_form=FindingForm(initial=initial))
    form = FindingForm(request.POST)
    if form.is_valid():
        try:
            finding_update(finding=finding, **form.cleaned_data, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"“{finding.name}” saved.")
            return redirect("finetune:findings")
    return _findings_page(request, editing=finding, edit_form=form, status=400)


@role_required(Role.ML_ADMIN)
@require_POST
def finding_retire_view(request: HttpRequest) -> HttpResponse:
    """Retire a finding (the form's ``finding``) once the ML admin has ticked the confirmation."""
    finding = _finding_named_in(request)
    form = FindingRetireForm(request.POST)
    if form.is_valid():
        try:
            finding_retire(finding=finding, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"“{finding.name}” is retired: no longer offered, and its code "
                f"“{finding.code}” will never be used again.",
            )
            return redirect("finetune:findings")
    return _findings_page(request, retiring=finding, retire_form=form, status=400)
