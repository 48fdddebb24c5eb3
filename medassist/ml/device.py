"""Where inference runs: device choice, CPU threads, the inference context and provenance.

Nothing here touches CUDA at import time: a Celery parent process imports this module before
it forks its workers, and a CUDA context created before ``fork`` is unusable in the children.
Call :func:`select_device` inside the worker process, once, when the model is first loaded.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

# Intra-op threads beyond this bring little for batch sizes we serve and starve other
# processes on the same host (Celery runs several workers per machine).
MAX_CPU_THREADS = 8

_PREFERENCES = ("auto", "cuda", "cpu")


def select_device(prefer: str = "auto") -> torch.device:
    """The device to run models on.

    ``"auto"`` and ``"cuda"`` give ``cuda`` (the current CUDA device) when one is available
    and the CPU otherwise; ``"cpu"`` always gives the CPU. Only queries availability: no
    CUDA context is created.

    Raises:
        ValueError: ``prefer`` is not one of ``"auto"``, ``"cuda"``, ``"cpu"``.
    """
    if prefer not in _PREFERENCES:
        raise ValueError(f"prefer must be one of {_PREFERENCES}, got {prefer!r}")
    if prefer in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and taskset set)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not every platform has sched_getaffinity
        return max(1, os.cpu_count() or 1)


def configure_cpu_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    Args:
        n: threads to use; ``None`` means the CPUs in this process's affinity mask, capped at
            :data:`MAX_CPU_THREADS`.

    Raises:
        ValueError: ``n`` < 1.
    """
    if n is None:
        n = min(available_cpus(), MAX_CPU_THREADS)
    if n < 1:
        raise ValueError("the thread count must be at least 1")
    torch.set_num_threads(int(n))
    return int(n)


@contextlib.contextmanager
def inference_context(device: torch.device) -> Iterator[None]:
    """``torch.inference_mode`` and, on CUDA, bfloat16 autocast.

    Tensors created inside cannot take part in autograd later, so Grad-CAM and word
    importance must run outside this context. Callers should cast outputs back with
    ``.float()`` before softmax/postprocessing.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode())
        if device.type == "cuda":
            stack.enter_context(torch.autocast("cuda", dtype=torch.bfloat16))
        yield


def prepare_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move ``model`` to ``device`` in eval mode (in place) and return it.

    On CUDA the weights are also put in channels_last memory format, which the convolutions
    of EfficientNet run fastest with under bf16; models without 4-D weights are unaffected.
    """
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    model.eval()
    return model


def describe(device: torch.device) -> str:
    """One line naming where inference ran, for provenance on a Suggestion.

    E.g. ``"cpu (2 threads)"`` or ``"cuda:0 NVIDIA H200 bf16"``.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} {torch.cuda.get_device_name(index)} bf16"
    return f"{device.type} ({torch.get_num_threads()} threads)"
