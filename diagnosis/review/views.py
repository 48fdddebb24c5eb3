"""Doctor pages of the review workflow: the worklist, one case, its review, and the statistics."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from diagnosis.encounters.selectors import encounters_awaiting_diagnosis
from diagnosis.inference.selectors import latest_suggestion, study_suggestion
from diagnosis.pacs.selectors import pacs_panel
from diagnosis.registry.selectors import active_findings, champion_exists
from diagnosis.review.forms import ReviewForm
from diagnosis.review.selectors import (
    Status,
    WorklistCursor,
    WorklistFilters,
    case_reading,
    multi_label,
    worklist_modalities,
    worklist_neighbour,
    worklist_page,
    worklist_poll_seconds,
)
from diagnosis.review.services import ReviewRefused, review_record
from diagnosis.review.stats import STATS_PERIODS, review_statistics, stats_window_start
from imaging.models import Instance
from medassist.roles import Role, role_required
from medassist.services import audit_record, client_ip


@role_required(Role.DOCTOR)
def worklist(request: HttpRequest) -> HttpResponse:
    """Studies awaiting review, most urgent first; the table partial polls for new ones."""
    filters = WorklistFilters.from_query(request.GET)
    after, before = (WorklistCursor.parse(request.GET.get(name)) for name in ("after", "before"))
    page, rows = worklist_page(
        user=request.user, filters=filters, page=request.GET.get("page"), after=after, before=before
    )
    # The refresh keeps the page where it is: the same number and the same place.
    cursor = f"&after={after}" if after is not None else ""
    if before is not None and after is None:
        cursor = f"&before={before}"
    context = {
        "page": page,
        "rows": rows,
        "cursor": cursor,
        "query": filters.query_string(),
        "poll_seconds": worklist_poll_seconds(),
        "encounters": encounters_awaiting_diagnosis(limit=50),
    }
    if request.htmx:
        # The refresh replaces the table only: the filter form's choices are not rebuilt.
        return render(request, "diagnosis/worklist.html#table", context)
    context.update(
        filters=filters,
        statuses=Status.CHOICES,
        modalities=worklist_modalities(),
        findings=active_findings(),
    )
    # A list of patients is a view of their data too (once per page load, not per refresh).
    audit_record(
        actor=request.user,
        action="worklist.view",
        detail={"query": filters.query_string(), "page": page.number},
        remote_addr=client_ip(request),
    )
    return render(request, "diagnosis/worklist.html", context)


@role_required(Role.DOCTOR)
def worklist_next(request: HttpRequest) -> HttpResponse:
    """Open the next (or previous) case in worklist order; back to the list at its end."""
    filters = WorklistFilters.from_query(request.GET)
    after = request.GET.get("after", "")
    instance_id = worklist_neighbour(
        user=request.user,
        filters=filters,
        study_id=int(after) if after.isdigit() else None,
        previous=request.GET.get("dir") == "prev",
        after_instance_id=int(request.GET["instance"])
        if request.GET.get("instance", "").isdigit()
        else None,
    )
    if instance_id is None:
        messages.info(request, "No more cases in this list.")
        return redirect(f"{reverse('diagnosis:worklist')}?{filters.query_string()}")
    return redirect(
        f"{reverse('diagnosis:case', kwargs={'instance_id': instance_id})}?{filters.query_string()}"
    )


@role_required(Role.DOCTOR)
def case(request: HttpRequest, instance_id: int) -> HttpResponse:
    instance = get_object_or_404(
        Instance.objects.select_related("series__study__patient"), pk=instance_id
    )
    suggestion = latest_suggestion(instance=instance)
    # Without a champion no suggestion will come: say so instead of polling for ever.
    no_model = suggestion is None and not champion_exists()
    overlays = {}
    if suggestion is not None and suggestion.saliency_key:
        overlays[instance.pk] = reverse(
            "diagnosis:saliency", kwargs={"suggestion_id": suggestion.pk}
        )
    filters = WorklistFilters.from_query(request.GET)
    reading = case_reading(instance=instance, user=request.user)
    context = {
        "study_suggestion": study_suggestion(study_id=instance.series.study_id),
        "no_model": no_model,
        "viewer_overlays": overlays,
        "instance": instance,
        "study": instance.series.study,
        "patient": instance.series.study.patient,
        "suggestion": suggestion,
        "reading": reading,
        "reviews": reading.reviews,
        "pacs": pacs_panel(instance=instance),
        "worklist_query": filters.query_string(),
        "form": ReviewForm(
            findings=active_findings(),
            multi_label=multi_label(),
            initial={
                "finding": suggestion.top_finding_id if suggestion else None,
                "worklist": filters.query_string(),
            },
        ),
    }
    if request.htmx:
        # The suggestion panel polls until the worker has written the suggestion; with no
        # model deployed it stops and says so (a first model may be on its way).
        response = render(request, "diagnosis/case.html#suggestion", context)
        if suggestion is not None or no_model:
            response.status_code = HttpResponseStopPolling.status_code
        return response
    audit_record(
        actor=request.user, action="case.view", obj=instance, remote_addr=client_ip(request)
    )
    return render(request, "diagnosis/case.html", context)


@role_required(Role.DOCTOR)
@require_POST
def review_view(request: HttpRequest, instance_id: int) -> HttpResponse:
    """Save the doctor's decision; with "then=next" the next case in the worklist opens."""
    instance = get_object_or_404(Instance.objects.select_related("series"), pk=instance_id)
    form = ReviewForm(request.POST, findings=active_findings(), multi_label=multi_label())
    case_url = reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(case_url)
    data = form.cleaned_data
    try:
        saved = review_record(
            instance=instance,
            reviewer=request.user,
            decision=data["decision"],
            findings=data["chosen"],
            comment=data["comment"],
            remote_addr=client_ip(request),
        )
    except ReviewRefused as exc:
        for error in exc.messages:
            messages.error(request, error)
        return redirect(case_url)
    what = ", ".join(f.name for f in saved.findings.all()) or "non-diagnostic image"
    messages.success(request, f"Review saved: {what} ({saved.get_action_display()}).")
    if (data["then"] or request.GET.get("then")) == "next":
        query = WorklistFilters.from_query(QueryDict(data["worklist"])).query_string()
        return redirect(
            f"{reverse('diagnosis:worklist-next')}?{query}"
            f"&after={instance.series.study_id}&instance={instance.pk}"
        )
    return redirect(case_url)


@role_required(Role.DOCTOR, Role.ML_ADMIN)
def statistics(request: HttpRequest) -> HttpResponse:
    """The last ``MEDASSIST_STATS_WEEKS`` weeks, or the period picked (``?weeks=``)."""
    asked = request.GET.get("weeks", "")
    weeks = max(1, settings.MEDASSIST_STATS_WEEKS)
    refused = ""
    if asked:
        if asked in {str(p) for p in STATS_PERIODS}:
            weeks = int(asked)
        else:
            refused = (
                f"{asked[:20]!r} is not a period this page offers "
                f"({', '.join(map(str, STATS_PERIODS))} weeks): the last {weeks} weeks are shown."
            )
    since = stats_window_start(weeks=weeks)
    context = {
        "stats": review_statistics(since=since),
        "weeks": weeks,
        "since": since,
        "periods": STATS_PERIODS,
        "refused": refused,
    }
    return render(request, "diagnosis/stats.html", context, status=400 if refused else 200)
