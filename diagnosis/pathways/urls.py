"""Routes of the care pathways (included by diagnosis/urls.py, "diagnosis" namespace).

The doctor's decision on an encounter's pathway is posted to the encounter's own route
(``diagnosis:pathway-use``, diagnosis/encounters/urls.py).
"""

from __future__ import annotations

from django.urls import path

from diagnosis.pathways import views

urlpatterns = [
    path("pathways/", views.pathway_list, name="pathways"),
    path("pathways/new/", views.pathway_new, name="pathway-new"),
    path("pathways/<int:pathway_id>/", views.pathway_detail, name="pathway"),
    path("pathways/<int:pathway_id>/edit/", views.pathway_edit_view, name="pathway-edit"),
    path("pathways/<int:pathway_id>/retire/", views.pathway_retire_view, name="pathway-retire"),
    path(
        "pathways/versions/<int:pathway_version_id>/",
        views.pathway_version_detail,
        name="pathway-version",
    ),
    path(
        "pathways/versions/<int:pathway_version_id>/approve/",
        views.pathway_approve,
        name="pathway-approve",
    ),
]
