from __future__ import annotations

from typing import Any

from django.apps import AppConfig

# The starting finding vocabulary of the image task; admins may add more later.
DEFAULT_FINDINGS = [("normal", "No finding"), ("opacity", "Opacity"), ("nodule", "Nodule")]


class DiagnosisConfig(AppConfig):
    name = "diagnosis"
    verbose_name = "Diagnosis"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from imaging.signals import study_stable
        from medassist.signals import web_process_ready

        study_stable.connect(_enqueue_inference, dispatch_uid="diagnosis.enqueue_inference")
        post_migrate.connect(_ensure_vocabulary, sender=self)
        # First: the threads apply before either model or the encoder loads.
        web_process_ready.connect(_web_threads, dispatch_uid="diagnosis.web_threads")
        web_process_ready.connect(_preload_triage_model, dispatch_uid="diagnosis.triage_preload")
        web_process_ready.connect(
            _preload_encounter_dx_model, dispatch_uid="diagnosis.encounter_dx_preload"
        )


def _enqueue_inference(
    sender: Any, *, study_id: int, instance_ids: list[int], **kwargs: Any
) -> None:
    from diagnosis.inference.services import suggestions_enqueue_missing

    suggestions_enqueue_missing(instance_ids=instance_ids)


def _web_threads(**kwargs: Any) -> None:
    """A web process serves with MEDASSIST_WEB_TORCH_THREADS torch threads (one by
    default): its sibling processes answer other requests on the same cores."""
    from django.conf import settings

    from diagnosis.registry.serving import serving_threads_choose

    serving_threads_choose(settings.MEDASSIST_WEB_TORCH_THREADS)


def _preload_triage_model(**kwargs: Any) -> None:
    from diagnosis.triage.serving import triage_model_preload

    triage_model_preload()


def _preload_encounter_dx_model(**kwargs: Any) -> None:
    """Load the encounter diagnosis champion into this web process (when it serves the
    model), so the first doctor to open an encounter does not wait for the load. A missing
    database or champion is logged, not raised: the page then says there is no model."""
    import logging

    from django.conf import settings
    from django.db import DatabaseError

    from diagnosis.registry.models import Task
    from diagnosis.registry.serving import NoChampionError, champion, encounter_dx_classifier_for

    logger = logging.getLogger(__name__)
    if not settings.MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL:
        return
    try:
        version = champion(Task.ENCOUNTER_DX)
    except NoChampionError:
        logger.info("No encounter diagnosis champion to load yet.")
        return
    except DatabaseError as exc:
        logger.warning(
            "No encounter diagnosis model loaded: the database cannot be read (%s).", exc
        )
        return
    encounter_dx_classifier_for(version)
    logger.info("Encounter diagnosis champion %s loaded into this web process.", version)


def _ensure_vocabulary(**kwargs: Any) -> None:
    from diagnosis.registry.models import Finding

    if not Finding.objects.exists():
        for order, (code, name) in enumerate(DEFAULT_FINDINGS):
            Finding.objects.create(code=code, name=name, sort_order=order)
