"""Hand-written ESI vignettes through the rules with the meaning match, as a web process
that serves the model reads them (the real all-MiniLM-L6-v2 of the installed package): no
ESI 1-2 situation is suggested less acute than its level (see vignettes/README.md: tuning
sets, not an independent measure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnosis.triage.rules import Vitals, esi_rules, rules_level

# Words and an encoder only: the same on every database (CI's SQLite job leaves it out).
pytestmark = pytest.mark.database_free

HERE = Path(__file__).resolve().parent / "vignettes"
VIGNETTES = [
    json.loads(line)
    for name in (
        "vignettes.jsonl",
        "vignettes_2.jsonl",
        "vignettes_3.jsonl",
        "vignettes_4.jsonl",
        "vignettes_5.jsonl",
        "vignettes_6.jsonl",
        "vignettes_7.jsonl",
        "vignettes_8.jsonl",
        "vignettes_9.jsonl",
        "vignettes_10.jsonl",
        "vignettes_11.jsonl",
        "vignettes_12.jsonl",
        "vignettes_13.jsonl",
        "vignettes_14.jsonl",
        "vignettes_15.jsonl",
        "vignettes_16.jsonl",
        "vignettes_17.jsonl",
        "vignettes_18.jsonl",
    )
    for line in (HERE / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def vitals_of(vignette: dict) -> Vitals:
    """The vignette's vital signs as the intake page records them (a tick is a 0)."""
    v = vignette["vitals"]
    return Vitals(
        age_years=float(vignette["age_years"]),
        heart_rate=0 if v["pulseless"] else v["heart_rate"],
        respiratory_rate=0 if v["apnoeic"] else v["respiratory_rate"],
        spo2=0 if v["spo2_unobtainable"] else v["spo2"],
        systolic_bp=0 if v["bp_unobtainable"] else v["systolic_bp"],
        diastolic_bp=None if v["bp_unobtainable"] else v["diastolic_bp"],
        temperature_c=v["temperature_c"],
        pain=v["pain"],
        avpu=v["avpu"],
    )


def test_the_sets_are_the_ones_described() -> None:
    levels = [v["expected_esi"] for v in VIGNETTES]
    assert len(VIGNETTES) == (
        70 + 60 + 60 + 50 + 50 + 60 + 60 + 60 + 50 + 50 + 50 + 50 + 50 + 50 + 50 + 50 + 50 + 50
    )
    assert (levels.count(1), levels.count(2)) == (
        16 + 14 + 14 + 12 + 12 + 14 + 12 + 12 + 12 + 12 + 12 + 11 + 11 + 13 + 11 + 12 + 12 + 11,
        24 + 22 + 24 + 22 + 22 + 24 + 26 + 24 + 22 + 22 + 23 + 24 + 24 + 22 + 24 + 23 + 23 + 24,
    )
    assert len({v["id"] for v in VIGNETTES}) == len(VIGNETTES)


@pytest.mark.parametrize(
    "vignette", [v for v in VIGNETTES if v["expected_esi"] <= 2], ids=lambda v: v["id"]
)
def test_no_esi_1_or_2_vignette_is_suggested_less_acute_by_the_rules(vignette: dict) -> None:
    from diagnosis.triage.meaning import similar_concepts

    result = esi_rules(
        complaint=vignette["complaint"],
        vitals=vitals_of(vignette),
        similar=similar_concepts(vignette["complaint"]),
    )

    level = rules_level(result)
    assert level <= vignette["expected_esi"], (
        f"{vignette['id']} ({vignette['situation']}): ESI {level}, expected "
        f"{vignette['expected_esi']}; fired {[r.code for r in result.fired]}"
    )
