"""The SYNTHETIC triage notes the triage model trains and is measured on.

Pure Python, no database. The held-out test set is a frozen test set: its fingerprint is
pinned here, so changing it (templates, phrasing, sampling) is a deliberate, visible act.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import re

import pytest

from diagnosis.triage.rules import AGE_BANDS, ESI_LEVELS, age_band, esi_rules
from diagnosis.triage.synthetic import (
    TEMPLATES,
    TEST_SET_SIZE,
    SyntheticNote,
    generate_notes,
    held_out_test_set,
)

TEMPLATE_LEVEL = {t.name: t.level for t in TEMPLATES}
# SHA-256 over the frozen test set's inputs (complaints and vitals).
HELD_OUT_FINGERPRINT = "b2aa35fe4eb4d5aba488c783d1df2b4c4188f7454ed4e0809a333ca5d8102b4b"


def fingerprint(notes: list[SyntheticNote]) -> str:
    digest = hashlib.sha256()
    for note in notes:
        digest.update(repr((note.complaint, dataclasses.astuple(note.vitals))).encode())
    return digest.hexdigest()


def test_the_same_seed_gives_the_same_notes_and_another_seed_other_notes() -> None:
    assert generate_notes(60, seed=7) == generate_notes(60, seed=7)
    assert generate_notes(60, seed=7) != generate_notes(60, seed=8)
    assert generate_notes(0, seed=7) == []


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="n must be"):
        generate_notes(-1, seed=0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_20_notes_cover_every_esi_level_and_every_age_band(seed: int) -> None:
    notes = generate_notes(20, seed=seed)

    assert {n.esi_level for n in notes} == set(ESI_LEVELS)
    assert {n.age_band for n in notes} == set(AGE_BANDS)


def test_levels_are_roughly_balanced() -> None:
    counts = collections.Counter(n.esi_level for n in generate_notes(500, seed=3))

    assert set(counts) == set(ESI_LEVELS)
    assert all(80 <= count <= 120 for count in counts.values()), counts


def test_the_age_band_matches_the_age_in_the_vitals() -> None:
    for note in generate_notes(200, seed=4):
        assert note.age_band == age_band(note.vitals.age_years)


def test_notes_read_like_nurses_write_with_abbreviations() -> None:
    text = "\n".join(n.complaint for n in generate_notes(1000, seed=5))

    for abbreviation in ("SOB", "CP", "N/V", "LOC", "abd pain", "hx", "y/o", "c/o"):
        assert re.search(rf"(?<![\w/]){re.escape(abbreviation)}(?![\w/])", text, re.I), abbreviation


def test_some_notes_carry_a_seeded_spelling_slip() -> None:
    """A word no template, history or age prefix contains can only be a slip."""
    vocabulary: set[str] = set()
    for template in TEMPLATES:
        for phrase in template.train + template.test:
            vocabulary.update(re.findall(r"[a-z]+", phrase.lower()))
    long_forms = "shortness of breath chest pain nausea and vomiting loss of consciousness"
    histories = "abdominal history hx htn asthma pmh dm no nkda high cholesterol eczema"
    prefixes = "presents day old wk boy girl male female yo"
    vocabulary.update(f"{long_forms} {histories} {prefixes}".split(" "))
    notes = generate_notes(600, seed=6)
    slipped = [
        n
        for n in notes
        if any(
            w not in vocabulary and len(w) >= 4 for w in re.findall(r"[a-z]+", n.complaint.lower())
        )
    ]

    assert 0.05 <= len(slipped) / len(notes) <= 0.35
    assert generate_notes(600, seed=6) == notes  # the slips are seeded too


@pytest.mark.parametrize("notes", [generate_notes(300, seed=9), held_out_test_set()])
def test_labels_are_the_template_level_raised_by_the_hard_rules(notes: list[SyntheticNote]) -> None:
    for note in notes:
        floor = esi_rules(complaint=note.complaint, vitals=note.vitals).floor
        expected = TEMPLATE_LEVEL[note.template]
        if floor is not None:
            expected = min(expected, floor)
        assert note.esi_level == expected, note


def test_notes_labelled_3_to_5_have_no_danger_zone_vitals() -> None:
    """Otherwise the model would learn ESI 5 for a tachycardic child."""
    for note in generate_notes(400, seed=10):
        if note.esi_level >= 3:
            rules = esi_rules(complaint=note.complaint, vitals=note.vitals)
            assert rules.considered is None, note


def test_every_note_is_marked_synthetic() -> None:
    assert all(n.synthetic for n in generate_notes(100, seed=11))
    assert all(n.synthetic for n in held_out_test_set())


def test_the_held_out_test_set_is_fixed_and_covers_every_level_and_band() -> None:
    test_set = held_out_test_set()

    assert len(test_set) == TEST_SET_SIZE
    assert test_set == held_out_test_set()
    assert {n.esi_level for n in test_set} == set(ESI_LEVELS)
    assert {n.age_band for n in test_set} == set(AGE_BANDS)


def test_the_held_out_test_set_is_frozen() -> None:
    assert fingerprint(held_out_test_set()) == HELD_OUT_FINGERPRINT


def test_training_and_test_phrasings_never_overlap() -> None:
    train = {p.lower() for t in TEMPLATES for p in t.train}
    test = {p.lower() for t in TEMPLATES for p in t.test}

    assert train.isdisjoint(test)
    assert all(t.train and t.test for t in TEMPLATES)


def test_no_test_complaint_appears_in_training_notes_of_seeds_0_to_99() -> None:
    test_complaints = {n.complaint.lower() for n in held_out_test_set()}

    for seed in range(100):
        training = {n.complaint.lower() for n in generate_notes(300, seed=seed)}
        assert test_complaints.isdisjoint(training), seed


def test_reference_labels_come_from_the_handbook_not_from_the_product_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A test set labelled by the product's own rules would measure the rules against
    themselves: the generator labels each case from what it drew, and never asks them."""
    import diagnosis.triage.rules as rules
    import diagnosis.triage.synthetic as synthetic

    def refuse(**kwargs: object) -> None:
        raise AssertionError("the generator asked the product's rules for a label")

    monkeypatch.setattr(rules, "esi_rules", refuse)
    templates = {t.name: t for t in synthetic.TEMPLATES}
    for note in synthetic._generate(200, seed=3, split="test"):
        assert note.esi_level == synthetic.handbook_level(templates[note.template], note.vitals)
