"""The Django admin for imaging: stored images are read-only, ingest conflicts are resolved here.

Studies, series, instances and non-image objects are written only by the ingest service
(which keeps their files, checksums and audit trail consistent), so the admin shows them
without letting anyone add, edit or delete them. An :class:`IngestConflict` is a file that
arrived with a stored SOP Instance UID but different bytes; the administrator compares the
two and records a decision.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import IngestConflict, Instance, NonImageInstance, Series, Study


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Viewable, never added, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Study)
class StudyAdmin(ReadOnlyAdmin):
    list_display = ("study_instance_uid", "patient", "study_date", "description", "created_at")
    list_select_related = ("patient",)
    search_fields = ("study_instance_uid", "accession_number", "patient__mrn")
    list_filter = ("is_synthetic",)


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ("series_instance_uid", "modality", "study", "description", "created_at")
    list_select_related = ("study__patient",)
    search_fields = ("series_instance_uid", "study__study_instance_uid")
    list_filter = ("modality",)


@admin.register(Instance)
class InstanceAdmin(ReadOnlyAdmin):
    list_display = ("sop_instance_uid", "series", "rows", "columns", "frames", "source")
    list_select_related = ("series",)
    search_fields = ("sop_instance_uid", "sha256", "series__series_instance_uid")
    list_filter = ("source",)


@admin.register(NonImageInstance)
class NonImageInstanceAdmin(ReadOnlyAdmin):
    """Reports, RT objects, waveforms, PDFs...: stored with their study, never sent to the AI."""

    list_display = ("sop_instance_uid", "sop_class_name", "title", "series", "source")
    list_select_related = ("series",)
    search_fields = ("sop_instance_uid", "sha256", "series__series_instance_uid")
    list_filter = ("source", "sop_class_uid")


@admin.register(IngestConflict)
class IngestConflictAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Open conflicts first; only the decision (resolved at, note) can be edited."""

    list_display = (
        "sop_instance_uid",
        "existing_instance",
        "existing_non_image",
        "source",
        "received_by",
        "received_at",
        "resolved_at",
    )
    list_filter = ("source", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("sop_instance_uid", "sha256")
    ordering = ("resolved_at", "-received_at")
    readonly_fields = (
        "sop_instance_uid",
        "existing_instance",
        "existing_non_image",
        "existing_sha256",
        "storage_key",
        "sha256",
        "size_bytes",
        "source",
        "received_by",
        "received_at",
    )
    fields = (*readonly_fields, "resolved_at", "resolution_note")

    @admin.display(description="SHA-256 of the stored instance")
    def existing_sha256(self, obj: IngestConflict) -> str:
        original = obj.existing_instance or obj.existing_non_image
        return original.sha256 if original is not None else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would orphan the kept-aside file; resolve it instead.
        return False
