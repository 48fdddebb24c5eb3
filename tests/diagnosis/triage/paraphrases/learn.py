"""Fit the learned head of the meaning match on the tuning half of the paraphrase set.

    .venv/bin/python -m tests.diagnosis.triage.paraphrases.learn [--features CACHE.npz]

Reads only ``tuning.jsonl`` (never the frozen half, which measures the result). Each note's
features are those :func:`diagnosis.triage.meaning.note_features` gives the served match
(the whole note's embedding, and the maximum and mean of its parts'). One logistic
regression per situation (scikit-learn, a development dependency; class-balanced, C=10) is
fitted on every tuning note; the firing threshold is the lowest of :data:`THRESHOLDS` whose
5-fold cross-validated false-alarm rate on the tuning half's ``none`` notes is at most
:data:`FALSE_ALARMS_AT_MOST`. The weights, the threshold and the SHA-256 of the notes go to
``diagnosis/triage/concepts/learned.npz``. Embedding the 4,500 notes takes minutes on a CPU:
``--features`` keeps them in a file for the next fit of the same notes.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from diagnosis.triage.concepts import CONCEPTS
from tests.diagnosis.triage.paraphrases.evaluate import HERE, notes

C = 10.0
THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
FALSE_ALARMS_AT_MOST = 0.04
FOLDS = 5


def tuning_sha256() -> str:
    return hashlib.sha256((HERE / "tuning.jsonl").read_bytes()).hexdigest()


def features(rows: list[dict[str, str]]) -> np.ndarray:
    from diagnosis.triage.meaning import note_features, note_parts
    from medassist.ml.text_model import sentence_embeddings

    out = []
    for row in rows:
        parts = note_parts(row["note"]) or [row["note"]]
        out.append(note_features(row["note"], sentence_embeddings(parts)).numpy())
    return np.stack(out)


def labels(rows: list[dict[str, str]], keys: list[str]) -> np.ndarray:
    y = np.zeros((len(rows), len(keys)), dtype=np.int64)
    for i, row in enumerate(rows):
        if row["concept"] != "none":
            y[i, keys.index(row["concept"])] = 1
    return y


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    weights, bias = [], []
    for k in range(y.shape[1]):
        model = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(x, y[:, k])
        weights.append(model.coef_[0])
        bias.append(model.intercept_[0])
    return np.array(weights), np.array(bias)


def probabilities(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ weights.T + bias)))


def choose_threshold(x: np.ndarray, y: np.ndarray) -> tuple[float, dict[float, tuple]]:
    """The lowest threshold whose cross-validated false-alarm rate is low enough, and the
    (recall, false-alarm rate) of every threshold tried."""
    fold = np.random.default_rng(0).integers(0, FOLDS, len(x))
    p = np.zeros(y.shape)
    for f in range(FOLDS):
        weights, bias = fit(x[fold != f], y[fold != f])
        p[fold == f] = probabilities(x[fold == f], weights, bias)
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
    args = parser.parse_args()
    from diagnosis.triage.meaning import LEARNED_PATH

    rows = notes("tuning")
    sha = tuning_sha256()
    keys = [c.key for c in CONCEPTS if any(r["concept"] == c.key for r in rows)]
    if args.features and args.features.exists():
        cached = np.load(args.features)
        if str(cached["sha256"]) != sha:
            parser.error(f"{args.features} holds the features of other notes")
        x = cached["x"]
    else:
        x = features(rows)
        if args.features:
            np.savez_compressed(args.features, x=x, sha256=sha)
    y = labels(rows, keys)
    threshold, table = choose_threshold(x, y)
    for t, (recall, false_alarms) in table.items():
        mark = "  <- chosen" if t == threshold else ""
        print(
            f"threshold {t:.2f}: cross-validated recall {recall:.3f}, "
            f"false alarms {false_alarms:.3f}{mark}"
        )
    weights, bias = fit(x, y)
    np.savez_compressed(
        LEARNED_PATH,
        keys=np.array(keys),
        weights=weights.astype(np.float32),
        bias=bias.astype(np.float32),
        threshold=np.float32(threshold),
        c=np.float32(C),
        tuning_sha256=np.array(sha),
    )
    print(f"wrote {LEARNED_PATH} ({len(keys)} situations, threshold {threshold})")


if __name__ == "__main__":
    main()
