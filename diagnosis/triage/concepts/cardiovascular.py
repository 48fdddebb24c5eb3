"""Heart attack (ACS), stroke/TIA, pulmonary embolism, aortic dissection or rupture, the
thunderclap headache of a brain bleed, sudden loss of vision and eye emergencies."""

from __future__ import annotations

from diagnosis.triage.concepts.base import Concept

CONCEPTS: tuple[Concept, ...] = (
    # Plain "chest pain" is ACS-suspicious from age 30 or with an ACS feature: that rule
    # is in diagnosis.triage.rules (it needs the age); these fire at any age.
    Concept(
        code="B_ACS",
        key="acs",
        reason="Chest pain that may be a heart attack (ACS) is a high-risk situation",
        phrases=("heart attack", "stemi", "nstemi", "acs", "crushing chest"),
        descriptions=("chest pressure spreading to the left arm and jaw, sweating",),
    ),
    Concept(
        code="B_STROKE",
        key="stroke",
        reason="Signs of a stroke are a high-risk, time-critical situation",
        phrases=(
            "stroke",
            "cva",
            "tia",
            "facial droop",
            "face droop",
            "slurred speech",
            "aphasia",
            "sided weakness",
            "unilateral weakness",
            "hemiparesis",
            "arm drift",
        ),
        descriptions=("face drooping on one side, arm weak, speech slurred",),
    ),
    Concept(
        code="B_PE",
        key="pe",
        reason="A possible pulmonary embolism is a high-risk situation",
        phrases=("pulmonary embolism", "pulmonary embolus"),
        descriptions=("sudden breathlessness with a swollen calf after surgery",),
    ),
    Concept(
        code="B_AORTIC",
        key="aortic",
        reason="A possible aortic dissection or ruptured aneurysm is a high-risk situation",
        phrases=("aortic dissection", "dissection", "ruptured aaa", "tearing pain"),
        descriptions=("sudden tearing pain through to the back",),
    ),
    Concept(
        code="B_HEADACHE",
        key="thunderclap_headache",
        reason="A sudden 'worst headache' may be a brain bleed: a high-risk situation",
        phrases=("worst headache", "thunderclap"),
        descriptions=("sudden explosive headache, the worst ever, peaked in seconds",),
    ),
    Concept(
        code="B_EYE",
        key="vision_loss",
        reason="Sudden loss of vision or an eye emergency is a high-risk situation",
        phrases=("vision loss", "loss of vision", "chemical splash"),
        descriptions=("suddenly cannot see out of one eye",),
    ),
)
