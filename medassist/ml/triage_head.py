"""The triage model that reads the note with the meaning match's own encoder pass.

The fine-tuned text model (:mod:`medassist.ml.text_model`) reads the complaint and the vital
signs written as text with an encoder of its own, a second pass per suggestion after the
frozen pretrained encoder has read the complaint for the high-risk concepts
(``diagnosis.triage.meaning``). This one reads what that pass already computed: the
unit-length embedding of the whole complaint by the frozen all-MiniLM-L6-v2 (never
fine-tuned), with the vital signs as numbers (:func:`vitals_features`), through a small head
(``Linear -> GELU -> Linear``). Serving it costs the head alone, and training it one pass of
the encoder per note and a few seconds of head training, where fine-tuning took minutes.

Its explanation is gradient x input through the same frozen encoder for the complaint's
words, and gradient x (value - a resting adult's value) for each vital sign: one forward and
one backward pass.

The encoder weights and the tokenizer are the installed package's; a checkpoint records the
SHA-256 of both and is refused when the installed ones differ (the head's inputs would mean
something else). Like the rest of :mod:`medassist.ml`, nothing here imports Django.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from medassist.ml.checkpoints import read_checked, write_atomically
from medassist.ml.checkpoints import sha256_file as _sha256_file
from medassist.ml.labels import class_targets
from medassist.ml.text_model import ARCH as ENCODER_ARCH
from medassist.ml.text_model import CHECKPOINT_FORMAT as TEXT_CHECKPOINT_FORMAT
from medassist.ml.text_model import (
    TextClassifier,
    load_sentence_encoder,
    load_tokenizer,
    model_path,
    sentence_embeddings,
    text_classifier_from,
    tokenizer_sha256,
)

CHECKPOINT_FORMAT = "medassist.triage_head.v1"
ARCH = f"frozen {ENCODER_ARCH} + vital signs head"
# The whole complaint is embedded up to this many tokens, as the meaning match embeds it
# (diagnosis.triage.meaning.WHOLE_NOTE_TOKENS), so its pass serves this model unchanged.
COMPLAINT_TOKENS = 256
EMBEDDING_WIDTH = 384
VITALS_VERSION = "vitals-v1"

# Each vital sign's features, in order: (name, width). A measured value is scaled to about
# 0-1 by the range in _RANGES and flagged present; a missing one is 0 and flagged missing;
# 0 of a rate or pressure ("looked for and absent") also sets its own flag.
_RANGES = {
    "heart_rate": (0.0, 200.0),
    "respiratory_rate": (0.0, 60.0),
    "spo2": (70.0, 100.0),
    "systolic_bp": (40.0, 200.0),
    "diastolic_bp": (20.0, 120.0),
    "temperature_c": (34.0, 41.0),
    "pain": (0.0, 10.0),
    "gcs": (3.0, 15.0),
}
_ABSENT_FLAG = ("heart_rate", "respiratory_rate", "spo2", "systolic_bp")
_AVPU = ("A", "V", "P", "U")
VITAL_GROUPS: tuple[tuple[str, int], ...] = (
    ("age_years", 5),
    *((name, 2 + (name in _ABSENT_FLAG)) for name in _RANGES),
    ("avpu", 5),
)
N_VITAL_FEATURES = sum(width for _, width in VITAL_GROUPS)
# The explanation's baseline: a resting adult, fully alert, without pain.
REFERENCE_VITALS: dict[str, Any] = {
    "age_years": 40.0,
    "heart_rate": 80,
    "respiratory_rate": 16,
    "spo2": 98,
    "systolic_bp": 120,
    "diastolic_bp": 80,
    "temperature_c": 37.0,
    "pain": 0,
    "gcs": 15,
    "avpu": "A",
}


def vitals_features(vitals: Mapping[str, Any]) -> list[float]:
    """The vital signs as the head's numbers (:data:`N_VITAL_FEATURES` of them).

    ``vitals`` has the keys of ``diagnosis.triage.rules.Vitals`` (``age_years``,
    ``heart_rate``, ``respiratory_rate``, ``spo2``, ``systolic_bp``, ``diastolic_bp``,
    ``temperature_c``, ``pain``, ``avpu``, ``gcs``); a missing key or None is "not recorded",
    and 0 of a rate, SpO2 or systolic pressure is "looked for and absent".

    Raises:
        ValueError: no age, or a value that is not a finite number.
    """
    age = vitals.get("age_years")
    if age is None or not math.isfinite(float(age)) or float(age) < 0:
        raise ValueError(f"the vital signs need an age in years, got {age!r}")
    age = float(age)
    out = [math.log1p(age) / 5.0, float(age < 1), float(age < 3), float(age < 8), float(age >= 65)]
    for name, (low, high) in _RANGES.items():
        value = vitals.get(name)
        if value is None:
            out += [0.0, 1.0]
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            out += [(value - low) / (high - low), 0.0]
        if name in _ABSENT_FLAG:
            absent = value is not None and float(value) == 0.0
            if absent:  # a finding of its own, not a value far below the range
                out[-2] = 0.0
            out.append(float(absent))
    avpu = (vitals.get("avpu") or "").upper()
    out += [float(avpu == level) for level in _AVPU] + [float(not avpu)]
    return out


@functools.cache
def encoder_sha256() -> str:
    """Hex SHA-256 of the installed encoder's weights file (what the head's inputs mean)."""
    return _sha256_file(model_path() / "model.safetensors")


class TriageHead(torch.nn.Module):
    """``[complaint embedding (384), vital signs] -> Linear(hidden) -> GELU -> dropout ->
    Linear(K)``; ``hidden=0`` is a single linear layer."""

    def __init__(self, num_labels: int, *, hidden: int = 256, dropout: float = 0.1):
        super().__init__()
        width = EMBEDDING_WIDTH + N_VITAL_FEATURES
        self.hidden = int(hidden)
        if hidden:
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(width, hidden),
                torch.nn.GELU(),
                torch.nn.Dropout(dropout),
                torch.nn.Linear(hidden, num_labels),
            )
        else:
            self.layers = torch.nn.Sequential(torch.nn.Linear(width, num_labels))

    def forward(self, embedding: torch.Tensor, vitals: torch.Tensor) -> torch.Tensor:
        return self.layers(torch.cat([embedding, vitals], dim=1))


class TriageHeadClassifier:
    """The head, its labels and calibration; reads ``(complaint, vitals)`` cases."""

    kind = "frozen-encoder"
    max_length = COMPLAINT_TOKENS

    def __init__(self, model: TriageHead, labels: Sequence[str], *, temperature: float = 1.0):
        """Raises:
        ValueError: duplicate or fewer than 2 labels, or a non-positive temperature."""
        labels = list(labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError("labels must be at least 2 distinct names")
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.model = model
        self.labels: list[str] = labels
        self.temperature = float(temperature)

    @staticmethod
    def embed(complaints: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """The complaints' embeddings ``(N, 384)`` by the frozen encoder, as the meaning
        match computes them for the whole note."""
        chunks = [
            sentence_embeddings(complaints[i : i + batch_size], max_length=COMPLAINT_TOKENS)
            for i in range(0, len(complaints), batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.zeros(0, EMBEDDING_WIDTH)

    def head_logits(self, embeddings: torch.Tensor, vitals: torch.Tensor) -> torch.Tensor:
        """Uncalibrated float32 logits ``(N, K)`` from embeddings and vital-sign features."""
        self.model.eval()
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            logits = self.model(embeddings.float().to(device), vitals.float().to(device))
            return logits.float().cpu()

    def logits(
        self, cases: Sequence[tuple[str, Mapping[str, Any]]], *, batch_size: int = 64
    ) -> torch.Tensor:
        """Uncalibrated float32 ``(N, K)`` logits of ``(complaint, vitals)`` cases."""
        if not cases:
            return torch.zeros(0, len(self.labels))
        embeddings = self.embed([c for c, _ in cases], batch_size=batch_size)
        vitals = torch.tensor([vitals_features(v) for _, v in cases], dtype=torch.float32)
        return self.head_logits(embeddings, vitals)

    def postprocess(self, logits: torch.Tensor) -> list[dict[str, float]]:
        """Calibrated probabilities ``softmax(logits / temperature)``, one dict per case."""
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ValueError(f"expected (N, {len(self.labels)}) logits, got {tuple(logits.shape)}")
        probs = torch.softmax(logits.detach().cpu().double() / self.temperature, dim=1)
        return [dict(zip(self.labels, row, strict=True)) for row in probs.tolist()]

    def classify(
        self, cases: Sequence[tuple[str, Mapping[str, Any]]], *, batch_size: int = 64
    ) -> list[dict[str, float]]:
        """Probabilities for each ``(complaint, vitals)`` case, in order."""
        return self.postprocess(self.logits(cases, batch_size=batch_size))

    def classify_embedded(
        self, embedding: torch.Tensor, vitals: Mapping[str, Any]
    ) -> dict[str, float]:
        """The probabilities of one case whose complaint is already embedded (``(384,)``,
        by the meaning match's pass): the head alone runs."""
        features = torch.tensor([vitals_features(vitals)], dtype=torch.float32)
        return self.postprocess(self.head_logits(embedding.reshape(1, -1), features))[0]


def build_triage_head(num_labels: int, *, hidden: int = 256) -> TriageHeadClassifier:
    """A fresh head (weights from torch's global RNG: seed it for a deterministic model)."""
    if num_labels < 2:
        raise ValueError("a classifier needs at least 2 labels")
    return TriageHeadClassifier(
        TriageHead(num_labels, hidden=hidden).eval(), [str(i + 1) for i in range(num_labels)]
    )


def train_triage_head(
    clf: TriageHeadClassifier,
    embeddings: torch.Tensor,
    vitals: torch.Tensor,
    labels: Sequence[str],
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 3e-3,
    weight_decay: float = 1e-3,
    seed: int = 0,
    resting_fraction: float = 0.5,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TriageHeadClassifier:
    """Train the head in place on precomputed embeddings and vital-sign features; return
    ``clf`` in eval mode.

    AdamW, cross-entropy weighted by inverse class frequency (as the text model),
    deterministic for a given ``seed`` on the same hardware and thread count. In each batch
    a ``resting_fraction`` of the notes is shown with :data:`REFERENCE_VITALS` (a resting
    adult's) instead of their own vital signs, their label kept: trained on notes whose
    vital signs alone tell the level, a head learns to lean on them and reads little in the
    words (on the paraphrase set's tuning half, read with resting vital signs, the ESI 1
    situations reached ESI 1 in 0.16 of notes without this and 0.47 with 0.5;
    docs/triage.md). The words of a high-risk situation then say what they say even when the
    vital signs entered look calm.

    Raises:
        ValueError: lengths differ, fewer than 2 cases, an unknown label, epochs < 1 or
            batch_size < 1.
    """
    names = list(labels)
    n = len(names)
    if n < 2 or embeddings.shape[0] != n or vitals.shape[0] != n:
        raise ValueError("embeddings, vitals and labels must have the same length, at least 2")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    y, weights = class_targets(names, clf.labels)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = clf.model
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if not 0.0 <= resting_fraction < 1.0:
        raise ValueError(f"resting_fraction must be in [0, 1), got {resting_fraction}")
    x_embedding, x_vitals = embeddings.float(), vitals.float()
    resting = torch.tensor([vitals_features(REFERENCE_VITALS)], dtype=torch.float32)
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            total = 0.0
            for idx in torch.randperm(n, generator=generator).split(batch_size):
                shown = x_vitals[idx].clone()
                calm = torch.rand(len(idx), generator=generator) < resting_fraction
                shown[calm] = resting
                loss = F.cross_entropy(model(x_embedding[idx], shown), y[idx], weight=weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            if on_epoch is not None:
                model.eval()
                on_epoch(epoch, total / n)
    finally:
        model.eval()
    return clf


def save_triage_head(clf: TriageHeadClassifier, path: Path) -> str:
    """Write ``clf`` to ``path`` atomically and return the file's hex SHA-256 (tensors and
    plain values only: ``torch.load(weights_only=True)`` reads it)."""
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "arch": ARCH,
        "state_dict": {k: v.detach().cpu() for k, v in clf.model.state_dict().items()},
        "hidden": clf.model.hidden,
        "labels": list(clf.labels),
        "temperature": float(clf.temperature),
        "vitals_version": VITALS_VERSION,
        "n_vital_features": N_VITAL_FEATURES,
        "complaint_tokens": COMPLAINT_TOKENS,
        "tokenizer_sha256": tokenizer_sha256(),
        "encoder_sha256": encoder_sha256(),
    }
    return write_atomically(payload, Path(path))


def triage_head_from(payload: Mapping[str, Any], *, name: str) -> TriageHeadClassifier:
    """The classifier of a loaded :func:`save_triage_head` payload (``name`` for messages).

    Raises:
        ValueError: another encoder, tokenizer or vital-sign encoding than the installed
            code's (the head would read inputs that mean something else).
    """
    if payload.get("encoder_sha256") != encoder_sha256():
        raise ValueError(
            f"{name} was trained on another {ENCODER_ARCH} than the installed package's"
        )
    if payload.get("tokenizer_sha256") != tokenizer_sha256():
        raise ValueError(f"{name} was trained with another tokenizer than the installed one")
    if (
        payload.get("vitals_version") != VITALS_VERSION
        or int(payload.get("n_vital_features", -1)) != N_VITAL_FEATURES
        or int(payload.get("complaint_tokens", -1)) != COMPLAINT_TOKENS
    ):
        raise ValueError(f"{name} reads its inputs another way than this code version")
    try:
        labels = list(payload["labels"])
        model = TriageHead(len(labels), hidden=int(payload["hidden"]))
        model.load_state_dict(payload["state_dict"], strict=True)
        return TriageHeadClassifier(model.eval(), labels, temperature=float(payload["temperature"]))
    except (KeyError, TypeError, RuntimeError) as exc:  # a missing key, wrong shapes
        raise ValueError(f"{name} is not a complete triage head checkpoint: {exc}") from exc


def head_word_gradients(
    clf: TriageHeadClassifier,
    complaint: str,
    vitals: Mapping[str, Any],
    *,
    target: int | None = None,
) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """How much each word of ``complaint`` and each vital sign weighed towards ``target``.

    One forward and one backward pass through the frozen encoder and the head: for a word,
    gradient x input embedding of its word pieces (summed); for a vital sign, gradient x
    (its features - :data:`REFERENCE_VITALS`'), so a normal value weighs about nothing and
    one not recorded nothing at all.
    Signs: positive argued for the target. The words' and the vital signs' raw weights are
    divided together by the sum of their absolute values (all zeros if nothing matters).
    Words past :data:`COMPLAINT_TOKENS` tokens weigh 0.

    Returns:
        ``(word, weight)`` for each whitespace-separated word of the complaint, in order,
        and the weight of each vital sign by its key in :data:`REFERENCE_VITALS` (recorded
        or not).

    Raises:
        ValueError: ``target`` out of range.
    """
    if target is not None and not 0 <= target < len(clf.labels):
        raise ValueError(f"target must be in [0, {len(clf.labels)}), got {target}")
    words = complaint.split()
    joined = " ".join(words)
    spans, start = [], 0
    for word in words:
        spans.append((start, start + len(word)))
        start += len(word) + 1
    tokenizer = load_tokenizer()
    encoder = load_sentence_encoder()
    encoded = tokenizer(
        [joined],
        truncation=True,
        max_length=COMPLAINT_TOKENS,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = encoded.pop("offset_mapping")[0].tolist()
    embeddings = encoder.get_input_embeddings()(encoded["input_ids"]).detach()
    embeddings.requires_grad_(True)
    features = torch.tensor([vitals_features(vitals)], dtype=torch.float32, requires_grad=True)
    # The baseline keeps what was not recorded unrecorded: only a measured sign can weigh.
    baseline = {
        name: (value if vitals.get(name) is not None else None)
        for name, value in REFERENCE_VITALS.items()
    }
    baseline["age_years"] = REFERENCE_VITALS["age_years"]
    reference = torch.tensor([vitals_features(baseline)], dtype=torch.float32)
    clf.model.eval()
    device = next(clf.model.parameters()).device
    with torch.enable_grad():
        hidden = encoder(
            inputs_embeds=embeddings,
            attention_mask=encoded["attention_mask"],
            token_type_ids=encoded["token_type_ids"],
        ).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = F.normalize((hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9), dim=-1)
        # The encoder is on the CPU; the head wherever the web process put it.
        logits = clf.model(pooled.to(device), features.to(device)).double()[0].cpu()
        logits = logits / clf.temperature
        t = int(logits.argmax()) if target is None else int(target)
        log_p = torch.log_softmax(logits, dim=0)
        others = torch.cat([log_p[:t], log_p[t + 1 :]]).logsumexp(dim=0)
        # Gradients of the inputs only: nothing accumulates on the served model's weights.
        token_grad, feature_grad = torch.autograd.grad(log_p[t] - others, [embeddings, features])
    per_token = (token_grad * embeddings).sum(dim=-1)[0].detach().double().tolist()
    word_raw = [0.0] * len(words)
    for (a, b), value in zip(offsets, per_token, strict=True):
        if a == b:  # [CLS], [SEP]
            continue
        for i, (start_, end) in enumerate(spans):
            if start_ <= a < end:
                word_raw[i] += value
                break
    per_feature = (feature_grad * (features.detach() - reference))[0].double().tolist()
    vital_raw: dict[str, float] = {}
    at = 0
    for name, width in VITAL_GROUPS:
        vital_raw[name] = sum(per_feature[at : at + width])
        at += width
    scale = sum(abs(v) for v in word_raw) + sum(abs(v) for v in vital_raw.values())
    if scale <= 0:
        return [(w, 0.0) for w in words], dict.fromkeys(vital_raw, 0.0)
    return (
        [(w, v / scale) for w, v in zip(words, word_raw, strict=True)],
        {name: v / scale for name, v in vital_raw.items()},
    )


def load_triage_checkpoint(
    path: Path, *, expected_sha256: str | None = None
) -> TextClassifier | TriageHeadClassifier:
    """A triage checkpoint of either kind, on the CPU, in eval mode: the fine-tuned text
    model (:func:`medassist.ml.text_model.save_text_checkpoint`) or this head.

    Raises:
        ValueError: the SHA-256 differs from ``expected_sha256`` (checked before unpickling),
            the file is neither kind, or it was trained on other inputs (see
            :func:`triage_head_from` and :func:`medassist.ml.text_model.text_classifier_from`).
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    payload = read_checked(path, expected_sha256=expected_sha256)
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind == CHECKPOINT_FORMAT:
        return triage_head_from(payload, name=path.name)
    if kind == TEXT_CHECKPOINT_FORMAT:
        return text_classifier_from(payload, name=path.name)
    raise ValueError(f"{path.name} is not a MedAssist triage model checkpoint")
