from __future__ import annotations

from django.urls import path

from . import views

app_name = "finetune"
urlpatterns = [
    path("", views.models_page, name="models"),
    path("runs/start/", views.run_start, name="run-start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("export/", views.export_page, name="export"),
    path("export/<str:key>/download/", views.export_download, name="export-download"),
]
