"""The diagnosis app's pages under one namespace ("diagnosis"), one route list per workflow."""

from __future__ import annotations

from diagnosis.encounters import urls as encounters
from diagnosis.inference import urls as inference
from diagnosis.medication import urls as medication
from diagnosis.pacs import urls as pacs
from diagnosis.pathways import urls as pathways
from diagnosis.review import urls as review
from diagnosis.triage import urls as triage

app_name = "diagnosis"
urlpatterns = [
    *review.urlpatterns,
    *inference.urlpatterns,
    *triage.urlpatterns,
    *encounters.urlpatterns,
    *pathways.urlpatterns,
    *medication.urlpatterns,
    *pacs.urlpatterns,
]
