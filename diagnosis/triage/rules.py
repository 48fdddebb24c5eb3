"""The Emergency Severity Index (ESI v4) decision points as hard rules over a triage note.

A nurse's free-text complaint and the vital signs go in; out come the rules that fired, each
with a sentence the nurse can read, and three numbers:

- ``floor``: the most acute level the hard decision points A (needs an immediate life-saving
  intervention -> 1) and B (high-risk situation, new confusion/lethargy, severe pain or
  distress -> 2) mandate;
- ``resources_level``: 3/4/5 from the resources the complaint is expected to need (C);
- ``considered``: 2 when vital signs are in the danger zone for the patient's age (D).

:func:`combine` puts the triage model's level under these rules: they may raise its acuity
(lower the number), never lower it. Decision point D says "consider ESI 2"; for a
*suggestion* we take the safer choice and raise to 2 as well, and say so in the explanation,
leaving the nurse to lower it after assessment (the nurse always confirms or overrides).

Text handling is deliberately simple and inspectable: lower-case tokens, phrase tables with
the abbreviations nurses write (CP, SOB, N/V, LOC, SI/HI, OD, abd pain ...), stems
(``vomit*``), one-letter slips in long words (``unresponsvie``), and explicit negation
(``denies CP``, ``no LOC``) and history (``hx CVA``) cues with a short scope. When in doubt a
rule fires: a wrong extra rule costs the nurse one override, a missed one can cost a life.

This module imports no Django and no torch; it is used by the Django app and by training
scripts alike.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from diagnosis.triage.concepts import BY_CODE, CONCEPTS
from diagnosis.triage.concepts.base import Concept
from diagnosis.triage.concepts.cardiovascular import (
    FAINT_PHRASES,
    GRIT_IN_THE_EYE,
    RED_PATCH_ON_THE_WHITE,
    SIGHT_AS_USUAL,
    SIGHT_AT_RISK_PHRASES,
    SIGHT_STILL_LOST_PHRASES,
    STROKE_IN_OTHER_LANGUAGES,
)
from diagnosis.triage.concepts.medical import (
    AGRANULOCYTOSIS_MEDICINES,
    CANT_SAY_WHERE,
    DAYS_SHORT,
    FEVER_NOW,
    IBERIAN_SUICIDE,
    MEDICINES_TAKEN,
    NEPALI_SUICIDE,
    PASSIVE_WISH_NOT_TO_WAKE,
    SCANDINAVIAN_SUICIDE,
    SUICIDE_ELSEWHERE,
    TEN_OR_MORE,
    TURKISH_SUICIDE,
    WEAK_IMMUNITY_PHRASES,
)
from diagnosis.triage.concepts.surgical import (
    AFTER_BIRTH,
    BLOOD_THINNERS,
    BONE_WOUND_WORDS,
    FAMILY_SUDDEN_DEATH,
    HEAD_KNOCKS,
    INJURY_MARKS,
    LATE_PREGNANCY_STATED,
)

AVPU = ("A", "V", "P", "U")
AGE_BANDS = ("<3m", "3m-3y", "3-8y", ">8y")
ESI_LEVELS = (1, 2, 3, 4, 5)

# Danger-zone vital signs of ESI v4 (decision point D): above these heart and respiratory
# rates, or below this SpO2, consider ESI 2.
_DANGER_ZONE = {
    "<3m": {"heart_rate": 180, "respiratory_rate": 50},
    "3m-3y": {"heart_rate": 160, "respiratory_rate": 40},
    "3-8y": {"heart_rate": 140, "respiratory_rate": 30},
    ">8y": {"heart_rate": 100, "respiratory_rate": 20},
}
DANGER_SPO2 = 92
# SpO2 below this with severe respiratory distress needs an immediate intervention (A).
CRITICAL_SPO2 = 90
# Respiratory rate this far above the danger zone counts as severe distress by itself (A).
_SEVERE_TACHYPNOEA_MARGIN = 10
# A breathing patient this slow needs ventilation or an antidote now (A).
_BRADYPNOEA_MAX = 6
SEVERE_PAIN = 7
# A blood pressure in pregnancy's severe range (160 systolic or 110 diastolic), between the
# ages a pregnancy is told at.
_SEVERE_SYSTOLIC = 160
_SEVERE_DIASTOLIC = 110
_CHILDBEARING_YEARS = (10, 60)
_A_MANS_NOTE = re.compile(r"^\W*(?:\d+\s*(?:yo|y/o|y)?\s*m\b|\d+m\b)|\bgentleman\b")
_SOMEONE_ELSES = re.compile(
    r"\b(?:wife|daughter|sister|girlfriend|niece|granddaughter|cousin|friend|colleague)"
    r"(?:\s+in\s+law)?(?:\s+\w+){0,3}\s+(?:pregnant|gave\s+birth|delivered|had\s+(?:a|her|the)"
    r"\s+baby)|\bwife\s+(?:is\s+)?\d+\s*(?:weeks|wks|/40)"
)
_NO_PREGNANCY = re.compile(
    r"\bnever\s+(?:given\s+birth|had\s+(?:a\s+)?bab(?:y|ies))\b|\bnot\s+pregnant\b"
    r"|\bno\s+pregnancy\s*(?:[,.;]|$)"
)
_BIRTH_WORDS = re.compile(
    r"\b(?:gave birth|given birth|delivered|had (?:the|a|her|my) baby|baby (?:was )?born"
    r"|c ?section|caesarean|cesarean|post ?partum|post ?natal|since delivery|after delivery)\b"
)
_SAYS_JUST_NOW = re.compile(r"post ?partum|post ?natal|since delivery|after delivery")
_COUNT = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|few)"
_BIRTH_TIME = re.compile(
    rf"(?P<recent>\b{_COUNT}\s*(?:days?|d|weeks?|wks?|w)\b|\b\d/52\b|\bday\s+\d+\b"
    r"|\byesterday\b|\blast\s+(?:week|night)\b|\bthis\s+week\b|\bfortnight\b|\bweekend\b"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|\brecently\b)"
    rf"|(?P<long>\b{_COUNT}\s*(?:months?|mths?|mo|years?|yrs?)\b|\byears?\s+ago\b)"
)
_AT_TERM = ("at term", "term pregnancy", "full term", "overdue", "post dates", "postdates")
# Fever in a neonate (<28 days) is a high-risk situation (B); at 28 days to 3 months, consider 2.
FEVER_C = 38.0
# Below this a body is hypothermic (the twenty-sixth vignette set: an elderly woman found
# outdoors at night at 34.1 C, disoriented): it needs active rewarming and a monitor.
HYPOTHERMIA_C = 35.0
# A baby under 28 days is cold below this: in a neonate a low temperature, like a fever, may
# be the only sign of sepsis.
NEONATE_HYPOTHERMIA_C = 36.0
_NEONATE_YEARS = 28 / 365.25
# Chest pain is treated as suspicious of ACS from this age, or at any age with ACS features.
_ACS_AGE = 30


@dataclass(frozen=True)
class Vitals:
    """Vital signs at triage. Every measurement may be missing (None) except the age.

    Units: age in years (an infant of 6 weeks is ``6 * 7 / 365.25``), rates per minute, SpO2
    in %, blood pressure in mmHg, temperature in degrees Celsius, pain 0-10, mental status as
    AVPU (A)lert/(V)oice/(P)ain/(U)nresponsive, and the Glasgow Coma Scale 3-15.

    None means "not recorded". 0 means "looked for and absent", which is a finding:
    ``heart_rate=0`` no pulse, ``respiratory_rate=0`` not breathing, ``systolic_bp=0`` a
    blood pressure that cannot be measured, ``spo2=0`` no reliable oximeter trace. (The
    encounter stores these as explicit ticks; ``diagnosis.triage.services.vitals_of`` turns
    them into these zeros. The fields stay the same so the frozen synthetic test set, which
    is pinned by a hash of these values, keeps its identity.)

    Raises:
        ValueError: a value that cannot be a measurement (negative rates or age, SpO2 over
            100, pain outside 0-10, GCS outside 3-15, unknown AVPU, a temperature that is
            not in Celsius). AVPU is accepted in lower case and "" means not recorded.
    """

    age_years: float
    heart_rate: int | None
    respiratory_rate: int | None
    spo2: int | None
    systolic_bp: int | None
    diastolic_bp: int | None
    temperature_c: float | None
    pain: int | None
    avpu: str | None = "A"
    gcs: int | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.age_years) or not 0 <= self.age_years <= 130:
            raise ValueError(f"age must be 0-130 years, got {self.age_years}")
        for name in ("heart_rate", "respiratory_rate", "systolic_bp", "diastolic_bp"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} cannot be negative, got {value}")
        if self.spo2 is not None and not 0 <= self.spo2 <= 100:
            raise ValueError(f"SpO2 is a percentage, got {self.spo2}")
        if self.pain is not None and not 0 <= self.pain <= 10:
            raise ValueError(f"pain is scored 0-10, got {self.pain}")
        if self.gcs is not None and not 3 <= self.gcs <= 15:
            raise ValueError(f"GCS is 3-15, got {self.gcs}")
        # Catches Fahrenheit entered as Celsius: no living patient is at 10 C or 50 C.
        if self.temperature_c is not None and not 10 <= self.temperature_c <= 47:
            raise ValueError(f"temperature must be in degrees Celsius, got {self.temperature_c}")
        avpu = self.avpu.strip().upper() if isinstance(self.avpu, str) else self.avpu
        if avpu == "":
            avpu = None
        if avpu is not None and avpu not in AVPU:
            raise ValueError(f"avpu must be one of {AVPU}, got {self.avpu!r}")
        # Frozen dataclass: normalising the one field needs object.__setattr__.
        object.__setattr__(self, "avpu", avpu)


@dataclass(frozen=True)
class FiredRule:
    """One decision point that applies, with the sentence shown to the nurse.

    ``mandatory`` is True for A and B (a hard floor) and False for C (resources) and D
    (danger-zone vitals: "consider ESI 2").
    """

    code: str
    decision_point: str
    level: int
    reason: str
    mandatory: bool


@dataclass(frozen=True)
class RulesResult:
    """What the ESI decision points say about one note; see :func:`esi_rules`."""

    fired: tuple[FiredRule, ...]
    floor: int | None
    resources_level: int | None
    considered: int | None
    # Heart rate / systolic pressure (see :func:`shock_index`); shown whatever fired.
    shock_index: float | None = None

    @property
    def hard_rules(self) -> tuple[FiredRule, ...]:
        """The mandatory (A/B) rules, most acute first."""
        return tuple(sorted((r for r in self.fired if r.mandatory), key=lambda r: r.level))


def age_band(age_years: float) -> str:
    """The ESI danger-zone age band: "<3m", "3m-3y", "3-8y" or ">8y".

    Boundaries: under 0.25 years is "<3m"; 0.25 up to (not including) 3 years is "3m-3y";
    3 to 8 years inclusive is "3-8y"; older than 8 years is ">8y".
    """
    if age_years < 0.25:
        return "<3m"
    if age_years < 3:
        return "3m-3y"
    if age_years <= 8:
        return "3-8y"
    return ">8y"


def danger_zone(age_years: float) -> dict:
    """Danger-zone thresholds for the age: a value strictly above the rates, or SpO2 below.

    Returns ``{"band": str, "heart_rate": int, "respiratory_rate": int, "spo2": 92}``.
    """
    band = age_band(age_years)
    return {"band": band, **_DANGER_ZONE[band], "spo2": DANGER_SPO2}


def hypotension_threshold(age_years: float) -> int:
    """Systolic pressure (mmHg) below which a patient of this age is hypotensive (PALS).

    Under 28 days: 60; 28 days to under 1 year: 70; 1 to 10 years: 70 + 2 x age in years
    (rounded down to whole mmHg); older than 10 years, adults included: 90.
    """
    if age_years < _NEONATE_YEARS:
        return 60
    if age_years < 1:
        return 70
    if age_years <= 10:
        return int(70 + 2 * age_years)
    return 90


def _hypotension_limit_words(age_years: float) -> str:
    """How the hypotension limit for this age was reached, for a reason sentence."""
    limit = hypotension_threshold(age_years)
    if age_years < _NEONATE_YEARS:
        return f"{limit} mmHg, the limit for a baby under 28 days"
    if age_years < 1:
        return f"{limit} mmHg, the limit for an infant under 1 year"
    if age_years <= 10:
        return f"{limit} mmHg (70 + 2 x age), the limit for a child aged 1 to 10 years"
    return f"{limit} mmHg, the limit over 10 years of age"


def shock_index(vitals: Vitals) -> float | None:
    """Heart rate divided by systolic pressure, to two decimals; None unless both were
    measured (a missing pulse or an unmeasurable pressure has no index)."""
    hr, sbp = vitals.heart_rate, vitals.systolic_bp
    if not hr or not sbp:
        return None
    return round(hr / sbp, 2)


_BAND_WORDS = {
    "<3m": "an infant under 3 months",
    "3m-3y": "a child aged 3 months to 3 years",
    "3-8y": "a child aged 3 to 8 years",
    ">8y": "a patient older than 8 years",
}

# --- Text -------------------------------------------------------------------------------

# Tokens keep internal slashes ("c/o", "n/v", "si/hi") because nurses' abbreviations use them;
# punctuation that ends a clause is kept as its own token for the negation scope.
_TOKEN = re.compile(r"[a-z0-9]+(?:/[a-z0-9]+)*|[.;:,?]")
# Words joined by a slash are read apart from this many letters each (_split_slashes).
_SLASHED_WORD = 4
_PAIN_SCORE = re.compile(r"\b(10|[0-9])\s*/\s*10\b")

# Negation and history cues: a finding after them (within a few words) is not current.
# Cues marked comma-sensitive stop at a comma ("no LOC, CP" still has CP); "denies" lists
# run over commas ("denies CP, SOB, N/V").
_CUES_OVER_COMMAS = frozenset({"denies", "denied", "deny", "negative", "neg", "nil", "niega"})
# French "pas" (not: "pas SOB au repos", "pas de fièvre"), "aucun(e)" (none), "sans"
# (without) and "nie" (denies), cues up to a comma in a note written in French (the
# twenty-sixth vignette set): _Note._french_cue. Not in an English note ("sent by PAs for
# chest pain", "Mr Sans"), nor a Polish one ("nie chcę żyć": does not want to live).
_FRENCH_CUES = frozenset({"pas", "aucun", "aucune", "sans", "nie"})
# Words of a note in French (two of them make one): not "pas" nor "de" ("de novo").
_FRENCH_WORDS = frozenset(
    {"le", "la", "les", "du", "des", "au", "aux", "avec", "pour", "est", "une", "dans", "sur"}
    | {"pis", "elle", "il", "depuis", "hier", "mais", "sa", "son", "ses", "qui", "que", "et"}
)
# "Pas capable" is "unable"; "sans arrêt" is "non-stop"; "sans prodrome" says what was not.
_NOT_AFTER_FRENCH_CUE = {
    "pas": frozenset({"capable", "capables", "bien", "mal"}),
    "sans": frozenset({"arret", "cesse", "interruption", "prodrome", "avertissement", "warning"}),
}
# Cues that are also a test's result: after a test's name they negate nothing that follows,
# but the analyte named right after them ("urine neg ketones").
_RESULT_WORDS = frozenset({"negative", "neg"})
# Tests whose result "negative" gives: "negative troponin x2, chest pain" negates the test only.
_TEST_NAMES = frozenset(
    {"covid", "flu", "rat", "pcr", "swab", "lateral", "trop", "troponin", "troponins", "ct"}
    | {"cta", "ctpa", "ecg", "ekg", "xr", "xray", "cxr", "ddimer", "dimer", "bhcg", "hcg"}
    | {"upt", "urine", "dip", "dipstick", "test", "tests", "bloods", "culture", "cultures"}
    | {"mri", "scan", "strep", "monospot", "screen", "result", "results"}
)
# What may stand between a test's name and its result: "hCG: negative", "UPT done - neg".
_RESULT_LEAD_IN = frozenset({":", "-", "done", "was", "is", "came", "back", "result", "="})
_ANALYTES = frozenset(
    {"ketones", "ketone", "nitrites", "nitrite", "leucocytes", "leukocytes", "blood"}
    | {"protein", "glucose", "hcg", "bhcg"}
)
_CUES_TO_COMMA = frozenset(
    {
        "no",
        "not",
        "without",
        "w/o",
        "hx",
        "h/o",
        "pmh",
        "pmhx",
        "history",
        "nor",
        "previous",
        "previously",
        "background",
        "remote",
        "fhx",
        "fh",
        # Tagalog "walang"/"wala" (no, none) and Spanish "sin" (without), in mixed notes.
        "walang",
        "wala",
        "sin",
        # Portuguese "nega" (denies: "nega tabagismo, refere dor no peito"), to its comma.
        "nega",
        # Dutch "geen" (no), "ontkent" (denies), to their comma or a "maar" (but); not
        # "niet" (not), which follows what it negates as often ("kon niet slapen door ...").
        "geen",
        "ontkent",
        # German "kein(e)" (no) and Italian "senza" (without), to their comma ("kein Fieber,
        # keine Dysurie": the forty-ninth vignette set); never English words.
        "kein",
        "keine",
        "keinen",
        "keinerlei",
        "senza",
        # Vietnamese "không" (no, not), "chưa" (not yet), "hết" (gone), accents dropped.
        "khong",
        "chua",
        "het",
    }
)
# Of them, those that are also names ("Mr Chua", the thirty-first set's review): cues only in a
# note with a Vietnamese word besides them.
_VIETNAMESE_ONLY_CUES = frozenset({"chua", "het"})
_VIETNAMESE_WORDS = frozenset(
    {"khong", "dau", "nguc", "tuc", "kho", "tho", "roi", "lam", "qua", "nhieu", "duoc", "cua"}
    | {"ong", "gio", "hom", "nay", "mot", "chut", "bung", "sot", "ho"}
)
# Words of romanized Japanese ("shokuyoku nai": no appetite) and of Thai or Lao ("nai": in),
# where a lowercase "nai" is a word of the language, not a non-accidental injury ("NAI" in
# capitals still is one: the thirty-sixth vignette set).
_NAI_IN_ITS_LANGUAGE = frozenset(
    {"desu", "masu", "mashita", "itai", "kurushii", "ikigurushii", "daijoubu", "daijobu"}
    | {"chotto", "guttari", "zenzen", "onaka", "atama", "mune", "gaman", "dekiru", "dekinai"}
    | {"shokuyoku", "wakaranai", "sukoshi", "dake", "kusuri", "netsu", "kimochi", "warui"}
    | {"hakike", "memai", "shibire", "jeb", "jep", "khood", "nuat", "sabai", "khrap", "krub"}
    | {"puat", "lom"}
    # Burmese ("ma sar nai bu": cannot eat; the fiftieth vignette set).
    | {"sar", "bu"}
)
# Endings of a Japanese word that "nai" negates ("utte", "yoku", "wakara", "ugoka"), and
# Thai or Lao body parts after "nai" (in): "jeb nai ok" (pain in the chest).
_JAPANESE_BEFORE_NAI = ("te", "de", "ku", "ra", "ka", "ma", "wa", "ga", "sa", "ta", "na")
_THAI_BODY_PARTS = frozenset({"ok", "aok", "thong", "tong", "hua", "khor", "tua", "jai", "ta"})
_NAI_IN_CAPITALS = re.compile(r"(?<![A-Za-z])NAI(?![A-Za-z])")
# Of the cues, those that say "in the past", not "absent": a risk factor told as history
# ("hx renal transplant", "previous DVT") still counts in a combination of findings.
_HISTORY_CUES = frozenset(
    {"hx", "h/o", "pmh", "pmhx", "history", "previous", "previously", "background", "remote"}
    | {"fhx", "fh"}
)
# "Chest pain? No - ...", "scrotal pain denied": a finding negated by what follows it.
# What the reader writes for "-ve" ("COVID -ve"): it negates the finding before it only.
_NEGATIVE_AFTER_WORD = "negve"
# Hindi "nahi"/"nahin" (not) follows what it negates ("koi extra tablet nahi").
_NEGATED_AFTER = frozenset(
    {"denied", "negative", "neg", "nil", "absent", "nahi", "nahin", "khong", _NEGATIVE_AFTER_WORD}
)
_ANSWER_NO = frozenset({"no", "nope", "not", "negative", _NEGATIVE_AFTER_WORD})
# What may stand between a question and its answer in a transcript: "? A: No".
_ANSWER_MARK = frozenset({"a", ":", "answer"})
# Whom or when a question about a finding asks, between the finding and its "?".
_ASKED_OF = frozenset({"yourself", "himself", "herself", "themselves", "others", "anyone"})
_PLAIN_NO = frozenset({"no", "nope"})
_ANSWER_END = frozenset({".", ",", ";", ":", "?", "!"})
# "DKA in her teens", "seizures in childhood": told as history.
_LIFE_STAGES = {
    "in": frozenset({"childhood", "infancy", "youth"}),
    "her": frozenset({"teens", "twenties", "youth", "childhood"}),
    "his": frozenset({"teens", "twenties", "youth", "childhood"}),
    "my": frozenset({"teens", "twenties", "youth", "childhood"}),
}
# "had meningitis as a baby", "DKA twice as a teenager", "sepsis last year": told as history.
_AS_A_CHILD = frozenset(
    {"baby", "child", "kid", "teenager", "teen", "boy", "girl", "toddler", "student", "infant"}
)
_WHO_WAS = frozenset({"she", "he", "i", "they", "we"})
_YOUNG = frozenset({"young", "little", "small", "younger", "teenager", "schoolgirl", "schoolboy"})
# A finding followed, in its clause, by a past year ("stroke in 2018") or "N years ago" is
# history, not the complaint. Weeks and months are not: a TIA last month is still high risk.
_YEARS_AGO = frozenset({"year", "years", "yr", "yrs", "decade", "decades"})
_PAST_WINDOW = 6
# The words a date may open with after a comma ("in 2019", "a few years ago").
_DATE_OPENERS = frozenset({"in", "a", "few", "several", "many", "some", "two", "three", "ten"})
# Weeks and months back ("last month", "3 wks ago"), unless lasting until now ("since last
# week", "for the last month"): _Note._weeks_back.
_WEEKS = frozenset({"week", "weeks", "wk", "wks", "month", "months", "mth", "mths", "fortnight"})
_UNTIL_NOW = frozenset({"since", "from", "for", "over", "the", "this", "through", "all"})
# A fever that began weeks ago and goes on is current ("fevers began 2 weeks ago, ongoing").
_GOES_ON = frozenset({"began", "started", "start", "ongoing", "still", "again", "continuing"})
_GOES_ON |= frozenset({"persisting", "persistent", "worse", "worsening", "since", "every"})
_FEVER_NOW = frozenset(FEVER_NOW)
# Findings a combination needs now that a date weeks back takes out (a fever; a knock to the
# head: "head injury 3 weeks ago ... now vomited x2 after a dodgy takeaway").
_DATED_NOW = _FEVER_NOW | frozenset(HEAD_KNOCKS)
# "no improvement in CP" still has chest pain: these words after a cue cancel it.
_PSEUDO_NEGATION = frozenset(
    {"improvement", "improving", "improved", "relief", "relieved", "better", "change", "help"}
    # and in French ("aucun soulagement", "pas d'amélioration").
    | {"soulagement", "amelioration", "changement"}
    # "no energy and vomiting", "no appetite, vomiting": the vomiting is there.
    | {"energy", "appetite"}
)
# A new clause or a new complaint ends a cue's scope.
_SCOPE_END = frozenset(
    {
        ".",
        ";",
        ":",
        "?",
        "but",
        "however",
        "now",
        "c/o",
        "complains",
        "reports",
        "presents",
        "states",
        # Dutch "maar" (but), "wel" (yes, though): "geen koorts maar wel pijn op de borst".
        "maar",
        "wel",
    }
)
_NEGATION_WINDOW = 6
# Words around a nurse's "MI" in a note quoting Patois (_Note._mi_framed).
_MI_FRAMED_BEFORE = frozenset(
    {"?", "query", "likely", "possible", "probable", "suspected", "hx", "previous", "old"}
    | {"inferior", "anterior", "lateral", "posterior", "acute", "ecg", "stemi", "nstemi"}
)
_MI_FRAMED_AFTER = frozenset({"on", "changes", "ecg", "per", "?"})
# ... and, in a note in German, Italian or Spanish, its "ich", "mi" or "si" framed as the
# nurse's by the words around it ("outside CT: small ich", "recent mi 2 weeks ago",
# "endorses si", "pt reports active si": the forty-third set's review).
_ABBREVIATION_FRAMED_BEFORE = _MI_FRAMED_BEFORE | frozenset(
    {"ct", "small", "large", "recent", "prior", "s/p", "known", "post", "r/o", "sah"}
    | {"endorses", "endorsing", "endorsed", "reports", "reporting", "reported", "has", "had"}
    | {"active", "passive", "with", "denies", "admits", "expresses", "voices", "and", "or"}
)
_ABBREVIATION_FRAMED_AFTER = _MI_FRAMED_AFTER | frozenset(
    {"seen", "with", "without", "plan", "ideation", "thoughts", "and", "or", "sah", "bleed"}
)
_MI_IN_CAPITALS = re.compile(r"(?<![A-Za-z])(?:N?STE)?MI(?![A-Za-z])")
# A note in German, or in Italian or Spanish (two of these words make one; none is also a
# common English word or abbreviation): its lowercase "ich" is "I", its "mi" "me" or "my"
# and its "si" "yes" or "if", not an intracranial haemorrhage, a heart attack or suicidal
# ideation (the forty-third vignette set: "ich" in a paraglider's "morgen hab ich 6 Tandems
# gebucht", "mi" and "si" in an ultra-runner's "mi fate una flebo"), unless written in
# capitals (_Note._abbreviation_in_capitals) or, for "mi", framed as the nurse's (_MI_FRAMED).
_GERMAN_WORDS = frozenset(
    {"und", "nicht", "mit", "der", "das", "ist", "seit", "bei", "kein", "keine", "mir"}
    | {"mein", "meine", "habe", "hab", "ein", "eine", "auch", "nur", "schon", "noch"}
    | {"wegen", "beim", "vom", "zum", "zur", "sehr", "wenn", "aber", "oder", "nix"}
    | {"gestern", "heute", "jetzt", "morgen", "rechts", "immer", "ganz", "wieder"}
)
_ITALIAN_OR_SPANISH_WORDS = frozenset(
    # Italian
    {"ho", "ieri", "tutto", "anche", "quando", "che", "il", "della", "nelle", "alla"}
    | {"questa", "oggi", "molto", "poi", "dopo", "gli", "una", "uno", "sta", "stato"}
    | {"gamba", "pancia", "testa", "sempre", "del"}
    # Spanish
    | {"que", "muy", "hace", "desde", "ayer", "hoy", "dolor", "tiene"}
    | {"esta", "pero", "por", "duele", "tengo", "estoy", "siento", "mucho", "cuando"}
)
_ABBREVIATIONS_OF_A_LANGUAGE = frozenset({"ich", "mi", "si"})
# A note quoting Bosnian, Croatian, Serbian, Slovene, Czech, Slovak or Polish (two of these
# words make one; none an English, Spanish or Italian word, nor a common name): its
# lowercase "mi" is "me", "to me" ("boli mi grlo": my throat hurts), no MI.
_SLAVIC_WORDS = frozenset(
    {"samo", "nije", "nisam", "nema", "jako", "jutros", "sinoc", "jucer", "juce", "danas"}
    | {"boli", "bolovao", "bolovala", "srca", "srce", "glava", "glave", "toplo", "slabije"}
    | {"prehlada", "mokar", "mokra", "zgaravica", "zelucu", "kasalj", "kamilice", "vcera"}
    | {"dnes", "nista", "mozda", "zasto", "dobro", "ovo", "bilo", "mogu", "moze", "jsem"}
    | {"neni", "bolest", "hlava", "trochu", "bardzo", "wczoraj", "tylko", "grlo", "otekao"}
    | {"zglob", "noga", "ruka", "trbuh", "stomak", "prsa"}
)
# A note quoting Burmese, romanized (two of these words make one): its "si" is a word of the
# language ("myet si ka thway htwet nay de": blood comes from the eye; the fiftieth vignette
# set), not suicidal ideation.
_BURMESE_WORDS = frozenset(
    {"myet", "nay", "thway", "htwet", "kwe", "thwar", "mha", "kyi", "hpyar", "sar", "bu"}
    | {"kaung", "khaung", "kyauk"}
)
# The most words of another item of a list of negatives than the finding's ("no fever,
# vision change or ..."), and the record's fields a list never starts with ("No allergies,
# SOB at rest ...": what follows is the complaint).
_LIST_ITEM_WORDS = 3
_FIELD_NEGATIVES = frozenset(
    {"allergies", "allergy", "known", "nkda", "kda", "meds", "medications", "medication"}
    | {"pmh", "pmhx", "hx", "history", "regular", "significant", "previous", "drug", "drugs"}
)
# Abbreviations that mean something else before these words ("SI joint pain" is not
# suicidal ideation).
# Chest pain in Nepali ("chhati ali ali dukhyo": the chest hurt a little; the twenty-seventh
# vignette set), for CHEST_PAIN_PHRASES; not "chhati dukheko chaina" (does not hurt).
CHEST_PAIN_NEPALI = tuple(
    f"{chest} {how}{hurts}"
    for chest in ("chhati", "chati", "chhati ma", "chati ma")
    for how in ("", "ali ", "ali ali ", "dherai ")
    for hurts in ("dukhyo", "dukhcha", "dukhchha", "dukheko", "dukhne", "dukhera")
)
# Chest pain in Vietnamese, its accents dropped ("tức ngực", a tight chest; "đau ngực",
# chest pain; the thirtieth vignette set), for CHEST_PAIN_PHRASES; not after "không" (no).
CHEST_PAIN_VIETNAMESE = ("tuc nguc", "dau nguc", "nang nguc", "dau that nguc", "nguc dau")
CHEST_PAIN_VIETNAMESE += ("dau o nguc", "tuc o nguc", "dau nhoi o nguc", "dau nhoi nguc")
# ... and in Turkish, its letters plain (the forty-fifth vignette set: "gogus ortasinda
# baski, sol kola vuruyor": a pressure in the middle of the chest, into the left arm); not
# with a denial after it (_TURKISH_DENIALS) nor of a breast that feeds (_TURKISH_BREAST).
CHEST_PAIN_TURKISH = (
    *(
        f"{chest} {what}"
        for chest in (
            "gogus",
            "gogsu",
            "gogsum",
            "gogsumde",
            "gogsunde",
            "goguste",
            "gogus ortasinda",
            "gogsun ortasinda",
            "gogsumun ortasinda",
            "gogsunun ortasinda",
            "gogus kemiginin arkasinda",
            "gogus bolgesinde",
            "gogus kafesinde",
            "gogsumun sol tarafinda",
            "gogsunun sol tarafinda",
            "gogsun sol tarafinda",
        )
        for what in (
            "agri",
            "agrisi",
            "agrim",
            "agriyor",
            "agrilari",
            "agrisiyla",
            "agrilariyla",
            "baski",
            "baskisi",
            "sikisma",
            "sikismasi",
            "sikisiyor",
            "agirlik",
            "agirligi",
            "ezilme",
        )
    ),
    "kalbim sikisiyor",
    "kalbi sikisiyor",
)
# ... in Indonesian and Malay (the forty-seventh vignette set's Bali and Jakarta notes: "nyeri
# dada (+)"): a pain, a weight or a pressing in the chest (not "dada sesak", a chest a bit
# tight with "masuk angin", a chill); denied just before it ("tidak ada nyeri dada", "tanpa
# nyeri dada"; not "tanpa sebab", without a cause) or "(-)" after: _Note._indonesian_negation.
CHEST_PAIN_INDONESIAN = (
    "nyeri dada",
    "sakit dada",
    "sakit di dada",
    "dada sakit",
    "dada nyeri",
    "dada berat",
    "dada terasa berat",
    "dada rasa berat",
    "dada tertekan",
    "dada seperti ditekan",
    "dada rasa ditekan",
)
# ... in Portuguese, Italian and German (the thirty-ninth vignette set: a heart attack at a
# mountain hut told in Italian), accents dropped ("ß" as "ss", "ü" as "u").
CHEST_PAIN_EUROPEAN = (
    # Dutch and Flemish (the forty-eighth vignette set: "ontkent pijn op de borst", denied
    # before it, as "geen" does).
    "pijn op de borst",
    "pijn op borst",
    "druk op de borst",
    "drukkend gevoel op de borst",
    "beklemmend gevoel op de borst",
    "beklemming op de borst",
    "borstpijn",
    "thoracale pijn",
    "retrosternale pijn",
    "dor no peito",
    "dores no peito",
    "dor toracica",
    "aperto no peito",
    "pressao no peito",
    "peso no peito",
    "dolore al petto",
    "dolore toracico",
    "dolore retrosternale",
    "peso al petto",
    "peso sul petto",
    "pesantezza al petto",
    "pesantezza sul petto",
    "oppressione al petto",
    "oppressione toracica",
    "brustschmerz",
    "brustschmerzen",
    "schmerzen in der brust",
    "schmerz in der brust",
    "druck auf der brust",
    "engegefuhl in der brust",
    "enge in der brust",
    # A pressure or a weight in the middle of the chest or behind the breastbone told in
    # German shorthand (the forty-third vignette set: "'Druck' Brustmitte, zieht in li
    # Kiefer"), and the chest's own words for it.
    *(
        f"{what} {where}"
        for what in ("druck", "druckgefuhl", "schmerz", "schmerzen", "enge")
        for where in (
            "brustmitte",
            "mitte brust",
            "in der brustmitte",
            "hinter dem brustbein",
            "hinterm brustbein",
            "retrosternal",
        )
    ),
    "brustdruck",
    "brustenge",
    "thoraxschmerz",
    "thoraxschmerzen",
    *CHEST_PAIN_TURKISH,
)
# Counts in words before a unit ("x three mo SI": months, no Cantonese).
_NUMBER_WORDS = frozenset(
    {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "few"}
    | {"several", "many", "some", "x", "for", "last", "past"}
)
# Their negations, up to three words before ("sem dor no peito", "não tem dor no peito",
# "non ha dolore al petto", "keine Brustschmerzen") or as the answer after ("Brustschmerzen:
# keine", "dolore al petto: no", "gogus agrisi yok"): _Note._european_negation.
_EUROPEAN_NEGATIONS = frozenset(
    {"sem", "nega", "negou", "nao", "senza", "nessun", "nessuna", "non", "keine", "kein"}
    | {"keinen", "ohne", "nie", "niega", "nunca", "mai", "geen", "ontkent", "zonder", "ikke"}
    | {"avkrefter", "benekter", "nekter", "neker", "nekar", "inga"}
    # Russian "otritsaet" (denies): "otritsaet suitsidalnye mysli".
    | {"otritsaet", "otricaet"}
    # Icelandic, Finnish, Hungarian, Albanian, Czech, Maltese and Afrikaans denials and
    # "none", "without" (the fifty-second set's languages: "neitar sjálfsvígshugsunum",
    # "ei itsemurha-ajatuksia", "nincs öngyilkossági gondolata", "bez sebevražedných").
    | {"neitar", "engar", "engin", "kieltaa", "tagadja", "nincs", "nincsenek", "mohon"}
    | {"popira", "neguje", "jichad", "cahad", "ontken", "uyaphika", "akafuni", "haana"}
)
# ... and those that deny only right before what they deny, being also "nor", "not" or
# "without" in a sentence that goes on to say it ("ei itsemurha-ajatuksia", no suicidal
# thoughts; not "não dorme nem come com dor no peito", neither sleeps nor eats, with chest
# pain; not "bez něj nechci žít", I don't want to live without him).
_EUROPEAN_NEGATIONS_RIGHT_BEFORE = frozenset({"ingen", "ei", "nem", "bez"})
# ... Russian "net" (no, none) too, now that Cyrillic is read ("нет смысла, не хочу жить":
# there is no point, I don't want to live; the fifty-third set's review).
_EUROPEAN_NEGATIONS_RIGHT_BEFORE |= {"net"}
_EUROPEAN_ANSWERS = frozenset({"no", "nein", "keine", "nao", "nessuno", "negativo", "assente"})
# ... and those that answer only after a colon or a question mark ("borstpijn: nee"; not
# "borstpijn geen koorts", chest pain, no fever; the forty-eighth set's review), as does
# Norwegian and Swedish "ingen" (none), before only right before ("ingen selvmordstanker";
# not "ingen bryr seg, vil ikke leve", nobody cares).
_EUROPEAN_MARKED_ANSWERS = frozenset({"nee", "geen", "nei", "nej", "ingen"})
# Turkish denies after what it denies, and a list before one denial ("gogus agrisi, nefes
# darligi yok": no chest pain nor breathlessness; "intihar dusuncesi: yok"), up to a "var"
# (there is) or the sentence's end: _Note._turkish_denial.
_TURKISH_DENIALS = frozenset({"yok", "yoktu", "olmadi", "olmamis", "degil", "etmiyor"}) | {
    "etmedi",
    "etmedigini",
    "olmadan",
    "olmadigini",
    "reddediyor",
    "istemiyor",
    "istemiyorum",
    "istemedigini",
    "dusunmuyor",
    "tanimlamiyor",
    "oykusu",
    "hikayesi",
}
_TURKISH_AFFIRMED = frozenset({"var", "vardi", "mevcut", ".", ";", "?", "!"})
_TURKISH_DENIAL_REACH = 7
_TURKISH_CHEST_PAIN = frozenset(CHEST_PAIN_TURKISH)
_TURKISH_DENIED = _TURKISH_CHEST_PAIN | frozenset(TURKISH_SUICIDE)
# Nepali, too, denies after ("marna man lagdaina", it does not feel like dying;
# "aatmahatya ko bichar chaina", no thought of suicide) and tells the past there ("gareko
# thiyo", had done; "2 barsa agadi", two years ago), up to the sentence's end or a word that
# says it is so now ("lagcha"); a relative's ("mama le aatmahatya gareko") is no patient's:
# _Note._nepali_denial.
_NEPALI_DENIALS = frozenset({"chaina", "chhaina", "chainan", "chhainan", "lagdaina", "lagena"}) | {
    "lagdain",
    "hoina",
    "haina",
    "gardaina",
    "gardina",
    "garena",
    "thiyo",
    "thiye",
    "agadi",
    "pahile",
}
# A bone "come out" as the patient tells it, not where the nurse saw none ("the bone come
# out!!" of a jammed finger, then "skin intact, no bone visible": the forty-seventh vignette
# set): _Note._no_bone_seen.
_BONE_OUT_TOLD = frozenset(
    {"bone sticking out", "bone poking out", "bone poking through", "bone come out"}
    | {"bone came out", "bone coming out", "bone comes out", "bone out", "bone through"}
    | {"bone is out", "bone is poking", "bone is sticking"}
)
# A little battery found again or changed in its clause ("het batterijke later gevonden",
# "batterijtje van zijn hoorapparaat vervangen"; not "niet meer teruggevonden", not found
# again: the forty-eighth vignette set and its review): _Note._battery_found.
_DUTCH_BATTERY = frozenset({"knoopcel*", "knoopbatterij*", "batterijke", "batterijtje"})
_BATTERY_FOUND = frozenset({"teruggevonden", "gevonden", "vervangen", "verwisseld"})
_BONE_SEEN = frozenset({"visible", "seen", "showing", "exposed", "protruding", "sticking"})
_NEPALI_AFFIRMED = frozenset({"cha", "chha", "lagcha", "lagchha", "lagyo", ".", ";", "?", "!"})
_NEPALI_REACH = 6
_NEPALI_DENIED = frozenset(NEPALI_SUICIDE)
# Suicide told in Urdu or Hindi is denied by a "nahi" after it in its clause ("khudkushi ka
# koi irada nahi": no thought of suicide; the forty-ninth set): _Note._denied_after.
_SUICIDE_ELSEWHERE = frozenset(SUICIDE_ELSEWHERE)
_URDU_DENIALS = frozenset({"nahi", "nahin", "nai"})
_URDU_REACH = 4
_NEPALI_RELATIVES = frozenset({"mama", "buwa", "baba", "aama", "ama", "dai", "didi", "bhai"}) | {
    "bahini",
    "sathi",
    "kaka",
    "kaki",
    "hajurbuwa",
    "hajuraama",
    "chora",
    "chori",
    "srimati",
    "shrimati",
    "shriman",
    "logne",
    "swasni",
}
# A breast that feeds ("emziriyor, sol gogsunde agri": Turkish "gogus" is both).
_TURKISH_BREAST = ("emzir", "meme", "lohusa")
_EUROPEAN_CHEST_PAIN = frozenset(CHEST_PAIN_EUROPEAN)
# Negated in their language as the chest pain is: suicide told in Norwegian, Swedish or
# Danish ("ingen selvmordstanker"; "selvmordstanker: nei"), a stroke told in Italian, German
# or French ("keine Sprachstörung", "nega disartria").
_EUROPEAN_NEGATED = (
    _EUROPEAN_CHEST_PAIN
    | frozenset(SCANDINAVIAN_SUICIDE)
    | frozenset(STROKE_IN_OTHER_LANGUAGES)
    | frozenset(SUICIDE_ELSEWHERE)
)
# Suicide told in Spanish or Portuguese is denied by a word up to three before it in its
# clause ("niega ideas suicidas", "sem ideação suicida"; not "nao aguento mais, quero
# morrer", I can't take it any more) or a "no" answering its question ("quiere morir? no"):
# _Note._iberian_denial.
_IBERIAN_SUICIDE = frozenset(IBERIAN_SUICIDE)
_IBERIAN_DENIALS = frozenset({"niega", "niego", "nega", "negou", "nego", "sin", "sem", "nunca"})
_INDONESIAN_CHEST_PAIN = frozenset(CHEST_PAIN_INDONESIAN)
_INDONESIAN_NEGATIONS = frozenset({"tidak", "tdk", "tak", "gak", "nggak", "enggak", "tanpa"}) | {
    "tiada",
    "bukan",
}
_NONE_ANSWERS = ("none", "nil", "no", "negative", "neg")
# "Knows where she is and what day it is, isn't muddled at all" (the fourteenth paraphrase
# round): oriented, the opposite of not knowing it; not "barely knows", "doesn't know".
_ORIENTED_IN_TIME = frozenset(
    f"what {unit} it {tense}" for unit in ("day", "month", "year") for tense in ("is", "was")
)
_KNOWS = frozenset({"knows", "knew", "remembers", "remembered"})
_KNOWS_AFTER = frozenset({"she", "he", "they", "patient", "pt", "and", "still", "fully", "also"})
_ORIENTED_WINDOW = 8
_NOT_BEFORE = {
    # "A killer hangover", "killer heels": no weed killer (the fourteenth paraphrase round).
    "killer": frozenset({"hangover", "headache", "migraine", "heels", "workout", "shift"}),
    # A child who "gulped it" (a coin, "then nothing": the fifty-ninth vignette set)
    # swallowed; a man "mumbling through gauze" after a tooth out speaks through it.
    "gulp*": frozenset({"it"}),
    # "No urine infection symptoms" (the sixty-second set's review): no urine absent.
    "no urine": frozenset({"infection", "symptoms", "problems", "test", "sample", "dip"}),
    # A lump "thats pumping out pus" is an abscess.
    **dict.fromkeys(
        ("lump thats pumping", "groin thats pumping", "groin is pumping"),
        frozenset({"out", "pus"}),
    ),
    # "Pain in her back went away" (the sixty-first set's review): no back gone.
    "back went": frozenset({"away", "off", "to", "home", "into", "in"}),
    # "Her hearing aid battery's dead": no battery swallowed.
    **dict.fromkeys(
        ("battery", "batteries"),
        frozenset({"dead", "flat", "died", "charger", "charging", "pack", "operated", "powered"}),
    ),
    # "Mejor muerto que sencillo" (better dead than single: a joke; the forty-seventh set's
    # review).
    "mejor muerto": frozenset({"que"}),
    "mejor muerta": frozenset({"que"}),
    # Paper towels or a dressing soaked (with blood: the forty-sixth vignette set's "dad
    # holding soaked paper towels" for a chin cut) are no sweat.
    "soaked": frozenset({"paper", "towels", "towel", "gauze", "dressing", "dressings", "pad"})
    | frozenset({"pads", "bandage", "bandages", "cloth", "cloths", "rag", "rags"})
    | frozenset({"tissue", "tissues", "napkin", "napkins", "compress", "sheet"}),
    # Where one is going, staying or living (the forty-fourth set's changes): no confusion.
    **dict.fromkeys(
        CANT_SAY_WHERE,
        frozenset({"going", "staying", "living", "sleeping", "headed", "heading", "moving"})
        # "Can't tell me where she is hurting" (the forty-fourth set's review): a pain's place.
        | frozenset({"hurting", "hurt", "sore", "itching", "itchy", "painful", "tender", "from"})
        | frozenset({"bleeding", "injured", "stung", "bitten"}),
    ),
    # Stitches to take out: no procedure (the forty-second set's review).
    **dict.fromkeys(
        (
            "needs stitches",
            *(
                f"{need} {few}stitches"
                for need in ("need", "needs", "needing")
                for few in ("a few ", "few ", "some ", "a couple of ", "a couple ", "couple ")
            ),
        ),
        frozenset({"out", "removed", "removing", "taken", "off"}),
    ),
    # "Family history of sudden death none" (the fortieth set's review).
    **dict.fromkeys(FAMILY_SUDDEN_DEATH, frozenset(_NONE_ANSWERS)),
    # A port (a central line) is no port wine stain, port of call or port city, nor one taken
    # out.
    **dict.fromkeys(
        ("has a port", "her port", "his port"),
        frozenset({"wine", "of", "city", "town", "authority", "removed"}),
    ),
    # "So she can finish her roster": a task to finish, not a threat to someone (the
    # thirty-second vignette set).
    **dict.fromkeys(
        ("finish him", "finish her", "finish them"),
        frozenset({"roster", "shift", "shifts", "swing", "rotation", "work", "job", "jobs"})
        | frozenset({"homework", "course", "degree", "exams", "exam", "training", "studies"})
        | frozenset({"meal", "dinner", "lunch", "breakfast", "food", "plate", "drink", "feed"})
        | frozenset({"bottle", "tea", "shower", "bath", "chores", "paperwork", "project"})
        | frozenset({"run", "game", "set", "round", "placement", "school", "antibiotics"})
        | frozenset({"tablets", "course", "medicine", "medication", "treatment", "chemo"})
        | frozenset({"essay", "assignment", "thesis", "dissertation", "coursework", "report"})
        | frozenset({"book", "knitting", "puzzle", "painting", "work", "sentence", "story"})
        # "She will finish her blood!" (a mother of a child's nosebleed: the thirty-ninth
        # vignette set): a fear of bleeding out, no threat.
        | frozenset({"blood"}),
    ),
    # "Knocked out his front tooth" (the thirty-first set's review): a tooth, no loss of
    # consciousness ("knocked out for 2 minutes" still is one).
    "knocked out": frozenset({"his", "her", "my", "their", "front", "tooth", "teeth"}),
    # "Walked in visibly bent over": a posture, no deformed limb.
    **dict.fromkeys(
        ("visibly bent", "obviously bent"), frozenset({"over", "double", "forward", "down"})
    ),
    # "Ran out on her", "ran out the door crying": a person running, no refill.
    "ran out": frozenset({"on", "into", "onto", "after", "crying", "screaming", "the", "to"}),
    # "Not rousing like usual": woken, less than usual (drowsy: the new-confusion concept
    # reads it), not unresponsive (the thirty-second vignette set). Not "properly" or
    # "fully": "not rousing properly, limp, breathing slow" is a child who cannot be woken.
    **dict.fromkeys(
        ("not rousing", "wont wake", "wont wake up", "not waking up", "will not wake"),
        frozenset({"like"}),
    ),
    # "LOC normal", "LOC: alert": a level of consciousness, not its loss.
    "loc": frozenset({"normal", "alert", "intact", "good", "appropriate", "unchanged", "wnl"})
    | frozenset({"unremarkable", "15", "gcs"}),
    # French "trop" before what there is too much of ("trop mal", "trop de douleur").
    "trop": frozenset({"de", "mal", "chaud", "froid", "fatigue", "fatiguee", "fort", "vite"})
    | frozenset({"tard", "longtemps", "loin", "peur", "bu", "mange", "pris", "souvent"}),
    # "Not breathing properly", "not breathing through his nose", "not breathing very well":
    # a breath that is poor, not absent (in every table that has the words).
    "not breathing": frozenset(
        {"properly", "well", "good", "right", "normally", "normal", "through", "thru"}
        | {"easily", "easy", "great", "deeply", "deep", "comfortably", "fully", "enough"}
        | {"better", "very"}
    ),
    # "Refill time 3 sec", "refill under 2 s": the skin's refill, not a prescription's.
    "refill": frozenset({"time", "under", "over", "sec", "secs", "seconds", "normal", "brisk"})
    # ... "refill ok", "refill intact" (the forty-ninth vignette set's cut palm).
    | frozenset({"ok", "okay", "good", "intact", "prompt", "conservato", "normale"}),
    # ... nor the Tagalog article before a person ("malikot si baby").
    "si": frozenset(
        {"joint", "joints", "baby", "tatay", "nanay", "lola", "lolo", "kuya", "ate", "bunso"}
        | {"mama", "papa", "mommy", "daddy", "inay", "itay"}
        # ... nor Spanish "si" (if) before a verb ("le duele si camina").
        | {"camina", "come", "respira", "tose", "mueve", "toca", "aprieta", "camino", "como"}
    ),
    # A voice or a sound "strangled", news that "choked her up" (the fifty-fourth set's
    # review): no strangulation.
    "strangled": frozenset({"voice", "cry", "sound", "sounding", "noise", "speech"}),
    **dict.fromkeys(("choked her", "choked me", "choked him out"), frozenset({"up"})),
    # "Stopped her Clexane, 'too many needles'" (the fifty-third vignette set): needles,
    # people or questions, no overdose beside a painkiller.
    # Not "too many times a day" (a staggered overdose) nor "too many injections of insulin".
    "too many": frozenset({"needles", "questions", "people", "things", "stairs", "steps"})
    | frozenset({"appointments", "doctors", "tests", "problems"}),
    # Polish "od" (since) before a time ("ból kolana od wczoraj"): no overdose.
    "od": frozenset(
        {"wczoraj", "rana", "tygodnia", "miesiaca", "roku", "dwoch", "trzech", "kilku"}
        | {"wieczora", "nocy", "dawna", "zawsze", "urodzenia", "poniedzialku", "niedzieli"}
        # ... nor the Bosnian, Croatian, Serbian, Czech or Slovak "od" (from, of, since)
        # before what it is of or since when ("umro od srca": died of his heart; "čaj od
        # kamilice"; "od jutros": since this morning; the fifty-third vignette set).
        | {"srca", "srce", "sarme", "kamilice", "jutros", "jutra", "jucer", "juce", "sinoc"}
        | {"prije", "pre", "danas", "tada", "stresa", "bola", "boli", "hrane", "posla"}
        | {"prehlade", "gripe", "vrucine", "umora", "nedelje", "nedjelje", "tjedna", "mjeseca"}
        | {"meseca", "godine", "godina", "vcera", "tyzdna", "tydne", "malena", "rodenja"}
        | {"rodjenja", "uvijek", "uvek", "kuce", "posla", "mene", "njega", "nje", "toga"}
    ),
    # "Hypo" written apart from the rest of another word, and a diet low in sugar.
    **dict.fromkeys(
        ("hypo", "hypos"),
        frozenset(
            {
                "thyroid",
                "thyroidism",
                "tensive",
                "tension",
                "tense",
                "natraemia",
                "natremia",
                "natraemic",
                "natremic",
                "kalaemia",
                "kalemia",
                "volaemia",
                "volemia",
                "volaemic",
                "volemic",
                "xia",
                "xic",
                "thermia",
                "thermic",
                "perfusion",
                "perfused",
                "plasia",
                "spadias",
            }
        ),
    ),
    **dict.fromkeys(("low sugar", "low sugars"), frozenset({"diet", "drink", "drinks", "food"})),
    # A sick note or sick leave is no nausea.
    "sick": frozenset({"note", "notes", "leave", "cert", "certificate", "pay", "of"}),
    # "Feel sick of this back pain": fed up, no nausea.
    **dict.fromkeys(("felt sick", "feel sick", "feels sick", "feeling sick"), frozenset({"of"})),
    # Absent breath sounds over a lung (heard with a stethoscope) are no apnoea.
    **dict.fromkeys(
        ("no breath", "no breaths", "no breathe", "no breathing"),
        frozenset({"sounds", "sound"}),
    ),
    # Unable to swallow tablets or food is no airway sign.
    **dict.fromkeys(
        ("cant swallow", "unable to swallow"),
        frozenset({"tablets", "tablet", "pills", "pill", "capsules", "meds", "food", "solids"}),
    ),
    # A depressed skull or tibial plateau fracture, a depressed level of consciousness: no
    # low mood.
    **dict.fromkeys(
        ("depressed", "depression"),
        frozenset({"skull", "fracture", "fractures", "fx", "plateau", "level", "conscious"}),
    ),
    # "Head fine", "face OK": a part found unhurt.
    **dict.fromkeys(
        ("head", "face", "forehead", "scalp"),
        frozenset({"fine", "ok", "okay", "normal", "unhurt", "uninjured", "nad"}),
    ),
    "called me by my": frozenset({"name"}),
    # "Mi" is "my" or "me" in Jamaican Patois ("mi belly a hurt mi"), not a heart attack.
    # "Chhati dukheko chaina" (Nepali: the chest does not hurt).
    **dict.fromkeys(
        CHEST_PAIN_NEPALI,
        frozenset({"chaina", "chhaina", "hoina", "chhain", "chain"}),
    ),
    # "Says lo zucchero was fine" (Italian: the sugar; the twenty-seventh vignette set): no
    # glucometer's "LO".
    **dict.fromkeys(
        ("reads lo", "says lo"),
        frozenset({"zucchero", "stomaco", "que", "dice", "sento", "siento"}),
    ),
    "mi": frozenset(
        {
            "belly",
            "yeye",
            "eye",
            "eyes",
            "head",
            "chest",
            "foot",
            "feet",
            "han",
            "hand",
            "back",
            "pickney",
            "baby",
            "did",
            "nah",
            "cyaan",
            "cant",
            "wake",
            "fraid",
            "tink",
            "seh",
            "feel",
            "vomit",
            "just",
            "deh",
            "mek",
            "nuh",
            "waan",
            "want",
            "know",
            "heart",
            "pressure",
            "sugar",
            "skin",
            "body",
            "bredda",
            "sista",
            "madda",
            "mada",
            "son",
            "daughter",
            "granny",
            "own",
            "self",
            "likkle",
            "leg",
            "stomach",
            "side",
            "rib",
            "neck",
            "throat",
            "mout",
            "mouth",
            "nose",
            "ear",
            "teeth",
            "tooth",
            "fi",
            "haffi",
            "never",
            "affi",
            "eat",
            "drink",
            "sleep",
            "pee",
            "wee",
            # ... and in Bislama and Tok Pisin ("mi fraet tumas", "mi luk klia nomo", "mi
            # harem nogud", "mi wantem slip": the thirty-fifth vignette set).
            "fraet",
            "luk",
            "harem",
            "wantem",
            "ting",
            "pilim",
            "laik",
            "stap",
            "kam",
            # ... and in Armenian, "mi kich" (a little: the fifty-fifth vignette set's
            # "mi kich aryun", a little blood), "mi kani" (a few), "mi hat" (one).
            "kich",
            "kiche",
            "kani",
            "hat",
        }
    ),
    # German "ich bin nur umgeknickt" (I only twisted it: the thirty-fifth vignette set),
    # no intracerebral haemorrhage ("ICH").
    "ich": frozenset(
        {"bin", "habe", "hab", "hatte", "kann", "konnte", "muss", "war", "weiss"}
        | {"nicht", "glaube", "dachte", "fuhle", "fuehle", "brauche", "bekomme", "sehe"}
    ),
    # "Blood in eye means brain bleed" (what friends told a man with a bleed on the white of
    # his eye): a saying, no eye emergency nor a brain bleed.
    **dict.fromkeys(("blood in eye", "blood in the eye"), frozenset({"means"})),
    # An AV canal defect ("s/p AVC defect repair": the thirty-sixth set's review), no stroke.
    "avc": frozenset({"defect", "repair", "repaired"}),
    # "Nai nai" is a grandmother in Mandarin (the thirty-fourth vignette set), no
    # non-accidental injury.
    "nai": frozenset({"nai"}),
    # GHB's "G" is no G-tube, G-button or G&T (the fifty-eighth set's review), nor grams.
    **dict.fromkeys(
        ("takes g", "uses g", "using g", "on g every", "on g day", "on g for"),
        frozenset({"tube", "t", "button", "peg", "and"}),
    ),
    # Sickle cell trait, or a negative screen, is no sickle cell disease.
    "sickle cell": frozenset({"trait", "negative", "screen", "carrier"}),
    **dict.fromkeys(
        ("sickle blood", "sickle disease", "known sickle", "has sickle"),
        frozenset({"trait", "negative", "screen", "carrier", "test", "tests", "pouring"}),
    ),
    # A coin-sized lump, a coin lesion on a chest film, a coin battery: no swallowed coin.
    "coin": frozenset(
        {"sized", "size", "shaped", "shape", "like", "lesion", "lesions", "battery", "cell"}
        # French "coin de la bouche" (the corner of the mouth: the forty-fourth set).
        | {"de", "des", "du"}
    ),
    # A blotchy rash is a rash, not mottled skin.
    "blotchy": frozenset(
        {"rash", "rashes", "itchy", "itching", "raised", "hives", "wheals", "welts"}
    ),
}
# "I just want to go to sleep and not wake up": a wish (suicidal thoughts, which the
# psychiatric concept reads), not a patient who cannot be woken. A phrase about not waking
# is skipped after the patient's own wish, with sleep between or the wish just before it
# (_Note._wished_sleep).
_WISH_CUES = frozenset(
    {
        "want",
        "wants",
        "wanted",
        "wanting",
        "wanna",
        "wish",
        "wishes",
        "wished",
        "hope",
        "hoping",
        # "wouldn't mind not waking up", "wouldn't bother me if I didn't wake up" (the
        # fifty-second vignette set)
        "mind",
        "bother",
    }
)
# "I just wanted to go asleep and not wake up" (the twenty-fifth vignette set): "asleep" is
# a wish's sleep after these, not "fell asleep and not waking up now".
_WISHED_ASLEEP_AFTER = frozenset({"go", "be", "fall", "get", "stay"})
_SLEEP, _ASLEEP = frozenset({"sleep"}), frozenset({"asleep"})
# A tablet count after these is a clock time ("motrin at 10 tylenol at 2") or a day's number
# ("sore throat day 10 panadol not helping"): _Note.find.
_TIME_BEFORE = frozenset({"at", "since", "until", "till", "day"})
_TABLET_COUNTS = frozenset(TEN_OR_MORE)
# "Hurt the baby" whose subject is a thing, not a person: a pregnant woman's worry that
# something will hurt the baby ("panicking it'll hurt the baby", "worried the fall hurt the
# baby", "will the medicine harm the baby"), no thought of harming it ("thoughts that she
# will hurt the baby" still counts).
_THINGS_THAT_HURT = frozenset(
    {"it", "itll", "that", "thatll", "this", "fall", "cut", "bump", "crash", "accident"}
    | {"medicine", "medication", "meds", "tablets", "pills", "xray", "ray", "scan"}
    | {"smoking", "drinking", "bleeding", "infection", "fever"}
)
_MODALS = frozenset({"will", "would", "could", "might", "may", "can", "did", "does", "is"})
_HARM_OF_A_THING = frozenset({"hurt the baby", "harm the baby", "hurt my baby", "harm my baby"})
# So is a threat whose subject is an illness: a family's fear ("his sugar is gonna kill him",
# "his pressure will shoot up and he'll go"), no homicidal thought. Only an illness: "it",
# "that", "the pills" or "the drinking" may stand for a plan or a weapon ("this time the
# pills will kill me", "says it will kill him, has a knife") and still count.
_ILLNESSES_THAT_KILL = frozenset(
    {"sugar", "sugars", "pressure", "bp", "diabetes", "cancer", "disease", "heart"}
    | {"cholesterol", "glucose", "stress", "worry", "worrying", "nerves", "asthma"}
    # ... or what hurt: "every bump in the Humvee killed her" is a pain, not a homicide (not
    # a drive, a run or the stairs, which may be the way of a threat: "drive round and kill
    # him").
    | {"pain", "bump", "bumps", "pothole", "potholes", "cough", "coughing", "headache"}
)
_KILLING_OF_AN_ILLNESS = frozenset(
    {"kill him", "kill her", "to kill him", "to kill her", "gonna kill", "going to kill"}
    | {"killed him", "killed her", "will shoot", "gonna shoot", "going to shoot"}
)
# Who may be the subject of a threat: a person, whatever else the clause holds ("says he
# killed her", "his son is gonna kill him").
_PEOPLE = frozenset(
    {"he", "hes", "she", "shes", "i", "im", "they", "theyre", "we", "you", "someone"}
    | {"somebody", "man", "woman", "guy", "husband", "wife", "partner", "boyfriend"}
    | {"girlfriend", "son", "daughter", "brother", "sister", "father", "mother", "dad", "mum"}
    | {"mom", "neighbour", "neighbor", "pt", "patient", "who", "ex", "him", "her", "his"}
    | {"hell", "shell", "theyll"}
)
_THREAT_WINDOW = 8
# Words that are another thing right after these ("cap refill under 2 sec" is no
# prescription refill).
# Joints that crack or grate (crepitus), no chest's crackles.
_CRACKING_JOINTS = frozenset(
    {"knee", "knees", "neck", "joint", "joints", "shoulder", "shoulders", "jaw", "ankle"}
    | {"ankles", "hip", "hips", "wrist", "wrists", "back", "spine", "elbow", "fingers"}
)
_NOT_RIGHT_AFTER = {
    # A man who "sat down hard on the path", "landed hard on that leg" (the fifty-eighth
    # vignette set and its review): no hard-on.
    "hard on": frozenset(
        {"down", "sat", "fell", "landed", "land", "came", "stepped", "step", "pressed", "press"}
        | {"pressing", "pushed", "push", "pushing", "knelt", "kneeled", "bit", "hit", "kicked"}
        | {"stamped", "leaned", "leant", "braked", "pulled", "too", "so", "very", "quite", "was"}
        | {"been", "is", "are", "being", "go", "went", "going", "rained", "trod", "stood"}
    ),
    # The tunnel vision before a faint ("went grey and slid down the wall ... tunnel vision
    # before": the fifty-eighth vignette set) is no sight lost.
    "vision": frozenset({"tunnel"}),
    # "Lost her sparkle" (low in mood: the fifty-ninth set's review), no lights seen.
    "sparkles": frozenset({"her", "his", "my", "your", "its", "their"}),
    # A relative's "known SCD" is as often a sudden cardiac death (the fifty-ninth set's
    # review).
    "known scd": frozenset(
        {"father", "dad", "mother", "mum", "brother", "sister", "uncle", "aunt", "cousin"}
    ),
    # "Her tummy keeps twitching, like every second" (a pacing lead through the heart
    # wall: the fifty-ninth vignette set), an eyelid's twitch: no limb in a fit.
    **dict.fromkeys(
        ("keeps twitching", "still twitching"),
        frozenset({"tummy", "belly", "stomach", "abdomen", "diaphragm", "eyelid", "eyelids"}),
    ),
    # A speed under 25 km/h or 15 mph is no high-energy mechanism ("glissé sur le sable à
    # petite vitesse (~20 km/h)": the forty-ninth vignette set).
    **dict.fromkeys(("km/h", "kmh", "kph"), frozenset(str(n) for n in range(25))),
    "mph": frozenset(str(n) for n in range(15)),
    # "I dont want to die like my uncle" (of rabies: the forty-eighth vignette set): fear.
    "want to die": frozenset({"dont", "doesnt", "didnt", "not", "never", "wouldnt"}),
    # "(doesnt hurt but im scared)" of a red patch on the white of the eye (the same set).
    "hurt*": frozenset({"dont", "doesnt", "didnt", "not", "never", "wont", "nothing"}),
    # "Niet verward" (not confused: Dutch "niet" negates the word right after it only).
    **dict.fromkeys(("verward", "gedesorienteerd"), frozenset({"niet", "nooit"})),
    # A suicide attempt in Turkish that is history ("geçmişte intihar girişimi": in the past).
    **dict.fromkeys(
        (
            "intihar girisimi",
            "intihar girisiminde",
            "intihar etmeye",
            "intihara kalkis*",
            "intihara tesebbus*",
        ),
        frozenset({"gecmiste", "eskiden", "onceki", "onceden", "yillar", "yil", "yillarca"})
        | frozenset({"once", "eski", "eskisi"}),
    ),
    # "15 relatives in the waiting room with child": a child with them, no pregnancy (the
    # twenty-eighth vignette set); "28F with child, 8 weeks" still is one.
    "with child": frozenset({"room", "relatives", "family", "people", "arrived", "came"})
    | frozenset({"here", "attends", "attended", "parent", "parents", "mum", "mother", "dad"})
    | frozenset({"father", "carer", "seen", "sitting", "waiting", "grandmother", "grandma"}),
    # "Tip of toe gone black" (gangrene; the twenty-seventh vignette set): no black stool.
    **dict.fromkeys(
        ("gone black", "turned black"),
        frozenset({"toe", "toes", "finger", "fingers", "fingertip", "foot", "feet", "nail"})
        | frozenset({"toenail", "skin", "wound", "leg", "ulcer", "tooth", "heel"}),
    ),
    # "Didn't fall or bang her tummy" (the thirty-second vignette set): no fall; "didn't hit
    # head" (the forty-third): no blow to the head.
    **dict.fromkeys(
        (
            "fall",
            "fell",
            "fallen",
            *(
                f"{hit} {whose}{head}"
                for hit in ("hit", "banged", "bumped", "knocked", "struck")
                for whose in ("", "his ", "her ", "my ", "the ")
                for head in ("head", "forehead")
            ),
        ),
        frozenset({"didnt", "never", "hasnt", "havent", "wasnt", "dont", "doesnt", "not"}),
    ),
    "nai": frozenset({"nai"}),
    # "Doesn't need stitches", "won't need any": no stitches.
    **dict.fromkeys(
        (
            f"{need} {few}stitches"
            for need in ("need", "needs", "needing")
            for few in ("a few ", "few ", "some ", "a couple of ", "a couple ", "couple ")
        ),
        frozenset({"didnt", "doesnt", "dont", "wont", "wouldnt", "not", "never", "hasnt"}),
    ),
    # "Ate too much makloubeh", "one stubbie too many" (the thirty-eighth vignette set): a
    # meal or a drink, no overdose beside a medicine.
    **dict.fromkeys(
        ("too much", "too many"),
        frozenset({"ate", "eaten", "eating", "eat", "eats", "drank", "drinking", "drink"})
        | frozenset({"drinks", "one", "stubbie", "stubbies", "beer", "beers", "pint", "pints"})
        | frozenset({"wine", "food", "sugar", "sweets", "candy", "worrying", "talking"})
        | frozenset({"walking", "working", "sun", "exercise", "partying", "coffee", "caffeine"})
        # "My kids too much, I only came so they stop" (the forty-sixth vignette set, Hawaiian
        # Pidgin: they fuss too much): people, no overdose.
        | frozenset({"kids", "children", "family", "husband", "wife", "son", "daughter", "kid"})
        | frozenset({"mum", "mom", "dad", "grandkids", "relatives", "worry", "worries", "fuss"})
        | frozenset({"fussing", "stress", "noise", "crying", "talk", "talks", "worried"}),
    ),
    # "It's roasting on the wing" (a hot prison wing: the thirty-eighth vignette set): the
    # place, no fever.
    "roasting": frozenset({"weather", "room", "cell", "wing", "house", "car", "kitchen"}),
    # "Neck crackles when turning head", "knee creps" (the thirty-eighth set's review).
    **dict.fromkeys(("crackles", "crepitations", "creps"), _CRACKING_JOINTS),
    # "Post-AVC" (after a stroke, French) is history (the thirty-sixth set's review).
    "avc": frozenset({"post", "atcd", "ancien", "hx", "previous", "prior", "old"}),
    # French "ses cp" (her tablets, "comprimés": the thirty-sixth vignette set), no chest pain;
    # nor a "known CP" (a cerebral palsy: a boy "in wheelchair. Known CP, non-verbal" whose
    # feeding button fell out, the sixty-third set) or its kinds.
    "cp": frozenset({"ses", "les", "des", "mes", "ces", "leurs", "vos", "nos", "known"})
    | frozenset({"spastic", "quadriplegic", "diplegic", "hemiplegic", "dyskinetic", "athetoid"}),
    # "Nosebleed stopped, none running down back of throat" (the thirty-fifth vignette set).
    **dict.fromkeys(
        ("running down back of", "running down the back of", "trickling down"),
        frozenset({"none", "nothing"}),
    ),
    # Fishing tackle is no tackle in a game (the thirty-third set's review).
    "tackle*": frozenset({"fishing"}),
    # "Feel fi vomit", "feel like vomiting": a nausea, not a vomit that explains a sweat.
    **dict.fromkeys(("vomit*", "vomit", "vomiting"), frozenset({"fi", "like"})),
    # "Mal de tête" (a headache): no head struck.
    "tete": frozenset({"de"}),
    # French "trop" (too much) in a mixed note ("s'en souvient pas trop", "a trop bu"), not
    # a troponin (the twenty-sixth vignette set).
    "trop": frozenset({"pas", "peu", "un", "beaucoup", "cest", "ca", "est", "bien", "mange"})
    | frozenset({"bu", "pris", "fume", "dort", "travaille", "vraiment", "souvient"}),
    "refill": frozenset({"cap", "capillary", "peripheral", "central", "crt"}),
    # An electric heater makes no carbon monoxide.
    "heater": frozenset({"electric", "electrical", "oil"}),
    # "Không đau ngực" (Vietnamese: no chest pain).
    **dict.fromkeys(CHEST_PAIN_VIETNAMESE, frozenset({"khong", "ko", "k"})),
    # A tooth knocked out is no loss of consciousness.
    "knocked out": frozenset({"tooth", "teeth", "incisor", "incisors", "molar", "crown"}),
    # Tablets lost, left behind or needed ("lost all her tablets in the flood") were not taken;
    # nor were those stolen or run out of ("somebody stole my bag with all my pills": the
    # forty-third vignette set).
    **dict.fromkeys(
        tuple(
            f"all {whose} {what}" for whose in ("her", "his", "my") for what in ("pills", "tablets")
        ),
        frozenset({"lost", "left", "forgot", "need", "needs", "needed", "brought", "bring"})
        | frozenset({"stole", "stolen", "forgotten", "refill", "renew"}),
    ),
}
# Two words after a phrase that make it another thing ("not breathing any better").
_NOT_BEFORE_PAIRS = {
    # "He gulped the coin" (the fifty-ninth vignette set): swallowed, no agonal gulp (not
    # "gulping down air", "gulped a couple of times then nothing": its review).
    "gulp*": frozenset(
        (lead, thing)
        for lead in ("the", "a", "his", "her", "down", "some")
        for thing in (
            *("coin", "coins", "penny", "5p", "2p", "1p", "10p", "20p", "button", "battery"),
            *("magnet", "marble", "bead", "sweet", "sweets", "pill", "pills", "tablet"),
            *("tablets", "drink", "mouthful", "water", "milk", "juice", "bottle", "food"),
            *("lego", "toy", "stone", "grape", "whole", "lot"),
        )
    ),
    # "Me quiero morir del dolor" (I could die of the pain), "quero morrer de dor": a pain.
    **dict.fromkeys(
        (
            "quiero morir",
            "quiero morirme",
            "quisiera morir",
            "quisiera morirme",
            "ganas de morir",
            "ganas de morirme",
            "mejor me muero",
            "quero morrer",
            "vontade de morrer",
        ),
        frozenset({("del", "dolor"), ("de", "dolor"), ("de", "tanto"), ("de", "tanta")})
        | frozenset({("del", "susto"), ("de", "verguenza"), ("de", "risa"), ("de", "dor")})
        | frozenset({("da", "dor")}),
    ),
    "soaked": frozenset({("in", "blood"), ("with", "blood"), ("in", "urine"), ("in", "rain")}),
    # "Family history of sudden death: none" (the fortieth set's review).
    **dict.fromkeys(
        FAMILY_SUDDEN_DEATH,
        frozenset({(":", answer) for answer in _NONE_ANSWERS}),
    ),
    **dict.fromkeys(
        ("has a port", "her port", "his port"),
        frozenset({("was", "removed"), ("was", "taken"), ("taken", "out"), ("came", "out")}),
    ),
    "loc": frozenset(
        {(":", "alert"), (":", "normal"), (":", "gcs"), (":", "awake"), (":", "a")}
        | {(":", "intact"), (":", "ao"), (":", "aox3"), (":", "orientated"), (":", "oriented")}
        | {(":", "none"), (":", "nil"), (":", "no"), (":", "0"), (":", "15")}
    ),
    "not breathing": frozenset(
        {("any", "better"), ("much", "better"), ("any", "easier"), ("much", "easier")}
    ),
    **dict.fromkeys(
        ("not rousing", "wont wake", "wont wake up", "not waking up", "will not wake"),
        frozenset({("as", "usual"), ("as", "normal"), ("as", "well")}),
    ),
    # "Knocked out a tooth", "knocked out two front teeth" ("knocked out some seconds",
    # "both times she fell" are still a loss of consciousness: the same review).
    "knocked out": frozenset(
        (count, what)
        for count in ("a", "the", "one", "two", "three", "some", "both", "an")
        for what in (
            "tooth",
            "teeth",
            "front",
            "incisor",
            "incisors",
            "molar",
            "crown",
            "filling",
            "veneer",
            "cap",
            "bridge",
            "implant",
        )
    ),
    # "Took the whole box of antibiotics as prescribed": a course finished.
    "took the whole box": frozenset({("of", "antibiotics"), ("as", "prescribed")}),
}
# ... and two or three words ("unresponsive to texts", "unresponsive to her calls" per a worried
# mother; "unresponsive to antibiotics": no one unresponsive in front of the nurse).
_UNANSWERED = ("text", "texts", "message", "messages", "call", "calls", "email", "emails", "phone")
# (Not "tissue": "red lines in the tissue up his leg" is the limb's.)
_BODY_FLUIDS = ("phlegm", "sputum", "spit", "mucus", "snot", "stool", "urine", "vomit")
_TREATED = ("antibiotics", "treatment", "steroids", "painkillers", "analgesia", "medication")
# The fourteenth paraphrase round: "cellulitis unresponsive to tablets".
_TREATED += ("tablets", "abx", "meds", "medications", "medicine", "medicines", "therapy", "oral")
_TREATED += ("antibiotic", "treatments", "cream", "creams", "inhalers", "nebs", "fluids")
_TO_PAIN_ALL_THE_SAME = frozenset({"abnormal flexion"})
_TO_PAIN = frozenset({"pain", "painful", "stimuli", "stimulus", "sternal", "trapezius"})
_JOINTS = ("wrist", "elbow", "knee", "finger", "fingers", "thumb", "toe", "toes", "hip", "ankle")
_JOINTS += ("joint", "shoulder", "digit", "dip", "pip", "mcp")
_WHOSE = ("the", "his", "her", "my", "l", "r", "left", "right")
_UNDER_FOOT = ("ground", "floor", "pedal", "gas", "brake", "accelerator", "clutch", "bed", "step")
_UNDER_FOOT += ("ladder", "stool", "chair", "kerb", "curb", "edge", "bottom", "throttle")
_COMPANIONS = ("wife", "husband", "son", "daughter", "child", "children", "kids", "kid", "dog")
_COMPANIONS += ("friend", "friends", "mum", "mom", "dad", "mother", "father", "partner", "family")
_NOT_BEFORE_WORDS = {
    # "Took a load of my tablets with me on holiday, ran out": carried, not swallowed.
    **dict.fromkeys(
        tuple(
            f"{verb} {amount}"
            for verb in ("took", "taken")
            for amount in ("a load of", "a whole load of", "a handful", "handful", "loads of")
        ),
        frozenset(
            (whose, what, "with")
            for whose in ("my", "her", "his", "the", "their", "our")
            for what in ("tablets", "pills", "meds", "medication", "medicines", "inhalers")
        ),
    ),
    # "Mumbling through gauze" after a tooth out (the fifty-ninth vignette set): speech
    # through a pad, not slurred (not "mumbling through one side of his mouth").
    "mumbl*": frozenset(
        ("through", *whose, pad)
        for whose in ((), ("the",), ("a",), ("his",), ("her",), ("my",))
        for pad in ("gauze", "pack", "packing", "mask", "dressing", "swab", "swabs")
    ),
    # "Mum's seen the meningitis posters" (a student with a cold: the fifty-fifth vignette
    # set), a "meningitis B vaccine" or "ACWY jab": no illness of this patient. Not "the
    # meningitis injection" a GP gives before sending a child in (its review).
    "meningitis": frozenset(
        (*strain, thing)
        for strain in ((), ("b",), ("c",), ("w",), ("acwy",), ("men",))
        for thing in (
            *("poster", "posters", "leaflet", "leaflets", "campaign", "jab", "jabs"),
            *("vaccine", "vaccines", "vaccination", "vaccinations", "booster"),
        )
    ),
    # A dialysis patient "missed Fri" (B_DIALYSIS), not a Friday's football, school or shift
    # (the fifty-fifth vignette set's review).
    **dict.fromkeys(
        (f"{missed} {day}" for missed in ("missed", "skipped", "missing") for day in DAYS_SHORT),
        frozenset(
            (what,)
            for what in (
                *("football", "school", "work", "shift", "shifts", "tablets", "meds", "pills"),
                *("lunch", "dinner", "breakfast", "class", "classes", "lecture", "lectures"),
                *("appointment", "appt", "game", "match", "training", "practice", "physio"),
                *("gym", "church", "mosque", "nav", "bus", "train", "flight", "exam", "exams"),
                *("night", "nights", "party", "football's", "dose", "doses", "injection"),
            )
        ),
    ),
    # "Smells of alcohol" (the fifty-fifth vignette set), read as a slip of "smelly": no
    # smelly wound or urine; "urine smells" still is.
    **dict.fromkeys(
        ("smelly",),
        frozenset(
            ("of", what)
            for what in (
                *("alcohol", "drink", "booze", "beer", "wine", "vodka", "spirits", "cider"),
                *("smoke", "cigarettes", "cannabis", "weed", "gas", "petrol", "sweat"),
            )
        ),
    ),
    # "Crackles in the knee when climbing stairs" (the thirty-eighth set's review): a joint.
    **dict.fromkeys(
        ("crackles", "crepitations", "creps"),
        frozenset(
            {("in", joint) for joint in _CRACKING_JOINTS}
            | {
                ("in", whose, joint)
                for whose in ("the", "his", "her", "my", "both", "l", "r", "left", "right")
                for joint in _CRACKING_JOINTS
            }
        ),
    ),
    # "Can't breathe thru nose" (Arabic "ma fi nafas" for a blocked nose: the thirty-eighth
    # vignette set): a cold, not a breath that fails.
    **dict.fromkeys(
        ("cant breathe", "cannot breathe", "unable to breathe", "can not breathe"),
        frozenset(
            {(through, "nose") for through in ("thru", "through", "out", "via")}
            | {(through, "nostril") for through in ("thru", "through", "out")}
            | {
                (through, whose, what)
                for through in ("thru", "through", "out", "via")
                for whose in ("her", "his", "my", "the", "their", "your", "one", "either")
                for what in ("nose", "nostril", "nostrils")
            }
        ),
    ),
    # "Went a foot off the ground", "took his foot off the pedal": no foot cut off (the
    # fourteenth paraphrase round).
    "foot off": frozenset({("the", what) for what in _UNDER_FOOT} | {("of", "the")}),
    # "He had simply lost sight of his wife in the store" (the fourteenth paraphrase round).
    # "Fainted at the sight of blood": no sight lost either.
    **dict.fromkeys(
        ("lost sight", "sight"),
        frozenset(
            {("of", whom) for whom in ("him", "them", "everyone", "everybody")}
            | {("of", whose, who) for whose in ("his", "her", "my", "the") for who in _COMPANIONS}
            | {("of", "blood"), ("of", "needles"), ("of", "the", "needle"), ("of", "a", "needle")}
            | {("of", "the", "blood")}
        ),
    ),
    "unresponsive": frozenset(
        {("to", what) for what in _UNANSWERED + _TREATED}
        | {("to", whose, what) for whose in ("her", "his", "my", "our") for what in _UNANSWERED}
    ),
    # "Took a load of my tablets with me on holiday": carried, not swallowed.
    **dict.fromkeys(
        ("took a load of my tablets", "took a load of her tablets", "took a load of his tablets"),
        frozenset({("with",), ("on",), ("away",), ("abroad",)}),
    ),
    # "Small red lines in the phlegm": blood in the sputum, not a red line up a limb.
    **dict.fromkeys(
        ("red line*", "red streak*"),
        frozenset(
            {("in", what) for what in _BODY_FLUIDS}
            | {
                ("in", whose, what)
                for whose in ("the", "his", "her", "my")
                for what in _BODY_FLUIDS
            }
        ),
    ),
    # "Abnormal flexion of the wrist" after a fall: a deformity, not a response to pain.
    "abnormal flexion": frozenset(
        {(at, joint) for at in ("of", "at") for joint in _JOINTS}
        | {(at, whose, joint) for at in ("of", "at") for whose in _WHOSE for joint in _JOINTS}
    ),
    # "Chute de cheveux" (hair loss), "chute de pression" (a drop in pressure): no fall.
    "chute": frozenset(
        {(de, what) for de in ("de", "des") for what in ("cheveux", "pression", "tension")}
        | {("de", "la", what) for what in ("pression", "tension")}
    ),
    # "Poignée de porte" (a door handle), "poignée de main" (a handshake).
    "poignee de": frozenset({("porte",), ("main",), ("mains",)}),
    # "Wants to not wake up so often to pee", "hope I don't wake up with one tomorrow".
    **dict.fromkeys(
        PASSIVE_WISH_NOT_TO_WAKE,
        frozenset({("so",), ("with",), ("at",), ("every",), ("to", "pee"), ("in", "the", "night")}),
    ),
    # "Nobody will miss me at work, so a sick day".
    **dict.fromkeys(
        ("nobody will miss me", "nobody would miss me", "no one will miss me", "nobodyll miss me"),
        frozenset({("at",)}),
    ),
}
# The two words before a phrase that make it something else: "blood in eye means brain
# bleed" (what friends told a man with a bleed on the white of his eye: the thirty-fifth
# vignette set) is a saying; "worried it means brain bleed" is still a worry.
# All one's pills in a bag stolen, lost or left behind (_Note._pills_gone_missing).
_ALL_ONES_PILLS = frozenset(
    f"all {whose} {what}" for whose in ("her", "his", "my") for what in ("pills", "tablets")
)
_GONE_MISSING = frozenset(
    {"stolen", "stole", "lost", "left", "forgot", "forgotten", "missing", "robbed", "nicked"}
    | {"snatched", "taken", "swiped", "misplaced"}
)
_NOT_RIGHT_AFTER_PAIRS = {
    # Tablets that treated it ("similar thing 2 yrs ago w/ strawberries, went away with
    # tablets": hives after a food, the sixty-third vignette set): no tablets swallowed.
    **dict.fromkeys(
        ("tablets", "tablet", "tabs", "pills", "antihistamines", "antihistamine"),
        frozenset(
            (done, "with")
            for done in (
                *("away", "settled", "better", "treated", "managed", "controlled", "improved"),
                *("resolved", "cleared", "calmed", "eased", "helped"),
            )
        ),
    ),
    "brain bleed": frozenset({("eye", "means"), ("eyes", "means")}),
    # Bags of cement lifted, no cement in the eye; a leg walked on "with a limp", no limp
    # (floppy) leg (the fifty-fourth vignette set: a cellulitis "walking w limp").
    "cement": frozenset({("bags", "of"), ("bag", "of"), ("sacks", "of"), ("sack", "of")}),
    "limp": frozenset({("with", "a"), ("walking", "w"), ("walks", "w"), ("walking", "with")})
    | frozenset({("walks", "with"), ("w", "a"), ("slight", "a"), ("has", "a"), ("a", "slight")}),
    # A foot "red + swollen up to cheville" (the forty-fourth set's changes): how far the
    # swelling goes, no twisted ankle.
    **dict.fromkeys(
        ("tobillo", "cheville", "tornozelo", "sprunggelenk"),
        frozenset({("up", "to"), ("hasta", "el"), ("jusqua", "la"), ("ate", "o"), ("bis", "zum")}),
    ),
    # "Ran out of all her tablets" (the forty-third vignette set's neighbour of a stolen bag
    # "with all my pills"): none taken.
    **dict.fromkeys(
        tuple(
            f"all {whose} {what}" for whose in ("her", "his", "my") for what in ("pills", "tablets")
        ),
        frozenset({("out", "of"), ("refill", "of"), ("refills", "of"), ("supply", "of")}),
    ),
}
# "Fainted in church, didnt shake, didnt wet himself" (a faint's witness answering the
# questions about a fit): the signs of a fit after "didn't", "wasn't" (with "have a", "any",
# "even" between) did not happen; not "never" ("never a fit this long"). Not "didn't stop
# shaking", not "didn't have a pulse": only the fit's own signs (_FIT_SIGN_WORDS).
_DIDNT = frozenset({"didnt", "doesnt", "wasnt", "hasnt", "hadnt", "havent", "dont", "wont", "isnt"})
_NOT_A_DENIAL_AFTER = frozenset(
    {"in", "for", "since", "this", "like", "until", "till", "before", "that", "so"}
)
_DIDNT_FILLERS = frozenset(
    {"have", "a", "any", "even", "really", "ever", "seem", "to", "do", "look", "like", "actually"}
    | {"see", "notice", "seen", "noticed"}
)
# The fit's own signs: A_SEIZING's phrases that begin with one of these words (not "didn't
# come round", "wasn't conscious between", "didn't stop", "didn't help": its review).
_FIT_SIGN_WORDS = frozenset(
    {"shake", "shakes", "shaking", "shook", "jerk", "jerks", "jerking", "jerky", "jerked"}
    | {"fit", "fits", "fitting", "fitts", "seizure", "seizures", "seizing", "siezure", "sz"}
    | {"szs", "convulsing", "convulsion", "convulsions", "twitching", "twitches", "rigid"}
    | {"stiff", "stiffening", "thrashing", "foam", "foaming", "froth", "frothing", "frothy"}
    | {"foamy", "bit", "bite", "bites", "biting", "bitten", "tongue", "wet", "incontinent"}
    | {"eyes"}
    | {"rolled", "rhythmic", "rhythmically", "tonic", "gtc", "gtcs", "clenched", "jaw"}
    | {"drool", "went", "goes", "going", "having", "havin", "taking", "limbs", "arms"}
    | {"generalised", "generalized", "whole", "full", "mouth", "epilep", "epileptic"}
)


@functools.cache
def _deniable_fit_signs() -> frozenset[str]:
    """A_SEIZING's words that are a fit's own signs (_DIDNT, _FIT_SIGN_WORDS)."""
    return frozenset(
        p for p in BY_CODE["A_SEIZING"].all_phrases() if p.split()[0].rstrip("*") in _FIT_SIGN_WORDS
    )


# The sight going black or dark in a faint (FAINT_PHRASES within ten words of it), not still
# lost nor lost on one side there (SIGHT_STILL_LOST_PHRASES), in a note that tells nothing
# else that puts the sight at risk (SIGHT_AT_RISK_PHRASES): a faint's greying out, no B_EYE.
_DARKENED_SIGHT = frozenset(
    {"went black", "went dark", "gone dark", "went dim", "went blank", "vision went"}
    | {"sight went", "vision gone", "sight gone", "vision has gone", "sight has gone"}
    | {"everything black", "everything dark", "everything is black", "everything is dark"}
    | {"everything went black", "everything went dark"}
)
_FAINT_WINDOW = 10
# "Aunt packed the wound with coffee grounds" (a home remedy on a cut: the thirty-fifth
# vignette set): no vomit like coffee grounds, when its clause puts them on the skin.
_PUT_ON_A_WOUND = frozenset({"coffee grounds", "coffee ground*", "ground coffee"})
_PUT_ON = frozenset(
    {"packed", "put", "applied", "rubbed", "sprinkled", "poured", "stuffed", "smeared"}
    | {"dressed", "bandaged", "wrapped"}
)
_WOUNDS = frozenset({"wound", "wounds", "cut", "cuts", "laceration", "lac", "burn", "bite"})
_WOUND_BEFORE_WINDOW = 8
_VOMIT_STEMS = ("vomit", "vommit", "emesis", "threw", "throw", "puk", "spew", "sick", "stool")
# A unit after a number ("drove 40 mi"): miles, not a myocardial infarction.
# So is "4 METs" an exercise capacity, not cancer spread.
_UNITS_AFTER_A_NUMBER = frozenset({"mi", "mets"})
# "Mind" is a wish only as "wouldn't mind" ("mind you, he won't wake up" is no wish).
_MIND_NEGATORS = frozenset({"wouldnt", "dont", "doesnt", "didnt", "not"})
# Whose wish: the patient's own ("I just want", "pt states ... wants"), not a relative's
# ("mum wanted to let her sleep in and she won't wake up").
_OWN_WISH = frozenset({"i", "im", "ive", "pt", "patient", "states", "stated", "says", "said"})
_WISH_WINDOW = 10
_WISH_WORDS = frozenset({"wish", "wishes", "wished"})
_RELATIVES = frozenset(
    {"wife", "husband", "partner", "mum", "mom", "mam", "mother", "dad", "father", "son"}
    | {"daughter", "sister", "brother", "family", "carer", "friend", "girlfriend", "boyfriend"}
    | {"parents", "staff", "nurse", "he", "she", "they"}
)


# A relative's heart attack, stroke or bleed told as the family's history ("his uncle had a
# heart attack at sixty", "father died of a stroke": the fifty-third vignette set), not the
# patient's: the event's words right after a relative and "had" or "died", with only these
# between, and a death or an age after it ("at sixty", "aged 50") saying it was long ago.
# "Mum had a stroke this morning", "my uncle had a heart attack" may be the patient's own,
# told by a relative: they count.
_FAMILY_EVENTS = frozenset(
    {"heart attack", "heart attacks", "mi", "stemi", "nstemi", "myocardial infarct*"}
    | {"stroke", "strokes", "brain bleed", "brain aneurysm", "ruptured aneurysm", "aneurysm"}
    | {"sah", "subarachnoid", "pe", "pulmonary embol*", "infarkt", "infarct"}
)
_FAMILY_KIN = frozenset(
    {"uncle", "uncles", "aunt", "aunts", "auntie", "aunty", "cousin", "cousins", "grandfather"}
    | {"grandad", "granddad", "grandpa", "grandmother", "grandma", "granny", "nan", "nana"}
    | {"father", "dad", "mother", "mum", "mom", "brother", "sister", "brothers", "sisters"}
    | {"parents", "parent", "sibling", "siblings", "family", "relatives", "relative"}
)
_KIN_EVENT_VERBS = frozenset({"had", "has", "died", "passed", "dying"})
_KIN_EVENT_FILLERS = frozenset(
    {"a", "an", "the", "of", "from", "away", "massive", "big", "bad", "fatal", "sudden"}
    | {"also", "too", "with", "both", "young", "early", "huge", "major"}
)
_AGE_WORDS = frozenset({"thirty", "forty", "fifty", "sixty", "seventy", "eighty", "age"})
_CLOCK_AFTER = frozenset({":", ".", "am", "pm", "this", "today", "tonight", "last", "oclock"})
_CLOCK_AFTER |= {"hrs", "h", "hours", "past", "to", "mins", "min", "minutes", "ago", "yesterday"}


# An amount too great, which a meal or a drink before it makes none, unless a medicine
# follows it (_NOT_RIGHT_AFTER, _Note._a_medicine_at).
_AN_AMOUNT = frozenset({"too much", "too many"})


@functools.cache
def _medicine_words() -> frozenset[str]:
    """The first words of the medicines a large amount is told of (MEDICINES_TAKEN)."""
    return frozenset(phrase.split()[0] for phrase in MEDICINES_TAKEN if " " not in phrase)


@functools.cache
def _wish_skipped() -> frozenset[str]:
    """The unresponsive concept's phrases about not waking that the psychiatric concept
    does not share: after a wish for sleep they are skipped."""
    psych = set(BY_CODE["B_PSYCH"].all_phrases())
    return frozenset(
        phrase
        for phrase in BY_CODE["A_UNRESPONSIVE"].all_phrases()
        if _phrase_words(phrase)[0] in ("not", "never", "no", "wont", "wouldnt")
        and any(word.startswith("wak") for word in _phrase_words(phrase))
        and phrase not in psych
    )


# One-letter slips are forgiven only in words this long, where they rarely make another word.
_FUZZY_MIN_LEN = 6


# A "?" glued to the front of a word is clinical shorthand for "query" ("?CVA", "?PE"), unless
# the word answers a question ("SI ?no"); the "?" stays, so it still ends the scope of a cue
# before it ("Denies CP ?ACS"). After a word ("CP?") it stays a question an answer may follow.
# A date in French or Spanish ("AVC il y a 2 ans", "infarto hace 3 años": the thirty-sixth
# set's review), said as in English ("2 years ago") for the history and date readers.
_AGO_FOREIGN = re.compile(
    r"\b(?:il y a|hace) (\d+|un|une|deux|trois|quelques|plusieurs|dos|tres|unos|unas|varios)"
    r" (ans|an|annees|annee|anos|ano|mois|meses|mes|semaines|semaine|semanas|jours|dias)\b"
)
_AGO_UNITS = {
    **dict.fromkeys(("ans", "an", "annees", "annee", "anos", "ano"), "years"),
    **dict.fromkeys(("mois", "meses", "mes"), "months"),
    **dict.fromkeys(("semaines", "semaine", "semanas"), "weeks"),
    **dict.fromkeys(("jours", "dias"), "days"),
}
_QUERY_MARK = re.compile(r"(?<![a-z0-9?])\?(?=[a-z])(?!(?:no|nope|not|nil|neg)\b)")
# "+ve" is "positive" ("FAST +ve"); "-ve" negates only the finding before it ("Kernig -ve"),
# never what follows ("COVID -ve, chest pain" keeps the chest pain): a word of its own.
_POSITIVE_MARK = re.compile(r"\+\s?ve\b")
# A calibre written with its dot (".45", ".22") is a number, not the end of a sentence.
_CALIBRE = re.compile(r"(?<![0-9.])\.(?=\d)")
# "CRT <2s" is a normal refill, "CRT >4s" a slow one: the sign is kept as a word.
_REFILL_UNDER = re.compile(r"\b(crt|refill)\s*<\s*")
_REFILL_OVER = re.compile(r"\b(crt|refill)\s*>\s*")
_NEGATIVE_MARK = re.compile(r"-\s?ve\b")
# "SOB (-), CP (-), throat tight (-)": a finding marked absent after it, as charts in
# Indonesia, Malaysia or Latin America write it (the forty-seventh vignette set).
_NEGATIVE_PAREN = re.compile(r"\(\s*[-\u2212]\s*\)")
# A pain scored 0 ("Pain 0.", "pain score 0/10"; the thirty-ninth vignette set: a red eye
# with "no pain ... Pain 0" read as a painful red eye) is no pain: "pain" opening its clause
# only (not "chest pain 0/10 on arrival, 8/10 at home": that chest pain was told), not a
# time ("pain 0900") nor a score that rose ("pain 0 -> 8", "pain 0 to 6", "pain 0 now").
_PAIN_NONE = re.compile(
    r"(?:^|(?<=[.,;:(])|(?<=[.,;:(] ))"
    r"pain(?:\s+(?:score|scale|level))?\s*[:=]?\s*0(?:\s*/\s*10)?(?![\d/]|[.:]\d)"
    r"(?!\s*(?:-|to\b|>|\u2192|now\b|then\b|up\b|went\b|rising\b|rose\b))"
)


# Letters that carry no accent to drop but are written so in plain letters (Polish "ł"),
# Turkish's dotless i among them ("agrisi" for the Turkish "pain" written with it).
# ... but not Turkish's question "mi" written with it ("ates var mi?": is there a fever?),
# which is no MI (read as "mu", another form of it).
_TURKISH_MI = re.compile(r"\bm\u0131\b")
# Russian, Bulgarian, Ukrainian and Serbian written in Cyrillic, in the Latin letters the
# tables use for them ("не хочу жить" -> "ne khochu zhit"; the fifty-third vignette set's
# "LMP 'преди около 7 седмици'", about seven weeks ago). Before this, a Cyrillic word was no
# token at all. "Й" and "ё" have lost their marks already (NFKD).
# The Russian alphabet (U+0430-U+044F) in order, then the letters of Ukrainian,
# Serbian and Macedonian.
_RUSSIAN_IN_LATIN = ("a", "b", "v", "g", "d", "e", "zh", "z", "i", "i", "k", "l", "m", "n")
_RUSSIAN_IN_LATIN += ("o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "")
_RUSSIAN_IN_LATIN += ("y", "", "e", "yu", "ya")
_CYRILLIC = str.maketrans(
    {chr(0x0430 + k): latin for k, latin in enumerate(_RUSSIAN_IN_LATIN)}
    | {"\u0456": "i", "\u0454": "ye", "\u0491": "g", "\u0458": "j", "\u0459": "lj"}
    | {"\u045a": "nj", "\u045b": "c", "\u0452": "dj", "\u045f": "dz", "\u0453": "g"}
    | {"\u045c": "k", "\u0455": "dz"}
)
_CYRILLIC_WORD = re.compile(r"[\u0400-\u04ff]+")
# Short words of those languages that would read as a nurse's abbreviation or cue once in
# Latin letters (Bulgarian "boli mi" is "it hurts me", no MI; "si" no SI; "ot", "od"
# (from) no OD; "no" (but) no "no"): they are read as what they mean, or not at all.
_CYRILLIC_SHORT_WORDS = {"no": "but", "i": "and", "a": "and", "mi": "", "si": "", "ot": ""}
_CYRILLIC_SHORT_WORDS |= {"od": "", "do": "", "po": "", "za": "", "na": "", "pe": "", "me": ""}


def _latin_word(match: re.Match[str]) -> str:
    word = match[0].translate(_CYRILLIC)
    return _CYRILLIC_SHORT_WORDS.get(word, word)


# Icelandic and Faroese "ð" and "þ" as their sounds ("ákveða" -> "akveda"), Maltese "ħ"
# as "h" ("jiċħad" -> "jichad", denies).
_UNDECOMPOSED = str.maketrans(
    {"ł": "l", "ø": "o", "ß": "ss", "đ": "d", "æ": "ae", "\u0131": "i", "ð": "d", "þ": "th"}
    | {"ħ": "h"}
)


def _normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'")
    # Accents dropped ("presión" -> "presion"): the tables and the tokens are plain letters.
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _CYRILLIC_WORD.sub(_latin_word, text)
    text = _TURKISH_MI.sub("mu", text).translate(_UNDECOMPOSED)
    text = _CALIBRE.sub("", text)
    text = _REFILL_UNDER.sub(r"\1 under ", text)
    text = _REFILL_OVER.sub(r"\1 over ", text)
    text = _AGO_FOREIGN.sub(lambda m: f"{m[1]} {_AGO_UNITS[m[2]]} ago", text)
    text = _QUERY_MARK.sub("? query ", text)
    text = _POSITIVE_MARK.sub(" positive", text)
    text = _NEGATIVE_MARK.sub(f" {_NEGATIVE_AFTER_WORD}", text)
    text = _NEGATIVE_PAREN.sub(f" {_NEGATIVE_AFTER_WORD}", text)
    text = _PAIN_NONE.sub(f"pain {_NEGATIVE_AFTER_WORD}", text)
    # "can't" -> "cant", "pt's" -> "pts": apostrophes never separate words in notes.
    return text.replace("'", "")


@functools.lru_cache(maxsize=65536)
def _one_slip(token: str, word: str) -> bool:
    """True when token is word with at most one slip (insert, delete, replace, swap)."""
    if token == word:
        return True
    if len(word) < _FUZZY_MIN_LEN or token[:1] != word[:1] or abs(len(token) - len(word)) > 1:
        return False
    if len(token) == len(word):
        diffs = [i for i, (a, b) in enumerate(zip(token, word, strict=True)) if a != b]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and token[diffs[0]] == word[diffs[1]]
            and token[diffs[1]] == word[diffs[0]]
        )
    short, long_ = (token, word) if len(token) < len(word) else (word, token)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _word_matches(token: str, word: str) -> bool:
    if word.endswith("*"):
        stem = word[:-1]
        if token.startswith(stem):
            return True
        return len(stem) >= _FUZZY_MIN_LEN and _one_slip(token[: len(stem)], stem)
    return _one_slip(token, word)


@functools.cache
def _phrase_words(phrase: str) -> tuple[str, ...]:
    return tuple(phrase.split())


_FirstWordIndex = dict[str, list[tuple[int, str, tuple[str, ...]]]]


@functools.lru_cache(maxsize=4096)
def _by_first_word_built(phrases: tuple[str, ...]) -> _FirstWordIndex:
    index: _FirstWordIndex = {}
    for place, phrase in enumerate(phrases):
        words = _phrase_words(phrase)
        index.setdefault(words[0], []).append((place, phrase, words))
    return index


# The tables are module-level tuples, asked for hundreds of times per note: found by
# identity first, since hashing a tuple of hundreds of phrases for the cache cost more than
# the matching. Each entry keeps its tuple alive, so its id is never another's. Only tuples
# the caller passes are kept: a tuple made for one call would never be asked for again.
_BY_IDENTITY: dict[int, tuple[tuple[str, ...], _FirstWordIndex]] = {}


def _by_first_word(phrases: Iterable[str]) -> _FirstWordIndex:
    """A table's phrases by their first word, each with its place in the table."""
    if not isinstance(phrases, tuple):
        return _by_first_word_built(tuple(phrases))
    known = _BY_IDENTITY.get(id(phrases))
    if known is not None and known[0] is phrases:
        return known[1]
    index = _by_first_word_built(phrases)
    if len(_BY_IDENTITY) < 4096:
        _BY_IDENTITY[id(phrases)] = (phrases, index)
    return index


def _deletions(word: str) -> set[str]:
    """The word, and each string made by dropping one of its letters."""
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


@functools.cache
def _slip_index() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]], int]:
    """The loose words of _vocabulary found by what they share with a token: (each word's
    deletions -> the words, stems by first letter, the longest word's length). A token one
    slip away from a word (a letter dropped, added, changed or two swapped) shares one of
    its own deletions with the word's, so only those words are compared with it, not every
    word of its first letter: a note of words no table has is read in a few milliseconds."""
    _, loose = _vocabulary()
    by_deletion: dict[str, set[str]] = {}
    stems: dict[str, list[str]] = {}
    longest = 0
    for letter, words in loose.items():
        for word in words:
            if word.endswith("*"):
                stems.setdefault(letter, []).append(word)
                continue
            longest = max(longest, len(word))
            for key in _deletions(word):
                by_deletion.setdefault(key, set()).add(word)
    return (
        {key: tuple(sorted(words)) for key, words in by_deletion.items()},
        {letter: tuple(words) for letter, words in stems.items()},
        longest,
    )


# Turkish "mi" asks a question after a verb ("ayagini kesecekler mi?": will they cut his
# foot?, the twenty-seventh vignette set): no myocardial infarction. Only a long verb form
# and a question mark after it ("ECG: Vanecek MI" is a name's).
_TURKISH_VERB_ENDINGS = ("ecekler", "acaklar", "ecek", "acak", "iyor", "uyor", "iyorlar")
_TURKISH_VERB_MIN = 8


def _turkish_question(previous: str, following: str) -> bool:
    return (
        following == "?"
        and len(previous) >= _TURKISH_VERB_MIN
        and previous.endswith(_TURKISH_VERB_ENDINGS)
    )


# Words of their own that are one slip from a table word they never mean ("2cm gaping" is
# a wound, not gasping). Only these: a misspelt word that happens to spell another word
# ("stoke", "intend", "lighting", "grasping") is still read as the table word it slips from.
_NOT_SLIPS: dict[str, frozenset[str]] = {
    # A grandmother at the desk is no grandmother's pills (the fortieth vignette set: a
    # toddler who "ate" red dragon fruit, "grandma very upset").
    "grandma": frozenset({"grandmas"}),
    "grandad": frozenset({"grandads"}),
    "nan": frozenset({"nans"}),
    # "Bus from Spain 14 hour" (the twenty-seventh vignette set): no sprain.
    "spain": frozenset({"sprain", "sprain*"}),
    "gaping": frozenset({"gasping"}),
    # "Just off the overnight boat from Belfast" (the sixty-first vignette set): no BE FAST.
    "belfast": frozenset({"befast"}),
    # Straining with a cough or at stool (the thirty-fifth vignette set): no sprain.
    "straining": frozenset({"sprain*"}),
    "thread": frozenset({"thready"}),
    "gapping": frozenset({"gasping"}),
    "flares": frozenset({"flames"}),
    "frames": frozenset({"flames"}),
    "thinner": frozenset({"thinners"}),
    "stuck": frozenset({"struck"}),
    # Tossed by a bull (the forty-second set's review): no torsion.
    "tossed": frozenset({"torsed"}),
    "tipped": frozenset({"tapped"}),
    "sickle": frozenset({"sickler"}),
    "tipping": frozenset({"tapping"}),
    # A bruise (contusion) is no confusion.
    "contusion": frozenset({"confusion"}),
    "contusions": frozenset({"confusion"}),
    # Tagalog: "nasusuka" is nauseous, "nagsusuka" vomiting.
    "nasusuka": frozenset({"nagsusuka"}),
    "nagsusuka": frozenset({"nasusuka"}),
    # Malay and Indonesian "masuk angin" (a chill, "wind entering"; "minyak angin" a
    # rubbing oil: the thirty-seventh vignette set): no angina.
    "angin": frozenset({"angina", "anginal"}),
    # Indonesian "keringat" (sweat: the forty-seventh vignette set) is no Kernig's sign;
    # Spanish and Portuguese "suicida" is a phrase of its own (denied in its language).
    "keringat": frozenset({"kernig*"}),
    "suicida": frozenset({"suicidal", "suicide"}),
    "suicidas": frozenset({"suicidal", "suicide"}),
    # "Smells of nothing" (the fifty-eighth vignette set: no alcohol on a man after two
    # fits) is no apnoea's "spells of nothing".
    "smells": frozenset({"spells"}),
}


@functools.lru_cache(maxsize=65536)
def _token_words(token: str) -> frozenset[str]:
    """The table words (see _vocabulary) that this token spells, slips and stems included
    (not those of _NOT_SLIPS)."""
    exact, _ = _vocabulary()
    by_deletion, stems, longest = _slip_index()
    hits = {token} if token in exact else set()
    if len(token) <= longest + 1:  # longer, it is no slip of any word
        for key in _deletions(token):
            for word in by_deletion.get(key, ()):
                if _word_matches(token, word):
                    hits.add(word)
    for word in stems.get(token[:1], ()):
        if _word_matches(token, word):
            hits.add(word)
    return frozenset(hits - _NOT_SLIPS.get(token, frozenset()))


def _split_slashes(tokens: list[str]) -> list[str]:
    """The tokens with two or more whole words joined by slashes written apart
    ("sternum/upper belly", "nausea/vomiting": the thirty-ninth vignette set's "pesantezza
    under sternum/upper belly"), unless the tables know the joined form ("fever/chills",
    "si/hi"), a part is short enough to be an abbreviation ("c/o", "n/v", "h/a"), or a
    negation that follows what it negates comes next ("suicidal/homicidal ideation
    denied")."""
    split: list[str] = []
    for i, token in enumerate(tokens):
        parts = token.split("/")
        if (
            len(parts) > 1
            and all(len(part) >= _SLASHED_WORD and part.isalpha() for part in parts)
            and not _token_words(token)
            # Not before a negation that follows what it negates ("suicidal/homicidal
            # ideation denied": the halves would not both be in its reach).
            and not _NEGATED_AFTER & set(tokens[i + 1 : i + 4])
        ):
            split.extend(parts)
        else:
            split.append(token)
    return split


class _Note:
    """A tokenised complaint that answers "which of these phrases occur, not negated?".

    Matching goes through an index from table words to token positions, so a note is
    checked against every table in a few milliseconds (docs/triage.md gives the figures).
    """

    def __init__(self, complaint: str) -> None:
        self.complaint = complaint
        self.text = _normalise(complaint)
        self.tokens: list[str] = _split_slashes(_TOKEN.findall(self.text))
        self.words: list[frozenset[str]] = [_token_words(t) for t in self.tokens]
        # What the nurse actually wrote for each table phrase found, for the reasons.
        self.surface: dict[str, str] = {}
        self._current: set[str] = set()  # phrases whose surface is a current mention
        self.positions: dict[str, list[int]] = {}
        for i, words in enumerate(self.words):
            for word in words:
                self.positions.setdefault(word, []).append(i)
        self.french = len(_FRENCH_WORDS & set(self.tokens)) >= 2
        # A note in Jamaican Patois ("mi belly a hurt mi down a di right side": the
        # thirty-fourth vignette set): its "mi" is "my" or "me", not a heart attack, unless
        # the nurse's words frame it ("?MI", "likely MI on ECG": _MI_FRAMED).
        patois = _NOT_BEFORE["mi"]
        self.patois = any(
            token == "mi" and following in patois  # noqa: S105 - a word, not a password
            for token, following in zip(self.tokens, self.tokens[1:], strict=False)
        )
        # ... nor when the nurse writes it in capitals in a note that is not all capitals
        # ("Bislama speaker, mi harem nogud. ECG shows MI": the thirty-fifth set's review).
        self.mi_in_capitals = bool(_MI_IN_CAPITALS.search(complaint)) and sum(
            c.islower() for c in complaint
        ) > sum(c.isupper() for c in complaint)
        words = set(self.tokens)
        self.german = len(_GERMAN_WORDS & words) >= 2
        self.italian_or_spanish = len(_ITALIAN_OR_SPANISH_WORDS & words) >= 2
        self.burmese = len(_BURMESE_WORDS & words) >= 2
        self.slavic = len(_SLAVIC_WORDS & words) >= 2
        # "Chưa", "hết" negate in a note with Vietnamese in it, not "Mr Chua" (a surname).
        self.vietnamese = bool(_VIETNAMESE_WORDS & set(self.tokens))
        self.nai_language = bool(_NAI_IN_ITS_LANGUAGE & set(self.tokens)) and not (
            _NAI_IN_CAPITALS.search(complaint)
        )

    def _nai_a_word(self, i: int) -> bool:
        """Whether the "nai" at ``i`` is said in the language the note quotes: Japanese "not"
        after a verb or a noun ("utte nai", "shokuyoku nai", "wakara nai"), Thai or Lao "in"
        before a body part ("jeb nai ok"), not the nurse's "concern for nai"."""
        before = self.tokens[i - 1] if i else ""
        after = self.tokens[i + 1] if i + 1 < len(self.tokens) else ""
        return (
            before in _NAI_IN_ITS_LANGUAGE
            or after in _NAI_IN_ITS_LANGUAGE
            or after in _THAI_BODY_PARTS
            or (len(before) > 3 and before.endswith(_JAPANESE_BEFORE_NAI))
        )

    def _french_cue(self, j: int) -> bool:
        """Whether the French word at ``j`` negates what follows it: in a note in French,
        "pas" opening its clause or before "de" ("Pas SOB au repos", "pas de fièvre"; after a
        verb it negates the verb: "se réveille pas"), not before a number ("PAS 40"), nor
        "pas capable" (unable), "sans arrêt" (non-stop)."""
        token = self.tokens[j]
        following = self.tokens[j + 1] if j + 1 < len(self.tokens) else ""
        # "Pas de fièvre" negates in a note of few French words too ("64M sweaty, nausea, pas
        # de fievre": the thirty-sixth set's review).
        if not self.french and not (token == "pas" and following == "de"):  # noqa: S105
            return False
        if following in _NOT_AFTER_FRENCH_CUE.get(token, ()) or following.isdigit():
            return False
        if token == "pas":  # noqa: S105 - a word, not a password
            opens = j == 0 or self.tokens[j - 1] in _SCOPE_END or self.tokens[j - 1] == ","
            return opens or following in ("de", "d")
        return True

    def _negated(self, start: int, *, history_counts: bool = False) -> bool:
        """Whether a cue before ``start`` takes the finding out of the complaint. With
        ``history_counts``, a history cue ("hx transplant") does not: a risk factor."""
        comma_seen = False
        words = 0
        for j in range(start - 1, -1, -1):
            token = self.tokens[j]
            if token in _SCOPE_END:
                return False
            if token == ",":  # noqa: S105 - a comma token, not a password
                comma_seen = True
                continue
            # "Many years ago I took an overdose": dated years back before the finding; not
            # a date that belongs to a history item before a comma ("hx MI a few years ago,
            # chest pain").
            if token in ("ago",) and j > 0 and self.tokens[j - 1] in _YEARS_AGO:
                if comma_seen and self._dates_history(j):
                    return False
                return not history_counts
            french = token in _FRENCH_CUES and self._french_cue(j)
            cue = token in _CUES_OVER_COMMAS or token in _CUES_TO_COMMA or french
            if token in _VIETNAMESE_ONLY_CUES and not self.vietnamese:
                cue = False
            if cue and token in _RESULT_WORDS and not self._opens_negation(j, start):
                cue = False  # "COVID negative, chest pain": the result of what precedes it
            if cue and not (
                j + 1 < start
                and self.tokens[j + 1] in _PSEUDO_NEGATION
                # "no appetite or chest pain": the cue still covers what follows "or".
                and not (j + 2 < start and self.tokens[j + 2] in ("or", "nor"))
            ):
                if history_counts and token in _HISTORY_CUES:
                    return False
                to_comma = (
                    token in _CUES_TO_COMMA
                    or french
                    or (token in _RESULT_WORDS and self._names_a_test(j))
                )
                if comma_seen and to_comma and token not in _HISTORY_CUES:
                    return self._listed(j, start)
                return not (comma_seen and to_comma)
            words += 1
            if words > _NEGATION_WINDOW:
                return False
        return False

    def _a_relatives_event(self, start: int, end: int) -> bool:
        """Whether the heart attack, stroke or bleed at ``start``-``end`` is a relative's
        (_FAMILY_EVENTS): "his uncle had a heart attack at sixty", "dad died of a stroke"."""
        tokens = self.tokens
        k = start - 1
        while k >= 0 and start - k <= 6 and tokens[k] in _KIN_EVENT_FILLERS:
            k -= 1
        if k < 1 or tokens[k] not in _KIN_EVENT_VERBS or tokens[k - 1] not in _FAMILY_KIN:
            return False
        if tokens[k] in ("died", "passed", "dying"):
            return True
        # An age, not a time of day ("at 10 this morning", "at 18:30").
        after = tokens[end : end + 3]
        if len(after) < 2 or after[0] not in ("at", "aged"):
            return False
        if after[1] in _AGE_WORDS:
            return True
        then = after[2] if len(after) > 2 else ""
        # From 25: "at 19", "at 20" are as often the hour.
        return after[1].isdigit() and 25 <= int(after[1]) <= 100 and then not in _CLOCK_AFTER

    def _a_word_of_its_language(self, phrase: str, i: int) -> bool:
        """Whether the "ich", "mi" or "si" at ``i`` is a word of the note's German, Italian,
        Spanish (or, for "mi", a Slavic language; for "si", French or Burmese), not the
        nurse's abbreviation: not in
        capitals, not in a note all in capitals, not framed by the words around it."""
        if phrase == "ich":
            language = self.german
        elif phrase == "mi":
            language = self.italian_or_spanish or self.slavic
        else:
            language = self.italian_or_spanish or self.french or self.burmese
        complaint = self.complaint
        if not language or sum(c.islower() for c in complaint) <= sum(
            c.isupper() for c in complaint
        ):
            return False
        if re.search(rf"(?<![A-Za-z]){phrase.upper()}(?![A-Za-z])", complaint):
            return False
        before = self.tokens[i - 1] if i else ""
        after = self.tokens[i + 1] if i + 1 < len(self.tokens) else ""
        return before not in _ABBREVIATION_FRAMED_BEFORE and after not in (
            _ABBREVIATION_FRAMED_AFTER
        )

    def _mi_framed(self, i: int) -> bool:
        """Whether the "mi" at ``i`` is framed as the nurse's myocardial infarction ("?MI",
        "likely MI on ECG", "hx MI,"), in a note that also quotes Patois."""
        before = self.tokens[i - 1] if i else ""
        after = self.tokens[i + 1] if i + 1 < len(self.tokens) else "."
        return before in _MI_FRAMED_BEFORE or after in _MI_FRAMED_AFTER

    def _listed(self, cue: int, start: int) -> bool:
        """Whether the finding at ``start``, past a comma after the cue at ``cue``, is an item
        of the cue's list of short items that ends in "or" ("No headache, chest pain, vision
        change or swelling": the thirty-second vignette set's pertinent negatives), not a
        new finding after one ("no fever, chest pain since this morning", "No SOB, chest
        pain 8/10 radiating to arm or jaw", "No fever, vomiting blood x3, dizzy or faint"),
        nor after a record's field ("No allergies, SOB at rest, lips blue or grey"). The
        other items have at most three words ("shortness of breath"), the finding's at most
        four, and no number."""
        tokens = self.tokens
        if cue + 1 < len(tokens) and tokens[cue + 1] in _FIELD_NEGATIVES:
            return False
        words = 0
        saw_or = False
        for k in range(cue + 1, start):
            token = tokens[k]
            if saw_or:
                return False  # the list ended before the finding's item
            if any(c.isdigit() for c in token):
                return False
            if token == ",":  # noqa: S105 - a comma token
                if not 0 < words <= _LIST_ITEM_WORDS:
                    return False
                words = 0
            elif token in ("or", "nor"):
                # "No headache, vision change or chest pain": the finding ends the list.
                saw_or = 0 < words <= _LIST_ITEM_WORDS or tokens[k - 1] == ","
                if not saw_or:
                    return False
                words = 0
            else:
                words += 1
        k = start
        longest = _LIST_ITEM_WORDS + 1  # the finding's own item
        while True:
            while k < len(tokens) and tokens[k] not in (",", "or", "nor", *_SCOPE_END):
                if any(c.isdigit() for c in tokens[k]):
                    return False
                words += 1
                k += 1
            if not 0 < words <= longest:
                return False
            if saw_or or k == len(tokens) or tokens[k] in _SCOPE_END:
                return saw_or
            saw_or = tokens[k] in ("or", "nor")
            if tokens[k] == "," and k + 1 < len(tokens) and tokens[k + 1] in ("or", "nor"):
                k += 1  # "chest pain, or SOB"
                saw_or = True
            k += 1
            words = 0
            longest = _LIST_ITEM_WORDS

    def _a_things_harm(self, start: int) -> bool:
        """Whether the subject of the harm at ``start`` is a thing ("it'll hurt the baby",
        "the fall hurt the baby", "the medicine could harm the baby")."""
        before = self.tokens[max(0, start - 2) : start]
        if before and before[-1] in _THINGS_THAT_HURT:
            return True
        return len(before) == 2 and before[1] in _MODALS and before[0] in _THINGS_THAT_HURT

    def _an_illness_kills(self, start: int) -> bool:
        """Whether the subject of the threat at ``start`` is an illness or what hurt ("his
        sugar is gonna kill him", "every bump in the Humvee killed her"): the nearest of an
        illness and a person within its clause, up to eight words before it, is the illness
        ("says he killed her" still counts)."""
        for token in self._clause_before(start, _THREAT_WINDOW):
            if token in _PEOPLE:
                return False
            if token in _ILLNESSES_THAT_KILL:
                return True
        return False

    def _no_matter(self, start: int) -> bool:
        """Whether the "si" at ``start`` is Cantonese "mo si" (no matter, it's nothing: the
        thirty-ninth vignette set), not suicidal ideation after months ("depressed x 3 mo
        SI with plan")."""
        if start < 1 or self.tokens[start - 1] not in ("mo", "mou", "mouh"):
            return False
        before = self.tokens[start - 2] if start >= 2 else ""
        return not before.isdigit() and before not in _NUMBER_WORDS

    def _turkish_denial(self, end: int) -> bool:
        """Whether what the Turkish phrase ending at ``end`` tells is denied after it ("yok",
        "olmadi", "istemiyor"), over a list of others ("gogus agrisi, nefes darligi yok")
        and before a "var" (there is) or the sentence's end."""
        following = self.tokens[end : end + _TURKISH_DENIAL_REACH]
        for k, word in enumerate(following):
            if word in _TURKISH_DENIALS:
                return True
            # "gogus agrisi var mi? yok": asked, and answered after the question.
            if word in ("mu", "mi", "?") and following[k - 1 : k] in (["var"], ["mu"], ["mi"]):
                continue
            if word == "var" and following[k + 1 : k + 2] in (["mu"], ["mi"]):
                continue
            if word in _TURKISH_AFFIRMED:
                return False
        return False

    def _iberian_denial(self, start: int, end: int) -> bool:
        """Whether the Spanish or Portuguese suicide at ``start``-``end`` is denied: a
        denial up to three words before it in its clause, or a "no" answering its question
        after it."""
        if _IBERIAN_DENIALS & set(self._clause_before(start, 3)):
            return True
        after = self.tokens[end : end + 2]
        return after[:1] in ([":"], ["?"]) and after[1:] != [] and after[1] in _EUROPEAN_ANSWERS

    def _indonesian_negation(self, start: int) -> bool:
        """Whether the Indonesian chest pain at ``start`` is denied just before it ("tidak
        nyeri dada", "tanpa nyeri dada", "tidak ada nyeri dada")."""
        before = self.tokens[max(0, start - 2) : start]
        return bool(before) and (
            before[-1] in _INDONESIAN_NEGATIONS
            or (before[-1] == "ada" and len(before) == 2 and before[0] in _INDONESIAN_NEGATIONS)
        )

    def _battery_found(self, start: int, end: int) -> bool:
        """Whether the little battery at ``start``-``end`` is found again or changed in its
        clause, without a "niet" (not) just before that word."""
        clause = [*reversed(list(self._clause_before(start, 8)))]
        for word in self.tokens[end : end + 8]:
            if word in _SCOPE_END or word == ",":
                break
            clause.append(word)
        return any(
            word in _BATTERY_FOUND and "niet" not in clause[max(0, k - 2) : k]
            for k, word in enumerate(clause)
        )

    def _no_bone_seen(self) -> bool:
        """Whether the note says no bone was seen ("no bone visible", "no visible bone",
        "no bone seen", "bone not visible")."""
        for j, word in enumerate(self.tokens):
            if word not in ("bone", "bones"):
                continue
            before = self.tokens[max(0, j - 2) : j]
            after = self.tokens[j + 1 : j + 3]
            if "no" in before and (
                (after[:1] and after[0] in _BONE_SEEN) or before[-1] in _BONE_SEEN
            ):
                return not self.find(BONE_WOUND_WORDS)
            if after[:1] == ["not"] and after[1:] and after[1] in _BONE_SEEN:
                return not self.find(BONE_WOUND_WORDS)
        return False

    def _nepali_denial(self, start: int, end: int) -> bool:
        """Whether the Nepali phrase at ``start``-``end`` is denied after it ("lagdaina",
        "chaina"), told in the past ("thiyo", "agadi") or of a relative ("mama le ...")
        before a word saying it is so now or the sentence's end."""
        before = self.tokens[max(0, start - 2) : start]
        if any(word in _NEPALI_RELATIVES for word in before):
            return True
        for word in self.tokens[end : end + _NEPALI_REACH]:
            if word in _NEPALI_DENIALS:
                return True
            if word in _NEPALI_AFFIRMED:
                return False
        return False

    def _denied_after(self, end: int) -> bool:
        """Whether a "nahi" (not) follows the phrase ending at ``end`` in its clause, within
        _URDU_REACH words."""
        for word in self.tokens[end : end + _URDU_REACH]:
            if word in _ANSWER_END:
                return False
            if word in _URDU_DENIALS:
                return True
        return False

    def _european_negation(self, start: int, end: int) -> bool:
        """Whether the Portuguese, Italian or German chest pain at ``start``-``end`` is
        negated in its own language: a negation up to three words before it in its clause,
        or a "no" answering it after."""
        if _EUROPEAN_NEGATIONS & set(self._clause_before(start, 3)):
            return True
        if start and self.tokens[start - 1] in _EUROPEAN_NEGATIONS_RIGHT_BEFORE:
            return True
        after = self.tokens[end : end + 2]
        if after[:1] in ([":"], ["?"]):
            return after[1:] != [] and after[1] in _EUROPEAN_ANSWERS | _EUROPEAN_MARKED_ANSWERS
        return bool(after) and after[0] in _EUROPEAN_ANSWERS

    def _hot_place(self, start: int, end: int) -> bool:
        """Whether "it's roasting" at ``start``-``end`` is said of a place ("it's roasting
        in here", "it's roasting on the wing"), not of a child's head ("mum says his head,
        it's roasting": the thirty-eighth set's review)."""
        if not start or self.tokens[start - 1] not in ("its", "it"):
            return False
        following = tuple(self.tokens[end : end + 2])
        return following[:1] in (("outside",), ("today",), ("out",)) or following in (
            ("in", "here"),
            ("in", "there"),
            ("on", "the"),
            ("in", "the"),
        )

    def _a_medicine_at(self, start: int) -> bool:
        """Whether a medicine is named at ``start`` or just after an "of" ("too many
        tramadol", "too much of the paracetamol")."""
        medicines = _medicine_words()
        for j in range(start, min(len(self.tokens), start + 3)):
            if self.words[j] & medicines:
                return True
            if self.tokens[j] not in ("of", "the", "her", "his", "my", ","):
                return False
        return False

    def _didnt_happen(self, start: int, end: int) -> bool:
        """Whether "didn't", "wasn't" comes right before ``start``, with at most three of
        "have a", "any", "even" between (_DIDNT), or before a list of the fit's signs:
        "didnt shake", "didnt have a fit", "wasnt shaking or jerking". Not a time or a
        comparison after it: "didn't have a seizure in 2 years but had 3 today", "doesn't
        fit like this"."""
        if self.tokens[end : end + 1] and self.tokens[end] in _NOT_A_DENIAL_AFTER:
            return False
        fillers = 0
        for j in range(start - 1, max(-1, start - 9), -1):
            token = self.tokens[j]
            if token in _DIDNT:
                return True
            if token in _DIDNT_FILLERS:
                fillers += 1
                if fillers > 3:
                    return False
            elif token not in _FIT_SIGN_WORDS and token not in ("or", "nor", "and", ","):
                return False
        return False

    def _sight_darkened_in_a_faint(self, start: int, end: int) -> bool:
        """Whether the sight darkening at ``start``-``end`` is a faint's (_DARKENED_SIGHT):
        "her vision went black and she slid to the floor"."""
        near = _Note(" ".join(self.tokens[max(0, start - _FAINT_WINDOW) : end + _FAINT_WINDOW]))
        return (
            bool(near.find(FAINT_PHRASES))
            and not near.find(SIGHT_STILL_LOST_PHRASES)
            and not self.find(SIGHT_AT_RISK_PHRASES)
            and not _low_glucose_readings(self.text)
        )

    def _on_a_wound(self, start: int, end: int) -> bool:
        """Whether the clause of what spans ``start``-``end`` puts it on a wound ("packed the
        wound with coffee grounds", "put coffee grounds on the cut"): a verb of putting
        before it, a wound before it or just after."""
        before = set(self._clause_before(start, _PAST_WINDOW))
        after = set(self.tokens[end : end + 4])
        if _PUT_ON & before and _WOUNDS & (before | after):
            return True
        # "Lac ~3 cm, gaping, coffee grounds in it" (the thirty-ninth vignette set): in or
        # on a wound told just before in the same sentence, no vomit between.
        if self.tokens[end : end + 1] not in (["in"], ["on"], ["inside"]):
            return False
        for j in range(start - 1, max(-1, start - 1 - _WOUND_BEFORE_WINDOW), -1):
            token = self.tokens[j]
            if token in _SCOPE_END or token.startswith(_VOMIT_STEMS):
                return False
            if token in _WOUNDS:
                return True
        return False

    def _pills_gone_missing(self, start: int) -> bool:
        """Whether "with all my pills" at ``start`` tells a bag (or the pills) stolen, lost or
        left behind in its clause ("handbag stolen in terminal with all her tablets in it":
        the forty-third set's changes), not a person found with them."""
        if not start or self.tokens[start - 1] != "with":
            return False
        return bool(_GONE_MISSING & set(self._clause_before(start - 1, 8)))

    def _clause_before(self, start: int, window: int) -> Iterator[str]:
        """The words before ``start``, nearest first, at most ``window`` of them, up to the
        end of the clause before (a comma, a full stop, a semicolon ...)."""
        for j in range(start - 1, max(-1, start - 1 - window), -1):
            token = self.tokens[j]
            if token in _SCOPE_END or token == ",":  # noqa: S105 - a comma token
                return
            yield token

    def _dates_history(self, ago: int) -> bool:
        """Whether the "years ago" ending at ``ago`` dates a history item of its own clause
        ("hx MI a few years ago", "previous DVT 3 yrs ago")."""
        return any(token in _HISTORY_CUES for token in self._clause_before(ago, _PAST_WINDOW))

    def _told_oriented(self, start: int) -> bool:
        """Whether the clause before ``start`` says the patient knows it ("she knows where
        she is and what day it is"), not "barely knows" nor "doesn't know"."""
        for j in range(start - 1, max(0, start - _ORIENTED_WINDOW) - 1, -1):
            token = self.tokens[j]
            if token in _SCOPE_END or token == ",":  # noqa: S105 - a comma token
                return False
            if token in _KNOWS:
                return j == 0 or self.tokens[j - 1] in _KNOWS_AFTER | _SCOPE_END
        return False

    def _opens_negation(self, j: int, start: int) -> bool:
        """Whether the result word at ``j`` ("negative", "neg") negates the finding at
        ``start``: where it opens a negation ("negative for chest pain", a clause or a list
        item that starts with it: "neg CP, SOB", "fever, negative CP"; not after a colon:
        "COVID: negative, SOB" is a result), or names the one analyte right after it
        ("urine neg ketones"). After a test's name it is that test's result and negates
        nothing that follows ("COVID negative chest pain", "trop neg x2 chest pain ongoing":
        nurses leave the comma out)."""
        follows = self.tokens[j + 1] if j + 1 < len(self.tokens) else "."
        previous = self.tokens[j - 1] if j else "."
        if follows == "for" or (previous in _SCOPE_END and previous != ":") or previous == ",":
            return True
        return start == j + 1 and follows in _ANALYTES

    def _names_a_test(self, j: int) -> bool:
        """Whether the result word at ``j`` is about a test ("negative troponin x2",
        "CT head negative for bleed"): then its negation ends at the next comma."""
        near = self.tokens[max(0, j - 2) : j + 2]
        return bool(_TEST_NAMES.intersection(near))

    def _wished_asleep(self, j: int) -> bool:
        """Whether "asleep" at ``j`` is a wished state ("to go asleep"), not a past one."""
        return j > 0 and self.tokens[j - 1] in _WISHED_ASLEEP_AFTER

    def _wished_sleep(self, start: int) -> bool:
        """Whether the words before ``start``, up to a comma, are the patient's own wish for
        sleep ("I just want to go to sleep and ..."), or a wish just before ("hoping to not
        wake up"): what follows is a wish, not a finding."""
        sleep = False
        for j in range(start - 1, max(-1, start - 1 - _WISH_WINDOW), -1):
            token = self.tokens[j]
            if token in _SCOPE_END or token == ",":  # noqa: S105 - a comma token
                return False
            sleep = sleep or token in _SLEEP or (token in _ASLEEP and self._wished_asleep(j))
            if token in _WISH_CUES:
                if token in ("mind", "bother") and (
                    j == 0 or self.tokens[j - 1] not in _MIND_NEGATORS
                ):
                    continue
                near = start - j <= 4
                before = self.tokens[max(0, j - 3) : j]
                # A wish with no one named before it opens its clause: the patient's.
                previous = self.tokens[j - 1] if j else "."
                opens = previous in _SCOPE_END or previous == ","
                follows_i = j + 1 < len(self.tokens) and self.tokens[j + 1] == "i"
                # "(She) wishes she could just not wake up": the patient's, unless a relative
                # is named before it ("wife wished to let him sleep off the drink").
                wished = token in _WISH_WORDS and not _RELATIVES & set(before)
                own = opens or follows_i or wished or bool(_OWN_WISH & set(before))
                return own and (sleep or near)
        return False

    def _weeks_back(self, end: int) -> bool:
        """Whether what follows a finding, in its clause, dates it weeks or months back ("had
        a fever last month", "fever 3 weeks ago"): not history for a risk (a TIA last month
        is still high risk), but not the finding now that a combination needs ("PICC line,
        had a fever last month"). "Since last week", "for the last month" are current."""
        tokens = self.tokens
        clause = list(self._clause_before(end, _PAST_WINDOW))
        for j in range(end, min(len(tokens), end + _PAST_WINDOW)):
            if tokens[j] in _SCOPE_END:
                break
            clause.append(tokens[j])
        if _GOES_ON & set(clause):
            return False
        for j in range(end, min(len(tokens), end + _PAST_WINDOW)):
            token = tokens[j]
            if token in _SCOPE_END:
                return False
            following = tokens[j + 1] if j + 1 < len(tokens) else ""
            after = tokens[j + 2] if j + 2 < len(tokens) else ""
            if token == "last" and following in _WEEKS and tokens[j - 1] not in _UNTIL_NOW:  # noqa: S105
                return True
            if following in _WEEKS and after == "ago":
                return True
        return False

    def _past(self, end: int, *, history_counts: bool = False) -> bool:
        """Whether what follows a finding negates it ("CP? No", "scrotal pain denied") or
        dates it years back ("in 2016", "5 yrs ago", "as a teenager", "last year")."""
        tokens = self.tokens
        if end < len(tokens) and tokens[end] in _NEGATED_AFTER:
            return True
        if end and tokens[end - 1] in _TEST_NAMES | _ANALYTES:
            # A test's own result past a colon or "done" (the fourteenth paraphrase round:
            # "Urine hCG done - negative", "hCG: negative").
            j = end
            while j < min(len(tokens), end + 3) and tokens[j] in _RESULT_LEAD_IN:
                j += 1
            if j > end and j < len(tokens) and tokens[j] in _NEGATED_AFTER:
                return True
        question = end
        while question < len(tokens) and question < end + 2 and tokens[question] in _ASKED_OF:
            question += 1  # "thoughts of harming yourself? No"
        if question < len(tokens) and tokens[question] == "?":
            # "CP? No", and the answer of a question-and-answer note: "...? A: No".
            answer = question + 1
            last = min(len(tokens), question + 3)
            while answer < last and tokens[answer] in _ANSWER_MARK:
                answer += 1
            if answer == question + 1 and question == end:
                if answer < len(tokens) and tokens[answer] in _ANSWER_NO:
                    return True
            # Past a skipped word or an answer mark, only a plain "no" that ends its clause
            # answers the question ("harming others? Not taking his meds" is no answer).
            elif (
                answer < len(tokens)
                and tokens[answer] in _PLAIN_NO
                and (answer + 1 == len(tokens) or tokens[answer + 1] in _ANSWER_END)
            ):
                return True
        if history_counts:
            return False
        this_year = datetime.date.today().year
        comma = None
        for j in range(end, min(len(tokens), end + _PAST_WINDOW)):
            token = tokens[j]
            if token in _SCOPE_END:
                return False
            # "chest pain, hx MI 3 years ago": the date is the history item's.
            if token in _HISTORY_CUES and j > end and tokens[j - 1] == ",":
                return False
            if token == ",":  # noqa: S105 - a comma token
                comma = j
            # "chest pain and sweating, appendix out last year", "..., MI last year": a date
            # past a comma and another word is another item's ("chest pain, last year",
            # "..., 3 years ago", "..., in 2019" are still the finding's).
            if comma is not None and not all(
                t.isdigit() or t in _DATE_OPENERS for t in tokens[comma + 1 : j]
            ):
                return False
            if token.isdigit() and len(token) == 4 and 1900 <= int(token) < this_year:
                return True
            following = tokens[j + 1] if j + 1 < len(tokens) else ""
            after = tokens[j + 2] if j + 2 < len(tokens) else ""
            if token in _YEARS_AGO and following in ("ago", "before"):
                return True
            if (token, following) in (("last", "year"), ("last", "yr")):
                return True
            if token in _LIFE_STAGES and following in _LIFE_STAGES[token]:
                return True
            if (token, following) in (("as", "a"), ("as", "an")) and after in _AS_A_CHILD:
                return True
            # "She had meningitis when she was child" (the fourteenth paraphrase round).
            if (
                token == "when"  # noqa: S105
                and j <= end + 1
                and comma is None
                and following in _WHO_WAS
                and after in ("was", "were")
            ):
                young = tokens[j + 3 : j + 5]
                if young and (
                    young[0] in _AS_A_CHILD | _YOUNG
                    or (young[0] in ("a", "an") and young[1:] and young[1] in _AS_A_CHILD | _YOUNG)
                ):
                    return True
        return False

    def find(
        self, phrases: Iterable[str], *, history_counts: bool = False, now: bool = False
    ) -> list[str]:
        """The phrases (as written in the table) that occur in the note and are not negated,
        in the table's order. Only the phrases whose first word the note has are tried.
        With ``history_counts`` a phrase told as history counts too (a risk factor: "hx
        transplant", "previous DVT"); one negated ("no", "denies") still does not. With
        ``now`` (and ``history_counts``) a phrase right after a history cue ("hx head
        injury", "previous house fire") or dated years back ("in 2019") does not count,
        though a cue earlier in its clause does not reach it ("PMH AF on warfarin, fell and
        hit head")."""
        by_first = _by_first_word(phrases)
        candidates = sorted(
            (entry for word in self.positions.keys() & by_first.keys() for entry in by_first[word]),
        )
        found: list[str] = []
        for _, phrase, words in candidates:
            n = len(words)
            for i in self.positions[words[0]]:
                if i + n > len(self.tokens):
                    continue
                if not all(words[k] in self.words[i + k] for k in range(1, n)):
                    continue
                after = self.tokens[i + n] if i + n < len(self.tokens) else ""
                if after in _NOT_BEFORE.get(phrase, ()):
                    continue
                if phrase in _NOT_BEFORE_PAIRS:
                    then = self.tokens[i + n + 1] if i + n + 1 < len(self.tokens) else ""
                    if (after, then) in _NOT_BEFORE_PAIRS[phrase]:
                        continue
                if phrase in _NOT_BEFORE_WORDS:
                    following = tuple(self.tokens[i + n : i + n + 3])
                    if any(following[: len(w)] == w for w in _NOT_BEFORE_WORDS[phrase]) and not (
                        # "abnormal flexion of the wrist to pain": posturing all the same.
                        phrase in _TO_PAIN_ALL_THE_SAME
                        and _TO_PAIN & set(self.tokens[i + n : i + n + 8])
                    ):
                        continue
                if phrase in _TABLET_COUNTS and i and self.tokens[i - 1] in _TIME_BEFORE:
                    continue
                if phrase in _HARM_OF_A_THING and self._a_things_harm(i):
                    continue
                if phrase in _KILLING_OF_AN_ILLNESS and self._an_illness_kills(i):
                    continue
                if phrase == "roasting" and self._hot_place(i, i + n):
                    continue
                if phrase in _ORIENTED_IN_TIME and self._told_oriented(i):
                    continue
                if phrase == "si" and self._no_matter(i):
                    continue
                if phrase in _ABBREVIATIONS_OF_A_LANGUAGE and self._a_word_of_its_language(
                    phrase, i
                ):
                    continue
                if phrase in _EUROPEAN_NEGATED and self._european_negation(i, i + n):
                    continue
                if phrase in _TURKISH_DENIED and (
                    self._turkish_denial(i + n)
                    or (
                        phrase in _TURKISH_CHEST_PAIN
                        and any(t.startswith(_TURKISH_BREAST) for t in self.tokens)
                    )
                ):
                    continue
                if phrase in _NEPALI_DENIED and self._nepali_denial(i, i + n):
                    continue
                if phrase in _SUICIDE_ELSEWHERE and self._denied_after(i + n):
                    continue
                if phrase in _IBERIAN_SUICIDE and self._iberian_denial(i, i + n):
                    continue
                if phrase in _INDONESIAN_CHEST_PAIN and self._indonesian_negation(i):
                    continue
                if phrase in _BONE_OUT_TOLD and self._no_bone_seen():
                    continue
                if phrase in _FAMILY_EVENTS and self._a_relatives_event(i, i + n):
                    continue
                if phrase in _DUTCH_BATTERY and self._battery_found(i, i + n):
                    continue
                if (
                    i
                    and self.tokens[i - 1] in _NOT_RIGHT_AFTER.get(phrase, ())
                    and not (phrase in _AN_AMOUNT and self._a_medicine_at(i + n))
                ):
                    continue
                if (
                    phrase in _NOT_RIGHT_AFTER_PAIRS
                    and tuple(self.tokens[max(0, i - 2) : i]) in _NOT_RIGHT_AFTER_PAIRS[phrase]
                ):
                    continue
                if phrase in _PUT_ON_A_WOUND and self._on_a_wound(i, i + n):
                    continue
                if phrase in _DARKENED_SIGHT and self._sight_darkened_in_a_faint(i, i + n):
                    continue
                if phrase in _deniable_fit_signs() and self._didnt_happen(i, i + n):
                    continue
                if phrase in _ALL_ONES_PILLS and self._pills_gone_missing(i):
                    continue
                if phrase == "mi" and i and _turkish_question(self.tokens[i - 1], after):
                    continue
                if phrase == "nai" and self.nai_language and self._nai_a_word(i):
                    continue
                if (
                    phrase == "mi"
                    and self.patois
                    and not self.mi_in_capitals
                    and not self._mi_framed(i)
                ):
                    continue

                if (
                    phrase in _UNITS_AFTER_A_NUMBER
                    and i
                    and self.tokens[i - 1].isdigit()
                    and len(self.tokens[i - 1]) <= 3  # not a time: "ECG at 1400 MI changes"
                ):
                    continue
                if phrase in _wish_skipped() and self._wished_sleep(i):
                    continue
                if self._negated(i, history_counts=history_counts):
                    continue
                if now and (
                    _HISTORY_CUES & set(self.tokens[max(0, i - 2) : i])
                    or self._past(i + n, history_counts=False)
                    or (phrase in _DATED_NOW and self._weeks_back(i + n))
                ):
                    continue
                if not self._past(i + n, history_counts=history_counts):
                    found.append(phrase)
                    # The words as written where the phrase is current: a mention told as
                    # history (found for a combination) never replaces a current one.
                    if not history_counts:
                        self.surface[phrase] = " ".join(self.tokens[i : i + n])
                        self._current.add(phrase)
                    elif phrase not in self._current:
                        self.surface[phrase] = " ".join(self.tokens[i : i + n])
                    break
        return found

    def denied(self, phrases: Iterable[str]) -> bool:
        """Whether the note tells the phrases only as absent: one of them is in it, every
        mention negated ("no wheeze", "denies lip/tongue swelling", "didn't shake"), and none
        is found affirmed."""
        phrases = tuple(phrases)
        if self.find(phrases):
            return False
        by_first = _by_first_word(phrases)
        return any(
            i + len(words) <= len(self.tokens)
            and all(words[k] in self.words[i + k] for k in range(1, len(words)))
            for word in self.positions.keys() & by_first.keys()
            for _, _, words in by_first[word]
            for i in self.positions[word]
        )

    def quote(self, phrases: Iterable[str]) -> str:
        """The found phrases as the nurse wrote them, quoted for a reason sentence (each
        wording once, however many phrases found it)."""
        surfaces = list(dict.fromkeys(self.surface.get(p, p.rstrip("*")) for p in phrases))
        # A wording inside a longer one found too ("spinning" in "room spinning") is not
        # quoted again.
        shown = [
            s
            for s in surfaces
            if not any(f" {s} " in f" {other} " for other in surfaces if other != s)
        ]
        return ", ".join(f"'{surface}'" for surface in shown)

    def pain_score(self) -> int | None:
        """The highest "N/10" pain score written in the note, if any."""
        scores = [int(m.group(1)) for m in _PAIN_SCORE.finditer(self.text)]
        return max(scores) if scores else None


# --- Phrase tables (docs/triage.md shows them) -------------------------------------------

# Severe respiratory distress (A when SpO2 < 90, otherwise B: severe distress).
DISTRESS_PHRASES: tuple[str, ...] = (
    "severe respiratory distress",
    "severe resp distress",
    "respiratory distress",
    "resp distress",
    "gasping",
    "cant breathe",
    "cannot breathe",
    "unable to breathe",
    "struggling to breathe",
    "working to breathe",
    "accessory muscle*",
    "retractions",
    "tripod*",
    "unable to speak",
    "grunting",
    "cyanotic",
    "lips blue",
    "blue lips",
)
# A capillary refill of 4 seconds or more, with its unit ("CRT 4 s", "cap refill 5sec",
# "CRT >4s"; not "CRT <4s", which _normalise writes "crt under 4s", nor "CRT 4 limbs").
_SLOW_REFILL = tuple(
    f"{name} {over}{n}{unit}"
    for name in ("crt", "cap refill", "capillary refill", "crt of", "cap refill of")
    for over, least in (("", 4), ("over ", 3))
    for n in range(least, 9)
    for unit in ("s", " s", "sec*", " sec*", " second*")
)
# Signs of poor perfusion written in the complaint (A: shock, with a low blood pressure).
HYPOPERFUSION_PHRASES: tuple[str, ...] = (
    "clammy",
    "mottled",
    "mottling",
    "diaphoretic",
    "pale",
    "pallor",
    "grey",
    "gray",
    "ashen",
    "cool extremities",
    "cold extremities",
    "cool peripheries",
    "cold peripheries",
    "cool skin",
    "cold skin",
    "cold to touch",
    "cool to touch",
    "cold hands",
    "cold feet",
    "delayed cap refill",
    "delayed capillary refill",
    "prolonged cap refill",
    "prolonged capillary refill",
    "sluggish cap refill",
    *_SLOW_REFILL,
    "weak pulse*",
    "thready",
)
# What a heart too slow to perfuse the brain does now (with a severely slow rate: the
# handbook's "weak and dizzy, heart rate = 30" is ESI 1)...
LOW_OUTPUT_SYMPTOM_PHRASES: tuple[str, ...] = (
    "dizzy",
    "dizziness",
    "lightheaded",
    "light headed",
    "feels faint",
    "feel faint",
    "feeling faint",
    "near syncope",
    "presyncope",
    "pre syncope",
)
# ...and what it did (a faint may be over: with a slow heart, ESI 2).
LOW_OUTPUT_EVENT_PHRASES: tuple[str, ...] = (
    "fainted",
    "fainting",
    "felt faint",
    "syncope",
    "syncopal",
    "passed out",
    "blacked out",
    "collapsed",
)
# Signs of poor perfusion firm enough to call a severely slow or fast heart unstable on their
# own: not "pale", "grey" or "sweaty" (a pale stool, grey hair, a run), nor cold hands or feet.
SHOCK_SKIN_PHRASES: tuple[str, ...] = (
    "clammy",
    "mottled",
    "mottling",
    "ashen",
    "cool extremities",
    "cold extremities",
    "cool peripheries",
    "cold peripheries",
    "delayed cap refill",
    "delayed capillary refill",
    "prolonged cap refill",
    "prolonged capillary refill",
    "sluggish cap refill",
    *_SLOW_REFILL,
    "pulse weak",
    "pulses weak",
    "weak radial pulse*",
    "weak peripheral pulse*",
    "thready pulse*",
    "pulse thready",
)
# What can cause shock, written in the complaint: with a low blood pressure these make it
# shock (A) whatever the heart rate, because beta-blockers and other rate-control drugs
# hide the tachycardia that would otherwise show it.
SHOCK_MECHANISM_PHRASES: dict[str, tuple[str, ...]] = {
    "anaphylaxis": (
        "anaphylaxis",
        "anaphylactic",
        "allergic reaction",
        "allergic rxn",
        "throat swelling",
        "throat closing",
        "tongue swelling",
        "lip swelling",
        "lips swelling",
        "swollen lips",
        "swollen tongue",
        "face swelling",
        "facial swelling",
        "hives",
        "urticaria",
        "bee sting",
        "wasp sting",
        "stung",
        "epipen",
    ),
    "bleeding": (
        "bleed*",
        "blood loss",
        "hemorrhag*",
        "haemorrhag*",
        "hematemesis",
        "haematemesis",
        "vomiting blood",
        "melena",
        "melaena",
        "coffee ground*",
        "hematochezia",
        "ruptured",
        "aaa",
        "aneurysm",
        "ectopic",
        "gsw",
        "gunshot",
        "stab",
        "stabbed",
        "trauma",
        "mvc",
        "mva",
        "rtc",
        "crush injury",
        "crushed",
    ),
    "sepsis": ("sepsis", "septic", "fever", "febrile", "fevers", "rigors", "neutropenic"),
    "fluid loss": (
        "dehydrat*",
        "vomit*",
        "diarrhea",
        "diarrhoea",
        "n/v/d",
        "burns",
    ),
    "a heart cause": (
        "chest pain",
        "cp",
        "chest pressure",
        "heart attack",
        "mi",
        "stemi",
        "nstemi",
    ),
}

# Chest pain is ACS-suspicious from _ACS_AGE on, or at any age with one of these features.
CHEST_PAIN_PHRASES: tuple[str, ...] = (
    "chest pain",
    "cp",
    "chest pressure",
    "chest tightness",
    "chest tight",
    "heart attack",
    "mi",
    "stemi",
    "nstemi",
    # The same words in the languages notes are most often mixed with here (Spanish,
    # Tagalog): pain, pressure or tightness of the chest.
    # French (the thirty-sixth set's review: "douleur thoracique ce matin, a pris ses cp de
    # nitro").
    "douleur thoracique",
    "douleurs thoraciques",
    "dlr thoracique",
    "douleur a la poitrine",
    "douleur dans la poitrine",
    "mal a la poitrine",
    "mal dans la poitrine",
    "oppression thoracique",
    "serrement dans la poitrine",
    "douleur retrosternale",
    # A weight or an unease in the middle of the chest (the forty-first vignette set: "gêne
    # « comme un poids » au milieu de la poitrine", to the jaw, a diabetic taxi driver).
    "poids au milieu de la poitrine",
    "poids sur la poitrine",
    "poids dans la poitrine",
    "douleur au milieu de la poitrine",
    "gene au milieu de la poitrine",
    "gene thoracique",
    "gene dans la poitrine",
    "gene a la poitrine",
    "dolor de pecho",
    "dolor en el pecho",
    "duele el pecho",
    "duele mucho el pecho",
    "presion en el pecho",
    "opresion en el pecho",
    # Bislama and Tok Pisin: a pain in the chest ("pen long jes", "bros i pen": the
    # thirty-fifth set's review).
    "pen long jes",
    "pen long bros",
    "jes i pen",
    "bros i pen",
    "soa long jes",
    "jes i soa",
    "bros i soa",
    "masakit ang dibdib",
    "sumasakit ang dibdib",
    "sakit sa dibdib",
    "naninikip ang dibdib",
    "paninikip ng dibdib",
    "nakadagan sa dibdib",
    *CHEST_PAIN_INDONESIAN,
    # And in Nepali ("chhati ali ali dukhyo": the chest hurt a little; the twenty-seventh
    # vignette set).
    *CHEST_PAIN_NEPALI,
    # And in Vietnamese, its accents dropped ("tức ngực": a tight chest; "đau ngực": chest
    # pain; the thirtieth vignette set).
    *CHEST_PAIN_VIETNAMESE,
    *CHEST_PAIN_EUROPEAN,
)
ACS_FEATURE_PHRASES: tuple[str, ...] = (
    "radiat*",
    "diaphore*",
    "sweaty",
    "crushing",
    "pressure",
    "tightness",
    "jaw",
    "l arm",
    "left arm",
    "sob",
    "shortness of breath",
    "substernal",
)
FEVER_PHRASES: tuple[str, ...] = ("fever", "febrile", "fevers")
# An anginal equivalent without chest pain (older women, diabetics), from _ACS_AGE: the jaw,
# the left shoulder or an arm aching, with breathlessness, and no injury or local cause.
ANGINAL_SITE_PHRASES: tuple[str, ...] = (
    "jaw",
    "l shoulder",
    "left shoulder",
    "l arm",
    "left arm",
    "both arms",
    "arms",
)
# ... the same places but one arm (not "both arms", "arms": a heartburn and sore arms).
_ANGINAL_ONE_SIDE = ("jaw", "l shoulder", "left shoulder", "l arm", "left arm")
ANGINAL_ACHE_PHRASES: tuple[str, ...] = (
    "ach*",
    "pain",
    "painful",
    "heavy",
    "heaviness",
    "discomfort",
    "pressure",
    "tight*",
)
ANGINAL_BREATHLESS_PHRASES: tuple[str, ...] = (
    "sob",
    "short of breath",
    "shortness of breath",
    "breathless*",
    "out of breath",
    "cant catch* breath",
    "puffed out",
    "gets puffed",
    "out of puff",
    "winded walking",
    "winded on exertion",
    "winded going",
    "winded climbing",
    "gets winded",
    "got winded",
)
ANGINAL_OTHER_CAUSE_PHRASES: tuple[str, ...] = (
    "fell",
    "fall",
    "fallen",
    "hit",
    "punch*",
    "kicked",
    "assault*",
    "injur*",
    "fractur*",
    "broken",
    "dislocat*",
    "trauma",
    "sprain*",
    "abscess",
    "cellulitis",
    "dental",
    "tooth",
    "teeth",
    "toothache",
    "eczema",
    "rash",
    "wound",
    "lifting",
)
# The heart attack told as sweating with an upper-abdominal heaviness or "gas", or with
# breathlessness or nausea, from _SWEATING_ACS_AGE (women, diabetics and older patients have no
# chest pain), with no other cause for the sweat in the note (a fever, heat, exercise,
# a low sugar, withdrawal, panic).
_SWEATING_ACS_AGE = 45
# Nausea in German, Urdu and Russian (Italian says "nausea"; French "nausée" is below).
_NAUSEA_ELSEWHERE = ("ubelkeit", "ji matla", "jee matla", "ji machla", "toshnota", "toshnit")
ACS_SWEAT_PHRASES: tuple[str, ...] = (
    # French: sweats on the forehead, in a sweat (the thirty-sixth vignette set).
    "sueurs",
    "en sueur",
    "sweating",
    "sweaty",
    "sweats",
    "diaphoretic",
    "diaphoresis",
    "clammy",
    "cold sweat",
    "drenched",
    "perspiring",
    # Tagalog (Taglish notes): sweating, a cold sweat.
    "pinagpapawisan",
    "pinapawisan",
    "pawisan",
    "pawis na pawis",
    "malamig na pawis",
    # A sweat running or pouring, as Bislama says it ("swet i ron": the thirty-fifth set).
    "swet i ron",
    "sweat running",
    "sweat pouring",
    "pouring with sweat",
    "dripping with sweat",
    "dripping sweat",
    # A forehead or skin damp or moist to the touch ("Looks pale, damp forehead": the
    # fiftieth vignette set).
    "damp forehead",
    "forehead damp",
    "forehead is damp",
    "damp skin",
    "skin damp",
    "skin is damp",
    "moist skin",
    "skin moist",
    "skin is moist",
    "beads of sweat",
    # Italian, Portuguese, Spanish and German ("grigio e sudato": the thirty-ninth vignette
    # set; "kaltschweißig": in a cold sweat).
    "sudato",
    "sudata",
    "sudore freddo",
    "sudorazione",
    "suado",
    "suada",
    "suando",
    "suor frio",
    "sudando",
    "sudoroso",
    "sudorosa",
    "sudor frio",
    "schweissig",
    "kaltschweissig",
    "verschwitzt",
    "schwitzt",
    "schweissgebadet",
    # Dutch and Flemish: clammy, sweaty, in a cold sweat ("klam en zweterig": the
    # forty-eighth vignette set).
    "zweterig",
    "bezweet",
    "klam",
    "klamme",
    "koud zweet",
    "transpireert",
    # Indonesian and Malay: a cold sweat, sweating ("keringat dingin": the forty-seventh
    # vignette set; no Kernig's sign).
    "keringat dingin",
    "berkeringat",
    "berpeluh",
    # Italian and Neapolitan ("'nu poco 'e sudore fridd'"), French ("a transpiré bcp dans
    # le taxi"), German, Urdu and Russian, transliterated (the forty-ninth vignette set).
    "sudore",
    "sudori",
    "sudore fridd",
    "a transpire",
    "transpire beaucoup",
    "transpire bcp",
    "transpirait",
    "transpiration",
    "sueur froide",
    "sueurs froides",
    "kalter schweiss",
    "schweiss auf der stirn",
    "paseena",
    "pasina",
    "paseene",
    "thanda paseena",
    "kholodnyy pot",
    "kholodnyi pot",
    "kholodnom potu",
    "v potu",
    "vspotel",
    "vspotela",
)
ACS_UPPER_ABDOMEN_PHRASES: tuple[str, ...] = (
    "upper abdomen",
    "upper abdominal",
    "upper stomach",
    "upper belly",
    "upper tummy",
    "top of her stomach",
    "top of his stomach",
    "top of stomach",
    "epigastric",
    "epigastrium",
    "indigestion",
    "heartburn",
    "gas trouble",
    "gas pain",
    "acidity",
    "acid reflux",
    "reflux",
    # "Hyperacidity" is the Philippine word for dyspepsia; Tagalog "sikmura" is the pit of
    # the stomach, "kabag" wind, "hirap huminga" hard to breathe, "hinihingal" out of breath.
    "hyperacidity",
    # Dutch and Flemish: a pain high in the belly, a stone on the stomach (the forty-eighth
    # vignette set: "buikpijn bovenin", "gelijk een steen op mijn maag").
    "bovenbuik",
    "buikpijn bovenin",
    "bovenin de buik",
    "steen op mijn maag",
    "steen op de maag",
    "maagstreek",
    # Italian, French, German, Urdu and Russian: a burning or a weight high in the belly,
    # "the digestion" ("è 'a digestione, aggio mangiato pesante"; "brûlure estomac": the
    # forty-ninth vignette set), and nausea.
    "bruciore di stomaco",
    "bruciore allo stomaco",
    "bocca dello stomaco",
    "dolore epigastrico",
    "epigastralgia",
    "digestione",
    "cattiva digestione",
    "indigestione",
    "brulure estomac",
    "brulure destomac",
    "brulure a lestomac",
    "brulures estomac",
    "douleur epigastrique",
    "epigastralgie",
    "oberbauch",
    "oberbauchschmerz*",
    "druck im oberbauch",
    "magendruck",
    "druck im magen",
    "sodbrennen",
    "magenbrennen",
    "tezabiat",
    "maiday mein jalan",
    "meday mein jalan",
    "izzhoga",
    "pod lozhechkoy",
    "zhzhenie v zheludke",
    *_NAUSEA_ELSEWHERE,
    "sikmura",
    "kabag",
    "gas",
    "gassy",
    "stomach pressure",
    "pressure in stomach",
    "pressure in his stomach",
    "pressure in her stomach",
    "pressure in my stomach",
    "burning in stomach",
    "burning in his stomach",
    "burning in her stomach",
    "burning in my stomach",
    "pit of her stomach",
    "pit of his stomach",
    "pit of my stomach",
    "pit of the stomach",
    # Polish "zgaga" (heartburn; the thirty-third vignette set).
    "zgaga",
    # French: the top of the belly, its pit, heartburn, nausea (the thirty-sixth set).
    "haut du ventre",
    "creux de lestomac",
    "brulures destomac",
    "nausee",
    "nausees",
    # Patois "mi belly a hurt mi ... an mi feel fi vomit" (feel like vomiting; the
    # thirty-fourth vignette set).
    "feel fi vomit",
    "feel like vomiting",
    "feels like vomiting",
    # Breathlessness (ACS_SWEAT_BREATHLESS_PHRASES, below) and nausea.
    "nausea",
    "nauseous",
    "nauseated",
    "queasy",
    "sick to my stomach",
    "sick to her stomach",
    "sick to his stomach",
    "sick to the stomach",
    "nasusuka",
    # Nausea as British English says it ("gone grey and a bit clammy, said she felt sick":
    # the fifty-first vignette set, an 86-year-old diabetic with no chest pain).
    "felt sick",
    "feels sick",
    "feeling sick",
    "feel sick",
)
# Of them, a burning or heaviness of the upper stomach (not wind nor nausea alone).
_UPPER_BURNING = tuple(
    phrase
    for phrase in ACS_UPPER_ABDOMEN_PHRASES
    if phrase not in ("gas", "gassy", "kabag", "nausea", "nauseous", "nauseated", "queasy")
    and phrase not in ("nasusuka", "nausee", "nausees", *_NAUSEA_ELSEWHERE)
    and phrase not in ("felt sick", "feels sick", "feeling sick", "feel sick")
    and not phrase.startswith("sick to")
)
ACS_SWEAT_BREATHLESS_PHRASES: tuple[str, ...] = (
    *ANGINAL_BREATHLESS_PHRASES,
    "short breath",
    # Bislama and Tok Pisin "sot win" (short wind).
    "sot win",
    "hirap huminga",
    "hinihingal",
)
ACS_SWEAT_OTHER_CAUSE_PHRASES: tuple[str, ...] = (
    "fever*",
    "febrile",
    # A fever in French, Spanish or Portuguese.
    "fievre",
    "fiebre",
    "febre",
    "febbre",
    "fieber",
    "lagnat",
    "nilalagnat",
    "temp*",
    "hot",
    "heat*",
    "sun",
    "exercis*",
    "gym",
    "running",
    "jog*",
    "went for a run",
    "after a run",
    "after his run",
    "after her run",
    "at night",
    "weight loss",
    "wheez*",
    "asthma*",
    "copd",
    "pneumonia",
    "cough*",
    "chest infection",
    "hypo",
    "hypos",
    "low sugar*",
    "sugar* low",
    "withdraw*",
    "detox",
    "panic*",
    "anxiety",
    "anxious",
    "night sweats",
    "sueurs nocturnes",
    "sudores nocturnos",
    "menopaus*",
    "hot flush*",
    "hot flash*",
    "pregnan*",
)
# What explains a sweat with an upper-abdominal ache or nausea, though not with breathlessness
# (a grey, sweaty, breathless diabetic who vomited once is still a possible heart attack):
# vomiting and diarrhoea in any words, and the everyday causes of sweating with nausea.
ACS_SWEAT_GUT_CAUSE_PHRASES: tuple[str, ...] = (
    # An injury, a wound, a toothache, a sore throat or an abscess, and its pain, explain
    # a sweat with nausea ("FOOSH, wrist deformity, felt sick and clammy": the fifty-first
    # set's review), not a sweat with breathlessness.
    "injur*",
    "fractur*",
    "deformity",
    "deformed",
    "foosh",
    "lacerat*",
    "sprain*",
    "toothache",
    "tooth",
    "teeth",
    "dental",
    "sore throat",
    "abscess",
    "vomit*",
    "diarrh*",
    "loose motions",
    "threw up",
    "throwing up",
    "chucked up",
    "chucking up",
    "puking",
    "puked",
    "being sick",
    "emesis",
    "nagsusuka",
    "lbm",
    "vasovagal",
    "needle",
    "blood draw",
    "blood test",
    "vertigo",
    "room spinning",
    "motion sick*",
    "car sick*",
    "sea sick*",
    # A stomach bug, or the sight of blood (the thirty-fourth set's review: "feel like
    # vomiting, loose stools x6, sweaty, partner has same bug").
    "loose stools",
    "bug",
    "gastroenteritis",
    "sees blood",
    "sight of blood",
    "seeing blood",
    "seasick",
    "carsick",
    "migraine*",
    "hangover",
    "hungover",
    "kidney stone*",
    "renal colic",
    "gallstone*",
    "biliary",
    "chemo*",
    "morphine",
    "post op",
    "postop",
    "dialysis",
    "cramps",
)
# The quiet heart attack of an older diabetic, from _SILENT_ACS_AGE: a diabetic who is
# sick and drained, with no other cause (diarrhoea, an injury) in the note.
_SILENT_ACS_AGE = 65
DIABETES_PHRASES: tuple[str, ...] = (
    "diabetic",
    "diabetes",
    "dm",
    "t2dm",
    "t1dm",
    "dm2",
    "iddm",
    "niddm",
    "t2 diabetic",
    "t1 diabetic",
    "type 2 diabetic",
    "type 1 diabetic",
    "type 2 diabetes",
    "type 1 diabetes",
    "on insulin",
    "metformin",
    "gliclazide",
)
# Nausea in its own words: a bare "sick" is too often another sense ("sick and tired of",
# "off sick", "car sick").
SICK_PHRASES: tuple[str, ...] = (
    "nausea",
    "nauseous",
    "nauseated",
    "queasy",
    "vomit*",
    "throwing up",
    "retching",
    "being sick",
    "been sick",
    "just sick",
    "feeling sick",
    "feels sick",
    "felt sick",
    "n/v",
)
DRAINED_PHRASES: tuple[str, ...] = (
    "no energy",
    "weak",
    "exhausted",
    "fatigue*",
    "weakness",
    "washed out",
    "wiped out",
    "no strength",
    "shattered",
    "knackered",
    "cant even",
)
SILENT_ACS_OTHER_CAUSE_PHRASES: tuple[str, ...] = (
    "diarrh*",
    "diarhoea",
    "diarrea",
    "d v",
    "d/v",
    "d and v",
    "gastro*",
    "food poisoning",
    "stomach bug",
    "tummy bug",
    "norovirus",
    "fell",
    "fall",
    "injur*",
    "uti",
    "urine",
    "cough",
    "flu",
    "chemo*",
    "hangover",
    "non diabetic",
)
# A confusion told as the patient's usual state ("oriented to self only - facility sheet
# says this is baseline ... 'she's always like this, that's her normal'": the fifty-first
# vignette set, a wrist broken in advanced dementia), with nothing in the note that says it
# changed (CONFUSION_CHANGED_PHRASES: "more muddled than her baseline", "since this
# morning", "not her usual self", "now"): no new confusion.
CONFUSION_AT_BASELINE_PHRASES: tuple[str, ...] = (
    "at baseline",
    "at her baseline",
    "at his baseline",
    "is baseline",
    "is her baseline",
    "is his baseline",
    "her baseline",
    "his baseline",
    "per baseline",
    "her normal",
    "his normal",
    "normal for her",
    "normal for him",
    "usual for her",
    "usual for him",
    "always like this",
    "always like that",
    "always confused",
    "always muddled",
    "her usual self",
    "his usual self",
    "same as always",
    "unchanged from baseline",
    "no change from baseline",
)
CONFUSION_CHANGED_PHRASES: tuple[str, ...] = (
    "new",
    "newly",
    "worse",
    "worsen*",
    "more",
    "acute*",
    "sudden*",
    "since",
    "today",
    "tonight",
    "this morning",
    "this am",
    "this afternoon",
    "this evening",
    "overnight",
    "now",
    "than usual",
    "than normal",
    "than her",
    "than his",
    "change",
    "changed",
    "changes",
    "deteriorat*",
    "different",
    "declin*",
    "increas*",
    "drowsy",
    "drowsier",
    "sleepy",
    "hallucinat*",
    "delirium",
    "delirious",
    "not herself",
    "not himself",
)
# A leaking abdominal aortic aneurysm told as a first kidney stone or a bad back, from
# _AORTIC_LEAK_AGE (a first "renal colic" after 60 is an aneurysm until shown otherwise): a
# pain of the back, the flank, the loin, the groin or the belly, sudden or never had before
# in its own sentence (or with a clammy, ashen or mottled skin, or a collapse), with a sign
# of blood lost (a sweat, a dizziness or faint, pallor, a pressure well below the
# patient's usual), unless another cause is told: stones known before (unless this pain is
# "different"), an injury, lifting or a fall (not a fall in a collapse), a chronic back
# pain, shingles, a urine infection or a fever; a stomach bug, a lumbar puncture or a new
# blood-pressure tablet explain a dizziness or pallor, not a clammy skin or a collapse. The
# fifty-first vignette set: "Sudden L back/flank pain ... 'like someone stuck a knife in
# me and twisted, I've never had owt like it'. Carer thought kidney stone. Sweaty ...
# 'Felt woozy when I stood'. Usual BP 150s per folder" in a 79-year-old on bisoprolol.
_AORTIC_LEAK_AGE = 60
AORTIC_LEAK_SITE_PHRASES: tuple[str, ...] = (
    # A pain of the back (not "came back", "back home"), the flank, the loin, the groin...
    "back pain",
    "backpain",
    "backache",
    "back ache",
    "back hurts",
    "back hurting",
    "sore back",
    "pain in back",
    "pain in the back",
    "pain in his back",
    "pain in her back",
    "pain in my back",
    "pain in me back",
    "lower back",
    "low back",
    "flank*",
    "loin*",
    "kidney stone*",
    "kidney pain",
    "renal colic",
    "renal pain",
    "groin pain",
    "pain in groin",
    "pain in the groin",
    "pain in his groin",
    "pain in her groin",
    "pain in my groin",
    # ... or of the belly.
    "abdo pain",
    "abdominal pain",
    "abd pain",
    "belly pain",
    "tummy pain",
    "stomach pain",
    "stomach ache",
    "tummy ache",
    "bellyache",
    "belly ache",
    "pain in belly",
    "pain in the belly",
    "pain in his belly",
    "pain in her belly",
    "pain in my belly",
    "pain in stomach",
    "pain in the stomach",
    "pain in his stomach",
    "pain in her stomach",
    "pain in my stomach",
    "pain in tummy",
    "pain in the tummy",
    "pain in abdomen",
    "pain in the abdomen",
)
AORTIC_LEAK_ONSET_PHRASES: tuple[str, ...] = (
    "sudden*",
    "all of a sudden",
    "out of nowhere",
    "out of the blue",
    "abrupt*",
    "came on at once",
    "came on quickly",
    "all at once",
    "knife",
    "tearing",
    "ripping",
    "excruciat*",
    "worst pain",
    "worst ever",
    "10/10",
    "doubled over",
    "never had owt like",
    "never had anything like",
    "never had pain like",
    "never had a pain like",
    "never felt anything like",
    "never felt pain like",
    "never had this before",
    "first kidney stone",
    "first ever kidney stone",
    "never had a kidney stone",
    "never had kidney stones",
    "never had stones",
    "never had a stone",
    "never had a stone in my life",
)
# Signs of blood lost that stand on their own: a clammy, ashen or mottled skin, a collapse.
AORTIC_LEAK_FIRM_SIGN_PHRASES: tuple[str, ...] = (
    *SHOCK_SKIN_PHRASES,
    *LOW_OUTPUT_EVENT_PHRASES,
    "diaphoretic",
    "diaphoresis",
    "sweaty",
    "sweating",
    "sweats",
    "nearly fainted",
    "nearly passed out",
    "almost passed out",
    "almost fainted",
    "hypotensive",
    "hypotension",
)
# ... and those another cause may explain (a stomach bug, a new tablet, grey hair).
AORTIC_LEAK_SOFT_SIGN_PHRASES: tuple[str, ...] = (
    *LOW_OUTPUT_SYMPTOM_PHRASES,
    "pale",
    "pallor",
    "grey",
    "gray",
    "woozy",
    "wobbly when",
    "went white",
    "gone white",
    "white as a sheet",
)
_COLLAPSE_WORDS = ("collaps*", "passed out", "fainted", "syncop*", "gave way", "legs went")
_CAME_OVER_FAINT = (
    *("came over faint", "went faint", "nearly fainted", "nearly passed out"),
    *("almost fainted", "almost passed out"),
)
# Stones known before explain the pain, unless this one is different.
AORTIC_LEAK_STONES_BEFORE_PHRASES: tuple[str, ...] = (
    "known stone*",
    "known renal stone*",
    "known kidney stone*",
    "previous stone*",
    "prev stone*",
    "previous renal colic",
    "previous kidney stone*",
    "hx stone*",
    "hx renal colic",
    "hx kidney stone*",
    "recurrent stone*",
    "recurrent renal colic",
    "stones before",
    "had stones",
    "same as last time",
    "same as before",
    "same as his last",
    "same as her last",
    "same as my last",
    "like his last stone",
    "like her last stone",
    "like my last stone",
    "usual back pain",
    "chronic back pain",
    "chronic backache",
    "chronic low back",
    "chronic lower back",
    "sciatica",
)
AORTIC_LEAK_DIFFERENT_PHRASES: tuple[str, ...] = (
    "different",
    "unlike",
    "not like",
    "not the same",
    "never had",
    "never felt",
    "worse than",
)
# An injury in the pain's own sentence (not as history: "no hx of trauma" is no injury).
AORTIC_LEAK_INJURY_PHRASES: tuple[str, ...] = (
    "fell",
    "fall",
    "lifting",
    "lifted",
    "injur*",
    "trauma",
    "stab wound",
    "stabbed",
)
# A rash of shingles or an infection of the urine anywhere in the note.
AORTIC_LEAK_INFECTION_PHRASES: tuple[str, ...] = (
    "shingles",
    "zoster",
    "rigors",
    "dysuria",
    "burning when passing urine",
    "uti",
    "urine infection",
    *FEVER_PHRASES,
)
AORTIC_LEAK_SOFT_CAUSE_PHRASES: tuple[str, ...] = (
    "d v",
    "d and v",
    "d/v",
    "diarrh*",
    "vomiting and diarrh*",
    "gastro*",
    "stomach bug",
    "tummy bug",
    "constipat*",
    "lumbar puncture",
    "lp",
    "new bp",
    "bp tablets",
    "bp meds",
    "started amlodipine",
    "started ramipril",
    "started bisoprolol",
    "grey hair",
    "gray hair",
)
# "Usual BP 150s", "BP normally 160", "BP 105 (usually 160)", "usual BP in the 150s": the
# patient's own pressure, for a fall from it.
_USUAL_PRESSURE = re.compile(
    r"(?:usual(?:ly)?|normal(?:ly)?|baseline)\s+(?:sbp|bp|blood pressure)\s*"
    r"(?:(?:is|of|about|around|in the|in)\s+|~\s*)*(\d{2,3})"
    r"|(?:sbp|bp|blood pressure)\b[^.;]{0,15}?\b(?:usual(?:ly)?|normal(?:ly)?|baseline)\s*"
    r"(?:(?:is|of|about|around|in the|in)\s+|~\s*)*(\d{2,3})"
)
# A systolic pressure this far below the patient's usual is a pressure fallen.
_PRESSURE_FALL = 30
_SENTENCE_END = re.compile(r"[.;!\n]+")
# A baby's green vomit (the fifty-fourth vignette set: an 11-day-old who "spits up after every
# feed, but the last 2 times it was green, like bright green"): a vomit told in a sentence,
# green or bile in it or the next, not of a stool, a nappy, a nose or an eye around it, nor
# denied in its own clause ("no blood or bile in vomit", "non-bilious").
_GREEN_VOMIT_YEARS = 1.0
_VOMITED = re.compile(
    r"\b(vomit\w*|spit\w* up|spits|spitting|threw up|throw\w* up|posset\w*|emesis|puk\w*"
    r"|bring\w* up|brought up|(?:being|was|been|is) sick"
    # "a bit sicky ... babies bring it back up but the last two it came out green" (the
    # fifty-ninth vignette set).
    r"|sicky|sicked|sicking|sick up|sick (?:was|is)|chuck\w* up|regurgitat\w*"
    r"|(?:bring\w*|brought|com\w*|came) (?:\w+ ){0,2}back up"
    # Not a matter "brought up with the GP".
    r"|(?:bring\w*|brought) (?:it |them )?up(?! with))\b"
)
_GREEN = re.compile(r"\b(green\w*|bilious|bile)\b")
_NOT_THE_VOMITS = frozenset(
    {"poo", "poos", "pooed", "poop", "stool", "stools", "nappy", "nappies", "diaper", "diapers"}
    | {"snot", "nose", "mucus", "discharge", "eye", "eyes", "stump", "sputum", "phlegm"}
    | {"bogies", "bogeys", "boogers"}
)
# Green food brought back up is no bile ("sicked up his spinach and peas puree, green
# colour": the fifty-ninth set's review).
_GREEN_FOODS = frozenset(
    {"spinach", "peas", "puree", "veg", "vegetable", "vegetables", "broccoli", "kale"}
    | {"avocado", "beans", "courgette", "zucchini", "pesto", "lime", "jelly", "mint"}
)
_GREEN_DENIED = frozenset({"no", "not", "nil", "denies", "never", "without", "non", "nor"})
_TITLES = frozenset({"dr", "doctor", "mr", "mrs", "ms", "miss", "nurse", "sister"})
# A low blood glucose now, in words (a reading in numbers: _low_glucose_readings). "Hypo"
# alone is read only where it is not the start of another word written apart ("hypo
# thyroid", "hypo-tensive"); a glucometer below its range shows "LO".
HYPOGLYCAEMIA_PHRASES: tuple[str, ...] = (
    "hypo",
    "hypos",
    "hypoglyc*",
    "low sugar",
    "low sugars",
    "low blood sugar*",
    "low blood glucose",
    "low glucose",
    "low bm",
    "low bg",
    "low bgl",
    "sugar low",
    "sugars low",
    "sugar is low",
    "sugar very low",
    "sugar too low",
    "sugar really low",
    "sugar dropped",
    "glucose low",
    "bm low",
    "bg low",
    "cbg low",
    "reads lo",
    "read lo",
    "reading lo",
    "says lo",
    "shows lo",
    "showing lo",
    "meter lo",
    "glucometer lo",
    "lo on glucometer",
    "lo on the glucometer",
    "lo on meter",
    "lo on the meter",
    "reads low",
    "glucometer reads low",
    "too low to read",
    "bm unrecordable",
    "sugar unrecordable",
    "glucose unrecordable",
)
# The hypo is over: no life-saving intervention is needed now.
HYPO_RESOLVED_PHRASES: tuple[str, ...] = (
    "now fine",
    "fine now",
    "resolved",
    "recovered",
    "back to normal",
    "now alert",
    "alert and orientated",
    "alert and oriented",
    "now orientated",
    "now oriented",
    "now talking normally",
    "back to himself",
    "back to herself",
    "came round",
    "came around",
)
# A change in mental status, read only together with a low blood glucose (alone, confusion
# may be old, as in dementia: the new-confusion concept decides that).
HYPO_MENTAL_CHANGE_PHRASES: tuple[str, ...] = (
    "confused",
    "confusion",
    "disoriented",
    "disorientated",
    "not making sense",
    "making no sense",
    "talking nonsense",
    "mumbling",
    "incoherent",
    "slurring",
    "slurred",
    "drowsy",
    "hard to wake",
    "wont follow commands",
    "not following commands",
    "not obeying commands",
    "combative",
    "acting strange*",
    "acting weird",
    "not himself",
    "not herself",
    "not acting right",
    "altered mental*",
    "altered conscious*",
    "altered level",
    "ams",
)
# A glucose reading in numbers: a glucose word, then a value with a decimal point or a unit.
_GLUCOSE_READING = re.compile(
    r"\b(bm|bg|bgl|bsl|cbg|fsbs|glucose|glucometer|meter|sugar|sugars|sugar level"
    r"|blood sugar|finger ?stick|finger ?prick)"
    r"\s*(?:of|is|was|at|now|reading|read|reads|showed|shows|said|says|:|=)?"
    # "CBG at desk 7.8", "BM on arrival 3.1".
    r"(?:\s*(?:the\s+)?(?:desk|triage|bedside|arrival|door))?"
    r"\s*(?:of|at|as|:|=)?\s*(\d{1,3}(?:\.\d)?)\s*(mmol|mg)?(?:\s*([a-z]+))?"
)
# A whole number this low can only be mg/dL (in mmol/L it would be past what a meter reads);
# below it a bare number may be either unit ("BM 25" is high in mmol/L, low in mg/dL).
_MG_DL_ONLY = range(34, 70)
# The highest a meter reads in mg/dL (above it, "HI").
_MG_DL_READS = 600


def _ends_a_reading(text: str, end: int, after: str | None) -> bool:
    """Whether the whole number that ends at ``end`` is a reading of its own, not part of
    something else: no hyphen, slash or percent sign attached ("45-year-old", "45-50 mins",
    "50%"), and no unit of time, quantity or age after it ("40 cigs", "45 lbs", "50 per
    cent"); "BG 45, confused", "BM 45 - drowsy", "BM 45 per paramedics" are readings."""
    rest = text[end:]
    if rest[:1] in ("-", "/", "%", "\u2013") or rest.lstrip()[:1] == "%":
        return False
    if after == "per":
        return not rest.lstrip()[3:].lstrip().startswith("cent")
    return after not in _NOT_A_READING_AFTER


# What a whole number before them counts: no glucose reading ("BM 45 mins ago").
_NOT_A_READING_AFTER = frozenset(
    {
        *("s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute", "minutes"),
        *("h", "hr", "hrs", "hour", "hours", "d", "day", "days", "wk", "wks", "week", "weeks"),
        *("month", "months", "mo", "mth", "mths", "y", "yr", "yrs", "year", "years", "yo"),
        *("ago", "old", "units", "unit", "u", "iu", "g", "gm", "gms", "gram", "grams"),
        *("grammes", "kg", "kgs", "lb", "lbs", "ml", "mls", "l", "litres", "liters", "meq"),
        *("cigs", "cigarettes", "pack", "packs", "teaspoons", "teaspoon", "spoons", "spoon"),
        *("spoonfuls", "tablets", "tabs", "percent", "pc", "x", "times", "cubes", "sachets"),
    }
)


def _glucose_readings(text: str) -> list[tuple[str, bool, int, int]]:
    """Each glucose reading of the note in order: as written, whether it is low, and where
    it starts and ends. Low: below 4.0 mmol/L (a decimal value, or "mmol" after it) or 70
    mg/dL ("mg" after it, or a whole number from 34 to 69, which no meter reads in mmol/L).
    A whole number from 70 to 600 is a reading in mg/dL that is not low. A smaller bare
    integer ("BM 2 hours ago", "sugar 2 spoons") is no reading, nor a number followed by a
    unit of time or quantity ("BM 45 mins ago")."""
    found = []
    for match in _GLUCOSE_READING.finditer(text):
        word, value, unit, after = match.group(1), match.group(2), match.group(3), match.group(4)
        number = float(value)
        if unit == "mg":
            low = number < 70
        elif "." in value or unit == "mmol":
            low = number < 4.0
        elif (
            word == "meter"  # a peak flow meter reads 60 too
            or not _ends_a_reading(text, match.end(2), after)
            or not _MG_DL_ONLY.start <= int(value) <= _MG_DL_READS
        ):
            continue
        else:
            low = int(value) in _MG_DL_ONLY
        end = match.end(3) if unit else match.end(2)
        found.append((text[match.start() : end].strip(), low, match.start(), end))
    return found


def _low_glucose_readings(text: str) -> list[str]:
    """The low glucose readings of the note (_glucose_readings)."""
    return [reading for reading, low, _, _ in _glucose_readings(text) if low]


# A reading told as the glucose now, or after a treatment ("BM now 4.6", "repeat BG 112")...
_GLUCOSE_NOW = frozenset(
    {"now", "repeat", "rpt", "recheck", "rechecked", "post", "after", "improved", "rose"}
    | {"up", "corrected", "currently", "on", "arrival"}
)
# ... and not as a past, usual or target value ("was 8.4 this morning", "target 5.0-7.0",
# "4.5 in the ambulance then dropped again").
_GLUCOSE_NOT_NOW = frozenset(
    {"was", "were", "yesterday", "morning", "night", "earlier", "before", "ago", "last"}
    | {"usual", "usually", "normally", "normal", "baseline", "target", "aim", "threshold"}
    | {"range", "between", "dropped", "fell", "falling", "then", "breakfast", "lunch"}
    | {"dinner", "tea", "supper", "hba1c", "a1c", "ketones", "if", "below", "above"}
)
_GLUCOSE_CONTEXT = re.compile(r"[a-z0-9]+")
# A clock time ("at 0700", "07:00"), a reading taken here, and a value told again later.
_CLOCK_TIME = re.compile(r"(?:^|[\s@])(?:[01]\d|2[0-3]):?[0-5]\d\b")
_GLUCOSE_HERE = frozenset({"triage", "desk", "arrival", "door", "bedside", "here", "now"})
_GLUCOSE_HERE |= {"waiting", "department", "ed", "er", "ae", "resus", "cubicle"}
# A value told again after a recheck, not a heart rate's ("HR recheck 58", "HR now 62").
_LATER_VALUE = re.compile(
    r"(?<!hr )(?<!pulse )(?<!rr )(?<!sats )(?<!bp )(?<!temp )"
    r"\b(?:recheck(?:ed)?|repeat|rpt)\s*(?:of\s*|is\s*|was\s*|[:=]\s*)?"
    r"(\d{1,2}(?:\.\d)?)(?![\d.])(?!\s*(?:min|hr|hour|day|week|am\b|pm\b|/|%|x\b))"
)
_LOW_MMOL = 4.0
# Tests and signs whose values a recheck repeats that are no glucose.
_OTHER_MEASURES = frozenset(
    {"lactate", "lac", "potassium", "k", "sodium", "na", "hb", "haemoglobin", "trop", "inr"}
    | {"troponin", "crp", "wcc", "ph", "ketones", "creatinine", "cr", "magnesium", "mg"}
    | {"phosphate", "calcium", "ca", "bicarb", "hco3", "be", "gas", "vbg", "abg", "co2", "pco2"}
    | {"hr", "pulse", "rr", "sats", "spo2", "bp", "temp", "gcs", "ecg", "urea"}
)


def _glucose_recovered(text: str) -> bool:
    """Whether a low reading was followed by one that is not, told as now or after a
    treatment: a hypo already treated ("BM 2.1, glucagon 1mg IM at 1305, BM now 4.6", "BG
    45, D50 given, BG 112 now") needs no dextrose now, whatever confusion remains (that is
    new confusion, ESI 2: the twenty-fifth vignette set). A later number that is a past,
    usual or target value ("BM was 8.4 this morning", "target BM 5.0-7.0", "4.5 in the
    ambulance then dropped again") is not the glucose now."""
    readings = _glucose_readings(text)
    if not readings or readings[-1][1] or not any(low for _, low, _, _ in readings):
        return False
    reading, _, start, end = readings[-1]
    words = (
        set(_GLUCOSE_CONTEXT.findall(text[max(0, start - 30) : start])[-3:])
        | set(_GLUCOSE_CONTEXT.findall(reading))
        | set(_GLUCOSE_CONTEXT.findall(text[end : end + 30])[:3])
    )
    return bool(words & _GLUCOSE_NOW) and not words & _GLUCOSE_NOT_NOW


def _glucose_normal_now(text: str) -> bool:
    """Whether the note's glucose readings are none of them low and the last is not a past,
    usual or target value: a measured glucose that answers a guess of a low sugar ("maybe
    sugar low ... CBG at desk 7.8": the thirty-eighth vignette set)."""
    readings = _glucose_readings(text)
    if not readings or any(low for _, low, _, _ in readings):
        return False
    reading, _, start, end = readings[-1]
    # Its clause after it, to a comma or a full stop ("BSL 5.9 by husband's meter 2 hrs
    # ago": the thirty-eighth set's review).
    clause = re.split(r"[.,;]", text[end : end + 60], maxsplit=1)[0]
    words = (
        set(_GLUCOSE_CONTEXT.findall(text[max(0, start - 30) : start])[-3:])
        | set(_GLUCOSE_CONTEXT.findall(reading))
        | set(_GLUCOSE_CONTEXT.findall(text[end : end + 30])[:3])
        | set(_GLUCOSE_CONTEXT.findall(clause))
    )
    if words & _GLUCOSE_NOT_NOW:
        return False
    # Dated by a clock time, unless taken here ("BSL 6.2 at 0700, now sweaty ... confused").
    if _CLOCK_TIME.search(clause) and not words & _GLUCOSE_HERE:
        return False
    # A low value told later without a glucose word ("?hypo, recheck 2.9"), not another
    # test's ("lactate repeat 2.1", "potassium repeat 3.2").
    return not any(
        _low_bare_value(match.group(1))
        and not set(_GLUCOSE_CONTEXT.findall(text[max(0, match.start() - 12) : match.start()]))
        & _OTHER_MEASURES
        for match in _LATER_VALUE.finditer(text, end)
    )


def _low_bare_value(value: str) -> bool:
    """Whether a number told as a glucose without its name is a low one (below 4.0 mmol/L,
    or 34 to 69 mg/dL)."""
    if "." in value:
        return float(value) < _LOW_MMOL
    return int(value) in _MG_DL_ONLY


SEVERE_PAIN_PHRASES: tuple[str, ...] = (
    "severe pain",
    "writhing",
    "excruciating",
    "screaming in pain",
    "worst pain",
)

# Decision point C: resources the complaint usually needs in the ED. Examination,
# point-of-care tests, oral medicines, tetanus shots, simple wound care, crutches, splints
# and slings are not resources (ESI v4); a complex procedure (sedation) counts as two.
LABS, ECG, XRAY, IMAGING = "labs", "ECG", "x-ray", "CT/ultrasound"
IV_FLUIDS, IV_MEDS, NEB = "IV fluids", "IV/IM medication", "nebulised medication"
CONSULT, PROCEDURE, COMPLEX_PROCEDURE = "specialty consult", "simple procedure", "complex procedure"
# What the note's own words say needs nothing after all (the thirty-fifth vignette set): a
# nosebleed that has stopped (and the "bleeding heavily" it was called in as) in someone off
# blood thinners and bleeding from nowhere else, and a dizzy turn at the sight of blood.
_NOSEBLEED_PHRASES: tuple[str, ...] = (
    "nosebleed*",
    "nose bleed*",
    "epistaxis",
    "nose bleeding",
    "nose bled",
    "nose started bleeding",
    "nose was bleeding",
    "nose is bleeding",
    "bleeding nose",
    "bloody nose",
    "bleeding from nose",
    "bleeding from the nose",
    "bleeding from his nose",
    "bleeding from her nose",
    "blood from nose",
    "blood from the nose",
    "blood from his nose",
    "blood from her nose",
)
_BLEED_STOPPED_PHRASES: tuple[str, ...] = (
    "no bleeding now",
    "not bleeding now",
    "no active bleeding",
    "no further bleeding",
    "stopped with",
    "stopped by itself",
    "stopped on its own",
    "bleeding stopped",
    "bleeding has stopped",
    "stopped before",
    "stopped in the",
    "stopped approx",
    "stopped about",
    "stopped around",
    "stopped after",
    "now stopped",
    "has stopped",
    "had stopped",
    "since stopped",
    "stopped now",
    "stopped min ago",
    "stopped mins ago",
    "stopped minutes ago",
)
# ... unless it has started again, runs down the throat, or never stopped.
_BLEEDING_AGAIN_PHRASES: tuple[str, ...] = (
    "hasnt stopped",
    "has not stopped",
    "havent stopped",
    "not stopped",
    "never stopped",
    "didnt stop",
    "wouldnt stop",
    "get it stopped",
    "still bleeding",
    "still oozing",
    "oozing",
    "dripping",
    "started again",
    "then started",
    "and started",
    "came back",
    "bleeding again",
    "restarted",
    "keeps bleeding",
    "keeps starting",
    "wont stop",
    "not stopping",
    "through packing",
    "running down back of",
    "running down the back of",
    "trickling down",
    "going down the back of",
    "blood down the back of",
    "down his throat",
    "down her throat",
    "blood in the back of",
    "blood at the back of",
)
# ... nor bleeding from anywhere else (gums, bruises, a period, the bowel: labs at least).
_OTHER_BLEEDING_PHRASES: tuple[str, ...] = (
    "gums",
    "gum bleed*",
    "bruis*",
    "petechia*",
    "pv",
    "vaginal",
    "pads",
    "period",
    "rectal",
    "stool*",
    "melaena",
    "melena",
    "urine",
    "vomit*",
    "coughing blood",
    "coughing up blood",
    "inr",
)
# A bleed on the white of the eye with the sight as usual (three in the thirty-fifth set)
# needs nothing, unless the eye hurts, the light does, or the sight is not as usual.
_EYE_TROUBLE_PHRASES: tuple[str, ...] = (
    "pain*",
    "painful",
    "hurts",
    "sore",
    "photophobia",
    "light sensitiv*",
    "sensitive to light",
    "blurr*",
    "double vision",
    "warfarin",
    "inr",
    "punched",
    "hit",
    "struck",
    "blow",
)
_DIZZY_PHRASES = ("dizzy", "dizziness")
_SIGHT_OF_BLOOD_PHRASES: tuple[str, ...] = (
    "sight of blood",
    "sight of the blood",
    "sight of his blood",
    "sight of her blood",
    "when he saw the blood",
    "when she saw the blood",
    "when they saw the blood",
    "when i saw the blood",
    "when he saw his blood",
    "when she saw her blood",
)


# A sting on the skin needs nothing (NO_RESOURCE_PHRASES), unless it is in the eye, the
# mouth or the throat, or more than the skin reacts (the thirty-sixth set's review: "wasp
# sting on eyeball, can't open eye").
_STINGS: tuple[str, ...] = (
    "bee sting",
    "stung by a bee",
    "stung by bee",
    "wasp sting",
    "stung by a wasp",
    "stung by wasp",
    "jellyfish sting",
    "stung by a jellyfish",
    "stung by jellyfish",
)
_NOT_A_SKIN_STING: tuple[str, ...] = (
    "eye*",
    "eyeball",
    "mouth",
    "tongue",
    "throat",
    "lip*",
    "swallow*",
    "breath*",
    "wheez*",
    "sob",
    "faint*",
    "dizz*",
    "vomit*",
    "hives",
    "all over",
)
# Stridor, the noise of air through a narrowed upper airway, told now: a high-risk airway
# at rest (a croup "stridor at rest", a swelling throat), unless it comes only when a child
# cries or is upset, has settled, or is a baby's usual (the fifty-seventh set's review:
# "croup, barking cough, stridor at rest" and "inspiratory stridor, sore throat" were ESI 5).
STRIDOR_PHRASES: tuple[str, ...] = ("stridor", "stridulous", "inspiratory stridor")
STRIDOR_ONLY_WHEN_UPSET: tuple[str, ...] = (
    "when crying",
    "when he cries",
    "when she cries",
    "on crying",
    "only when upset",
    "when upset",
    "when agitated",
    "when distressed",
    "stridor settled",
    "stridor resolved",
    "stridor gone",
    "no stridor at rest",
    # A baby's floppy larynx, noisy since birth, is its usual self.
    "laryngomalacia",
    "since birth",
    "baseline stridor",
    "usual stridor",
    "chronic stridor",
)


# A young child at a medicine of which one or two adult tablets can kill a toddler (a
# sulfonylurea's hypoglycaemia hours later, a calcium-channel or beta blocker, a tricyclic,
# an opioid, clonidine; the fifty-sixth vignette set: a two-year-old "sitting on floor with
# pop's tablet box open, chewing. Box is Diamicron MR 60mg - nana thinks 1 maybe 2 gone"),
# with no word for a child in the note: the age tells it. The pill, the sugar pellets or a
# medicine of the child's own are not among them.
_ONE_PILL_YEARS = 6.0
ONE_PILL_MEDICINES: tuple[str, ...] = (
    "gliclazide",
    "diamicron",
    "glipizide",
    "glibenclamide",
    "glyburide",
    "glimepiride",
    "amaryl",
    "tolbutamide",
    "amlodipine",
    "nifedipine",
    "verapamil",
    "diltiazem",
    "felodipine",
    "propranolol",
    "metoprolol",
    "atenolol",
    "bisoprolol",
    "sotalol",
    "flecainide",
    "amitriptyline",
    "nortriptyline",
    "imipramine",
    "clomipramine",
    "dosulepin",
    "dothiepin",
    "doxepin",
    "methadone",
    "buprenorphine",
    "subutex",
    "suboxone",
    "oxycodone",
    "oxycontin",
    "morphine",
    "fentanyl",
    "hydromorphone",
    "tramadol",
    "tapentadol",
    "palexia",
    "endone",
    "oxynorm",
    "codeine",
    "norvasc",
    "adalat",
    "clonidine",
    "catapres",
    "guanfacine",
    "lomotil",
    "diphenoxylate",
    "chloroquine",
    "hydroxychloroquine",
    "colchicine",
    "theophylline",
    "digoxin",
    "lithium",
    "iron tablets",
    "ferrous sulphate",
    "ferrous sulfate",
    "oil of wintergreen",
    "methyl salicylate",
    "camphor",
    # Rubbing oils of methyl salicylate and camphor (the sixty-first vignette set: a
    # toddler who drank "白花油 baak faa yau, White Flower oil ... maybe half bottle gone").
    "white flower oil",
    "white flower",
    "baak faa yau",
    "pak fah yeow",
    "tiger balm",
    "kwan loong",
    "wood lock oil",
    "medicated oil",
    "eucalyptus oil",
    "olbas oil",
    # Ginkgo seeds: a child's handful can fit (the sixty-first vignette set: "ginkgo nuts
    # ... she ate all afternoon, bowl maybe 40, 50").
    "ginkgo nut*",
    "ginkgo seed*",
    "gingko nut*",
    "eunhaeng",
)
# What says the child got at them, and at tablets or someone's medicine (not "chewed the
# cot rail", "ate his bottle", "mum has gone home"); a medicine of the child's own, or one
# counted and all there, is not this.
CHILD_TOOK_PHRASES: tuple[str, ...] = (
    "chewing",
    "chewed",
    "swallowed",
    "may have swallowed",
    "might have swallowed",
    "may have eaten",
    "might have eaten",
    "may have had",
    "might have had",
    "could have had",
    "may have taken",
    "might have taken",
    "could have taken",
    "got into",
    "got hold of",
    "found with",
    "in his mouth",
    "in her mouth",
    "in mouth",
    "into his mouth",
    "into her mouth",
    "sucking on",
    "sucked on",
    "bit into",
    "licked",
    "spat out",
    "spat most out",
    "ate some",
    "ate one",
    "ate two",
    "ate all",
    "ate a bowl",
    # Not "drink" or "drinking" ("off food and drink", "drinking from his bottle": the
    # review).
    "drank some",
    "drank it",
    "drank the",
    "drank from",
    "grab and drink",
    "swigged",
    "took a swig",
    "ate a few",
    "ate 1",
    "ate 2",
    "ate 3",
    "has eaten",
    "tablets missing",
    "tablet missing",
    "pills missing",
    "1 missing",
    "2 missing",
    "3 missing",
    "one missing",
    "two missing",
    "three missing",
    "missing from",
    "unaccounted for",
    "ingested",
    "ingestion",
)
CHILD_TOOK_TABLET_PHRASES: tuple[str, ...] = (
    "tablet*",
    "tabs",
    "pill*",
    "capsule*",
    "box",
    "blister*",
    "strip",
    "packet",
    "bottle",
    "dosette",
    "pill organiser",
    "pill organizer",
    "handbag",
    "patch",
    "film",
    "jar",
    "grandma*",
    "grandad*",
    "grandpa*",
    "granny*",
    "grannies",
    "grandmother*",
    "grandfather*",
    "grandparent*",
    "nana*",
    "nans",
    "nan",
    "pops",
    "mums",
    "moms",
    "dads",
    "mothers",
    "fathers",
    "aunties",
    "uncles",
    "visitors",
    "someone elses",
    "half dissolved",
    "took it off him",
    "took it off her",
    "out of his mouth",
    "out of her mouth",
)
# A headache that wakes from sleep, with the signs of pressure rising in the head: sick on
# waking, a new clumsiness, a squint or double vision (the sixty-first vignette set: "its
# waking him in the night crying, and he's sick first thing most mornings ... clumsy,
# walking into the door frame ... one of his eyes is turning in").
HEADACHE_PHRASES: tuple[str, ...] = (
    "headache*",
    "head pain",
    "head hurts",
    "head hurting",
    "sore head",
    "head aches",
)
# The waking: the headache's own, within a few words of it or told as "it's waking him"
# (not a baby, a toothache or an alarm that woke them: the review).
_WAKING = frozenset({"wakes", "waking", "woke", "woken", "wake", "waken", "wakening"})
_WAKE_WINDOW = 6
_HEAD_HURTS = frozenset({"hurts", "hurting", "pain", "aches", "ache", "pounding", "banging"})
_ITS_WAKING = re.compile(
    r"\bit(?:s| is)? (?:waking|wakes|woke|waken)"
    # A headache there on waking: "headaches first thing in the morning".
    r"|\bheadaches?(?: \w+){0,3} (?:first thing|every morning|in the mornings|most mornings"
    r"|on waking)|\b(?:first thing|every morning|in the mornings|most mornings|on waking)"
    r"(?: \w+){0,3} headaches?\b"
)
_WOKEN_BY_ANOTHER = frozenset(
    {"baby", "babies", "kids", "children", "toothache", "ear", "teething", "alarm", "noise"}
    | {"dog", "phone", "cough", "coughing", "neighbours", "partner", "husband", "wife"}
)
RAISED_PRESSURE_SIGN_PHRASES: tuple[str, ...] = (
    *(
        f"{sick} {when}"
        for sick in ("sick", "vomits", "vomiting", "vomited", "being sick")
        for when in (
            *("first thing", "in the morning", "in the mornings", "every morning"),
            *("most mornings", "on waking", "before breakfast"),
        )
    ),
    "morning vomiting",
    "early morning vomiting",
    "clumsy",
    "clumsiness",
    "unsteady",
    "falling over",
    "wobbly on his feet",
    "wobbly on her feet",
    "walking into",
    "bumping into",
    "eye turning in",
    "eye is turning in",
    "eyes turning in",
    "eye turning out",
    "eyes crossing",
    "new squint",
    "squint",
    "double vision",
    "seeing double",
    "head tilt",
    "papilloedema",
    "papilledema",
)
# Another cause of a morning headache and its sickness, or a squint or double vision of
# old (the review: a hangover, morning sickness, a migraine's aura, a lazy eye).
PRESSURE_OTHER_CAUSE_PHRASES: tuple[str, ...] = (
    "hangover",
    "hungover",
    "morning sickness",
    "migraine*",
    "aura",
    "lazy eye",
    "since childhood",
    "long standing squint",
    "longstanding squint",
    "known squint",
    "usual headache*",
    "by nature",
    "always been clumsy",
    "always clumsy",
    "wine*",
    "drunk",
    "after drinking",
    "teething",
)
# Gas in an infected tissue (the sixty-second vignette set: a diabetic foot ulcer, "the
# whole front of the foot is red and puffed up ... a 'rotten' smell, and it crackles like
# bubble wrap when you press"): not a chest's crackles.
GAS_IN_TISSUE_PHRASES: tuple[str, ...] = (
    "crackles like bubble wrap",
    "crackles when you press",
    "crackles when pressed",
    "crackles when i press",
    "crackle under the skin",
    "crackles under the skin",
    "crackling under the skin",
    "crackly under the skin",
    "crunchy under the skin",
    "crackles when touched",
    "crunchy when you press",
    "crackling when you press",
    "crackling feeling under the skin",
    "skin crepitus",
    "crepitus around",
    "crepitus felt around",
    "gas in the tissue*",
    "gas in the soft tissue*",
)
SOFT_TISSUE_INFECTION_PHRASES: tuple[str, ...] = (
    "ulcer",
    "wound",
    "infected",
    "infection",
    "injection site",
    "abscess",
    "rotten",
    "foul",
    "smell*",
    "pus",
    "discharge",
    "cellulitis",
)
# One kidney left (given to a relative, removed, a transplant alone), and no urine for hours
# or a colic of the kidney (the sixty-second vignette set: "gave one of her kidneys to her
# brother 6 yrs ago 'so this is my only one' ... Hasn't had a wee since about 6 this
# morning").
ONE_KIDNEY_PHRASES: tuple[str, ...] = (
    "only kidney",
    "one kidney",
    "single kidney",
    "solitary kidney",
    "gave one of her kidneys",
    "gave one of his kidneys",
    "gave one of my kidneys",
    *(f"gave {whom} a kidney" for whom in ("him", "her", "my brother", "my sister", "my son")),
    "donated a kidney",
    "donated her kidney",
    "donated his kidney",
    "kidney removed",
    "kidney taken out",
    "nephrectomy",
    "kidney transplant",
    "transplant kidney",
    "transplanted kidney",
    "renal transplant",
)
ONE_KIDNEY_BLOCKED_PHRASES: tuple[str, ...] = (
    *(
        f"{hasnt} {done}"
        for hasnt in ("hasnt", "havent", "not", "hadnt")
        for done in (
            "had a wee",
            "passed urine",
            "passed water",
            "peed",
            "weed",
            "been to the toilet",
        )
    ),
    *(
        f"{hasnt} passed any {what}"
        for hasnt in ("hasnt", "havent", "not", "hadnt")
        for what in ("urine", "water", "wee")
    ),
    "not passing urine",
    "no wee",
    "no urine",
    "nothing coming",
    "nothings coming",
    "anuric",
    "anuria",
    "renal colic",
    "kidney stone",
    "loin pain",
    "flank pain",
    "pain round the back coming in waves",
)
# Blood coughed up in more than streaks: a cupful, a mouthful, clots, "proper" or pure
# blood, or 20 ml and over (the sixty-third vignette set: a teenager with cystic fibrosis
# who "coughed up proper fresh red blood, about a quarter of a mug"): a bleed in the lung
# that may turn massive (B_HAEMOPTYSIS). Streaks, flecks or a pink tinge are not; nor "a
# mug of Lemsip": an amount of something else.
_BLOOD_AMOUNT = re.compile(
    r"\b(?:cup ?full?s?|cups?|mugs?|a mug ?full?|glass|mouth ?full?s?|a mouth full"
    r"|egg ?cups?(?:ful)?|table ?spoons?(?:ful)?|(?:a lot|lots|loads) of (?:it|blood|fresh)"
    r"|so much blood|pure blood|proper(?: fresh)?(?: red)? blood|frank (?:blood|h(?:a)?emoptysis)"
    r"|massive h(?:a)?emoptysis|large (?:amount|volume)s?|big amounts?|in the sink|sink full"
    r"|bowl full|not (?:just )?streaks|more than streaks|not just flecks)\b"
    r"(?!\s+of\s+(?!(?:fresh|bright|red|dark|pure|frank|it|that|this|blood)\b))"
    r"|h(?:a)?emoptysis\s*\+\+"
)
_ONLY_STREAKS = ("streak", "fleck", "speck", "tinge", "spots", "dots", "pink", "stain")
# Blood from the nose, the mouth or the gums, spat or coughed out (its review: a nosebleed
# swallowed, "it's all clots", and "I bit me tongue", "no cough" of an officer's "coughing up
# blood in the cell"): no bleed in the lung.
HAEMOPTYSIS_OTHER_SOURCE_PHRASES: tuple[str, ...] = (
    *("nosebleed*", "nose bleed*", "nose bled", "epistaxis", "bleeding from the nose"),
    *("bleeding nose", "blood from her nose", "blood from his nose", "blood from my nose"),
    *(
        f"{bit} {whose} tongue"
        for bit in ("bit", "bitten", "bite")
        for whose in ("her", "his", "my", "me")
    ),
    *("bitten tongue", "tongue lac*", "lac through", "cut tongue", "cut her tongue"),
    *("cut his tongue", "tooth out", "teeth out", "tooth extraction", "extraction"),
    *("bleeding gums", "gums bleeding", "gums bleed", "tonsillectomy", "tonsils out"),
    *("wisdom teeth", "teeth removed", "tooth removed", "from the gums", "from her gums"),
    *("from his gums", "from my gums", "bleeding from gums", "bit my lip", "bit her lip"),
    *("bit his lip", "cut lip", "split lip", "from nose", "from the nose", "from her nose"),
    *("from his nose", "from my nose", "nose pouring", "nose is pouring", "nose bleeding"),
    *("heavy period", "blood in urine", "blood in her urine", "blood in his urine"),
)
# Blood coughed up, told in a sentence: a cough and blood (or clots) within a few words
# ("coughed up proper fresh red blood"), blood "when she coughs", a haemoptysis; not after
# "no", "denies" ("no cough, but vomited a cupful of blood" is a vomit).
# Not a blood pressure, a test or a thinner; "hacking up", not "hacked off a finger".
_COUGHED_BLOOD = re.compile(
    r"\b(?:cough\w*|hack(?:ing|ed|s)? up)\b(?:\W+\w+){0,6}?\W+blood\w*\b"
    r"(?!\s+(?:pressure|tests?|sugars?|thinners?|results?|count|group|donor|type|glucose))"
    r"|\bblood\w*\b(?:\W+\w+){0,3}?\W+when (?:(?:she|he|i|they|you) )?cough"
    r"|\b(?:cough\w*|hack(?:ing|ed|s)?) up\W+(?:\w+\W+){0,2}?clots?\b"
    r"|\bh(?:a)?emoptys\w*"
)
_COUGH_DENIED = frozenset({"no", "not", "denies", "denied", "nil", "without", "never", "nor"})
# "Denies head strike, LOC or fits, no cough, no SOB": the cough itself denied (not "no
# cough syrup helped", not "not coughing yesterday").
_NO_COUGH = re.compile(
    r"\b(?:no|denies|nil) cough\b(?!\s+(?:syrup|medicine|mixture|med|meds|before|until|till))"
)
# "... about 60 ml": a volume of 20 ml or more, not of a medicine ("20ml calpol").
_MILLILITRES = re.compile(
    r"\b(\d{2,4})\s*(?:ml|mls|cc)\b(?!\s+(?:of\s+)?(?!(?:blood|fresh|bright|red|dark)\b)[a-z])"
)


def _much_blood_coughed(note: _Note) -> list[str]:
    """What says blood was coughed up in more than streaks, with no other source told
    (HAEMOPTYSIS_OTHER_SOURCE_PHRASES) and the cough not denied: a sentence that tells blood
    coughed up (_COUGHED_BLOOD, not denied, not streaks) and an amount (_BLOOD_AMOUNT, not
    denied) or a volume of 20 ml or more; the coughing and the amount, as written."""
    if note.find(HAEMOPTYSIS_OTHER_SOURCE_PHRASES) or _NO_COUGH.search(note.text):
        return []
    for sentence in _SENTENCE_END.split(note.text):
        for match in _COUGHED_BLOOD.finditer(sentence):
            clause = sentence[: match.start()].rsplit(",", 1)[-1]
            if _COUGH_DENIED & set(clause.split()[-3:]):
                continue
            following = sentence[match.end() :].split()[:2]
            words = (*match.group(0).split(), *following)
            if any(w.strip("-,:()").startswith(_ONLY_STREAKS) for w in words):
                continue
            amount = [
                m.group(0)
                for m in _BLOOD_AMOUNT.finditer(sentence)
                if not _COUGH_DENIED & set(sentence[: m.start()].split()[-2:])
            ]
            # Clots coughed up ("coughing up clots of blood") are an amount of their own.
            if "clot" in match.group(0):
                amount.append(match.group(0))
            amount += [m.group(0) for m in _MILLILITRES.finditer(sentence) if int(m.group(1)) >= 20]
            if amount:
                return [match.group(0), *amount]
    return []


# A pacemaker or defibrillator put in days ago (not one of years: a date takes it out), and
# the signs of its lead through the heart wall (the fifty-ninth vignette set: "pacemaker
# fitted Friday ... a sharp stabbing at the left of her chest when she breathes in ...
# hiccups that won't stop, her tummy keeps twitching, like every second").
NEW_PACEMAKER_PHRASES: tuple[str, ...] = (
    *(
        f"{device} {done}"
        for device in ("pacemaker", "ppm", "icd", "defibrillator", "pacing box")
        for done in ("fitted", "put in", "inserted", "implanted", "insertion", "implant")
    ),
    *(
        f"{device} was {done}"
        for device in ("pacemaker", "ppm", "icd", "defibrillator")
        for done in ("fitted", "put in", "inserted", "implanted")
    ),
    "pacemaker implantation",
    "post ppm",
    "box change",
    "new pacemaker",
    "new ppm",
    "new icd",
    "pacemaker box changed",
    "pacing wire",
)
PACING_LEAD_SIGN_PHRASES: tuple[str, ...] = (
    "hiccup*",
    "hiccough*",
    "tummy twitching",
    "tummy keeps twitching",
    "belly twitching",
    "belly keeps twitching",
    "stomach twitching",
    "twitching in time",
    "pleuritic",
    "when she breathes in",
    "when he breathes in",
    "when i breathe in",
    "on breathing in",
    "on inspiration",
    "deep breath*",
    "breathing in",
    "take a breath",
    "catch her breath",
    "catch his breath",
    "catch my breath",
    "short of breath",
    "breathless*",
    "short of puff",
    "sob",
    "dizzy",
    "fainted",
    "fainting",
    "feels faint",
    "felt faint",
    "feeling faint",
    "passed out",
    "blacked out",
    "collapsed",
    "syncope",
    "light headed",
    "lightheaded",
    "jumping in time",
)
# The patient's relative's pacemaker ("her husband had a pacemaker fitted": not "Mum got
# a pacemaker fitted Friday", told by her son), one planned, or one of months or years ago
# (the review).
_DEVICE = r"(?:pacemaker|ppm|icd|defibrillator|pacing box)"
_NOT_A_NEW_PACEMAKER = re.compile(
    r"\b(?:her|his|their) (?:husband|wife|partner|dad|father|mum|mother|son|daughter|brother"
    r"|sister|friend)"
    rf"(?:\W+\w+){{0,3}}\W+{_DEVICE}\b"
    rf"|\b{_DEVICE}(?:\W+\w+){{0,2}}?\W+(?:planned|booked|due|scheduled|next|waiting)\b"
    rf"|\b{_DEVICE}(?:\W+\w+){{0,4}}?\W+(?:\d+|a|few|several|some|two|three|six)\W+"
    r"(?:months?|mths?|years?|yrs?)\b"
)
# A little battery gone from a device with a young child about (the fifty-ninth vignette
# set: "the back bit had come off and the little round flat battery's not there. Looked all
# over the floor ... can't find it"): a button battery swallowed until an x-ray says not.
# Read in the battery's own clause (a tooth "missing" or a rash "gone" elsewhere is not it).
_BATTERIES = frozenset({"battery", "batterys", "batteries"})
_BATTERY_GONE = re.compile(
    r"\b(?:not there|isnt there|wasnt there|missing|gone|lost|fallen out|fell out|nowhere"
    r"|not in it|not inside|cant find|cannot find|couldnt find|cant see it|can not find)\b"
)
_BATTERY_BACK = re.compile(
    r"\b(?:found|accounted for|all there|still there|still in it|back in|put back|not missing"
    r"|none missing|nothing missing|not gone|changed|replaced|flat|dead|charging|charger)\b"
)
# Found again anywhere in the note ("battery missing, found it under the sofa"), not a
# device "found ... open".
_BATTERY_FOUND_AGAIN = re.compile(
    r"\b(?:found (?:it|them|the batter\w*)\b(?! open)|batter\w* (?:was |were )?found"
    r"|all accounted for)"
)
_CLAUSE_ENDS = frozenset({".", ";", ",", "?", ":", "but"})


def _pressure_in_the_head(note: _Note) -> str:
    """The words of a headache that wakes from sleep with a sign of pressure rising in the
    head, quoted, or "" (HEADACHE_PHRASES and the tables after it)."""
    headache = note.find(HEADACHE_PHRASES)
    if not headache or note.find(PRESSURE_OTHER_CAUSE_PHRASES):
        return ""
    tokens = note.tokens
    heads = [
        i
        for i, t in enumerate(tokens)
        if t.startswith("headache")
        or (
            t == "head"
            and (_HEAD_HURTS & set(tokens[i + 1 : i + 2]) or tokens[i - 1 : i] == ["sore"])
        )
    ]
    wakes = [
        i
        for i, t in enumerate(tokens)
        if t in _WAKING and not _WOKEN_BY_ANOTHER & set(tokens[max(0, i - 3) : i + 4])
    ]
    tied = _ITS_WAKING.search(note.text) or any(
        abs(h - w) <= _WAKE_WINDOW for h in heads for w in wakes
    )
    signs = note.find(RAISED_PRESSURE_SIGN_PHRASES) if tied else []
    return note.quote([*headache, "waking", *signs]) if signs else ""


def _battery_gone(note: _Note) -> str:
    """The words of a little battery told gone from its device, in its own clause (not
    denied right before it, not found again or flat), or ""."""
    tokens = note.tokens
    for i, token in enumerate(tokens):
        if token not in _BATTERIES or (i and tokens[i - 1] in ("no", "not", "nil", "any")):
            continue
        after: list[str] = []
        for word in tokens[i + 1 : i + 12]:
            if word in _CLAUSE_ENDS:
                break
            after.append(word)
        before = tokens[max(0, i - 3) : i]
        told = " ".join(after)
        if _BATTERY_FOUND_AGAIN.search(note.text):
            return ""
        if _BATTERY_BACK.search(told) or ("missing" in before and "not" in before):
            continue
        if _BATTERY_GONE.search(told) or "missing" in before:
            return " ".join([*before, token, *after])
    return ""


CHILD_OWN_MEDICINE_PHRASES: tuple[str, ...] = (
    "his own",
    "her own",
    "prescribed for him",
    "prescribed for her",
    "prescribed by",
    "his usual dose",
    "her usual dose",
    "his dose",
    "her dose",
    "his meds",
    "her meds",
    "his medication",
    "her medication",
    "nocte",
    "for his haemangioma",
    "for her haemangioma",
    "for his hemangioma",
    "for her hemangioma",
    "nothing missing",
    "none missing",
    "all accounted for",
    "all there",
    "count correct",
    "count matches",
    "pack intact",
    "blister pack intact",
    "blister intact",
    "not involved",
)


# A coin swallowed or stuck is no coining mark.
_COIN_SWALLOWED: tuple[str, ...] = (
    "swallow*",
    "ingest*",
    "gagg*",
    "chok*",
    "drool*",
    "stuck",
    "in her throat",
    "in his throat",
    "in her mouth",
    "in his mouth",
)
# A coin rubbed on the skin (coining: "khood lom" in Thai, "cao gio" in Vietnamese, "gua sha"
# in Chinese), no coin swallowed (the thirty-sixth vignette set).
_COINING_PHRASES: tuple[str, ...] = (
    "khood lom",
    "cao gio",
    "gua sha",
    "coin rubbing",
    "coining",
    "rubbed with a coin",
    "rubbing with a coin",
    "scraped with a coin",
    "scraping with a coin",
    # Indonesian and Malay "kerokan" (Javanese "kerikan": the thirty-seventh vignette set).
    "kerokan",
    "kerikan",
    "kerok",
    "dikerok",
    "rubbed with coin",
    "scraped with coin",
    "coin and oil",
)
_HEAVY_BLEEDING = ("bleeding heavily", "heavy bleeding", "bleeding a lot")
# A limb "red, hot, swollen" told with commas or "and", in any order (the thirty-seventh
# vignette set), with a fever, shivers or an infection's name: labs and IV antibiotics. Not
# alone: a bite, a sting, a sunburn or a sprain is red, hot and swollen too (its review).
_RED_HOT_SWOLLEN = tuple(
    f"{one}{sep}{two}{last}{three}"
    for one, two, three in itertools.permutations(("red", "hot", "swollen"))
    for sep, last in ((" , ", " , "), (" , ", " and "), (" ", " and "))
)
_INFECTION_SIGNS: tuple[str, ...] = (
    "fever*",
    "febrile",
    "feverish",
    "temp*",
    "shiver*",
    "shakes",
    "shaking",
    "chills",
    "rigors",
    "sweats",
    "cellulitis",
    "erysipelas",
    "infect*",
    "pus",
    "spreading",
)
RESOURCE_PHRASES: dict[str, frozenset[str]] = {
    "chest pain": frozenset({LABS, ECG, XRAY}),
    "cp": frozenset({LABS, ECG, XRAY}),
    "chest pressure": frozenset({LABS, ECG, XRAY}),
    "chest tightness": frozenset({LABS, ECG, XRAY}),
    "sob": frozenset({LABS, XRAY, NEB}),
    "shortness of breath": frozenset({LABS, XRAY, NEB}),
    "difficulty breathing": frozenset({LABS, XRAY, NEB}),
    "abd pain": frozenset({LABS, IMAGING}),
    "abdominal pain": frozenset({LABS, IMAGING}),
    "stomach pain": frozenset({LABS, IMAGING}),
    "belly pain": frozenset({LABS, IMAGING}),
    "epigastric pain": frozenset({LABS, IMAGING}),
    "rlq": frozenset({LABS, IMAGING}),
    "ruq": frozenset({LABS, IMAGING}),
    "n/v": frozenset({LABS, IV_FLUIDS}),
    "n/v/d": frozenset({LABS, IV_FLUIDS}),
    "nausea": frozenset({LABS, IV_FLUIDS}),
    "vomit*": frozenset({LABS, IV_FLUIDS}),
    "throwing up": frozenset({LABS, IV_FLUIDS}),
    "threw up": frozenset({LABS, IV_FLUIDS}),
    "chucked up": frozenset({LABS, IV_FLUIDS}),
    "chucking up": frozenset({LABS, IV_FLUIDS}),
    "throw up": frozenset({LABS, IV_FLUIDS}),
    "puking": frozenset({LABS, IV_FLUIDS}),
    "puked": frozenset({LABS, IV_FLUIDS}),
    "diarrhea": frozenset({LABS, IV_FLUIDS}),
    "diarrhoea": frozenset({LABS, IV_FLUIDS}),
    "dehydrat*": frozenset({LABS, IV_FLUIDS}),
    "fewer wet diapers": frozenset({LABS, IV_FLUIDS}),
    "poor feeding": frozenset({LABS, IV_FLUIDS}),
    "flank pain": frozenset({LABS, IMAGING, IV_MEDS}),
    "kidney stone*": frozenset({LABS, IMAGING, IV_MEDS}),
    "renal colic": frozenset({LABS, IMAGING, IV_MEDS}),
    "hematuria": frozenset({LABS}),
    "syncope": frozenset({LABS, ECG}),
    "syncopal": frozenset({LABS, ECG}),
    "passed out": frozenset({LABS, ECG}),
    "fainted": frozenset({LABS, ECG}),
    "loc": frozenset({LABS, ECG, IMAGING}),
    "loss of consciousness": frozenset({LABS, ECG, IMAGING}),
    "dizzy": frozenset({LABS, ECG}),
    "dizziness": frozenset({LABS, ECG}),
    "palpitations": frozenset({LABS, ECG}),
    "weakness": frozenset({LABS, ECG}),
    "hit head": frozenset({IMAGING}),
    "head injury": frozenset({IMAGING}),
    "head trauma": frozenset({IMAGING}),
    "fracture": frozenset({XRAY}),
    "fx": frozenset({XRAY}),
    "deformity": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "deformed": frozenset({XRAY, COMPLEX_PROCEDURE}),
    # A forearm, wrist or leg out of shape: x-ray, and a reduction under sedation.
    "arm looks bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "forearm looks bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "wrist looks bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "leg looks bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "wrist bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "forearm bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "arm bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "looks bendy": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "dinner fork": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "misshapen": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "angulated": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "visibly bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    "obviously bent": frozenset({XRAY, COMPLEX_PROCEDURE}),
    # "R forearm has an obvious bend midshaft" (the thirty-seventh vignette set).
    **dict.fromkeys(
        (
            "obvious bend",
            "visible bend",
            "clear bend",
            *(
                f"bend in {whose} {limb}"
                for whose in ("the", "his", "her", "my", "their")
                for limb in ("arm", "forearm", "wrist", "leg", "shin", "lower leg")
            ),
        ),
        frozenset({XRAY, COMPLEX_PROCEDURE}),
    ),
    # An itch with a yellow skin, a heavy bleed, a wound open to the bowel need more than
    # nothing (the thirty-second set's review: "itchy skin and yellow eyes, dark urine").
    **dict.fromkeys(
        ("yellow eyes", "yellow skin", "jaundice*", "dark urine", "pale stools", "pale poo"),
        frozenset({LABS, IMAGING}),
    ),
    **dict.fromkeys(_HEAVY_BLEEDING, frozenset({LABS, PROCEDURE})),
    # A nosebleed still running: pressure, then packing or cautery (one procedure).
    **dict.fromkeys(_NOSEBLEED_PHRASES, frozenset({PROCEDURE})),
    **dict.fromkeys(
        ("bowel visible", "see his bowel", "see her bowel", "see the bowel", "bowel showing"),
        frozenset({LABS, IMAGING, CONSULT}),
    ),
    # A cough for weeks with night sweats or blood streaks (tuberculosis to rule out: the
    # thirty-fourth vignette set): labs and a chest film.
    **dict.fromkeys(("night sweats", "blood streaks", "streaks of blood"), frozenset({LABS, XRAY})),
    # A gastrostomy out: the tube put back before the tract closes (one procedure).
    "gastrostomy": frozenset({PROCEDURE}),
    "g tube": frozenset({PROCEDURE}),
    "peg tube": frozenset({PROCEDURE}),
    "mic key": frozenset({PROCEDURE}),
    "mickey button": frozenset({PROCEDURE}),
    "feeding tube": frozenset({PROCEDURE}),
    # A limb that cannot bear weight: an x-ray (an ankle, ESI 4); a shortened or rotated leg
    # is a broken hip: x-ray, IV analgesia, labs.
    "cant weight bear": frozenset({XRAY}),
    "cannot weight bear": frozenset({XRAY}),
    "unable to weight bear": frozenset({XRAY}),
    "non weight bearing": frozenset({XRAY}),
    "not weight bearing": frozenset({XRAY}),
    "cant bear weight": frozenset({XRAY}),
    "cannot bear weight": frozenset({XRAY}),
    "unable to bear weight": frozenset({XRAY}),
    "landed on hip": frozenset({XRAY, IV_MEDS}),
    "landed on her hip": frozenset({XRAY, IV_MEDS}),
    "landed on his hip": frozenset({XRAY, IV_MEDS}),
    "landed on r hip": frozenset({XRAY, IV_MEDS}),
    "landed on l hip": frozenset({XRAY, IV_MEDS}),
    "landed on right hip": frozenset({XRAY, IV_MEDS}),
    "landed on left hip": frozenset({XRAY, IV_MEDS}),
    "fell on her hip": frozenset({XRAY, IV_MEDS}),
    "fell on his hip": frozenset({XRAY, IV_MEDS}),
    "fell onto her hip": frozenset({XRAY, IV_MEDS}),
    "fell onto his hip": frozenset({XRAY, IV_MEDS}),
    "leg looks short*": frozenset({XRAY, IV_MEDS, LABS}),
    "leg looks a bit short*": frozenset({XRAY, IV_MEDS, LABS}),
    "leg shortened": frozenset({XRAY, IV_MEDS, LABS}),
    "shortened leg": frozenset({XRAY, IV_MEDS, LABS}),
    "leg is short*": frozenset({XRAY, IV_MEDS, LABS}),
    "shortened and rotated": frozenset({XRAY, IV_MEDS, LABS}),
    "externally rotated": frozenset({XRAY, IV_MEDS, LABS}),
    # "R leg short and turned out" (a broken hip that had counted a head scan until "didn't
    # hit head" was read as no blow: the forty-third set's changes).
    **dict.fromkeys(
        (
            f"{leg}short and {turned}"
            for leg in ("leg ", "leg is ", "leg looks ")
            for turned in ("turned out", "rotated", "externally rotated", "rotated out")
        ),
        frozenset({XRAY, IV_MEDS, LABS}),
    ),
    "ankle": frozenset({XRAY}),
    # ... in Spanish, French, Portuguese and German (the forty-fourth vignette set: "me doblé
    # el tobillo").
    **dict.fromkeys(("tobillo", "cheville", "tornozelo", "sprunggelenk"), frozenset({XRAY})),
    "sprain*": frozenset({XRAY}),
    "wrist injury": frozenset({XRAY}),
    "knee injury": frozenset({XRAY}),
    "crush injury": frozenset({XRAY}),
    "crushed": frozenset({XRAY}),
    "slammed": frozenset({XRAY}),
    "jammed": frozenset({XRAY}),
    # A hammer's blow to a finger or a thumb (the thirty-first vignette set, once "didn't
    # fall" no longer read as a fall): an x-ray.
    "with hammer": frozenset({XRAY}),
    "with a hammer": frozenset({XRAY}),
    "fell": frozenset({XRAY}),
    "fall": frozenset({XRAY}),
    "rolled off": frozenset({XRAY}),
    "dropped": frozenset({XRAY}),
    "lac": frozenset({PROCEDURE}),
    "laceration": frozenset({PROCEDURE}),
    "needs stitches": frozenset({PROCEDURE}),
    # "~3 cm, edges gape", "come get it sewn" (the forty-fourth vignette set).
    **dict.fromkeys(
        ("edges gape", "edges gaping", "gaping edges", "wound gapes", "get it sewn"),
        frozenset({PROCEDURE}),
    ),
    # "only need few stitches" (the forty-second vignette set).
    **dict.fromkeys(
        (
            f"{need} {few}stitches"
            for need in ("need", "needs", "needing")
            for few in ("a few ", "few ", "some ", "a couple of ", "a couple ", "couple ")
        ),
        frozenset({PROCEDURE}),
    ),
    # A gaping cut is stitched (the thirty-third vignette set: four "gaping" cuts, ESI 4); a
    # bite's, or one with glass in it, needs more (rabies cover, an x-ray).
    "gaping cut": frozenset({PROCEDURE}),
    "gaping wound": frozenset({PROCEDURE}),
    "gaping laceration": frozenset({PROCEDURE}),
    "wants it stitched": frozenset({PROCEDURE}),
    "needs it stitched": frozenset({PROCEDURE}),
    "needs stitching": frozenset({PROCEDURE}),
    **dict.fromkeys(
        (
            "from a dog",
            "dog bite",
            "dog attack",
            "dogs got",
            "attacked by a dog",
            "cat bite",
            "bitten by a dog",
            "bitten by the dog",
            "bitten by a cat",
            "bitten by the cat",
        ),
        frozenset({PROCEDURE, IV_MEDS}),
    ),
    # A fall onto an outstretched hand: an x-ray of the wrist.
    "outstretched": frozenset({XRAY}),
    "foosh": frozenset({XRAY}),
    "glass in": frozenset({XRAY}),
    # Teeth that no longer meet after a blow: a broken jaw, a scan and a specialist (the
    # twenty-ninth vignette set: ESI 3, not the ESI 5 of "teeth").
    **dict.fromkeys(
        (
            "teeth dont meet",
            "teeth not meeting",
            "teeth dont line up",
            "teeth not lining up",
            "teeth dont fit together",
            "jaw wont close",
            "bite feels off",
            "bite is off",
            "bite feels wrong",
            "cant close his jaw",
            "cant close her jaw",
            "cant close my jaw",
        ),
        frozenset({IMAGING, CONSULT}),
    ),
    # A swallowed coin: an x-ray to see where it sits (not a coin-sized lump, _NOT_BEFORE).
    "coin": frozenset({XRAY}),
    # Drooling or unable to swallow (a stuck foreign body, a throat abscess): x-ray and a
    # specialist to take it out, two resources at least.
    "drooling": frozenset({XRAY, CONSULT}),
    "cant swallow": frozenset({XRAY, CONSULT}),
    "unable to swallow": frozenset({XRAY, CONSULT}),
    "abscess": frozenset({PROCEDURE}),
    "foreign body": frozenset({PROCEDURE}),
    # A split lip or eyebrow in French is closed, a fall ("chute de vélo") x-rayed (the
    # thirty-sixth set's review).
    "levre fendue": frozenset({PROCEDURE}),
    "arcade ouverte": frozenset({PROCEDURE}),
    "chute de": frozenset({XRAY}),
    # Sea urchin spines in a foot: taken out (the thirty-sixth vignette set).
    "sea urchin": frozenset({PROCEDURE}),
    "urchin spine*": frozenset({PROCEDURE}),
    **dict.fromkeys(GRIT_IN_THE_EYE, frozenset({PROCEDURE})),
    "dysuria": frozenset({LABS}),
    "burning when peeing": frozenset({LABS}),
    "burning w peeing": frozenset({LABS}),
    "burning when pee*": frozenset({LABS}),
    "burning when i pee": frozenset({LABS}),
    "burning on peeing": frozenset({LABS}),
    "burning when wee*": frozenset({LABS}),
    "stinging when peeing": frozenset({LABS}),
    "stinging when passing urine": frozenset({LABS}),
    "burning when passing urine": frozenset({LABS}),
    "pain when peeing": frozenset({LABS}),
    "burning w urination": frozenset({LABS}),
    "burning with urination": frozenset({LABS}),
    "painful urination": frozenset({LABS}),
    "uti": frozenset({LABS}),
    "fever*": frozenset({LABS}),
    "febrile": frozenset({LABS}),
    # Rigors, a skin infection spreading: labs and IV antibiotics.
    "rigors": frozenset({LABS, IV_MEDS}),
    "spreading redness": frozenset({LABS, IV_MEDS}),
    # A throat abscess or epiglottitis: the voice muffled, the mouth not opening.
    "muffled voice": frozenset({LABS, IV_MEDS, CONSULT}),
    "hot potato voice": frozenset({LABS, IV_MEDS, CONSULT}),
    "trismus": frozenset({LABS, IV_MEDS, CONSULT}),
    "past the line": frozenset({LABS, IV_MEDS}),
    "past the pen": frozenset({LABS, IV_MEDS}),
    "pen line": frozenset({LABS, IV_MEDS}),
    "red hot swollen": frozenset({LABS, IV_MEDS}),
    "breathless": frozenset({LABS, XRAY}),
    "breathlessness": frozenset({LABS, XRAY}),
    "loin pain": frozenset({LABS, IMAGING}),
    "productive cough": frozenset({XRAY}),
    # A cough bringing up green, crackles at a base (the thirty-eighth vignette set: a
    # pneumonia): a chest x-ray.
    **dict.fromkeys(
        (
            "green phlegm",
            "green sputum",
            "green spit",
            "green muck",
            "yellow green phlegm",
            "coughing up green",
            "bringing up green",
            "coughing up yellow",
            "bringing up yellow",
            "rusty sputum",
            "crackles",
            "crepitations",
            "creps",
            "bronchial breathing",
        ),
        frozenset({XRAY}),
    ),
    "phlegm": frozenset({XRAY}),
    "sputum": frozenset({XRAY}),
    "pneumonia": frozenset({LABS, XRAY}),
    # Heart failure filling up: labs, a chest film, IV diuretics.
    "heart failure": frozenset({LABS, XRAY, IV_MEDS}),
    "chf": frozenset({LABS, XRAY, IV_MEDS}),
    "ccf": frozenset({LABS, XRAY, IV_MEDS}),
    "orthopnoea": frozenset({LABS, XRAY, IV_MEDS}),
    "orthopnea": frozenset({LABS, XRAY, IV_MEDS}),
    "pillows to sleep": frozenset({LABS, XRAY, IV_MEDS}),
    "water pill*": frozenset({LABS, XRAY, IV_MEDS}),
    "water tablet*": frozenset({LABS, XRAY, IV_MEDS}),
    "ankles swollen": frozenset({LABS, XRAY}),
    "swollen ankles": frozenset({LABS, XRAY}),
    "wheez*": frozenset({NEB}),
    "asthma": frozenset({NEB}),
    "allergic reaction": frozenset({IV_MEDS}),
    "headache": frozenset({IV_MEDS}),
    "migraine*": frozenset({IV_MEDS}),
    "vaginal bleeding": frozenset({LABS, IMAGING}),
    "vaginal spotting": frozenset({LABS, IMAGING}),
    "seizure*": frozenset({LABS, IV_MEDS}),
    "overdose": frozenset({LABS, ECG}),
    "od": frozenset({LABS, ECG}),
    "ingestion": frozenset({LABS, ECG}),
    "suicidal": frozenset({LABS, CONSULT}),
    "si": frozenset({LABS, CONSULT}),
    "stroke": frozenset({LABS, IMAGING}),
    "slurred speech": frozenset({LABS, IMAGING}),
    "facial droop": frozenset({LABS, IMAGING}),
    "confused": frozenset({LABS, IMAGING}),
    "lethargic": frozenset({LABS, IMAGING}),
}
# Complaints that usually need no ED resource at all (ESI 5) when nothing above applies.
NO_RESOURCE_PHRASES: tuple[str, ...] = (
    "sore throat",
    "scratchy throat",
    "rash",
    "diaper rash",
    "hives",
    "insect bite",
    "bug bite",
    # A sting's local reaction: a bee's, a wasp's, a jellyfish's (the thirty-sixth set).
    *_STINGS,
    # A baby tooth come out ("dent de lait tombée"), the marks of coining or cupping on the
    # skin ("khood lom", "cao gio", "gua sha": the same set).
    "dent de lait",
    *_COINING_PHRASES,
    "cupping marks",
    "refill",
    "ran out",
    "prescription only",
    "wants prescription",
    "wants a prescription",
    "needs a prescription",
    "repeat prescription",
    "morning after pill",
    "emergency contraception",
    "suture removal",
    "stitches out",
    "staple removal",
    "runny nose",
    "congestion",
    "cold symptoms",
    "uri",
    "cough",
    "earache",
    "ear pain",
    "pulling at",
    "toothache",
    "dental pain",
    "pink eye",
    "conjunctivitis",
    "eye discharge",
    "thrush",
    "white patches",
    "sunburn",
    "minor burn",
    "abrasion",
    "wound check",
    "dressing change",
    # A dressing to redo, an itch (a ringworm, healing stitches): the thirty-second set.
    "dressing lifted",
    "dressing has lifted",
    "dressing redone",
    "redo the dressing",
    "dressing came off",
    "dressing peeling",
    "itchy",
    "itching",
    # A red eye with crusts in Spanish ("ojo rojo ... lagañas": the thirty-fourth set).
    "ojo rojo",
    "laganas",
    "ringworm",
    "ring shaped",
    "poison ivy",
    "splinter",
    "back pain",
    "low back",
    "back strain",
    "tooth",
    "teeth",
    "molar",
    "dental",
    "panic attack*",
    "sick note",
    "fit note",
    # A cough and a runny nose in Hindi ("naak beh raha hai, thodi khansi"); a forgotten
    # medicine asked for through a translation app ("please give paper for medicine").
    "khansi",
    "naak beh",
    "paper for medicine",
    "paper for the medicine",
    "medicine was forgotten",
    "forgot my tablets",
    "forgot his tablets",
    "forgot her tablets",
    "forgot my medicine",
    "left my tablets",
    "left his tablets",
    "left her tablets",
    "work note",
    "hangover",
)


def _all_phrases() -> Iterable[str]:
    for concept in CONCEPTS:
        yield from concept.all_phrases()
    for table in (
        DISTRESS_PHRASES,
        HYPOPERFUSION_PHRASES,
        LOW_OUTPUT_SYMPTOM_PHRASES,
        LOW_OUTPUT_EVENT_PHRASES,
        SHOCK_SKIN_PHRASES,
        *SHOCK_MECHANISM_PHRASES.values(),
        CHEST_PAIN_PHRASES,
        ACS_FEATURE_PHRASES,
        FEVER_PHRASES,
        ANGINAL_SITE_PHRASES,
        ANGINAL_ACHE_PHRASES,
        ANGINAL_BREATHLESS_PHRASES,
        ANGINAL_OTHER_CAUSE_PHRASES,
        DIABETES_PHRASES,
        SICK_PHRASES,
        DRAINED_PHRASES,
        SILENT_ACS_OTHER_CAUSE_PHRASES,
        CONFUSION_AT_BASELINE_PHRASES,
        CONFUSION_CHANGED_PHRASES,
        AORTIC_LEAK_SITE_PHRASES,
        AORTIC_LEAK_ONSET_PHRASES,
        AORTIC_LEAK_FIRM_SIGN_PHRASES,
        AORTIC_LEAK_SOFT_SIGN_PHRASES,
        _COLLAPSE_WORDS,
        AORTIC_LEAK_STONES_BEFORE_PHRASES,
        AORTIC_LEAK_DIFFERENT_PHRASES,
        AORTIC_LEAK_INJURY_PHRASES,
        AORTIC_LEAK_INFECTION_PHRASES,
        AORTIC_LEAK_SOFT_CAUSE_PHRASES,
        ACS_SWEAT_PHRASES,
        ACS_UPPER_ABDOMEN_PHRASES,
        ACS_SWEAT_BREATHLESS_PHRASES,
        ACS_SWEAT_OTHER_CAUSE_PHRASES,
        ACS_SWEAT_GUT_CAUSE_PHRASES,
        HYPOGLYCAEMIA_PHRASES,
        HYPO_RESOLVED_PHRASES,
        HYPO_MENTAL_CHANGE_PHRASES,
        CHILD_INJURY_PHRASES,
        CHILD_INJURY_LOOKALIKE_PHRASES,
        SEVERE_PAIN_PHRASES,
        tuple(RESOURCE_PHRASES),
        NO_RESOURCE_PHRASES,
        _BLEED_STOPPED_PHRASES,
        _BLEEDING_AGAIN_PHRASES,
        _SIGHT_OF_BLOOD_PHRASES,
        _OTHER_BLEEDING_PHRASES,
        _EYE_TROUBLE_PHRASES,
        RED_PATCH_ON_THE_WHITE,
        SIGHT_AS_USUAL,
        BLOOD_THINNERS,
        _CUT_PHRASES,
        _NOT_A_FRESH_CUT,
        _TENDON_OR_NERVE_PHRASES,
        _NOT_A_SKIN_STING,
        _COIN_SWALLOWED,
        ONE_PILL_MEDICINES,
        STRIDOR_PHRASES,
        STRIDOR_ONLY_WHEN_UPSET,
        CHILD_TOOK_PHRASES,
        CHILD_TOOK_TABLET_PHRASES,
        CHILD_OWN_MEDICINE_PHRASES,
        NEW_PACEMAKER_PHRASES,
        PACING_LEAD_SIGN_PHRASES,
        GAS_IN_TISSUE_PHRASES,
        SOFT_TISSUE_INFECTION_PHRASES,
        ONE_KIDNEY_PHRASES,
        ONE_KIDNEY_BLOCKED_PHRASES,
        HAEMOPTYSIS_OTHER_SOURCE_PHRASES,
        HEADACHE_PHRASES,
        RAISED_PRESSURE_SIGN_PHRASES,
        PRESSURE_OTHER_CAUSE_PHRASES,
        POSTOP_SIGN_PHRASES,
        WEAK_IMMUNITY_PHRASES,
        AGRANULOCYTOSIS_MEDICINES,
        _RED_HOT_SWOLLEN,
        _INFECTION_SIGNS,
        _WHOLE_BODY_BLOWS,
        _SITED_BLOWS,
        _LARGE_ANIMALS,
        _CROWDS,
        _TRUNK_OR_HEAD,
        _HAND_OR_FOOT,
    ):
        yield from table


@functools.cache
def _vocabulary() -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """Every word of the phrase tables: exact words, and by first letter the words that
    also match stems or one-letter slips (stems and words of _FUZZY_MIN_LEN letters up)."""
    words = {w for phrase in _all_phrases() for w in _phrase_words(phrase)}
    exact = frozenset(w for w in words if not w.endswith("*"))
    loose: dict[str, list[str]] = {}
    for word in sorted(words):
        if word.endswith("*") or len(word) >= _FUZZY_MIN_LEN:
            loose.setdefault(word[:1], []).append(word)
    return exact, {letter: tuple(ws) for letter, ws in loose.items()}


_RESOURCE_PHRASE_KEYS = tuple(RESOURCE_PHRASES)
# Injuries of a young child that are signs of abuse by their age or place (_child_injury_signs).
_NOT_YET_MOBILE_YEARS = 0.5
_ABUSE_SITES_YEARS = 4.0
CHILD_INJURY_PHRASES: tuple[str, ...] = INJURY_MARKS
# The TEN-4 sites of a bruise in a child under 4 (_bruise_site reads them near the bruise).
CHILD_BRUISE_SITES = frozenset(
    {
        *("ear", "ears", "neck", "torso", "trunk", "chest", "abdomen", "tummy", "belly"),
        *("stomach", "back", "buttock", "buttocks", "bottom", "genitals", "frenulum"),
    }
)
# What looks like a bruise in a baby and is not one, said in the bruise's clause.
_LOOKALIKE_STEMS = (
    "birthmark",
    "birth",
    "mongolian",
    "slate",
    "vaccin",
    "immunis",
    "immuniz",
    "jab",
    "injection",
    "heel",
    "nappy",
    "diaper",
    "eczema",
)
CHILD_INJURY_LOOKALIKE_PHRASES: tuple[str, ...] = (
    "birthmark*",
    "birth mark*",
    "mongolian",
    "blue spot*",
    "slate grey",
    "vaccination*",
    "vaccine*",
    "jab*",
    "injection site",
    "heel prick",
    "nappy rash",
    "diaper rash",
    "eczema",
)


def _child_injury_signs(note: _Note, age: float) -> str:
    """Where an injury in a young child is a sign of abuse until shown otherwise (NICE
    CG89; the TEN-4 rule): a bruise, fracture or burn in a baby under 6 months, who cannot
    yet move about alone, or, under 4 years, a bruise on the ears, neck, trunk, buttocks or
    genitals (the site within a few words of the bruise: "bruise to left ear", "ear
    bruising"; not the shins and forehead a toddler bumps). A bruise is not counted where
    the note names a look-alike (a birthmark, a blue spot, a vaccination, eczema, nappy
    rash); a fracture or a burn always is. The words found, quoted; "" when none."""
    if age >= _ABUSE_SITES_YEARS:
        return ""
    marks = note.find(CHILD_INJURY_PHRASES)
    bruises = [p for p in marks if p.startswith("brui")]
    if bruises and _every_bruise_a_lookalike(note):
        marks = [p for p in marks if p not in bruises]
        bruises = []
    if age < _NOT_YET_MOBILE_YEARS and marks:
        return f"a baby under 6 months, complaint says {note.quote(marks)}"
    site = _bruise_site(note) if bruises else ""
    if site:
        return f"a child under 4, complaint says {note.quote(bruises)} on the {site}"
    return ""


def _clause(tokens: list[str], i: int) -> list[str]:
    """The tokens of the clause (between commas or clause ends) that holds token ``i``."""
    start, end = i, i + 1
    while start > 0 and not (tokens[start - 1] in _SCOPE_END or tokens[start - 1] == ","):
        start -= 1
    while end < len(tokens) and not (tokens[end] in _SCOPE_END or tokens[end] == ","):
        end += 1
    return tokens[start:end]


def _every_bruise_a_lookalike(note: _Note) -> bool:
    """Whether every bruise word shares its clause with a look-alike ("bruise at
    vaccination site", "birthmark on back, parents thought it was a bruise" is not one:
    other clause) - then the marks are no bruises."""
    tokens = note.tokens
    places = [i for i, t in enumerate(tokens) if t.startswith("brui")]
    return bool(places) and all(
        any(t.startswith(_LOOKALIKE_STEMS) for t in _clause(tokens, i)) for i in places
    )


def _bruise_site(note: _Note) -> str:
    """A TEN-4 site within 4 words after a bruise word, or 2 before it, in its clause."""
    tokens = note.tokens
    for i, token in enumerate(tokens):
        if not token.startswith("brui"):
            continue
        for j in range(max(0, i - 2), min(len(tokens), i + 5)):
            between = tokens[min(i, j) : max(i, j)]
            if any(t in _SCOPE_END or t == "," for t in between):
                continue
            if tokens[j] in CHILD_BRUISE_SITES:
                return tokens[j]
    return ""


def _needing_nothing(note: _Note, matched: list[str]) -> list[str]:
    """The resource phrases of ``matched`` that the note's own words settle, with the words
    that settle them (see _NOSEBLEED_PHRASES)."""
    settled: list[str] = []
    if (
        note.find(_NOSEBLEED_PHRASES)
        and (stopped := note.find(_BLEED_STOPPED_PHRASES))
        and not note.find(_BLEEDING_AGAIN_PHRASES)
        and not note.find(_OTHER_BLEEDING_PHRASES)
        and not note.find(BLOOD_THINNERS, history_counts=True)
    ):
        bleeds = [p for p in matched if p in _NOSEBLEED_PHRASES or p in _HEAVY_BLEEDING]
        settled += [*bleeds, *stopped]
    if (
        not matched
        and (patch := note.find(RED_PATCH_ON_THE_WHITE))
        and (sight := note.find(SIGHT_AS_USUAL))
        and not note.find(_EYE_TROUBLE_PHRASES)
    ):
        settled += [*patch, *sight]
    if (
        "coin" in matched
        and (coining := note.find(_COINING_PHRASES))
        and not note.find(_COIN_SWALLOWED)
    ):
        settled += ["coin", *coining]
    if (dizzy := [p for p in matched if p in _DIZZY_PHRASES]) and (
        sight := note.find(_SIGHT_OF_BLOOD_PHRASES)
    ):
        settled += [*dizzy, *sight]
    return settled


# A cut told by its length ("3 cm cut", "wound about 2cm" of a cut finger, "plaie ~2,5 cm",
# "lac 15mm", "2-3cm": the thirty-fifth and thirty-sixth vignette sets) is closed by
# stitches, glue or staples: a procedure. Only a fresh cut of a centimetre or more, in the
# clause that tells its length, and never a place ("1 cm above the eyebrow") nor, in a note
# that also tells one, a burn's, a graze's, an ulcer's or a scar's size, nor a cut already
# closed or healed (its check or its stitches out need nothing).
_CUT_WORDS = frozenset(
    {"cut", "cuts", "gash", "gashes", "lac", "lacs", "laceration", "lacerations"}
    | {"coupure", "plaie", "corte", "herida"}
    # ... in Italian, German, Russian and Urdu ("ferita lineare ca 3 cm", "Wunde ca. 2 cm,
    # klaffend": the forty-ninth vignette set).
    | {"ferita", "taglio", "wunde", "schnittwunde", "platzwunde", "porez", "zakhm"}
)
_SIZED_CUT_WORDS = _CUT_WORDS | {"wound"}
_CUT_PHRASES = tuple(sorted(_CUT_WORDS))
# A cut with a finger that no longer bends or feels (a tendon or a nerve cut): a hand
# surgeon (the thirty-sixth set's review: "cut 3cm to wrist on glass, numb fingers, can't
# bend thumb").
_TENDON_OR_NERVE_PHRASES: tuple[str, ...] = (
    "cant bend",
    "unable to bend",
    "cant straighten",
    "unable to straighten",
    "cant flex",
    "unable to flex",
    "cant extend",
    "numb finger*",
    "numb thumb",
    "fingers numb",
    "finger numb",
    "thumb numb",
    "numbness",
    "no feeling",
    "cant feel",
    "tendon",
    # ... in Spanish (the forty-fourth vignette set: "no puedo levantar el dedo gordo").
    *(
        f"no {can} {move} {finger}"
        for can in ("puedo", "puede")
        for move in ("levantar", "mover", "doblar", "estirar")
        for finger in ("el dedo", "los dedos", "el pulgar")
    ),
    "no siente el dedo",
)
_LENGTH = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)(?:\s*(?:-|to)\s*(\d+(?:[.,]\d+)?))?\s*(cms?|mm)\b"
)
_ABOUT_DOT = re.compile(r"\b(?:ca|approx|appr|env|etwa|circa)\.")
_A_PLACE_AFTER = frozenset(
    {"above", "below", "from", "away", "proximal", "distal", "lateral", "medial", "off"}
    | {"shorter", "longer"}
)
_NOT_CUT_AFTER = frozenset({"down", "back"})  # "cut down on smoking 5 cm lump"
_HAIR_AND_NAILS = frozenset({"hair", "hairs", "nail", "nails", "fringe"})
_NOT_A_FRESH_CUT: tuple[str, ...] = (
    "ulcer*",
    "pressure sore",
    "bed sore",
    "escarre",
    "burn",
    "burns",
    "burnt",
    "burned",
    "scald*",
    "graze*",
    "abrasion*",
    "scar",
    "healed",
    "healing",
    "already sutured",
    "already stitched",
    "already glued",
    "sutured at",
    "stitched at",
    "stitched by",
    "glued at",
    "glued by",
    "stitches in",
    "suture removal",
    "stitches out",
    "staples out",
    "wound check",
    "dressing change",
    "pansement a refaire",
)


def _clause_edge(text: str, k: int, step: int, *, sentence: bool = False) -> int:
    """Where the clause (or with ``sentence`` the sentence) holding ``text[k]`` ends,
    walking by ``step`` (a comma or a dot between digits is a decimal, not an end)."""
    ends = ".;:!?()\n" if sentence else ",.;:!?()\n"
    while 0 <= k < len(text):
        between_digits = 0 < k < len(text) - 1 and text[k - 1].isdigit() and text[k + 1].isdigit()
        if text[k] in ends and not between_digits:
            return k
        k += step
    return k


def _sized_cut(note: _Note) -> str:
    """A fresh cut of a centimetre or more told by its length, as the nurse wrote it (the
    clause's words around the length); "" if none."""
    if not note.find(_CUT_PHRASES) or note.find(_NOT_A_FRESH_CUT):
        return ""
    text = note.complaint.lower()  # as written: ".5cm" is no 5 cm (_CALIBRE drops its dot)
    # "Wunde ca. 2 cm": the dot of an "about" ends no sentence (the forty-ninth set).
    text = _ABOUT_DOT.sub(lambda m: m[0][:-1] + " ", text)
    for length in _LENGTH.finditer(text):
        numbers = [float(n.replace(",", ".")) for n in length.group(1, 2) if n]
        centimetres = max(numbers) / (10 if length[3] == "mm" else 1)
        if centimetres < 1:
            continue
        # Back to the sentence's start ("cut to forehead, 2-3cm, gaping"), on to its
        # clause's end ("burn 3cm, also cut finger" is no cut of 3 cm).
        start = _clause_edge(text, length.start() - 1, -1, sentence=True) + 1
        end = _clause_edge(text, length.end(), 1)
        # "cut L index finger pad ~2 cm" (the forty-second set): the cut word may lead a
        # finger's or a limb's place of up to five words.
        before = re.findall(r"[a-z]+", text[start : length.start()])[-6:]
        after = re.findall(r"[a-z]+", text[length.end() : end])[:4]
        if after and after[0] in _A_PLACE_AFTER:
            continue
        words = [*before, *after]
        if _HAIR_AND_NAILS & set(words):
            continue
        if any(
            word in _SIZED_CUT_WORDS and (k + 1 == len(words) or words[k + 1] not in _NOT_CUT_AFTER)
            for k, word in enumerate(words)
        ):
            return text[start:end].strip()
    return ""


def _resources_for(note: _Note) -> tuple[int | None, str | None]:
    found = note.find(_RESOURCE_PHRASE_KEYS)
    settled = _needing_nothing(note, found)
    matched = [p for p in found if p not in settled]
    sized_cut = _sized_cut(note)
    tendon = note.find(_TENDON_OR_NERVE_PHRASES) if note.find(_CUT_PHRASES) else []
    infected = note.find(_RED_HOT_SWOLLEN)
    infected = infected + note.find(_INFECTION_SIGNS) if infected else []
    if len(infected) < 2:
        infected = []
    if matched or sized_cut or tendon or infected:
        resources: set[str] = set()
        for phrase in matched:
            resources |= RESOURCE_PHRASES[phrase]
        if sized_cut:
            resources.add(PROCEDURE)
        if tendon:
            resources |= {PROCEDURE, CONSULT}
            matched = [*matched, *tendon]
        if infected:
            resources |= {LABS, IV_MEDS}
            matched = [*matched, *infected]
        count = len(resources) + (1 if COMPLEX_PROCEDURE in resources else 0)
        level = 3 if count >= 2 else 4 if count == 1 else 5
        need = "two or more resources" if level == 3 else "one resource"
        words = ", ".join(filter(None, (note.quote(matched), sized_cut and f"'{sized_cut}'")))
        reason = (
            f"The complaint ({words}) usually needs {', '.join(sorted(resources))}: "
            f"{need}, ESI {level}."
        )
        return level, reason
    none_needed = [*settled, *note.find(NO_RESOURCE_PHRASES)]
    if set(none_needed) & set(_STINGS) and note.find(_NOT_A_SKIN_STING):
        none_needed = [p for p in none_needed if p not in _STINGS]
    if none_needed:
        reason = (
            f"The complaint ({note.quote(none_needed)}) usually needs no ED resources "
            "(examination, point-of-care tests and oral medicines do not count): ESI 5."
        )
        return 5, reason
    return None, None


# A heart rate under this (with a low blood pressure) is a sign of poor perfusion.
_SHOCK_BRADYCARDIA = 50


def _rate_limits(age: float) -> tuple[int, int]:
    """(severe bradycardia below, severe tachycardia above) for the age: over 8 years an
    adult's rate under 40 or over 150 (ACLS), a younger child's under 60 (PALS: with poor
    perfusion, CPR) or over 180; under a year over 220, and under 80 (a baby's heart at
    rest beats 100-160, asleep down to about 90); a neonate's under 90."""
    if age_band(age) == AGE_BANDS[-1]:
        return 40, 150
    if age < _NEONATE_YEARS:
        return 90, 220
    if age < 1:
        return 80, 220
    return 60, 180


# An adult's slow rate that, with dizziness or a faint, is symptomatic bradycardia (ESI 2);
# a neonate's, with those or a sign of poor perfusion.
_SYMPTOMATIC_BRADYCARDIA_BELOW = 50
_NEONATE_SLOW_BELOW = 100


def _unstable_rate_rule(*, note: _Note, vitals: Vitals) -> tuple[str, str, int, str] | None:
    """A severely slow or fast heart that does not perfuse: ESI 1 (the handbook's "severe
    bradycardia or tachycardia with signs of hypoperfusion", "weak and dizzy, heart rate =
    30"), on firm signs only: clammy, mottled or ashen skin, cool peripheries, a delayed
    capillary refill or a weak pulse in the complaint, AVPU P, or, with a severely slow
    rate, dizziness or a faint feeling now. A slow heart (over 8 years under 50/min) with
    dizziness, a faint or a collapse that may be over is ESI 2."""
    hr = vitals.heart_rate
    if hr is None or hr == 0:
        return None
    slow_below, fast_above = _rate_limits(vitals.age_years)
    severely_slow = hr < slow_below
    signs: list[str] = []
    if vitals.avpu == "P":
        signs.append("AVPU P")
    skin = note.find(SHOCK_SKIN_PHRASES)
    if skin:
        signs.append(note.quote(skin))
    now = note.find(LOW_OUTPUT_SYMPTOM_PHRASES)
    if severely_slow and now:
        signs.append(note.quote(now))
    if signs and (severely_slow or hr > fast_above):
        what = "slow" if severely_slow else "fast"
        return (
            "A_UNSTABLE_RATE",
            "A",
            1,
            f"Heart rate {hr}/min, severely {what} for the age, with signs it does not "
            f"perfuse ({', '.join(signs)}): needs immediate treatment (pacing, atropine, "
            "cardioversion), ESI 1.",
        )
    adult = age_band(vitals.age_years) == AGE_BANDS[-1]
    neonate = vitals.age_years < _NEONATE_YEARS
    if adult:
        slow = _SYMPTOMATIC_BRADYCARDIA_BELOW
    else:
        slow = _NEONATE_SLOW_BELOW if neonate else slow_below
    if hr >= slow:
        return None
    # A neonate's heart under 100 with a sign of poor perfusion: not severe, still a sick
    # baby (ESI 2).
    symptoms = now + note.find(LOW_OUTPUT_EVENT_PHRASES) + (skin if neonate else [])
    if symptoms:
        return (
            "B_SYMPTOMATIC_BRADYCARDIA",
            "B",
            2,
            f"Heart rate {hr}/min with {note.quote(symptoms)}: a slow heart that may not "
            "perfuse is a high-risk situation, ESI 2.",
        )
    return None


def _shock_rule(
    *, note: _Note, vitals: Vitals, zone: dict[str, int], index: float | None
) -> tuple[str, str, int, str] | None:
    """Shock (A, ESI 1) or an unexplained low blood pressure (D, consider 2), or None.

    Shock is a systolic pressure below the age's PALS limit, or one that cannot be measured,
    with a sign of poor perfusion (heart rate above the danger zone or under 50, breathing
    above the danger zone, AVPU V/P/U or GCS 14 or less, SpO2 under 92% or unmeasurable,
    pale/clammy/mottled/cold skin or delayed capillary refill in the complaint) or a cause of
    shock in the complaint or the temperature (anaphylaxis, bleeding or trauma, sepsis or
    fever, fluid loss, a heart cause). It does not need a fast heart rate: beta-blockers and
    other rate-control drugs hide it. A pulseless patient has the arrest rule instead.
    """
    hr, rr, spo2, sbp = vitals.heart_rate, vitals.respiratory_rate, vitals.spo2, vitals.systolic_bp
    if hr == 0 or sbp is None:
        return None
    age = vitals.age_years
    limit = _hypotension_limit_words(age)
    if sbp == 0:
        pressure = "Blood pressure cannot be measured"
    elif sbp < hypotension_threshold(age):
        pressure = f"Systolic BP {sbp} mmHg is below {limit} (PALS)"
    else:
        return None
    signs: list[str] = []
    if hr is not None and (hr > zone["heart_rate"] or hr < _SHOCK_BRADYCARDIA):
        signs.append(f"heart rate {hr}/min")
    if rr is not None and rr > zone["respiratory_rate"]:
        signs.append(f"respiratory rate {rr}/min")
    if vitals.avpu in ("V", "P", "U"):
        signs.append(f"AVPU {vitals.avpu}")
    elif vitals.gcs is not None and vitals.gcs <= 14:
        signs.append(f"GCS {vitals.gcs}")
    if spo2 == 0:
        signs.append("SpO2 cannot be measured")
    elif spo2 is not None and spo2 < DANGER_SPO2:
        signs.append(f"SpO2 {spo2}%")
    hypoperfusion = note.find(HYPOPERFUSION_PHRASES)
    if hypoperfusion:
        signs.append(note.quote(hypoperfusion))
    causes: list[str] = []
    for cause, phrases in SHOCK_MECHANISM_PHRASES.items():
        found = note.find(phrases)
        if found:
            causes.append(f"{cause}: {note.quote(found)}")
    if (
        vitals.temperature_c is not None
        and vitals.temperature_c >= FEVER_C
        and not any(c.startswith("sepsis") for c in causes)
    ):
        causes.append(f"sepsis: temperature {vitals.temperature_c:.1f} C")
    index_words = f" Shock index {index:.2f} (heart rate / systolic BP)." if index else ""
    if signs or causes:
        found_words = "; ".join(
            ([f"signs of poor perfusion: {', '.join(signs)}"] if signs else [])
            + ([f"a cause of shock ({'; '.join(causes)})"] if causes else [])
        )
        return (
            "A_SHOCK",
            "A",
            1,
            f"{pressure}, with {found_words}: shock needs immediate treatment whatever the "
            f"heart rate (beta-blockers and other rate-control drugs hide tachycardia), "
            f"ESI 1.{index_words}",
        )
    return (
        "D_HYPOTENSION",
        "D",
        2,
        f"{pressure}, with no sign of poor perfusion or cause of shock recorded: recheck it "
        f"and look at capillary refill, skin and mental status; consider ESI 2.{index_words}",
    )


def _aortic_leak(note: _Note, vitals: Vitals) -> str | None:
    """What says a leaking aortic aneurysm in an older patient whose pain reads as a first
    kidney stone or a bad back (see _AORTIC_LEAK_AGE), or None."""
    if vitals.age_years < _AORTIC_LEAK_AGE:
        return None
    if vitals.temperature_c is not None and vitals.temperature_c >= FEVER_C:
        return None
    site = note.find(AORTIC_LEAK_SITE_PHRASES)
    if not site:
        return None
    # The pain's own sentences: "sudden dizziness. Back pain for a week" is no sudden back
    # pain, "had a fall last month. Today sudden back pain" no injury now.
    sentences = [
        part
        for sentence in _SENTENCE_END.split(note.complaint)
        if (part := _Note(sentence)).find(AORTIC_LEAK_SITE_PHRASES)
    ]
    onset = [phrase for part in sentences for phrase in part.find(AORTIC_LEAK_ONSET_PHRASES)]
    firm = note.find(AORTIC_LEAK_FIRM_SIGN_PHRASES)
    skin_or_collapse = [p for p in firm if p not in ("sweaty", "sweating", "sweats")]
    if not onset and not skin_or_collapse:
        return None
    stones = note.find(AORTIC_LEAK_STONES_BEFORE_PHRASES, history_counts=True)
    if stones and not note.find(AORTIC_LEAK_DIFFERENT_PHRASES):
        return None
    injury = [phrase for part in sentences for phrase in part.find(AORTIC_LEAK_INJURY_PHRASES)]
    # A strain from lifting explains a back pain, not a grey, clammy skin or a collapse with
    # it (the sixty-second vignette set: "came on 2 hrs ago lifting a bag of compost ...
    # came over faint on the toilet ... grey and sweaty").
    lifted = set(injury) <= {"lifting", "lifted"} and bool(
        skin_or_collapse or note.find((*_COLLAPSE_WORDS, *_CAME_OVER_FAINT))
    )
    if (
        injury
        and not lifted
        and not (set(injury) <= {"fell", "fall"} and note.find(_COLLAPSE_WORDS))
    ):
        return None
    if note.find(AORTIC_LEAK_INFECTION_PHRASES):
        return None
    soft = (
        []
        if note.find(AORTIC_LEAK_SOFT_CAUSE_PHRASES)
        else note.find(AORTIC_LEAK_SOFT_SIGN_PHRASES)
    )
    signs = [note.quote(firm + soft)] if firm or soft else []
    sbp = vitals.systolic_bp
    for match in _USUAL_PRESSURE.finditer(note.text):
        usual = int(match[1] or match[2])
        if sbp and sbp <= usual - _PRESSURE_FALL:
            signs.append(f"systolic BP {sbp} where the usual is {usual}")
            break
    if not signs:
        return None
    return (
        "A sudden or never-before pain of the back, the flank or the belly after 60 with a "
        "sign of blood lost may be a leaking aortic aneurysm, whatever it is taken for (a "
        f"first kidney stone after 60 is one until shown otherwise: complaint says "
        f"{note.quote(site + onset)}; {'; '.join(signs)}): ESI 2."
    )


def _concept_found(concept: Concept, note: _Note) -> list[str]:
    """The phrases of ``concept`` found in the note (not negated): its own, then those of
    each combination all of whose groups were found."""
    found = note.find(concept.phrases)
    # A combination joins a finding with its context, and context is often history (a
    # transplant, a previous clot, known diabetes): told as history, it counts; in those of
    # ``together_now`` the first finding must be current.
    combinations = [(c, False) for c in concept.together]
    combinations += [(c, True) for c in concept.together_now]
    # A combination of ``together_unless`` does not count where one of its own phrases is
    # found: the blood is another organ's.
    combinations += [(c, False) for c, unless in concept.together_unless if not note.find(unless)]
    for combination, first_now in combinations:
        parts: list[list[str]] = []
        for place, group in enumerate(combination):  # the first group not found settles it
            part = note.find(group, history_counts=True, now=first_now and place == 0)
            if not part:
                break
            parts.append(part)
        else:
            found.extend(p for part in parts for p in part if p not in found)
    return found


def _green_food_eaten(text: str) -> bool:
    """Whether the text tells green food brought back up, not a green "like the spinach
    puree my nephew eats" (a comparison: the fifty-fourth vignette set)."""
    words = re.findall(r"[a-z]+", text)
    return any(
        word in _GREEN_FOODS
        and not {"like", "as", "colour", "color"} & set(words[max(0, k - 4) : k])
        for k, word in enumerate(words)
    )


def _green_vomit(note: _Note) -> str | None:
    """The sentences of the note that tell a vomit that was green or bile, or None
    (_GREEN_VOMIT_YEARS: only a baby's counts)."""
    sentences = [s for s in _SENTENCE_END.split(note.text) if s.strip()]
    for k, sentence in enumerate(sentences):
        if not _VOMITED.search(sentence):
            continue
        for told in sentences[k : k + 2]:
            if _green_food_eaten(sentence + " " + told):
                continue
            for green in _GREEN.finditer(told):
                clause = re.findall(r"[a-z]+", told[: green.start()].rsplit(",", 1)[-1])
                around = set(clause[-3:]) | set(re.findall(r"[a-z]+", told[green.end() :])[:2])
                named = clause[-1:] and clause[-1] in _TITLES  # Dr Green, the GP
                if _GREEN_DENIED & set(clause) or _NOT_THE_VOMITS & around or named:
                    continue
                return " ".join(
                    s.strip() for s in sentences[k : k + 2] if s is told or s is sentence
                )
    return None


# An operation on the stomach or the bowel days ago (B_POSTOP): new pain, a fever, vomiting
# or a racing heart after it may be a leak of the join (the fifty-sixth vignette set:
# "Sleeve gastrectomy 9 days ago in Istanbul ... pain L upper abdo going up into L shoulder
# tip ... feels shivery"). The time belongs to the operation, within a few words of it ("POD5
# right hemi", "anterior resection 2 weeks ago"), not to the cough of two days ago; months or
# years back, or a relative's operation ("wife had gastric bypass last week"), do not count.
_GUT_OPERATION = (
    r"(?:sleeve(?: gastrectomy| op\w*| surgery| done)|gastric (?:sleeve|bypass|band)|vsg|rygb"
    r"|roux en y|lap(?:aroscopic)? (?:sleeve|band|bypass|rygb)|mini bypass|bariatric"
    r" (?:surgery|op\w*|procedure)|weight loss (?:surgery|op\w*)|obesity surgery"
    r"|(?:small )?bowel (?:resection|surgery|op\w*)|(?:right |left |r |l )?hemi ?colectomy"
    r"|(?:right|left|r|l) hemi\b|(?:sigmoid |sub ?total |total )?colectomy|anterior resection"
    r"|hartmanns?(?: procedure)?|whipples?(?: procedure)?|o?esophagectomy|gastrectomy"
    r"|stoma (?:reversal|formed|formation)|reversal of (?:stoma|ileostomy|colostomy)"
    r"|ileostomy|colostomy|laparotomy|perforated (?:ulcer|bowel|duodenal ulcer) repair"
    r"|(?:bowel|colon|colorectal|stomach) cancer (?:surgery|op\w*))"
)
_FEW = (
    r"(?:\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen"
    r"|fourteen)"
)
_FEW_WEEKS = r"(?:[1-6]|a|one|two|three|four|five|six)"
_RECENT_AFTER = re.compile(
    rf"\b{_GUT_OPERATION}\b(?:\W+\w+){{0,6}}?\W+(?:{_FEW}\s*(?:days?|d|/7)\s*(?:ago|post|back"
    rf"|since)|{_FEW_WEEKS}\s*(?:weeks?|wks?|/52)\s*(?:ago|post|back|since)|[1-6]/52\b|last week"
    r"|this week|yesterday|on (?:mon|tues|wednes|thurs|fri|satur|sun)day)"
)
_RECENT_BEFORE = re.compile(
    rf"\b(?:pod\s*\d{{1,2}}|post ?op day\s*\d{{1,2}}|day\s*\d{{1,2}}\s*post(?: ?op)?|{_FEW}\s*"
    rf"(?:days?|d|/7)\s*(?:post ?op|post|after|since)|{_FEW_WEEKS}\s*(?:weeks?|/52)\s*(?:post ?op"
    rf"|post|after|since)|[1-6]/52\s*post(?: ?op)?|(?:yesterday|today|last week|this week)"
    rf"\s*(?:after|following|post))\b(?:\W+\w+){{0,4}}?\W+{_GUT_OPERATION}\b"
)
_RELATIVE_HAD = re.compile(
    r"\b(?:wife|husband|partner|mum|mom|mother|dad|father|son|daughter|brother|sister|gran\w*"
    r"|friend|relative|neighbour|neighbor)s?\b(?:\W+\w+){0,3}?\W+$"
)
POSTOP_SIGN_PHRASES: tuple[str, ...] = (
    "abdo pain",
    "abdominal pain",
    "tummy pain",
    "stomach pain",
    "belly pain",
    "pain in abdomen",
    "pain in her abdomen",
    "pain in his abdomen",
    "abdo distended",
    "distended",
    "distension",
    "shoulder tip",
    "shivery",
    "shivering",
    "rigors",
    "rigours",
    "chills",
    "fever*",
    "febrile",
    "temp 38*",
    "temp 39*",
    "temp 40*",
    "temp of 38*",
    "temp of 39*",
    "temp of 40*",
    "high temp*",
    "spiked a temp*",
    "hiccup*",
    "heart racing",
    "racing heart",
    "tachycardic",
    "vomit*",
    "cant keep anything down",
    "cant keep fluids down",
    "unable to keep fluids down",
    "cant keep water down",
    "cant get anything down",
    "few sips",
    "only sips",
    "not passing wind",
    "no flatus",
    "not opened bowels",
    "stoma dusky",
    "dusky stoma",
    "stoma black",
    "leaking from the wound",
    "something wrong inside",
    "not like the op pain",
    "different from the op pain",
    "worse than the op pain",
    "new pain",
    "pain getting worse",
    "pain worse",
    "pain is worse",
    "worsening pain",
    "increasing pain",
    "increasing abdo pain",
    "severe pain",
)


# A relative's clozapine or carbimazole ("mum is on clozapine"), not the patient's.
_RELATIVES_MEDICINE = re.compile(
    r"\b(?:wife|husband|partner|mum|mom|mother|dad|father|son|daughter|brother|sister|gran\w*"
    r"|nan\w*)s?\b(?:\W+\w+){0,3}?\W+(?:clozapine|clozaril|carbimazole|methimazole|ptu"
    r"|propylthiouracil)\b"
)


def _recent_gut_operation(note: _Note, vitals: Vitals) -> str | None:
    """The words of the note that tell an operation on the stomach or bowel days ago and a
    sign of a leak after it (or a fever or fast pulse measured at triage), or None."""
    told = None
    for found in (*_RECENT_AFTER.finditer(note.text), *_RECENT_BEFORE.finditer(note.text)):
        operation = re.search(_GUT_OPERATION, found[0])
        start = found.start() + (operation.start() if operation else 0)
        if _RELATIVE_HAD.search(note.text[max(0, start - 40) : start]):
            continue
        told = found[0]
        break
    if told is None:
        return None
    signs = note.find(POSTOP_SIGN_PHRASES)
    measured = []
    if vitals.temperature_c is not None and vitals.temperature_c >= FEVER_C:
        measured.append(f"temperature {vitals.temperature_c:.1f} C")
    if vitals.heart_rate is not None and vitals.heart_rate > 100:
        measured.append(f"heart rate {vitals.heart_rate}")
    if not signs and not measured:
        return None
    return "; ".join(x for x in (f"'{told}'", note.quote(signs), ", ".join(measured)) if x)


def _severe_pressure_in_pregnancy(note: _Note, vitals: Vitals) -> str | None:
    """Why a blood pressure in the severe range late in a pregnancy or in the weeks after a
    birth is pre-eclampsia until proven otherwise (a high-risk situation), or None: its
    pressure is itself a severe feature, with or without a headache (the thirty-ninth
    vignette set: 172/112 six days after a birth, told as "only madax xanuun")."""
    sbp, dbp = vitals.systolic_bp, vitals.diastolic_bp
    severe = (sbp is not None and sbp >= _SEVERE_SYSTOLIC) or (
        dbp is not None and dbp >= _SEVERE_DIASTOLIC
    )
    if not severe or not _CHILDBEARING_YEARS[0] <= vitals.age_years <= _CHILDBEARING_YEARS[1]:
        return None
    # Not a man's note, nor a wife's or a daughter's pregnancy or birth told by another
    # patient (the thirty-ninth set's review: "52M here with wife who gave birth
    # yesterday", "her daughter had a baby last week"), nor a pregnancy denied.
    text = note.text
    if _A_MANS_NOTE.search(text) or _SOMEONE_ELSES.search(text) or _NO_PREGNANCY.search(text):
        return None
    when = note.find(LATE_PREGNANCY_STATED) or note.find(_AT_TERM)
    # A birth days or weeks ago (_birth_of_days_or_weeks).
    if not when and note.find(AFTER_BIRTH) and (birth := _birth_of_days_or_weeks(text)):
        when = [birth]
    if not when:
        return None
    return (
        f"Blood pressure {sbp}/{dbp if dbp is not None else '?'} is in the severe range "
        f"(complaint says {note.quote(when)}): pre-eclampsia until proven otherwise, a "
        "high-risk situation, ESI 2."
    )


# A large animal's weight or blow (the forty-second vignette set: a stockman "knocked down +
# trampled in the cattle yards", "bull got me in the guts then stood on me"; its review):
# trampled, gored, tossed or crushed by one, or rolled, fallen or stood on by one, is a
# high-energy blow unless it took only a hand or a foot; its kick, butt or weight on a part
# counts on the trunk, the neck or the head. A crowd's trampling too.
_WHOLE_BODY_BLOWS: tuple[str, ...] = (
    "trampled",
    "trampling",
    "gored",
    "goring",
    "horned",
    "tossed",
    "crushed against",
    "crushed between",
    "crushed by",
    "crushed under",
    "squashed against",
    "squashed between",
    "pinned against",
    "pinned under",
    "rolled on top of",
    "fell on top of",
    "landed on top of",
    "crowd crush",
    "crushed in the crowd",
    "crushed in a crowd",
)
_SITED_BLOWS: tuple[str, ...] = (
    "kicked",
    "kick",
    "kicks",
    "butted",
    "headbutted",
    "head butted",
    *(f"{got} {whom} in the" for got in ("got", "caught") for whom in ("him", "her", "me")),
    *(
        f"{verb} on"
        for verb in (
            *("stood", "knelt", "kneeled", "stomped", "stamped", "rolled", "fell"),
            *("landed", "sat", "jumped", "trod", "stepped"),
        )
    ),
    "came down on",
)
_LARGE_ANIMALS = frozenset(
    {"horse", "horses", "pony", "ponies", "mare", "stallion", "colt", "donkey", "camel"}
    | {"bull", "bulls", "bullock", "bullocks", "steer", "steers", "cow", "cows", "cattle"}
    | {"heifer", "ox", "oxen", "buffalo", "bison", "elephant", "moose", "elk", "yak", "camels"}
)
# "Horse riding", "cows milk", "bull bar", "cattle crush" (a stall), "Red Bull", "pit bull":
# no animal at the scene.
_NOT_AN_ANIMAL_AFTER = frozenset(
    {"riding", "ride", "rides", "lesson", "lessons", "show", "racing", "race", "races"}
    | {"milk", "formula", "bar", "bars", "eye", "shit", "float", "trailer", "crush", "terrier"}
)
_NOT_AN_ANIMAL_BEFORE = frozenset({"red", "pit", "sitting", "raging"})
_CROWDS = frozenset({"crowd", "crowds", "stampede", "mosh"})
_TRUNK_OR_HEAD = frozenset(
    {"chest", "abdo", "abdomen", "abd", "abdominal", "belly", "guts", "gut", "stomach"}
    | {"tummy", "ribs", "rib", "flank", "pelvis", "pelvic", "hip", "hips", "spine", "neck"}
    | {"head", "face", "skull", "sternum", "epigastrium", "torso", "luq", "ruq"}
)
_BACK_OF = frozenset({"his", "her", "my", "the", "lower", "upper", "low", "mid"})
_HAND_OR_FOOT = frozenset(
    {"foot", "feet", "toe", "toes", "hand", "hands", "finger", "fingers", "fingertip"}
    | {"thumb", "thumbs", "ankle", "ankles", "wrist", "wrists", "shin", "shins", "heel"}
)
_PERSONS = frozenset({"him", "me", "them", "us", "her", "top"})
# "Chest clear", "abdo soft": an examination, not the blow's site.
_EXAMINED_AFTER = frozenset(
    {"clear", "soft", "nad", "normal", "fine", "ok", "okay", "nt", "non", "unremarkable"}
    | {"intact", "atraumatic"}
)
_DID_NOT = frozenset({"didnt", "not", "never", "wasnt", "no", "nil", "denies", "without"})
_SENTENCE_ENDS = frozenset({".", ";", "?", ":"})


def _large_animal_blow(note: _Note) -> str:
    """The words of a large animal's (or a crowd's) high-energy blow, current and not
    negated, or "" (see _WHOLE_BODY_BLOWS)."""
    tokens = note.tokens

    def bounds(i: int, ends: frozenset[str] | set[str]) -> tuple[int, int]:
        start = i
        while start > 0 and tokens[start - 1] not in ends:
            start -= 1
        end = i
        while end < len(tokens) and tokens[end] not in ends:
            end += 1
        return start, end

    def an_animal(start: int, end: int) -> bool:
        return any(
            tokens[j] in _LARGE_ANIMALS
            and (j + 1 >= len(tokens) or tokens[j + 1] not in _NOT_AN_ANIMAL_AFTER)
            and (j == 0 or tokens[j - 1] not in _NOT_AN_ANIMAL_BEFORE)
            for j in range(start, end)
        )

    def a_site(j: int) -> bool:
        if tokens[j] == "back":
            return j > 0 and tokens[j - 1] in _BACK_OF
        if tokens[j] not in _TRUNK_OR_HEAD or note._negated(j):
            return False
        if j + 1 < len(tokens) and tokens[j + 1] in _EXAMINED_AFTER:
            return False
        clause_start, _ = bounds(j, _SENTENCE_ENDS | {","})
        return not _DID_NOT & set(tokens[clause_start:j])

    for phrase in (*_WHOLE_BODY_BLOWS, *_SITED_BLOWS):
        words = _phrase_words(phrase)
        n = len(words)
        for i in note.positions.get(words[0], ()):
            if i + n > len(tokens) or not all(words[k] in note.words[i + k] for k in range(n)):
                continue
            if (
                note._negated(i)
                or note._past(i + n)
                or _HISTORY_CUES & set(tokens[max(0, i - 2) : i])
            ):
                continue
            start, end = bounds(i, _SENTENCE_ENDS)
            clause_start, clause_end = bounds(i, _SENTENCE_ENDS | {","})
            clause = set(tokens[clause_start:clause_end])
            whole = phrase in _WHOLE_BODY_BLOWS
            if not whole and words[-1] == "on" and i + n < len(tokens):
                # Stood or rolled on the person, not on one part: the whole body.
                then = tokens[i + n]
                after = tokens[i + n + 1] if i + n + 1 < len(tokens) else ""
                whole = then in _PERSONS and not (
                    then == "her" and (after in _HAND_OR_FOOT or after in _TRUNK_OR_HEAD)
                )
            animal = an_animal(start, end)
            crowd = phrase in _WHOLE_BODY_BLOWS and (
                bool(_CROWDS & set(tokens[start:end])) or "crowd" in words
            )
            if whole:
                if not (animal or crowd):
                    continue
                if clause & _HAND_OR_FOOT and not clause & _TRUNK_OR_HEAD:
                    continue
            elif not animal or not any(
                a_site(j) for j in (*range(i + n, end), *range(clause_start, i))
            ):
                continue
            return " ".join(tokens[start:end])
    return ""


def _birth_of_days_or_weeks(text: str) -> str | None:
    """The words of a birth the note tells as days or weeks ago, or None: the time nearest
    to it in its own clause, after it ("gave birth 6 days ago", "had c section last week")
    or before it ("2/52 postpartum", "day 4 post c section"), is days or weeks, not months
    or years ("had a baby 10 months ago", "postpartum 8 months"); without a time, only words
    that say so by themselves ("postpartum", "since delivery") count ("2 children both by
    caesarean" is none)."""
    for birth in _BIRTH_WORDS.finditer(text):
        after = re.split(r"[.,;]", text[birth.end() : birth.end() + 40], maxsplit=1)[0]
        before = re.split(r"[.,;]", text[max(0, birth.start() - 25) : birth.start()])[-1]
        times = list(_BIRTH_TIME.finditer(after))[:1] or list(_BIRTH_TIME.finditer(before))[-1:]
        if times:
            if times[0].group("recent"):
                return birth.group()
            continue
        if _SAYS_JUST_NOW.match(birth.group()):
            return birth.group()
    return None


def _add_concept(
    concept: Concept,
    note: _Note,
    similar: Mapping[str, str],
    add: Callable[[str, str, int, str], None],
) -> None:
    level = concept.level
    found = _concept_found(concept, note)
    if found:
        add(
            concept.code,
            concept.decision_point,
            level,
            f"{concept.reason} (complaint says {note.quote(found)}): ESI {level}.",
        )
    elif (
        concept.code in similar
        and not (
            concept.meaning_unless
            and all(note.find(group) for group in concept.meaning_unless)
            and not (concept.meaning_unless_not and note.find(concept.meaning_unless_not))
        )
        and not (
            concept.meaning_denied
            and all(note.denied(group) for group in concept.meaning_denied)
            and not (concept.meaning_denied_not and note.find(concept.meaning_denied_not))
        )
        and not (
            concept.meaning_ruled_out
            and note.find(concept.meaning_ruled_out)
            and not (concept.meaning_ruled_out_not and note.find(concept.meaning_ruled_out_not))
        )
    ):
        add(
            concept.code,
            concept.decision_point,
            level,
            f"{concept.reason} (the complaint reads like it: '{similar[concept.code]}'): "
            f"ESI {level}.",
        )


def esi_rules(
    *, complaint: str, vitals: Vitals, similar: Mapping[str, str] | None = None
) -> RulesResult:
    """Apply the ESI v4 decision points A-D to a complaint and its vital signs.

    ``similar`` maps a concept's code to the words of the complaint that read like it by
    meaning (:func:`diagnosis.triage.meaning.similar_concepts`); such a concept fires as if
    its words had been found, quoting them. Never raises on any complaint text; an
    unrecognised complaint gives no A/B/C rule (``resources_level`` None). The vitals are
    checked by :class:`Vitals` itself.
    """
    similar = similar or {}
    note = _Note(complaint)
    fired: list[FiredRule] = []
    age = vitals.age_years
    band = age_band(age)
    zone = _DANGER_ZONE[band]
    hr, rr, spo2 = vitals.heart_rate, vitals.respiratory_rate, vitals.spo2

    def add(code: str, point: str, level: int, reason: str) -> None:
        fired.append(FiredRule(code, point, level, reason, point in ("A", "B")))

    # --- A: immediate life-saving intervention -----------------------------------------
    distress = note.find(DISTRESS_PHRASES)
    severe_tachypnoea = rr is not None and rr > zone["respiratory_rate"] + _SEVERE_TACHYPNOEA_MARGIN
    # The handbook's "unresponsive": responds only to a painful stimulus (AVPU P) or not at
    # all (U), or GCS 8 or less.
    if vitals.avpu in ("P", "U") or (vitals.gcs is not None and vitals.gcs <= 8):
        status = f"AVPU {vitals.avpu}" if vitals.avpu in ("P", "U") else f"GCS {vitals.gcs}"
        add(
            "A_UNRESPONSIVE_VITALS",
            "A",
            1,
            f"Unresponsive ({status}): needs an immediate life-saving intervention, ESI 1.",
        )
    if rr == 0:
        add(
            "A_APNOEA_VITALS",
            "A",
            1,
            "Not breathing (apnoeic): needs immediate airway support and ventilation, ESI 1.",
        )
    elif rr is not None and rr <= _BRADYPNOEA_MAX:
        add(
            "A_BRADYPNOEA",
            "A",
            1,
            f"Respiratory rate {rr}/min is too slow to sustain life: needs ventilation or an "
            "antidote now, ESI 1.",
        )
    if hr == 0:
        add(
            "A_PULSELESS_VITALS",
            "A",
            1,
            "No pulse (pulseless): cardiac arrest needs immediate resuscitation, ESI 1.",
        )
    spo2_unobtainable = spo2 == 0
    if (spo2 is not None and spo2 < CRITICAL_SPO2) and (distress or severe_tachypnoea):
        what = "SpO2 cannot be measured" if spo2_unobtainable else f"SpO2 {spo2}%"
        why = f"with {note.quote(distress)}" if distress else f"and respiratory rate {rr}/min"
        add(
            "A_HYPOXIA_DISTRESS",
            "A",
            1,
            f"{what} {why}: severe respiratory distress needs immediate oxygen and airway "
            "support, ESI 1.",
        )
    # GCS 14 is often a baseline (dementia); 13 or less is not.
    lowered = vitals.avpu in ("V", "P") or (vitals.gcs is not None and 9 <= vitals.gcs <= 13)
    hypoxic = spo2 is not None and 0 < spo2 < CRITICAL_SPO2
    if hypoxic and lowered and not any(r.code == "A_HYPOXIA_DISTRESS" for r in fired):
        # A brain short of oxygen, or a patient too drowsy to protect the airway: the
        # handbook's examples of ESI 1 include SpO2 < 90; with a lowered level of
        # consciousness it is never a stable baseline (a COPD patient at 88 % is alert).
        state = f"AVPU {vitals.avpu}" if vitals.avpu in ("V", "P") else f"GCS {vitals.gcs}"
        add(
            "A_HYPOXIA_ALTERED",
            "A",
            1,
            f"SpO2 {spo2}% with a lowered level of consciousness ({state}): needs immediate "
            "oxygen and airway support, ESI 1.",
        )
    index = shock_index(vitals)
    shock = _shock_rule(note=note, vitals=vitals, zone=zone, index=index)
    if shock is not None and shock[1] == "A":
        add(*shock)
    else:
        unstable = _unstable_rate_rule(note=note, vitals=vitals)
        if unstable is not None:
            add(*unstable)
    for concept in CONCEPTS:
        if concept.level == 1:
            _add_concept(concept, note, similar, add)
    # New confusion or lethargy (B below), and, with a low blood glucose, decision point A:
    # IV dextrose is a life-saving intervention; the ESI v4 handbook's examples of ESI 1
    # include "hypoglycemia with a change in mental status".
    altered_words = _concept_found(BY_CODE["B_ALTERED"], note)
    altered_signs: list[str] = []
    if vitals.avpu in ("V", "P"):
        altered_signs.append(f"AVPU {vitals.avpu}")
    if vitals.gcs is not None and 9 <= vitals.gcs <= 14:
        altered_signs.append(f"GCS {vitals.gcs}")
    if altered_words:
        altered_signs.append(f"complaint says {note.quote(altered_words)}")
    elif "B_ALTERED" in similar:
        altered_signs.append(f"the complaint reads like it: '{similar['B_ALTERED']}'")
    hypo = note.find(HYPOGLYCAEMIA_PHRASES) + _low_glucose_readings(note.text)
    if hypo and not note.find(HYPO_RESOLVED_PHRASES) and not _glucose_normal_now(note.text):
        # With a low glucose, any change of mind counts (confusion alone may be old); a
        # change read by meaning alone does not make ESI 1.
        changed = note.find(HYPO_MENTAL_CHANGE_PHRASES)
        signs = [s for s in altered_signs if not s.startswith("the complaint reads")]
        if changed and not altered_words:
            signs.append(f"complaint says {note.quote(changed)}")
        if signs and _glucose_recovered(note.text):
            # Treated already, the mind not back: a hypo that does not recover (ESI 2).
            add(
                "B_DKA",
                "B",
                2,
                f"Low blood glucose ({note.quote(hypo)}) treated, with a change in mental "
                f"status still ({'; '.join(signs)}): a hypo that does not recover is a "
                "high-risk situation, ESI 2.",
            )
        elif signs:
            add(
                "A_HYPOGLYCAEMIA",
                "A",
                1,
                f"Low blood glucose ({note.quote(hypo)}) with a change in mental status "
                f"({'; '.join(signs)}): IV dextrose is a life-saving intervention, ESI 1.",
            )

    # --- B: high-risk situation, new confusion/lethargy, severe pain or distress ---------
    chest_pain = note.find(CHEST_PAIN_PHRASES)
    if chest_pain:
        features = note.find(ACS_FEATURE_PHRASES)
        if age >= _ACS_AGE or features:
            add(
                "B_ACS",
                "B",
                2,
                f"{BY_CODE['B_ACS'].reason} "
                f"(complaint says {note.quote(chest_pain + features)}): ESI 2.",
            )
    elif age >= _ACS_AGE:
        site = note.find(ANGINAL_SITE_PHRASES)
        ache = note.find(ANGINAL_ACHE_PHRASES) if site else []
        breathless = note.find(ANGINAL_BREATHLESS_PHRASES) if ache else []
        if breathless and not note.find(ANGINAL_OTHER_CAUSE_PHRASES):
            add(
                "B_ACS",
                "B",
                2,
                "An ache of the jaw, left shoulder or arm with breathlessness may be a heart "
                f"attack without chest pain (complaint says "
                f"{note.quote(site + ache + breathless)}): ESI 2.",
            )
        # A heartburn that goes to the jaw, the left arm or shoulder (the thirty-third
        # vignette set: "zgaga, very bad heartburn", "boli tu" pointing at the upper stomach
        # and the jaw; "a burning in the pit of her stomach that goes up into her jaw").
        heart_site = note.find(_ANGINAL_ONE_SIDE) if age >= _SWEATING_ACS_AGE else []
        burning = note.find(_UPPER_BURNING) if heart_site else []
        if not breathless and burning and not note.find(ANGINAL_OTHER_CAUSE_PHRASES):
            add(
                "B_ACS",
                "B",
                2,
                "An upper-stomach burning or heaviness with the jaw, the left shoulder or arm "
                f"may be a heart attack without chest pain (complaint says "
                f"{note.quote(burning + heart_site)}): ESI 2.",
            )
    feverish = vitals.temperature_c is not None and vitals.temperature_c >= FEVER_C
    if age >= _SWEATING_ACS_AGE and not feverish and not any(r.code == "B_ACS" for r in fired):
        sweat = note.find(ACS_SWEAT_PHRASES)
        upper = note.find(ACS_UPPER_ABDOMEN_PHRASES) if sweat else []
        breathless = note.find(ACS_SWEAT_BREATHLESS_PHRASES) if sweat else []
        explained = note.find(ACS_SWEAT_OTHER_CAUSE_PHRASES) or (
            not breathless and note.find(ACS_SWEAT_GUT_CAUSE_PHRASES)
        )
        if (upper or breathless) and not explained:
            add(
                "B_ACS",
                "B",
                2,
                "Sweating with an upper-abdominal heaviness, nausea or breathlessness may be a "
                "heart attack without chest pain (complaint says "
                f"{note.quote(sweat + upper + breathless)}): ESI 2.",
            )
    if age >= _SILENT_ACS_AGE and not any(r.code == "B_ACS" for r in fired):
        diabetic = note.find(DIABETES_PHRASES, history_counts=True)
        sick = note.find(SICK_PHRASES) if diabetic else []
        drained = note.find(DRAINED_PHRASES) if sick else []
        if drained and not note.find(SILENT_ACS_OTHER_CAUSE_PHRASES):
            add(
                "B_ACS",
                "B",
                2,
                "An older diabetic who is sick and drained may be having a heart attack "
                f"without chest pain (complaint says {note.quote(diabetic + sick + drained)}): "
                "ESI 2.",
            )
    for concept in CONCEPTS:
        fired_already = any(r.code == concept.code for r in fired)
        if concept.level == 2 and concept.code != "B_ALTERED" and not fired_already:
            _add_concept(concept, note, similar, add)
    if not any(r.code == "B_AORTIC" for r in fired) and (leak := _aortic_leak(note, vitals)):
        add("B_AORTIC", "B", 2, leak)
    if not any(r.code == "B_OBSTETRIC" for r in fired) and (
        pressure := _severe_pressure_in_pregnancy(note, vitals)
    ):
        add("B_OBSTETRIC", "B", 2, pressure)
    if not any(r.code == "B_TRAUMA" for r in fired) and (blow := _large_animal_blow(note)):
        add(
            "B_TRAUMA",
            "B",
            2,
            "A large animal's weight or kick on the trunk or the head (or a crowd's "
            f"trampling) is a high-risk injury mechanism (complaint says '{blow}'): ESI 2.",
        )
    febrile = vitals.temperature_c is not None and vitals.temperature_c >= FEVER_C
    if febrile and age < _NEONATE_YEARS:
        add(
            "B_NEONATE_FEVER",
            "B",
            2,
            f"Temperature {vitals.temperature_c:.1f} C in a baby under 28 days old is a "
            "high-risk situation, ESI 2.",
        )
    cold = NEONATE_HYPOTHERMIA_C if age < _NEONATE_YEARS else HYPOTHERMIA_C
    if vitals.temperature_c is not None and vitals.temperature_c < cold:
        whose = " in a baby under 28 days old" if age < _NEONATE_YEARS else ""
        add(
            "B_HYPOTHERMIA",
            "B",
            2,
            f"Temperature {vitals.temperature_c:.1f} C is hypothermia (below {cold:.0f} C"
            f"{whose}), a high-risk situation: ESI 2.",
        )
    if (
        age < _ONE_PILL_YEARS
        and not any(r.code == "B_OVERDOSE" for r in fired)
        and (gone := _battery_gone(note))
    ):
        add(
            "B_OVERDOSE",
            "B",
            2,
            f"A little battery gone from its device near a young child (complaint says "
            f"'{gone}') may be a swallowed button battery, which burns through the "
            "gullet within hours: a high-risk situation, ESI 2.",
        )
    green = _green_vomit(note) if age < _GREEN_VOMIT_YEARS else None
    if green and not any(r.code == "B_OBSTRUCTION" for r in fired):
        add(
            "B_OBSTRUCTION",
            "B",
            2,
            f"Green (bilious) vomit in a baby (complaint says '{green}') may be a twisted gut "
            "(malrotation with volvulus) until proven otherwise: a high-risk situation, ESI 2.",
        )
    if age < _ONE_PILL_YEARS and not any(r.code == "B_OVERDOSE" for r in fired):
        one_pill = note.find(ONE_PILL_MEDICINES, history_counts=True)
        took = note.find(CHILD_TOOK_PHRASES) if one_pill else []
        tablets = note.find(CHILD_TOOK_TABLET_PHRASES) if took else []
        if tablets and not note.find(CHILD_OWN_MEDICINE_PHRASES):
            add(
                "B_OVERDOSE",
                "B",
                2,
                "A young child who may have swallowed a medicine of which one or two tablets "
                f"can poison a child (complaint says {note.quote(one_pill + took)}) is a "
                "high-risk situation: ESI 2.",
            )
    if not any(r.code == "B_POSTOP" for r in fired) and (
        leak := _recent_gut_operation(note, vitals)
    ):
        add(
            "B_POSTOP",
            "B",
            2,
            "New pain, a fever, vomiting or a racing heart days after an operation on the "
            f"stomach or the bowel may be a leak (complaint says {leak}): a high-risk "
            "situation, ESI 2.",
        )
    if (
        not any(r.code == "B_POSTOP" for r in fired)
        and (paced := note.find(NEW_PACEMAKER_PHRASES))
        and not _NOT_A_NEW_PACEMAKER.search(note.text)
    ):
        signs = note.find(PACING_LEAD_SIGN_PHRASES)
        if signs:
            add(
                "B_POSTOP",
                "B",
                2,
                "Pain on breathing in, breathlessness, hiccups or a twitching belly days after "
                f"a new pacemaker (complaint says {note.quote(paced + signs)}) may be its lead "
                "through the heart wall, with blood gathering round the heart: a high-risk "
                "situation, ESI 2.",
            )
    if not any(r.code == "B_HEADACHE" for r in fired) and (pressure := _pressure_in_the_head(note)):
        add(
            "B_HEADACHE",
            "B",
            2,
            "A headache that wakes from sleep, with vomiting on waking or a new clumsiness, "
            f"squint or double vision (complaint says {pressure}), may be pressure rising "
            "inside the head (a growing mass, a blocked shunt): a high-risk situation, ESI 2.",
        )
    if not any(r.code == "B_SEPSIS" for r in fired) and (gas := note.find(GAS_IN_TISSUE_PHRASES)):
        infected = note.find(SOFT_TISSUE_INFECTION_PHRASES)
        if infected:
            add(
                "B_SEPSIS",
                "B",
                2,
                "Skin that crackles under the finger (gas in the tissue) where it is infected "
                f"(complaint says {note.quote(gas + infected)}) is a gas-forming, flesh-"
                "destroying infection until shown otherwise: a high-risk situation, ESI 2.",
            )
    if (kidney := note.find(ONE_KIDNEY_PHRASES, history_counts=True)) and (
        blocked := note.find(ONE_KIDNEY_BLOCKED_PHRASES)
    ):
        add(
            "B_ONE_KIDNEY",
            "B",
            2,
            "No urine for hours, or a kidney's colic, in a patient with one kidney (complaint "
            f"says {note.quote(kidney + blocked)}) may be that kidney blocked: a high-risk "
            "situation, ESI 2.",
        )
    if coughed := _much_blood_coughed(note):
        add(
            "B_HAEMOPTYSIS",
            "B",
            2,
            "Blood coughed up in more than streaks (complaint says "
            f"{', '.join(repr(c) for c in coughed)}) may be a bleed in the lung that turns "
            "massive: a high-risk situation, ESI 2.",
        )
    if vitals.temperature_c is not None and vitals.temperature_c >= FEVER_C:
        weak = note.find(WEAK_IMMUNITY_PHRASES, history_counts=True)
        if not weak and not _RELATIVES_MEDICINE.search(note.text):
            weak = note.find(AGRANULOCYTOSIS_MEDICINES, history_counts=True, now=True)
        if weak and not any(r.code == "B_SEPSIS" for r in fired):
            add(
                "B_SEPSIS",
                "B",
                2,
                f"Temperature {vitals.temperature_c:.1f} C in a patient whose immunity may be "
                f"weak (complaint says {note.quote(weak)}) may be neutropenic sepsis: ESI 2.",
            )
    stridor = note.find(STRIDOR_PHRASES)
    if (
        stridor
        and not note.find(STRIDOR_ONLY_WHEN_UPSET)
        and not any(r.code in ("A_RESP_DISTRESS", "B_SOB") for r in fired)
    ):
        add(
            "B_SOB",
            "B",
            2,
            "Stridor, the noise of air through a narrowed upper airway (complaint says "
            f"{note.quote(stridor)}), is a high-risk situation: ESI 2.",
        )
    abuse_signs = _child_injury_signs(note, age)
    if abuse_signs and not any(r.code == "B_ABUSE" for r in fired):
        add(
            "B_ABUSE",
            "B",
            2,
            f"{BY_CODE['B_ABUSE'].reason} ({abuse_signs}): ESI 2.",
        )
    if note.find(CONFUSION_AT_BASELINE_PHRASES) and not note.find(CONFUSION_CHANGED_PHRASES):
        # Told as the patient's usual state, and nothing in the note says it changed: the
        # words are no new confusion (a lowered AVPU or GCS still is).
        altered_signs = [s for s in altered_signs if s.startswith(("AVPU", "GCS"))]
    if altered_signs:
        add(
            "B_ALTERED",
            "B",
            2,
            f"New confusion, lethargy or disorientation ({'; '.join(altered_signs)}): ESI 2.",
        )
    pain_scores = [p for p in (vitals.pain, note.pain_score()) if p is not None]
    pain_words = note.find(SEVERE_PAIN_PHRASES)
    if (pain_scores and max(pain_scores) >= SEVERE_PAIN) or pain_words:
        what = f"pain {max(pain_scores)}/10" if pain_scores and max(pain_scores) >= 7 else ""
        what = ", ".join(x for x in (what, note.quote(pain_words)) if x)
        add("B_PAIN", "B", 2, f"Severe pain ({what}) is severe distress: ESI 2.")
    if distress and not any(r.code == "A_HYPOXIA_DISTRESS" for r in fired):
        add(
            "B_DISTRESS",
            "B",
            2,
            f"Respiratory distress (complaint says {note.quote(distress)}) "
            "is severe distress: ESI 2.",
        )

    # --- C: expected resources ----------------------------------------------------------
    resources_level, resources_reason = _resources_for(note)
    if resources_level is not None and resources_reason is not None:
        add("C_RESOURCES", "C", resources_level, resources_reason)

    # --- D: danger-zone vitals for the age ----------------------------------------------
    who = _BAND_WORDS[band]
    if hr is not None and hr > zone["heart_rate"]:
        add(
            "D_HEART_RATE",
            "D",
            2,
            f"Heart rate {hr}/min is above the danger zone ({zone['heart_rate']}/min) for {who}: "
            "consider ESI 2.",
        )
    if rr is not None and rr > zone["respiratory_rate"]:
        add(
            "D_RESPIRATORY_RATE",
            "D",
            2,
            f"Respiratory rate {rr}/min is above the danger zone ({zone['respiratory_rate']}/min) "
            f"for {who}: consider ESI 2.",
        )
    if shock is not None and shock[1] == "D":
        add(*shock)
    if spo2_unobtainable and hr != 0:
        add(
            "D_SPO2_UNOBTAINABLE",
            "D",
            2,
            "SpO2 cannot be measured (no reliable trace): poor perfusion or failing breathing "
            "until shown otherwise; check the circulation and try another site, consider ESI 2.",
        )
    elif spo2 is not None and 0 < spo2 < DANGER_SPO2:
        add("D_SPO2", "D", 2, f"SpO2 {spo2}% is below {DANGER_SPO2}%: consider ESI 2.")
    if febrile and _NEONATE_YEARS <= age < 0.25:
        add(
            "D_INFANT_FEVER",
            "D",
            2,
            f"Temperature {vitals.temperature_c:.1f} C in a baby aged 28 days to 3 months: "
            "consider ESI 2.",
        )

    hard = [r.level for r in fired if r.mandatory]
    considered = 2 if any(r.decision_point == "D" for r in fired) else None
    return RulesResult(
        fired=tuple(fired),
        floor=min(hard) if hard else None,
        resources_level=resources_level,
        considered=considered,
        shock_index=index,
    )


def combine(*, rules: RulesResult, model_level: int) -> tuple[int, str]:
    """The suggested ESI level: the model's, raised (never lowered) by the rules.

    The result is the most acute (lowest number) of the model's level, the hard-rule floor
    (A/B) and, when danger-zone vitals fired (D, "consider ESI 2"), level 2: for a
    suggestion the safer level is taken and the explanation says the nurse may lower it
    after assessment. Resources (C) never change the model's level; they are shown as a
    reason only. Returns ``(level, explanation)``.

    Raises:
        ValueError: ``model_level`` is not an ESI level 1-5.
    """
    if isinstance(model_level, bool) or model_level not in ESI_LEVELS:
        raise ValueError(f"model_level must be an ESI level 1-5, got {model_level!r}")
    level = model_level
    if rules.floor is not None and rules.floor < level:
        level = rules.floor
        reasons = " ".join(r.reason for r in rules.hard_rules if r.level == rules.floor)
        return level, (
            f"ESI {level}, raised from the model's ESI {model_level} by a hard rule. {reasons}"
        )
    if rules.considered is not None and rules.considered < level:
        level = rules.considered
        reasons = " ".join(r.reason for r in rules.fired if r.decision_point == "D")
        return level, (
            f"ESI {level}, raised from the model's ESI {model_level} because of danger-zone "
            f"vital signs. {reasons} The suggestion takes the safer level; lower it only after "
            "your assessment."
        )
    if rules.floor is not None:
        reasons = " ".join(r.reason for r in rules.hard_rules if r.level == rules.floor)
        return level, f"ESI {level}, as the model suggested; the hard rules agree. {reasons}"
    return level, (f"ESI {level}, as the model suggested; no rule asks for a more acute level.")


def rules_level(rules: RulesResult) -> int:
    """ESI without a model: the expected-resources level (3 when unknown), raised by the
    hard rules and the danger zone exactly as :func:`combine` raises a model's level."""
    level, _ = combine(rules=rules, model_level=rules.resources_level or 3)
    return level
