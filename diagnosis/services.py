"""Writes of the diagnosis app: suggestions, reviews, encounters and the model registry."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.models import Patient
from medassist.services import audit_record
from medassist.version import code_version

from .models import Encounter, ModelVersion, Suggestion, Task
from .serving import champion, classifier_for, device_description

logger = logging.getLogger(__name__)


def suggestions_enqueue_missing(*, instance_ids: list[int]) -> list[int]:
    """Queue inference for those instances the current champion has not answered yet.

    Runs once the current transaction commits; returns the ids it queued. A study that
    becomes stable again after a late instance re-queues only that instance.
    """
    from .inference import inference_requests_create
    from .tasks import suggestion_compute

    version = ModelVersion.objects.filter(
        task=Task.IMAGE, status=ModelVersion.Status.CHAMPION
    ).first()
    done = (
        set(
            Suggestion.objects.filter(
                instance_id__in=instance_ids, model_version=version
            ).values_list("instance_id", flat=True)
        )
        if version is not None
        else set()
    )
    todo = inference_requests_create(instance_ids=[pk for pk in instance_ids if pk not in done])

    def send() -> None:
        for pk in todo:
            suggestion_compute.delay(instance_id=pk)

    transaction.on_commit(send)
    return todo


def suggestion_compute(*, instance_id: int) -> Suggestion:
    """Run the current image champion on one instance now and store its suggestion.

    The unbatched path (tests, the management shell); workers use
    :func:`diagnosis.inference.inference_drain`. Idempotent per (instance, champion).
    Raises NoChampionError, StoredFileError, or whatever decoding raises for a poison input.
    """
    from .inference import suggestion_store

    instance = Instance.objects.select_related("series").get(pk=instance_id)
    version = champion(Task.IMAGE)
    existing = Suggestion.objects.filter(instance=instance, model_version=version).first()
    if existing is not None:
        return existing
    started = time.perf_counter()
    clf = classifier_for(version)
    # Reading verifies the file against the instance's SHA-256, which is then the input's.
    probabilities = clf.classify_datasets([instance_read_dataset(instance=instance)])[0]
    return suggestion_store(
        instance=instance,
        version=version,
        probabilities=probabilities,
        input_sha256=instance.sha256,
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )


@transaction.atomic
def encounter_open(
    *,
    patient: Patient,
    opened_by: AbstractBaseUser,
    chief_complaint: str,
    heart_rate: int,
    respiratory_rate: int,
    spo2: int,
    systolic_bp: int,
    diastolic_bp: int,
    temperature_c: Decimal,
    pain: int,
    mental_status: str,
    temperature_unit: str = "C",
    gcs: int | None = None,
    arrival_mode: str = "",
    age_years: Decimal | None = None,
) -> Encounter:
    """Store a new encounter as the nurse recorded it (validated, audited)."""
    encounter = Encounter(
        patient=patient,
        opened_by=opened_by,
        chief_complaint=chief_complaint.strip(),
        heart_rate=heart_rate,
        respiratory_rate=respiratory_rate,
        spo2=spo2,
        systolic_bp=systolic_bp,
        diastolic_bp=diastolic_bp,
        temperature_c=temperature_c,
        temperature_unit=temperature_unit,
        pain=pain,
        mental_status=mental_status,
        gcs=gcs,
        age_years=age_years,
    )
    if arrival_mode:
        encounter.arrival_mode = arrival_mode
    encounter.full_clean()
    encounter.save()
    audit_record(actor=opened_by, action="encounter.open", obj=encounter)
    return encounter


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


def attention_check(
    *,
    probabilities: dict[str, float],
    modality: str,
    body_part: str,
    model_card: dict[str, Any],
) -> str:
    """Why this output needs a human's attention before anyone leans on it ("" if not).

    Out of scope (a modality or body part the model card does not cover) comes first; then an
    unsure model: the top two probabilities closer than ``MEDASSIST_ATTENTION_MARGIN``.
    """
    modalities = [m.upper() for m in model_card.get("modalities", [])]
    if modalities and modality.upper() not in modalities:
        return (
            f"Out of scope: this model is for {', '.join(modalities)} images, "
            f"not {modality or 'an unknown modality'}."
        )
    body_parts = [b.upper() for b in model_card.get("body_parts", [])]
    if body_parts and body_part and body_part.upper() not in body_parts:
        return f"Out of scope: this model is for {', '.join(body_parts)}, not {body_part}."
    ranked = sorted(probabilities.values(), reverse=True)
    margin = ranked[0] - (ranked[1] if len(ranked) > 1 else 0.0)
    if margin < settings.MEDASSIST_ATTENTION_MARGIN:
        return (
            f"The model is unsure: its top two findings are only {margin:.2f} apart "
            f"(threshold {settings.MEDASSIST_ATTENTION_MARGIN:.2f})."
        )
    return ""


def suggestion_record_failure(*, instance_id: int, error: str) -> Suggestion | None:
    """Store a visible "failed" suggestion once inference has given up on an instance."""
    instance = Instance.objects.get(pk=instance_id)
    try:
        version = champion(Task.IMAGE)
    except LookupError:
        logger.error("Inference failed for instance %s with no champion: %s", instance_id, error)
        return None
    suggestion, _ = Suggestion.objects.get_or_create(
        instance=instance,
        model_version=version,
        defaults={
            "status": Suggestion.Status.FAILED,
            "error": error[:2000],
            "needs_attention": True,
            "attention_reason": "Inference failed; a person has to read this image.",
            "input_sha256": instance.sha256,
            "weights_sha256": version.weights_sha256,
            "preprocess_version": version.preprocess_version,
            "code_version": code_version(),
            "device": device_description(),
            "latency_ms": 0.0,
        },
    )
    from .review import study_urgency_refresh

    # A failed image needs a person first: it rises to the top of the worklist.
    study_urgency_refresh(study_ids=[instance.series.study_id])
    return suggestion
