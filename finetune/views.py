"""The ML admin's pages: model versions, retraining runs, their progress, dataset export."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from diagnosis.inference.selectors import inference_failures
from diagnosis.registry.models import Task
from diagnosis.registry.selectors import active_findings, model_versions
from medassist.roles import Role, role_required
from medassist.services import client_ip

from . import export, selectors
from .adapters import ADAPTERS
from .forms import ExportForm
from .models import TrainingRun
from .services import TrainingRunBusy, training_run_cancel, training_run_start


@role_required(Role.ML_ADMIN)
def models_page(request: HttpRequest) -> HttpResponse:
    context = {
        "versions": model_versions(task=Task.IMAGE),
        "triage_versions": model_versions(task=Task.TRIAGE),
        "runs": selectors.training_runs(),
        "test_set_size": ADAPTERS[Task.IMAGE].test_set_size(),
        "triage_test_set_size": ADAPTERS[Task.TRIAGE].test_set_size(),
        "inference_failures": inference_failures(),
        "gate_metric": settings.MEDASSIST_GATE_METRIC,
        "gate_margin": settings.MEDASSIST_GATE_MARGIN,
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
    context = {"run": run, "gate_metric": settings.MEDASSIST_GATE_METRIC}
    if request.htmx:
        response = render(request, "finetune/run.html#progress", context)
        if run.is_finished:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    return render(request, "finetune/run.html", context)


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
