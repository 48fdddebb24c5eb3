"""Behaviour of fine-tuning, evaluation and temperature calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medassist.ml.image_model import ImageClassifier, build_image_model
from medassist.ml.preprocess import dicom_to_tensor
from medassist.ml.synthetic import FINDINGS, synthetic_dicom
from medassist.ml.training import (
    TrainConfig,
    TrainState,
    evaluate,
    fit_temperature,
    train_classifier,
)

SIZE = 64


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def synthetic_set(n: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` preprocessed phantoms cycling through FINDINGS, with their class indices."""
    ys = [i % len(FINDINGS) for i in range(n)]
    xs = [
        dicom_to_tensor(
            synthetic_dicom(
                finding=FINDINGS[k],
                patient_id=f"S{i}",
                patient_name="Syn^Pat",
                size=SIZE,
                rng=rng,
            ),
            size=SIZE,
        )
        for i, k in enumerate(ys)
    ]
    return torch.stack(xs), torch.tensor(ys)


class FixedLogits(torch.nn.Module):
    """Returns channel 0 at pixel (0, i) as logit i, so tests choose the predictions."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 0, :3]


def test_training_on_tiny_synthetic_images_beats_chance() -> None:
    rng = np.random.default_rng(0)
    train_x, train_y = synthetic_set(36, rng)
    test_x, test_y = synthetic_set(15, rng)
    torch.manual_seed(0)
    clf = ImageClassifier(build_image_model(3), list(FINDINGS), SIZE)
    train_classifier(clf, train_x, train_y, config=TrainConfig(epochs=4, batch_size=8, seed=0))
    metrics = evaluate(clf, test_x, test_y)
    assert not clf.model.training
    # Chance is 1/3 for three balanced classes.
    assert metrics["accuracy"] >= 0.6, metrics


def test_training_reports_every_epoch_and_is_deterministic_given_the_seed() -> None:
    x, y = synthetic_set(6, np.random.default_rng(1))

    def run() -> tuple[list[tuple[int, float]], torch.Tensor]:
        torch.manual_seed(0)
        clf = ImageClassifier(build_image_model(3, pretrained=False), list(FINDINGS), SIZE)
        seen: list[tuple[int, float]] = []
        config = TrainConfig(epochs=2, batch_size=4, seed=5)
        train_classifier(clf, x, y, config=config, on_epoch=lambda e, loss: seen.append((e, loss)))
        return seen, clf.predict(x)

    first, logits_a = run()
    second, logits_b = run()
    assert [e for e, _ in first] == [1, 2]
    assert all(np.isfinite(loss) for _, loss in first)
    assert first == second
    assert torch.equal(logits_a, logits_b)


def test_a_run_resumed_from_an_epoch_and_its_state_ends_exactly_as_an_uninterrupted_one() -> None:
    import copy
    import io

    x, y = synthetic_set(9, np.random.default_rng(2))
    config = TrainConfig(epochs=3, batch_size=4, seed=7)

    def fresh() -> ImageClassifier:
        torch.manual_seed(0)
        return ImageClassifier(build_image_model(3, pretrained=False), list(FINDINGS), SIZE)

    whole = fresh()
    losses: list[float] = []
    train_classifier(whole, x, y, config=config, on_epoch=lambda e, loss: losses.append(loss))

    # The interrupted run: keep epoch 1's weights and state (as written to disk), then stop.
    interrupted = fresh()
    kept: dict[str, object] = {}

    class Stop(Exception):
        pass

    def keep(state: TrainState) -> None:
        buffer = io.BytesIO()
        torch.save(state.as_payload(), buffer)
        kept["state"] = buffer.getvalue()
        kept["weights"] = copy.deepcopy(interrupted.model.state_dict())

    def stop(epoch: int, loss: float) -> None:
        raise Stop

    with pytest.raises(Stop):
        train_classifier(interrupted, x, y, config=config, on_state=keep, on_epoch=stop)

    # Another process later: a new model, the kept weights, the kept state.
    torch.manual_seed(123)  # whatever the RNG holds now is replaced by the state
    resumed = fresh()
    resumed.model.load_state_dict(kept["weights"])
    payload = torch.load(io.BytesIO(kept["state"]), weights_only=True)
    resumed_losses: list[float] = []
    train_classifier(
        resumed,
        x,
        y,
        config=config,
        resume=TrainState.from_payload(payload),
        on_epoch=lambda e, loss: resumed_losses.append(loss),
    )

    assert resumed_losses == losses[1:]
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name


def test_evaluate_reports_accuracy_macro_f1_and_confusion() -> None:
    clf = ImageClassifier(FixedLogits(), ["a", "b", "c"], 4)
    predicted = [0, 0, 1, 1, 0]
    truth = torch.tensor([0, 0, 1, 0, 1])
    images = torch.zeros(5, 3, 4, 4)
    for i, p in enumerate(predicted):
        images[i, 0, 0, p] = 10.0
    m = evaluate(clf, images, truth)
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion"] == [[2, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert m["per_class"]["a"] == pytest.approx(
        {"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3}
    )
    # "c" is neither true nor predicted, so it is left out of the macro average.
    assert m["per_class"]["c"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_temperature_fit_reduces_nll() -> None:
    clf = ImageClassifier(FixedLogits(), ["a", "b", "c"], 4)
    gen = torch.Generator().manual_seed(0)
    y = torch.randint(0, 3, (200,), generator=gen)
    # Overconfident logits: right 70 % of the time but always with a margin of 8.
    wrong = (y + torch.randint(1, 3, (200,), generator=gen)) % 3
    pred = torch.where(torch.rand(200, generator=gen) < 0.7, y, wrong)
    images = torch.zeros(200, 3, 4, 4)
    images[torch.arange(200), 0, 0, pred] = 8.0
    logits = images[:, 0, 0, :3]

    t = fit_temperature(clf, images, y)
    assert 0.05 <= t <= 20.0 and t > 1.0
    assert F.cross_entropy(logits / t, y) < F.cross_entropy(logits, y)


def test_temperature_from_logits_cools_an_underconfident_model_and_checks_its_input() -> None:
    from medassist.ml.calibration import temperature_from_logits

    # Always right but only mildly sure: a temperature below 1 sharpens it (lower NLL).
    y = torch.arange(60) % 3
    logits = torch.full((60, 3), 0.0)
    logits[torch.arange(60), y] = 0.5
    t = temperature_from_logits(logits, y)
    assert 0.05 <= t < 1.0
    assert F.cross_entropy(logits / t, y) < F.cross_entropy(logits, y)
    with pytest.raises(ValueError):
        temperature_from_logits(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError):
        temperature_from_logits(logits, torch.full((60,), 3))


def test_ece_matches_a_hand_computed_example() -> None:
    import numpy as np

    from medassist.ml.calibration import expected_calibration_error, reliability_bins

    # Four cases, two classes. Confidences 0.9 and 0.9 fall in the bin (0.8667, 0.9333], one
    # right and one wrong; 0.6 and 0.6 in the bin (0.5333, 0.6] (its upper edge), both right.
    p = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.6, 0.4]])
    y = np.array([0, 1, 1, 0])
    curve = reliability_bins(p, y)
    assert [(b["n"], round(b["confidence"], 6), b["accuracy"]) for b in curve] == [
        (2, 0.6, 1.0),
        (2, 0.9, 0.5),
    ]
    assert curve[0]["upper"] == pytest.approx(9 / 15)
    # By hand: (2 * |0.6 - 1.0| + 2 * |0.9 - 0.5|) / 4 = (0.8 + 0.8) / 4 = 0.4
    assert expected_calibration_error(p, y) == pytest.approx(0.4)
    # A perfectly calibrated set: confidence 1.0 and always right.
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


def test_ece_refuses_mismatched_shapes() -> None:
    import numpy as np

    from medassist.ml.calibration import expected_calibration_error

    with pytest.raises(ValueError, match="N labels"):
        expected_calibration_error(np.ones((3, 2)) / 2, np.array([0, 1]))


def _overconfident(n: int, seed: int):  # type: ignore[no-untyped-def]
    """Logits of a model right ~70% of the time that says so with ~100% confidence."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    guess = np.where(rng.random(n) < 0.7, y, (y + 1) % 3)
    logits = np.full((n, 3), -4.0)
    logits[np.arange(n), guess] = 4.0
    logits += rng.normal(0, 0.3, size=(n, 3))
    return torch.tensor(logits), torch.tensor(y)


def test_measured_calibration_fits_on_one_half_judges_on_the_other_and_keeps_what_helps() -> None:
    from medassist.ml.calibration import calibrate

    logits, y = _overconfident(400, seed=0)
    patients = [i // 2 for i in range(400)]  # two cases per patient, never split
    result = calibrate(logits, y, groups=patients, min_cases=100, seed=3)
    assert result.measured and result.used
    assert result.temperature > 1.5  # overconfidence is softened
    assert result.ece_after < result.ece_before
    assert result.ece_before > 0.2  # says ~1.0, is right ~0.7
    assert result.n_fit + result.n_judge == 400 and result.n_fit % 2 == 0
    assert result == calibrate(logits, y, groups=patients, min_cases=100, seed=3)


def test_below_the_minimum_there_is_no_temperature_and_no_ece_figure() -> None:
    from medassist.ml.calibration import calibrate

    logits, y = _overconfident(60, seed=1)
    result = calibrate(logits, y, min_cases=100)
    assert (result.measured, result.temperature, result.ece_before) == (False, 1.0, None)
    assert "too few cases to measure calibration" in result.reason
