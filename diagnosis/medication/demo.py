"""The demo entries of the medication knowledge table: DEMO CONTENT, not clinical guidance.

They are sample entries written for trying MedAssist. Each names the reference a hospital
would check it against as a citation only (no text is copied from it), and none has been
checked against that reference: a hospital writes and approves its own table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoClass:
    name: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class DemoRule:
    kind: str  # "allergy" or "interaction"
    term_a: str
    term_b: str
    severity: str
    note: str
    action: str
    source: str


BNF = "BNF, Appendix 1: Interactions (summary; check the current edition)"
BNF_ALLERGY = "BNF, Penicillins: hypersensitivity and cross-sensitivity (summary)"
MHRA = "MHRA Drug Safety Update (summary; check the current issue)"

DEMO_CLASSES = (
    DemoClass(
        "penicillins",
        (
            "amoxicillin",
            "ampicillin",
            "benzylpenicillin",
            "phenoxymethylpenicillin",
            "flucloxacillin",
            "piperacillin",
            "co-amoxiclav",
            "pivmecillinam",
            "temocillin",
        ),
    ),
    DemoClass(
        "cephalosporins",
        ("cefalexin", "cefuroxime", "ceftriaxone", "cefotaxime", "cefazolin", "ceftazidime"),
    ),
    DemoClass("carbapenems", ("meropenem", "imipenem", "ertapenem")),
    DemoClass(
        "nsaids",
        ("ibuprofen", "naproxen", "diclofenac", "celecoxib", "etoricoxib", "ketorolac", "aspirin"),
    ),
    DemoClass("sulfonamide antibiotics", ("sulfamethoxazole", "co-trimoxazole", "sulfadiazine")),
    DemoClass("trimethoprim-containing", ("trimethoprim", "co-trimoxazole")),
    DemoClass("ssris", ("sertraline", "citalopram", "escitalopram", "fluoxetine", "paroxetine")),
    DemoClass("ace inhibitors", ("ramipril", "lisinopril", "enalapril", "perindopril")),
    DemoClass(
        "potassium-sparing diuretics", ("spironolactone", "eplerenone", "amiloride", "triamterene")
    ),
    DemoClass(
        "nitrates",
        ("glyceryl trinitrate", "isosorbide mononitrate", "isosorbide dinitrate", "nicorandil"),
    ),
    DemoClass(
        "qt-prolonging drugs",
        (
            "citalopram",
            "escitalopram",
            "clarithromycin",
            "erythromycin",
            "haloperidol",
            "ondansetron",
            "amiodarone",
            "methadone",
            "sotalol",
        ),
    ),
)

DEMO_RULES = (
    DemoRule(
        "allergy",
        "penicillins",
        "penicillins",
        "contraindicated",
        "Patients allergic to one penicillin are allergic to all of them.",
        "Choose an antibiotic from another class; if a penicillin is essential, seek specialist "
        "advice.",
        BNF_ALLERGY,
    ),
    DemoRule(
        "allergy",
        "penicillins",
        "cephalosporins",
        "moderate",
        "A minority of penicillin-allergic patients react to cephalosporins too.",
        "Caution: avoid after an immediate (anaphylactic) penicillin reaction; weigh the "
        "history of the reaction otherwise.",
        BNF_ALLERGY,
    ),
    DemoRule(
        "allergy",
        "penicillins",
        "carbapenems",
        "moderate",
        "Cross-sensitivity with penicillins is possible.",
        "Caution: avoid after an immediate penicillin reaction unless specialist advice.",
        BNF_ALLERGY,
    ),
    DemoRule(
        "allergy",
        "nsaids",
        "nsaids",
        "contraindicated",
        "A reaction to one NSAID (asthma, angioedema, urticaria) predicts a reaction to others.",
        "Avoid NSAIDs; choose another analgesic.",
        "BNF, Non-steroidal anti-inflammatory drugs: hypersensitivity (summary)",
    ),
    DemoRule(
        "allergy",
        "sulfonamide antibiotics",
        "sulfonamide antibiotics",
        "contraindicated",
        "Hypersensitivity to one sulfonamide antibiotic extends to the others.",
        "Avoid; choose another antibiotic.",
        "BNF, Sulfonamides: contra-indications (summary)",
    ),
    DemoRule(
        "interaction",
        "warfarin",
        "nsaids",
        "major",
        "Additive bleeding risk: NSAIDs impair platelets and irritate the gastric mucosa.",
        "Avoid; if unavoidable, add gastroprotection and check the INR more often.",
        BNF,
    ),
    DemoRule(
        "interaction",
        "warfarin",
        "clarithromycin",
        "major",
        "Clarithromycin raises the anticoagulant effect of warfarin (higher INR, bleeding).",
        "Prefer another antibiotic, or check the INR within 3 to 5 days and adjust the dose.",
        BNF,
    ),
    DemoRule(
        "interaction",
        "ssris",
        "tramadol",
        "major",
        "Serotonin syndrome risk; tramadol also lowers the seizure threshold.",
        "Prefer another analgesic; if given, warn about and watch for serotonin toxicity.",
        BNF,
    ),
    DemoRule(
        "interaction",
        "ace inhibitors",
        "potassium-sparing diuretics",
        "major",
        "Risk of severe hyperkalaemia.",
        "Check potassium and renal function before and after starting; avoid in renal impairment.",
        BNF,
    ),
    DemoRule(
        "interaction",
        "methotrexate",
        "trimethoprim-containing",
        "contraindicated",
        "Additive antifolate effect: bone marrow suppression, sometimes fatal.",
        "Avoid the combination; choose another antibiotic.",
        MHRA,
    ),
    DemoRule(
        "interaction",
        "simvastatin",
        "clarithromycin",
        "contraindicated",
        "Clarithromycin raises simvastatin levels: risk of myopathy and rhabdomyolysis.",
        "Stop simvastatin for the course of clarithromycin, or choose another antibiotic.",
        MHRA,
    ),
    DemoRule(
        "interaction",
        "sildenafil",
        "nitrates",
        "contraindicated",
        "Profound hypotension.",
        "Do not give together; nitrates are contraindicated within 24 hours of sildenafil.",
        BNF,
    ),
    DemoRule(
        "interaction",
        "qt-prolonging drugs",
        "qt-prolonging drugs",
        "major",
        "Two QT-prolonging drugs together raise the risk of torsade de pointes.",
        "Avoid the pair where possible; otherwise ECG for the QT interval, check potassium and "
        "magnesium.",
        MHRA,
    ),
)
