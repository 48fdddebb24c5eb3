"""Sepsis, meningitis, suicidal or homicidal thoughts, overdose and poisoning, new
confusion or lethargy, diabetic emergencies."""

from __future__ import annotations

from diagnosis.triage.concepts.base import Concept

CONCEPTS: tuple[Concept, ...] = (
    Concept(
        code="B_SEPSIS",
        key="sepsis",
        reason="Possible sepsis is a high-risk situation",
        phrases=("sepsis", "septic", "neutropenic"),
        together=(
            (
                ("chemo", "chemotherapy", "immunocompromised", "transplant"),
                ("fever", "febrile", "fevers"),
            ),
        ),
        descriptions=("fever and rigors, very unwell, on chemotherapy",),
    ),
    Concept(
        code="B_MENINGITIS",
        key="meningitis",
        reason="Possible meningitis is a high-risk situation",
        phrases=("meningitis", "non blanching rash", "stiff neck"),
        descriptions=("fever, stiff neck and headache, light hurts the eyes",),
    ),
    Concept(
        code="B_PSYCH",
        key="suicidal_homicidal",
        reason="Suicidal or homicidal thoughts are a high-risk situation",
        phrases=(
            "suicidal",
            "suicide",
            "si",
            "si/hi",
            "hi",
            "homicidal",
            "self harm",
            "wants to die",
            "kill himself",
            "kill herself",
            "kill myself",
            "kill someone",
        ),
        descriptions=("wants to end his life and has a plan",),
    ),
    Concept(
        code="B_OVERDOSE",
        key="overdose",
        reason="An overdose or a poisoning is a high-risk situation",
        phrases=(
            "overdose",
            "od",
            "ingestion",
            "ingested",
            "took pills",
            "poisoning",
            "empty pill bottle*",
        ),
        descriptions=("swallowed a whole bottle of tablets",),
    ),
    # With AVPU V or P, or GCS 9-14, the rules fire this code from the vitals as well.
    Concept(
        code="B_ALTERED",
        key="new_confusion",
        reason="New confusion, lethargy or disorientation is a high-risk situation",
        phrases=(
            "confused",
            "confusion",
            "lethargic",
            "lethargy",
            "disoriented",
            "altered mental status",
            "altered",
            "ams",
            "obtunded",
            "somnolent",
            "not acting right",
            "hard to wake",
            "difficult to arouse",
            "difficult to wake",
            "floppy",
        ),
        descriptions=("suddenly muddled, does not know where she is",),
    ),
    Concept(
        code="B_DKA",
        key="dka",
        reason="A diabetic emergency (ketoacidosis or a hypo that does not recover) is a "
        "high-risk situation",
        phrases=("dka", "ketoacidosis", "ketones"),
        descriptions=("diabetic, sugar very high, vomiting, breathing deep and fast",),
    ),
)
