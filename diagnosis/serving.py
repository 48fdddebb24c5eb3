"""The per-process model cache that inference reads.

Each worker process keeps the classifiers it has loaded, keyed by ModelVersion id. Every call
asks the database which version is champion (one indexed query), so a promotion is picked up
by the next task without restarting the worker. Weights are loaded lazily, after the worker
has forked, never at import time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from medassist.ml.image_model import ImageClassifier, load_checkpoint

from .models import ModelVersion, Task

_lock = threading.Lock()
_cache: dict[int, ImageClassifier] = {}
_threads_set = False


class NoChampionError(LookupError):
    """No model version is champion for the task yet."""


def _configure_torch() -> None:
    global _threads_set
    if _threads_set:
        return
    import torch

    if settings.MEDASSIST_TORCH_THREADS:
        torch.set_num_threads(settings.MEDASSIST_TORCH_THREADS)
    _threads_set = True


def classifier_for(version: ModelVersion) -> ImageClassifier:
    """Return the loaded classifier of ``version``, loading (and SHA-checking) it once."""
    with _lock:
        clf = _cache.get(version.pk)
        if clf is None:
            _configure_torch()
            clf = load_checkpoint(
                Path(settings.MEDIA_ROOT) / version.weights_key,
                expected_sha256=version.weights_sha256,
            )
            # Keep only the versions that can still be asked for: the new one and the rest
            # are cheap to reload if a rollback brings them back.
            _cache.clear()
            _cache[version.pk] = clf
        return clf


def device_description() -> str:
    """Where inference runs, for provenance (e.g. "cpu (2 threads)")."""
    import torch

    return f"cpu ({torch.get_num_threads()} threads)"


def champion(task: str = Task.IMAGE) -> ModelVersion:
    version = ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).first()
    if version is None:
        raise NoChampionError(f"No {task} model is champion yet.")
    return version
