"""The high-risk situations of ESI v4 decision points A and B, as curated concepts.

Each :class:`Concept` is one situation of the handbook (cardiac arrest, stroke, ectopic
pregnancy ...) with the words nurses and patients use for it: synonyms, abbreviations
(``CP``, ``SOB``, ``LOC``), lay words ("face went lopsided"), and the combinations of
findings that make it ("pregnant" with "pelvic pain"). Phrases are read by the rules' note
reader (:class:`diagnosis.triage.rules._Note`): lower case, stems (``vomit*``), one-letter
slips in long words, and negation or history cues ("denies CP", "hx CVA") with a short scope.

The lists live in one module per group of situations; this package joins them. They were
tuned on the tuning half of the paraphrase set (tests/diagnosis/triage/paraphrases) and are
measured on its frozen half, which they never saw. A concept's ``descriptions`` feed the
meaning-based match (:mod:`diagnosis.triage.meaning`), which catches wordings no list has.

This package imports no Django and no torch.
"""

from __future__ import annotations

from diagnosis.triage.concepts import breathing, cardiovascular, medical, surgical
from diagnosis.triage.concepts.base import Concept

CONCEPTS: tuple[Concept, ...] = (
    *breathing.CONCEPTS,
    *cardiovascular.CONCEPTS,
    *medical.CONCEPTS,
    *surgical.CONCEPTS,
)
BY_CODE: dict[str, Concept] = {c.code: c for c in CONCEPTS}
BY_KEY: dict[str, Concept] = {c.key: c for c in CONCEPTS if c.key}
