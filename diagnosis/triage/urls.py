"""Routes of the nurse's triage pages (included by diagnosis/urls.py, "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.triage import views

urlpatterns = [
    path("triage/", views.triage_board, name="triage-board"),
    path("triage/encounters/new/", views.encounter_new, name="encounter-new"),
    path("triage/encounters/<int:encounter_id>/", views.encounter_detail, name="encounter"),
    path(
        "triage/encounters/<int:encounter_id>/vitals/",
        views.encounter_vitals,
        name="encounter-vitals",
    ),
    path(
        "triage/assessments/<int:assessment_id>/words/",
        views.assessment_words_fragment,
        name="triage-words",
    ),
    path(
        "triage/assessments/<int:assessment_id>/confirm/",
        views.encounter_confirm,
        name="triage-confirm",
    ),
]
