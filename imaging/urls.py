from __future__ import annotations

from django.urls import path

from . import api, views

app_name = "imaging"
urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("instances/<int:instance_id>/frame.png", views.frame_png, name="frame"),
    path("api/instances/", api.InstanceUploadView.as_view(), name="api-upload"),
]
