"""Reads of the model registry: its versions, whether a champion exists, the findings."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from diagnosis.registry.models import Finding, FindingLabelCount, ModelVersion, Task
from diagnosis.review.models import ReadingState, Review


def champion_exists(*, task: str = Task.IMAGE) -> bool:
    return ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).exists()


def active_findings() -> QuerySet[Finding]:
    return Finding.objects.filter(is_active=True).order_by("sort_order", "code")


def finding_with_code(*, code: str) -> Finding | None:
    """The finding with ``code``, offered or retired; None when the code was never used."""
    return Finding.objects.filter(code=code).first()


@dataclass(frozen=True)
class LabelCount:
    """Images whose current label is one finding, and how many of them are real (neither
    their study nor their patient is marked synthetic)."""

    labelled: int = 0
    real: int = 0

    def __sub__(self, other: LabelCount) -> LabelCount:
        return LabelCount(self.labelled - other.labelled, self.real - other.real)


NO_LABELS = LabelCount()


def _labels(states: QuerySet[ReadingState]) -> QuerySet[ReadingState]:
    """The states of ``states`` that give their image a current label: the reading is done
    and its label review did not reject the image (what
    :func:`diagnosis.review.selectors.current_label_reviews` returns, seen from the states)."""
    return states.filter(
        status=ReadingState.Status.REVIEWED, label__isnull=False, label__finding__isnull=False
    ).exclude(label__action=Review.Action.REJECT)


def label_counts_of(states: QuerySet[ReadingState]) -> dict[int, LabelCount]:
    """:class:`LabelCount` per finding id of the current labels among ``states``, counted
    live in one grouped query: for a set of images that stays small (the test set's, its
    patients'), or for the development database."""
    synthetic = Q(instance__series__study__is_synthetic=True) | Q(
        instance__series__study__patient__is_synthetic=True
    )
    rows = (
        _labels(states)
        .values("label__finding_id")
        .annotate(n=Count("pk"), real=Count("pk", filter=~synthetic))
        .order_by()
        .values_list("label__finding_id", "n", "real")
    )
    return {finding: LabelCount(n, real) for finding, n, real in rows}


def finding_label_counts() -> dict[int, LabelCount]:
    """:class:`LabelCount` per finding id over every image, in one query whatever their
    number: on PostgreSQL the :class:`~diagnosis.registry.models.FindingLabelCount` rows the
    database keeps (a row per finding); elsewhere counted live."""
    if connection.vendor != "postgresql":
        return label_counts_of(ReadingState.objects.all())
    return {
        finding: LabelCount(n, real)
        for finding, n, real in FindingLabelCount.objects.values_list(
            "finding_id", "labelled", "labelled_real"
        )
        if n
    }


def findings_vocabulary() -> QuerySet[Finding]:
    """Every finding, offered ones first, with ``n_labelled`` and ``n_test`` counts.

    ``n_labelled``: images whose current label (see
    :func:`diagnosis.review.selectors.current_label_reviews`) is this finding, read from the
    row the database keeps per finding (:func:`finding_label_counts`); ``n_test``: frozen
    test cases of it (``finetune.TestSetCase``, counted through its reverse relation so this
    floor imports nothing above it). Each count is its own subquery over one relation, so
    neither multiplies the other's rows.
    """
    n_test = Finding.objects.filter(pk=OuterRef("pk")).annotate(n=Count("testsetcase")).values("n")
    if connection.vendor == "postgresql":
        labelled = Coalesce(F("label_count__labelled"), Value(0))
    else:
        live = (
            _labels(ReadingState.objects.filter(label__finding=OuterRef("pk")))
            .order_by()
            .values("label__finding")
            .annotate(n=Count("pk"))
            .values("n")
        )
        labelled = Coalesce(Subquery(live, output_field=IntegerField()), Value(0))
    return Finding.objects.annotate(
        n_labelled=labelled,
        n_test=Coalesce(Subquery(n_test, output_field=IntegerField()), Value(0)),
    ).order_by(F("retired_at").asc(nulls_first=True), "sort_order", "code")


def model_versions(*, task: str = Task.IMAGE) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(task=task).order_by("-version")
