"""The per-process cache of the triage champion (the text model).

Like the image cache in :mod:`diagnosis.serving`: loaded lazily on first use (after a worker
has forked, never at import time), once per process, and every call asks the database which
version is champion, so a promotion is picked up without a restart.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from diagnosis.models import ModelVersion, Task
from diagnosis.serving import inference_device
from medassist.ml.device import prepare_model
from medassist.ml.text_model import TextClassifier, load_text_checkpoint

_lock = threading.Lock()
_cache: dict[int, TextClassifier] = {}


def triage_champion() -> ModelVersion | None:
    """The triage champion, or None while there is none (the rules still suggest a level)."""
    return ModelVersion.objects.filter(
        task=Task.TRIAGE, status=ModelVersion.Status.CHAMPION
    ).first()


def text_classifier_for(version: ModelVersion) -> TextClassifier:
    """The loaded classifier of ``version``, loaded (and SHA-checked) once per process."""
    with _lock:
        clf = _cache.get(version.pk)
        if clf is None:
            device = inference_device()
            clf = load_text_checkpoint(
                Path(settings.MEDIA_ROOT) / version.weights_key,
                expected_sha256=version.weights_sha256,
            )
            prepare_model(clf.model, device)
            # Only the current champion is kept: a rollback reloads in about a second.
            _cache.clear()
            _cache[version.pk] = clf
        return clf
