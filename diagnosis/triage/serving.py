"""The per-process cache of the triage champion (the text model).

Like the image cache in :mod:`diagnosis.registry.serving`: loaded lazily on first use (after a
worker has forked, never at import time), once per process, and every call asks the database which
version is champion, so a promotion is picked up without a restart.
"""

from __future__ import annotations

from diagnosis.registry.models import ModelVersion, Task
from diagnosis.registry.serving import loaded_classifier
from medassist.ml.text_model import TextClassifier, load_text_checkpoint


def triage_champion() -> ModelVersion | None:
    """The triage champion, or None while there is none (the rules still suggest a level)."""
    return ModelVersion.objects.filter(
        task=Task.TRIAGE, status=ModelVersion.Status.CHAMPION
    ).first()


def text_classifier_for(version: ModelVersion) -> TextClassifier:
    """The loaded triage classifier of ``version``, once per process."""
    return loaded_classifier(version, load_text_checkpoint)
