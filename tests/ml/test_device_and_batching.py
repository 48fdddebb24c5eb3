"""Device selection, the inference context, and micro-batched classification."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch

from medassist.ml import device as device_module
from medassist.ml.batching import MicroBatcher, classify_tensors, serving_module
from medassist.ml.device import (
    MAX_CPU_THREADS,
    available_cpus,
    configure_cpu_threads,
    describe,
    inference_context,
    prepare_model,
    select_device,
)
from medassist.ml.image_model import ImageClassifier

SIZE = 8
CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _two_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


class TinyNet(torch.nn.Module):
    """Mean colour -> linear: a stand-in for EfficientNet that costs nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.calls = 0
        self.gate: threading.Event | None = None
        self.gate_opened: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.gate is not None and self.calls == 1:
            self.gate_opened.append(self.gate.wait(timeout=5.0))
        return self.fc(x.mean(dim=(2, 3)))


def tiny_classifier() -> ImageClassifier:
    torch.manual_seed(0)
    return ImageClassifier(TinyNet(), ["normal", "finding"], SIZE)


def image(i: int) -> torch.Tensor:
    return torch.full((3, SIZE, SIZE), float(i)) + torch.arange(3.0)[:, None, None] * 0.1 * i


def test_select_device_prefers_cuda_only_when_available(monkeypatch: pytest.MonkeyPatch) -> None:
    assert select_device("cpu") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device() == CPU and select_device("cuda") == CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert select_device("auto") == torch.device("cuda", 0)
    assert select_device("cpu") == CPU
    with pytest.raises(ValueError):
        select_device("tpu")
    assert not torch.cuda.is_initialized()


def test_cpu_threads_default_to_the_affinity_mask_capped() -> None:
    assert configure_cpu_threads() == min(available_cpus(), MAX_CPU_THREADS)
    assert torch.get_num_threads() == min(available_cpus(), MAX_CPU_THREADS)
    assert configure_cpu_threads(1) == 1 and describe(CPU) == "cpu (1 threads)"
    with pytest.raises(ValueError):
        configure_cpu_threads(0)


def test_describe_names_the_gpu_for_provenance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_module.torch.cuda, "get_device_name", lambda i: "NVIDIA H200")
    assert describe(torch.device("cuda", 0)) == "cuda:0 NVIDIA H200 bf16"


def test_inference_context_disables_autograd_and_prepare_model_sets_eval() -> None:
    model = TinyNet().train()
    assert prepare_model(model, CPU) is model and not model.training
    with inference_context(CPU):
        assert torch.is_inference_mode_enabled()
        out = model(torch.ones(1, 3, 2, 2))
    assert not torch.is_inference_mode_enabled() and not out.requires_grad


def test_classify_tensors_matches_the_classifier_in_order() -> None:
    clf = tiny_classifier()
    images = torch.stack([image(i) for i in range(5)])
    expected = clf.postprocess(clf.predict(images))
    got = classify_tensors(clf, images, device=CPU, batch_size=2)
    assert got == [pytest.approx(e, abs=1e-6) for e in expected]
    assert classify_tensors(clf, [], batch_size=2) == []
    with pytest.raises(ValueError):
        classify_tensors(clf, [image(0), torch.zeros(3, 4, 4)])


def test_micro_batcher_returns_results_in_input_order_in_bounded_batches() -> None:
    clf = tiny_classifier()
    expected = clf.postprocess(clf.predict(torch.stack([image(i) for i in range(7)])))
    batcher = MicroBatcher(image, clf, max_batch=3, workers=2)
    results = batcher.run(list(range(7)))
    assert results == [pytest.approx(e, abs=1e-6) for e in expected]
    assert [t.size for t in batcher.timings] == [3, 3, 1]
    assert all(t.decode_ms >= 0 and t.compute_ms > 0 for t in batcher.timings)
    assert batcher.run([]) == [] and batcher.timings == []


def test_one_poison_item_fails_alone() -> None:
    clf = tiny_classifier()

    def load(i: int) -> torch.Tensor:
        if i == 2:
            raise OSError("unreadable file")
        if i == 4:
            return torch.zeros(3, SIZE + 1, SIZE + 1)
        return image(i)

    results = MicroBatcher(load, clf, max_batch=4).run(list(range(6)))
    assert isinstance(results[2], OSError) and "unreadable" in str(results[2])
    assert isinstance(results[4], ValueError)
    good = [0, 1, 3, 5]
    expected = clf.postprocess(clf.predict(torch.stack([image(i) for i in good])))
    for i, want in zip(good, expected, strict=True):
        assert results[i] == pytest.approx(want, abs=1e-6)


def test_the_next_batch_decodes_while_the_current_one_computes() -> None:
    clf = tiny_classifier()
    model = clf.model
    assert isinstance(model, TinyNet)
    next_batch_started = threading.Event()
    model.gate = next_batch_started

    def load(i: int) -> torch.Tensor:
        if i >= 2:
            next_batch_started.set()
        return image(i)

    # The first forward pass blocks until an item of the second batch is being loaded;
    # without overlap it would wait the full 5 s timeout and record False. The gate is
    # Python code in forward(), which a frozen module would not run: serve it eager.
    results = MicroBatcher(load, clf, max_batch=2, workers=2, freeze=False).run([0, 1, 2, 3])
    assert model.gate_opened == [True]
    assert all(isinstance(r, dict) for r in results)


class ConvNet(torch.nn.Module):
    """Convolution + batch norm, the pattern freezing folds."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


def test_the_cpu_serves_a_frozen_module_that_gives_the_eager_results() -> None:
    torch.manual_seed(0)
    model = ConvNet().eval()
    model.bn.running_mean.uniform_(-1, 1)  # a non-trivial fold
    frozen = serving_module(model, device=CPU, image_size=SIZE)
    assert isinstance(frozen, torch.jit.ScriptModule)
    x = torch.randn(5, 3, SIZE, SIZE)  # another batch size than the trace's
    with torch.inference_mode():
        assert torch.allclose(frozen(x), model(x), atol=1e-5)
    clf = ImageClassifier(model, ["normal", "finding"], SIZE)
    images = [torch.randn(3, SIZE, SIZE) for _ in range(5)]
    expected = clf.postprocess(clf.predict(torch.stack(images)))
    batcher = MicroBatcher(lambda i: images[i], clf, max_batch=2)
    assert isinstance(batcher.module, torch.jit.ScriptModule)
    assert batcher.streams == 2  # one batch per torch thread at once (2 in these tests)
    assert batcher.run(list(range(5))) == [pytest.approx(e, abs=1e-5) for e in expected]
    assert batcher.describe() == "cpu (2 threads: 2 batches x 1)"
    for streams in (1, 3):
        other = MicroBatcher(lambda i: images[i], clf, max_batch=1, streams=streams)
        assert other.run(list(range(5))) == [pytest.approx(e, abs=1e-5) for e in expected]
    with pytest.raises(ValueError):
        MicroBatcher(lambda i: images[i], clf, streams=0)


def test_a_model_that_cannot_be_frozen_is_served_eager(caplog: pytest.LogCaptureFixture) -> None:
    class Untraceable(ConvNet):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if torch.jit.is_tracing():
                raise RuntimeError("not traceable")
            return super().forward(x)

    model = Untraceable().eval()
    assert serving_module(model, device=CPU, image_size=SIZE) is model
    assert "serving the eager model" in caplog.text
    assert serving_module(model, device=torch.device("cuda", 0), image_size=SIZE) is model


def test_stream_pulls_batches_from_the_caller_thread_two_ahead() -> None:
    clf = tiny_classifier()
    batches = [[0, 1], [2, 3], [4, 5], [6]]
    pulled: list[tuple[int, str]] = []
    handled: list[int] = []

    def next_batch() -> list[int]:
        pulled.append((len(handled), threading.current_thread().name))
        return batches[len(pulled) - 1] if len(pulled) <= len(batches) else []

    batcher = MicroBatcher(image, clf, max_batch=2, workers=2, freeze=False)
    for k, (batch, results) in enumerate(batcher.stream(next_batch)):
        assert batch == batches[k] and len(results) == len(batch)
        expected = clf.postprocess(clf.predict(torch.stack([image(i) for i in batch])))
        assert results == [pytest.approx(e, abs=1e-6) for e in expected]
        # While the caller handles batch k, batch k + 1 computes and k + 2 decodes (one
        # compute stream: the eager TinyNet), no further.
        assert len(pulled) == min(k + 3, len(batches) + 1)
        handled.append(k)
    assert handled == [0, 1, 2, 3]
    assert {name for _, name in pulled} == {threading.current_thread().name}
    assert len(pulled) == 5  # the last, empty, pull ends the stream
    with pytest.raises(ValueError, match="max_batch"):
        list(batcher.stream(lambda: [0, 1, 2]))


def test_parallel_batches_run_on_one_thread_each_and_the_setting_comes_back() -> None:
    class Recording(TinyNet):
        seen: list[int] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen.append(torch.get_num_threads())
            return super().forward(x)

    torch.manual_seed(0)
    clf = ImageClassifier(Recording(), ["normal", "finding"], SIZE)
    batcher = MicroBatcher(image, clf, max_batch=2, freeze=False, streams=2)
    assert len(batcher.run(list(range(8)))) == 8
    assert Recording.seen == [1, 1, 1, 1]  # 2 torch threads shared by 2 batches at once

    # Threads started afterwards begin with the process's setting again.
    started_later: list[int] = []
    thread = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert started_later == [2] and torch.get_num_threads() == 2


def test_decoding_runs_on_one_torch_thread_and_a_single_stream_keeps_all_of_them() -> None:
    class Recording(TinyNet):
        seen: list[int] = []

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.seen.append(torch.get_num_threads())
            return super().forward(x)

    decoding: list[int] = []

    def load(i: int) -> torch.Tensor:
        decoding.append(torch.get_num_threads())
        return image(i)

    torch.manual_seed(0)
    clf = ImageClassifier(Recording(), ["normal", "finding"], SIZE)
    batcher = MicroBatcher(load, clf, max_batch=2, freeze=False, streams=1)
    assert len(batcher.run(list(range(6)))) == 6
    # Small decode ops would otherwise wake spinning OpenMP threads beside the forward pass.
    assert decoding == [1] * 6
    # The one compute thread starts after the decoding threads: it must not inherit their 1.
    assert Recording.seen == [2, 2, 2]
    assert torch.get_num_threads() == 2
