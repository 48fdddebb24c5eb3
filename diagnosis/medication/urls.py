"""Routes of medication safety (included by diagnosis/urls.py, "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.medication import views

urlpatterns = [
    path(
        "encounters/<int:encounter_id>/medication/",
        views.medication_page,
        name="medication",
    ),
    path(
        "encounters/<int:encounter_id>/medication/allergies/",
        views.allergy_add,
        name="medication-allergy",
    ),
    path(
        "encounters/<int:encounter_id>/medication/current/",
        views.medication_add,
        name="medication-current",
    ),
    path(
        "encounters/<int:encounter_id>/medication/plan/",
        views.plan_add,
        name="medication-plan",
    ),
    path("medication-knowledge/", views.knowledge_list, name="medication-knowledge"),
    path("medication-knowledge/new/", views.knowledge_new, name="medication-knowledge-new"),
    path(
        "medication-knowledge/<int:knowledge_entry_id>/",
        views.knowledge_detail,
        name="medication-knowledge-entry",
    ),
    path(
        "medication-knowledge/<int:knowledge_entry_id>/edit/",
        views.knowledge_edit,
        name="medication-knowledge-edit",
    ),
    path(
        "medication-knowledge/<int:knowledge_entry_id>/retire/",
        views.knowledge_retire,
        name="medication-knowledge-retire",
    ),
    path(
        "medication-knowledge/versions/<int:knowledge_version_id>/approve/",
        views.knowledge_approve,
        name="medication-knowledge-approve",
    ),
]
