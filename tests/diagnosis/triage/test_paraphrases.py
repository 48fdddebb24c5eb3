"""The high-risk situations recognised on notes the concept lists were never tuned on.

The frozen half of the paraphrase set (tests/diagnosis/triage/paraphrases) was committed on
its own before the concept lists changed and is never edited: its hash is pinned here. The
figures asserted are those measured when the lists last changed (docs/triage.md); they may
rise, never fall. The goal is higher (recall >= 0.98 over the ESI 1-2 situations together,
none below 0.95): the shortfall is documented, not hidden by a weaker test.
"""

from __future__ import annotations

import hashlib

import pytest

from tests.diagnosis.triage.paraphrases.evaluate import HERE, evaluate, notes

# Words and an encoder only: the same on every database (CI's SQLite job leaves it out).
pytestmark = pytest.mark.database_free

FROZEN_SHA256 = "36bf3b93d8ee9271313767370527dfb1fec3944435eb9dfe5bf71cef26d22029"
# Measured on the frozen half with the lists of this commit (docs/triage.md).
RECALL_FLOOR = 0.916
NONE_SITUATION_BELOW = 0.81
FALSE_POSITIVES_AT_MOST = 0.13
# As served (words, meaning and the learned head), measured with the lists of this commit.
# One note of slack on what the encoder's arithmetic decides (a probability at the head's
# threshold may round the other way on another CPU).
SERVED_RECALL_FLOOR = 0.969
SERVED_NONE_SITUATION_BELOW = 0.86
SERVED_FALSE_POSITIVES_AT_MOST = 0.15


def test_the_frozen_half_is_the_one_first_committed() -> None:
    digest = hashlib.sha256((HERE / "frozen.jsonl").read_bytes()).hexdigest()

    assert digest == FROZEN_SHA256, "the frozen half is held out: it is never edited"


def test_the_frozen_half_covers_every_situation_with_22_notes() -> None:
    rows = notes("frozen")
    by_key: dict[str, int] = {}
    for row in rows:
        by_key[row["concept"]] = by_key.get(row["concept"], 0) + 1

    assert by_key.pop("none") == 200
    assert len(by_key) == 25 and set(by_key.values()) == {22}


def test_the_rules_recognise_the_situations_of_the_frozen_half() -> None:
    report = evaluate("frozen")

    assert report.recall >= RECALL_FLOOR
    assert min(report.recall_of(k) for k in report.total) >= NONE_SITUATION_BELOW
    # A situation missed by its own concept is mostly still raised to its level by another.
    assert report.raised_rate >= report.recall
    assert report.false_positive_rate <= FALSE_POSITIVES_AT_MOST


# The tuning half's first ten rounds, the eleventh and the twelfth (750 lines each, joined
# later), and the fourteenth (840 lines; the thirteenth is the fresh round).
TEN_ROUNDS = slice(None, 7500)
ELEVENTH_ROUND = slice(7500, 8250)
TWELFTH_ROUND = slice(8250, 9000)
FOURTEENTH_ROUND = slice(9000, None)


def test_the_tuning_half_is_recognised_as_tuned() -> None:
    report = evaluate("tuning", lines=TEN_ROUNDS)

    assert report.recall >= 0.98
    assert report.false_positive_rate <= 0.10


@pytest.mark.parametrize(
    ("lines", "words_floor", "words_fp", "served_floor", "served_fp"),
    [
        # The eleventh: first read 0.782 by the words, 0.891 as served; measured 503/550 and
        # 6/200, 527/550 and 13/200 (one note of slack as served).
        pytest.param(ELEVENTH_ROUND, 0.914, 0.03, 0.956, 0.07, id="eleventh"),
        # The twelfth: first read 0.875 and 0.965; measured 509/550 and 18/200, 545/550 and
        # 34/200.
        pytest.param(TWELFTH_ROUND, 0.925, 0.09, 0.989, 0.175, id="twelfth"),
        # The fourteenth: first read 573/616 and 19/224 by the words, 597/616 and 25/224 as
        # served; measured once tuned on 591/616 and 13/224, 615/616 and 19/224 (one note
        # of slack as served).
        pytest.param(FOURTEENTH_ROUND, 0.959, 0.059, 0.996, 0.09, id="fourteenth"),
    ],
)
def test_a_later_round_is_recognised_as_tuned_on(
    lines: slice, words_floor: float, words_fp: float, served_floor: float, served_fp: float
) -> None:
    """Tuned on after it was first read: the phrases that would read the rest by the words
    fired on ordinary notes and were left out, so the served match carries more of it
    (docs/triage.md)."""
    from diagnosis.triage.meaning import similar_concepts

    words = evaluate("tuning", lines=lines)
    served = evaluate("tuning", lines=lines, similar=similar_concepts)

    assert words.recall >= words_floor
    assert words.false_positive_rate <= words_fp
    assert served.recall >= served_floor
    assert served.false_positive_rate <= served_fp


def test_the_meaning_match_adds_to_the_words_and_never_takes_away() -> None:
    """The production path of a web process that runs the encoder (the pretrained MiniLM,
    loaded from the installed package)."""
    from diagnosis.triage.meaning import similar_concepts

    words = evaluate("frozen")
    with_meaning = evaluate("frozen", similar=similar_concepts)

    assert with_meaning.recall >= words.recall >= RECALL_FLOOR
    for key in words.total:
        assert with_meaning.recalled[key] >= words.recalled[key]
    assert with_meaning.recall >= SERVED_RECALL_FLOOR
    assert min(with_meaning.recall_of(k) for k in with_meaning.total) >= SERVED_NONE_SITUATION_BELOW
    assert with_meaning.false_positive_rate <= SERVED_FALSE_POSITIVES_AT_MOST


# The fresh round (fresh.jsonl, the 13th), read as written: the head never saw it, the lists
# were not fitted to it (docs/triage.md).
FRESH_RECALL_FLOOR = 0.923  # 508/550 measured (504 first read)
FRESH_FALSE_POSITIVES_AT_MOST = 0.11  # 22/200 measured
FRESH_SERVED_RECALL_FLOOR = 0.96  # 529/550 measured, one note of slack as above
FRESH_SERVED_FALSE_POSITIVES_AT_MOST = 0.195  # 38/200 measured, one note of slack


def test_the_fresh_round_is_recognised_as_first_read() -> None:
    """A second measure on notes nothing was fitted to: a change to the lists or the head
    that reads them worse is a regression, as on the frozen half."""
    from diagnosis.triage.meaning import similar_concepts

    rows = notes("fresh")
    assert len(rows) == 750 and sum(row["concept"] == "none" for row in rows) == 200
    words = evaluate("fresh")
    served = evaluate("fresh", similar=similar_concepts)

    assert words.recall >= FRESH_RECALL_FLOOR
    assert words.false_positive_rate <= FRESH_FALSE_POSITIVES_AT_MOST
    assert served.recall >= FRESH_SERVED_RECALL_FLOOR
    assert served.false_positive_rate <= FRESH_SERVED_FALSE_POSITIVES_AT_MOST


def test_the_learned_head_was_fitted_on_the_tuning_half_alone() -> None:
    """Its file names the notes it was fitted on: the tuning half as committed, or its first
    lines (rounds of notes are added at its end; see docs/triage.md for the round the served
    head has not been refitted on), never the frozen half that measures it (refit with
    ``python -m tests.diagnosis.triage.paraphrases.learn``)."""
    import numpy as np

    from diagnosis.triage.meaning import LEARNED_PATH

    digest, prefixes = hashlib.sha256(), set()
    with open(HERE / "tuning.jsonl", "rb") as f:
        for line in f:
            digest.update(line)
            prefixes.add(digest.hexdigest())
    with np.load(LEARNED_PATH) as learned:
        assert str(learned["tuning_sha256"]) in prefixes
        assert str(learned["tuning_sha256"]) != FROZEN_SHA256
        situations = {str(k) for k in learned["keys"]}
        hidden = learned["w1"].shape[0]
        assert learned["w1"].shape == (hidden, 3 * 384)
        assert learned["b1"].shape == (hidden,)
        assert learned["w2"].shape == (len(situations), hidden)
        assert learned["b2"].shape == (len(situations),)
        assert 0.5 <= float(learned["threshold"]) < 1
    assert situations == {row["concept"] for row in notes("frozen")} - {"none"}


def test_a_learned_head_of_another_format_is_left_out_not_a_failure(
    tmp_path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A head file from before the network (one weight row per situation) or naming a
    situation this version does not know: the words and the similarity still read the
    note, and the log says what to do."""
    import numpy as np

    from diagnosis.triage import meaning

    old_format = tmp_path / "learned.npz"
    np.savez(
        old_format,
        keys=np.array(["acs"]),
        weights=np.zeros((1, 3 * 384), np.float32),
        bias=np.zeros(1, np.float32),
        threshold=np.float32(0.98),
    )
    monkeypatch.setattr(meaning, "LEARNED_PATH", old_format)
    meaning._learned.cache_clear()
    try:
        found = meaning.similar_concepts("crushing chest pain going into the left arm, sweaty")
        assert meaning._learned() is None
    finally:
        meaning._learned.cache_clear()
    assert isinstance(found, dict)
    assert "cannot be read" in caplog.text
