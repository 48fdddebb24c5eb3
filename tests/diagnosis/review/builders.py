"""Worklist rows built directly in the database: studies, images and AI suggestions.

The worklist only reads rows, so these skip DICOM files; every patient is SYNTHETIC.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.services import study_urgency_refresh
from imaging.models import Instance, Series, Study
from medassist.models import Patient
from tests.factories import ModelVersionFactory

_seq = itertools.count(1)


def model_version() -> ModelVersion:
    return ModelVersion.objects.first() or ModelVersionFactory(status=ModelVersion.Status.CHAMPION)


def study(
    *,
    finding: str | None = "normal",
    probability: float = 0.9,
    needs_attention: bool = False,
    modality: str = "CR",
    waiting_hours: float = 1.0,
    images: int = 1,
) -> Study:
    """A SYNTHETIC study of ``images`` images, each with the same suggestion (or none)."""
    n = next(_seq)
    patient = Patient.objects.create(
        mrn=f"SYN-{n}", name=f"Synthetic^Patient{n}", is_synthetic=True
    )
    s = Study.objects.create(
        patient=patient,
        study_instance_uid=f"1.2.826.0.1.{n}",
        description=f"Study {n}",
        is_synthetic=True,
    )
    Study.objects.filter(pk=s.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=waiting_hours)
    )
    s.refresh_from_db()
    series = Series.objects.create(
        study=s, series_instance_uid=f"1.2.826.0.2.{n}", modality=modality
    )
    version = model_version()
    for i in range(images):
        instance = Instance.objects.create(
            series=series,
            sop_instance_uid=f"1.2.826.0.3.{n}.{i}",
            sop_class_uid="1.2",
            instance_number=i + 1,
            rows=64,
            columns=64,
            storage_key=f"test/{n}/{i}",
            sha256="0" * 64,
            size_bytes=1,
        )
        if finding is not None:
            top = Finding.objects.get(code=finding)
            Suggestion.objects.create(
                instance=instance,
                model_version=version,
                top_finding=top,
                top_probability=probability,
                probabilities={finding: probability},
                needs_attention=needs_attention,
                input_sha256="0" * 64,
                latency_ms=1.0,
            )
    # Suggestions are made here without the inference service, so do what it does after
    # storing them: keep the study's worklist urgency current.
    study_urgency_refresh(study_ids=[s.pk])
    return s


def first_instance(s: Study) -> Instance:
    return Instance.objects.filter(series__study=s).order_by("pk").first()  # type: ignore[return-value]
