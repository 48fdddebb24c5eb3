"""Grad-CAM on the image classifier and the overlay PNG the viewer shows."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from medassist.ml.image_model import ImageClassifier, build_image_model
from medassist.ml.preprocess import resize, to_model_input
from medassist.ml.saliency import cam_layer, colormap, gradcam, heatmap_png
from medassist.ml.synthetic import chest_phantom
from medassist.ml.training import TrainConfig, train_classifier

SIZE = 64


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def phantom(finding: str, rng: np.random.Generator) -> torch.Tensor:
    """A preprocessed phantom, windowed as the lung window does (HU -1200..400)."""
    hu = chest_phantom(finding, size=SIZE, rng=rng).astype(np.float64) - 1024.0
    return to_model_input(resize(np.clip((hu + 1200.0) / 1600.0, 0.0, 1.0), SIZE))


@pytest.fixture(scope="module")
def trained() -> ImageClassifier:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    findings = ["normal", "nodule"] * 6
    images = torch.stack([phantom(f, rng) for f in findings])
    labels = torch.tensor([0, 1] * 6)
    torch.manual_seed(0)
    clf = ImageClassifier(build_image_model(2), ["normal", "nodule"], SIZE)
    config = TrainConfig(epochs=2, batch_size=6, seed=0, augment=False)
    return train_classifier(clf, images, labels, config=config)


def hook_count(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_gradcam_gives_a_bounded_non_constant_map_and_leaves_the_model_as_it_was(
    trained: ImageClassifier,
) -> None:
    image = phantom("nodule", np.random.default_rng(7))
    flags = [p.requires_grad for p in trained.model.parameters()]
    hooks = hook_count(trained.model)
    trained.model.zero_grad(set_to_none=True)  # training leaves its last gradients
    trained.model.train()

    cam = gradcam(trained, image)

    assert cam.shape == (SIZE, SIZE) and cam.dtype == np.float32
    assert float(cam.min()) >= 0.0 and float(cam.max()) <= 1.0
    assert float(cam.max()) - float(cam.min()) > 0.1  # not a constant map
    assert hook_count(trained.model) == hooks
    assert [p.requires_grad for p in trained.model.parameters()] == flags
    assert all(p.grad is None for p in trained.model.parameters())
    assert trained.model.training  # the caller's mode is restored
    trained.model.eval()
    # Predictions are unaffected by having explained one.
    before = trained.predict(image[None])
    gradcam(trained, image, target=0)
    assert torch.equal(trained.predict(image[None]), before)


def test_the_cam_layer_is_the_pooling_that_feeds_the_head(trained: ImageClassifier) -> None:
    assert cam_layer(trained.model) is trained.model._avg_pooling
    with pytest.raises(ValueError, match="target"):
        gradcam(trained, torch.zeros(3, SIZE, SIZE), target=5)


def test_heatmap_png_is_an_rgba_overlay_of_the_requested_size(trained: ImageClassifier) -> None:
    cam = gradcam(trained, phantom("nodule", np.random.default_rng(3)))
    png = heatmap_png(cam, size=(300, 200))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    assert img.mode == "RGBA" and img.size == (200, 300)  # PIL gives (width, height)
    alpha = np.asarray(img)[..., 3]
    # Transparent where there is no evidence, most opaque at the strongest evidence.
    assert alpha.max() <= round(255 * 0.6)
    assert alpha.max() - alpha.min() > 50


def test_a_zero_map_is_fully_transparent_and_the_ramp_runs_blue_to_red() -> None:
    img = Image.open(io.BytesIO(heatmap_png(np.zeros((8, 8), dtype=np.float32))))
    assert img.size == (8, 8) and np.asarray(img)[..., 3].max() == 0
    low, high = colormap(np.array([0.0, 1.0]))
    assert low[2] > low[0] and high[0] > high[2]
    with pytest.raises(ValueError):
        heatmap_png(np.zeros((2, 2, 2)))
