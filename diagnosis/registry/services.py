"""Writes of the model registry: the finding vocabulary, registering a trained version and
promoting it to champion."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from diagnosis.registry.models import Finding, ModelVersion
from medassist.services import audit_record

# The fields an ML admin may change after adding a finding; the code is immutable, because
# reviews, test cases and every version's labels name the finding by it.
FINDING_EDITABLE = ("name", "description", "snomed_ct", "radlex", "sensitivity_margin")
# Fewer offered findings than this and no classifier can be trained (it needs 2 outputs).
MIN_OFFERED_FINDINGS = 2


def _finding_detail(finding: Finding) -> dict[str, str]:
    return {field: getattr(finding, field) for field in ("code", *FINDING_EDITABLE)}


@transaction.atomic
def finding_add(
    *,
    code: str,
    name: str,
    description: str = "",
    snomed_ct: str = "",
    radlex: str = "",
    sensitivity_margin: float | None = None,
    actor: AbstractBaseUser | None,
) -> Finding:
    """Add an offered finding at the end of the vocabulary.

    Once it has enough labels and frozen test cases (``finetune.selectors.finding_readiness``),
    the next training run grows the model's head by one output for it (see
    :func:`medassist.ml.image_model.grow_head`).

    Raises:
        ValidationError: the code is taken (by any finding, retired ones included: codes
            are never reused) or a field is malformed.
    """
    # Two findings added at once may share a sort_order; the code then orders them.
    last = Finding.objects.aggregate(m=Max("sort_order"))["m"]
    finding = Finding(
        code=code,
        name=name,
        description=description,
        snomed_ct=snomed_ct,
        radlex=radlex,
        sensitivity_margin=sensitivity_margin,
        sort_order=(last or 0) + 1,
    )
    finding.full_clean()
    finding.save()
    audit_record(actor=actor, action="finding.add", obj=finding, detail=_finding_detail(finding))
    return finding


@transaction.atomic
def finding_update(
    *,
    finding: Finding,
    name: str,
    description: str,
    snomed_ct: str,
    radlex: str,
    sensitivity_margin: float | None = None,
    actor: AbstractBaseUser | None,
) -> Finding:
    """Change a finding's name, description, codes or the gate's sensitivity margin for it
    (None: the site's MEDASSIST_GATE_SENSITIVITY_MARGIN); its ``code`` never changes.

    Raises:
        ValidationError: a field is malformed.
    """
    before = _finding_detail(finding)
    finding.name, finding.description = name, description
    finding.snomed_ct, finding.radlex = snomed_ct, radlex
    finding.sensitivity_margin = sensitivity_margin
    finding.full_clean()
    finding.save(update_fields=list(FINDING_EDITABLE))
    after = _finding_detail(finding)
    changed = {
        k: {"from": before[k], "to": after[k]} for k in FINDING_EDITABLE if before[k] != after[k]
    }
    audit_record(
        actor=actor,
        action="finding.update",
        obj=finding,
        detail={"code": finding.code, "changed": changed},
    )
    return finding


@transaction.atomic
def finding_retire(*, finding: Finding, actor: AbstractBaseUser | None) -> Finding:
    """Stop offering ``finding`` to reviewers and stop training it in new versions.

    Its reviews, test cases and old versions' output rows stay; its code is never reused.

    Raises:
        ValidationError: it is already retired, or fewer than two offered findings would
            remain (a classifier needs at least two outputs).
    """
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.retired_at is not None:
        raise ValidationError(f"“{finding.name}” was already retired.")
    offered = Finding.objects.select_for_update().filter(is_active=True).exclude(pk=finding.pk)
    if finding.is_active and offered.count() < MIN_OFFERED_FINDINGS:
        raise ValidationError(
            f"“{finding.name}” cannot be retired: at least {MIN_OFFERED_FINDINGS} findings "
            "must stay offered for the model to choose between."
        )
    finding.is_active = False
    finding.retired_at = timezone.now()
    finding.save(update_fields=["is_active", "retired_at"])
    audit_record(actor=actor, action="finding.retire", obj=finding, detail={"code": finding.code})
    return finding


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
