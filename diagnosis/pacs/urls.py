"""Routes of the PACS export (included by diagnosis/urls.py in the "diagnosis" namespace)."""

from __future__ import annotations

from django.urls import path

from diagnosis.pacs import views

urlpatterns = [
    path("cases/<int:instance_id>/pacs/", views.pacs_status, name="pacs-status"),
    path("cases/<int:instance_id>/pacs/send/", views.pacs_send, name="pacs-send"),
]
