"""SYNTHETIC triage notes: a nurse's complaint in free text, vitals and an ESI label.

No real patient is behind any note made here; every note carries ``synthetic=True`` and
anything that shows them must say SYNTHETIC. They exist to train and test the triage model
until reviewed real encounters take over.

How a note is made (docs/triage.md has the details):

1. Clinical templates. Each has a reference ESI level, the age bands it fits, a vitals
   profile (ranges relative to the age band's normal values and danger zone) and two
   disjoint lists of phrasings: one for training notes, one for the held-out test set.
2. Stratified sampling: every block of 20 notes visits each (ESI level, age band) cell once
   in a seeded random order, so levels and bands are balanced and all appear from 20 notes.
3. Nurse phrasing: an age/sex prefix ("67 y/o M c/o", "6 wk old girl w/"), abbreviations
   swapped in and out (SOB, CP, N/V, LOC, abd pain, hx), a past history, and a seeded
   spelling slip in about one note in six.
4. Label = the handbook's level for the case the generator drew, from its own ground truth
   (:func:`handbook_level`): the template's situation, raised to ESI 2 for a fever it drew
   in a baby under 28 days. The product's rules are never asked, so a test set labelled
   here measures the rules and the model against the handbook, not against themselves.

Pure Python: no Django, no torch; deterministic for a seed (``random.Random(seed)`` only).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from diagnosis.triage.rules import (
    _DANGER_ZONE,
    AGE_BANDS,
    ESI_LEVELS,
    Vitals,
    age_band,
    hypotension_threshold,
)

# The fixed held-out test set: its seed and size never change (a frozen test set).
TEST_SET_SEED = 20261128
TEST_SET_SIZE = 300
# One note in SLIP_RATE (on average) gets a spelling slip.
SLIP_RATE = 1 / 6


@dataclass(frozen=True)
class SyntheticNote:
    """One SYNTHETIC triage note and its reference ESI level."""

    complaint: str
    vitals: Vitals
    esi_level: int
    age_band: str
    template: str
    synthetic: bool = True


Profile = Callable[[random.Random, str, float], dict]


@dataclass(frozen=True)
class _Template:
    name: str
    level: int
    bands: tuple[str, ...]
    train: tuple[str, ...]
    test: tuple[str, ...]
    profile: str = "normal"
    pain: tuple[int, int] = (0, 3)


# Normal resting values per age band, all inside the danger zone limits.
_NORMAL = {
    "<3m": {"hr": (110, 160), "rr": (30, 45), "sbp": (72, 90), "dbp": (40, 55)},
    "3m-3y": {"hr": (90, 140), "rr": (24, 36), "sbp": (80, 100), "dbp": (45, 60)},
    "3-8y": {"hr": (75, 120), "rr": (18, 26), "sbp": (90, 110), "dbp": (55, 70)},
    ">8y": {"hr": (60, 95), "rr": (12, 18), "sbp": (105, 140), "dbp": (65, 90)},
}


def _normal(rng: random.Random, band: str, age: float) -> dict:
    ranges = _NORMAL[band]
    return {
        "heart_rate": rng.randint(*ranges["hr"]),
        "respiratory_rate": rng.randint(*ranges["rr"]),
        "spo2": rng.randint(95, 100),
        "systolic_bp": rng.randint(*ranges["sbp"]),
        "diastolic_bp": rng.randint(*ranges["dbp"]),
        "temperature_c": round(rng.uniform(36.4, 37.6), 1),
        "avpu": "A",
        "gcs": rng.choice((None, 15)),
    }


def _fever(rng: random.Random, band: str, age: float) -> dict:
    return {**_normal(rng, band, age), "temperature_c": round(rng.uniform(38.2, 39.8), 1)}


def _danger(rng: random.Random, band: str, age: float) -> dict:
    """Danger-zone vitals (D) without the severe distress or hypoxia of decision point A."""
    zone = _DANGER_ZONE[band]
    vitals = _fever(rng, band, age)
    vitals["heart_rate"] = zone["heart_rate"] + rng.randint(5, 35)
    vitals["respiratory_rate"] = zone["respiratory_rate"] + rng.randint(2, 8)
    vitals["spo2"] = rng.randint(90, 95)
    return vitals


def _arrest(rng: random.Random, band: str, age: float) -> dict:
    return {
        "heart_rate": rng.choice((0, None)),
        "respiratory_rate": 0,
        "spo2": None,
        "systolic_bp": None,
        "diastolic_bp": None,
        "temperature_c": rng.choice((None, round(rng.uniform(35.0, 36.8), 1))),
        "avpu": "U",
        "gcs": 3,
    }


def _respiratory_failure(rng: random.Random, band: str, age: float) -> dict:
    zone = _DANGER_ZONE[band]
    vitals = _normal(rng, band, age)
    vitals["heart_rate"] = zone["heart_rate"] + rng.randint(0, 30)
    vitals["respiratory_rate"] = zone["respiratory_rate"] + rng.randint(12, 24)
    vitals["spo2"] = rng.randint(78, 88)
    vitals["avpu"] = rng.choice(("A", "V"))
    vitals["gcs"] = None
    return vitals


def _shock(rng: random.Random, band: str, age: float) -> dict:
    zone = _DANGER_ZONE[band]
    vitals = _normal(rng, band, age)
    low = hypotension_threshold(age)
    vitals["systolic_bp"] = low - rng.randint(5, 25)
    vitals["diastolic_bp"] = max(20, vitals["systolic_bp"] - rng.randint(20, 35))
    vitals["heart_rate"] = zone["heart_rate"] + rng.randint(10, 40)
    vitals["avpu"] = rng.choice(("A", "V"))
    vitals["gcs"] = None
    return vitals


def _unresponsive(rng: random.Random, band: str, age: float) -> dict:
    vitals = _normal(rng, band, age)
    vitals["respiratory_rate"] = rng.randint(4, 10)
    vitals["spo2"] = rng.randint(84, 94)
    vitals["avpu"] = "U"
    vitals["gcs"] = rng.randint(3, 8)
    return vitals


def _seizing(rng: random.Random, band: str, age: float) -> dict:
    vitals = _normal(rng, band, age)
    vitals["heart_rate"] = _DANGER_ZONE[band]["heart_rate"] + rng.randint(0, 30)
    vitals["avpu"] = "U"
    vitals["gcs"] = rng.randint(3, 8)
    return vitals


def _altered(rng: random.Random, band: str, age: float) -> dict:
    vitals = _normal(rng, band, age)
    vitals["avpu"] = rng.choice(("V", "P"))
    vitals["gcs"] = rng.choice((None, rng.randint(10, 14)))
    return vitals


def _mild_hypoxia(rng: random.Random, band: str, age: float) -> dict:
    vitals = _normal(rng, band, age)
    vitals["spo2"] = rng.randint(91, 94)
    return vitals


_PROFILES: dict[str, Profile] = {
    "normal": _normal,
    "fever": _fever,
    "danger": _danger,
    "arrest": _arrest,
    "respiratory_failure": _respiratory_failure,
    "shock": _shock,
    "unresponsive": _unresponsive,
    "seizing": _seizing,
    "altered": _altered,
    "mild_hypoxia": _mild_hypoxia,
}

ALL = AGE_BANDS
OVER_3M = ("3m-3y", "3-8y", ">8y")
OVER_3Y = ("3-8y", ">8y")
ADULT = (">8y",)

# The clinical templates. Training and test phrasings are disjoint (a test checks it).
TEMPLATES: tuple[_Template, ...] = (
    # ESI 1: needs an immediate life-saving intervention.
    _Template(
        "cardiac_arrest",
        1,
        ALL,
        train=(
            "found down, unresponsive, not breathing, CPR in progress",
            "cardiac arrest, CPR started by EMS",
            "pulseless and apneic on arrival",
        ),
        test=(
            "collapsed at home, no pulse, bystander CPR",
            "brought in apnoeic and pulseless, compressions ongoing",
        ),
        profile="arrest",
    ),
    _Template(
        "respiratory_failure",
        1,
        ALL,
        train=(
            "severe respiratory distress, gasping, unable to speak",
            "cant breathe, tripoding, lips blue",
            "grunting w/ severe retractions, cyanotic",
        ),
        test=(
            "struggling to breathe, accessory muscle use, cyanotic",
            "gasping for air, severe resp distress",
        ),
        profile="respiratory_failure",
    ),
    _Template(
        "shock",
        1,
        OVER_3Y,
        train=(
            "vomiting blood, pale, cold and clammy",
            "fever and rigors, mottled skin, barely responding",
        ),
        test=(
            "GI bleed, diaphoretic and pale, BP dropping",
            "febrile, mottled, cool extremities",
        ),
        profile="shock",
    ),
    _Template(
        "unresponsive_overdose",
        1,
        ADULT,
        train=(
            "unresponsive after suspected heroin OD, pinpoint pupils",
            "found unresponsive next to pill bottles",
        ),
        test=("found unresponsive w/ empty pill bottles", "unresponsive, ? opioid overdose"),
        profile="unresponsive",
    ),
    _Template(
        "status_epilepticus",
        1,
        ALL,
        train=("actively seizing x10 min", "seizing on arrival, not stopping w/ midaz"),
        test=("status epilepticus, seizing >5 min", "continuous seizure activity x15 min"),
        profile="seizing",
    ),
    # ESI 2: high-risk situation, new confusion/lethargy, severe pain or distress.
    _Template(
        "acs",
        2,
        ADULT,
        train=(
            "chest pain radiating to L arm, diaphoretic",
            "crushing chest pressure x1h, hx MI",
            "chest pain w/ shortness of breath and nausea",
            "chest pain on exertion x2 days, now at rest",
        ),
        test=(
            "substernal chest tightness radiating to jaw",
            "chest pain since this am, sweaty, hx CAD",
        ),
        pain=(2, 6),
    ),
    _Template(
        "stroke",
        2,
        ADULT,
        train=(
            "L sided weakness and slurred speech since 1h",
            "facial droop, R arm weakness, last known well 30 min ago",
        ),
        test=("sudden aphasia and R facial droop", "new onset slurred speech, ? CVA"),
    ),
    _Template(
        "suicidal",
        2,
        ADULT,
        train=("SI w/ plan, took nothing", "suicidal, says wants to die"),
        test=("states he wants to kill himself", "SI/HI, agitated"),
    ),
    _Template(
        "ingestion",
        2,
        OVER_3M,
        train=("OD on tylenol ~20 pills 2h ago", "ingested unknown number of pills"),
        test=("intentional ingestion of moms pills", "took pills from grandmas bag"),
    ),
    _Template(
        "thunderclap_headache",
        2,
        ADULT,
        train=("worst headache of my life, sudden onset", "worst headache ever, vomited once"),
        test=("thunderclap headache while lifting", "sudden worst headache of life at gym"),
        pain=(4, 6),
    ),
    _Template(
        "altered",
        2,
        ALL,
        train=(
            "confused and lethargic since this am",
            "not acting right, lethargic, hard to wake",
        ),
        test=("new confusion, disoriented to time and place", "very sleepy, difficult to arouse"),
        profile="altered",
    ),
    _Template(
        "severe_pain",
        2,
        OVER_3Y,
        train=("kidney stone pain, writhing on stretcher", "back pain, writhing, cant sit still"),
        test=("severe flank pain, pacing", "excruciating pain in R side"),
        pain=(8, 10),
    ),
    _Template(
        "danger_vitals",
        2,
        ALL,
        train=("fever and cough x3 days, breathing fast", "febrile, breathing fast, poor intake"),
        test=("febrile w/ fast breathing and poor intake", "cough and fever, breathing fast"),
        profile="danger",
    ),
    _Template(
        "febrile_infant",
        2,
        ("<3m",),
        train=("fever 38.5 at home, feeding less", "felt hot, temp 38.4 rectal, fussy"),
        test=("rectal temp 38.6, sleepier than usual", "febrile at home, not feeding well"),
        profile="fever",
    ),
    _Template(
        "shortness_of_breath",
        2,
        ALL,
        train=("shortness of breath worse over 2 days, no improvement w/ inhaler",),
        test=("short of breath since last night, needing inhaler q1h",),
        profile="mild_hypoxia",
    ),
    # ESI 3: two or more resources.
    _Template(
        "abdominal_pain_vomiting",
        3,
        OVER_3Y,
        train=(
            "abdominal pain w/ nausea and vomiting since last night",
            "RLQ abd pain, vomited x3",
        ),
        test=("epigastric pain and nausea/vomiting", "abdominal pain, N/V, no BM x2 days"),
        pain=(3, 6),
    ),
    _Template(
        "vomiting_infant",
        3,
        ("<3m", "3m-3y"),
        train=("vomiting and diarrhea x2 days, fewer wet diapers",),
        test=("poor feeding, vomiting after every feed",),
    ),
    _Template(
        "syncope",
        3,
        ADULT,
        train=("syncopal episode at work, now alert", "passed out in shower, brief LOC"),
        test=("fainted while standing in line", "had a syncopal episode at church, now ok"),
    ),
    _Template(
        "deformity",
        3,
        OVER_3Y,
        train=("wrist deformity after FOOSH, pain 6/10", "fell off bike, forearm deformed"),
        test=("obvious deformity of L forearm after fall", "finger deformity after basketball"),
        pain=(3, 6),
    ),
    _Template(
        "flank_pain",
        3,
        ADULT,
        train=("R flank pain, hx kidney stones, pain 5/10",),
        test=("L flank pain radiating to groin, hematuria",),
        pain=(3, 6),
    ),
    _Template(
        "vaginal_bleeding",
        3,
        ADULT,
        train=("vaginal bleeding x2 days, not pregnant",),
        test=("vaginal spotting and lower abd pain, LMP 3 wks ago",),
        pain=(1, 5),
    ),
    _Template(
        "fever_cough_child",
        3,
        ("3m-3y", "3-8y"),
        train=("fever x3 days, cough, ? pneumonia",),
        test=("high fever and productive cough, r/o pneumonia",),
        profile="fever",
    ),
    _Template(
        "head_injury",
        3,
        OVER_3M,
        train=("fall from standing, hit head, brief loss of consciousness",),
        test=("head injury playing football, + LOC, vomited once",),
        pain=(1, 5),
    ),
    # ESI 4: one resource.
    _Template(
        "ankle_injury",
        4,
        OVER_3Y,
        train=(
            "twisted ankle playing soccer, walking w/ limp",
            "ankle sprain, able to bear weight",
        ),
        test=("rolled R ankle on stairs, ambulatory", "ankle injury, swelling, walking"),
        pain=(2, 6),
    ),
    _Template(
        "laceration",
        4,
        OVER_3M,
        train=("2 cm lac to chin, bleeding controlled", "cut finger on knife, needs stitches"),
        test=("laceration to forehead from coffee table", "deep laceration to L palm from glass"),
        pain=(1, 5),
    ),
    _Template(
        "urinary",
        4,
        ADULT,
        train=("burning w/ urination x2 days", "dysuria and frequency, no fever"),
        test=("painful urination, ? UTI", "burning with urination since yesterday"),
        pain=(1, 4),
    ),
    _Template(
        "mild_asthma",
        4,
        OVER_3Y,
        train=(
            "mild wheezing, speaking full sentences",
            "wheezy since yesterday, ran out of inhaler",
        ),
        test=("wheezing, hx asthma, talking easily", "mild wheeze after a cold"),
    ),
    _Template(
        "infant_fall",
        4,
        ("<3m",),
        train=("rolled off bed onto carpet, cried right away, acting normal",),
        test=("dropped from car seat height, no LOC, feeding well",),
    ),
    _Template(
        "fever_ears",
        4,
        ("3m-3y", "3-8y"),
        train=("fever and pulling at ears since yesterday",),
        test=("febrile, tugging at L ear, drinking ok",),
        profile="fever",
    ),
    _Template(
        "migraine",
        4,
        ADULT,
        train=("migraine like usual, photophobia",),
        test=("headache x2 days, typical of her migraines",),
        pain=(3, 6),
    ),
    # ESI 5: no resources.
    _Template(
        "sore_throat",
        5,
        OVER_3Y,
        train=("sore throat x2 days, eating and drinking",),
        test=("scratchy throat and runny nose",),
        pain=(1, 4),
    ),
    _Template(
        "rash",
        5,
        ALL,
        train=("rash on arms x3 days, no fever",),
        test=("itchy rash on trunk since yesterday",),
    ),
    _Template(
        "diaper_rash",
        5,
        ("<3m", "3m-3y"),
        train=("diaper rash x4 days, feeding well",),
        test=("red diaper rash, otherwise well",),
    ),
    _Template(
        "thrush",
        5,
        ("<3m",),
        train=("white patches in mouth, feeding ok",),
        test=("thrush, baby feeding fine",),
    ),
    _Template(
        "refill",
        5,
        ADULT,
        train=("needs refill of BP meds, no complaints",),
        test=("ran out of his prescription, med refill",),
    ),
    _Template(
        "suture_removal",
        5,
        OVER_3Y,
        train=("here for suture removal, wound healing well",),
        test=("stitches out, placed 10 days ago",),
    ),
    _Template(
        "cold",
        5,
        OVER_3M,
        train=("runny nose and congestion x3 days",),
        test=("cold symptoms, mild cough, eating well",),
    ),
    _Template(
        "insect_bite",
        5,
        OVER_3M,
        train=("bug bite on leg, mild swelling",),
        test=("bee sting on hand, no trouble breathing",),
        pain=(1, 3),
    ),
    _Template(
        "ear_pain",
        5,
        ("3m-3y", "3-8y"),
        train=("pulling at R ear, no fever",),
        test=("earache since last night, afebrile",),
        pain=(1, 4),
    ),
)

# Abbreviations nurses swap in and out; each note picks a direction per pair at random.
_ABBREVIATIONS = (
    ("shortness of breath", "SOB"),
    ("chest pain", "CP"),
    ("nausea and vomiting", "N/V"),
    ("loss of consciousness", "LOC"),
    ("abdominal pain", "abd pain"),
    ("history of", "hx"),
)
# Past histories that no rule reads as a current problem.
_HISTORIES = (
    "",
    "",
    "",
    ", hx HTN",
    ", hx asthma",
    ", PMH DM2",
    ", no PMH",
    ", NKDA",
    ", history of HTN and high cholesterol",
    ", hx eczema",
)
_CONNECTORS = (" c/o ", " presents w/ ", ", ", " c/o ", " w/ ")
_QWERTY_NEIGHBOURS = {
    "a": "qs",
    "e": "wr",
    "i": "uo",
    "o": "ip",
    "n": "bm",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "l": "k",
    "c": "xv",
}


def _age(rng: random.Random, band: str) -> tuple[float, str]:
    """An age in years inside the band and how a nurse would write it."""
    kid = rng.choice(("M", "F", "boy", "girl", "male", "female"))
    if band == "<3m":
        days = rng.randint(5, 88)
        if days < 28:
            return days / 365.25, f"{days} day old {kid}"
        return days / 365.25, rng.choice(
            (f"{days // 7} wk old {kid}", f"{max(1, days // 30)} m/o {kid}")
        )
    if band == "3m-3y":
        months = rng.randint(3, 35)
        if months >= 24 and rng.random() < 0.5:
            return months / 12, f"{months // 12} y/o {kid}"
        return months / 12, f"{months} m/o {kid}"
    if band == "3-8y":
        years = rng.randint(3, 8)
        return float(years), rng.choice((f"{years} y/o {kid}", f"{years}yo {kid}"))
    years = rng.randint(9, 95)
    sex = rng.choice(("M", "F"))
    written = rng.choice((f"{years} y/o {sex}", f"{years}yo {sex}", f"{years}{sex}"))
    return float(years), written


def _abbreviate(rng: random.Random, text: str) -> str:
    # Whole words only: "CP" must not turn "CPR" into "chest painR".
    for long_form, short_form in _ABBREVIATIONS:
        # Nurses abbreviate more often than not.
        old, new = (long_form, short_form) if rng.random() < 0.7 else (short_form, long_form)
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    return text


def _slip(rng: random.Random, text: str) -> str:
    """One typing slip in one word of five letters or more: swap, drop, double or neighbour."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    k = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double", "neighbour"))
    if kind == "swap":
        word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    elif kind == "drop":
        word = word[:k] + word[k + 1 :]
    elif kind == "double":
        word = word[:k] + word[k] + word[k:]
    else:
        near = _QWERTY_NEIGHBOURS.get(word[k].lower(), word[k])
        word = word[:k] + rng.choice(near) + word[k + 1 :]
    words[i] = word
    return " ".join(words)


def handbook_level(template: _Template, vitals: Vitals) -> int:
    """The ESI level of a drawn case by the handbook, from what the generator knows it drew.

    The template is the situation (its level was set from the ESI v4 handbook when it was
    written, with a vitals profile that fits it); what a draw can add is a fever (>= 38.0 C)
    in a baby under 28 days, which is ESI 2 whatever the complaint, and a patient who
    answers only to pain (AVPU P: the handbook's "unresponsive", ESI 1).
    """
    level = template.level
    neonate = vitals.age_years < 28 / 365.25
    if neonate and vitals.temperature_c is not None and vitals.temperature_c >= 38.0:
        level = min(level, 2)
    if vitals.avpu in ("P", "U"):
        level = 1
    return level


def _note(
    rng: random.Random, template: _Template, band: str, *, phrases: tuple[str, ...]
) -> SyntheticNote:
    age, written_age = _age(rng, band)
    complaint = (
        written_age
        + rng.choice(_CONNECTORS)
        + _abbreviate(rng, rng.choice(phrases))
        + rng.choice(_HISTORIES)
    )
    if rng.random() < SLIP_RATE:
        complaint = _slip(rng, complaint)
    if rng.random() < 0.1:
        # Some nurses type everything in lower case.
        complaint = complaint.lower()
    fields = _PROFILES[template.profile](rng, band, age)
    vitals = Vitals(age_years=age, pain=rng.randint(*template.pain), **fields)
    return SyntheticNote(
        complaint=complaint,
        vitals=vitals,
        esi_level=handbook_level(template, vitals),
        age_band=age_band(age),
        template=template.name,
    )


def _generate(n: int, *, seed: int, split: str) -> list[SyntheticNote]:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    cells = [(level, band) for level in ESI_LEVELS for band in AGE_BANDS]
    by_cell = {
        cell: [t for t in TEMPLATES if t.level == cell[0] and cell[1] in t.bands] for cell in cells
    }
    notes: list[SyntheticNote] = []
    block: list[tuple[int, str]] = []
    for _ in range(n):
        if not block:
            block = cells[:]
            rng.shuffle(block)
        level, band = block.pop()
        template = rng.choice(by_cell[(level, band)])
        phrases = template.train if split == "train" else template.test
        notes.append(_note(rng, template, band, phrases=phrases))
    return notes


def generate_notes(n: int, *, seed: int) -> list[SyntheticNote]:
    """``n`` SYNTHETIC training notes, the same list for the same seed.

    Levels 1-5 and the four age bands are balanced (every 20 consecutive notes cover every
    pair); only the templates' training phrasings are used, so no note shares its phrasing
    with :func:`held_out_test_set`.

    Raises:
        ValueError: ``n`` is negative.
    """
    return _generate(n, seed=seed, split="train")


@functools.cache
def _test_set() -> tuple[SyntheticNote, ...]:
    return tuple(_generate(TEST_SET_SIZE, seed=TEST_SET_SEED, split="test"))


def held_out_test_set() -> list[SyntheticNote]:
    """The fixed SYNTHETIC test set: 300 notes from the templates' test phrasings only.

    It is disjoint from every :func:`generate_notes` output because the training and test
    phrasings of each template are disjoint lists (the tests check that, and that no
    complaint string is shared with ``generate_notes(300, seed=s)`` for seeds 0-99). Its seed
    and size are constants, so it never changes between runs or machines.
    """
    return list(_test_set())
