"""The shape of a curated high-risk concept (see the package's docstring)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    """One high-risk situation.

    - ``code``: the rule code shown with it (``A_...`` for decision point A, ESI 1;
      ``B_...`` for decision point B, ESI 2).
    - ``key``: its name in the paraphrase set (``tests/.../paraphrases/CONCEPTS.md``).
    - ``reason``: the sentence the nurse reads, completed with the words that matched.
    - ``phrases``: any one of them, found in the note and not negated, fires the concept.
    - ``together``: combinations: a phrase of *each* group of one combination, found
      anywhere in the note and not negated, fires it ("pregnant" + "lower abdominal pain").
    - ``together_now``: combinations as ``together`` whose first finding must be current
      (told as history, "previous house fire 2019", "hx head injury 2015", it does not
      count); the others are its context, which may be history ("PMH AF on warfarin").
    - ``together_unless``: combinations as ``together``, each paired with phrases that
      cancel it where one is found in the note (not negated): the "blood" and "bright red"
      of a vomiting patient's eye are no GI bleed.
    - ``descriptions``: short sentences saying the situation in other words, for the
      meaning-based match.
    - ``meaning_unless``: a known look-alike as groups of phrases (as one combination of
      ``together``): a phrase of each group found in the note (not negated) keeps the
      meaning-based match from firing the concept on its own: a red patch on the white of
      the eye with normal vision after coughing reads like an eye emergency, and is none.
      The concept's own phrases and combinations still fire it.
    - ``meaning_unless_not``: phrases any one of which, found (not negated), keeps the
      look-alike from vetoing: a sting with a local reaction, unless the lips, the throat,
      the voice or a faint are told too.
    - ``meaning_ruled_out``: what the nurse saw that rules the situation out, phrases any
      one of which, found, keeps the meaning-based match from firing the concept on its
      own: "no bone visible" after a teenager's "the bone come out!!" of a jammed finger.
    - ``meaning_ruled_out_not``: phrases any one of which, found, keeps what the nurse saw
      from ruling it out: a wound, torn skin, a bone that "went back in".
    - ``meaning_denied``: what the nurse asked and was told is absent, as groups of phrases:
      where each group is told only negated ("no wheeze", "denies lip swelling", "didn't
      shake") and none of its phrases affirmed, the meaning-based match does not fire the
      concept on its own: hives after a food, with the lips and the breathing asked about;
      a faint that "didn't shake, wasn't stiff". A sign told as present still fires it by
      its own words ("no wheeze, but throat feels tight").
    - ``meaning_denied_not``: phrases any one of which, found, keeps what was told absent
      from vetoing: a collapse, a low blood pressure, adrenaline given; a stare that goes on.
    """

    code: str
    key: str
    reason: str
    phrases: tuple[str, ...] = ()
    together: tuple[tuple[tuple[str, ...], ...], ...] = ()
    together_now: tuple[tuple[tuple[str, ...], ...], ...] = ()
    together_unless: tuple[
        tuple[tuple[tuple[str, ...], ...], tuple[str, ...]],
        ...,
    ] = ()
    descriptions: tuple[str, ...] = ()
    meaning_unless: tuple[tuple[str, ...], ...] = ()
    meaning_unless_not: tuple[str, ...] = ()
    meaning_ruled_out: tuple[str, ...] = ()
    meaning_ruled_out_not: tuple[str, ...] = ()
    meaning_denied: tuple[tuple[str, ...], ...] = ()
    meaning_denied_not: tuple[str, ...] = ()

    @property
    def level(self) -> int:
        return 1 if self.code.startswith("A_") else 2

    @property
    def decision_point(self) -> str:
        return self.code[0]

    def all_phrases(self) -> tuple[str, ...]:
        """Every phrase the concept may look for (its own and those of its combinations)."""
        cancelled = tuple(combination for combination, _ in self.together_unless)
        grouped = (
            p
            for combination in (*self.together, *self.together_now, *cancelled)
            for group in combination
            for p in group
        )
        unless = (p for _, phrases in self.together_unless for p in phrases)
        look_alike = (p for group in self.meaning_unless for p in group)
        return (
            *self.phrases,
            *grouped,
            *unless,
            *look_alike,
            *self.meaning_unless_not,
            *self.meaning_ruled_out,
            *self.meaning_ruled_out_not,
            *(p for group in self.meaning_denied for p in group),
            *self.meaning_denied_not,
        )
