from __future__ import annotations

from django.urls import path

from . import import_views, views

app_name = "finetune"
urlpatterns = [
    path("", views.models_page, name="models"),
    path("runs/start/", views.run_start, name="run-start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:run_id>/approve/", views.run_approve, name="run-approve"),
    path("versions/<int:version_id>/", views.version_detail, name="version"),
    path("versions/<int:version_id>/rollback/", views.version_rollback, name="version-rollback"),
    path("versions/<int:version_id>/card/", views.version_card, name="version-card"),
    path("findings/", views.findings_page, name="findings"),
    # The finding travels in the query (?finding=<id>) or the form, not the path.
    path("findings/edit/", views.finding_edit, name="finding-edit"),
    path("findings/retire/", views.finding_retire_view, name="finding-retire"),
    path("export/", views.export_page, name="export"),
    path("export/<str:key>/download/", views.export_download, name="export-download"),
    path("test-set/", views.test_set_page, name="test-set"),
    path("labels/import/", import_views.label_import_page, name="label-import"),
]
