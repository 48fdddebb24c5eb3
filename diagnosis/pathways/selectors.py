"""Reads of the care pathways: the library, one pathway's versions, what is offered for a
diagnosis, and what doctors did with it on an encounter."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from diagnosis.encounters.models import Encounter, FinalDiagnosis
from diagnosis.pathways.groups import category_of, group_of
from diagnosis.pathways.models import (
    Pathway,
    PathwayItem,
    PathwayUse,
    PathwayUseItem,
    PathwayVersion,
)


def _versions() -> QuerySet[PathwayVersion]:
    return PathwayVersion.objects.select_related(
        "pathway", "author", "approval", "approval__approver"
    )


def _with_items(versions: QuerySet[PathwayVersion]) -> QuerySet[PathwayVersion]:
    return versions.prefetch_related(
        Prefetch("items", queryset=PathwayItem.objects.order_by("position"))
    )


def versions_of(*, pathway: Pathway) -> QuerySet[PathwayVersion]:
    """Every version of the pathway, newest first, with its author and approval."""
    return _versions().filter(pathway=pathway).order_by("-number")


def version_with_items(*, version_id: int) -> PathwayVersion | None:
    """One version with its pathway, author, approval and items (in order); None if none."""
    return _with_items(_versions()).filter(pk=version_id).first()


def latest_version(*, pathway: Pathway) -> PathwayVersion | None:
    """The pathway's newest version, approved or not: the one an edit starts from."""
    return _with_items(versions_of(pathway=pathway)).first()


def current_version(*, pathway: Pathway) -> PathwayVersion | None:
    """The pathway's newest approved version: the one offered to doctors (None: none yet)."""
    return _with_items(versions_of(pathway=pathway).filter(approval__isnull=False)).first()


@dataclass(frozen=True)
class PathwayState:
    """A pathway with its current (approved) version and the draft awaiting approval."""

    pathway: Pathway
    current: PathwayVersion | None
    draft: PathwayVersion | None  # a version newer than the current one, not yet approved


def pathway_state(*, pathway: Pathway) -> PathwayState:
    versions = list(versions_of(pathway=pathway))
    return _state(pathway, versions)


def _state(pathway: Pathway, versions: list[PathwayVersion]) -> PathwayState:
    """``versions`` newest first."""
    current = next((v for v in versions if _approved(v)), None)
    latest = versions[0] if versions else None
    draft = latest if latest is not None and not _approved(latest) else None
    return PathwayState(pathway=pathway, current=current, draft=draft)


def _approved(version: PathwayVersion) -> bool:
    # The approval was fetched with the version (select_related): no query here.
    return getattr(version, "approval", None) is not None


def pathway_library(*, retired: bool = False) -> list[PathwayState]:
    """Every pathway in service (or, with ``retired``, every retired one) in group order.

    Two queries whatever the number of pathways.
    """
    pathways = (
        Pathway.objects.filter(retired_at__isnull=not retired)
        .select_related("retired_by")
        .prefetch_related(
            Prefetch(
                "versions",
                queryset=_versions().order_by("-number"),
                to_attr="versions_newest_first",
            )
        )
        .order_by("group_first", "group_last", "pk")
    )
    return [_state(p, p.versions_newest_first) for p in pathways]


def pathway_offer(*, icd10_code: str) -> PathwayVersion | None:
    """The pathway version offered for a final diagnosis coded ``icd10_code``, with items.

    Among the pathways in service whose group holds the code's category and that have an
    approved version, the narrowest group wins (J45-J46 before J40-J47), then the one created
    first. Its current (newest approved) version is offered, whatever its review date: an
    overdue review is shown as such, not hidden.
    """
    category = category_of(icd10_code)
    candidates = list(
        Pathway.objects.filter(
            retired_at__isnull=True,
            group_first__lte=category,
            group_last__gte=category,
            versions__approval__isnull=False,
        )
        .distinct()
        .order_by("pk")
    )
    if not candidates:
        return None
    chosen = min(
        candidates,
        key=lambda p: (
            group_of(first=p.group_first, last=p.group_last).width(),
            p.pk,
        ),
    )
    return current_version(pathway=chosen)


def pathway_uses_of(*, encounter: Encounter) -> QuerySet[PathwayUse]:
    """Every pathway decision of the encounter, newest first, each with the version it used
    (authors, approver, items) and its item states in the version's order."""
    return (
        PathwayUse.objects.filter(encounter=encounter)
        .select_related(
            "doctor",
            "final_diagnosis",
            "superseded_by",
            "version",
            "version__pathway",
            "version__author",
            "version__approval",
            "version__approval__approver",
        )
        .prefetch_related(
            Prefetch(
                "item_states",
                queryset=PathwayUseItem.objects.select_related("item").order_by("item__position"),
            )
        )
        .order_by("-created_at", "-pk")
    )


def current_use_of(*, final_diagnosis: FinalDiagnosis) -> PathwayUse | None:
    """The doctor's latest pathway decision for this final diagnosis (None: none yet)."""
    return (
        PathwayUse.objects.filter(final_diagnosis=final_diagnosis, superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def uses_count(*, version: PathwayVersion) -> int:
    """How many encounter decisions name this version (superseded ones included)."""
    return PathwayUse.objects.filter(version=version).count()
