"""Routes of inference results (included by diagnosis/urls.py in the "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.inference import views

urlpatterns = [
    path("suggestions/<int:suggestion_id>/saliency.png", views.saliency, name="saliency"),
]
