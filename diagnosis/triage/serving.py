"""The per-process cache of the triage champion (the text model).

Like the image cache in :mod:`diagnosis.registry.serving`: loaded once per process, and every
call asks the database which version is champion, so a promotion is picked up without a
restart. torch and transformers are imported only where the model is loaded, never at import
time. A web process that serves the model (``MEDASSIST_WEB_SERVES_TRIAGE_MODEL``) loads it
when it starts (:func:`triage_model_preload`, run by ``medassist.wsgi``), so no nurse's
request waits for it; one that does not never imports them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError

from diagnosis.registry.models import ModelVersion, Task
from diagnosis.registry.serving import loaded_classifier

if TYPE_CHECKING:
    from medassist.ml.text_model import TextClassifier
    from medassist.ml.triage_head import TriageHeadClassifier

logger = logging.getLogger(__name__)


def triage_model_served() -> bool:
    """Whether this deployment's web processes run the triage model (the setting)."""
    return bool(settings.MEDASSIST_WEB_SERVES_TRIAGE_MODEL)


def triage_champion() -> ModelVersion | None:
    """The triage champion, or None while there is none (the rules still suggest a level)."""
    return ModelVersion.objects.filter(
        task=Task.TRIAGE, status=ModelVersion.Status.CHAMPION
    ).first()


def text_classifier_for(version: ModelVersion) -> TextClassifier | TriageHeadClassifier:
    """The loaded triage classifier of ``version``, once per process (by its weights' SHA-256):
    the fine-tuned text model or the head on the frozen encoder, as the file says."""
    from medassist.ml.triage_head import load_triage_checkpoint

    return loaded_classifier(version, load_triage_checkpoint)


def triage_model_preload() -> None:
    """Load the triage champion into this web process, if it serves the model, and the
    pretrained encoder of the meaning-based concept match (:mod:`diagnosis.triage.meaning`).

    Run on :data:`medassist.signals.web_process_ready` (see ``diagnosis/apps.py``). Imports
    the text model (torch, transformers) and the tokenizer even while there is no champion,
    so that a champion promoted later costs a request only its weights. A missing database
    or champion is logged, not raised, and the web process starts all the same (the nurse
    gets the rules' suggestion until a champion exists). Weights that cannot be loaded
    (missing file, SHA-256 mismatch) raise; ``medassist.wsgi`` logs that and starts anyway.
    """
    if not triage_model_served():
        logger.info(
            "Triage model not served by this web process (MEDASSIST_WEB_SERVES_TRIAGE_MODEL "
            "is off): triage suggestions come from the ESI rules alone."
        )
        return
    from diagnosis.registry.serving import inference_device
    from diagnosis.triage.meaning import preload as meaning_preload
    from medassist.ml.text_model import load_tokenizer

    inference_device()  # this process's torch threads, before the encoder first runs
    load_tokenizer()
    # The frozen encoder and the concepts' descriptions, for the meaning-based match.
    meaning_preload()
    try:
        version = triage_champion()
    except DatabaseError as exc:
        logger.warning("No triage model loaded: the database cannot be read (%s).", exc)
        return
    if version is None:
        logger.info("No triage champion to load yet: triage suggestions use the ESI rules.")
        return
    text_classifier_for(version)
    logger.info("Triage champion %s loaded into this web process.", version)
