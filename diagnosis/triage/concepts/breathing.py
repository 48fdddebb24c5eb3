"""Arrest, apnoea, unresponsiveness, seizures, severe respiratory distress, severe asthma."""

from __future__ import annotations

from diagnosis.triage.concepts.base import Concept

CONCEPTS: tuple[Concept, ...] = (
    Concept(
        code="A_ARREST",
        key="arrest",
        reason="Cardiac or respiratory arrest needs immediate resuscitation",
        phrases=(
            "cardiac arrest",
            "respiratory arrest",
            "arrested",
            "pulseless",
            "no pulse",
            "cpr",
            "code blue",
            "compressions",
        ),
        descriptions=("no pulse, CPR in progress", "collapsed and lifeless, no heartbeat"),
    ),
    Concept(
        code="A_APNOEA",
        key="apnoea",
        reason="A patient who is not breathing needs immediate airway support",
        phrases=("not breathing", "stopped breathing", "apneic", "apnoeic", "agonal"),
        descriptions=("not breathing", "stopped breathing, only occasional gasps"),
    ),
    Concept(
        code="A_UNRESPONSIVE",
        key="unresponsive",
        reason="An unresponsive patient needs an immediate life-saving intervention",
        phrases=(
            "unresponsive",
            "non responsive",
            "not responsive",
            "unarousable",
            "unrousable",
        ),
        descriptions=("unresponsive, cannot be woken up", "responds only to pain"),
    ),
    Concept(
        code="A_SEIZING",
        key="seizing",
        reason="A seizure that is going on needs immediate treatment",
        phrases=("actively seizing", "seizing", "status epilepticus"),
        descriptions=("fitting right now and not stopping", "seizures one after another"),
    ),
    Concept(
        code="A_RESP_DISTRESS",
        key="severe_respiratory_distress",
        reason="Severe respiratory distress needs immediate airway and breathing support",
        phrases=("severe respiratory distress", "cyanotic", "blue lips", "lips blue"),
        descriptions=("struggling for every breath, cannot speak, turning blue",),
    ),
    Concept(
        code="B_ASTHMA",
        key="severe_asthma",
        reason="A severe asthma or COPD attack is a high-risk situation",
        phrases=("severe asthma", "asthma attack"),
        descriptions=("bad asthma attack, inhaler not helping, wheezing",),
    ),
    Concept(
        code="A_INTUBATED",
        key="",
        reason="An intubated patient needs immediate airway management",
        phrases=("intubated",),
    ),
    Concept(
        code="B_SOB",
        key="",
        reason="Shortness of breath is a high-risk situation",
        phrases=(
            "sob",
            "shortness of breath",
            "short of breath",
            "difficulty breathing",
            "trouble breathing",
            "dib",
            "dyspnea",
            "dyspnoea",
            "breathing fast",
        ),
    ),
)
