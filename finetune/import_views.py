"""The ML admin's page for bringing existing labels: a CSV and a .zip, a dry run, then import.

Nothing is kept between the dry run and the import: "Import" sends the same files again
(the page keeps them chosen when JavaScript is on; without it, the ML admin chooses them
again) with the dry run's fingerprint, and a different set of files gets its own dry run
instead of an import. So no upload waits on the server for a confirmation that may never
come, and what is imported is what the dry run showed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from imaging.ingest.limits import max_bulk_request_bytes, max_upload_bytes, megabytes
from medassist.roles import Role, role_required
from medassist.services import client_ip

from .forms import LabelImportForm
from .label_import import (
    LabelImportRefused,
    label_import,
    label_import_fingerprint,
    max_rows,
)

TEMPLATE = "finetune/label_import.html"


def _page(
    request: HttpRequest, form: LabelImportForm, *, status: int = 200, **context: Any
) -> HttpResponse:
    context.update(
        form=form,
        max_rows=max_rows(),
        max_request=megabytes(max_bulk_request_bytes()),
    )
    if request.htmx:
        # htmx swaps only 2xx answers: a refusal is shown in the report area all the same.
        return render(request, f"{TEMPLATE}#report", context)
    return render(request, TEMPLATE, context, status=status)


@role_required(Role.ML_ADMIN)
@require_http_methods(["GET", "POST"])
def label_import_page(request: HttpRequest) -> HttpResponse:
    """Upload a labels CSV (and a .zip of images): the dry run's report, then "Import N labels"."""
    if request.method == "GET":
        return _page(request, LabelImportForm())
    limit = max_bulk_request_bytes()
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > limit:
        # Refused before Django reads (and spools to disk) a single byte of the body.
        message = (
            f"This upload is {length / 1e6:.0f} MB; one import may send at most "
            f"{megabytes(limit)}. Split the images into several .zip files, each with the "
            "CSV rows that name them."
        )
        return _page(request, LabelImportForm(), status=413, request_error=message)
    try:
        form = LabelImportForm(request.POST, request.FILES)
        valid = form.is_valid()
    except RequestDataTooBig:
        message = "This upload's form data is too large."
        return _page(request, LabelImportForm(), status=413, request_error=message)
    if not valid:
        return _page(request, form, status=400)
    labels = form.cleaned_data["labels"]
    images = form.cleaned_data.get("images")
    uploads = [images] if images else []
    csv_name = labels.name or "labels.csv"
    # One byte past the limit is enough for the service to refuse a CSV that is too large.
    csv_data = labels.read(max_upload_bytes() + 1)
    fingerprint = label_import_fingerprint(csv_data=csv_data, csv_name=csv_name, uploads=uploads)
    confirm = request.POST.get("action") == "import"
    notice = ""
    if confirm and form.cleaned_data.get("fingerprint") != fingerprint:
        confirm = False
        notice = (
            "These are not the files of the dry run you confirmed, so nothing was imported. "
            "Here is their own dry run: check it, then import."
        )
    try:
        report = label_import(
            csv_data=csv_data,
            csv_name=csv_name,
            uploads=uploads,
            actor=request.user,
            dry_run=not confirm,
            remote_addr=client_ip(request),
        )
    except LabelImportRefused as exc:
        form.add_error("labels", str(exc))
        return _page(request, form, status=400)
    return _page(request, form, report=report, fingerprint=fingerprint, notice=notice)
