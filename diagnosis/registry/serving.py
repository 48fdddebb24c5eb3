"""The per-process model cache that inference reads.

Each worker process keeps the classifiers it has loaded, keyed by the SHA-256 of their weights
(not the ModelVersion id: a database may give a new row the id of one rolled back). Every call
asks the database which version is champion (one indexed query), so a promotion is picked up
by the next task without restarting the worker. Weights are loaded lazily, after the worker
has forked, never at import time; torch and the model modules too, so that a web process
that imports this module for its queries does not load them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings

from diagnosis.registry.models import ModelVersion, Task

if TYPE_CHECKING:
    import torch

    from medassist.ml.image_model import ImageClassifier

_lock = threading.Lock()


_cache: dict[str, tuple[str, Any]] = {}  # task -> (weights SHA-256, classifier)


C = TypeVar("C")


_device: torch.device | None = None
# This process's torch threads where its role chose them (a web process:
# MEDASSIST_WEB_TORCH_THREADS); None: MEDASSIST_TORCH_THREADS.
_threads: int | None = None


class NoChampionError(LookupError):
    """No model version is champion for the task yet."""


def serving_threads_choose(threads: int) -> None:
    """Serve with ``threads`` torch threads in this process (0: MEDASSIST_TORCH_THREADS),
    applied by :func:`inference_device` when the first model or encoder loads. Imports
    nothing: a web process that serves no model never loads torch for it."""
    global _threads
    if threads < 0:
        raise ValueError("the thread count must be 0 (the general setting) or more")
    _threads = threads or None


def inference_device() -> torch.device:
    """The device of this worker process, chosen once, on first use (after the fork), and
    its torch threads (:func:`serving_threads_choose`, else MEDASSIST_TORCH_THREADS, else one
    per CPU)."""
    global _device
    if _device is None:
        from medassist.ml.device import configure_cpu_threads, select_device

        configure_cpu_threads(_threads or settings.MEDASSIST_TORCH_THREADS or None)
        _device = select_device(settings.MEDASSIST_INFERENCE_DEVICE)
    return _device


def loaded_classifier(version: ModelVersion, load: Callable[..., C]) -> C:
    """The classifier of ``version``, loaded with ``load`` (SHA-checked) once per process.

    One slot per task: the current champion of each task. A promotion replaces the slot on
    the next call; a rollback reloads the old version, which takes about a second.
    """
    from medassist.ml.device import prepare_model

    with _lock:
        held = _cache.get(version.task)
        if held is None or held[0] != version.weights_sha256:
            clf = load(
                Path(settings.MEDIA_ROOT) / version.weights_key,
                expected_sha256=version.weights_sha256,
            )
            prepare_model(clf.model, inference_device())
            held = _cache[version.task] = (version.weights_sha256, clf)
        return held[1]


def classifier_for(version: ModelVersion) -> ImageClassifier:
    """The loaded image classifier of ``version``."""
    from medassist.ml.image_model import load_checkpoint

    return loaded_classifier(version, load_checkpoint)


def encounter_dx_classifier_for(version: ModelVersion) -> Any:
    """The loaded encounter diagnosis classifier of ``version``, once per process
    (:class:`medassist.ml.encounter_model.EncounterClassifier`)."""
    from medassist.ml.encounter_model import load_encounter_checkpoint

    return loaded_classifier(version, load_encounter_checkpoint)


def device_description() -> str:
    """Where inference runs, for provenance (e.g. "cpu (2 threads)")."""
    from medassist.ml.device import describe

    return describe(inference_device())


def champion(task: str = Task.IMAGE) -> ModelVersion:
    version = ModelVersion.objects.filter(task=task, status=ModelVersion.Status.CHAMPION).first()
    if version is None:
        raise NoChampionError(f"No {task} model is champion yet.")
    return version
