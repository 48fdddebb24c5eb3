"""Demo care pathways: sample content for trying MedAssist, NOT clinical guidance.

They show what a hospital's clinical leads would write, nothing more: the steps are generic,
were written for the demo, and were neither drawn from nor checked against any guideline.
Every page that shows one marks it DEMO CONTENT. ``manage.py demo_seed`` writes them with
the two demo clinical leads (one the author, the other the approver), once.
"""

from __future__ import annotations

from dataclasses import dataclass

# Months until a demo version's review date.
DEMO_REVIEW_MONTHS = 12


@dataclass(frozen=True)
class DemoPathway:
    group: str  # as a clinical lead types it
    title: str
    items: tuple[tuple[str, str], ...]  # (kind, text), in order


DEMO_NOTICE = "Demo content written for trying MedAssist: not clinical guidance."

DEMO_PATHWAYS: tuple[DemoPathway, ...] = (
    DemoPathway(
        group="I20-I25",
        title="Chest pain: suspected acute coronary syndrome (DEMO)",
        items=(
            ("investigation", "12-lead ECG, repeated if the pain recurs or changes."),
            (
                "investigation",
                "High-sensitivity troponin on arrival and as the local protocol times it.",
            ),
            (
                "treatment",
                "Antiplatelet and pain relief as the local protocol says, unless contraindicated.",
            ),
            ("referral", "Discuss with the cardiology team on call."),
            ("follow_up", "Cardiology clinic or rapid-access chest pain clinic appointment."),
            (
                "safety_net",
                "Call the emergency number if chest pain returns or lasts more than 15 minutes.",
            ),
        ),
    ),
    DemoPathway(
        group="J12-J18",
        title="Pneumonia (DEMO)",
        items=(
            ("investigation", "Chest X-ray, full blood count, CRP, urea and electrolytes."),
            ("investigation", "Severity score (e.g. CURB-65) recorded in the notes."),
            ("treatment", "Antibiotics as the local antimicrobial guide says for the severity."),
            ("follow_up", "Review by the GP at 48-72 hours if treated at home."),
            (
                "safety_net",
                "Return if breathlessness worsens, confusion starts, or no better in 3 days.",
            ),
        ),
    ),
    DemoPathway(
        group="J45-J46",
        title="Asthma attack (DEMO)",
        items=(
            ("investigation", "Peak flow (or % predicted) and SpO2 before and after treatment."),
            (
                "treatment",
                "Inhaled bronchodilator; oral steroid course as the local protocol says.",
            ),
            (
                "referral",
                "Admit if the peak flow stays below half of best or predicted after treatment.",
            ),
            ("follow_up", "Asthma nurse or GP review within 2 working days."),
            ("safety_net", "Written asthma action plan; check inhaler technique before discharge."),
        ),
    ),
    DemoPathway(
        group="K35-K38",
        title="Suspected appendicitis (DEMO)",
        items=(
            ("investigation", "Full blood count, CRP; pregnancy test where relevant."),
            ("investigation", "Ultrasound or CT as the surgical team prefers."),
            ("treatment", "Nil by mouth, IV fluids and analgesia while awaiting review."),
            ("referral", "Surgical team review."),
            ("safety_net", "If sent home: return at once for worsening pain, fever or vomiting."),
        ),
    ),
)
