"""The diagnosis app's routes plus the final-diagnosis and statistics pages.

medassist/urls.py includes this module under the "diagnosis" namespace instead of
diagnosis/urls.py, because one namespace cannot be included twice.
"""

from __future__ import annotations

from django.urls import path

from . import final_views
from .urls import urlpatterns as base_urlpatterns

app_name = "diagnosis"
urlpatterns = [
    *base_urlpatterns,
    path(
        "encounters/<int:encounter_id>/final-diagnosis/",
        final_views.final_diagnosis,
        name="final-diagnosis",
    ),
    path(
        "encounters/<int:encounter_id>/disposition/",
        final_views.disposition,
        name="disposition",
    ),
    path("stats/", final_views.statistics, name="stats"),
]
