from __future__ import annotations

from django.urls import include, path

from . import api, views

app_name = "imaging"
urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("instances/<int:instance_id>/frame.png", views.frame_png, name="frame"),
    path("api/instances/", api.InstanceUploadView.as_view(), name="api-upload"),
    # DICOMweb (PS3.18): STOW-RS, QIDO-RS and WADO-RS under /imaging/dicomweb/.
    path("dicomweb/", include("imaging.dicomweb.urls")),
    # The study viewer and its frame endpoints.
    path("viewer/", include("imaging.viewer.urls")),
]
