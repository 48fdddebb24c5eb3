"""Routes of inference results (included by diagnosis/urls.py in the "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.inference import views

urlpatterns = [
    path("suggestions/<int:suggestion_id>/saliency.png", views.saliency, name="saliency"),
    path(
        "rescoring/versions/<int:version_id>/start/",
        views.rescore_start_view,
        name="rescore-start",
    ),
    path("rescoring/<int:job_id>/", views.rescore_job, name="rescore-job"),
]
