"""Routes of the review workflow (included by diagnosis/urls.py in the "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.review import views

urlpatterns = [
    path("cases/", views.worklist, name="worklist"),
    path("cases/<int:instance_id>/", views.case, name="case"),
    path("cases/next/", views.worklist_next, name="worklist-next"),
    path("cases/<int:instance_id>/review/", views.review_view, name="review"),
    path("stats/", views.statistics, name="stats"),
]
