"""Records an encounter keeps as a chain: each new one supersedes the current, none is edited.

Final diagnoses, triage assessments and dispositions all work this way; their writers take
the chain's head here, and their pages list the chain with :func:`encounter_chain`.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models import QuerySet

from .models import Encounter

M = TypeVar("M", bound=models.Model)


def encounter_chain_head(model: type[M], *, encounter_id: int) -> M | None:
    """Lock the encounter, then return its current (not superseded) ``model`` record.

    Call inside a transaction: two writers of one encounter then queue up on the lock and
    still form a single chain.
    """
    Encounter.objects.select_for_update().filter(pk=encounter_id).exists()
    return (
        model._default_manager.filter(encounter_id=encounter_id, superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def encounter_chain(
    model: type[M], *, encounter: Encounter, related: tuple[str, ...]
) -> QuerySet[M]:
    """Every ``model`` record of the encounter, newest first; the first one is current.

    ``related`` are the foreign keys the page shows (fetched in the same query).
    """
    return (
        model._default_manager.select_related(*related)
        .filter(encounter=encounter)
        .order_by("-created_at", "-pk")
    )
