"""High-risk situations recognised by meaning: the note's parts against each concept's
descriptions, with the pretrained MiniLM sentence encoder.

The curated phrases (:mod:`diagnosis.triage.concepts`) know the words nurses and patients
use; this catches a wording no list has ("the words come out all wrong" for a stroke). The
note is cut into its clauses (and long clauses into overlapping windows of
:data:`WINDOW_WORDS` words), a clause that opens with a negation or history cue ("denies
...", "no fever, ...", "hx MI") loses what the cue covers, and each remaining part is
embedded, with the whole note the learned head reads, in one packed pass of the frozen
encoder (never fine-tuned, so every triage champion reads the same meanings;
:func:`medassist.ml.text_model.packed_sentence_embeddings`). A part fires the concept
whose description it is most like when that similarity is at least :data:`SIMILARITY_MIN`
and beats the nearest ordinary complaint (:mod:`diagnosis.triage.concepts.ordinary`) by
:data:`MARGIN`. The rules then fire the concept as if its words had been found, quoting the part.

A learned head reads the same parts too: a small network (one hidden layer) over the note's
features (the whole note's embedding, and the element-wise maximum and mean of its parts'),
trained on the tuning half of the paraphrase set only
(``python -m tests.diagnosis.triage.paraphrases.learn``) and kept in :data:`LEARNED_PATH`
with the hash of the notes it was trained on. It fires a concept whose probability reaches
the stored threshold (chosen by cross-validation on the tuning half, for few false alarms)
and quotes the part that, read alone, is most like that concept.

The thresholds were chosen on the tuning half of the paraphrase set; docs/triage.md gives
what the match adds on the frozen half. Imports torch only when first used.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from diagnosis.triage.concepts import CONCEPTS
from diagnosis.triage.concepts.ordinary import ORDINARY_DESCRIPTIONS

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

WINDOW_WORDS = 12
WINDOW_STRIDE = 6
# Tokens of one part (a window of WINDOW_WORDS words is well under it).
PART_TOKENS = 64
SIMILARITY_MIN = 0.75
MARGIN = 0.10
# A complaint is capped (MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS); this bounds the batch anyway.
MAX_PARTS = 96
# The whole note is embedded once more, longer, for the learned head.
WHOLE_NOTE_TOKENS = 256
LEARNED_PATH = Path(__file__).resolve().parent / "concepts" / "learned.npz"

_CLAUSE = re.compile(r"[.;!?\n]+|\bbut\b|\bhowever\b", re.IGNORECASE)
_CUES_OVER_COMMAS = ("denies", "denied", "deny", "negative", "neg")
_CUES_TO_COMMA = ("no", "not", "without", "w/o", "hx", "h/o", "pmh", "pmhx", "history", "nor")


def note_parts(complaint: str) -> list[str]:
    """The parts of the note that are compared: clauses, windows of long ones, with what a
    leading negation or history cue covers left out."""
    parts: list[str] = []
    for clause in _CLAUSE.split(complaint):
        words = clause.split()
        if not words:
            continue
        first = words[0].lower().strip(",:")
        if first in _CUES_OVER_COMMAS:
            continue
        if first in _CUES_TO_COMMA:
            _, comma, rest = clause.partition(",")
            words = rest.split() if comma else []
        if len(words) <= WINDOW_WORDS:
            if words:
                parts.append(" ".join(words))
            continue
        last_start = max(0, len(words) - WINDOW_WORDS)
        starts = list(range(0, last_start + 1, WINDOW_STRIDE))
        if starts[-1] != last_start:
            starts.append(last_start)
        parts.extend(" ".join(words[i : i + WINDOW_WORDS]) for i in starts)
    return parts[:MAX_PARTS]


@functools.cache
def _table():  # type: ignore[no-untyped-def]
    """The descriptions' embeddings, once per process: (concept codes per row, concept
    embeddings, ordinary embeddings)."""
    from medassist.ml.text_model import sentence_embeddings

    codes = [c.code for c in CONCEPTS for _ in c.descriptions]
    texts = [d for c in CONCEPTS for d in c.descriptions]
    return codes, sentence_embeddings(texts), sentence_embeddings(ORDINARY_DESCRIPTIONS)


@functools.cache
def _learned():  # type: ignore[no-untyped-def]
    """The learned head (concept codes, weights, threshold), or None without its file."""
    import numpy as np
    import torch

    if not LEARNED_PATH.exists():
        logger.warning("No learned head at %s: the meaning match runs without it.", LEARNED_PATH)
        return None
    codes = {c.key: c.code for c in CONCEPTS}
    try:
        with np.load(LEARNED_PATH) as data:
            keys = [str(k) for k in data["keys"]]
            weights = {
                name: torch.from_numpy(data[name].astype("float32"))
                for name in ("w1", "b1", "w2", "b2")
            }
            threshold = float(data["threshold"])
        learned_codes = [codes[k] for k in keys]
    except (KeyError, ValueError, OSError) as exc:
        # A head of another format (the logistic regression of before 2026-12-01) or of
        # situations this version does not know: the match runs without it, never fails.
        logger.warning(
            "The learned head at %s cannot be read (%s): the meaning match runs without it. "
            "Refit it with python -m tests.diagnosis.triage.paraphrases.learn.",
            LEARNED_PATH,
            exc,
        )
        return None
    return learned_codes, weights, threshold


def head_probabilities(features, weights):  # type: ignore[no-untyped-def]
    """The learned head's probability of each concept, for one note's features or a batch
    of them (the last dimension): sigmoid(w2 . gelu(w1 . x + b1) + b2)."""
    import torch

    hidden = torch.nn.functional.gelu(features @ weights["w1"].T + weights["b1"])
    return torch.sigmoid(hidden @ weights["w2"].T + weights["b2"])


def note_features(complaint: str, parts_embedded, whole=None):  # type: ignore[no-untyped-def]
    """The learned head's input: the whole note's embedding (``whole``, embedded here when
    not given), then the element-wise maximum and mean of its parts' embeddings
    (``parts_embedded``, from :func:`note_parts`)."""
    import torch

    from medassist.ml.text_model import sentence_embeddings

    if whole is None:
        whole = sentence_embeddings([complaint], max_length=WHOLE_NOTE_TOKENS)[0]
    return torch.cat([whole, parts_embedded.max(dim=0).values, parts_embedded.mean(dim=0)])


def preload() -> None:
    """Load the encoder and embed the descriptions (the web process does it at start)."""
    _table()
    _learned()


@dataclasses.dataclass(frozen=True)
class NoteReading:
    """What one pass of the frozen encoder read in a complaint."""

    # Concept code -> the part of the complaint that reads like it.
    similar: dict[str, str]
    # The whole complaint's unit-length embedding (up to WHOLE_NOTE_TOKENS tokens), when it
    # was asked for or the learned head needed it; None otherwise.
    whole: torch.Tensor | None = None


def similar_concepts(complaint: str) -> dict[str, str]:
    """Concept code -> the part of ``complaint`` that reads like it, for each concept the
    note is like by meaning (see the module's docstring). Empty for an empty note."""
    return read_note(complaint).similar


def read_note(complaint: str, *, whole: bool = False) -> NoteReading:
    """:func:`similar_concepts` and, with ``whole``, the whole complaint's embedding from
    the same pass of the encoder: what the triage head on the frozen encoder reads
    (``medassist.ml.triage_head``), so the suggestion costs no second pass."""
    parts = note_parts(complaint)
    if not parts and not whole:
        return NoteReading({})
    from medassist.ml.text_model import packed_sentence_embeddings

    learned = _learned() if parts else None
    # The parts and, for the learned head or the triage head, the whole note: one pass.
    with_whole = whole or learned is not None
    texts = [*parts, complaint] if with_whole else parts
    lengths = [PART_TOKENS] * len(parts) + [WHOLE_NOTE_TOKENS] * with_whole
    packed = packed_sentence_embeddings(texts, max_lengths=lengths)
    embedded_whole = packed[len(parts)] if with_whole else None
    if not parts:
        return NoteReading({}, embedded_whole)
    codes, concepts, ordinary = _table()
    embedded = packed[: len(parts)]
    to_concepts = embedded @ concepts.T
    nearest_ordinary = (embedded @ ordinary.T).max(dim=1).values
    best, rows = to_concepts.max(dim=1)
    found: dict[str, tuple[float, str]] = {}
    for i, part in enumerate(parts):
        similarity = float(best[i])
        if similarity < SIMILARITY_MIN or similarity - float(nearest_ordinary[i]) < MARGIN:
            continue
        code = codes[int(rows[i])]
        if code not in found or similarity > found[code][0]:
            found[code] = (similarity, part)
    matched = {code: part for code, (_, part) in found.items()}
    if learned is not None:
        import torch

        learned_codes, weights, threshold = learned
        features = note_features(complaint, embedded, whole=embedded_whole)
        fired = torch.nonzero(head_probabilities(features, weights) >= threshold).flatten()
        if len(fired):
            # Each part read alone (as the whole note, its parts' maximum and mean).
            alone = head_probabilities(torch.cat([embedded] * 3, dim=1), weights)
            for k in fired.tolist():
                code = learned_codes[k]
                if code not in matched:
                    matched[code] = parts[int(alone[:, k].argmax())]
    return NoteReading(matched, embedded_whole)
