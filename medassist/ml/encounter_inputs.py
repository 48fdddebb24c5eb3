"""What the encounter diagnosis model reads about one encounter, in plain Python.

Kept apart from :mod:`medassist.ml.encounter_model` (torch and transformers) so that a web
process can build an encounter's inputs and their fingerprint without loading the model.

An encounter is five kinds of input (:data:`KINDS`):

- ``complaint``: the chief complaint in free text;
- ``vitals``: the vital signs at intake, as :func:`medassist.ml.vitals_text.vitals_clauses`
  renders them for the triage model;
- ``age_sex``: age in years and sex;
- ``history``: the diagnosis groups of the patient's EARLIER encounters' final diagnoses
  (never the encounter's own: the caller passes only earlier ones);
- ``images``: the calibrated probabilities of the image findings of the encounter's studies,
  or None when it has no image with a suggestion.

The first four become one short text for the MiniLM encoder (:func:`render_text`); the image
findings are a vector with a "has images" flag beside it (:func:`image_vector`). Leaving a
kind out (``without``) is how the model measures what each kind contributed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medassist.ml.vitals_text import vitals_clauses

KINDS: tuple[str, ...] = ("complaint", "vitals", "age_sex", "history", "images")
KIND_NAMES = {
    "complaint": "complaint",
    "vitals": "vital signs",
    "age_sex": "age and sex",
    "history": "earlier diagnoses",
    "images": "image findings",
}
# The pooled output for every group with too few cases of its own (and any code no group holds).
OTHER = "other"
# At most this many earlier diagnosis groups are read, the most recent first.
HISTORY_LIMIT = 5

_SEX_WORDS = {"F": "female", "M": "male", "O": "other sex"}


@dataclass(frozen=True)
class EncounterInputs:
    """Everything the model may know about one encounter, none of it its own final diagnosis.

    ``vitals`` holds the keyword arguments of :func:`vitals_clauses` (``hr``, ``rr``,
    ``spo2``, ``sbp``, ``dbp``, ``temp_c``, ``pain``, ``avpu``); absent ones are None.
    ``sex`` is the patient's sex code (``F``, ``M``, ``O``, ``U``). ``history`` lists the
    earlier diagnosis groups (e.g. ``"I20-I25 Ischaemic heart diseases"``), most recent first.
    ``images`` maps finding codes to calibrated probabilities; None: no image findings.
    """

    complaint: str
    vitals: Mapping[str, Any] = field(default_factory=dict)
    age_years: float | None = None
    sex: str = "U"
    history: Sequence[str] = ()
    images: Mapping[str, float] | None = None

    def present(self) -> list[str]:
        """The kinds this encounter has something for, in :data:`KINDS` order."""
        has = {
            "complaint": bool(self.complaint.strip()),
            "vitals": bool(vitals_clauses(**_vitals_args(self.vitals))),
            "age_sex": self.age_years is not None or self.sex in _SEX_WORDS,
            "history": bool(self.history),
            "images": self.images is not None,
        }
        return [kind for kind in KINDS if has[kind]]

    def as_json(self) -> dict[str, Any]:
        """A JSON-able copy (floats rounded to what the model can tell apart)."""
        return {
            "complaint": self.complaint,
            "vitals": {k: v for k, v in sorted(self.vitals.items()) if v is not None},
            "age_years": None if self.age_years is None else round(float(self.age_years), 2),
            "sex": self.sex,
            "history": list(self.history),
            "images": None
            if self.images is None
            else {k: round(float(v), 4) for k, v in sorted(self.images.items())},
        }

    def fingerprint(self) -> str:
        """Hex SHA-256 of :meth:`as_json`: the same inputs, the same fingerprint."""
        text = json.dumps(self.as_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _vitals_args(vitals: Mapping[str, Any]) -> dict[str, Any]:
    allowed = ("hr", "rr", "spo2", "sbp", "dbp", "temp_c", "pain", "avpu")
    return {k: vitals.get(k) for k in allowed}


def render_text(inputs: EncounterInputs, *, without: Collection[str] = ()) -> str:
    """The text the encoder reads: one clause per kind present and not in ``without``.

    E.g. ``"complaint: cough and fever for three days. vitals: HR 104 RR 22 SpO2 93% BP
    118/76 T 38.6C pain 2/10 AVPU A. patient: 67y male. earlier diagnoses: I10-I15
    Hypertensive diseases."`` Images are never text (see :func:`image_vector`).
    """
    parts = []
    if "complaint" not in without and inputs.complaint.strip():
        parts.append(f"complaint: {' '.join(inputs.complaint.split())}.")
    if "vitals" not in without:
        clauses = vitals_clauses(**_vitals_args(inputs.vitals))
        if clauses:
            parts.append(f"vitals: {' '.join(clauses)}.")
    if "age_sex" not in without:
        words = []
        if inputs.age_years is not None:
            age = float(inputs.age_years)
            words.append(f"{int(age * 12)}mo" if age < 2 else f"{int(age)}y")
        if inputs.sex in _SEX_WORDS:
            words.append(_SEX_WORDS[inputs.sex])
        if words:
            parts.append(f"patient: {' '.join(words)}.")
    if "history" not in without and inputs.history:
        parts.append(f"earlier diagnoses: {'; '.join(inputs.history[:HISTORY_LIMIT])}.")
    return " ".join(parts)


def image_vector(
    inputs: EncounterInputs, codes: Sequence[str], *, without: Collection[str] = ()
) -> list[float]:
    """The image findings as the model reads them: one probability per code of ``codes``
    (0 for a code the studies were not scored on), then 1.0 "has images" or 0.0 without
    (all zeros when the encounter has no image findings or ``images`` is left out)."""
    if inputs.images is None or "images" in without:
        return [0.0] * (len(codes) + 1)
    return [float(inputs.images.get(code, 0.0)) for code in codes] + [1.0]
