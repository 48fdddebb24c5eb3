"""Writes of the model registry: registering a trained version and promoting it to champion."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from diagnosis.registry.models import ModelVersion
from medassist.services import audit_record


@transaction.atomic
def model_version_register(
    *,
    task: str,
    weights_key: str,
    weights_sha256: str,
    labels: list[str],
    image_size: int,
    preprocess_version: str,
    parent: ModelVersion | None,
    temperature: float = 1.0,
    model_card: dict[str, Any] | None = None,
    metrics: dict[str, Any],
    training_summary: dict[str, Any],
    trained_through_review_id: int,
    trained_on_synthetic_data: bool,
    trained_through_disposition_id: int = 0,
) -> ModelVersion:
    """Register a new candidate version of ``task`` with the next version number."""
    last = (
        ModelVersion.objects.select_for_update()
        .filter(task=task)
        .order_by("-version")
        .values_list("version", flat=True)
        .first()
    )
    version = ModelVersion(
        task=task,
        version=(last or 0) + 1,
        weights_key=weights_key,
        weights_sha256=weights_sha256,
        labels=labels,
        image_size=image_size,
        preprocess_version=preprocess_version,
        parent=parent,
        temperature=temperature,
        model_card=model_card or {},
        metrics=metrics,
        training_summary=training_summary,
        trained_through_review_id=trained_through_review_id,
        trained_through_disposition_id=trained_through_disposition_id,
        trained_on_synthetic_data=trained_on_synthetic_data,
    )
    version.full_clean()
    version.save()
    return version


@transaction.atomic
def model_version_promote(
    *, version: ModelVersion, actor: AbstractBaseUser | None, reason: str
) -> ModelVersion:
    """Make ``version`` the champion of its task; the previous champion is retired."""
    ModelVersion.objects.select_for_update().filter(task=version.task).exists()
    previous = ModelVersion.objects.filter(
        task=version.task, status=ModelVersion.Status.CHAMPION
    ).first()
    if previous is not None and previous.pk != version.pk:
        previous.status = ModelVersion.Status.RETIRED
        previous.save(update_fields=["status"])
    version.status = ModelVersion.Status.CHAMPION
    version.promoted_at = timezone.now()
    version.save(update_fields=["status", "promoted_at"])
    audit_record(
        actor=actor,
        action="model.promote",
        obj=version,
        detail={"reason": reason, "previous": previous.pk if previous else None},
    )
    return version
