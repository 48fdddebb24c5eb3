"""The Django admin for diagnosis: the finding vocabulary, read-only.

Findings are added, edited and retired on the ML admin's page (/models/findings/), whose
services validate the codes and audit every change; the admin only shows them, so no change
can bypass that.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from diagnosis.registry.models import Finding


@admin.register(Finding)
class FindingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name", "snomed_ct", "radlex", "is_active", "retired_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name", "snomed_ct", "radlex")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
