"""Behaviour of the MiniLM triage text classifier, its checkpoints and its explanations."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from medassist.ml.text_model import (
    TRIAGE_LABELS,
    TextClassifier,
    build_text_model,
    load_text_checkpoint,
    model_path,
    save_text_checkpoint,
    train_text_classifier,
    word_gradients,
    word_importance,
)
from medassist.ml.vitals_text import vitals_to_text

# Two classes told apart by one complaint keyword; every other word is shared filler.
COMPLAINTS = {"2": "chest pain", "4": "ankle sprain"}
ONSETS = ("since this morning", "for two hours", "after lunch", "started suddenly", "since 3am")
EXTRAS = ("feels unwell", "no allergies", "came by car", "took paracetamol", "lives alone")


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def notes(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = ("2", "4")[i % 2]
        age = rng.randint(18, 90)
        texts.append(
            f"{age}yo with {COMPLAINTS[label]} {rng.choice(ONSETS)}, {rng.choice(EXTRAS)}. "
            + vitals_to_text(hr=rng.randint(60, 110))
        )
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def pretrained() -> TextClassifier:
    torch.manual_seed(0)
    return TextClassifier(build_text_model(len(TRIAGE_LABELS)), TRIAGE_LABELS)


@pytest.fixture(scope="module")
def trained() -> TextClassifier:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    clf = TextClassifier(build_text_model(2), ["2", "4"])
    texts, labels = notes(20, seed=0)
    losses: list[float] = []
    train_text_classifier(
        clf,
        texts,
        labels,
        epochs=3,
        batch_size=10,
        lr=5e-5,
        seed=0,
        on_epoch=lambda _e, loss: losses.append(loss),
    )
    assert len(losses) == 3 and losses[-1] < losses[0]
    return clf


def test_vitals_render_as_short_text_and_impossible_values_are_refused() -> None:
    text = vitals_to_text(
        hr=120, rr=24, spo2=91, sbp=90, dbp=60, temp_c=38.5, pain=8, avpu="a", age_years=67
    )
    assert text == "HR 120 RR 24 SpO2 91% BP 90/60 T 38.5C pain 8/10 AVPU A age 67y"
    assert vitals_to_text(hr=150, age_years=0.75) == "HR 150 age 9mo"
    assert vitals_to_text() == ""
    for bad in ({"spo2": 101}, {"pain": 11}, {"avpu": "X"}, {"sbp": 120}, {"temp_c": 101.0}):
        with pytest.raises(ValueError):
            vitals_to_text(**bad)


def test_the_encoder_and_tokenizer_load_from_the_installed_package_without_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert (model_path() / "model.safetensors").is_file()
    torch.manual_seed(0)
    clf = TextClassifier(build_text_model(5), TRIAGE_LABELS)
    shipped = load_file(model_path() / "model.safetensors")
    encoder = clf.model.state_dict()
    for name in ("embeddings.word_embeddings.weight", "encoder.layer.5.output.dense.weight"):
        assert torch.equal(encoder[f"encoder.{name}"], shipped[name])
    ids = clf.preprocess(["chest pain"])["input_ids"][0].tolist()
    assert clf.tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "chest", "pain", "[SEP]"]


def test_probabilities_sum_to_one_and_batches_keep_their_order(pretrained: TextClassifier) -> None:
    texts = ["chest pain", "ankle sprain after a fall, walking with a limp", "HR 140 SpO2 85%"]
    together = pretrained.classify(texts)
    one_by_one = [pretrained.classify([t])[0] for t in texts]
    assert len(together) == 3
    for batch_item, single in zip(together, one_by_one, strict=True):
        assert list(batch_item) == list(TRIAGE_LABELS)
        assert sum(batch_item.values()) == pytest.approx(1.0, abs=1e-9)
        # Padding to the longest note in the batch must not change any note's result.
        assert batch_item == pytest.approx(single, abs=1e-4)
    assert together[0] != pytest.approx(together[1], abs=1e-4)


def test_long_notes_are_truncated_to_max_length(pretrained: TextClassifier) -> None:
    batch = pretrained.preprocess(["pain " * 500])
    assert batch["input_ids"].shape == (1, pretrained.max_length)


def test_checkpoint_round_trip_is_identical_and_tampering_is_detected(
    pretrained: TextClassifier, tmp_path: Path
) -> None:
    pretrained.temperature = 1.3
    path = tmp_path / "triage.pt"
    digest = save_text_checkpoint(pretrained, path)
    loaded = load_text_checkpoint(path, expected_sha256=digest)
    pretrained.temperature = 1.0
    assert loaded.labels == list(TRIAGE_LABELS) and loaded.temperature == 1.3
    assert loaded.max_length == pretrained.max_length
    texts = ["chest pain since this morning", "HR 88 age 40y"]
    loaded.temperature = 1.0
    assert loaded.classify(texts) == pretrained.classify(texts)
    payload = torch.load(path, weights_only=True)
    assert payload["tokenizer_path"] == str(model_path())
    assert not any("vocab" in key or "pooler" in key for key in payload["state_dict"])

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_text_checkpoint(path, expected_sha256=digest)


def test_training_on_a_few_notes_separates_the_two_complaints(trained: TextClassifier) -> None:
    texts, labels = notes(10, seed=1)
    probs = trained.classify(texts)
    predicted = [max(p, key=p.__getitem__) for p in probs]
    assert predicted == labels
    with pytest.raises(ValueError, match="unknown labels"):
        train_text_classifier(trained, texts[:2], ["2", "3"], epochs=1, batch_size=2, lr=0.0)


def test_word_importance_ranks_the_discriminative_keyword_first(trained: TextClassifier) -> None:
    text = "54yo with chest pain after lunch, lives alone. HR 72 SpO2 97% age 54y"
    weights = word_importance(trained, text)
    assert sorted(w for w, _ in weights) == sorted(text.split())
    assert sum(abs(v) for _, v in weights) == pytest.approx(1.0)
    assert [v for _, v in weights] == sorted((v for _, v in weights), reverse=True)
    top3 = {w for w, _ in weights[:3]}
    assert top3 & {"chest", "pain"}, weights
    # Explaining the other class turns the keyword's weight negative.
    against = dict(word_importance(trained, text, target=trained.labels.index("4")))
    assert min(against["chest"], against["pain"]) < 0


def test_word_importance_weighs_given_units_whole(trained: TextClassifier) -> None:
    units = ["54yo", "with", "chest", "pain", "HR 72", "SpO2 97%", "age 54y"]
    text = " ".join(units)
    weights = word_importance(trained, text, units=units)
    assert sorted(w for w, _ in weights) == sorted(units)  # "SpO2 97%" is one entry
    assert sum(abs(v) for _, v in weights) == pytest.approx(1.0)
    assert {w for w, _ in weights[:3]} & {"chest", "pain"}, weights
    with pytest.raises(ValueError, match="make up the text"):
        word_importance(trained, text, units=["chest", "pain"])
    with pytest.raises(ValueError, match="make up the text"):
        word_importance(trained, text, units=[*units, " "])


def test_vitals_clauses_join_into_the_vitals_text() -> None:
    from medassist.ml.vitals_text import vitals_clauses

    clauses = vitals_clauses(hr=120, spo2=91, sbp=90, dbp=60, avpu="a", age_years=0.5)
    assert clauses == ["HR 120", "SpO2 91%", "BP 90/60", "AVPU A", "age 6mo"]
    assert vitals_to_text(hr=120, spo2=91, sbp=90, dbp=60, avpu="a", age_years=0.5) == (
        " ".join(clauses)
    )


def test_gradient_weights_find_the_keyword_in_one_pass_and_agree_with_occlusion(
    trained: TextClassifier,
) -> None:
    units = ["54yo", "with", "chest", "pain", "after", "lunch,", "HR 72", "SpO2 97%"]
    text = " ".join(units)
    weights = word_gradients(trained, text, units=units)
    assert sorted(w for w, _ in weights) == sorted(units)
    assert sum(abs(v) for _, v in weights) == pytest.approx(1.0)
    assert [v for _, v in weights] == sorted((v for _, v in weights), reverse=True)
    assert {w for w, _ in weights[:3]} & {"chest", "pain"}, weights
    # The keyword argues for the predicted class and against the other, as by occlusion.
    other = dict(word_gradients(trained, text, target=trained.labels.index("4"), units=units))
    assert other["chest"] + other["pain"] < 0
    occlusion = dict(word_importance(trained, text, units=units))
    gradients = dict(weights)
    assert (gradients["chest"] + gradients["pain"] > 0) == (
        occlusion["chest"] + occlusion["pain"] > 0
    )
    with pytest.raises(ValueError, match="make up the text"):
        word_gradients(trained, text, units=["chest", "pain"])


def test_gradient_weights_cost_one_pass_however_long_the_note(
    trained: TextClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    forward = trained.model.encoder.forward

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return forward(*args, **kwargs)

    monkeypatch.setattr(trained.model.encoder, "forward", counted)
    long_note = " ".join(["chest pain, short of breath, sweaty and pale"] * 30)
    weights = word_gradients(trained, long_note)
    assert calls["n"] == 1
    # 240 words, far past the model's 128 tokens: those truncated away weigh exactly 0.
    assert len(weights) == 240 and sum(v == 0 for _, v in weights) >= 120


def test_packed_embeddings_equal_each_text_embedded_alone() -> None:
    """The meaning match embeds a note's parts and the whole note in one packed pass: each
    text must read as it does alone (the thresholds were chosen on texts embedded alone),
    whatever its neighbours, its own length limit, or a row boundary between them."""
    from medassist.ml.text_model import packed_sentence_embeddings, sentence_embeddings

    parts = [
        "chest pain radiating to the left arm",
        "sweaty",
        "short of breath walking to the car " * 3,
        "took aspirin at home",
    ]
    whole = ". ".join(parts) * 4
    packed = packed_sentence_embeddings([*parts, whole], max_lengths=[64] * 4 + [256])
    alone = torch.cat(
        [sentence_embeddings(parts, max_length=64), sentence_embeddings([whole], max_length=256)]
    )
    assert packed.shape == (5, 384)
    assert torch.allclose(packed, alone, atol=1e-5)
    # Rows of 40 tokens: the texts spread over several rows, padded, and still read the same.
    rows = packed_sentence_embeddings([*parts, whole], max_lengths=[64] * 4 + [256], row_tokens=40)
    assert torch.allclose(rows, alone, atol=1e-5)
    # A one-clause note is its own only part: encoded once, both read as alone.
    note = "sudden weakness of the left arm and slurred speech"
    twice = packed_sentence_embeddings([note, "sweaty", note], max_lengths=[64, 64, 128])
    assert torch.allclose(
        twice, sentence_embeddings([note, "sweaty", note], max_length=64), atol=1e-5
    )
    with pytest.raises(ValueError):
        packed_sentence_embeddings(parts, max_lengths=[64])


def test_the_inference_encoder_computes_what_the_transformers_module_computes() -> None:
    """The sentence embeddings come from plain tensor operations on the encoder's weights
    (:class:`InferenceEncoder`, faster); the hidden states must be transformers' own
    ``BertModel`` forward, float rounding aside (the meaning match's thresholds were chosen
    on those), padded or packed, and the weights themselves must not change."""
    from transformers import AutoModel

    from medassist.ml.text_model import (
        load_inference_encoder,
        load_sentence_encoder,
        load_tokenizer,
    )

    fast = load_inference_encoder()
    module = load_sentence_encoder()
    assert fast.plain and fast.encoder is module
    shipped = AutoModel.from_pretrained(str(model_path()), local_files_only=True).state_dict()
    for name, value in module.state_dict().items():
        assert torch.equal(value, shipped[name]), name

    texts = [
        "chest pain radiating to the left arm, sweaty",
        "SOB",
        "pt c/o N/V x2d, denies LOC, took paracetamol at home " * 8,
    ]
    batch = load_tokenizer()(texts, padding=True, truncation=True, max_length=256,
                             return_tensors="pt")  # fmt: skip
    real = batch["attention_mask"].bool()
    with torch.inference_mode():
        expected = module(**batch).last_hidden_state
        got = fast(batch["input_ids"], batch["attention_mask"])
    assert got.shape == expected.shape
    assert torch.allclose(got[real], expected[real], atol=1e-5)

    # Packed: two texts in one row, each with its own positions, a block-diagonal mask.
    ids = batch["input_ids"][:2, :12].reshape(1, 24)
    positions = torch.arange(12).repeat(2).unsqueeze(0)
    owner = torch.arange(24) // 12
    mask = torch.zeros((1, 1, 24, 24)).masked_fill_(
        (owner[:, None] != owner[None, :]), torch.finfo(torch.float32).min
    )
    with torch.inference_mode():
        expected = module(
            input_ids=ids, attention_mask=mask, position_ids=positions,
            token_type_ids=torch.zeros_like(ids),
        ).last_hidden_state  # fmt: skip
        got = fast(ids, mask, positions)
    assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        ({}, True),
        ({"hidden_act": "gelu_new"}, False),
        ({"is_decoder": True}, False),
        ({"position_embedding_type": "relative_key"}, False),
    ],
)
def test_an_encoder_that_is_not_a_plain_bert_runs_its_own_forward(
    change: dict[str, object], plain: bool
) -> None:
    """A small BERT built from its configuration, changed: a plain one runs the plain
    operations, anything else (another activation, a decoder's causal mask, relative
    positions) its own forward with the mask as given; either way, its own numbers."""
    from transformers import BertConfig, BertModel

    from medassist.ml.text_model import InferenceEncoder

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=40, **change,
    )  # fmt: skip
    module = BertModel(config, add_pooling_layer=False).eval()
    ids = torch.randint(1, 50, (3, 12))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    with torch.inference_mode():
        expected = module(input_ids=ids, attention_mask=mask).last_hidden_state
        fast = InferenceEncoder(module)
        got = fast(ids, mask)
    assert fast.plain is plain
    real = mask.bool()
    assert torch.allclose(got[real], expected[real], atol=1e-5)
    with pytest.raises(ValueError):
        fast(ids, mask[:, None, :])


def test_the_embeddings_are_those_of_the_transformers_module() -> None:
    """What the meaning match and the triage head read, end to end: the pooled, unit-length
    embeddings at the clause length (64 tokens) and the whole note's (256, a note longer than
    that truncated), packed or not, against the transformers module's own."""
    import torch.nn.functional as F
    from transformers import AutoModel

    from medassist.ml.text_model import (
        load_tokenizer,
        packed_sentence_embeddings,
        sentence_embeddings,
    )

    shipped = AutoModel.from_pretrained(str(model_path()), local_files_only=True).eval()
    note = "sudden weakness of the right arm, words come out wrong, " * 30  # > 256 tokens
    texts = ["chest pain radiating to the left arm", "SOB", note]

    def reference(max_length: int) -> torch.Tensor:
        batch = load_tokenizer()(texts, padding=True, truncation=True, max_length=max_length,
                                 return_tensors="pt")  # fmt: skip
        assert batch["attention_mask"].sum(dim=1).max() == max_length
        with torch.inference_mode():
            hidden = shipped(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return F.normalize((hidden * mask).sum(dim=1) / mask.sum(dim=1), dim=-1)

    for max_length in (64, 256):
        assert torch.allclose(sentence_embeddings(texts, max_length=max_length),
                              reference(max_length), atol=1e-5)  # fmt: skip
    packed = packed_sentence_embeddings(texts, max_lengths=[64, 64, 256])
    expected = torch.cat([reference(64)[:2], reference(256)[2:]])
    assert torch.allclose(packed, expected, atol=1e-5)


def test_an_encoder_built_inside_inference_mode_still_gives_gradients() -> None:
    """The transformers module's weights become views of the transposes: built inside an
    inference-mode block they must still be ordinary tensors, or the words that weighed
    (gradient x input through that module) could not be computed."""
    from transformers import BertConfig, BertModel

    from medassist.ml.text_model import InferenceEncoder

    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=64)  # fmt: skip
    module = BertModel(config, add_pooling_layer=False).eval()
    with torch.inference_mode():
        InferenceEncoder(module)
    embeddings = module.get_input_embeddings()(torch.randint(1, 50, (1, 6))).detach()
    embeddings.requires_grad_(True)
    hidden = module(inputs_embeds=embeddings).last_hidden_state
    (gradient,) = torch.autograd.grad(hidden.sum(), [embeddings])
    assert gradient.abs().sum() > 0
