"""Fit the learned head of the meaning match on the tuning half of the paraphrase set.

    .venv/bin/python -m tests.diagnosis.triage.paraphrases.learn [--features CACHE.npz]
        [--first N] [--out PATH]

Reads only ``tuning.jsonl`` (never the frozen half, which measures the result). Each note's
features are those :func:`diagnosis.triage.meaning.note_features` gives the served match
(the whole note's embedding, and the maximum and mean of its parts'). The head is one small
network for all situations (:data:`HIDDEN` GELU units between two linear layers, dropout on
its input and hidden layer, one sigmoid output per situation, positives weighted by the
square root of their rarity), trained with a fixed seed on every tuning note (or the first
``--first`` lines). The firing threshold is the lowest of :data:`THRESHOLDS` whose 5-fold
cross-validated false-alarm rate on the ``none`` notes is at most
:data:`FALSE_ALARMS_AT_MOST`. The weights, the threshold and the SHA-256 of the notes fitted
on go to ``diagnosis/triage/concepts/learned.npz`` (or ``--out``).

``--first`` fits on a prefix of the tuning half, so that a later round of notes (added at its
end) can be read by a head that never saw it: docs/triage.md gives such a reading. Embedding
the 7,500 notes takes a few minutes on a CPU, and the cross-validation (five fits) about as
long: ``--features`` keeps the features in a file for the next fit of the same notes.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from diagnosis.triage.concepts import CONCEPTS
from tests.diagnosis.triage.paraphrases.evaluate import HERE, notes

HIDDEN = 512
INPUT_DROPOUT = 0.1
HIDDEN_DROPOUT = 0.5
EPOCHS = 60
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-3
SEED = 0
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
FALSE_ALARMS_AT_MOST = 0.04
FOLDS = 5


def tuning_sha256(first: int | None = None) -> str:
    """SHA-256 of the tuning half, or of its first ``first`` lines."""
    digest = hashlib.sha256()
    with open(HERE / "tuning.jsonl", "rb") as f:
        for number, line in enumerate(f):
            if first is not None and number >= first:
                break
            digest.update(line)
    return digest.hexdigest()


def features(rows: list[dict[str, str]]) -> np.ndarray:
    from diagnosis.triage.meaning import note_features, note_parts
    from medassist.ml.text_model import sentence_embeddings

    out = []
    for row in rows:
        parts = note_parts(row["note"]) or [row["note"]]
        out.append(note_features(row["note"], sentence_embeddings(parts)).numpy())
    return np.stack(out)


def labels(rows: list[dict[str, str]], keys: list[str]) -> np.ndarray:
    y = np.zeros((len(rows), len(keys)), dtype=np.float32)
    for i, row in enumerate(rows):
        if row["concept"] != "none":
            y[i, keys.index(row["concept"])] = 1
    return y


Head = dict[str, np.ndarray]


def fit(x: np.ndarray, y: np.ndarray) -> Head:
    """The head's weights (``w1``, ``b1``, ``w2``, ``b2``), trained on ``x`` -> ``y``."""
    import torch

    torch.manual_seed(SEED)
    inputs = torch.from_numpy(x.astype(np.float32))
    targets = torch.from_numpy(y.astype(np.float32))
    hidden, output = torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.Linear(HIDDEN, y.shape[1])
    net = torch.nn.Sequential(
        torch.nn.Dropout(INPUT_DROPOUT),
        hidden,
        torch.nn.GELU(),
        torch.nn.Dropout(HIDDEN_DROPOUT),
        output,
    )
    positives = targets.sum(dim=0)
    rarity = (len(targets) - positives) / positives.clamp(min=1)
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=rarity.sqrt())
    optimiser = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    net.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(inputs))
        for start in range(0, len(inputs), BATCH):
            batch = order[start : start + BATCH]
            optimiser.zero_grad()
            loss(net(inputs[batch]), targets[batch]).backward()
            optimiser.step()
    return {
        "w1": hidden.weight.detach().numpy().copy(),
        "b1": hidden.bias.detach().numpy().copy(),
        "w2": output.weight.detach().numpy().copy(),
        "b2": output.bias.detach().numpy().copy(),
    }


def probabilities(x: np.ndarray, head: Head) -> np.ndarray:
    """What the served match computes (:func:`diagnosis.triage.meaning.head_probabilities`)."""
    import torch

    from diagnosis.triage.meaning import head_probabilities

    weights = {name: torch.from_numpy(value) for name, value in head.items()}
    return head_probabilities(torch.from_numpy(x.astype(np.float32)), weights).numpy()


def choose_threshold(x: np.ndarray, y: np.ndarray) -> tuple[float, dict[float, tuple]]:
    """The lowest threshold whose cross-validated false-alarm rate is low enough, and the
    (recall, false-alarm rate) of every threshold tried."""
    fold = np.random.default_rng(0).integers(0, FOLDS, len(x))
    p = np.zeros(y.shape)
    for f in range(FOLDS):
        head = fit(x[fold != f], y[fold != f])
        p[fold == f] = probabilities(x[fold == f], head)
    positive = y.sum(axis=1) == 1
    table = {}
    for threshold in THRESHOLDS:
        fired = p >= threshold
        recall = float(fired[y == 1].mean())
        false_alarms = float(fired[~positive].any(axis=1).mean())
        table[threshold] = (recall, false_alarms)
    chosen = min(t for t, (_, fa) in table.items() if fa <= FALSE_ALARMS_AT_MOST)
    return chosen, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", type=Path, help="a cache of the tuning notes' features")
    parser.add_argument("--first", type=int, help="fit on the first N lines of the tuning half")
    parser.add_argument("--out", type=Path, help="where to write the head (default: served)")
    args = parser.parse_args()
    from diagnosis.triage.meaning import LEARNED_PATH

    rows = notes("tuning")
    sha = tuning_sha256()
    if args.features and args.features.exists():
        cached = np.load(args.features)
        if str(cached["sha256"]) != sha:
            parser.error(f"{args.features} holds the features of other notes")
        x = cached["x"]
    else:
        x = features(rows)
        if args.features:
            np.savez_compressed(args.features, x=x, sha256=sha)
    if args.first is not None:
        if not 0 < args.first <= len(rows):
            parser.error(f"--first must be between 1 and {len(rows)}")
        rows, x, sha = rows[: args.first], x[: args.first], tuning_sha256(args.first)
    keys = [c.key for c in CONCEPTS if any(r["concept"] == c.key for r in rows)]
    y = labels(rows, keys)
    threshold, table = choose_threshold(x, y)
    for t, (recall, false_alarms) in table.items():
        mark = "  <- chosen" if t == threshold else ""
        print(
            f"threshold {t:.2f}: cross-validated recall {recall:.3f}, "
            f"false alarms {false_alarms:.3f}{mark}"
        )
    head = fit(x, y)
    out = args.out or LEARNED_PATH
    np.savez_compressed(
        out,
        keys=np.array(keys),
        **{name: value.astype(np.float32) for name, value in head.items()},
        threshold=np.float32(threshold),
        tuning_sha256=np.array(sha),
    )
    print(f"wrote {out} ({len(keys)} situations, {len(rows)} notes, threshold {threshold})")


if __name__ == "__main__":
    main()
