"""DICOMweb resources (PS3.18 10.x), included by imaging/urls.py under /imaging/dicomweb/.

UIDs are matched as any path segment: real archives hold UIDs that break the UID grammar,
and an unknown one is answered with 404 (or an empty search) by the view.
"""

from __future__ import annotations

from django.urls import path

from . import views

S = "studies/<str:study>"
SE = f"{S}/series/<str:series>"
I = f"{SE}/instances/<str:instance>"  # noqa: E741

urlpatterns = [
    # QIDO-RS (GET) and STOW-RS (POST)
    path("studies", views.StudiesView.as_view(), name="dicomweb-studies"),
    path(S, views.StudyView.as_view(), name="dicomweb-study"),
    path("series", views.SeriesSearchView.as_view(), name="dicomweb-series-search"),
    path("instances", views.InstanceSearchView.as_view(), name="dicomweb-instance-search"),
    path(f"{S}/series", views.SeriesSearchView.as_view(), name="dicomweb-study-series"),
    path(f"{S}/instances", views.InstanceSearchView.as_view(), name="dicomweb-study-instances"),
    path(f"{SE}/instances", views.InstanceSearchView.as_view(), name="dicomweb-series-instances"),
    # WADO-RS
    path(SE, views.SeriesView.as_view(), name="dicomweb-series"),
    path(I, views.InstanceView.as_view(), name="dicomweb-instance"),
    path(f"{S}/metadata", views.MetadataView.as_view(), name="dicomweb-study-metadata"),
    path(f"{SE}/metadata", views.MetadataView.as_view(), name="dicomweb-series-metadata"),
    path(f"{I}/metadata", views.MetadataView.as_view(), name="dicomweb-instance-metadata"),
    path(f"{S}/rendered", views.CollectionRenderedView.as_view(), name="dicomweb-study-rendered"),
    path(f"{SE}/rendered", views.CollectionRenderedView.as_view(), name="dicomweb-series-rendered"),
    path(f"{I}/rendered", views.RenderedView.as_view(), name="dicomweb-instance-rendered"),
    path(f"{I}/frames/<str:frames>", views.FramesView.as_view(), name="dicomweb-frames"),
    # A BulkDataURI of the metadata: a tag (7FE00010), or tag/item/tag inside a sequence.
    path(f"{I}/bulkdata/<path:key>", views.BulkDataView.as_view(), name="dicomweb-bulkdata"),
    path(
        f"{I}/frames/<str:frames>/rendered",
        views.RenderedView.as_view(),
        name="dicomweb-frame-rendered",
    ),
]
