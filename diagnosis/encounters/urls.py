"""Routes of the encounter record (included by diagnosis/urls.py, "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.encounters import views

urlpatterns = [
    path(
        "encounters/<int:encounter_id>/final-diagnosis/",
        views.final_diagnosis,
        name="final-diagnosis",
    ),
    path("encounters/<int:encounter_id>/disposition/", views.disposition, name="disposition"),
    path("encounters/<int:encounter_id>/pathway/", views.pathway_use, name="pathway-use"),
    path(
        "encounters/<int:encounter_id>/diagnosis-suggestion/",
        views.encounter_dx,
        name="encounter-dx",
    ),
]
