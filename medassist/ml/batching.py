"""Micro-batched image inference with CPU decoding overlapped with model compute.

A worker that has several instances waiting decodes them on the CPU (pydicom, windowing,
resize) and runs the model on whole batches: at batch 1 the model spends most of its time
on per-call overhead (see DESIGN.md, "batching is worth 80x"). While batch ``k`` computes
on a compute thread, a thread pool already decodes batch ``k + 1`` and the caller stores
batch ``k - 1``'s results, so decoding, compute and storing overlap.

The overlap pays most when the model runs on a GPU and the CPU is otherwise idle. On a
CPU-only host decoding, storing and torch's threads share the cores; there the model is
served frozen (:func:`serving_module`), whose forward pass does not hold Python's GIL, and
several batches compute at once on one torch thread each, so no thread waits at a barrier
for another that lost its core to decoding. Measured on 2 cores, batch 16, 128 px
(``bench/inference.py``): the whole path went from 115-140 to 190-280 images/s.
``overlap=False`` is there for hosts where it does not pay.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch

from medassist.ml.device import available_cpus, describe, inference_context, prepare_model
from medassist.ml.image_model import ImageClassifier

logger = logging.getLogger(__name__)

T = TypeVar("T")

Probabilities = dict[str, float]


@dataclass(frozen=True)
class BatchTiming:
    """Where the time of one batch went, in milliseconds of wall-clock time.

    ``decode_ms`` sums the time of every ``load`` call of the batch (CPU work, possibly in
    parallel threads); ``wait_ms`` is how long the compute loop waited for that decoding to
    finish (the part decoding did not hide behind the previous batch's compute);
    ``compute_ms`` covers stacking, transfer, the forward pass and postprocessing.
    """

    size: int
    decode_ms: float
    wait_ms: float
    compute_ms: float


def _as_device_batch(tensors: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """Stack ``(3, S, S)`` tensors into a float32 batch on ``device``."""
    batch = torch.stack([t.to(torch.float32) for t in tensors])
    if device.type == "cuda":
        # Pinned host memory lets the copy run asynchronously with the host thread.
        return batch.pin_memory().to(device, non_blocking=True, memory_format=torch.channels_last)
    return batch.to(device)


def _compute(
    module: torch.nn.Module | torch.jit.ScriptModule, batch: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """Logits ``(N, K)`` float32 on the CPU for a batch already on ``device``."""
    with inference_context(device):
        logits = module(batch)
    return logits.float().cpu()


# torch.set_num_threads changes the count threads started later begin with, process-wide:
# while a stream's decoding and compute threads run on fewer, the configured count is kept
# here and put back by the last stream to finish, and every thread a stream starts sets its
# own count rather than inheriting whatever another thread set last.
_thread_setting_lock = threading.Lock()
_thread_setting_users = 0
_thread_setting = 0


def _borrow_thread_setting() -> int:
    """The process's configured torch thread count, held until returned."""
    global _thread_setting_users, _thread_setting
    with _thread_setting_lock:
        if _thread_setting_users == 0:
            _thread_setting = torch.get_num_threads()
        _thread_setting_users += 1
        return _thread_setting


def _return_thread_setting() -> None:
    global _thread_setting_users
    with _thread_setting_lock:
        _thread_setting_users -= 1
        if _thread_setting_users == 0:
            torch.set_num_threads(_thread_setting)


def serving_module(
    model: torch.nn.Module, *, device: torch.device, image_size: int
) -> torch.nn.Module | torch.jit.ScriptModule:
    """The module a worker runs its batches through: on the CPU, ``model`` frozen.

    Freezing (``torch.jit.trace`` at the serving input size, then ``torch.jit.freeze``)
    folds every batch norm into its convolution and runs the whole forward pass in C++
    without holding Python's GIL. Measured on 2 cores with EfficientNet-Lite0 at 128 px,
    batch 16: 1.2-1.3x the eager model's throughput alone, and with a decoding thread busy
    beside it 1.3-1.5x, because the eager model waits for the GIL between its ~2,000 module
    calls per batch. The traced graph is only valid for ``(N, 3, image_size, image_size)``
    inputs, which :class:`MicroBatcher` checks before a batch reaches it.

    TorchScript is deprecated upstream but works in the torch this project pins; if tracing
    fails, or the frozen module's logits differ from the eager ones by more than 1e-3 on a
    test batch, the eager model is served (and a warning logged). On CUDA the eager model
    is served (bf16 autocast and channels_last are what count there).
    """
    if device.type != "cpu":
        return model
    probe = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # The tracer warns about shape arithmetic (fixed at image_size: intended) and
            # about the deprecation of TorchScript (see above).
            warnings.simplefilter("ignore")
            frozen = torch.jit.freeze(torch.jit.trace(model.eval(), probe))
            difference = (frozen(probe) - model(probe)).abs().max().item()
    except Exception:
        logger.warning("Freezing the model failed; serving the eager model.", exc_info=True)
        return model
    if not difference <= 1e-3:
        logger.warning("The frozen model differs by %.2g; serving the eager model.", difference)
        return model
    return frozen


def classify_tensors(
    clf: ImageClassifier,
    tensors: Sequence[torch.Tensor] | torch.Tensor,
    *,
    device: torch.device | None = None,
    batch_size: int = 64,
) -> list[Probabilities]:
    """Calibrated probabilities for preprocessed images, computed in batches.

    The model is moved to ``device`` (default: where it already is) with
    :func:`medassist.ml.device.prepare_model`, i.e. in place and in eval mode; on CUDA it
    runs in bf16 autocast with channels_last inputs.

    Args:
        tensors: float32 ``(3, S, S)`` images, or one ``(N, 3, S, S)`` tensor.
        batch_size: at most this many images per forward pass.

    Returns:
        One ``{label: probability}`` dict per image, in input order (see
        :meth:`ImageClassifier.postprocess`).

    Raises:
        ValueError: ``batch_size`` < 1 or an image is not ``(3, S, S)`` with a common ``S``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    device = clf.device if device is None else device
    prepare_model(clf.model, device)
    items = list(tensors)
    if not items:
        return []
    shape = items[0].shape
    if len(shape) != 3 or shape[0] != 3 or any(t.shape != shape for t in items):
        raise ValueError("images must all be (3, S, S) tensors of the same size")
    results: list[Probabilities] = []
    for start in range(0, len(items), batch_size):
        batch = _as_device_batch(items[start : start + batch_size], device)
        results.extend(clf.postprocess(_compute(clf.model, batch, device)))
    return results


class MicroBatcher(Generic[T]):
    """Run ``load`` then the classifier over many items, batch by batch, with overlap.

    ``load(item)`` turns one item (a path, a dataset, an id...) into a float32
    ``(3, image_size, image_size)`` CPU tensor; it runs on a thread pool and may raise. An
    item whose ``load`` raises, or returns a tensor of the wrong shape, gets that exception
    as its result and the rest of its batch goes on without it. If the forward pass itself
    fails, every item of that batch gets the exception.

    Not thread-safe: one batcher serves one caller at a time (a Celery worker process).
    :attr:`timings` describes the batches of the latest :meth:`run`.
    """

    def __init__(
        self,
        load: Callable[[T], torch.Tensor],
        clf: ImageClassifier,
        *,
        max_batch: int = 32,
        workers: int | None = None,
        device: torch.device | None = None,
        overlap: bool | None = None,
        freeze: bool = True,
        streams: int | None = None,
    ) -> None:
        """Prepare ``clf`` on ``device`` (default: where it is) for inference.

        Args:
            max_batch: at most this many items per forward pass.
            workers: decoding threads; default one fewer than the available CPUs (the
                forward pass needs one), between 1 and 4.
            overlap: decode the next batch while this one computes (default ``True``).
            freeze: serve :func:`serving_module` (frozen on the CPU) rather than the eager
                model; turn off for models whose forward pass has Python side effects.
            streams: batches computed at once, each on its own thread with
                ``torch threads // streams`` intra-op threads. Default: on the CPU with a
                frozen module, one per torch thread up to 4 (independent batches on one
                thread each beat one batch on all threads: measured on 2 cores, 1.17x for
                the frozen model alone, no threads waiting at barriers for one another);
                otherwise 1. Only with ``overlap``.

        Raises:
            ValueError: ``max_batch``, ``workers`` or ``streams`` < 1.
        """
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        workers = max(1, min(4, available_cpus() - 1)) if workers is None else workers
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.load = load
        self.clf = clf
        self.max_batch = int(max_batch)
        self.workers = int(workers)
        self.device = clf.device if device is None else device
        self.overlap = True if overlap is None else bool(overlap)
        prepare_model(clf.model, self.device)
        self.module = (
            serving_module(clf.model, device=self.device, image_size=clf.image_size)
            if freeze
            else clf.model
        )
        if streams is None:
            frozen = isinstance(self.module, torch.jit.ScriptModule)
            cpu = self.device.type == "cpu"
            streams = min(4, torch.get_num_threads()) if cpu and frozen else 1
        if streams < 1:
            raise ValueError("streams must be at least 1")
        self.streams = int(streams) if self.overlap else 1
        self.timings: list[BatchTiming] = []

    def _timed_load(self, item: T) -> tuple[torch.Tensor, float]:
        """``load(item)`` checked for shape, with its duration in ms."""
        start = time.perf_counter()
        tensor = self.load(item)
        elapsed = (time.perf_counter() - start) * 1000.0
        size = self.clf.image_size
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != (3, size, size):
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
            raise ValueError(f"load returned {got}, expected a (3, {size}, {size}) tensor")
        return tensor, elapsed

    def run(self, items: Sequence[T]) -> list[Probabilities | Exception]:
        """Classify ``items``; one result per item, in input order.

        Returns:
            For each item, its ``{label: probability}`` dict, or the exception its ``load``
            (or its batch's forward pass) raised.
        """
        step = self.max_batch
        batches = iter([items[i : i + step] for i in range(0, len(items), step)])
        results: list[Probabilities | Exception] = []
        for _, batch_results in self.stream(lambda: next(batches, ())):
            results.extend(batch_results)
        return results

    def stream(
        self, next_batch: Callable[[], Sequence[T]]
    ) -> Iterator[tuple[Sequence[T], list[Probabilities | Exception]]]:
        """Pull batches from ``next_batch()`` until it returns an empty one; yield each with
        its results (one per item, in order).

        With overlap, the forward passes run on ``streams`` compute threads: while the caller
        handles batch ``k``'s results (e.g. stores them), the next ``streams`` batches
        compute and one more decodes, so a worker that drains a queue keeps the model busy
        across batches, not only within one. ``next_batch`` is called from the caller's
        thread only, at most ``streams + 1`` batches ahead, so it may claim work from a
        database. Results are yielded in the order the batches were pulled. Consume the
        generator to the end: a batch pulled ahead is only processed when asked for.

        Raises:
            ValueError: a batch holds more than ``max_batch`` items.
        """
        self.timings = []

        def pull() -> Sequence[T]:
            batch = next_batch()
            if len(batch) > self.max_batch:
                raise ValueError(f"a batch of {len(batch)} exceeds max_batch={self.max_batch}")
            return batch

        threads = _borrow_thread_setting()
        intra = max(1, threads // self.streams)

        def compute_thread_init() -> None:
            torch.set_num_threads(intra)

        def decode_thread_init() -> None:
            # Decoding runs small torch ops (resize, normalise) that gain nothing from
            # intra-op threads; with more than one, each op wakes an OpenMP team whose
            # threads then spin-wait, taking a core from the forward pass. Measured on 2
            # cores: the path used about 15% less CPU per image with one.
            torch.set_num_threads(1)

        try:
            with (
                ThreadPoolExecutor(
                    max_workers=self.workers,
                    thread_name_prefix="decode",
                    initializer=decode_thread_init,
                ) as pool,
                ThreadPoolExecutor(
                    max_workers=self.streams,
                    thread_name_prefix="compute",
                    initializer=compute_thread_init,  # also when one: see the next comment
                ) as compute,
            ):

                def submit(batch: Sequence[T]) -> list[Future[tuple[torch.Tensor, float]]]:
                    return [pool.submit(self._timed_load, item) for item in batch]

                if not self.overlap:
                    batch = pull()
                    while batch:
                        results, timing = self._finish(submit(batch))
                        self.timings.append(timing)
                        yield batch, results
                        batch = pull()
                    return
                # Up to ``streams`` batches compute on the compute threads while the next one
                # decodes on the pool and the caller stores the previous one (database work
                # stays in the caller's thread, on its connection).
                decoding: deque[tuple[Sequence[T], list[Future[Any]]]] = deque()
                computing: deque[tuple[Sequence[T], Future[tuple[list[Any], BatchTiming]]]] = (
                    deque()
                )
                exhausted = False

                def top_up() -> None:
                    nonlocal exhausted
                    while not exhausted and len(decoding) + len(computing) <= self.streams:
                        batch = pull()
                        if not batch:
                            exhausted = True
                            break
                        decoding.append((batch, submit(batch)))
                    while decoding and len(computing) < self.streams:
                        batch, futures = decoding.popleft()
                        computing.append((batch, compute.submit(self._finish, futures)))

                top_up()
                while computing:
                    batch, running = computing.popleft()
                    results, timing = running.result()
                    self.timings.append(timing)  # in batch order, whichever thread ran it
                    top_up()
                    yield batch, results
        finally:
            _return_thread_setting()

    def describe(self) -> str:
        """How the batches run, for provenance: e.g. ``"cpu (2 threads: 2 batches x 1)"``."""
        threads = torch.get_num_threads()
        if self.device.type == "cpu" and self.streams > 1:
            intra = max(1, threads // self.streams)
            return f"cpu ({threads} threads: {self.streams} batches x {intra})"
        return describe(self.device)

    def _finish(
        self, futures: list[Future[tuple[torch.Tensor, float]]]
    ) -> tuple[list[Probabilities | Exception], BatchTiming]:
        """Wait for one batch's decoding, run the model on what decoded; results and timing."""
        start = time.perf_counter()
        out: list[Probabilities | Exception | None] = []
        good: list[tuple[int, torch.Tensor]] = []
        decode_ms = 0.0
        for i, future in enumerate(futures):
            try:
                tensor, elapsed = future.result()
            except Exception as exc:  # a poison item fails alone
                out.append(exc)
                continue
            decode_ms += elapsed
            good.append((i, tensor))
            out.append(None)
        waited = time.perf_counter()
        if good:
            try:
                batch = _as_device_batch([t for _, t in good], self.device)
                probs: list[Probabilities | Exception] = list(
                    self.clf.postprocess(_compute(self.module, batch, self.device))
                )
            except Exception as exc:
                probs = [exc] * len(good)
            for (i, _), p in zip(good, probs, strict=True):
                out[i] = p
        done = time.perf_counter()
        timing = BatchTiming(
            size=len(futures),
            decode_ms=decode_ms,
            wait_ms=(waited - start) * 1000.0,
            compute_ms=(done - waited) * 1000.0 if good else 0.0,
        )
        return [r for r in out if r is not None], timing
