from __future__ import annotations

from django.urls import path, re_path

from . import ohif, views

app_name = "viewer"
urlpatterns = [
    path("studies/<int:study_id>/", views.study_viewer, name="study"),
    path("studies/<int:study_id>/manifest.json", views.study_manifest, name="manifest"),
    path("instances/<int:instance_id>/frames/<int:frame>.raw", views.frame_raw, name="frame-raw"),
    path("instances/<int:instance_id>/frames/<int:frame>.png", views.frame_png, name="frame-png"),
    path("instances/<int:instance_id>/thumbnail.png", views.thumbnail, name="thumbnail"),
    # The OHIF Viewer (imaging/viewer/ohif.py): its files, its config, its own routes.
    re_path(r"^ohif/.*$", ohif.ohif_app, name="ohif"),
]
