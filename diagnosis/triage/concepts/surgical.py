"""Ectopic pregnancy, torsion, gastrointestinal bleeding, anaphylaxis, high-risk injury
mechanisms, a threatened limb, obstetric emergencies."""

from __future__ import annotations

from diagnosis.triage.concepts.base import Concept

CONCEPTS: tuple[Concept, ...] = (
    Concept(
        code="B_ECTOPIC",
        key="ectopic",
        reason="A possible ectopic pregnancy is a high-risk situation",
        phrases=("ectopic",),
        together=(
            (
                ("pregnant", "pregnancy", "g1p0", "weeks pregnant", "ivf"),
                (
                    "abd pain",
                    "abdominal pain",
                    "pelvic pain",
                    "vaginal bleeding",
                    "vaginal spotting",
                    "cramping",
                ),
            ),
        ),
        descriptions=("missed period, one-sided lower belly pain and spotting",),
    ),
    Concept(
        code="B_TORSION",
        key="torsion",
        reason="Possible testicular torsion is a high-risk, time-critical situation",
        phrases=("testicular pain", "torsion"),
        descriptions=("sudden severe pain in one testicle",),
    ),
    Concept(
        code="B_BLEEDING",
        key="gi_bleed",
        reason="Gastrointestinal bleeding is a high-risk situation",
        phrases=(
            "gi bleed",
            "hematemesis",
            "haematemesis",
            "vomiting blood",
            "melena",
            "melaena",
            "coffee ground*",
        ),
        descriptions=("vomiting blood, black tarry stools",),
    ),
    Concept(
        code="B_ANAPHYLAXIS",
        key="anaphylaxis",
        reason="A severe allergic reaction is a high-risk situation",
        phrases=(
            "anaphylaxis",
            "anaphylactic",
            "throat swelling",
            "throat closing",
            "tongue swelling",
        ),
        descriptions=("lips and tongue swelling after eating peanuts",),
    ),
    Concept(
        code="B_TRAUMA",
        key="high_risk_trauma",
        reason="A high-risk injury mechanism is a high-risk situation",
        phrases=("gsw", "gunshot", "stab", "stabbed", "ejected", "rollover", "high speed"),
        descriptions=("hit by a car at speed",),
    ),
    Concept(
        code="B_LIMB",
        key="limb_threat",
        reason="A threatened limb (open fracture, no pulse, compartment syndrome) is a "
        "high-risk situation",
        phrases=("open fracture", "compartment syndrome", "amputation"),
        descriptions=("bone sticking out through the skin",),
    ),
    Concept(
        code="B_OBSTETRIC",
        key="obstetric",
        reason="An emergency in later pregnancy is a high-risk situation",
        phrases=("eclampsia", "pre eclampsia", "preeclampsia", "reduced fetal movement*"),
        descriptions=("pregnant 34 weeks, bleeding and tummy pain",),
    ),
)
