"""Growing the image classifier's head for a finding added to the vocabulary (pure torch)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medassist.ml.image_model import (
    ImageClassifier,
    build_image_model,
    grow_head,
    load_checkpoint,
    save_checkpoint,
)

OLD = ["normal", "opacity", "nodule"]


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture
def trained() -> ImageClassifier:
    torch.manual_seed(0)
    clf = ImageClassifier(build_image_model(3, pretrained=False), OLD, 32, temperature=1.3)
    # A head that is not the fresh init, as a trained champion's is not.
    with torch.no_grad():
        clf.model._fc.weight.normal_(std=0.2)
        clf.model._fc.bias.copy_(torch.tensor([0.5, -0.25, 1.0]))
    return clf


def _batch() -> torch.Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))


def test_the_old_findings_keep_their_logits_and_the_new_one_gets_a_fresh_row(
    trained: ImageClassifier,
) -> None:
    before = trained.predict(_batch())

    grown = grow_head(trained, [*OLD, "effusion"])

    after = grown.predict(_batch())
    assert grown.labels == [*OLD, "effusion"]
    assert after.shape == (2, 4)
    assert grown.model._fc.weight.shape == (4, 1280) and grown.model._fc.bias.shape == (4,)
    assert torch.allclose(after[:, :3], before, atol=1e-5)
    # The new row is a fresh head row: small weights, zero bias, not a copy of an old row.
    assert grown.model._fc.bias[3].item() == 0.0
    assert grown.model._fc.weight[3].std().item() < 0.02
    assert grown.image_size == trained.image_size and grown.temperature == trained.temperature


def test_rows_follow_the_codes_not_their_positions(trained: ImageClassifier) -> None:
    before = trained.predict(_batch())

    grown = grow_head(trained, ["effusion", "nodule", "normal", "opacity"])

    after = grown.predict(_batch())
    for code in OLD:
        assert torch.allclose(
            after[:, grown.labels.index(code)], before[:, OLD.index(code)], atol=1e-5
        )


def test_a_code_left_out_loses_its_row(trained: ImageClassifier) -> None:
    before = trained.predict(_batch())

    grown = grow_head(trained, ["normal", "nodule", "effusion"])

    assert grown.predict(_batch()).shape == (2, 3)
    assert torch.allclose(grown.predict(_batch())[:, 1], before[:, 2], atol=1e-5)


def test_growing_leaves_the_old_classifier_as_it_was(trained: ImageClassifier) -> None:
    before = trained.predict(_batch())

    grow_head(trained, [*OLD, "effusion"])

    assert trained.labels == OLD
    assert trained.model._fc.out_features == 3
    assert torch.equal(trained.predict(_batch()), before)


def test_a_grown_classifier_survives_a_checkpoint(trained: ImageClassifier, tmp_path: Path) -> None:
    grown = grow_head(trained, [*OLD, "effusion"])
    sha = save_checkpoint(grown, tmp_path / "grown.pt")

    loaded = load_checkpoint(tmp_path / "grown.pt", expected_sha256=sha)

    assert loaded.labels == [*OLD, "effusion"]
    assert torch.allclose(loaded.predict(_batch()), grown.predict(_batch()), atol=1e-6)


def test_a_head_needs_two_distinct_findings(trained: ImageClassifier) -> None:
    with pytest.raises(ValueError):
        grow_head(trained, ["normal"])
    with pytest.raises(ValueError):
        grow_head(trained, ["normal", "normal"])
