"""The triage head on the frozen encoder: what it reads, what it learns, its checkpoints and
its explanation. The real all-MiniLM-L6-v2 of the installed package, tiny training sets."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from medassist.ml.text_model import (
    TRIAGE_LABELS,
    TextClassifier,
    build_text_model,
    packed_sentence_embeddings,
    save_text_checkpoint,
)
from medassist.ml.triage_head import (
    CHECKPOINT_FORMAT,
    N_VITAL_FEATURES,
    TriageHeadClassifier,
    build_triage_head,
    head_word_gradients,
    load_triage_checkpoint,
    save_triage_head,
    train_triage_head,
    vitals_features,
)

CALM = {
    "age_years": 45.0, "heart_rate": 80, "respiratory_rate": 16, "spo2": 98,
    "systolic_bp": 125, "diastolic_bp": 80, "temperature_c": 36.9, "pain": 2, "avpu": "A",
}  # fmt: skip
ONSETS = ("since this morning", "for two hours", "after lunch", "started suddenly", "since 3am")
EXTRAS = ("feels unwell", "no allergies", "came by car", "took paracetamol", "lives alone")


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def cases(n: int, seed: int) -> tuple[list[tuple[str, dict]], list[str]]:
    """ESI 2 for chest pain, 4 for a sprained ankle, and 1 for an ankle without a pulse: the
    complaint tells two levels apart, the vital signs the third."""
    rng = random.Random(seed)
    out, labels = [], []
    for i in range(n):
        label = ("2", "4", "1")[i % 3]
        complaint = "chest pain" if label == "2" else "ankle sprain"
        vitals = {**CALM, "heart_rate": rng.randint(60, 100)}
        if label == "1":
            vitals.update(heart_rate=0, respiratory_rate=0, systolic_bp=0, diastolic_bp=0)
        out.append((f"{complaint} {rng.choice(ONSETS)}, {rng.choice(EXTRAS)}", vitals))
        labels.append(label)
    return out, labels


@pytest.fixture(scope="module")
def trained() -> TriageHeadClassifier:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    clf = build_triage_head(len(TRIAGE_LABELS))
    data, labels = cases(60, seed=0)
    features = torch.tensor([vitals_features(v) for _, v in data])
    return train_triage_head(
        clf, clf.embed([c for c, _ in data]), features, labels, epochs=60, seed=0
    )


def test_vital_signs_become_numbers_with_missing_and_absent_told_apart() -> None:
    measured = vitals_features(CALM)
    missing = vitals_features({"age_years": 45.0})
    no_pulse = vitals_features({**CALM, "heart_rate": 0})
    assert len(measured) == len(missing) == len(no_pulse) == N_VITAL_FEATURES
    # Not recorded, measured and "looked for and absent" are three different inputs.
    assert measured != missing and measured != no_pulse and missing != no_pulse
    assert vitals_features({**CALM, "avpu": "u"}) != measured  # AVPU in any case
    with pytest.raises(ValueError, match="age"):
        vitals_features({"heart_rate": 80})
    with pytest.raises(ValueError, match="heart_rate"):
        vitals_features({**CALM, "heart_rate": float("nan")})


def test_the_head_learns_from_the_complaint_and_from_the_vital_signs(
    trained: TriageHeadClassifier,
) -> None:
    unseen, labels = cases(30, seed=99)
    levels = [max(p, key=lambda k: p[k]) for p in trained.classify(unseen)]
    assert sum(a == b for a, b in zip(levels, labels, strict=True)) / len(labels) >= 0.9
    # The same words, a pulseless patient: the vital signs alone make it ESI 1.
    calm, arrest = trained.classify(
        [
            ("ankle sprain after a fall", CALM),
            (
                "ankle sprain after a fall",
                {**CALM, "heart_rate": 0, "respiratory_rate": 0, "systolic_bp": 0},
            ),
        ]
    )
    assert max(calm, key=lambda k: calm[k]) == "4"
    assert max(arrest, key=lambda k: arrest[k]) == "1"


def test_the_meaning_match_pass_serves_the_head_unchanged(trained: TriageHeadClassifier) -> None:
    complaint = "crushing chest pain since an hour, sweaty. denies fever"
    # As diagnosis.triage.meaning packs it: the clauses, then the whole complaint.
    packed = packed_sentence_embeddings(
        ["crushing chest pain since an hour, sweaty", complaint], max_lengths=[64, 256]
    )
    shared = trained.classify_embedded(packed[1], CALM)
    alone = trained.classify([(complaint, CALM)])[0]
    assert shared.keys() == alone.keys()
    assert max(abs(shared[k] - alone[k]) for k in alone) < 1e-5


def test_a_checkpoint_reads_back_the_same_and_either_kind_loads(
    trained: TriageHeadClassifier, tmp_path: Path
) -> None:
    sha = save_triage_head(trained, tmp_path / "head.pt")
    again = load_triage_checkpoint(tmp_path / "head.pt", expected_sha256=sha)
    assert isinstance(again, TriageHeadClassifier)
    data, _ = cases(6, seed=5)
    assert again.classify(data) == trained.classify(data)
    assert again.temperature == trained.temperature and again.labels == trained.labels

    torch.manual_seed(0)
    text = TextClassifier(build_text_model(len(TRIAGE_LABELS)), TRIAGE_LABELS)
    text_sha = save_text_checkpoint(text, tmp_path / "text.pt")
    assert isinstance(
        load_triage_checkpoint(tmp_path / "text.pt", expected_sha256=text_sha), TextClassifier
    )
    with pytest.raises(ValueError, match="SHA-256"):
        load_triage_checkpoint(tmp_path / "head.pt", expected_sha256="0" * 64)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a MedAssist triage model"):
        load_triage_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("encoder_sha256", "0" * 64, "another all-MiniLM-L6-v2"),
        ("tokenizer_sha256", "0" * 64, "another tokenizer"),
        ("vitals_version", "vitals-v0", "another way"),
        ("complaint_tokens", 128, "another way"),
        ("hidden", None, "not a complete triage head"),
        ("labels", ["1", "2"], "not a complete triage head"),
    ],
)
def test_a_head_trained_on_other_inputs_is_refused(
    trained: TriageHeadClassifier, tmp_path: Path, field: str, value: object, message: str
) -> None:
    save_triage_head(trained, tmp_path / "head.pt")
    payload = torch.load(tmp_path / "head.pt", weights_only=True)
    assert payload["format"] == CHECKPOINT_FORMAT
    torch.save({**payload, field: value}, tmp_path / "changed.pt")
    with pytest.raises(ValueError, match=message):
        load_triage_checkpoint(tmp_path / "changed.pt")


def test_the_explanation_weighs_the_deciding_word_and_only_recorded_vital_signs(
    trained: TriageHeadClassifier,
) -> None:
    complaint = "chest pain since this morning, lives alone"
    partial = {"age_years": 50.0, "heart_rate": 95, "spo2": 97}  # nothing else recorded
    words, signs = head_word_gradients(trained, complaint, partial, target=1)  # ESI 2
    assert [w for w, _ in words] == complaint.split()
    total = sum(abs(v) for _, v in words) + sum(abs(v) for v in signs.values())
    assert total == pytest.approx(1.0)
    weight = dict(words)
    assert max(weight["chest"], weight["pain"]) > max(abs(weight["lives"]), abs(weight["alone"]))
    for unrecorded in ("respiratory_rate", "systolic_bp", "temperature_c", "pain", "avpu"):
        assert signs[unrecorded] == 0.0
    with pytest.raises(ValueError, match="target"):
        head_word_gradients(trained, complaint, partial, target=5)


def test_words_of_an_emergency_weigh_even_when_the_vital_signs_entered_look_calm() -> None:
    """Trained on notes whose vital signs alone tell the level, a head shown resting vital
    signs for half of them (the default) still reads the words: "not breathing" with calm
    numbers typed in is ESI 1, and more surely so than for a head trained without."""
    rng = random.Random(3)
    data, labels = [], []
    for i in range(60):
        if i % 2:
            absent = {"heart_rate": 0, "respiratory_rate": 0, "systolic_bp": 0, "avpu": "U"}
            data.append(
                (f"found not breathing, no pulse, {rng.choice(EXTRAS)}", {**CALM, **absent})
            )
            labels.append("1")
        else:
            data.append((f"ankle sprain {rng.choice(ONSETS)}, {rng.choice(EXTRAS)}", CALM))
            labels.append("4")
    chances = {}
    for fraction in (0.0, 0.5):
        torch.manual_seed(0)
        clf = build_triage_head(len(TRIAGE_LABELS))
        features = torch.tensor([vitals_features(v) for _, v in data])
        train_triage_head(
            clf, clf.embed([c for c, _ in data]), features, labels, epochs=30,
            resting_fraction=fraction,
        )  # fmt: skip
        chances[fraction] = clf.classify([("collapsed, not breathing, no pulse", CALM)])[0]
    assert max(chances[0.5], key=lambda k: chances[0.5][k]) == "1"
    assert chances[0.5]["1"] > chances[0.0]["1"]
    with pytest.raises(ValueError, match="resting_fraction"):
        train_triage_head(clf, torch.zeros(2, 384), torch.zeros(2, N_VITAL_FEATURES),
                          ["1", "4"], resting_fraction=1.0)  # fmt: skip
