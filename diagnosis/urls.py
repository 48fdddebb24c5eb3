from __future__ import annotations

from django.urls import path

from . import views
from .triage import views as triage_views

app_name = "diagnosis"
urlpatterns = [
    path("cases/", views.worklist, name="worklist"),
    path("cases/<int:instance_id>/", views.case, name="case"),
    path("cases/next/", views.worklist_next, name="worklist-next"),
    path("cases/<int:instance_id>/review/", views.review_view, name="review"),
    path("suggestions/<int:suggestion_id>/saliency.png", views.saliency, name="saliency"),
    path("triage/", triage_views.triage_board, name="triage-board"),
    path("triage/encounters/new/", triage_views.encounter_new, name="encounter-new"),
    path("triage/encounters/<int:encounter_id>/", triage_views.encounter_detail, name="encounter"),
    path(
        "triage/assessments/<int:assessment_id>/confirm/",
        triage_views.encounter_confirm,
        name="triage-confirm",
    ),
]
