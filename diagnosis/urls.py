from __future__ import annotations

from django.urls import path

from . import views

app_name = "diagnosis"
urlpatterns = [
    path("cases/", views.worklist, name="worklist"),
    path("cases/<int:instance_id>/", views.case, name="case"),
    path("cases/<int:instance_id>/review/", views.review, name="review"),
    path("suggestions/<int:suggestion_id>/saliency.png", views.saliency, name="saliency"),
    path("triage/", views.triage_board, name="triage-board"),
    path("triage/encounters/new/", views.encounter_new, name="encounter-new"),
    path("triage/encounters/<int:encounter_id>/", views.encounter_detail, name="encounter"),
]
