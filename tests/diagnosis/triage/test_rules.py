"""The ESI v4 hard rules: what a triage nurse's note and vitals make them say.

Pure Python, no database: the cases are the kind the ESI v4 handbook teaches with.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from diagnosis.triage.concepts import CONCEPTS
from diagnosis.triage.rules import (
    _TOKEN,
    AVPU,
    FiredRule,
    RulesResult,
    Vitals,
    age_band,
    combine,
    danger_zone,
    esi_rules,
    hypotension_threshold,
    rules_level,
)

ADULT = Vitals(
    age_years=40,
    heart_rate=80,
    respiratory_rate=16,
    spo2=98,
    systolic_bp=125,
    diastolic_bp=80,
    temperature_c=36.9,
    pain=2,
    avpu="A",
)


def vitals(**changes: object) -> Vitals:
    return replace(ADULT, **changes)


def codes(result: RulesResult) -> set[str]:
    return {rule.code for rule in result.fired}


# (complaint, vitals, a rule code that must fire, floor, considered)
HANDBOOK_CASES = [
    ("unresponsive, not breathing", vitals(avpu="U"), "A_APNOEA", 1, None),
    ("found down, CPR in progress", vitals(heart_rate=0, respiratory_rate=0), "A_ARREST", 1, None),
    ("fall at home", vitals(gcs=7), "A_UNRESPONSIVE_VITALS", 1, None),
    ("pt unresponsive on arrival", vitals(), "A_UNRESPONSIVE", 1, None),
    ("actively seizing x10 min", vitals(), "A_SEIZING", 1, None),
    ("found down", vitals(respiratory_rate=0), "A_APNOEA_VITALS", 1, None),
    ("heroin use", vitals(respiratory_rate=5, avpu="P"), "A_BRADYPNOEA", 1, None),
    ("gasping, can't breathe", vitals(spo2=85, respiratory_rate=34), "A_HYPOXIA_DISTRESS", 1, 2),
    ("cough x3 days", vitals(spo2=86, respiratory_rate=34), "A_HYPOXIA_DISTRESS", 1, 2),
    # A severely slow or fast heart that does not perfuse (the handbook's "weak and dizzy,
    # heart rate = 30").
    ("weak and dizzy", vitals(heart_rate=30), "A_UNSTABLE_RATE", 1, None),
    ("fainted this morning, fine now", vitals(heart_rate=36), "B_SYMPTOMATIC_BRADYCARDIA", 2, None),
    # A neonate's heart under 100 with poor perfusion: a sick baby, if not severe.
    (
        "10 day old, pale, mottled, poor feeding",
        vitals(age_years=10 / 365.25, heart_rate=95),
        "B_SYMPTOMATIC_BRADYCARDIA",
        2,
        None,
    ),
    ("complete heart block, dizzy", vitals(heart_rate=42), "B_SYMPTOMATIC_BRADYCARDIA", 2, None),
    ("dizzy, clammy", vitals(heart_rate=34), "A_UNSTABLE_RATE", 1, None),
    ("palpitations, grey and clammy", vitals(heart_rate=190), "A_UNSTABLE_RATE", 1, 2),
    ("floppy baby, mottled", vitals(age_years=0.3, heart_rate=50), "A_UNSTABLE_RATE", 1, None),
    # The handbook's "unresponsive" includes one who answers only to pain (AVPU P).
    ("fasting, took her insulin, only moans", vitals(avpu="P"), "A_UNRESPONSIVE_VITALS", 1, None),
    # A baby's heart at rest beats 100-160 (asleep down to about 90): under 80 in an infant,
    # under 90 in a neonate, with poor perfusion, is severe bradycardia.
    ("grey, mottled, CRT 4s", vitals(age_years=0.4, heart_rate=72), "A_UNSTABLE_RATE", 1, None),
    (
        "4 months, floppy, CRT 4 s",
        vitals(age_years=0.33, heart_rate=70),
        "A_UNSTABLE_RATE",
        1,
        None,
    ),
    (
        "8 days old, cold and mottled",
        vitals(age_years=8 / 365.25, heart_rate=84),
        "A_UNSTABLE_RATE",
        1,
        None,
    ),
    # Hypoxia with a lowered level of consciousness (an organophosphate, CO2 narcosis).
    ("sprayed crops, drooling, wheezy", vitals(spo2=85, avpu="V"), "A_HYPOXIA_ALTERED", 1, 2),
    ("COPD, more drowsy today", vitals(spo2=88, gcs=12), "A_HYPOXIA_ALTERED", 1, 2),
    (
        "vomiting blood, pale and clammy",
        vitals(systolic_bp=78, diastolic_bp=40, heart_rate=128),
        "A_SHOCK",
        1,
        2,
    ),
    ("67 y/o M c/o CP radiating to L arm", vitals(age_years=67), "B_ACS", 2, None),
    ("crushing chest pressure", vitals(age_years=24), "B_ACS", 2, None),
    ("c/o SOB x2 days", vitals(), "B_SOB", 2, None),
    ("L sided weakness and slurred speech", vitals(age_years=72), "B_STROKE", 2, None),
    ("SI/HI", vitals(), "B_PSYCH", 2, None),
    ("OD on tylenol ~20 pills", vitals(), "B_OVERDOSE", 2, None),
    ("worst headache of my life", vitals(), "B_HEADACHE", 2, None),
    ("8 wks pregnant w/ abd pain", vitals(age_years=27), "B_ECTOPIC", 2, None),
    ("fever, on chemo for breast ca", vitals(temperature_c=38.4), "B_SEPSIS", 2, None),
    ("new confusion since this am", vitals(age_years=80), "B_ALTERED", 2, None),
    ("fever", vitals(avpu="V"), "B_ALTERED", 2, None),
    ("fall", vitals(gcs=12), "B_ALTERED", 2, None),
    ("twisted ankle", vitals(pain=8), "B_PAIN", 2, None),
    ("R flank pain 9/10", vitals(pain=None), "B_PAIN", 2, None),
    (
        "fussy, felt hot",
        vitals(age_years=10 / 365.25, temperature_c=38.3),
        "B_NEONATE_FEVER",
        2,
        None,
    ),
    (
        "fussy, felt hot",
        vitals(age_years=6 * 7 / 365.25, temperature_c=38.3),
        "D_INFANT_FEVER",
        None,
        2,
    ),
    # Hypothermia (below 35 C): active rewarming and a monitor (the twenty-sixth set).
    (
        "found on a bench at 3am, cold",
        vitals(age_years=81, temperature_c=34.1),
        "B_HYPOTHERMIA",
        2,
        None,
    ),
    (
        "cool to touch, feeding less",
        vitals(age_years=10 / 365.25, temperature_c=35.6),
        "B_HYPOTHERMIA",
        2,
        None,
    ),
    ("fever", vitals(age_years=2, heart_rate=170, respiratory_rate=30), "D_HEART_RATE", None, 2),
    ("cough", vitals(spo2=91), "D_SPO2", None, 2),
    ("ankle sprain, walking", vitals(), "C_RESOURCES", None, None),
]


@pytest.mark.parametrize(("complaint", "vitals_", "code", "floor", "considered"), HANDBOOK_CASES)
def test_each_decision_point_fires_for_the_handbook_kind_of_case(
    complaint: str, vitals_: Vitals, code: str, floor: int | None, considered: int | None
) -> None:
    result = esi_rules(complaint=complaint, vitals=vitals_)

    assert code in codes(result)
    assert result.floor == floor
    assert result.considered == considered


# (complaint, expected resources level) for an adult with normal vitals.
RESOURCE_CASES = [
    ("abd pain N/V", 3),
    ("fall, hit head, + LOC", 3),
    ("wrist deformity after FOOSH", 3),
    ("syncopal episode at work", 3),
    ("ankle sprain, walking", 4),
    ("2 cm lac to chin, bleeding controlled", 4),
    ("swallowed a 5c coin an hour ago, playing, no drooling", 4),
    # Drooling round a stuck coin: an x-ray and a specialist at least.
    ("swallowed a coin, drooling, cant swallow", 3),
    ("coin sized lump in breast", None),
    ("sore throat, cant swallow tablets", 5),
    ("CHF, ran out of his water pill, ankles swollen, 3 pillows to sleep", 3),
    ("burning w/ urination x2 days", 4),
    ("sore throat x2 days", 5),
    ("here for suture removal", 5),
    ("needs refill of BP meds", 5),
    ("condom split last night, needs the morning-after pill", 5),
    ("UTI for 4 days, now right back hurts, chills, threw up once", 3),
    ("burning passing water, sore back, fevers, chucked up once", 3),
    ("wrist sore after handcuffs, cap refill under 2 sec", None),
    ("handcuff wrist, peripheral refill 4 sec", None),
    ("handcuff wrist, refill time 3 sec", None),
    # Teeth that no longer meet after a blow: a broken jaw, not the ESI 5 of "teeth"; a gaping
    # cut from a dog needs its stitches and the rabies cover (two resources).
    ("punched + kicked in face, split upper lip gaping 2cm, teeth don't meet right", 3),
    ("dry cracked split lip from the cold", None),
    ("punched in the face, swollen cheek, numb upper lip, pain on biting", None),
    ("3cm gaping cut on cheek from a dog, nobody knows its shots", 3),
    # A gaping cut alone is stitched (the thirty-third vignette set).
    ("4 cm gaping cut on the forearm from a knife, bleeding stopped", 4),
    ("2 cm cut through L eyebrow, wants it stitched quick", 4),
    # The thirty-second vignette set: an arm visibly bent needs a reduction; a gastrostomy
    # put back; grit in the eye taken out; a dressing, an itch need nothing.
    ("fell from the monkey bars, forearm swollen and visibly bent", 3),
    ("mic-key gastrostomy button came out an hour ago, stoma clean", 4),
    ("felt a bit of grit go in her L eye, watery, can see fine", 4),
    ("PICC dressing lifted at the edge in the shower, wants it redone", 5),
    ("itchy ring-shaped patches on the arm for 2 weeks", 5),
    # ... not an itch with a yellow skin, nor a bent back; a cold in Hindi, a forgotten
    # medicine through a translation app.
    ("Itchy skin and yellow eyes, dark urine, pale stools for a week", 3),
    ("Walked in visibly bent over with back pain after lifting boxes", 5),
    ("naak beh raha hai, thodi khansi, playing and eating", 5),
    ("tiene el ojo rojo y amanecio con laganas pegadas", 5),
    ("cough x6 wks, a few blood streaks, night sweats soak the bed", 3),
    ("my medicine for pressure of blood was forgotten, please give paper for medicine", 5),
    # The thirty-fifth vignette set: a nosebleed that has stopped, a bleed on the white of the
    # eye after a cough with the sight clear, a dizzy turn at the sight of blood need nothing
    # more than what the cut needs; a nosebleed still running is packed or cauterised; a
    # cough's straining is no sprain. Its review: not one that has not stopped, runs on a
    # thinner or with another bleed, nor a red patch elsewhere or on a painful eye.
    ("nosebleed at school, pinched, stopped in the car 20 min ago, no bleeding now", 5),
    ("crew called: passenger bleeding heavily. Nosebleed, stopped before landing", 5),
    ("nose started bleeding playing, mum pinched it, stopped approx 20 min ago", 5),
    ("nosebleed for 40 minutes, still bleeding through the tissues", 4),
    ("nose bleeding, stopped then started again, on aspirin", 4),
    ("bright red flat patch on the white of the L eye after coughing, sees clearly", 5),
    ("bad cough for four days with straining", 5),
    ("3 cm lac palm, got dizzy when he saw the blood, did not pass out", 4),
    ("dizzy since this morning", 3),
    ("nosebleed hasn't stopped with pressure", 4),
    ("nosebleed stopped for 5 min then came back", 4),
    ("nosebleed, stopped with pinching, none running down back of throat", 5),
    ("nosebleed, front stopped but blood running down back of throat", 4),
    ("nosebleed 2 hours, soaked 3 towels, stopped his warfarin last week", 4),
    ("nosebleed stopped, bruises all over legs, gums bleeding", 4),
    ("heavy bleeding PV soaking pads hourly, had a nosebleed last week that stopped", 3),
    ("red patch on calf, swollen calf, recent long flight", None),
    ("red patch over white of eye, very painful, light sensitive, blurred vision", None),
    ("sees blood when coughing, dizzy, weight loss", 3),
    # The thirty-sixth vignette set: a cut told by its length is closed (a procedure), not
    # a graze's or a burn's size, nor one under a centimetre; a wasp's or a jellyfish's
    # local sting, a baby tooth come out, coining marks need nothing; sea urchin spines in
    # a foot are taken out; a coin rubbed on the skin is no coin swallowed.
    ("Cut L index finger with kitchen knife. Wound about 2cm, edges clean", 4),
    ("Coupure paume main g. Plaie ~2,5 cm, bords nets, saignement arrete", 4),
    ("3 cm cut on the shin from a shopping trolley", 4),
    ("cut to chin, 0.5cm, stopped bleeding", None),
    ("graze to knee about 4 cm, cleaned at school", None),
    ("stung by wasp R forearm, red raised area approx 3cm", 5),
    ("kurage ni sasareta (stung by jellyfish), red lines on calf", 5),
    ("dent de lait tombee ce matin, petit suintement de la gencive", 5),
    ("grandma did khood lom with a coin and balm for his runny nose", 5),
    ("swallowed a coin an hour ago, no drooling", 4),
    ("sea urchin spines in sole of L foot, 2 look deep", 4),
    # ... and its review: a cut not a cut, under a centimetre, a place, another thing's
    # size, one already closed or healed need no procedure for a length; a range and
    # millimetres count, and a cut under the chin; a cut that no longer bends or feels sees
    # a hand surgeon; a sting in the eye is no simple sting; a coin swallowed after coining
    # is still x-rayed; a split lip in French is closed.
    ("skin not cut, 4 cm haematoma over eyebrow", None),
    ("cut to chin .5cm, stopped bleeding", None),
    ("cut 1 cm above eyebrow, clean edges", None),
    ("burn to forearm from oven 3cm, also cut finger yesterday", None),
    ("leg ulcer, wound 5cm, has cut down smoking, wants dressing", None),
    ("he cut his hair 2cm shorter and now itchy scalp rash", 5),
    ("healed cut on palm 3cm, here for suture removal", 5),
    ("cut 2cm on finger, already sutured at urgent care, wound check only", 5),
    ("cut to forehead, 2-3cm, gaping", 4),
    ("lac to scalp 15mm", 4),
    ("cut 3cm to wrist on glass, numb fingers, can't bend thumb", 3),
    ("cut 3cm to neck from glass, bleeding", 4),
    ("cut 3 cm under chin, gaping, bleeding stopped", 4),
    ("Plaie ~2,5 cm, saignement arrete sous le pansement", 4),
    ("escarre sacree, plaie 5 cm, pansement a refaire", None),
    ("wasp sting on eyeball, can't open eye, blurred vision", None),
    ("swallowed 20p coin 1hr ago, mum had been doing gua sha on her back, no drooling", 4),
    ("chute de velo, dent de lait cassee, levre fendue 2cm", 3),
    # The thirty-seventh vignette set: a leg red, hot and swollen told with commas needs labs
    # and IV antibiotics, a forearm with an obvious bend a reduction, a red patch on the
    # white of the eye with no change in vision nothing, and kerokan (coin rubbing) no
    # x-ray for a coin.
    ("R lower leg red, hot, swollen 3 days, from a blister, shivers last night", 3),
    ("knee hot, swollen and red, can't bend it, fever 38.5", 3),
    # ... and its review: not a bite, a sting, a sunburn or a sprain without an infection's
    # sign.
    ("mosquito bite on the arm, red, hot and swollen", None),
    ("sprained ankle, red, hot and swollen, walking", 4),
    ("no red, hot, swollen joints, aches all over", None),
    ("R forearm has an obvious bend midshaft, fingers pink", 3),
    ("bright red patch on the white of the eye, no vision change, no eye pain", 5),
    ("red patch on the white of the eye, no vision change, but very painful", None),
    ("saya masuk angin, did kerokan last night with coin + minyak kayu putih", 5),
    # The thirty-eighth vignette set: a cough bringing up green with crackles needs a chest
    # x-ray beside its fever's labs; a red patch on the white of the eye with the "vision
    # same as always" needs nothing.
    ("Cough x5 days bringing up green muck, fevers, few crackles R base", 3),
    ("flat bright red patch on white of eye, vision same as always, no eye pain", 5),
    # The forty-second vignette set: a cut told five words before its length, a few
    # stitches needed; none when they are not.
    ("Knife slipped, cut L index finger pad ~2 cm approx 1 hr ago", 4),
    ("is nothing, only need few stitches, supervisor send me", 4),
    ("scraped knee, doesn't need stitches", None),
    ("needing a few stitches removed from forehead", None),
    # The forty-third: "didn't hit head" is no head scan.
    ("Twisted L ankle playing football. No other injury, didn't hit head.", 4),
    ("Tripped on rug, didn't hit head, can't weight bear, R leg short and turned out", 3),
    ("Boxer's fx? 5th finger looks short and rotated after punch", 4),
    # The forty-fourth: a gaping cut told by its edges, a sprained ankle in Spanish, a cut
    # tendon in Spanish; a corner of the mouth in French is no coin.
    ("Cut L palm w/ skinning knife. ~3 cm, edges gape. Come get it sewn", 4),
    ("Me doblé el tobillo en el fútbol, inflamado", 4),
    ("Herida ~6 cm profunda en el pie. 'No puedo levantar el dedo gordo'", 3),
    ("coin de la bouche un peu sec, lèvres gercées", None),
    ("Sewn up at clinic 3 days ago, wants dressing change", 5),
    ("Corte profundo en la palma con vidrio, no puedo mover los dedos", 3),
    ("R foot red + swollen up to cheville, plantar ulcer ~2 cm, pus", None),
    # The forty-ninth: a cut told in Italian or German by its length ("Wunde ca. 2 cm": the
    # dot of "about" ends no sentence), a skin's "refill ok" is no prescription; a red patch
    # on the white of the eye told in German, French, Urdu or Russian with the sight as
    # usual needs nothing; "keine Dysurie" is none.
    ("ferita lineare ca 3 cm palmo mano sx, refill ok", 4),
    ("Wunde ca. 2 cm, klaffend, Sensibilität intakt", 4),
    ("handcuff wrist sore, cap refill ok", None),
    ("Auge voller Blut nach Husten, scharf begrenzt hellrot, kein Sehverlust", 5),
    ("mon oeil est rempli de sang depuis ce matin, voit bien, lit l'affiche", 5),
    ("ankh mein khoon aa gaya, flat patch, vision grossly normal both eyes", 5),
    ("u mamy krov v glazu, no blurred vision, reads my name badge fine", 5),
    ("Kein Durchfall, keine Dysurie, kein Fieber", None),
    ("", None),
    ("here with mom", None),
]


@pytest.mark.parametrize(("complaint", "level"), RESOURCE_CASES)
def test_it_estimates_the_resources_a_complaint_needs(complaint: str, level: int | None) -> None:
    result = esi_rules(complaint=complaint, vitals=ADULT)

    assert result.resources_level == level
    assert result.floor is None
    if level is not None:
        (rule,) = [r for r in result.fired if r.decision_point == "C"]
        assert rule.level == level
        assert not rule.mandatory


# (complaint, age, code, fires?): abbreviations, case, slips, negation and history.
WORDING_CASES = [
    ("CHEST PAIN since 1h", 67, "B_ACS", True),
    ("cp", 67, "B_ACS", True),
    ("denies CP, SOB, N/V", 67, "B_ACS", False),
    ("denies CP, SOB, N/V", 67, "B_SOB", False),
    ("no LOC, CP x2h", 67, "B_ACS", True),
    ("no improvement in CP w/ nitro", 67, "B_ACS", True),
    ("chest pain, reproducible on palpation", 19, "B_ACS", False),
    ("hx CVA, here for med refill", 70, "B_STROKE", False),
    ("pt found unresponsvie", 40, "A_UNRESPONSIVE", True),
    ("sucidal thoughts", 30, "B_PSYCH", True),
    ("lethargc and confussed", 80, "B_ALTERED", True),
    ("not confused, alert", 80, "B_ALTERED", False),
    ("bee sting on hand, no trouble breathing", 30, "B_SOB", False),
    ("walking w/ limp after ankle injury", 30, "B_ALTERED", False),
    ("intubated in the field", 50, "A_INTUBATED", True),
    ("SI joint pain after lifting", 45, "B_PSYCH", False),
    ("SI, plan to overdose", 45, "B_PSYCH", True),
    # Means and a note got ready are a plan, however calmly told.
    (
        "wants to talk to someone, has a rope in his car, wrote a note to his mum",
        23,
        "B_PSYCH",
        True,
    ),
    ("low mood, rope in his van", 23, "B_PSYCH", True),
    ("wrote a letter to his children, low mood since divorce", 23, "B_PSYCH", True),
    ("tow rope in the car snapped and hit his hand", 23, "B_PSYCH", False),
    ("climbing rope in his bag, fell 2m bouldering, wrist pain", 23, "B_PSYCH", False),
    ("GP wrote a note to his employer, back pain", 23, "B_PSYCH", False),
    ("wrote a letter to her MP, hopeless housing, cough", 23, "B_PSYCH", False),
    ("depressed skull fracture, climbing rope in his bag", 23, "B_PSYCH", False),
    ("rope in the shed, low mood", 23, "B_PSYCH", True),
    ("wrote a note to mum, low mood, rope in car", 23, "B_PSYCH", True),
    ("teacher wrote a note to her parents, headaches at school", 12, "B_PSYCH", False),
    # A blotchy rash is a rash, not mottled skin.
    ("on amoxicillin for chest infection, blotchy itchy rash", 31, "B_SEPSIS", False),
    ("chest infection, now blotchy and cold hands", 31, "B_SEPSIS", True),
    ("chest infection, blotchy red legs, cold", 31, "B_SEPSIS", True),
]


@pytest.mark.parametrize(("complaint", "age", "code", "fires"), WORDING_CASES)
def test_it_reads_the_way_nurses_write(complaint: str, age: float, code: str, fires: bool) -> None:
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=age))

    assert (code in codes(result)) is fires


# Each age band's danger zone, just at and just above the thresholds (D fires strictly above).
BOUNDARY_CASES = [
    # (age in years, heart rate, respiratory rate, D fires?)
    (0.1, 180, 40, False),
    (0.1, 181, 40, True),
    (0.1, 150, 50, False),
    (0.1, 150, 51, True),
    (0.2499, 170, 40, False),  # just under 3 months: HR 170 is below 180
    (0.25, 170, 30, True),  # 3 months: the 3m-3y band, HR 170 is above 160
    (0.5, 160, 30, False),
    (0.5, 170, 30, True),  # a 6-month-old with HR 170
    (2, 170, 30, True),  # a 2-year-old with HR 170
    (2.99, 130, 40, False),
    (2.99, 130, 41, True),
    (3, 150, 25, True),  # 3 years: the 3-8y band, HR 150 is above 140
    (5, 140, 25, False),
    (5, 141, 25, True),
    (5, 110, 30, False),
    (5, 110, 31, True),
    (8, 141, 22, True),  # 8 years is still the 3-8y band
    (8.01, 101, 16, True),  # older than 8: the adult thresholds
    (8.01, 100, 20, False),
    (40, 100, 20, False),
    (40, 101, 16, True),
    (40, 80, 21, True),
]


@pytest.mark.parametrize(("age", "hr", "rr", "fires"), BOUNDARY_CASES)
def test_danger_zone_vitals_fire_just_above_each_age_bands_threshold(
    age: float, hr: int, rr: int, fires: bool
) -> None:
    result = esi_rules(
        complaint="fever",
        vitals=vitals(age_years=age, heart_rate=hr, respiratory_rate=rr, systolic_bp=None),
    )

    assert (result.considered == 2) is fires
    assert result.floor is None


@pytest.mark.parametrize(("spo2", "fires"), [(92, False), (91, True)])
def test_spo2_below_92_is_a_danger_zone_vital_at_any_age(spo2: int, fires: bool) -> None:
    for age in (0.1, 1, 5, 40):
        result = esi_rules(complaint="cough", vitals=vitals(age_years=age, spo2=spo2))
        assert ("D_SPO2" in codes(result)) is fires


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (0, "<3m"),
        (0.2499, "<3m"),
        (0.25, "3m-3y"),
        (2.99, "3m-3y"),
        (3, "3-8y"),
        (8, "3-8y"),
        (8.01, ">8y"),
        (90, ">8y"),
    ],
)
def test_age_bands_have_the_documented_boundaries(age: float, band: str) -> None:
    assert age_band(age) == band
    assert danger_zone(age)["band"] == band
    assert danger_zone(age)["spo2"] == 92


def test_danger_zone_thresholds_are_the_esi_handbooks() -> None:
    assert [
        (danger_zone(a)["heart_rate"], danger_zone(a)["respiratory_rate"]) for a in (0.1, 1, 5, 30)
    ] == [
        (180, 50),
        (160, 40),
        (140, 30),
        (100, 20),
    ]


def test_the_rules_raise_the_models_level_to_the_hard_floor() -> None:
    rules = esi_rules(complaint="67 y/o M c/o CP radiating to L arm", vitals=vitals(age_years=67))

    level, explanation = combine(rules=rules, model_level=4)

    assert level == 2
    assert "raised from the model's ESI 4" in explanation
    assert "heart attack" in explanation


def test_the_rules_never_lower_a_more_acute_model_level() -> None:
    rules = esi_rules(complaint="sore throat", vitals=ADULT)

    assert combine(rules=rules, model_level=2)[0] == 2
    assert combine(rules=rules, model_level=1)[0] == 1


def test_danger_zone_vitals_raise_the_suggestion_to_2_and_say_the_nurse_may_lower_it() -> None:
    rules = esi_rules(complaint="fever", vitals=vitals(age_years=2, heart_rate=170))

    level, explanation = combine(rules=rules, model_level=4)

    assert (level, rules.floor) == (2, None)
    assert "danger" in explanation
    assert "lower it only after your assessment" in explanation


def test_resources_alone_do_not_change_the_models_level() -> None:
    rules = esi_rules(complaint="abd pain N/V", vitals=ADULT)

    assert rules.resources_level == 3
    assert combine(rules=rules, model_level=4) == (
        4,
        "ESI 4, as the model suggested; no rule asks for a more acute level.",
    )
    assert rules_level(rules) == 3


@pytest.mark.parametrize("bad", [0, 6, -1, True])
def test_combine_refuses_a_level_that_is_not_esi(bad: int) -> None:
    with pytest.raises(ValueError, match="ESI level"):
        combine(rules=esi_rules(complaint="", vitals=ADULT), model_level=bad)


def test_vitals_refuse_values_that_cannot_be_measurements() -> None:
    with pytest.raises(ValueError, match="avpu"):
        vitals(avpu="X")
    with pytest.raises(ValueError, match="Celsius"):
        vitals(temperature_c=101.3)
    with pytest.raises(ValueError, match="SpO2"):
        vitals(spo2=101)
    with pytest.raises(ValueError, match="GCS"):
        vitals(gcs=2)
    with pytest.raises(ValueError, match="pain"):
        vitals(pain=11)
    assert vitals(avpu="v").avpu == "V"
    assert vitals(avpu="").avpu is None


# --- Property: whatever the note, the rules can only raise acuity --------------------------

FRAGMENTS = [
    "unresponsive",
    "not breathing",
    "CP",
    "67 y/o M c/o",
    "SOB",
    "denies",
    "no",
    "hx",
    "SI/HI",
    "OD",
    "abd pain",
    "N/V",
    "LOC",
    "ankle sprain",
    "sore throat",
    "confused",
    "worst headache",
    "pain 9/10",
    ",",
    ".",
    "walking",
    "fever",
    "pregnant",
    "chemo",
    "gasping",
    "pale",
]
vitals_strategy = st.builds(
    Vitals,
    age_years=st.floats(min_value=0, max_value=110, allow_nan=False),
    heart_rate=st.one_of(st.none(), st.integers(0, 260)),
    respiratory_rate=st.one_of(st.none(), st.integers(0, 80)),
    # 0 is "cannot be measured" for SpO2 and blood pressure, "absent" for the rates.
    spo2=st.one_of(st.none(), st.just(0), st.integers(50, 100)),
    systolic_bp=st.one_of(st.none(), st.integers(0, 250)),
    diastolic_bp=st.one_of(st.none(), st.integers(0, 150)),
    temperature_c=st.one_of(st.none(), st.floats(30, 43, allow_nan=False)),
    pain=st.one_of(st.none(), st.integers(0, 10)),
    avpu=st.one_of(st.none(), st.sampled_from(AVPU)),
    gcs=st.one_of(st.none(), st.integers(3, 15)),
)
complaint_strategy = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=8).map(" ".join),
    st.text(max_size=60),
)


# The autouse media_root fixture (conftest) is function-scoped but unused by these pure tests.
@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(complaint=complaint_strategy, vitals_=vitals_strategy, model_level=st.integers(1, 5))
def test_combine_is_never_less_acute_than_the_hard_floor_or_the_model(
    complaint: str, vitals_: Vitals, model_level: int
) -> None:
    rules = esi_rules(complaint=complaint, vitals=vitals_)

    level, explanation = combine(rules=rules, model_level=model_level)

    assert level <= model_level
    if rules.floor is not None:
        assert level <= rules.floor
    if rules.considered is not None:
        assert level <= rules.considered
    candidates = [model_level, rules.floor, rules.considered]
    assert level == min(c for c in candidates if c is not None)
    assert explanation.startswith(f"ESI {level}")
    if vitals_.heart_rate == 0 or vitals_.respiratory_rate == 0:
        assert (rules.floor, level) == (1, 1)  # no pulse or not breathing: always ESI 1
    for rule in rules.fired:
        assert isinstance(rule, FiredRule)
        assert rule.mandatory is (rule.decision_point in ("A", "B"))
        assert 1 <= rule.level <= 5
        assert rule.reason.endswith(".")


# --- Absent vital signs, and shock that the heart rate does not show ----------------------


def test_a_patient_without_a_pulse_is_esi_1_whatever_else_was_recorded() -> None:
    result = esi_rules(
        complaint="found down at home",
        vitals=vitals(heart_rate=0, systolic_bp=0, diastolic_bp=0, spo2=0),
    )

    (rule,) = [r for r in result.fired if r.code == "A_PULSELESS_VITALS"]
    assert (result.floor, rule.level, rule.mandatory) == (1, 1, True)
    assert "No pulse" in rule.reason and "resuscitation" in rule.reason
    # Arrest is the whole story: no shock or SpO2 rule piles up beside it.
    assert not codes(result) & {"A_SHOCK", "D_HYPOTENSION", "D_SPO2_UNOBTAINABLE", "D_SPO2"}
    assert result.shock_index is None
    assert combine(rules=result, model_level=5)[0] == 1


def test_a_patient_who_is_not_breathing_is_esi_1() -> None:
    result = esi_rules(complaint="collapsed", vitals=vitals(respiratory_rate=0))

    (rule,) = [r for r in result.fired if r.code == "A_APNOEA_VITALS"]
    assert result.floor == 1
    assert "Not breathing" in rule.reason and "ventilation" in rule.reason


def test_a_blood_pressure_that_cannot_be_measured_is_shock_with_a_sign_of_poor_perfusion() -> None:
    with_sign = esi_rules(
        complaint="weak and dizzy",
        vitals=vitals(systolic_bp=0, diastolic_bp=0, avpu="V"),
    )
    without_sign = esi_rules(complaint="feels faint", vitals=vitals(systolic_bp=0, diastolic_bp=0))

    (shock,) = [r for r in with_sign.fired if r.code == "A_SHOCK"]
    assert with_sign.floor == 1
    assert "Blood pressure cannot be measured" in shock.reason and "AVPU V" in shock.reason
    # Alone, it is a reason to look again and consider 2, not a hard floor.
    (low,) = [r for r in without_sign.fired if r.code == "D_HYPOTENSION"]
    assert (without_sign.floor, without_sign.considered) == (None, 2)
    assert "cannot be measured" in low.reason
    assert with_sign.shock_index is None


def test_an_spo2_that_cannot_be_measured_is_looked_at_and_counts_as_poor_perfusion() -> None:
    alone = esi_rules(complaint="cough", vitals=vitals(spo2=0))
    distressed = esi_rules(complaint="gasping, cant breathe", vitals=vitals(spo2=0))
    hypotensive = esi_rules(complaint="weak", vitals=vitals(spo2=0, systolic_bp=80))

    (rule,) = [r for r in alone.fired if r.code == "D_SPO2_UNOBTAINABLE"]
    assert (alone.floor, alone.considered) == (None, 2)
    assert "cannot be measured" in rule.reason
    assert "D_SPO2" not in codes(alone)  # not read as a saturation of 0%
    assert "A_HYPOXIA_DISTRESS" in codes(distressed) and distressed.floor == 1
    (shock,) = [r for r in hypotensive.fired if r.code == "A_SHOCK"]
    assert "SpO2 cannot be measured" in shock.reason


def test_anaphylaxis_with_a_low_pressure_on_a_beta_blocker_is_esi_1_without_tachycardia() -> None:
    """The case that was ESI 2: BP 72/40, heart rate 88 because of metoprolol."""
    result = esi_rules(
        complaint="58 y/o F anaphylaxis after peanuts, lips swelling, on metoprolol",
        vitals=vitals(age_years=58, heart_rate=88, systolic_bp=72, diastolic_bp=40),
    )

    (shock,) = [r for r in result.fired if r.code == "A_SHOCK"]
    assert (result.floor, shock.level, shock.mandatory) == (1, 1, True)
    assert "Systolic BP 72 mmHg is below 90 mmHg" in shock.reason
    assert "anaphylaxis: 'anaphylaxis'" in shock.reason
    assert "whatever the heart rate" in shock.reason
    assert result.shock_index == 1.22
    assert "Shock index 1.22" in shock.reason
    for model_level in (2, 3, 4, 5):
        assert combine(rules=result, model_level=model_level)[0] == 1


@pytest.mark.parametrize(
    ("complaint", "changes", "shown"),
    [
        ("vomiting blood since this am", {}, "bleeding: 'vomiting blood'"),
        ("GSW to the thigh", {}, "bleeding: 'gsw'"),
        ("fever and rigors", {}, "sepsis: 'fever'"),
        ("feels unwell", {"temperature_c": 38.6}, "sepsis: temperature 38.6 C"),
        ("diarrhoea x3 days, dehydrated", {}, "fluid loss"),
        ("crushing chest pain", {}, "a heart cause"),
        ("bee sting, hives all over", {}, "anaphylaxis: 'hives', 'bee sting'"),
        ("dizzy", {"avpu": "P"}, "AVPU P"),
        ("dizzy", {"gcs": 13, "avpu": None}, "GCS 13"),
        ("dizzy", {"spo2": 90}, "SpO2 90%"),
        ("dizzy", {"respiratory_rate": 26}, "respiratory rate 26/min"),
        ("dizzy", {"heart_rate": 44}, "heart rate 44/min"),
        ("dizzy", {"heart_rate": 120}, "heart rate 120/min"),
        ("dizzy, mottled skin", {}, "'mottled'"),
        ("dizzy, cold skin, delayed cap refill", {}, "'cold skin', 'delayed cap refill'"),
    ],
)
def test_a_low_pressure_with_any_sign_of_poor_perfusion_or_cause_of_shock_is_esi_1(
    complaint: str, changes: dict[str, object], shown: str
) -> None:
    result = esi_rules(
        complaint=complaint,
        vitals=vitals(**{"heart_rate": 80, "systolic_bp": 82, "diastolic_bp": 50, **changes}),
    )

    (shock,) = [r for r in result.fired if r.code == "A_SHOCK"]
    assert result.floor == 1
    assert shown in shock.reason


def test_a_cause_of_shock_that_is_negated_does_not_count() -> None:
    result = esi_rules(complaint="dizzy, denies bleeding", vitals=vitals(systolic_bp=84))

    assert "A_SHOCK" not in codes(result)
    assert "D_HYPOTENSION" in codes(result)


# Hypotension for age (PALS): under 28 days < 60; under 1 year < 70; 1-10 years < 70 + 2 x age;
# older < 90. (age in years, limit in mmHg)
PALS_LIMITS = [
    (3 / 365.25, 60),
    (27 / 365.25, 60),
    (28 / 365.25, 70),
    (0.5, 70),
    (0.99, 70),
    (1, 72),
    (2, 74),
    (5, 80),
    (8, 86),
    (10, 90),
    (10.5, 90),
    (16, 90),
    (45, 90),
    (90, 90),
]


@pytest.mark.parametrize(("age", "limit"), PALS_LIMITS)
def test_hypotension_is_judged_against_the_pals_limit_for_the_age(age: float, limit: int) -> None:
    normal_hr, normal_rr = 90, 18  # inside every band's danger zone, so no sign by themselves

    def shock_codes(sbp: int) -> set[str]:
        result = esi_rules(
            complaint="mottled and floppy",
            vitals=vitals(
                age_years=age,
                heart_rate=normal_hr,
                respiratory_rate=normal_rr,
                systolic_bp=sbp,
                diastolic_bp=max(10, sbp - 30),
            ),
        )
        return codes(result) & {"A_SHOCK", "D_HYPOTENSION"}

    assert hypotension_threshold(age) == limit
    assert shock_codes(limit - 1) == {"A_SHOCK"}
    assert shock_codes(limit) == set()


@pytest.mark.parametrize(
    ("age", "sbp"), [(40, 120), (40, 90), (5, 80), (0.5, 70), (10 / 365.25, 60)]
)
def test_a_normotensive_patient_is_not_flagged_for_shock(age: float, sbp: int) -> None:
    result = esi_rules(
        complaint="allergic reaction, hives, pale",
        vitals=vitals(age_years=age, heart_rate=90, systolic_bp=sbp, diastolic_bp=sbp - 30),
    )

    assert not codes(result) & {"A_SHOCK", "D_HYPOTENSION"}
    assert result.floor is None
    assert result.shock_index == round(90 / sbp, 2)


def test_the_rules_and_the_generator_import_neither_django_nor_torch() -> None:
    """Training scripts use them without Django; the ML workers import them cheaply."""
    root = Path(__file__).resolve().parents[3]
    code = (
        "import sys, diagnosis.triage.rules, diagnosis.triage.synthetic; "
        "bad = [m for m in ('django', 'torch', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_a_situation_named_past_the_models_128_tokens_still_fires() -> None:
    history = (
        "Lives with wife, retired teacher, walks the dog daily, takes ramipril, amlodipine and "
        "atorvastatin, allergic to penicillin (rash), came in about a sore toe and a cough. "
    ) * 6
    note = history + "While waiting his face dropped on the left and his words came out slurred."

    result = esi_rules(complaint=note, vitals=ADULT)

    assert len(note.split()) > 128  # the model reads 128 tokens; the rules read it all
    assert "B_STROKE" in codes(result)
    assert "slurred" in next(r.reason for r in result.fired if r.code == "B_STROKE")


@pytest.mark.parametrize(
    "note",
    [
        "Chest pain? No - it is her upper back, stiff since a new pillow",
        "Scrotal pain denied, itchy groin rash after the gym",
        "Had a stroke in 2015, fully recovered, here for a wound check",
        "Meningitis as a baby, no after-effects, sprained wrist today",
        "FHx MI, wants cholesterol checked, no symptoms",
        "Q: Any thoughts of harming yourself? A: No. Q: What is wrong? A: Stressed, no sleep.",
    ],
)
def test_a_finding_negated_after_it_or_told_as_history_does_not_fire(note: str) -> None:
    result = esi_rules(complaint=note, vitals=ADULT)

    assert result.floor is None, [r.reason for r in result.fired]


@pytest.mark.parametrize(
    ("note", "present"),
    [
        # A list of pertinent negatives that ends in "or" negates each of its items (the
        # thirty-second vignette set, a refill: "No headache, chest pain, vision change or
        # swelling") ...
        ("Ran out of BP tablets. No headache, chest pain, vision change or swelling.", False),
        ("No headache, vision change or chest pain, wants a script", False),
        ("no cough, no fever, chest pain, or SOB", False),
        # ... not a finding told after a negative ...
        ("no fever, chest pain since this morning", True),
        ("No SOB, chest pain 8/10 radiating to arm or jaw", True),
        ("no meds taken, chest pain or tightness since 2 hours", True),
        ("No headache, chest pain and sweating", True),
        # ... nor a history ("hx" lists what was, not what is absent), nor after a record's
        # field, nor an item with a number or of more words.
        ("hx asthma, chest pain or SOB", True),
        ("No allergies, chest pain or SOB", True),
        ("No fever, chest pain x2 today or sob", True),
        # Items of three words are items still ("shortness of breath").
        ("No fever, shortness of breath, chest pain or leg swelling. Sore ankle.", False),
        ("Rolled ankle. No loss of consciousness, chest pain or palpitations.", False),
    ],
)
def test_a_list_of_negatives_negates_each_item(note: str, present: bool) -> None:
    older = vitals(age_years=60)

    assert ("B_ACS" in codes(esi_rules(complaint=note, vitals=older))) is present


def test_a_heartburn_to_the_jaw_is_a_heart_attack_without_chest_pain() -> None:
    """The thirty-third vignette set: "zgaga, very bad heartburn" with pain to the jaw in a
    57-year-old diabetic smoker; not wind with a sore jaw, nor a dental jaw."""
    older = vitals(age_years=57)

    def acs(note: str) -> bool:
        return "B_ACS" in codes(esi_rules(complaint=note, vitals=older))

    assert acs("zgaga, very bad heartburn since 4am, boli tu pointing at upper stomach and jaw")
    assert acs("a burning in the pit of her stomach that goes up into her jaw")
    assert not acs("gas, bloated, sore jaw")
    assert not acs("heartburn after curry, jaw sore from a dental filling yesterday")
    # The thirty-fourth set: in Patois, an upper belly ache, "feel fi vomit" (a nausea, not
    # a vomit that explains the sweat), grey and sweaty.
    assert acs("mi belly a hurt mi from last night, an mi feel fi vomit. Grey and sweaty")
    assert not acs("sweaty, vomiting and diarrhoea since the barbecue")
    assert not acs("Gastro: feel like vomiting, loose stools x6, sweaty, partner has same bug")
    assert not acs("Sweaty, pain up top of his head after bumping it")


def test_a_call_takers_transcript_is_read_by_its_answers() -> None:
    """In a question-and-answer note the answer says what is there: "breathing? - no" is
    a patient not breathing, and "...? A: yes" leaves the finding in."""
    arrest = esi_rules(
        complaint="Is he breathing? - no, nothing. Can you feel a pulse? - I can't find a "
        "pulse. OK, I'll tell you how to push on his chest.",
        vitals=ADULT,
    )
    asked = esi_rules(
        complaint="Q: Any thoughts of harming yourself? A: Yes, I have a plan.", vitals=ADULT
    )

    assert {"A_ARREST", "A_APNOEA"} <= codes(arrest)
    assert "B_PSYCH" in codes(asked)


@pytest.mark.parametrize(
    "note",
    [
        "Usually fit and well, still has ankle pain",
        "Fit and well, second episode of tonsillitis",
        "Second fit this year, known epileptic, back to normal",
        "Had a fit this morning, buccal midazolam given by carer, back to baseline",
        "Fever and flu, shaking all over",
        "Lymph nodes: none palpable",
        "Knee locked and he stopped dead while jogging",
        "Migraine, lying with eyes shut, photophobia",
        "Fingers blue in the cold, known Raynauds",
        "Laceration to left hand since this morning",
        "Positional vertigo with nystagmus, known BPPV",
        "Hand numb for 10 minutes after leaning on it, fine now",
        "Out of the blue got a sore wrist",
        "Catheter blocked, urine brown and stinks",
        "Took some pills for his headache",
        "temp 38, neck pain from sleeping awkwardly",
        "Sudden lower abdominal pain, period started, comes in waves",
        "RTC on the M4, head injury, talking, GCS 15",
        "The lights went out and I tripped on the stairs",
        "Back pain worse than ever this week",
        "Cough that wont stop at night, it wont stop",
        "Wife says his breathing stops for a few seconds at night, snores",
        "Asked which train line goes to the hospital",
        "Migraine as usual, neck hurts, light hurts. Temp 36.8",
        "lips n throat fine, itchy rash on arms after new soap",
        # A wound's "gaping" is no slip of "gasping"; absent breath sounds are no apnoea.
        "2cm gaping cut on finger from broken glass, bleeding stopped",
        "Decreased air entry, no breath sounds left base, chest infection",
        # The twelfth paraphrase round's phrases, each against its look-alike.
        "unresponsive to her texts, found fine, cut finger",
        "unresponsive to antibiotics, cellulitis",
        "took a load of my tablets with me on holiday, ran out",
        "sore throat, nobody will miss me at work so taking a sick day",
        "hides from light, migraine usual",
        "feels like smothering, panic attack, anxious, sats 99",
        "epileptic, seizures controlled on keppra, been like this for years, wants refill",
        "face blowing up on one side from tooth abscess, toothache",
        "used his epipen for a bee sting yesterday, fine now, wants a new one",
        "footballer hasnt kicked since he hurt his knee",
        "hx hypos, still out of it after wisdom tooth sedation",
        # The twenty-fifth vignette set's words, each against its look-alike.
        "took 2 Panadol for a headache this morning, wants a sick note",
        "sore throat day 10 panadol not helping",
        "84F, on a rake of meds, fall at home, hip pain",
        "wrist deformity, abnormal flexion at the wrist joint after fall",
        "pas de fièvre, toux depuis 3 jours",
        "frontal sinusitis x 5 days, on apixaban, cut finger on knife yesterday",
        "sous Eliquis, chute de cheveux et mal de tete",
        "poignee de porte cassée, coupure, prend advil",
        "nie idées suicidaires, anxieuse depuis hier et pleure",
        "wants to not wake up so often to pee, prostate",
        "hope i dont wake up with one tomorrow, migraine",
        "Daughter-in-law says lo zucchero was fine this morning, sore knee",
        "temperature 36.9 after a swim in the cold lake, feels fine",
        "the baby could sleep forever, feeding fine, mum wants weight check",
        "on a rake of tablets for her blood pressure, dizzy today",
        "kept getting hypos last week, BM 2.8 then 6.4, alert, wants a review",
        # The twenty-ninth set's words, each against its look-alike.
        "works at the port, fever and cough today",
        "his port of call was Dover, fever today",
        "old gas heater at home, windows shut, sore knee",
        "acetone on her nails, smells, wants cream",
        "kicked the ball, knee pain, on apixaban",
    ],
)
def test_ordinary_complaints_in_the_words_of_high_risk_phrases_fire_nothing(note: str) -> None:
    """Everyday uses of words the lists hold ("fit and well", "second episode", "none
    palpable"): a phrase must say the situation, not merely share a word with it."""
    result = esi_rules(complaint=note, vitals=ADULT)

    assert not [r.code for r in result.fired if r.code[:2] in ("A_", "B_")], note


@pytest.mark.parametrize(
    ("note", "code"),
    [
        ("Actively seizing now ? not stopped with buccal midazolam", "A_SEIZING"),
        ("Vomiting blood today? no anticoagulants", "B_BLEEDING"),
        ("Thoughts of harming others? Not currently taking his meds, threatening staff", "B_PSYCH"),
        ("Q: Is he breathing? A: No.", "A_APNOEA"),
        ("[ ] fever [x] chest pain radiating to the jaw, sweaty", "B_ACS"),
        ("Fitting [ ] Unresponsive [x] Breathing [x]", "A_UNRESPONSIVE"),
        ("Brought in by [ ] after being found unresponsive in the street", "A_UNRESPONSIVE"),
        ("Chest pain: n+v since 6am", "B_ACS"),
        ("Vomiting blood: N x 2 today, large amounts", "B_BLEEDING"),
        ("Fever: [ ]  Chest pain: [x]", "B_ACS"),
        ("Symptoms: [ ] fever [v] chest pain [ ] cough", "B_ACS"),
        ("Airway: [ ] patent  stridor, drooling [ ] other", "A_RESP_DISTRESS"),
        ("Chest pain: N, V, diaphoresis", "B_ACS"),
        ("[x] [ ] Chest pain\n[ ] [x] Fever", "B_ACS"),
    ],
)
def test_a_question_mark_in_shorthand_does_not_take_a_finding_away(note: str, code: str) -> None:
    """'?' also means 'query' in nurses' shorthand: only a plain "no" that answers the
    question about the finding itself takes it away. A tick-box form's boxes and "N" answers
    take nothing away: forms put their boxes and answers in too many layouts ("Fever: [ ]
    Chest pain: [x]", "[v]", answer columns, "N, V" for nausea and vomiting) to read them
    without missing a finding that is there."""
    assert code in codes(esi_rules(complaint=note, vitals=ADULT))


@pytest.mark.parametrize(
    ("note", "code", "fires"),
    [
        ("R droop + R arm 2/5, 40 min, ?CVA, BM 6.1", "B_STROKE", True),
        ("?stroke, came in by ambulance", "B_STROKE", True),
        ("R facial droop, FAST +ve", "B_STROKE", True),
        ("FAST+ve at scene", "B_STROKE", True),
        ("FAST -ve, ?migraine, photophobia settled", "B_STROKE", False),
        ("Dizzy on standing, FAST-ve", "B_STROKE", False),
        ("Headache. Stroke? No - FAST negative", "B_STROKE", False),
        # A "-ve" takes away the finding before it, never what follows it.
        ("COVID -ve, chest pain radiating to jaw", "B_ACS", True),
        ("Strep -ve, drooling, cant swallow, stridor", "A_RESP_DISTRESS", True),
        ("Rh -ve, 8/40 pregnant, PV bleeding, shoulder tip pain", "B_ECTOPIC", True),
        ("Kernig -ve, fever, neck stiffness, purpuric rash", "B_MENINGITIS", True),
        ("FAST -ve, R arm weakness and facial droop 30 min", "B_STROKE", True),
        ("chest pain -ve", "B_ACS", False),
        # "negative" after a test's name is its result, not a negation of what follows.
        ("COVID negative, chest pain radiating to jaw", "B_ACS", True),
        ("Troponin neg, ongoing chest pain radiating to left arm", "B_ACS", True),
        ("Flu negative, struggling to breathe, cant finish sentences", "B_DISTRESS", True),
        ("negative for chest pain, SOB", "B_ACS", False),
        ("fever, negative CP or SOB", "B_ACS", False),
        ("neg CP", "B_ACS", False),
        ("BM 25.2 neg ketones, well, eating and drinking", "B_DKA", False),
        ("COVID negative chest pain radiating to jaw", "B_ACS", True),
        ("trop neg x2 chest pain ongoing", "B_ACS", True),
        ("lateral flow neg chest pain since 0600, sweaty", "B_ACS", True),
        ("COVID: negative, SOB at rest", "B_SOB", True),
        ("Negative troponin x2, ongoing crushing chest pain radiating to jaw", "B_ACS", True),
        ("CT head negative for bleed, worst headache of my life", "B_HEADACHE", True),
        ("denies CP, neg SOB", "B_SOB", False),
        # The "?" still ends what a negation before it covers; "?no" is an answer.
        ("Denies SI ?OD took 20 paracetamol", "B_OVERDOSE", True),
        ("No fever ?SAH thunderclap headache", "B_HEADACHE", True),
        ("Denies CP ?ACS", "B_ACS", True),
        ("No rash ?meningitis", "B_MENINGITIS", True),
        ("SI ?no", "B_PSYCH", False),
        ("chest pain ?no", "B_ACS", False),
    ],
)
def test_a_query_mark_before_a_word_and_ve_after_a_test_are_read(
    note: str, code: str, fires: bool
) -> None:
    """'?CVA' is shorthand for 'query CVA' ('?no' is an answer); '+ve' is 'positive', and a
    '-ve' takes away the finding it follows, never what comes after it."""
    assert (code in codes(esi_rules(complaint=note, vitals=ADULT))) is fires


def test_every_word_of_every_phrase_can_be_found_in_a_note() -> None:
    """A phrase word the note reader can never produce as a token ("co-amoxiclav", "? - no":
    the hyphen is dropped) is a phrase that silently never fires."""
    stem = re.compile(r"[a-z0-9]+(?:/[a-z0-9]*)*")
    dead = [
        (concept.code, phrase)
        for concept in CONCEPTS
        for phrase in concept.all_phrases()
        for word in phrase.split()
        if not (stem.fullmatch(word[:-1]) if word.endswith("*") else _TOKEN.fullmatch(word))
    ]

    assert dead == []


def test_a_tia_last_month_is_not_history() -> None:
    result = esi_rules(complaint="TIA last month, now slurred speech again since 1h", vitals=ADULT)

    assert "B_STROKE" in codes(result)


def test_a_situation_the_lists_miss_fires_by_meaning_with_the_words_quoted() -> None:
    similar = {"B_PE": "breathless since the long flight, calf swollen"}

    result = esi_rules(complaint="odd feeling, see history", vitals=ADULT, similar=similar)

    pe = next(r for r in result.fired if r.code == "B_PE")
    assert pe.level == 2 and pe.mandatory
    assert "reads like it: 'breathless since the long flight, calf swollen'" in pe.reason


def test_a_risk_factor_told_as_history_still_completes_a_combination() -> None:
    """'Hx renal transplant' is context, not an absent finding: with a fever it is
    possible sepsis in an immunosuppressed patient. 'No fever' still takes the fever away."""
    febrile = esi_rules(
        complaint="Hx renal transplant on tacrolimus, fever and chills", vitals=ADULT
    )
    afebrile = esi_rules(
        complaint="Hx renal transplant on tacrolimus, no fever, wants a refill", vitals=ADULT
    )

    assert "B_SEPSIS" in codes(febrile)
    assert "B_SEPSIS" not in codes(afebrile)


def test_the_reason_quotes_the_current_mention_not_one_told_as_history() -> None:
    """A finding mentioned twice, once as history and once as now: the reason quotes the
    current words, also when a combination looked for the history too."""
    result = esi_rules(complaint="hx cant breath. today cant breathe", vitals=ADULT)
    distress = next(r for r in result.fired if r.code == "B_DISTRESS")
    assert "'cant breathe'" in distress.reason
    assert "'cant breath'" not in distress.reason


@pytest.mark.parametrize(
    ("complaint", "vitals_", "fires"),
    [
        ("wife found him sweaty, meter reads LO, on insulin", vitals(avpu="V"), True),
        ("sugar 1.9 and not making sense", vitals(), True),
        ("BG 38 mg/dL, confused", vitals(), True),
        # A whole number only mg/dL can mean (US meters), without the unit.
        ("BG 45, confused and sweaty", vitals(), True),
        ("sugar 52 at home, not making sense", vitals(), True),
        ("blood sugar 2.8 mmol, slurred speech", vitals(), True),
        ("low blood glucose, confused", vitals(), True),
        ("known diabetic, hypo, confused, wont follow commands", vitals(), True),
        ("low blood sugar at home", vitals(gcs=13), True),
        # No change in mental status, or the low glucose is history or over.
        ("hypo at home, had juice, alert and chatty, wants a sandwich", vitals(), False),
        ("hx hypos, confused since this morning", vitals(age_years=84), False),
        ("sugar low earlier, not confused, fine now", vitals(), False),
        ("had a hypo last night, was confused, now fine", vitals(), False),
        ("confused since this morning", vitals(age_years=84), False),
        # Numbers that are no glucose reading, "hypo" starting another word, a vague word.
        ("pain down to 2 after morphine, now drowsy", vitals(), False),
        ("repeat 1 hr troponin, pt confused overnight", vitals(), False),
        ("bg 2 hours ago was 14, confused", vitals(), False),
        ("sugar 2 spoons in tea, dementia, confused", vitals(), False),
        ("BM 45 mins ago was fine, now confused after a fall", vitals(), False),
        ("glucose 50% given by crew, now alert and talking", vitals(), False),
        # Either unit: 25 is high in mmol/L.
        ("BM 25, drowsy, vomiting", vitals(), False),
        ("low sugar diet, confused", vitals(), False),
        ("hypo thyroid, more confused than usual", vitals(), False),
        ("hypo-tensive and drowsy", vitals(), False),
        ("hypo at home treated with juice, vague abdominal pain", vitals(), False),
        # The last reading counts: a hypo treated before arrival needs no dextrose now (the
        # confusion left is new confusion, ESI 2); a low one after a normal one still does.
        ("BM 2.1, glucagon 1mg IM at 1305, BM now 4.6, still muddled", vitals(), False),
        ("BG 45, D50 given by EMS, BG 112 now, still confused", vitals(), False),
        ("BM 6.1 at breakfast, now BM 2.3 and drowsy", vitals(), True),
        ("BM 1.8, 5.6 after glucose gel, now BM 2.4 again, confused", vitals(), True),
        ("sugar 58 at home, 40 here, not making sense", vitals(), True),
        # A later number that is a past, usual or target value is not the glucose now.
        ("BM 2.1, BM was 8.4 this morning, confused", vitals(), True),
        ("BM 2.1 confused, target BM 5.0-7.0", vitals(), True),
        ("BG 45, confused, baseline BG 120", vitals(), True),
        ("BM 2.1 confused, sugar 4.5 in ambulance then dropped again", vitals(), True),
        ("BM 2.0 on arrival, BM 11.2 yesterday", vitals(avpu="V"), True),
        ("BM 2.2 slurring words, had BM 15.4 before tea and gave 20 units", vitals(), True),
        # A family's guess of a low sugar that the desk's reading answers (the thirty-eighth
        # vignette set: a stroke), not one the reading confirms.
        (
            "daughter: maybe sugar low, not talking right since lunch. CBG at desk 7.8",
            vitals(),
            False,
        ),
        ("daughter: maybe sugar low, confused. CBG at desk 2.9", vitals(), True),
        ("hypo this morning, muddled, BM 6.5 was at breakfast", vitals(), True),
        # A normal reading dated by a clock or hours ago, or a low one told later without
        # its name, answers nothing (the thirty-eighth set's review).
        ("T1DM, BSL 6.2 at 0700, now sweaty, shaky, confused, ?hypo, recheck 2.9", vitals(), True),
        ("wife says hypo, confused and aggressive, BSL 5.9 by his meter 2 hrs ago", vitals(), True),
        # ... but a heart rate told "now" is no glucose, and a reading timed in the waiting
        # room is one taken here (this change's review).
        (
            "hypo at home, was confused, gel given, BSL 7.4 on arrival, HR now 62, muddled",
            vitals(),
            False,
        ),
        ("felt hypo, muddled, BGL 6.3 at 1040 in the waiting room, still muddled", vitals(), False),
        # Its second review: a normal reading that then dropped, and another test's repeat.
        ("?hypo, confused, BGL 5.1 at home, dropped to 2.9 in ambulance", vitals(), True),
        ("?hypo, confused, BSL 6.4 by ambulance, then 2.8 on arrival", vitals(), True),
        ("?hypo, confused, BM 6.8 at bedside, lactate repeat 2.1", vitals(), False),
    ],
)
def test_a_low_glucose_with_a_change_in_mental_status_is_esi_1(
    complaint: str, vitals_: Vitals, fires: bool
) -> None:
    """IV dextrose is a life-saving intervention (decision point A): the ESI v4 handbook's
    examples of ESI 1 include hypoglycaemia with a change in mental status."""
    result = esi_rules(complaint=complaint, vitals=vitals_)

    assert ("A_HYPOGLYCAEMIA" in codes(result)) is fires
    if fires:
        (rule,) = [r for r in result.fired if r.code == "A_HYPOGLYCAEMIA"]
        assert result.floor == 1 and rule.mandatory
        assert "dextrose" in rule.reason


@pytest.mark.parametrize(
    ("complaint", "fires"),
    [
        ("choking on steak at dinner, can't talk or cough, grabbing his throat", True),
        ("choking, clutching throat, turning dusky", True),
        ("food stuck in her throat, no air, husband did back blows", True),
        ("choked on water earlier, coughing a bit, talking fine now", False),
        ("denies choking, sore throat x2 days", False),
        # "Cooking" is no slip of "choking"; a sign absent, a colour of something else, an
        # episode that has passed.
        ("sudden slurred speech while cooking, cant speak properly", False),
        ("choked on a fishbone at lunch, no cough, no fever, talking normally", False),
        ("choked on food at lunch, back blows dislodged it, now talking normally", False),
        ("fish bone stuck in throat, blue shirt", False),
    ],
)
def test_a_choking_patient_whose_air_does_not_get_through_is_esi_1(
    complaint: str, fires: bool
) -> None:
    """A blocked airway (cannot talk, cough or breathe, turning blue) needs an immediate
    life-saving intervention; a choking episode that has passed does not."""
    result = esi_rules(complaint=complaint, vitals=ADULT)

    assert ("A_RESP_DISTRESS" in codes(result)) is fires
    assert (result.floor == 1) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "fires"),
    [
        ("feels off, jaw and L shoulder achy on and off, winded walking to the bathroom", 79, True),
        ("left arm heavy, short of breath since lunch, no real chest pain", 66, True),
        ("jaw pain after a punch at the pub", 79, False),
        ("sore L shoulder after lifting boxes, no SOB", 79, False),
        # An injury or a local cause, "winded" by a blow, "puffed" for swollen, a child.
        ("fell off bike onto left shoulder, painful, winded", 79, False),
        ("fell onto left arm, pain, short of breath", 79, False),
        ("cellulitis left arm, painful, breathless", 79, False),
        ("tooth abscess, jaw aching, puffed up face", 79, False),
        ("jaw aching and short of breath walking", 9, False),
    ],
)
def test_an_anginal_equivalent_without_chest_pain_is_possible_acs(
    complaint: str, age: float, fires: bool
) -> None:
    """Older women and diabetics often have no chest pain: the jaw, left shoulder or an arm
    aching with breathlessness is a possible heart attack (ESI 2), from the age at which
    chest pain is (30), and not where an injury or a local cause explains the ache."""
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=age))

    acs = [r for r in result.fired if r.code == "B_ACS"]
    assert bool(acs) is fires
    if fires:
        assert acs[0].level == 2 and acs[0].mandatory and "without chest pain" in acs[0].reason


@pytest.mark.parametrize(
    ("complaint", "unresponsive", "psych"),
    [
        ("pt states 'I just want to go to sleep and not wake up'", False, True),
        ("wish i could sleep and never wake up", False, True),
        ("wants to sleep, wont wake up now, mum shaking him", True, False),
        ("wife wants to know why he will not wake up", True, False),
        # Someone else's wish, or "sleepy": the patient cannot be woken.
        ("family hoping he would sleep it off and he is not waking up", True, False),
        ("mum wanted to let her sleep in and she wont wake up", True, False),
        ("rather sleepy and not waking up for feeds", True, False),
        ("low mood, wanting to sleep and not wake up", False, True),
        ("cant sleep, said honestly wouldnt mind not waking up lol", False, True),
        ("mind you he wont wake up now", True, False),
        ("tipped her snowmobile on a slow turn, nothing else hurts", False, False),
    ],
)
def test_a_wish_to_sleep_and_not_wake_up_is_suicidal_thinking_not_unresponsiveness(
    complaint: str, unresponsive: bool, psych: bool
) -> None:
    result = esi_rules(complaint=complaint, vitals=ADULT)

    assert ("A_UNRESPONSIVE" in codes(result)) is unresponsive
    assert ("B_PSYCH" in codes(result)) is psych


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The second set of vignettes.
        ("fell in kitchen, hit forehead on the table, on apixaban for AF", "B_TRAUMA", True),
        ("banged her head on a cupboard door, takes warfarin", "B_TRAUMA", True),
        ("hit head on a cupboard door, no blood thinners", "B_TRAUMA", False),
        ("states she was sexually assaulted at a party last night", "B_SEXUAL_ASSAULT", True),
        ("had sex without her consent last night", "B_SEXUAL_ASSAULT", True),
        ("denies sexual assault, burning when passing urine", "B_SEXUAL_ASSAULT", False),
        (
            "lacks capacity, bloods taken without consent in best interests",
            "B_SEXUAL_ASSAULT",
            False,
        ),
        ("a flat round battery is missing from the remote, he swallowed it", "B_OVERDOSE", True),
        ("swallowed 2 magnets from a toy", "B_OVERDOSE", True),
        # The third: ten or more of a relative's tablets.
        ("took about 30 of mums paracetamol approx 2h ago, feels fine", "B_OVERDOSE", True),
        # The fourth: the earlier situations worded otherwise, and a high-voltage injury.
        (
            "eating steak, suddenly grabbed his throat, cant get any words out, lips going dusky",
            "A_RESP_DISTRESS",
            True,
        ),
        ("glucometer read 1.9 at home, talking nonsense", "A_HYPOGLYCAEMIA", True),
        ("meter 2 hours ago said 9, now drowsy after sedation", "A_HYPOGLYCAEMIA", False),
        ("jaw aching on and off, gets puffed out walking to the loo", "B_ACS", True),
        ("bumped back of head on the sink, takes warfarin for AF", "B_TRAUMA", True),
        ("touched a live wire at a substation, thrown back", "B_TRAUMA", True),
        ("power line worker, here for a sore ankle", "B_TRAUMA", False),
        # The sixth and seventh: a stroke at the back of the brain, a passive wish to be
        # dead, tablets saved up, affairs put in order, a child's airway, smoke breathed in,
        # a head bumped on a blood thinner, suspected abuse.
        (
            "room spinning since 1hr, walking like hes drunk, seeing 2 of everything",
            "B_STROKE",
            True,
        ),
        ("seeing double since this morning", "B_STROKE", True),
        ("vertigo, cant walk in a straight line, vomiting x2", "B_STROKE", True),
        ("mama since morning is not seeing on the left side", "B_STROKE", True),
        ("dizzy when she turns over in bed, known BPPV, walks fine", "B_STROKE", False),
        ("toddler bumping into furniture, dizzy after spinning round", "B_STROKE", False),
        ("wants sleeping tablets, said he wouldnt care if I didnt wake up", "B_PSYCH", True),
        ("low mood, would not care if I died", "B_PSYCH", True),
        ("has been saving up her tablets for weeks", "B_PSYCH", True),
        ("sister says hes sorted all his affairs, gave away the dog", "B_PSYCH", True),
        ("saving money for a holiday, headache, takes paracetamol", "B_PSYCH", False),
        ("been saving up for a holiday, here for his blood pressure meds", "B_PSYCH", False),
        ("hoarding disorder, lives alone, came for repeat meds", "B_PSYCH", False),
        (
            "he wont swallow his spit, sits leaning forward, noisy breathing in, high temp",
            "A_RESP_DISTRESS",
            True,
        ),
        (
            "teething baby drooling, leaning forward to crawl, feeding well",
            "A_RESP_DISTRESS",
            False,
        ),
        ("from a house fire, voice hoarse, throat is tight", "A_RESP_DISTRESS", True),
        ("smoker, hoarse voice for 3 weeks", "A_RESP_DISTRESS", False),
        ("rescued from a house fire, cough, soot around his nose", "B_OVERDOSE", True),
        ("escaped a bedroom fire, carbonaceous sputum, voice changed", "A_RESP_DISTRESS", True),
        ("previous house fire 2019, now hoarse with a cold", "A_RESP_DISTRESS", False),
        ("asthma flares in winter, hoarse voice", "A_RESP_DISTRESS", False),
        ("smoke alarm went off while cooking, hoarse from a cold", "A_RESP_DISTRESS", False),
        ("double vision for 2 hours, headache", "B_STROKE", True),
        ("double vision since new glasses prescription", "B_STROKE", False),
        ("longstanding squint, double vision when tired", "B_STROKE", False),
        ("hx head injury 2015, on warfarin, sore knee", "B_TRAUMA", False),
        ("PMH AF on warfarin, fell and hit head", "B_TRAUMA", True),
        ("hx AF on apixaban fell hit head", "B_TRAUMA", True),
        ("on warfarin hx of falls hit head today", "B_TRAUMA", True),
        ("on warfarin, cut head on cupboard", "B_TRAUMA", True),
        ("on thinners, fell hit head", "B_TRAUMA", True),
        ("on warfarin, head cold, mucus feels stuck", "B_TRAUMA", False),
        ("pulled from blaze, hoarse voice", "A_RESP_DISTRESS", True),
        ("house fire, whistling breathing", "A_RESP_DISTRESS", True),
        ("new glasses, frames too tight, hoarse voice from shouting", "A_RESP_DISTRESS", False),
        ("double vision and drooping eyelid, headache", "B_STROKE", True),
        ("new double vision and headache", "B_STROKE", True),
        ("child says dad hits her, bruise on arm", "B_ABUSE", True),
        ("bruises on arm, mechanism doesnt add up", "B_ABUSE", True),
        ("gave away the cat because of allergies", "B_PSYCH", False),
        ("likes to have her affairs in order", "B_PSYCH", False),
        ("fell again, bump on forehead, on apixaban for AF", "B_TRAUMA", True),
        ("laceration to eyebrow, fell at home, takes apixaban", "B_TRAUMA", True),
        ("fell, hurt her hip, no head injury, on apixaban", "B_TRAUMA", False),
        ("rolled off the sofa, story changed from bed to sofa, not moving L arm", "B_ABUSE", True),
        ("child says daddy hits her", "B_ABUSE", True),
        ("carer neglect suspected, pressure sores", "B_ABUSE", True),
        ("unexplained bruising, on warfarin, INR 5", "B_ABUSE", False),
        ("delayed presentation of an ankle injury 3 days ago", "B_ABUSE", False),
        ("survivor of child abuse, anxious, panic attack", "B_ABUSE", False),
        ("not mobile since a fall this morning, bruised hip", "B_ABUSE", False),
        # The twelfth: a cauda equina told in passing, a missed dialysis, a head scraped on
        # warfarin, a dementia's sudden change, a paracetamol overdose by its brand, a heart
        # attack told as sweating with "gas".
        (
            "back pain, now down both legs, trouble getting the flow going, numb when wiping",
            "B_CAUDA_EQUINA",
            True,
        ),
        ("back pain after lifting, no numbness, passing urine normally", "B_CAUDA_EQUINA", False),
        ("dialysis MWF, missed Friday run, legs heavy and tingly", "B_DIALYSIS", True),
        ("dialysis patient, fistula check, feels well", "B_DIALYSIS", False),
        ("unwitnessed fall, small scrape L forehead, on warfarin", "B_TRAUMA", True),
        ("she always knows me, today called me by my sisters name", "B_ALTERED", True),
        ("took like 20 tylenol over the night for a headache", "B_OVERDOSE", True),
        ("k/c/o DM, sweating since morning, uneasiness upper abdomen, ?gas", "B_ACS", True),
        ("sweaty after the gym, short of breath", "B_ACS", False),
        ("cold sweat, heartburn, ran out of omeprazole", "B_ACS", True),
        ("sweating at night, weight loss, upper stomach heavy for 2 months", "B_ACS", False),
        ("chronic incontinence, low back pain for years", "B_CAUDA_EQUINA", False),
        # Retention with back pain reads as a cauda equina, a blocked catheter or not (by
        # choice: the sign is too dangerous to explain away from the words).
        ("catheter blocked, urinary retention, back pain", "B_CAUDA_EQUINA", True),
        ("lower back pain, uses pads for stress incontinence", "B_CAUDA_EQUINA", False),
        ("bad back, now peeing herself", "B_CAUDA_EQUINA", True),
        ("on dialysis, missed appointment at diabetes clinic, weak", "B_DIALYSIS", False),
        ("HD pt, missed session, feels unwell", "B_DIALYSIS", True),
        ("tripped, skin tear R forearm, on warfarin, head fine", "B_TRAUMA", False),
        ("on apixaban, fatty lump on scalp noticed, no injury", "B_TRAUMA", False),
        ("called me by my name, knows me, normal self", "B_ALTERED", False),
        ("motrin at 10 tylenol at 2, fever", "B_OVERDOSE", False),
        ("tylenol at 10, motrin at 12, still febrile", "B_OVERDOSE", False),
        ("took 30 tablets OD", "B_OVERDOSE", True),
        # The thirteenth: sickle cell with a fever, a 600 V shock, a tonsillectomy bleed.
        ("HbSS, fever 38.9 at home, playing fine", "B_SEPSIS", True),
        ("got a hit off a 600 V panel, thrown back, out for a few seconds", "B_TRAUMA", True),
        ("electric shock from a toaster, tingly finger, no LOC, no burn", "B_TRAUMA", False),
        ("tonsillectomy 6 days ago, spat fresh blood twice, stopped now", "B_TONSIL_BLEED", True),
        ("tonsillectomy last year, sore throat now", "B_TONSIL_BLEED", False),
        ("tonsillectomy 10 years ago, now coughing blood clots", "B_TONSIL_BLEED", False),
        ("got a shock off the toaster, finger numb since", "B_TRAUMA", False),
        ("i was shocked by the news, passed out", "B_TRAUMA", False),
        ("shock from 415v supply, collapsed", "B_TRAUMA", True),
        ("fever 38.5, sickle cell trait", "B_SEPSIS", False),
        ("chronic back pain, now urinary retention", "B_CAUDA_EQUINA", True),
        ("dialysis missed on monday, potassium 6.8", "B_DIALYSIS", True),
        # The fourteenth: a myasthenic crisis, a veiled farewell with a gun, a long lie, a
        # head knock in haemophilia, a history item's date, Patois "mi".
        ("myasthenia, voice gone nasal, choking on her own spit", "A_RESP_DISTRESS", True),
        ("myasthenia, voice nasal for years, stable, med refill", "A_RESP_DISTRESS", False),
        ("group B strep (GBS) positive, short of breath", "A_RESP_DISTRESS", False),
        ("security guard works at night, has a gun, cut finger", "B_PSYCH", False),
        ("unable to get up from chair, back pain since last night", "B_LONG_LIE", False),
        (
            "cannot hold spoon with right hand, mouth a bit senget, talking not clear",
            "B_STROKE",
            True,
        ),
        ("myasthenia gravis, here for a repeat prescription", "A_RESP_DISTRESS", False),
        ("wont need em much longer, got my paperwork squared away", "B_PSYCH", True),
        (
            "sitting in the truck with his .45 at night, anniversary of buddys death",
            "B_PSYCH",
            True,
        ),
        ("hunting rifle in the truck, sprained ankle on the hill", "B_PSYCH", False),
        (
            "found on floor by carer, last seen 7pm, cold to touch, lying in urine",
            "B_LONG_LIE",
            True,
        ),
        ("slid off armchair onto her bottom 40 min ago, carer with her", "B_LONG_LIE", False),
        ("severe haemophilia A, hit his forehead on the kerb, small bump", "B_TRAUMA", True),
        ("chest pain, hx MI a few years ago", "B_ACS", True),
        ("hx MI a few years ago, chest pain", "B_ACS", True),
        ("mi wake up an mi yeye full a blood", "B_ACS", False),
        ("hot day in the garden, sweating, upper stomach cramps", "B_ACS", False),
        # The sixteenth: a heart attack told in Tagalog (the pit of the stomach to the back,
        # a weight pressing, sweating), and chest pain in the words mixed into notes here.
        ("masakit ang sikmura hanggang likod, pinagpapawisan at nasusuka", "B_ACS", True),
        ("akala niya hyperacidity lang, pinapawisan", "B_ACS", True),
        ("nilalagnat, pinagpapawisan, masakit ang sikmura", "B_ACS", False),
        ("masakit ang sikmura pagkatapos kumain, walang pawis", "B_ACS", False),
        ("sabi niya naninikip ang dibdib since kaninang umaga", "B_ACS", True),
        ("me duele el pecho desde anoche", "B_ACS", True),
        # The seventeenth: carbon monoxide from a furnace, a heart attack told as sweaty and
        # sick to the stomach, and look-alikes: miles, a bleed in the white of the eye
        # after vomiting, a pregnant woman's worry that a cut will hurt the baby.
        ("woke with headache, vomited, old gas furnace, roommates the same", "B_OVERDOSE", True),
        ("headache, better since out in the cold air, the cat was sleepy", "B_OVERDOSE", True),
        ("got all sweaty doing the dishes, felt sick to my stomache", "B_ACS", True),
        ("sweaty and queasy after a run", "B_ACS", False),
        ("husband drove her 40 mi, eye red", "B_ACS", False),
        ("white of her right eye bright red after vomiting, vision fine", "B_BLEEDING", False),
        ("vomiting since last night, now bright red blood in it", "B_BLEEDING", True),
        ("vomited, eye full of blood, black tarry stools", "B_BLEEDING", True),
        ("24 wks pregnant, cut finger, panicking it'll hurt the baby", "B_PSYCH", False),
        ("2 weeks postpartum, scared she might hurt the baby", "B_PSYCH", True),
        # After review: the eye cancels only vomiting with blood, and only blood in the eye;
        # a thought of harming the baby whose subject is the mother still counts.
        (
            "cirrhotic, whites of his eyes yellow, vomited x2 with bright red blood",
            "B_BLEEDING",
            True,
        ),
        ("etoh, vomited x3 with bright red blood, bloodshot eyes", "B_BLEEDING", True),
        ("on warfarin, subconjunctival haemorrhage R eye, black stools x2", "B_BLEEDING", True),
        ("intrusive thoughts that she will hurt the baby", "B_PSYCH", True),
        ("states she did hurt the baby last night, shook him", "B_PSYCH", True),
        ("hearing voices that say hurt the baby", "B_PSYCH", True),
        ("will the medicine harm the baby", "B_PSYCH", False),
        ("walang lagnat, pinagpapawisan, nasusuka", "B_ACS", True),
        ("nagsusuka, pinagpapawisan", "B_ACS", False),
        ("sweaty and nauseous, felt faint", "B_ACS", True),
        # The fiftieth vignette set: a forehead damp, told so.
        ("DM2, nauseated, looks pale, damp forehead, heavy in the upper belly", "B_ACS", True),
        ("hot day in the garden, damp forehead, upper stomach cramps", "B_ACS", False),
        # The fifty-first: a leaking aneurysm taken for a first kidney stone; nausea as
        # "felt sick" with a cold sweat and no chest pain.
        (
            "sudden L back/flank pain, 'like someone stuck a knife in me and twisted, never "
            "had owt like it'. Carer thought kidney stone. Sweaty",
            "B_AORTIC",
            True,
        ),
        ("sudden severe low back pain on the toilet, felt woozy when he stood", "B_AORTIC", True),
        ("known kidney stones, sudden L flank pain, sweaty, same as last time", "B_AORTIC", False),
        ("sudden back pain after lifting a box, sweaty", "B_AORTIC", False),
        ("sudden dizziness, came back from holiday yesterday, pale", "B_AORTIC", False),
        ("gone grey and a bit clammy, said she felt sick", "B_ACS", True),
        ("felt sick, clammy, diarrhoea x4 since last night", "B_ACS", False),
        ("FOOSH, wrist deformity, felt sick and clammy", "B_ACS", False),
        ("Toothache, felt sick, sweaty", "B_ACS", False),
        ("Abscess on buttock, sweats, feels sick", "B_ACS", False),
        ("Feel sick of this back pain, sweating with pain", "B_ACS", False),
        # ... and a confusion told as the patient's usual state is no new confusion, unless
        # the note says it changed.
        (
            "advanced dementia, oriented to self only - facility sheet says this is baseline. "
            "Staff: 'she's always like this, don't know where she is'. R wrist deformed",
            "B_ALTERED",
            False,
        ),
        ("dementia, doesn't know where she is, more confused than her baseline", "B_ALTERED", True),
        ("dementia, at baseline per daughter, but confused since this morning", "B_ALTERED", True),
        ("confused, not at her baseline", "B_ALTERED", True),
        ("nauseous and sweaty after a blood draw", "B_ACS", False),
        ("car sick, nauseous, sweaty, better in the fresh air", "B_ACS", False),
        ("car sick, nauseous, better in the fresh air", "B_OVERDOSE", False),
        ("paraffin gauze dressing both legs, feels sick", "B_OVERDOSE", False),
        ("niega dolor de pecho, tos", "B_ACS", False),
        ("walang sakit sa dibdib, ubo lang", "B_ACS", False),
        ("opresión en el pecho desde anoche", "B_ACS", True),
        ("ECG at 1400 MI changes", "B_ACS", True),
        # The eighteenth: a spinal cord pressed by cancer in the bone, a body stuffer, a
        # sweaty breathless diabetic who vomited once.
        (
            "prostate Ca with bony mets, back pain between shoulder blades, legs like jelly",
            "B_CAUDA_EQUINA",
            True,
        ),
        ("known myeloma, new back pain, not PU'd since last night", "B_CAUDA_EQUINA", True),
        ("breast cancer 10 yrs ago, low back pain after gardening", "B_CAUDA_EQUINA", False),
        ("seen swallowing something as police approached, wraps in cling film", "B_OVERDOSE", True),
        ("swallowed a bag of weed crisps at a party, feels sick", "B_OVERDOSE", False),
        ("diabetic, puffed out walking, chucked up once, grey and sweaty", "B_ACS", True),
        # After review: a nurse's "?gastro" explains no sweat; the cord's signs must be now
        # and the cancer one that spreads; a toddler's swallowed packet is no body stuffer.
        ("clammy, queasy, heartburn, ?gastro ?cardiac", "B_ACS", True),
        ("known bone mets, legs weak, cant walk", "B_CAUDA_EQUINA", True),
        ("bowel ca, back hurts, legs keep buckling", "B_CAUDA_EQUINA", True),
        (
            "fhx cancer, back pain after gardening, cant walk due to twisted ankle",
            "B_CAUDA_EQUINA",
            False,
        ),
        ("mum has cancer, legs like jelly after leg day", "B_CAUDA_EQUINA", False),
        ("lung ca, fluid retention, back pain", "B_CAUDA_EQUINA", False),
        (
            "exercise tolerance <4 mets, back pain, not walking since stroke 2 yrs ago",
            "B_CAUDA_EQUINA",
            False,
        ),
        ("swallowed 5 wraps of crack before arrest", "B_OVERDOSE", True),
        ("toddler seen swallowing silica gel packet from mums bag", "B_OVERDOSE", False),
        ("chucked up blood, dizzy", "B_BLEEDING", True),
        ("vomiting and diarrhoea for 2 days, sweaty, crampy upper tummy", "B_ACS", False),
    ],
)
def test_high_risk_situations_the_vignettes_taught(complaint: str, code: str, fires: bool) -> None:
    """A head struck on a blood thinner, a sexual assault, a swallowed button battery or
    magnets, ten or more of a relative's tablets, a high-voltage injury (ESI 2), and the
    earlier situations in other words."""
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=74))

    assert (code in codes(result)) is fires


def test_a_baseline_confusion_still_counts_with_a_lowered_level_of_consciousness() -> None:
    """The words of a usual confusion are no new one; a patient who answers only to the
    voice is, whatever the note says of the baseline."""
    complaint = "dementia, disorientated, always like this per carer"

    assert "B_ALTERED" not in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=88)))
    assert "B_ALTERED" in codes(
        esi_rules(complaint=complaint, vitals=vitals(age_years=88, avpu="V"))
    )


@pytest.mark.parametrize(
    ("complaint", "systolic", "fires"),
    [
        # The fifty-first set's review: a leak in the words that come with it...
        ("Sudden severe back pain, pale and sweaty. Hypertensive for years, ex-smoker", 130, True),
        ("Sudden back pain, sweaty, no history of injury", 130, True),
        ("Sudden back pain, no hx of trauma, sweaty", 130, True),
        (
            "Care home resident, had a fall last month (no injury). Today sudden severe back "
            "pain, grey and clammy",
            130,
            True,
        ),
        ("Collapsed and fell in kitchen, sudden severe back pain, pale and sweaty", 130, True),
        (
            "Had stones 20 yrs ago but this is different, sudden L flank pain, never had pain "
            "like this, sweaty",
            130,
            True,
        ),
        ("Severe abdominal pain, grey, clammy, started 1hr ago", 130, True),
        ("Back pain came on quickly while on the toilet, felt lightheaded", 130, True),
        ("Sudden L flank pain, ?stone. BP 105 (usually 160)", 105, True),
        ("Sudden L flank pain, ?stone. Usual BP in the 150s", 105, True),
        ("Left groin pain came on suddenly, sweaty", 130, True),
        ("BP has fallen from 160 to 110, sudden back pain, dizzy", 110, True),
        # ... and what another cause explains.
        ("D&V since last night, sudden onset, tummy ache, feels dizzy when standing", 130, False),
        (
            "Started amlodipine last week, first time on BP tablets, dizzy, mild back ache",
            130,
            False,
        ),
        ("Lumbar puncture yesterday, headache, dizzy, sudden onset", 130, False),
        ("Sudden loin pain. Rigors, dysuria, sweats", 130, False),
        ("Constipated 5 days, abdo pain, first time, pale", 130, False),
        ("Grey hair, sudden abdominal pain after eating, never had this before", 130, False),
        ("Sudden dizziness. Back pain for a week after gardening", 130, False),
        ("Sudden L flank pain, ?stone. BP 125 (usually 140)", 125, False),
    ],
)
def test_a_leaking_aneurysm_taken_for_something_else_after_60(
    complaint: str, systolic: int, fires: bool
) -> None:
    result = esi_rules(
        complaint=complaint, vitals=vitals(age_years=75, systolic_bp=systolic, diastolic_bp=70)
    )

    assert ("B_AORTIC" in codes(result)) is fires


@pytest.mark.parametrize(
    ("age", "systolic", "fires"),
    [(79, 108, True), (79, 140, False), (52, 108, False)],
)
def test_a_first_kidney_stone_after_60_with_a_pressure_fallen_is_an_aneurysm(
    age: int, systolic: int, fires: bool
) -> None:
    """The fifty-first vignette set: after 60, a sudden flank pain taken for a stone with a
    systolic pressure 30 or more below the one the folder gives is a possible leaking
    aneurysm (ESI 2); at 52, or with the pressure as usual, it is no such sign."""
    result = esi_rules(
        complaint="sudden L flank pain, never had owt like it, ?kidney stone. Usual BP 150s",
        vitals=vitals(age_years=age, systolic_bp=systolic, diastolic_bp=66),
    )

    assert ("B_AORTIC" in codes(result)) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The eleventh paraphrase round: other languages, the autocorrect's words, signs.
        ("Si Tatay walang malay since this morning, hindi magising", "A_UNRESPONSIVE", True),
        ("No puede respirar ni hablar, labios morados", "A_RESP_DISTRESS", True),
        ("Uncle ko seene mein bahut pressure, left arm tak ja raha", "B_ACS", True),
        ("Tata: opadnięty kącik ust, L arm weak, bełkot", "B_STROKE", True),
        ("Niño, fiebre 39.5, cuello rígido", "B_MENINGITIS", True),
        ("Vomiting blond x3 this am", "B_BLEEDING", True),
        ("Pale, diaphoretic, fist pressed to sternum", "B_ACS", True),
        ("mum had hip op last wk, now suddenly breathless", "B_PE", True),
        # ... and what it showed must not fire.
        ("Buntis 26 weeks, sipon at ubo lang, malikot si baby", "B_PSYCH", False),
        ("Dawai time pe li, koi extra tablet nahi, just wants BP check", "B_OVERDOSE", False),
        ("chest wall pain after walking into a door ?contusion", "B_ALTERED", False),
        ("painless scrotal swelling over four months, transilluminates", "B_TORSION", False),
        ("known dementia, pleasantly muddled at baseline, skin tear", "B_ALTERED", False),
        ("cut my finger, stoped bleeding with a plaster", "A_APNOEA", False),
        # The project's own probes: no response to a sternal rub, breaths far apart, a pulse
        # absent in a named limb (and what the review found they must not read).
        ("no response to sternal rub", "A_UNRESPONSIVE", True),
        ("totally out of breath after running", "A_UNRESPONSIVE", False),
        ("just moans when moved, hip shortened and rotated", "A_UNRESPONSIVE", False),
        ("not conscious of the time, here for a rash", "A_UNRESPONSIVE", False),
        ("pt unconscious for 10 sec after the fall, now GCS 15", "A_UNRESPONSIVE", False),
        ("not breathing through her nose, snuffly", "A_APNOEA", False),
        ("not breathing properly since the cold", "A_APNOEA", False),
        ("not breathing", "A_APNOEA", True),
        ("not breathing any more, lips blue", "A_APNOEA", True),
        ("asthma, not breathing any better after nebs, full sentences", "A_APNOEA", False),
        ("breaths are few and far between, pinpoint pupils", "A_APNOEA", True),
        ("resp rate 6/min, heroin", "A_APNOEA", True),
        ("ectopics 4 per min on the monitor", "A_APNOEA", False),
        ("asthma, not breathing much better after nebs, full sentences", "A_APNOEA", False),
        ("no pulse in left foot, cold, sudden pain", "B_LIMB", True),
        ("Raynaud's, fingers white and cold in the snow", "B_LIMB", False),
        (
            "basal cell carcinoma on nose, back pain after lifting, cant walk far",
            "B_CAUDA_EQUINA",
            False,
        ),
        (
            "wife having chemo, his back pain after lifting, difficulty walking",
            "B_CAUDA_EQUINA",
            False,
        ),
        ("no pulse in foot after knee dislocated", "B_LIMB", True),
        ("can see the babys head, 39 weeks", "B_OBSTETRIC", True),
        # Words of other languages that spelled an abbreviation: Polish "od" (since), Spanish
        # "si" (if).
        ("bol kolana od wczoraj", "B_OVERDOSE", False),
        ("took an OD last night", "B_OVERDOSE", True),
        ("le duele si camina", "B_PSYCH", False),
        ("SI with plan", "B_PSYCH", True),
        # The nineteenth vignette set: a stroke in Nigerian Pidgin; lost tablets.
        (
            "papa no dey talk well, mouth don turn to one side, hand no fit hold cup",
            "B_STROKE",
            True,
        ),
        ("flood evacuee, lost all her tablets, needs amlodipine", "B_OVERDOSE", False),
        ("took all her tablets last night", "B_OVERDOSE", True),
        ("took the rest of all her tablets", "B_OVERDOSE", True),
        # The twentieth: decompression sickness after diving then flying.
        (
            "did 3 dives the day before he flew, aching shoulders, pins and needles",
            "B_DIVING",
            True,
        ),
        ("scuba diving this morning, now short of breath", "B_DIVING", True),
        ("the bends? surfaced too fast", "B_DIVING", True),
        ("scuba diving in 2019, now numb fingers from carpal tunnel", "B_DIVING", False),
        ("diving catch in cricket, shoulder pain", "B_DIVING", False),
        ("went diving last week, ear pain", "B_DIVING", False),
        ("paciente tiene SI esta semana, plan de ahorcarse", "B_PSYCH", True),
        ("pikin no dey talk well, e dey cough", "B_STROKE", False),
        # The twenty-first: a grain-bin burial; folk words for cancer and its treatment with a
        # fever; disorientation in place; an illness's threat is no homicidal thought.
        ("walked down the corn, buried up to his armpits, chest tight", "B_TRAUMA", True),
        ("trench collapsed on him at work, legs pinned", "B_TRAUMA", True),
        ("avalanche, buried in snow for 20 minutes, now shivering", "B_TRAUMA", True),
        ("buried his dog yesterday, now chest pain", "B_TRAUMA", False),
        ("has the bad disease, last treatment a week ago, runnin a fever", "B_SEPSIS", True),
        ("breast cancer, radiotherapy finished in 2019, fever with a cold", "B_SEPSIS", False),
        ("today he dont know what town were in, usually sharp", "B_ALTERED", True),
        ("called her by his dead sisters name this morning", "B_ALTERED", True),
        ("alert, knows what town he is in, ankle sprain", "B_ALTERED", False),
        ("family worried his sugar is gonna kill him, ran out of pills", "B_PSYCH", False),
        ("scared his pressure will shoot up and he'll go, no symptoms", "B_PSYCH", False),
        ("says he is gonna kill him when he gets out", "B_PSYCH", True),
        ("says he will shoot his neighbour tonight", "B_PSYCH", True),
        ("this time the pills will kill me", "B_PSYCH", True),
        ("says it will kill him, and has a knife", "B_PSYCH", True),
        ("wants something that will kill him quickly", "B_PSYCH", True),
        ("says the drinking will kill him and he wants it to", "B_PSYCH", True),
        ("says that will shoot him", "B_PSYCH", True),
        ("his sugars are gonna kill him, no symptoms", "B_PSYCH", False),
        ("says the cancer is going to kill her, wants pain relief", "B_PSYCH", False),
        # The twelfth paraphrase round.
        ("unresponsive to voice, pupils pinpoint", "A_UNRESPONSIVE", True),
        ("found unresponsive to her name, not rousing", "A_UNRESPONSIVE", True),
        ("my son took a load of my tablets an hour ago hes being sick", "B_OVERDOSE", True),
        ("nobody will miss me if im gone", "B_PSYCH", True),
        ("fever, headache, hides from light", "B_MENINGITIS", True),
        ("im 36 weeks, baby hasnt kicked since yesterday morning", "B_OBSTETRIC", True),
        ("type 1, meter says HI, vomiting", "B_DKA", True),
        ("his chest isn't going up and down at all", "A_APNOEA", True),
        # Answers to pain alone in the Glasgow Coma Scale's words; a fever that "spiked".
        ("cant wake Mrs K in side room, only flexes to pain", "A_UNRESPONSIVE", True),
        ("GCS 7, withdraws to pain, eyes open to pain", "A_UNRESPONSIVE", True),
        ("knee replacement, flexion to 90, extension to 0, pain 4/10", "A_UNRESPONSIVE", False),
        ("localises pain to the right iliac fossa", "A_UNRESPONSIVE", False),
        ("withdrawing from pain meds, sweaty, yawning", "A_UNRESPONSIVE", False),
        ("on chemo for leukaemia, she's spiked 38.6", "B_SEPSIS", True),
        ("on chemo, BP spiked after the infusion, no fever", "B_SEPSIS", False),
        # The twenty-second vignette set: "every bump in the Humvee killed her" is a pain;
        # "red lines in the phlegm" are no red line up a limb.
        ("every bump in the Humvee on the way over killed her", "B_PSYCH", False),
        ("says he killed her last night, blood on his hands", "B_PSYCH", True),
        ("he says the stress is gonna kill him", "B_PSYCH", False),
        ("his son is gonna kill him over the money", "B_PSYCH", True),
        ("toothache, threatens to drive round and kill him", "B_PSYCH", True),
        ("took her for a drive and killed her last night", "B_PSYCH", True),
        ("red line in the tissue running up his leg from the wound, temp 39", "B_SEPSIS", True),
        ("cough 5 days, small red lines in the phlegm, fever last night", "B_SEPSIS", False),
        ("cut on hand, now red line going up his arm, fever, shivers", "B_SEPSIS", True),
        # The twenty-third: warfarin as a Russian family writes it; confusion in Russian;
        # "doesn't want to wake up anymore"; a central line and a fever now.
        ("slipped, hit back of head on sink, takes varfarin, vomited x2", "B_TRAUMA", True),
        ("mama ne v sebe since yesterday, normally sharp", "B_ALTERED", True),
        ("said he doesnt want to wake up anymore, pills in his jacket", "B_PSYCH", True),
        ("doesnt want to wake up early for school, sore throat", "B_PSYCH", False),
        ("didnt want to wake up her parents, came by taxi, ankle sprain", "B_PSYCH", False),
        ("Hickman line for PN, rigors after connecting, temp 38.7", "B_SEPSIS", True),
        ("PICC line blocked, no fever, wants it flushed", "B_SEPSIS", False),
        ("TPN patient, temperature of 36.9, routine line check", "B_SEPSIS", False),
        ("known HPN, fever and cough 2 days", "B_SEPSIS", False),
        ("brought empty packet of amitriptyline, took them all", "B_OVERDOSE", True),
        # The twenty-fourth: "doesn't know us"; a bowel obstruction (on clozapine); 20
        # "Paracet"; pink frothy sputum; a collapse mid-stride.
        ("since yesterday he doesnt know us, normally sharp", "B_ALTERED", True),
        ("dog doesnt know us, bitten on the hand", "B_ALTERED", False),
        ("on clozapine, belly blown up tight, no BO since Thursday", "B_OBSTRUCTION", True),
        ("vomited twice, brown stuff that smells like poo", "B_OBSTRUCTION", True),
        ("on clozapine, vomited once after a takeaway, belly fine", "B_OBSTRUCTION", False),
        # Bowel out through a wound; a wound gaping without it is no evisceration.
        ("bowel hanging out of the wound after surgery", "B_EVISCERATION", True),
        ("coughed, felt a pop, loops of bowel in the wound", "B_EVISCERATION", True),
        ("wound edges gaping at the bottom, no bowel visible", "B_EVISCERATION", False),
        # A knock to the head in Scots with a memory that does not hold.
        ("banged his heid on the door, keeps asking what happened", "B_TRAUMA", True),
        ("bumped her head on the cupboard, fine, no vomiting", "B_TRAUMA", False),
        ("diarrhoea, stool smells like poo", "B_OBSTRUCTION", False),
        ("distended bladder, on clozapine", "B_OBSTRUCTION", False),
        ("has taken 20 Paracet 500 mg 3 hours ago", "B_OVERDOSE", True),
        ("tired of everything at work, wants sick note", "B_PSYCH", False),
        ("pink frothy spit after the swim, crackles both sides", "B_SOB", True),
        ("pink frothy urine, otherwise well", "B_SOB", False),
        ("dropped mid stride at 8k, came round in a minute", "B_SYNCOPE", True),
        ("knee locked and he stopped mid stride while jogging", "B_SYNCOPE", False),
        ("collapsed while running for the bus, tripped on kerb", "B_SYNCOPE", False),
        ("abscess on forearm, hurts to bend, feverish", "B_MENINGITIS", False),
        ("fever and flank pain, hurts to bend forward, dysuria", "B_MENINGITIS", False),
        ("fever, neck hurts to bend, cant look at the light", "B_MENINGITIS", True),
        ("splinter buried under the nail, finger sore", "B_TRAUMA", False),
        ("fish hook buried up to the barb in his thumb", "B_TRAUMA", False),
        ("shivering, buried under blankets, sore throat", "B_TRAUMA", False),
        ("engulfed in sadness since her mother died", "B_TRAUMA", False),
        ("called his wife by phone to pick him up, sprained ankle", "B_ALTERED", False),
        ("tourist, no idea what city his hotel is in, ankle sprain", "B_ALTERED", False),
        ("no history of cancer, treatment for uti, fever", "B_SEPSIS", False),
        ("skin cancer removed years ago, iron infusion last week, now a fever", "B_SEPSIS", False),
        (
            "breast cancer in remission, finished her treatment 5 years ago, fever",
            "B_SEPSIS",
            False,
        ),
        # The twenty-fifth: "a rake of Panadol" (Ireland's "a lot of"); going asleep and not
        # waking up as a wish; a treated hypo with the confusion left.
        ("she's after taking a rake of Panadol last night", "B_OVERDOSE", True),
        ("took 20 Nurofen at lunch after a row", "B_OVERDOSE", True),
        ("a rake of pints last night, fell, cut on his chin", "B_OVERDOSE", False),
        ("I just wanted to go asleep and not wake up", "B_PSYCH", True),
        ("I just wanted to go asleep and not wake up", "A_UNRESPONSIVE", False),
        ("fell asleep on the couch and would not wake up, mum shaking him", "A_UNRESPONSIVE", True),
        ("BM 2.1, glucagon IM, BM now 4.6, still muddled, thinks its 1990", "B_ALTERED", True),
        # Treated, the mind not back: a hypo that does not recover, ESI 2 (not ESI 1).
        ("BG 45, D50 given by EMS, BG 112 now, still confused", "B_DKA", True),
        ("BG 45, D50 given by EMS, BG 112 now, still confused", "A_HYPOGLYCAEMIA", False),
        ("BG 45, D50 given by EMS, BG 112 now, alert and chatty", "B_DKA", False),
        ("pt wanted a nap after lunch, fell asleep and not waking up now", "A_UNRESPONSIVE", True),
        ("wanted a rest, went asleep on the couch and not waking up since", "A_UNRESPONSIVE", True),
        # A passive wish not to wake is the patient's own thought, not an unresponsive patient.
        ("i just want to not wake up", "B_PSYCH", True),
        ("sometimes wishes she could just not wake up, no plan", "B_PSYCH", True),
        ("sometimes wishes she could just not wake up, no plan", "A_UNRESPONSIVE", False),
        ("i want to sleep forever and not wake up", "B_PSYCH", True),
        ("mum wished him goodnight and now he will not wake up", "A_UNRESPONSIVE", True),
        ("he would just not wake up this morning, mum shaking him", "A_UNRESPONSIVE", True),
        # A fever weeks back is no fever now beside a central line; one lasting until now is.
        ("PICC line, fever since last week, rigors today", "B_SEPSIS", True),
        ("Hickman line, temp 38.9 now, had a fever 3 weeks ago too", "B_SEPSIS", True),
        ("PICC line, had a fever last month, here for line flush", "B_SEPSIS", False),
        # The twenty-sixth: new confusion and suicidal thoughts told in (Quebec) French; "une
        # poignée" (a handful) of Tylenol; French negation.
        ("il dit des affaires qui ont pas rapport depuis hier", "B_ALTERED", True),
        ("il sait pu qu'on est chez nous, désorienté temps et lieu", "B_ALTERED", True),
        ("je voulais juste dormir pis pu me réveiller", "B_PSYCH", True),
        ("ça va me tuer cette douleur, mal au dos", "B_PSYCH", False),
        ("A pris une poignée de Tylenol hier soir", "B_OVERDOSE", True),
        ("Pas SOB au repos, douleur aux côtes après le hockey", "B_SOB", False),
        ("PAS 40, SOB at rest, sats 88", "B_SOB", True),
        ("chute dans sa chambre, s'est cognée la tête, prend Eliquis", "B_TRAUMA", True),
        ("tombée, bosse frontale, sous Coumadin", "B_TRAUMA", True),
        ("s'en souvient pas trop de la chute, mal au poignet", "B_ACS", False),
        ("a trop bu hier soir, vomit, mal au ventre", "B_ACS", False),
        ("chest pain, trop 45 raised, sweaty", "B_ACS", True),
        # A review's look-alikes: English "PAs", "Mr Sans"; French "pas" after a verb, "pas
        # capable", "sans arrêt", "aucun soulagement"; a relative's wish; a head struck two
        # weeks ago; a fever still going on; posturing of a joint to pain; "a trop of 450".
        (
            "sent from urgent care by PAs for crushing chest pain radiating to left arm",
            "B_ACS",
            True,
        ),
        ("32/40 known PAS heavy PV bleeding soaking pads", "B_OBSTETRIC", True),
        ("pas capable de parler facial droop droit depuis 1h", "B_STROKE", True),
        ("se reveille pas ce matin unresponsive", "A_UNRESPONSIVE", True),
        ("aucun soulagement crushing chest pain radiating to jaw", "B_ACS", True),
        ("Mr Sans 67yo crushing chest pain radiating to left arm", "B_ACS", True),
        ("sans arret seizure activity", "A_SEIZING", True),
        ("elle a pas de fièvre, toux depuis 3 jours, dit pas de DRS", "B_ACS", False),
        ("wife wished to let him sleep off the drink and he wont wake up", "A_UNRESPONSIVE", True),
        ("fell and hit head 2 weeks ago, on apixaban, headache getting worse", "B_TRAUMA", True),
        ("Hickman line, fevers began 2 weeks ago and ongoing", "B_SEPSIS", True),
        ("abnormal flexion of the wrist to pain, groaning only", "A_UNRESPONSIVE", True),
        ("sent by GP with a trop of 450, indigestion", "B_ACS", True),
        # The twenty-seventh: silo gas; chest pain in Nepali; look-alikes in Turkish ("mi?"),
        # Italian ("lo zucchero"), a place ("Spain") and a toe "gone black".
        ("Went up in the silo, smelled like bleach, came down coughing", "B_OVERDOSE", True),
        ("fell off the silo ladder, ankle swollen", "B_OVERDOSE", False),
        ("58yo chhati ali ali dukhyo since 6am, sweaty", "B_ACS", True),
        ("'ayagini kesecekler mi?' son asks, toe black", "B_ACS", False),
        ("possible MI? chest pain 2 hrs", "B_ACS", True),
        ("stools gone black, smells awful, dizzy", "B_BLEEDING", True),
        ("toe gone black and smells, diabetic", "B_BLEEDING", False),
        ("meter says LO, sweaty and confused", "A_HYPOGLYCAEMIA", True),
        ("glucometer reads LO so gave glucagon, GCS 14", "A_HYPOGLYCAEMIA", True),
        ("farmer, works at the grain silo, cough and runny nose for 3 days", "B_OVERDOSE", False),
        ("works at silo, bloated with gas and belching", "B_OVERDOSE", False),
        ("pet dukhyo, chhati dukheko chaina, age 50", "B_ACS", False),
        ("diabetic, foot gone black and smelly, feverish", "B_LIMB", True),
        ("ECG: Vanecek MI", "B_ACS", True),
        # The twenty-eighth: a child at a grandparent's blister pack (not a refill's count);
        # "with child" of a family in the waiting room.
        ("found with grandad's tablets, blister pack pushed out", "B_OVERDOSE", True),
        ("found him at nan's box, doesnt know how many were left", "B_OVERDOSE", True),
        ("asking for refill of BP tablets, counted how many were left", "B_OVERDOSE", False),
        ("tablet popped out of the blister into the sink", "B_OVERDOSE", False),
        ("she is with child, 30 weeks, bleeding heavily", "B_OBSTETRIC", True),
        ("32 weeks with child, bleeding and cramping", "B_OBSTETRIC", True),
        ("28F with child, 8 weeks, severe RIF pain and PV bleeding, dizzy", "B_ECTOPIC", True),
        (
            "relatives in waiting room with child, nosebleed started bleeding again",
            "B_ECTOPIC",
            False,
        ),
        ("pt very scared as CT shows brain bleed, for neurosurgical review", "B_HEADACHE", True),
        # The twenty-ninth: a fall that knocked a patient on warfarin out, the head told in
        # Samoan; chest "heat" with sweating; a family's headaches by a gas heater with the
        # windows shut; a port told without its brand.
        ("fell ~2m off ladder this arvo, ?brief LOC per son. Dad on warfarin", "B_TRAUMA", True),
        ("hit back of ulu on concrete, on the blood thinner", "B_TRAUMA", True),
        ("no LOC, fell off chair, on warfarin, hurt wrist", "B_TRAUMA", False),
        (
            "kulayl (heat) in his chest and stomach, sweating, had to sit down on the stairs",
            "B_ACS",
            True,
        ),
        ("heat in the house went off, chest cold, sweating", "B_ACS", False),
        ("all woke up w/ bad headache, old gas heater, windows shut", "B_OVERDOSE", True),
        ("has a port, fever for a week", "B_SEPSIS", True),
        ("his port wine stain is itchy, fever today", "B_SEPSIS", False),
        # ... and after its review: a tooth knocked out, a level of consciousness ("LOC
        # normal"), a laparoscopy's port site, a port removed, an electric heater; falls,
        # blows and lines in more words.
        ("Front tooth knocked out playing rugby, on warfarin for AF", "B_TRAUMA", False),
        ("Fell, LOC normal, GCS 15, on apixaban, skin tear to forearm", "B_TRAUMA", False),
        ("Fell, LOC: alert and oriented, on apixaban, skin tear", "B_TRAUMA", False),
        ("Slipped in shower, brief LOC, on rivaroxaban", "B_TRAUMA", True),
        ("Football tackle, got KO'd, on rivaroxaban", "B_TRAUMA", True),
        ("Assaulted, kicked in the head, on apixaban", "B_TRAUMA", True),
        ("Sunburnt at the beach, heat in his chest and back, nauseous", "B_ACS", False),
        ("3 kids with the flue, all of them vomiting and headache", "B_OVERDOSE", False),
        ("Electric heater in bedroom, windows closed, headache and nausea", "B_OVERDOSE", False),
        ("Lap chole 5 days ago, port site red and oozing, fever 38.4", "B_SEPSIS", False),
        ("Fever 38.2, his port was removed last year", "B_SEPSIS", False),
        ("Fever 38.7, on home TPN via central access", "B_SEPSIS", True),
        ("Fever and rigors after port flush today", "B_SEPSIS", True),
        # The thirtieth: empty blister packs found; all of someone's pills; the edge of a
        # footbridge; nail glue remover; a tight chest in Vietnamese.
        ("Mom found empty paracetamol blister packs in her room, ? how many", "B_OVERDOSE", True),
        ("reports took all of todays meds this morning, dizzy on standing", "B_OVERDOSE", False),
        (
            "security found him sitting alone on the edge of the footbridge over the river",
            "B_PSYCH",
            True,
        ),
        ("fell off the edge of the bridge while cycling, leg pain", "B_PSYCH", False),
        ("sitting on the edge of the bridge fishing, stung by a wasp", "B_PSYCH", False),
        ("cyclist fell on the footbridge over the canal, grazed knee", "B_PSYCH", False),
        ("toddler drank a mouthful of nail glue remover", "B_OVERDOSE", True),
        ("tức ngực since unloading catch, sweaty, smoker", "B_ACS", True),
        ("không đau ngực, ho 3 ngày, sweaty after fever", "B_ACS", False),
        ("bn khong co dau nguc, dau bung, sweaty", "B_ACS", False),
        ("dau o nguc, va mo hoi", "B_ACS", True),
        (
            "nail salon worker, uses acetone and nail glue daily, ate lunch, rash",
            "B_OVERDOSE",
            False,
        ),
        ("slipped, LOC: none, on apixaban, sore wrist", "B_TRAUMA", False),
        ("on apixaban, got knocked out in a fight", "B_TRAUMA", True),
        ("on apixaban, hot flushes hitting her face all day", "B_TRAUMA", False),
        ("we all woke with headaches and vomiting, old gas heater", "B_OVERDOSE", True),
        ("Ate chicken at a bbq, all of them vomiting now", "B_OVERDOSE", False),
        # The thirty-first: a Portuguese breathlessness after a long flight with a swollen
        # calf; "um monte de Tylenol"; a plan to walk in front of the light rail; a ship's
        # rail with a note; a refill's empty box and "2 days of" a holiday.
        (
            "ela ta com falta de ar since this AM, L calf swollen and sore, long flight",
            "B_PE",
            True,
        ),
        ("took um monte de Tylenol, 5 hrs ago", "B_OVERDOSE", True),
        ("Eu só queria dormir e não acordar", "B_PSYCH", True),
        ("I'm going to walk in front of the light rail tonight", "B_PSYCH", True),
        ("found sitting on the rail Deck 12 at 0300, a note for his mother", "B_PSYCH", True),
        (
            "Ran out of his blood pressure tablets, 2 days of Yom Tov, needs the prescription,"
            " brought the empty box (amlodipine 5mg)",
            "B_OVERDOSE",
            False,
        ),
        ("ran out of his sertraline, took the whole box last night, drowsy", "B_OVERDOSE", True),
        # The thirty-second: a sour-gas knockdown; postpartum pre-eclampsia in Pidgin; a
        # late pregnancy's flank pain is no ectopic; "finish her roster"; "not rousing like
        # usual" is drowsy, not unresponsive; "didn't fall".
        (
            "monitor alarmed for sour gas, he dropped like a sack for 30 sec, now awake",
            "B_OVERDOSE",
            True,
        ),
        ("works at a sour gas plant, twisted his ankle on the stairs", "B_OVERDOSE", False),
        ("collapsed in a confined space at the tank, now awake", "B_OVERDOSE", True),
        ("gave birth 6 days ago, my head dey bang me, I dey see star star", "B_OBSTETRIC", True),
        (
            "had a baby 2 weeks ago, no headache or vision problems, wound check",
            "B_OBSTETRIC",
            False,
        ),
        ("28 wks pregnant, pain in my right side round my back, shivery", "B_ECTOPIC", False),
        ("7 wks pregnant, pain in my right side, spotting", "B_ECTOPIC", True),
        (
            "grinder, grit in her eye, wants it sorted so she can finish her roster",
            "B_PSYCH",
            False,
        ),
        ("says he is going to finish her off tonight, has a knife", "B_PSYCH", True),
        ("not rousing like usual, keeps calling me by his sister's name", "A_UNRESPONSIVE", False),
        ("not rousing like usual, keeps calling me by his sister's name", "B_ALTERED", True),
        ("febrile baby, won't wake properly", "B_ALTERED", True),
        ("won't wake up, snoring, empty pill bottle", "A_UNRESPONSIVE", True),
        (
            "22 wks pregnant, went over on her ankle, didn't fall or bang her tummy",
            "B_OBSTETRIC",
            False,
        ),
        ("30 wks pregnant, fell down the stairs", "B_OBSTETRIC", True),
        # The review of the thirty-first and thirty-second sets' changes: each new phrase
        # against its everyday use, and what the narrowing must still find.
        (
            "H2S training at work this morning, rolled ankle when he went down the stairs",
            "B_OVERDOSE",
            False,
        ),
        (
            "Confined space rescue drill, dragged her out of the tank as practice, back pain",
            "B_OVERDOSE",
            False,
        ),
        (
            "Hydrogen sulphide smell from drains at home, mild nausea, no collapse",
            "B_OVERDOSE",
            False,
        ),
        (
            "Stuck in lift, confined space, panic attack, went down to ground floor",
            "B_OVERDOSE",
            False,
        ),
        ("Headache after a night out, had a baby 4 years ago, vision fine", "B_OBSTETRIC", False),
        (
            "Grandmother, gave birth to 4 children, high blood pressure, mild headache",
            "B_OBSTETRIC",
            False,
        ),
        ("Mum says not rousing properly, limp, breathing slow", "A_UNRESPONSIVE", True),
        ("Waiting in front of the tram stop when she tripped, grazed knee", "B_PSYCH", False),
        ("Toddler tried to walk out into traffic, dad grabbed his arm", "B_PSYCH", False),
        ("says she will walk into traffic if we send her home", "B_PSYCH", True),
        (
            "Painter standing on the railing of the balcony, fell 1 m onto the deck",
            "B_PSYCH",
            False,
        ),
        ("Police found him on the footbridge over the river at 3am, tearful", "B_PSYCH", True),
        ("Found on the other side of the railing on the bridge, crying", "B_PSYCH", True),
        (
            "Took the whole box of antibiotics as prescribed, still has ear pain",
            "B_OVERDOSE",
            False,
        ),
        (
            "Husband has the same tummy bug, vomiting since BBQ chicken last night",
            "B_OVERDOSE",
            False,
        ),
        ("On rivaroxaban, knocked out his front tooth playing hockey", "B_TRAUMA", False),
        ("on apixaban, knocked out for 2 minutes after a fall", "B_TRAUMA", True),
        ("On apixaban, partner hitting him over the head with a bottle", "B_TRAUMA", True),
        (
            "Boyfriend ran out on her last week, took a handful of her antidepressants",
            "B_OVERDOSE",
            True,
        ),
        ("Ran out of tramadol, took too many codeine with vodka tonight", "B_OVERDOSE", True),
        (
            "Refill of diazepam needed, admits taking a handful of diazepam with wine",
            "B_OVERDOSE",
            True,
        ),
        ("Took all of Jays pills after an argument, friend brought her in", "B_OVERDOSE", True),
        ("Mr Chua chest pain 2 hrs, sweaty", "B_ACS", True),
        ("Wants to finish her essay tonight, sore throat", "B_PSYCH", False),
        ("No allergies, SOB at rest, lips blue or grey", "A_RESP_DISTRESS", True),
        ("No fever, vomiting blood x3, dizzy or faint", "B_BLEEDING", True),
        # The thirty-third set: a head knock with repeated vomiting or questions; both arms
        # after a tackle (not one arm's "stinger", nor a carpal tunnel).
        ("HIA fail, took a knee to the head, keeps asking what the score is", "B_TRAUMA", True),
        ("hit his head playing rugby, vomited twice since", "B_TRAUMA", True),
        ("head injury 2 days ago, keeps asking for painkillers", "B_TRAUMA", False),
        ("stinger after a tackle, pins and needles down both arms, grip weak", "B_TRAUMA", True),
        ("burning down one arm after a tackle, settled", "B_TRAUMA", False),
        ("neck pain for weeks, both hands numb at night, carpal tunnel", "B_TRAUMA", False),
        # The thirty-fourth: a head bumped in Scots on a thinner; delirium in Mandarin,
        # Yorkshire and Scots words; Patois "mi" is no MI; "nai nai" a grandmother.
        ("fell yesterday and bumped his heid, on apixaban", "B_TRAUMA", True),
        # The review of the thirty-third set's changes.
        ("Needs repeat prescription, only has a handful of tablets left", "B_OVERDOSE", False),
        (
            "Back pain, ran out of paracetamol, was taking the maximum dose, needs prescription",
            "B_OVERDOSE",
            False,
        ),
        ("Head injury 3 weeks ago, now vomited x2 after a dodgy takeaway", "B_TRAUMA", False),
        (
            "Anxious, keeps asking what her blood results mean, hit her head last week",
            "B_TRAUMA",
            False,
        ),
        ("Jellyfish sting, stinger marks on both legs, burning pain", "B_TRAUMA", False),
        ("Scalded both hands on the gas burner", "B_TRAUMA", False),
        (
            "Sore shoulder reaching over the head with a paint roller, on rivaroxaban",
            "B_TRAUMA",
            False,
        ),
        ("Fell off bike, found on the bridge by a passer-by, grazed elbow", "B_PSYCH", False),
        ("Roughneck on the drill floor, H2S alarm went off and he collapsed", "B_OVERDOSE", True),
        ("Smelled rotten eggs in the manhole then dropped to the ground", "B_OVERDOSE", True),
        ("Tried to walk out into traffic, daughter grabbed him back, quiet", "B_PSYCH", True),
        (
            "Had baby 2 weeks ago, headache and blurry vision; had migraines months ago",
            "B_OBSTETRIC",
            True,
        ),
        ("Delivered 8 days ago, bad headache, blurred vision", "B_OBSTETRIC", True),
        ("Hit by cricket ball, knocked out some seconds, on rivaroxaban", "B_TRAUMA", True),
        ("On rivaroxaban, knocked out two front teeth playing hockey", "B_TRAUMA", False),
        ("since this morning he is hu tu, doesn't know he's in Vancouver", "B_ALTERED", True),
        ("proper dozy, picking at the covers and talking to her mam", "B_ALTERED", True),
        ("awfy sleepy and keeps asking me the same thing ower and ower", "B_ALTERED", True),
        ("mi belly a hurt mi down a di right side, it did start round mi navel", "B_ACS", False),
        ("hx MI 2015, chest pain now", "B_ACS", True),
        ("Rolled R ankle at soccer, nai nai rubbed die da jiu on it", "B_ABUSE", False),
        ("?NAI, bruises of different ages on a 4 month old", "B_ABUSE", True),
        # The review of the thirty-fourth set's changes.
        ("Paramedic ECG ?MI. Pt says mi belly a hurt mi and mi feel weak", "B_ACS", True),
        ("Likely MI on ECG per paramedics, mi daughter call ambulance", "B_ACS", True),
        (
            "Courier, delivered parcels all day in the heat, headache and blurred vision",
            "B_OBSTETRIC",
            False,
        ),
        ("Wife doesn't know he's in hospital, wants to call her, sore knee", "B_ALTERED", False),
        (
            "Anxious, keeps asking the same thing over and over about her scan results",
            "B_ALTERED",
            False,
        ),
        ("Teen proper dozy after gaming all night, ankle sprain", "B_ALTERED", False),
        ("Sore throat, taking lots of fluids and paracetamol", "B_OVERDOSE", False),
        ("Ran out of her prescription, took paracetamol all at once tonight", "B_OVERDOSE", True),
        (
            "Ran out of tramadol, taking paracetamol staggered, more than 8 a day",
            "B_OVERDOSE",
            True,
        ),
        (
            "Offensive discharge smelling of rotten eggs, pulled out a retained tampon",
            "B_OVERDOSE",
            False,
        ),
        (
            "H2S awareness training course, trainee had a panic attack and collapsed, no gas",
            "B_OVERDOSE",
            False,
        ),
        ("Brought in by police, found on the bridge at 3am, tearful", "B_PSYCH", True),
        ("Boy ran to walk out into traffic after his football", "B_PSYCH", False),
        ("On apixaban, beaten over the head with a walking stick", "B_TRAUMA", True),
        ("On warfarin, knocked out a filling eating toffee", "B_TRAUMA", False),
        (
            "Fell and hit her head this morning, vomited twice since. Hip replacement 6 weeks ago",
            "B_TRAUMA",
            True,
        ),
        # The thirty-fifth vignette set: "mi" in Bislama is "I" or "me"; a heaviness of the
        # upper stomach with a sweat running ("swet i ron") and "sot win" (short wind) is a
        # heart attack told in Bislama (below); German "ich" is "I", no brain bleed; coffee grounds
        # packed in a cut are a home remedy; "blood in eye means brain bleed" is a saying.
        ("Ae blong mi i red olsem blad, mi fraet tumas! mi luk klia nomo", "B_ACS", False),
        ("Mi harem nogud, mi wantem slip nomo", "B_ACS", False),
        ("?MI, mi harem nogud", "B_ACS", True),
        ("Ich bin nur umgeknickt, swelling lateral R ankle", "B_HEADACHE", False),
        ("?ICH, sudden headache then collapsed", "B_HEADACHE", True),
        ("Aunt packed the wound with coffee grounds, 3 cm cut to palm", "B_BLEEDING", False),
        ("vomiting with coffee grounds x2 today, dizzy", "B_BLEEDING", True),
        ("vomited, looked like coffee grounds, on aspirin", "B_BLEEDING", True),
        ('Friends told him "blood in eye means brain bleed"; vision normal', "B_EYE", False),
        ('Friends told him "blood in eye means brain bleed"; vision normal', "B_HEADACHE", False),
        ("punched in the eye, blood in the eye, cant see", "B_EYE", True),
        ("worried about a brain bleed, worst headache of her life", "B_HEADACHE", True),
        # ... and its review: a nurse's "ICH will need", a worry that "it means brain bleed",
        # coffee grounds brought up by a "20 pack year" smoker or on the sheets, a chest pain
        # in Bislama, the nurse's "MI" in capitals, a level of blood in front of the iris.
        ("CT at outside hospital shows ICH will need neurosurgery", "B_HEADACHE", True),
        ("on warfarin fell, daughter worried it means brain bleed", "B_HEADACHE", True),
        ("20 pack year smoker brought up coffee grounds twice", "B_BLEEDING", True),
        ("woke with sheets covered in coffee grounds, retching all night", "B_BLEEDING", True),
        ("put coffee grounds on the cut to stop the bleeding", "B_BLEEDING", False),
        ("mi harem pen long jes", "B_ACS", True),
        ("Bislama speaker, mi harem nogud. ECG shows MI", "B_ACS", True),
        ("punched in eye, blood level in front of the coloured part, sees clearly", "B_EYE", True),
        # A date past a comma and another item is that item's: "MI last year", "appendix
        # out last year" do not date the chest pain before them.
        ("chest pain and sweating, appendix out last year", "B_ACS", True),
        ("mi kam from Tanna, chest pain and sweating, MI last year", "B_ACS", True),
        ("chest pain, last year", "B_ACS", False),
        # Abnormal flexion to pain is posturing; of a joint, a deformity.
        ("abnormal flexion of both arms to pain, not opening eyes", "A_UNRESPONSIVE", True),
        ("fell on outstretched hand, abnormal flexion of the wrist", "A_UNRESPONSIVE", False),
        # The thirty-sixth vignette set: Japanese "nai" (not) and Thai or Lao "nai" (in) are
        # no non-accidental injury, "NAI" in capitals still is; French "ses cp" are tablets,
        # no chest pain; a stroke and a heart attack told in French; a stomach ache on
        # ibuprofen for days is no overdose.
        ("heso no mawari itai, 'shokuyoku nai' (no appetite)", "B_ABUSE", False),
        ("'atama wa utte nai' - no head strike per mom", "B_ABUSE", False),
        ("?NAI, bruises of different ages, mune ga itai", "B_ABUSE", True),
        ("toddler spiral fracture, ?nai", "B_ABUSE", True),
        ("ATCD HTA, ne prend plus ses cp depuis un mois", "B_ACS", False),
        ("CP since this morning, radiating to L arm", "B_ACS", True),
        ("'la bouche est tombee' a dr, parole pateuse, cherche ses mots", "B_STROKE", True),
        ("bras dr retombe quand il le leve", "B_STROKE", True),
        ("?AVC, debut 9h30", "B_STROKE", True),
        ("3 days of sore throat, taking paracetamol", "B_OVERDOSE", False),
        ("2 days of headache, took ibuprofen, no better", "B_OVERDOSE", False),
        ("a week of cough, taking paracetamol", "B_OVERDOSE", False),
        ("took her whole week's tablets at once", "B_OVERDOSE", True),
        ("paracetamol 8 a day for 4 days for toothache", "B_OVERDOSE", True),
        # ... and its review: the nurse's "nai" in a note quoting Japanese or Thai words, a
        # chest pain in French, "pas de fièvre" in a note of few French words, a
        # painkiller taken every two hours or uncounted; not "post-AVC", an AV canal
        # defect, "AVC il y a 2 ans", "cherche ses mots" of a speaker of another language,
        # "it transpired", French night sweats.
        (
            "toddler w/ burns to soles, family Thai speakers, 'jep', concern for nai",
            "B_ABUSE",
            True,
        ),
        ("3yo, grandma says 'atama', bruises different ages, nai", "B_ABUSE", True),
        ("Nai: bruises of different ages, mum says 'mune' when asked", "B_ABUSE", True),
        ("'jeb nai ok' since this morning", "B_ABUSE", False),
        ("Mme 66a, douleur thoracique ce matin, a pris ses cp de nitro", "B_ACS", True),
        (
            "toothache - paracetamol every 2 hrs for 3 days, now nauseous, RUQ pain",
            "B_OVERDOSE",
            True,
        ),
        ("whole week taking paracetamol + cold and flu tabs, lost count", "B_OVERDOSE", True),
        ("Mr, 68, post-AVC, vient pour renouvellement ordonnance", "B_STROKE", False),
        ("Trisomy 21, s/p AVC defect repair, here for ear pain", "B_STROKE", False),
        ("AVC il y a 2 ans, chute ce matin, douleur poignet g", "B_STROKE", False),
        ("cherche ses mots pour expliquer, parle peu anglais, mal au dos", "B_STROKE", False),
        (
            "It transpired he was drinking at the weekend, now epigastric pain, nausea",
            "B_ACS",
            False,
        ),
        ("sueurs nocturnes depuis 3 semaines, nausees, fatigue", "B_ACS", False),
        # The thirty-seventh vignette set: Malay "masuk angin" (a chill) and "minyak angin" (a
        # rubbing oil) are no angina; ketones with the vomiting of pregnancy are hyperemesis;
        # a cord out before the baby, told as "something came out ... it's beating", is read.
        ("saya masuk angin, dada sesak sikit, badan pegal", "B_ACS", False),
        ("chest tight with minyak angin rubbed on, worse walking up stairs", "B_ACS", True),
        (
            "hyperemesis, 11/40, vomiting 10x a day, can't keep fluids down, ketones 3+",
            "B_DKA",
            False,
        ),
        ("ketones 3+ on the stick, vomiting all day, 9 year old", "B_DKA", True),
        (
            "type 1 diabetic, 10 weeks pregnant, vomiting all night, can't keep anything down",
            "B_DKA",
            True,
        ),
        (
            "G3P2 36+2, waters went 20 min ago, 'me salio algo, como una tripa', esta latiendo",
            "A_CORD_PROLAPSE",
            True,
        ),
        ("38/40 in labour, cord visible at the vulva", "A_CORD_PROLAPSE", True),
        ("spinal cord injury C5 in 2010, here with a UTI", "A_CORD_PROLAPSE", False),
        ("39 weeks, waters broke, headache pulsing, BP 150/100", "A_CORD_PROLAPSE", False),
        # ... and its review: a cord told in other words; nothing else beating or between her
        # legs is one; ketones with an acidosis's breathing in pregnancy, or with a gliflozin
        # after one, are still read; a machine that "took the hand off himself" is still an
        # amputation (the idiom's bad cut is left read as one).
        ("umbilical cord protruding from vagina", "A_CORD_PROLAPSE", True),
        ("loop of cord felt on VE, pulsatile", "A_CORD_PROLAPSE", True),
        ("cord is coming out, waters broke", "A_CORD_PROLAPSE", True),
        (
            "38 weeks pregnant, rash between her legs, itching, heart beating fast",
            "A_CORD_PROLAPSE",
            False,
        ),
        (
            "Waters broke 38 weeks, feels something between my legs, fetal heart beating 140",
            "A_CORD_PROLAPSE",
            False,
        ),
        ("spinal cord seen on MRI to be intact, back pain", "A_CORD_PROLAPSE", False),
        (
            "Pregnant 20 weeks, vomiting, blood ketones 5.1, breathing deep and fast, glucose 11",
            "B_DKA",
            True,
        ),
        ("3 months post pregnancy, on dapagliflozin, vomiting, ketones 5", "B_DKA", True),
        (
            "heart failure on dapagliflozin, ankles swollen, more breathless on stairs",
            "B_DKA",
            False,
        ),
        ("Farmer caught in the baler, took the hand off himself, bleeding", "B_LIMB", True),
        # The thirty-eighth vignette set: a venomous snake's bite is high-risk however well
        # the patient looks (not a python's, nor a dog's bite where a snake was only seen);
        # "can't breathe thru nose" is a cold; "ate too much" and "one stubbie too many" are
        # no overdose beside a medicine; "it's roasting on the wing" is no fever.
        (
            "bitten on R ankle by a brown snake 1 hr ago, pressure bandage on, I'm right",
            "B_ENVENOMATION",
            True,
        ),
        ("bitten by a snake in the long grass, 2 fang marks, feels fine", "B_ENVENOMATION", True),
        ("funnel web spider bite on the foot", "B_ENVENOMATION", True),
        ("bitten by his pet python on the finger, small puncture wounds", "B_ENVENOMATION", False),
        ("dog bite to hand, saw a snake in the yard earlier", "B_ENVENOMATION", False),
        (
            "ma fi nafas, means her nose is blocked, can't breathe thru nose at night",
            "B_DISTRESS",
            False,
        ),
        ("can't breathe, lips going blue", "B_DISTRESS", True),
        (
            "58M, I ate too much makloubeh, burning upper stomach, DM2 on metformin",
            "B_OVERDOSE",
            False,
        ),
        ("took too many of her metformin tablets on purpose", "B_OVERDOSE", True),
        ("on warfarin, had one stubbie too many, speech jumbled", "B_OVERDOSE", False),
        ("it's roasting on the wing, bit sweaty, on chemo", "B_SEPSIS", False),
        # Their review: a snake's "bite" that is a drink, a piercing, a game, a pet python's
        # or years ago is none; a snake's bite told otherwise, or named by its kind, and a
        # box jellyfish's or blue-ringed octopus's sting are.
        ("Snake bite from his pet python, superficial scratches on hand", "B_ENVENOMATION", False),
        ("Drank 6 pints of snakebite at the student union, vomiting", "B_ENVENOMATION", False),
        ("Snake bite piercings in lower lip done 3 days ago, red", "B_ENVENOMATION", False),
        ("Bitten by a snake 2 years ago, anxious about the scar", "B_ENVENOMATION", False),
        ("bitten by a friend on the arm, playing snakes and ladders", "B_ENVENOMATION", False),
        ("black snake tattoo on arm, mosquito bite itchy", "B_ENVENOMATION", False),
        ("Bit by snake on R foot 30 min ago, pressure bandage on", "B_ENVENOMATION", True),
        ("Bitten by a snake while moving the cat food bowl", "B_ENVENOMATION", True),
        ("Bitten by an unknown snake, dog also there but was not bitten", "B_ENVENOMATION", True),
        ("Farmer bitten by a dugite on the hand, nausea", "B_ENVENOMATION", True),
        ("bitten on the foot by an eastern brown while bushwalking", "B_ENVENOMATION", True),
        ("Child stung by box jelly fish at beach, whip marks on legs", "B_ENVENOMATION", True),
        ("Stung by a blue ring octopus in rockpool, numb lips", "B_ENVENOMATION", True),
        # ... a medicine "too much" or "one too many" is still an overdose ...
        ("had one too many tramadol last night, now a bit vague", "B_OVERDOSE", True),
        ("Eaten too much paracetamol over the weekend for flu", "B_OVERDOSE", True),
        # ... a cord told as "something" that pulses or beats, a cord loop, a cord seen ...
        (
            "38 weeks, waters broke, something hanging between her legs, it is pulsing",
            "A_CORD_PROLAPSE",
            True,
        ),
        ("Breech, waters gone, loop of something at the vulva, pulsating", "A_CORD_PROLAPSE", True),
        ("In labour, waters broken, cord seen hanging out of vagina", "A_CORD_PROLAPSE", True),
        ("Pregnant 40/40, SROM, cord loop visible at introitus", "A_CORD_PROLAPSE", True),
        # ... a cancer's cord compressed in other words ...
        ("Known lung cancer, back pain, new weakness both legs, ?MSCC", "B_CAUDA_EQUINA", True),
        ("Cant move her legs since this morning, back pain, breast cancer", "B_CAUDA_EQUINA", True),
        (
            "Spinal cord compression known, prostate cancer, cant walk since this morning",
            "B_CAUDA_EQUINA",
            True,
        ),
        # ... ketones in a known pregnancy are its sickness, not a DKA (in a diabetic whose
        # pregnancy test was negative they are one) ...
        ("Known pregnancy 8 weeks, vomiting, ketones 4+, cant keep fluids down", "B_DKA", False),
        ("Pregnancy test positive last week, vomiting all day, ketones 2+", "B_DKA", False),
        ("T1DM, pregnancy test negative, vomiting, ketones 4+, abdo pain", "B_DKA", True),
        # The thirty-ninth vignette set: Cantonese "mo si" (no matter) is no suicidal
        # ideation, a mother's "she will finish her blood" (a nosebleed) no threat; coffee
        # grounds packed in a cut no bleeding stomach (a vomit with them in it still is).
        ("cut finger w/ cleaver, pt calm, says 'mo si, sew and go back work'", "B_PSYCH", False),
        ("Mom: blood everywhere, she will finish her blood! nosebleed stopped", "B_PSYCH", False),
        ("Lac ~3 cm, gaping, coffee grounds in it, no active bleeding", "B_BLEEDING", False),
        ("cut finger yesterday, vomited with coffee grounds in it", "B_BLEEDING", True),
        # A bleed on the white of the eye after vomiting, its vision normal and its pain 0,
        # is no eye emergency nor bleeding stomach.
        (
            'Bright red patch L lateral sclera, vision "nomal", reads wall chart fine both eyes. '
            "Vomited + coughed a lot last night. Pain 0.",
            "B_EYE",
            False,
        ),
        (
            "Bright red patch L lateral sclera, vision normal. Vomited + coughed a lot last night",
            "B_BLEEDING",
            False,
        ),
        ("woke with L eye red, vomited overnight. Pain 0/10.", "B_EYE", False),
        ("woke with L eye red and painful, vomited overnight, halos", "B_EYE", True),
        # The snake's bite with a pint, a tick, a tattoo or a python elsewhere in the note is
        # still one; another animal's bite where a snake is only around, and an antivenom
        # given days ago for a spider, are none.
        ("Snake bite to ankle 20 min ago, had 4 pints earlier", "B_ENVENOMATION", True),
        ("Snake bite to hand 1 hr ago, also had a tick removed", "B_ENVENOMATION", True),
        ("keeper bitten on hand by a taipan, keeps pythons at home", "B_ENVENOMATION", True),
        ("Bitten by snake 10 min ago, had a tattoo done on that leg", "B_ENVENOMATION", True),
        ("Kid bit by snake at school camp, pressure bandage on", "B_ENVENOMATION", True),
        ("Bit by a dog while hiking, dog was chasing a snake", "B_ENVENOMATION", False),
        ("Bitten by cat on hand, owner has a snake tank too", "B_ENVENOMATION", False),
        ("Spider bites on legs, lots of snakes round the farm", "B_ENVENOMATION", False),
        ("Redback spider bite 2 days ago, antivenom given, itchy rash", "B_ENVENOMATION", False),
        # Its second review: a named snake's bite whatever lip was bitten, a "snake bite"
        # whatever flea bites, no bite in "bites her nails", "a bit on edge", a kit.
        ("bitten by a death adder on the foot, bit his lip when he fell", "B_ENVENOMATION", True),
        ("snake bite to ankle 1 hr ago, also covered in flea bites", "B_ENVENOMATION", True),
        ("anxious, bites her nails, phobia of snakes", "B_ENVENOMATION", False),
        ("feeling a bit on edge after seeing a snake in the shed", "B_ENVENOMATION", False),
        ("snake bite kit in car, bee sting to hand", "B_ENVENOMATION", False),
        ("snake bite to ankle, applied snake bite kit bandage", "B_ENVENOMATION", True),
        ("snake bite 6 months ago, wound check", "B_ENVENOMATION", False),
        # A slash list negated after it is negated whole.
        ("low mood, suicidal/homicidal ideation denied, sleeping poorly", "B_PSYCH", False),
        # The forty-eighth vignette set: a heart attack, a button battery and a confusion told
        # in Dutch or Flemish, denied by "ontkent", "geen" or "niet"; a head struck on
        # Marevan (warfarin); a wish to die told in Norwegian; "I dont want to die" is fear.
        ("pijn op de borst sinds 1 uur, klam en zweterig", "B_ACS", True),
        ("drukkend gevoel op de borst, straalt uit naar kaak", "B_ACS", True),
        ("ontkent pijn op de borst, niet kortademig", "B_ACS", False),
        ("'ik heb het batterijke niet meer teruggevonden', kwijlt, 2 jaar", "B_OVERDOSE", True),
        ("we hebben het batterijke teruggevonden, hij is ok", "B_OVERDOSE", False),
        ("'ze doet gewoon raar', vroeg 3x welke dag het is", "B_ALTERED", True),
        ("pt is niet verward, wel moe", "B_ALTERED", False),
        ("on Marevan, hit head on ice, small hematoma", "B_TRAUMA", True),
        ("'det hadde vaert like greit om havet tok mae', brev til ungan", "B_PSYCH", True),
        ("selvmordstanker med plan, hagle hjemme", "B_PSYCH", True),
        ("ingen selvmordstanker, sover darlig", "B_PSYCH", False),
        ("bit by dog, 'I dont want to die like my uncle' (rabies)", "B_PSYCH", False),
        ("L eye red after vomiting on the bus, bright red patch, doesnt hurt", "B_EYE", False),
        # Its review: a Dutch negation ends at "maar" or "wel" (but), "niet" negates only the
        # word after it, "geen" after a chest pain answers it only after a colon; Norwegian
        # denials, not "ingen" (nobody) further back; a knee that "doet raar"; a battery
        # found again or changed.
        ("geen koorts maar wel chest pain", "B_ACS", True),
        ("kon niet slapen door pijn op de borst sinds 3 uur", "B_ACS", True),
        ("borstpijn geen koorts", "B_ACS", True),
        ("borstpijn: nee", "B_ACS", False),
        ("herkent zijn vrouw niet meer en is verward", "B_ALTERED", True),
        ("fell hit head, niet bewusteloos geweest maar wel on warfarin", "B_TRAUMA", True),
        ("har ikke selvmordstanker, sover darlig", "B_PSYCH", False),
        ("benekter selvmordstanker", "B_PSYCH", False),
        ("foler at ingen bryr seg vil ikke leve lenger", "B_PSYCH", True),
        ("mijn knie doet raar sinds de val", "B_ALTERED", False),
        ("batterijke is teruggevonden onder de zetel, kind ok", "B_OVERDOSE", False),
        ("ik heb het batterijtje van zijn hoorapparaat vervangen, oorpijn", "B_OVERDOSE", False),
        ("L eye red and hurts, vomiting, halos round lights", "B_EYE", True),
        # The fifty-second vignette set: a wish not to wake told in passing, tablets kept by
        # the drawerful and thought about, a wish not to exist told in Icelandic (its "ð"
        # read as "d"), and in Finnish, Hungarian, Albanian, Czech, isiZulu, Shona and
        # Afrikaans; each denied in its language.
        ("when asked re: sleep 'wouldn't bother me if I didn't wake up'", "B_PSYCH", True),
        ("'got a drawer full of her old tablets, been thinking about it'", "B_PSYCH", True),
        ("'Ég vil ekki vera til lengur' and 'ég er búin að ákveða hvernig'", "B_PSYCH", True),
        ("'en halua elää enää', isä löysi viestin", "B_PSYCH", True),
        ("'nem akarok élni', said in Hungarian", "B_PSYCH", True),
        ("'nuk dua të jetoj më'", "B_PSYCH", True),
        ("'nechci žít', cut wrists superficial", "B_PSYCH", True),
        ("'Ngifuna ukufa' said in isiZulu", "B_PSYCH", True),
        ("'ndinoda kufa', mother says", "B_PSYCH", True),
        ("'ek wil dood', Afrikaans", "B_PSYCH", True),
        ("neitar sjálfsvígshugsunum, handleggsbrot", "B_PSYCH", False),
        ("ei itsemurha-ajatuksia, nilkka kipeä", "B_PSYCH", False),
        ("nincs öngyilkossági gondolata, láz", "B_PSYCH", False),
        ("bez sebevražedných myšlenek, kašel", "B_PSYCH", False),
        # After review: "nem", "ei", "bez" deny only right before what they deny (they are
        # also "nor", "not", "without"); Maltese and isiZulu denials; a bag of medicines
        # brought for a review with a depression in the history is no plan.
        ("não dorme nem come com dor no peito desde ontem", "B_ACS", True),
        ("azt mondja nem bírja tovább, meg akarok halni", "B_PSYCH", True),
        ("bez něj nechci žít, rozchod s přítelem", "B_PSYCH", True),
        ("hän sanoo ei jaksa enää, haluan kuolla", "B_PSYCH", True),
        ("ei halua elää enää", "B_PSYCH", True),
        ("jiċħad ħsibijiet ta' suwiċidju", "B_PSYCH", False),
        ("uyaphika ukuzibulala, ankle", "B_PSYCH", False),
        ("brought in a bag full of meds for med rec, hx depression, hip pain", "B_PSYCH", False),
        # The fiftieth vignette set: a wish not to live told in Fiji Hindi; a Burmese "si"
        # and "nai" are words of the language, not suicidal ideation or a non-accidental
        # injury (as the nurse's own abbreviations they still are).
        ("'hum jiye nahi mangta', weedicide ke bottle ghar me", "B_PSYCH", True),
        ("'jeene ka mann nahi', no sleep since the wedding talk", "B_PSYCH", True),
        ("drank weedicide from the shed an hour ago, vomiting", "B_OVERDOSE", True),
        ("wife: 'myet si ka thway htwet nay de', red patch white of L eye", "B_PSYCH", False),
        ("pt endorses si with plan, low mood", "B_PSYCH", True),
        ("wife: 'ma sar nai bu', fever 5 days, cough", "B_ABUSE", False),
        ("concern for NAI, bruises of different ages", "B_ABUSE", True),
        # The forty-ninth vignette set: heart attacks, strokes, ruptured ectopic pregnancies
        # and heads struck on blood thinners told in Italian (and Neapolitan or Sicilian),
        # German or French (and Wolof); a child's spots that do not fade under a glass told in
        # Bavarian; a weedkiller drunk in French; suicide told in Urdu or Russian; each denied
        # in its language ("nega", "kein", "senza", "otritsaet", a "nahi" after); a slow
        # speed is no high-energy crash.
        ("tengo 'na pressione ccà (indica sterno), fastidio al braccio sx", "B_ACS", True),
        ("Druck auf der Brust seit 1h, zieht in den Kiefer", "B_ACS", True),
        ("Brust gerötet und geschwollen, stillt, Fieber 38.5", "B_ACS", False),
        ("'avi 'a vucca storta e parra comu 'n 'mbriacu', deriva arto sup dx", "B_STROKE", True),
        ("Mundwinkel hängt, verwaschene Sprache seit 8 Uhr", "B_STROKE", True),
        ("'Làmmiñam dafa diis' (sa langue est lourde), sa main n'a pas de force", "B_STROKE", True),
        ("beta ka munh tedha ho gaya, zaban larkhara rahi hai", "B_STROKE", True),
        ("rot perekosilo, ruka ne slushaetsya", "B_STROKE", True),
        ("Keine Sprachstörung, kein hängender Mundwinkel, Kopfweh", "B_STROKE", False),
        ("nega disartria, cefalea", "B_STROKE", False),
        ("paura di un ictus all'occhio, ho letto su internet", "B_STROKE", False),
        ("UM ca 6-7 sett fa, dolore basso ventre dx, perdite scure", "B_ECTOPIC", True),
        ("LMP ca. 7 Wo, Bauchweh links unten, Schmierblutung", "B_ECTOPIC", True),
        ("retard ~6 sem, mal de ventre bas côté D, pertes marron", "B_ECTOPIC", True),
        ("pt says um, cough 6 wks, abd pain", "B_ECTOPIC", False),
        ("battuto la testa sul lavandino, in tp con coumadin", "B_TRAUMA", True),
        ("Kopf am Lavabo angeschlagen, Xarelto 20 mg wg. VHF", "B_TRAUMA", True),
        (
            "Fieber, 'kloane rote Pünktal an de Füß, die gehn beim Glas ned weg'",
            "B_MENINGITIS",
            True,
        ),
        ("Fieber, kein Ausschlag", "B_MENINGITIS", False),
        ("a bu 'un peu' de Gramoxone (herbicide) il y a 1h", "B_OVERDOSE", True),
        ("'tum log mere baghair behtar raho ge', found standing by the nehar", "B_PSYCH", True),
        ("khudkushi ka koi irada nahi, tension hai", "B_PSYCH", False),
        ("ona razdala svoi veshchi, telefon mne otdala", "B_PSYCH", True),
        ("otritsaet suitsidalnye mysli, ne spit", "B_PSYCH", False),
        ("voglio farla finita, non dormo", "B_PSYCH", True),
        ("Keine Suizidgedanken, schläft schlecht", "B_PSYCH", False),
        ("sensation de poids sur la poitrine, irradie dans le bras gauche", "B_ACS", True),
        (
            "passager moto, glissé à petite vitesse (~20 km/h), accident, plaie avant-bras",
            "B_TRAUMA",
            False,
        ),
        ("motorbike accident at 60 km/h, thrown off", "B_TRAUMA", True),
        # The forty-seventh vignette set: a plan to jump off a bridge told in Spanish, a wish
        # to die in Spanish or Portuguese, not denied before it nor a pain one could die of;
        # chest pain and a cold sweat told in Indonesian ("keringat" is no Kernig's sign);
        # findings marked "(-)" are absent; a bone "come out" where the nurse saw none.
        ("'pa que sigo aqui, mejor me aviento del puente y ya'", "B_PSYCH", True),
        ("'me quiero morir', llora mucho, no duerme", "B_PSYCH", True),
        ("ya no quiero vivir dice la paciente", "B_PSYCH", True),
        ("nao quero mais viver, chora muito", "B_PSYCH", True),
        ("quiere tirarse de un puente", "B_PSYCH", True),
        ("niega ideas suicidas, dolor de cabeza", "B_PSYCH", False),
        ("sin ideas suicidas, insomnio", "B_PSYCH", False),
        ("paciente nega ideacao suicida, insonia", "B_PSYCH", False),
        ("me quiero morir del dolor, colico renal", "B_PSYCH", False),
        ("se cayo, me tiro de la cama", "B_PSYCH", False),
        ("me aviento a trabajar manana", "B_PSYCH", False),
        ("este dolor va a matarme", "B_PSYCH", False),
        ("nyeri dada (+) sejak 1 jam, keringat dingin", "B_ACS", True),
        ("tidak ada nyeri dada, batuk pilek", "B_ACS", False),
        ("keringat dingin, pusing", "B_MENINGITIS", False),
        ("stung by jellyfish, welts. SOB (-), throat tight (-), CP (-)", "B_ACS", False),
        ("stung by jellyfish, welts. SOB (-), throat tight (-), CP (-)", "B_SOB", False),
        ("chest pain (+), SOB (-), sweaty", "B_ACS", True),
        ("'the bone come out!!' - PIP swollen, skin intact, no bone visible", "B_LIMB", False),
        ("fell off ladder, bone sticking out of shin, bleeding", "B_LIMB", True),
        # Its review: "nao aguento mais" (I can't take it any more) is no denial, nor a "no"
        # after; "nega" stops at its comma; "SEM" is a murmur; "tanpa sebab" is "without a
        # cause"; a horse that threw him, a dive, a sofa and a joke are no suicide; a bone
        # that went back in through torn skin is an open fracture.
        ("nao aguento mais quero morrer", "B_PSYCH", True),
        ("quero morrer nao aguento mais", "B_PSYCH", True),
        ("me quiero matar no vale la pena nada", "B_PSYCH", True),
        ("quero morrer com essa depressao", "B_PSYCH", True),
        ("quiere morir? no", "B_PSYCH", False),
        ("sem ideacao suicida, insonia", "B_PSYCH", False),
        ("HAS, DM, nega tabagismo, refere dor no peito em aperto", "B_ACS", True),
        ("nega alergias, refere chest pain irradiando para braco esquerdo", "B_ACS", True),
        ("tidak bisa tidur karena chest pain radiating to L arm", "B_ACS", True),
        ("tanpa sebab nyeri dada tiba2, keringat dingin", "B_ACS", True),
        ("GP letter: loud SEM with exertional chest pain", "B_ACS", True),
        ("el caballo me tiro del lomo, dolor de cadera", "B_PSYCH", False),
        ("me tiro al mar de clavado, dolor de cuello", "B_PSYCH", False),
        ("cai do sofa, quero me jogar do sofa rs", "B_PSYCH", False),
        ("jaja mejor muerto que sencillo, dolor de muela", "B_PSYCH", False),
        (
            "'the bone come out!!' skin torn over wrist, no bone visible now, went back in",
            "B_LIMB",
            True,
        ),
        # The forty-sixth vignette set: a wish to jump told in Nepali or as a feeling, not a
        # child jumping from a shed; paper towels soaked with a cut's blood are no sweat; a
        # Pidgin "my kids too much" is no overdose.
        ("sometimes feels like jumping from camp roof, no sleep 2 months", "B_PSYCH", True),
        ("'camp ko chhat bata hamfalu jasto lagcha', sleep chaina", "B_PSYCH", True),
        ("'marna man lagcha', loan back home, no salary", "B_PSYCH", True),
        ("kid jumping from the shed roof, hurt ankle", "B_PSYCH", False),
        (
            "dad holding soaked paper towels, 2 cm gaping lac under chin, jaw opens fine",
            "B_ACS",
            False,
        ),
        (
            "diabetic on insulin, leg red and hot. 'My kids too much, I only came so they stop'",
            "B_OVERDOSE",
            False,
        ),
        ("took too much insulin by mistake, shaky", "B_OVERDOSE", True),
        # Its review: denied in Nepali after the words, in the past or a relative's; a pain
        # that "feels like dying"; a heart that feels like jumping; sweat soaked through.
        ("'marna man lagdaina', just tired from work", "B_PSYCH", False),
        ("aatmahatya ko bichar chaina, sleeping ok", "B_PSYCH", False),
        ("mama le aatmahatya gareko thiyo 2 barsa agadi, anxious", "B_PSYCH", False),
        ("dukhera mari jau jasto, belly pain", "B_PSYCH", False),
        ("marne man lagcha, no sleep", "B_PSYCH", True),
        ("aatma hatya garchu bhancha", "B_PSYCH", True),
        ("heart feels like jumping, lives on the roof floor", "B_PSYCH", False),
        ("chest tight, soaked through with sweat, pain to left arm", "B_ACS", True),
        ("she gave her son too much, the paracetamol syrup", "B_OVERDOSE", True),
        # The forty-fifth vignette set: a heart attack and a suicidal plan told in Turkish
        # (the dotless "\u0131" read as "i"), none when "yok" (none) or history follows; a
        # stove that caught fire with a hoarse voice after it is an airway burn.
        (
            "1 saattir göğüs ortas\u0131nda bask\u0131, sol kola vuruyor, terlemiş",
            "B_ACS",
            True,
        ),
        ("göğüs ağr\u0131s\u0131 yok, kar\u0131n ağr\u0131s\u0131 var", "B_ACS", False),
        ("Sorunca: evde ip haz\u0131rlam\u0131ş, kardeşi bulmuş", "B_PSYCH", True),
        ("'ölmek istiyorum' diyor, uyuyam\u0131yor", "B_PSYCH", True),
        ("intihar düşüncesi yok, uyku bozukluğu", "B_PSYCH", False),
        ("geçmişte intihar girişimi var, bugün ayak bileği burkulmas\u0131", "B_PSYCH", False),
        (
            "gas stove caught fire in closed kitchen, she was inside 10 min, voice hoarse",
            "A_RESP_DISTRESS",
            True,
        ),
        ("the pan caught fire, small burn on the back of her hand", "A_RESP_DISTRESS", False),
        # ... and its review: Turkish's question "m\u0131" is no MI; a denial after a list
        # or a question denies; a breast that feeds is no chest; a relative's suicide, a
        # child's jump at play, an attempt years ago are none; a thing that caught fire
        # (toast, hair) is no smoke breathed in; a home on fire and a raspy voice are.
        ("ateşi var m\u0131 diye soruldu, 3 gündür boğaz ağr\u0131s\u0131", "B_ACS", False),
        ("göğüs ağr\u0131s\u0131 var m\u0131? yok. sadece öksürük", "B_ACS", False),
        ("göğüs ağr\u0131s\u0131 var m\u0131? var, sol kola vuruyor", "B_ACS", True),
        ("göğüs ağr\u0131s\u0131, nefes darl\u0131ğ\u0131 yok, öksürük", "B_ACS", False),
        ("emziriyor, sol göğsünde ağr\u0131 ve k\u0131zar\u0131kl\u0131k", "B_ACS", False),
        ("kalbim s\u0131k\u0131ş\u0131yor, sol kolum uyuşuyor", "B_ACS", True),
        ("intihar düşüncesi veya plan\u0131 yok", "B_PSYCH", False),
        ("intihar düşüncesi: yok.", "B_PSYCH", False),
        ("5 y\u0131l önce intihar girişimi, bugün öksürük", "B_PSYCH", False),
        ("annesi geçen y\u0131l intihar etti, yas, uyuyam\u0131yor", "B_PSYCH", False),
        ("çocuk balkondan atlad\u0131 oynarken, birinci kattan", "B_PSYCH", False),
        ("intihar plan\u0131 var, ilaçlar\u0131 biriktirmiş", "B_PSYCH", True),
        ("can\u0131na k\u0131ymak istiyor", "B_PSYCH", True),
        ("toast caught fire this morning; 3 days hoarse, runny nose", "A_RESP_DISTRESS", False),
        ("hair caught fire on a birthday candle, singed fringe", "B_OVERDOSE", False),
        ("kitchen was on fire, she was inside, voice hoarse now", "A_RESP_DISTRESS", True),
        ("apartment fire, voice raspy", "A_RESP_DISTRESS", True),
        # The forty-fourth vignette set: a stroke told in Quebec French, its disorientation in
        # English; the corner of a mouth is no coin; where one is going is no confusion.
        (
            '"A parle toute croche depuis à matin", coin de la bouche droit qui tombe',
            "B_STROKE",
            True,
        ),
        ("78F, can't tell me where she is or the day", "B_ALTERED", True),
        ("cant say where he is going to live, homeless, wants a bed", "B_ALTERED", False),
        # ... and its review: a face crooked for years or by a dentist's numbing is none, nor
        # where a child is hurting.
        (
            "Visage croche depuis sa paralysie de Bell il y a 10 ans, vient pour un rhume",
            "B_STROKE",
            False,
        ),
        (
            "Bouche croche depuis la gelée chez le dentiste il y a 1 heure, sinon bien",
            "B_STROKE",
            False,
        ),
        ("Elle parle croche depuis 30 minutes", "B_STROKE", True),
        ("Can't tell me where she is hurting, toddler fussy with runny nose", "B_ALTERED", False),
        # The forty-third vignette set: German "ich" (I), Italian or Spanish "mi" and "si" in
        # a note in that language are words, unless written in capitals or framed as the
        # nurse's; a heart attack told in German shorthand; pills stolen, not taken.
        (
            "li Sprunggelenk umgeknickt. 'Morgen hab ich 6 Tandems gebucht, mach mir n Tape'",
            "B_HEADACHE",
            False,
        ),
        (
            "sudden worst headache, CT shows ICH, Sohn sagt 'er ist seit heute so'",
            "B_HEADACHE",
            True,
        ),
        (
            "'ho la diarrea da ieri', le gira la testa quando si alza, 'mi fate una flebo'",
            "B_ACS",
            False,
        ),
        (
            "'ho la diarrea da ieri', le gira la testa quando si alza, 'mi fate una flebo'",
            "B_PSYCH",
            False,
        ),
        # ... and its review: framed as the nurse's, in a note all in capitals, or after a
        # place name, they are still the abbreviations; a breast is no chest, a heartburn
        # behind the breastbone no chest pain, a teenager found with all her pills still an
        # overdose.
        (
            'Tochter: "er hat seit heute Kopfschmerzen und erbricht", outside CT: small ich',
            "B_HEADACHE",
            True,
        ),
        (
            'FAMILY SAYS "ER HAT SEIT GESTERN KOPFWEH UND IST MUDE". CT: SMALL ICH',
            "B_HEADACHE",
            True,
        ),
        ("PT FROM EL PASO, LAS CRUCES RESIDENT, ENDORSES SI WITH PLAN", "B_PSYCH", True),
        ('Spanish-speaking pt, "me siento muy mal desde hace dias", endorses si', "B_PSYCH", True),
        ('Italian family "sta male da ieri", recent mi 2 weeks ago, now unwell', "B_ACS", True),
        ("French pt \"j'ai mal au dos depuis hier, si je me penche c'est pire\"", "B_PSYCH", False),
        ('Sohn sagt "mein Vater ist heute gestürzt", ?SAH/ICH, on apixaban', "B_HEADACHE", True),
        ('breastfeeding mom, "Schmerz Brust rechts beim Stillen", nipple cracked', "B_ACS", False),
        ('Sodbrennen seit Wochen, "brennen hinter dem Brustbein nach Essen"', "B_ACS", False),
        ("mum found her with all her pills, 15yo, crying", "B_OVERDOSE", True),
        ("needs refill of all his pills, pharmacy closed", "B_OVERDOSE", False),
        ("handbag stolen in terminal with all her tablets in it", "B_OVERDOSE", False),
        ("'tengo dolor aqui', pain in chest radiating to L arm, ?MI", "B_ACS", True),
        ("depressed, SI with plan, 'no quiero vivir', dice que tiene pastillas", "B_PSYCH", True),
        ("seit ca 30 min 'Druck' Brustmitte, zieht in li Kiefer. Schwitzt kalt", "B_ACS", True),
        ("kein Druck Brustmitte, Husten seit gestern", "B_ACS", False),
        ("Somebody stole my bag with all my pills, I need my pressure pills", "B_OVERDOSE", False),
        ("took all her pills this morning after a fight", "B_OVERDOSE", True),
        # The forty-second vignette set: trampled, gored or crushed by a large animal, or its
        # kick to the trunk or the head; not its kick to a shin nor its weight on a foot.
        (
            "knocked down + trampled in the cattle yards ~1hr ago, 'bull got me in the guts'",
            "B_TRAUMA",
            True,
        ),
        ("horse kicked him in the chest at the stables", "B_TRAUMA", True),
        ("gored by a bull in the thigh at the rodeo", "B_TRAUMA", True),
        ("trampled in the crowd at the concert gates", "B_TRAUMA", True),
        ("horse kicked my shin, bruised, walking", "B_TRAUMA", False),
        ("cow stood on my foot in the milking shed, toe swollen", "B_TRAUMA", False),
        ("horse trampled his foot, can weight bear", "B_TRAUMA", False),
        # ... and its review: its weight on the trunk or on the person, a crowd's trampling,
        # whatever else the note tells; not its weight on a hand or a foot, a kick whose
        # trunk is only examined or denied, a horse of a riding lesson or a head collar, a
        # can of Red Bull, cow's milk, a mosh pit's fall, an old goring.
        ("cow stood on his chest in the yard, sore ribs", "B_TRAUMA", True),
        ("bull trampled him, bruised abdomen, also stood on his foot", "B_TRAUMA", True),
        ("stampede at stadium, trampled, abdo pain, LUQ tender", "B_TRAUMA", True),
        ("camel fell on him at the farm", "B_TRAUMA", True),
        ("bull knocked her down and knelt on her chest", "B_TRAUMA", True),
        ("pony stood on her L foot, swollen, weight bearing", "B_TRAUMA", False),
        ("horse stood on her hand while picking hoof, swollen fingers", "B_TRAUMA", False),
        ("horse riding lesson, rolled on her ankle dismounting", "B_TRAUMA", False),
        ("kicked by cow to L thigh. chest clear, abdo soft", "B_TRAUMA", False),
        ("kicked by horse to thigh, didnt hit head, denies chest pain", "B_TRAUMA", False),
        ("horse head collar slipped, kicked him in the thigh", "B_TRAUMA", False),
        (
            "palpitations after 4 red bulls, chest fluttery, waiting for it to kick in",
            "B_TRAUMA",
            False,
        ),
        ("4mo, cows milk protein allergy, kicked legs, tummy pain, crying", "B_TRAUMA", False),
        ("in mosh pit at gig, someone fell on him, sore ankle", "B_TRAUMA", False),
        ("old injury: gored by cow 10 yrs ago, today cough", "B_TRAUMA", False),
        ("bull tossed him over the fence, neck pain", "B_TORSION", False),
        # The forty-first vignette set: a pregnancy told in Spanish months or Mayan moons
        # with its signs in Spanish (a baby of 7 months is no pregnancy), a bleed on the
        # white of the left eye after vomiting.
        ("como siete lunas pregnant, veo chispitas, face and hands puffy", "B_OBSTETRIC", True),
        ("embarazada de 8 meses, sangrado vaginal", "B_OBSTETRIC", True),
        ("bebe de 7 meses con sangrado de nariz", "B_OBSTETRIC", False),
        (
            "Bright red flat patch lateral white of L eye. Vomited hard in the bus last night",
            "B_BLEEDING",
            False,
        ),
        # "3 mo" is three months: its SI is suicidal ideation.
        ("Depressed x 3 mo SI with plan, lives alone", "B_PSYCH", True),
        # The fortieth vignette set: "everyone will be better off if I'm gone"; a night-time
        # spell unrousable with a brother's death in his sleep at 34 (not a grandfather's at
        # 90); a runner's collapse with "no shock advised", sitting up now, is no arrest; a
        # grandmother at the desk is no
        # grandmother's pills.
        ("says everyone will be better off if im gone, not sleeping", "B_PSYCH", True),
        ("bought charcoal for the bbq, burnt hand on the grill", "B_PSYCH", False),
        (
            "wife: he make noise like choking, he don't wake up maybe 1 min. brother died in "
            "sleep age 34",
            "B_SYNCOPE",
            True,
        ),
        ("collapsed at home, grandfather died in his sleep aged 90", "B_SYNCOPE", False),
        # Its review: a blood relative's death young, named so, whoever else is named; not a
        # husband's or a son's in a crash, a documentary, or a family history answered none.
        ("fainted at home, father died suddenly at 39, lives with grandma", "B_SYNCOPE", True),
        ("passed out, FH: brother died suddenly at 28, no FH of diabetes", "B_SYNCOPE", True),
        ("fainted at the funeral of her husband who died suddenly", "B_SYNCOPE", False),
        ("fainted watching a documentary about sudden death in athletes", "B_SYNCOPE", False),
        ("blacked out, family history of sudden death: none", "B_SYNCOPE", False),
        ("collapsed at mile 20 of marathon, AED pads on, now sitting up", "B_SYNCOPE", True),
        ("burning charcoal in his bedroom with the windows sealed", "B_PSYCH", True),
        ("bought bbq charcoal, burnt hand on the grill, taped a dressing on", "B_PSYCH", False),
        ("says work is easier if im gone for a week, needs sick note", "B_PSYCH", False),
        ("thirsty and peeing a lot, vomiting, thrush, stinging down below", "B_DKA", True),
        ("toddler ate lots of red dragon fruit, red stool, grandma upset", "B_OVERDOSE", False),
        ("toddler ate grandma's pills, unsure how many", "B_OVERDOSE", True),
        ("thirsty, weeing all the time for 2 weeks, now vomiting, breathing deep", "B_DKA", True),
    ],
)
def test_situations_in_words_the_lists_had_missed(complaint: str, code: str, fires: bool) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=ADULT))) is fires


def test_what_the_nurse_saw_keeps_the_meaning_match_from_firing_alone() -> None:
    """A teenager's "the bone come out!!" reads like an open fracture by meaning; the
    nurse's "no bone visible" rules it out (the forty-seventh vignette set), a bone seen
    does not."""
    told = "jammed finger, crying 'the bone come out!!', skin intact, no bone visible"
    seen = "jammed finger, crying 'the bone come out!!', bone visible at the PIP"
    similar = {"B_LIMB": "the bone come out"}

    assert "B_LIMB" not in codes(esi_rules(complaint=told, vitals=ADULT, similar=similar))
    assert "B_LIMB" in codes(esi_rules(complaint=seen, vitals=ADULT, similar=similar))


def test_a_wish_not_to_wake_keeps_the_meaning_match_of_unresponsive_from_firing() -> None:
    """ "Wouldn't bother me if I didn't wake up" reads like an unresponsive patient by
    meaning (the fifty-second vignette set); it is a suicide risk told by someone awake. A
    patient who did not wake is still unresponsive."""
    wish = "wouldn't bother me if I didn't wake up, to be honest"
    found = "found by mum, didn't wake up when she shook him"

    wished = esi_rules(complaint=wish, vitals=ADULT, similar={"A_UNRESPONSIVE": wish})
    assert "A_UNRESPONSIVE" not in codes(wished)
    assert "B_PSYCH" in codes(wished)
    assert "A_UNRESPONSIVE" in codes(
        esi_rules(complaint=found, vitals=ADULT, similar={"A_UNRESPONSIVE": found})
    )


def test_a_known_look_alike_keeps_the_meaning_match_from_firing_alone() -> None:
    """A painless red patch on the white of the eye reads like an eye emergency by meaning
    (the vignette sets 20-22); its words veto the meaning match, never the concept's own."""
    patch = "woke up with a bright red patch on the white of L eye after coughing, vision fine"
    lost = "bright red patch on the white of the eye, sudden loss of vision in that eye"
    similar = {"B_EYE": "bright red patch on the white of L eye"}

    assert "B_EYE" not in codes(esi_rules(complaint=patch, vitals=ADULT, similar=similar))
    assert "B_EYE" in codes(esi_rules(complaint=lost, vitals=ADULT, similar=similar))
    assert "B_EYE" in codes(
        esi_rules(complaint="eye went red and painful, halos", vitals=ADULT, similar=similar)
    )
    # A blow with blurred vision has no normal vision to veto it.
    blow = "punched in the eye, blood in the white of the eye, vision blurry"
    assert "B_EYE" in codes(esi_rules(complaint=blow, vitals=ADULT, similar=similar))
    # Told as a flat patch with the sight clear (the thirty-fifth vignette set).
    clear = "eye full of blood after coughing; flat patch over the white of eye, sees clearly"
    badge = {"B_EYE": "Reads name badge with each eye covered in turn"}
    assert "B_EYE" not in codes(esi_rules(complaint=clear, vitals=ADULT, similar=badge))
    # A sting's local reaction, told as such, with a worry that reads like anaphylaxis (the
    # thirty-sixth vignette set); the signs of one still fire it.
    worry = {"B_ANAPHYLAXIS": "my mum nearly died from a bee sting, am I gonna go into shock"}
    local = (
        "stung by wasp R forearm, red raised area 3cm with central punctum. "
        + worry["B_ANAPHYLAXIS"]
    )
    assert "B_ANAPHYLAXIS" not in codes(esi_rules(complaint=local, vitals=ADULT, similar=worry))
    # ... nor when a sign beyond the skin is told in words the phrases miss (its review).
    hoarse = (
        "bee sting to neck, stinger removed by husband, now voice hoarse, feels like passing out"
    )
    assert "B_ANAPHYLAXIS" in codes(esi_rules(complaint=hoarse, vitals=ADULT, similar=worry))
    spreading = "stung by a wasp, central punctum, now hives all over and wheezy"
    assert "B_ANAPHYLAXIS" in codes(esi_rules(complaint=spreading, vitals=ADULT, similar=worry))
    assert "B_ANAPHYLAXIS" in codes(
        esi_rules(complaint="stung by a bee, feels faint and odd", vitals=ADULT, similar=worry)
    )


def test_a_heart_attack_told_in_bislama_is_read_by_its_sweat_and_short_wind() -> None:
    """The thirty-fifth vignette set: a 58-year-old diabetic's "bel antap i hevi" (upper
    stomach heavy), "swet i ron" (sweat running), "sot win smol" (a little short of breath),
    found once only by misreading his "mi" as a heart attack."""
    note = "'Mi ting se hemi gas nomo.' Epigastric heaviness 3 hrs, 'swet i ron', 'sot win smol'"

    assert "B_ACS" in codes(esi_rules(complaint=note, vitals=vitals(age_years=58)))
    assert "B_ACS" not in codes(
        esi_rules(complaint="'Mi ting se hemi gas nomo.'", vitals=vitals(age_years=58))
    )


def test_a_slip_is_forgiven_unless_the_word_is_one_it_never_means() -> None:
    """A misspelling that spells another word is still read as the table's word ("stoke",
    "grasping"); a wound's "gaping" is no slip of "gasping"."""
    assert "B_DISTRESS" in codes(esi_rules(complaint="gasbing for air", vitals=ADULT))
    assert "B_DISTRESS" in codes(esi_rules(complaint="child grasping for breath", vitals=ADULT))
    assert "B_STROKE" in codes(esi_rules(complaint="suspected stoke, FAST +ve", vitals=ADULT))
    assert "B_DISTRESS" not in codes(esi_rules(complaint="2cm gaping wound", vitals=ADULT))
    assert "B_DISTRESS" not in codes(esi_rules(complaint="gapping wound to shin", vitals=ADULT))
    # "Bus from Spain": a place, no sprain (an x-ray, ESI 4, for a swollen calf).
    travel = esi_rules(complaint="bus from Spain 14 hours, calf swollen", vitals=ADULT)
    assert all("spain" not in r.reason.lower() for r in travel.fired)
    # Straining with a cough is no sprain (an x-ray); a strained ankle still is one.
    assert esi_rules(complaint="cough with straining", vitals=ADULT).resources_level == 5
    assert esi_rules(complaint="strained L wrist", vitals=ADULT).resources_level == 4


def test_the_reason_quotes_each_wording_once() -> None:
    result = esi_rules(
        complaint="room spinning, walking like hes drunk, room spinning again", vitals=ADULT
    )

    (stroke,) = [r for r in result.fired if r.code == "B_STROKE"]
    assert stroke.reason.count("'room spinning'") == 1
    # A wording inside a longer one is not quoted again.
    assert "'like hes drunk'" not in stroke.reason


def test_a_heart_attack_told_in_french_is_read_by_its_sweat_and_upper_stomach() -> None:
    """The thirty-sixth vignette set: a 61-year-old diabetic's "mal à l'estomac ... comme un
    poids", nausea and sweats on the forehead, no chest pain; a fever explains a sweat."""
    note = "Nausées, a vomi 1x. Sueurs au front, se frotte le haut du ventre. Pas de dlr thoracique"

    assert "B_ACS" in codes(esi_rules(complaint=note, vitals=vitals(age_years=61)))
    assert "B_ACS" not in codes(
        esi_rules(complaint=f"{note}. Fièvre 39 depuis hier", vitals=vitals(age_years=61))
    )
    # "Pas de fièvre" negates in a note of few French words (the same set's review).
    sixty_four = vitals(age_years=64)
    assert "B_ACS" in codes(
        esi_rules(complaint="64M sweaty, nausea, pas de fievre", vitals=sixty_four)
    )


def test_an_older_diabetic_who_is_sick_and_drained_may_be_a_silent_heart_attack() -> None:
    older = vitals(age_years=71)

    def acs(complaint: str) -> bool:
        return "B_ACS" in codes(esi_rules(complaint=complaint, vitals=older))

    assert acs("not right for 2 days, just sick n no energy, says no pain. T2 diabetic")
    assert acs("diabetic, no energy and vomiting since yesterday")
    # Another cause, another sense of "sick", or not diabetic.
    assert not acs("diabetic, D&V since yesterday, exhausted, vomiting")
    assert not acs("diabetic, feeling sick and tired of her knee pain")
    assert not acs("type 2 respiratory failure, nauseated and fatigued")
    assert not acs("no diabetes, nausea, exhausted since norovirus")
    assert acs("PMH T2DM, nausea, fatigue")
    assert acs("diabetic, feeling sick and weak")
    # "no appetite or chest pain": the cue covers what follows "or".
    assert "B_ACS" not in codes(esi_rules(complaint="no appetite or chest pain", vitals=older))
    assert "B_ACS" not in codes(
        esi_rules(complaint="diabetic, vomiting, no energy", vitals=vitals(age_years=40))
    )


@pytest.mark.parametrize(
    ("complaint", "fires"),
    [
        ("BG 45, confused and sweaty", True),
        ("sugar 52 at home, not making sense", True),
        ("glucose 40 - drowsy", True),
        ("BM:45, drowsy", True),
        ("BM 45 per paramedics, drowsy", True),
        ("sugars 45, confused", True),
        ("Bg: 40 cigs a day, COPD, confused", False),
        ("peak flow meter showed 60, confused", False),
        ("sugars 40 gms carbs, confused", False),
        ("BG: 45-year-old, confused", False),
        ("glucose 50 per cent given, confused", False),
    ],
)
def test_a_bare_number_is_a_glucose_reading_only_when_it_stands_alone(
    complaint: str, fires: bool
) -> None:
    result = esi_rules(complaint=complaint, vitals=ADULT)

    assert ("A_HYPOGLYCAEMIA" in codes(result)) is fires


@pytest.mark.parametrize(
    ("age", "complaint", "fires"),
    [
        (0.3, "4 month old with a bruise on his ear", True),
        (0.25, "bruising to face, mum says he rolled off the sofa", True),
        (2, "bruises on her back, well otherwise", True),
        (3, "active toddler, bruises on both shins, climbing furniture", False),
        (2, "ear infection, small bruise on shin", False),
        (0.2, "no bruises seen, feeding well, snuffly", False),
        (0.3, "mongolian blue spot on back looks like bruising", False),
        (0.3, "bruise at vaccination site", False),
        # A look-alike in another clause, or on a fracture or a burn, cancels nothing.
        (0.1, "5 week old, bruise on cheek and ear, had vaccinations last week", True),
        (0.15, "baby 2 months, fractured femur, eczema on cheeks", True),
        (1.5, "bruise to left ear", True),
        (1.5, "ear bruising", True),
        (30, "bruise on his back from a fall at work", False),
    ],
)
def test_an_injury_in_a_young_child_is_suspected_abuse_by_its_age_or_place(
    age: float, complaint: str, fires: bool
) -> None:
    """A bruise, fracture or burn in a baby under 6 months, or a bruise of the ears, neck,
    trunk or buttocks under 4 years (NICE CG89, the TEN-4 rule)."""
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=age))

    assert ("B_ABUSE" in codes(result)) is fires


def test_a_low_spo2_in_an_alert_patient_is_a_danger_zone_vital_not_esi_1() -> None:
    """A COPD patient at 88 % who is alert and talking may be at their baseline: decision
    point D (consider ESI 2), not A; drowsy at the same SpO2 is ESI 1."""
    alert = esi_rules(complaint="COPD, usual sats 88-90%, cough", vitals=vitals(spo2=88))
    drowsy = esi_rules(complaint="COPD, usual sats 88-90%, cough", vitals=vitals(spo2=88, avpu="V"))

    assert "A_HYPOXIA_ALTERED" not in codes(alert) and alert.floor != 1
    assert "A_HYPOXIA_ALTERED" in codes(drowsy) and drowsy.floor == 1


@pytest.mark.parametrize(
    ("complaint", "changes"),
    [
        ("here for a sprained ankle, runs marathons", {"heart_rate": 38}),
        ("palpitations since an hour, feels faint", {"heart_rate": 190}),
        ("fever and cough, breathing fast", {"age_years": 5, "heart_rate": 160, "spo2": 90}),
        ("feeling dizzy on standing", {"heart_rate": 52}),
        ("pale stools and dark urine for 3 days", {"heart_rate": 38}),
        ("elderly man, grey hair, cut on hand", {"heart_rate": 38}),
        ("cold symptoms, runny nose, pale", {"heart_rate": 155}),
        ("fever, rigors, pale, UTI", {"heart_rate": 155}),
        ("just finished a run, diaphoretic, ankle sprain", {"heart_rate": 155}),
        ("witnessed seizure, postictal, drowsy", {"heart_rate": 152, "avpu": "V"}),
        ("fever 39.8, crying, pale", {"age_years": 2, "heart_rate": 185}),
        ("thread stuck in finger", {"heart_rate": 160}),
        ("palpitations, feels weak pulse racing", {"heart_rate": 160}),
        ("faint rash on arms", {"heart_rate": 36}),
        # A well baby's heart rate at rest, pale from a cold.
        ("3 months, runny nose, pale", {"age_years": 0.25, "heart_rate": 95}),
        # A neonate asleep beats down to about 90; newborn skin is often mottled.
        ("3 week old, asleep in car seat, mottled feet", {"age_years": 0.06, "heart_rate": 96}),
        # A normal refill ("<4s"), a refill of four limbs, a rate not severely fast.
        ("palpitations, CRT <4s", {"heart_rate": 190}),
        ("3 month old, cold, CRT 4 limbs <2s", {"age_years": 0.25, "heart_rate": 75}),
    ],
)
def test_a_fast_or_slow_heart_alone_or_with_only_a_symptom_is_not_esi_1(
    complaint: str, changes: dict
) -> None:
    """A fit athlete's slow heart, a fast one with no firm sign it fails to perfuse ("pale",
    "grey" or "diaphoretic" are not: a pale stool, grey hair, a run; a post-ictal patient is
    drowsy from the seizure), a febrile child's fast heart, a rate slow but not severely."""
    result = esi_rules(complaint=complaint, vitals=vitals(**changes))

    assert "A_UNSTABLE_RATE" not in codes(result)


@pytest.mark.parametrize(
    ("complaint", "pressure", "fires"),
    [
        # The thirty-ninth vignette set: 172/112 six days after a birth, "only madax xanuun".
        ("gave birth 6 days ago, only madax xanuun, the chemist said panadol", (172, 112), True),
        ("34 weeks pregnant, came for a cough", (165, 100), True),
        ("34 weeks pregnant, came for a cough", (150, 100), False),
        ("gave birth 4 years ago, headache", (170, 112), False),
        ("headache since yesterday", (172, 112), False),
        # Her own birth however "her usual" is told; not a husband's nor a mother's note
        # (this change's review).
        (
            "delivered 8 days ago, midwife found BP high, her usual meds are labetalol",
            (170, 110),
            True,
        ),
        ("post c section day 4, BP high on recheck, her usual self", (170, 112), True),
        ("52M here with wife who gave birth yesterday, feels dizzy", (165, 100), False),
        ("48F dizzy, her daughter had a baby last week, stressed", (170, 105), False),
        # Its second review: a birth of days or weeks whatever else is dated or whoever
        # else is named; none months ago, denied, or a due date that is no pregnancy's.
        ("delivered a male baby 5 days ago, feels unwell", (172, 112), True),
        ("gave birth 2 weeks ago, daughter is 2 weeks old and well", (172, 112), True),
        ("c section 5 days ago, knee arthroscopy 2 years ago, unwell", (172, 112), True),
        ("32 yrs old, postpartum, headache and seeing spots", (172, 112), True),
        ("sutures due in 5 days, feels unwell", (172, 112), False),
        ("no pregnancy, never given birth, feels unwell", (172, 112), False),
        ("had a baby 10 months ago, feels unwell", (172, 112), False),
        ("postpartum 8 months, breastfeeding", (172, 112), False),
        ("2 children both by caesarean, feels unwell", (172, 112), False),
        # Its third review: a birth of days told in other words, a pregnancy at term, and
        # no man's wife's weeks.
        ("gave birth a fortnight ago, feels unwell", (172, 112), True),
        ("had the baby on the weekend, feels unwell", (172, 112), True),
        ("2/52 postpartum, feels unwell, migraines for 5 yrs", (172, 112), True),
        ("postpartum, smoker 10 yrs, feels unwell", (172, 112), True),
        ("pregnant at term, feels unwell", (172, 112), True),
        ("34 weeks pregnant, no pregnancy complications so far, cough", (172, 112), True),
        ("had a baby 10 months ago, cough started 2 weeks ago", (172, 112), False),
        ("Gentleman, wife is 36 wks, came with her, back pain", (172, 112), False),
    ],
)
def test_a_severe_pressure_late_in_pregnancy_or_after_a_birth_is_high_risk(
    complaint: str, pressure: tuple[int, int], fires: bool
) -> None:
    """160 systolic or 110 diastolic late in a pregnancy or in the weeks after a birth is
    pre-eclampsia until proven otherwise, with or without a headache told."""
    systolic, diastolic = pressure
    result = esi_rules(
        complaint=complaint,
        vitals=vitals(age_years=28, systolic_bp=systolic, diastolic_bp=diastolic),
    )

    assert ("B_OBSTETRIC" in codes(result)) is fires


def test_words_joined_by_a_slash_are_read_apart_unless_a_table_knows_them_joined() -> None:
    """A "sternum/upper belly" is two places; "fever/chills", "si/hi", "n/v" stay whole."""
    from diagnosis.triage.rules import _split_slashes

    assert _split_slashes(["under", "sternum/upper", "belly"]) == [
        "under",
        "sternum",
        "upper",
        "belly",
    ]
    assert _split_slashes(["fever/chills", "si/hi", "n/v", "c/o"]) == [
        "fever/chills",
        "si/hi",
        "n/v",
        "c/o",
    ]


@pytest.mark.parametrize(
    ("complaint", "fires"),
    [
        # The thirty-ninth vignette set: a heart attack at a mountain hut told in Italian
        # ("pesantezza" under the sternum and the upper belly, "grigio e sudato").
        ("felt pesantezza under sternum/upper belly, came back grigio e sudato", True),
        ("dolore al petto da un'ora, sudato, diabetico", True),
        ("dor no peito desde ontem, suado", True),
        ("Brustschmerzen seit einer Stunde, kaltschweißig", True),
        # ... negated in their own words (this change's review).
        ("keine Brustschmerzen, Knie verletzt beim Skifahren", False),
        ("twisted ankle, non ha dolore al petto, sudato from the walk", False),
        ("cough 3 days, nao tem dor no peito, suado", False),
        ("ankle sprain, Brustschmerzen: keine, verschwitzt", False),
        ("cut hand, dolore al petto: no, sudato", False),
        # ... and in French (the forty-first vignette set).
        ("Gêne comme un poids au milieu de la poitrine depuis 40 min, vers la mâchoire", True),
        ("pas de gêne thoracique, entorse cheville", False),
    ],
)
def test_a_heart_attack_told_in_portuguese_italian_german_or_french(
    complaint: str, fires: bool
) -> None:
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=71))

    assert ("B_ACS" in codes(result)) is fires


def test_a_cut_or_crushed_finger_told_briefly_is_no_threatened_limb() -> None:
    """The forty-second set's review: "cut finger 2cm" reads like a severed finger to the
    meaning match, and is none; a finger off, or on ice, still is one."""
    for note in ("cut finger 2cm", "thumb crushed between cattle crush and gate"):
        similar = {"B_LIMB": note}
        assert "B_LIMB" not in codes(esi_rules(complaint=note, vitals=ADULT, similar=similar))
    for note in ("finger cut off by a machine, brought in on ice", "cut finger, tip hanging"):
        similar = {"B_LIMB": note}
        assert "B_LIMB" in codes(esi_rules(complaint=note, vitals=ADULT, similar=similar))


def test_a_hot_head_is_a_fever_where_a_hot_place_is_none() -> None:
    """ "It's roasting" of a baby's head is a fever (this change's review); of a prison wing
    it is the weather (the thirty-eighth vignette set)."""
    baby = vitals(age_years=0.1, heart_rate=150, respiratory_rate=40)
    head = "6 week old, mum says his head, its roasting, poor feeding since last night"
    wing = "its roasting on the wing, bit sweaty, on chemo"

    assert "B_SEPSIS" in codes(esi_rules(complaint=head, vitals=baby))
    assert "B_SEPSIS" not in codes(esi_rules(complaint=wing, vitals=ADULT))


def test_a_collapse_whose_defibrillator_advised_no_shock_and_who_sits_up_is_no_arrest() -> None:
    """The fortieth vignette set: a marathon runner who "went down", "AED pads on, no shock
    advised", sitting up wanting his medal, reads like an arrest by meaning and is none; with
    CPR, or unresponsive now, it still is one."""
    similar = {"A_ARREST": "went down at mile 24, AED pads on, no shock advised"}
    sitting = "52M went down at mile 24, AED pads on, no shock advised, now sitting up"
    cpr = "collapsed in the street, bystander CPR, AED no shock advised, now GCS 8"

    assert "A_ARREST" not in codes(esi_rules(complaint=sitting, vitals=ADULT, similar=similar))
    assert "A_ARREST" not in codes(esi_rules(complaint=sitting, vitals=ADULT))
    assert "A_ARREST" in codes(esi_rules(complaint=cpr, vitals=ADULT, similar=similar))
    # "No shock advised" is also a rhythm no shock helps (its review): lifeless, pumped.
    lifeless = "went down at the pool, pulled out lifeless, AED no shock advised"
    pumped = "collapsed, received compressions, AED no shock advised, now alert"
    assert "A_ARREST" in codes(esi_rules(complaint=lifeless, vitals=ADULT))
    assert "A_ARREST" in codes(esi_rules(complaint=pumped, vitals=ADULT))


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fifty-third vignette set: Cyrillic is read in the Latin letters of the tables.
        ("Mum says 'не хочу жить', wrote a note", "B_PSYCH", True),
        ("LMP 'преди около 7 седмици', lower belly pain more R, spotting", "B_ECTOPIC", True),
        # ... its short words are no nurse's abbreviations ("боли ми" is "it hurts me").
        ("'боли ми глава' since yesterday, usual migraine", "B_ACS", False),
        ("'боли си гърлото', sore throat x2 days", "B_PSYCH", False),
        # A Slavic "od" is "from" or "of", in a note quoting the language ...
        ("'samo žgaravica', father died 'od srca' at 60, sore tummy", "B_OVERDOSE", False),
        ("baby 'malo toplo', baka wanted to give čaj od kamilice", "B_OVERDOSE", False),
        # ... and an English note's OD still an overdose, in a note quoting it or not.
        ("Found by flatmate, took an OD of her sertraline", "B_OVERDOSE", True),
        ("pt took od of paracetamol after argument", "B_OVERDOSE", True),
        ("'samo malo', nije dobro, says he took an OD of tablets", "B_OVERDOSE", True),
        # ... or lowercase, framed by its English (this change's review: the name Ali Kada
        # and a quoted "nije dobro, sve je popila jutros" took it away).
        ("Ali Kada, 22, deliberate od of sertraline 2h ago", "B_OVERDOSE", True),
        (
            "Croatian pt, deliberate od amitriptyline, 'nije dobro, sve je popila'",
            "B_OVERDOSE",
            True,
        ),
        ("Bulgarian pt, intentional od of paracetamol, 'боли ме глава'", "B_OVERDOSE", True),
        ("chem splash od, Croatian worker says 'jako boli, nista ne vidim'", "B_EYE", True),
        # Cyrillic suicide words, and a Russian "нет" (no) that denies only what follows it.
        ("Говорит, что не хочется жить, мысли про самоубийство", "B_PSYCH", True),
        ("Serbian: 'хоћу да умрем', says she will do it tonight", "B_PSYCH", True),
        ("Пациентка: нет смысла не хочу жить больше", "B_PSYCH", True),
        ("Пациент отрицает суицидальные мысли, бессонница", "B_PSYCH", False),
        # A Croatian or Serbian lowercase "mi" (me) is no MI.
        ("Sore throat 3 days, Serbian: 'boli mi grlo, nije mi dobro', eating ok", "B_ACS", False),
        ("Ankle sprain, Croatian pt says 'jako mi je otekao zglob'", "B_ACS", False),
    ],
)
def test_notes_in_cyrillic_or_quoting_a_slavic_language(
    complaint: str, code: str, fires: bool
) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=27)))) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fifty-third vignette set: a headache that "came on all at once" is a thunderclap,
        # and two Advil after it no painkiller taken all at once.
        (
            "bad headache at the gym doing dead lifts came on all at once, threw up, took two "
            "advil, neck a little stiff",
            "B_OVERDOSE",
            False,
        ),
        ("headache came on all at once at the gym, took two advil", "B_HEADACHE", True),
        ("took 20 paracetamol all at once after a row", "B_OVERDOSE", True),
        # ... whoever "came at once" (this change's review).
        ("Took her paracetamol all at once after a row, mum came at once", "B_OVERDOSE", True),
        ("Took paracetamol all at once. Pain in stomach started at once", "B_OVERDOSE", True),
        ("Took paracetamol, about 3 packs, after argument", "B_OVERDOSE", True),
        ("took paracetamol earlier, now feeling sick and regrets it", "B_OVERDOSE", True),
        ("taking paracetamol too many times a day for toothache, 5 days", "B_OVERDOSE", True),
        ("took the paracetamol all at once, now vomiting", "B_OVERDOSE", True),
        # Stopped her injections, "too many needles": no tablets too many.
        ("stopped clexane d5, 'too many needles'. DHx paracetamol, iron", "B_OVERDOSE", False),
        ("took too many paracetamol last night", "B_OVERDOSE", True),
        # "Felt a bang at the back of my head" mid spin class: a thunderclap.
        (
            "c/o h/a. At spin class 2 hrs ago 'felt a bang at the back of my head', had to lie "
            "on the floor, vomited x1, not like my usual. Neck feels stiff",
            "B_HEADACHE",
            True,
        ),
        ("Headache came on with a bang this afternoon, now vomiting", "B_HEADACHE", True),
        # A bang heard, a teacher's class, a tax return worked out: no thunderclap.
        ("Headache and ringing ears after a bang at the fireworks last night", "B_HEADACHE", False),
        ("headache after working out the tax return all night, awful", "B_HEADACHE", False),
        ("Teacher, headache mid class, had no lunch, vomited once", "B_HEADACHE", False),
    ],
)
def test_all_at_once_is_a_start_or_an_amount_by_what_it_is_told_of(
    complaint: str, code: str, fires: bool
) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=30)))) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fifty-third vignette set: a relative's heart attack long ago is family history.
        (
            "L ribs sore after coughing fits, mom made him come in because his uncle had a "
            "heart attack at sixty",
            "B_ACS",
            False,
        ),
        ("rib pain after coughing, dad died of a heart attack", "B_ACS", False),
        ("cut finger, father had a stroke aged 58", "B_STROKE", False),
        # ... and a relative telling the patient's own event is the patient's.
        ("mum had a stroke at 10 this morning, face drooping", "B_STROKE", True),
        ("mum had a stroke in her sleep, face drooping", "B_STROKE", True),
        ("my uncle had a heart attack, grey and sweaty, chest tight", "B_ACS", True),
        # ... as is one told with its time of day (this change's review).
        ("Daughter states dad had a heart attack at 19.45 while gardening", "B_ACS", True),
        ("Son: his father had a heart attack at 20 past 7 tonight", "B_ACS", True),
        ("dad had a heart attack at 20 mins ago in the waiting room", "B_ACS", True),
    ],
)
def test_a_relatives_heart_attack_or_stroke_long_ago_is_not_the_patients(
    complaint: str, code: str, fires: bool
) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=23)))) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "code", "fires"),
    [
        # The fifty-fourth vignette set: a baby's intussusception and green vomit.
        (
            "every 15-20 min he screams and pulls his knees up to his belly, then it stops "
            "and he's really pale and sleepy. Dark red jelly-looking stuff in the diaper",
            0.75,
            "B_OBSTRUCTION",
            True,
        ),
        (
            "spits up after every feed, but the last 2 times it was green",
            0.03,
            "B_OBSTRUCTION",
            True,
        ),
        ("vomiting green since this morning, tummy swollen", 0.5, "B_OBSTRUCTION", True),
        # ... not green stools, a green nose, a vomit denied green, nor an older child's gastro.
        ("green poo in nappy, vomited once, feeding ok", 0.5, "B_OBSTRUCTION", False),
        ("vomited milk x2, no green vomit, happy", 0.5, "B_OBSTRUCTION", False),
        ("gastro, vomited green x3, drinking", 4, "B_OBSTRUCTION", False),
        # A strangulation survived; not a feeling in the throat.
        ("her fella had her up against the wall by the throat, hoarse", 29, "B_TRAUMA", True),
        ("ex grabbed her by the neck last night, blacked out", 29, "B_TRAUMA", True),
        ("sore throat, feels like something by the throat", 29, "B_TRAUMA", False),
        # A drink dribbling out of one side of the mouth; not a mouth numbed at the dentist.
        ("Coffee dribbling from R side of mouth at breakfast", 74, "B_STROKE", True),
        (
            "dribbling from the left side of his mouth since dentist numbed it",
            74,
            "B_STROKE",
            False,
        ),
        # A postpartum breathlessness told in Tamil.
        (
            "16 days post LSCS, 'moochu vaangudhu' on the stairs, L leg 'konjam veengi irukku'",
            29,
            "B_PE",
            True,
        ),
        # A snake's bite felt as a sting; not a wasp's.
        (
            "felt a sharp sting on back of R hand, saw a snake go off, 2 small holes",
            58,
            "B_ENVENOMATION",
            True,
        ),
        ("took a photo of a snake, felt a sharp sting from a wasp", 30, "B_ENVENOMATION", False),
        # Its review: the colour in the next sentence, a "non-bilious" vomit, a green
        # discharge, a Dr Green; a history of intussusception; a constipated toddler.
        (
            "4 month old, vomiting since yesterday. Last one was bright green.",
            0.3,
            "B_OBSTRUCTION",
            True,
        ),
        ("vomiting, no blood, bile stained", 0.5, "B_OBSTRUCTION", True),
        ("projectile non-bilious vomiting after every feed", 0.1, "B_OBSTRUCTION", False),
        ("vomiting after feeds, no blood or bile in vomit", 0.5, "B_OBSTRUCTION", False),
        ("sick baby, sticky eye with green discharge", 0.5, "B_OBSTRUCTION", False),
        ("vomited once after feed, seen by Dr Green yesterday", 0.5, "B_OBSTRUCTION", False),
        ("had intussusception at 3 months, now ear pulling and fever", 1, "B_OBSTRUCTION", False),
        ("constipated, pulls her knees up to her tummy, blood in nappy", 3, "B_OBSTRUCTION", False),
        ("screaming episodes, legs drawn up, strawberry jam stool", 0.8, "B_OBSTRUCTION", True),
        # ... a chokehold, a sleeper hold; a strangled voice, news that choked her up.
        ("partner put him in a chokehold until he passed out", 40, "B_TRAUMA", True),
        ("ex throttled her, difficulty swallowing", 40, "B_TRAUMA", True),
        ("strangled voice, drooling, hot potato voice", 40, "B_TRAUMA", False),
        ("the news choked her up, anxious, palpitations", 40, "B_TRAUMA", False),
        # ... a wound's pus, a filling; a snake seen last summer, a staple's two holes.
        ("pus dribbling from the left side of the wound", 40, "B_STROKE", False),
        (
            "had a filling, still numb, dribbling from the right side of mouth",
            40,
            "B_STROKE",
            False,
        ),
        ("felt a sharp sting on ankle in the bush, snake seen nearby", 35, "B_ENVENOMATION", True),
        (
            "felt a sharp sting gardening, husband killed a snake there last summer",
            35,
            "B_ENVENOMATION",
            False,
        ),
        (
            "stepped on a staple, 2 small holes in foot. Son has a snake",
            35,
            "B_ENVENOMATION",
            False,
        ),
    ],
)
def test_the_fifty_fourth_sets_situations(
    complaint: str, age: float, code: str, fires: bool
) -> None:
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=age))

    assert (code in codes(result)) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fifty-fifth vignette set: a haemodialysis patient who missed two sessions.
        (
            'HD pt. Missed Fri AND today\'s session. Now legs feel heavy, "like jelly", '
            "says his heart's been doing skips since lunch",
            "B_DIALYSIS",
            True,
        ),
        # Its review: a missed day's dialysis told other ways, with other symptoms ...
        ("Dialysis patient, missed 2 runs, feels faint and heart irregular", "B_DIALYSIS", True),
        ("Dialysis, hasnt been since Friday, legs weak", "B_DIALYSIS", True),
        ("dialysis, missed fri, pins and needles in lips and hands", "B_DIALYSIS", True),
        # ... not a Friday's football or shift, physio sessions, a relative's dialysis.
        (
            "Mum is on dialysis, he missed fri football, heart racing after the game",
            "B_DIALYSIS",
            False,
        ),
        ("Works as dialysis nurse, missed fri shift, palpitations", "B_DIALYSIS", False),
        (
            "dialysis patient, heart racing, missed two sessions of physio",
            "B_DIALYSIS",
            False,
        ),
        # A student's cold whose mother saw the posters, a vaccine; not the GP's injection.
        ("had a cold 3 days, mum has seen the meningitis posters", "B_MENINGITIS", False),
        ("Had meningitis B vaccine yesterday, arm sore", "B_MENINGITIS", False),
        ("Had the meningitis ACWY jab today, arm sore", "B_MENINGITIS", False),
        ("GP gave meningitis injection in surgery, sent in by ambulance", "B_MENINGITIS", True),
        # "Smells of alcohol" is no smelly urine; a urine that smells still is.
        ("vomited x8, smells of alcohol, dizzy standing", "B_SEPSIS", False),
        ("urine smells awful, clammy, dizzy standing", "B_SEPSIS", True),
        ("Catheter bag urine smells horrible, grey and clammy, bp 85/50", "B_SEPSIS", True),
        # Armenian "mi kich aryun" (a little blood) is no MI; an MI named still is.
        ("vomiting all night, 'mi kich aryun, just a little'", "B_ACS", False),
        ("hx MI, now central CP", "B_ACS", True),
    ],
)
def test_the_fifty_fifth_sets_situations(complaint: str, code: str, fires: bool) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=40)))) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "temperature", "code", "fires"),
    [
        # A fever or a sore throat on a medicine that can take the white cells at once.
        (
            "on clozapine for schizophrenia, sore throat and mouth ulcers x2d",
            40,
            37.0,
            "B_SEPSIS",
            True,
        ),
        ("on methimazole for graves, fever 38.6 and sore throat", 40, 37.0, "B_SEPSIS", True),
        ("On clozapine ~2 yrs. Not eating, keeps holding his throat", 40, 38.4, "B_SEPSIS", True),
        # ... not a hot pan, the heat of an overactive thyroid, a medicine of years ago or
        # a mother's.
        ("on clozaril, burnt hand on hot pan at home, blister", 40, 37.0, "B_SEPSIS", False),
        (
            "carbimazole for hyperthyroid, feels hot all the time, palpitations",
            40,
            37.0,
            "B_SEPSIS",
            False,
        ),
        (
            "hx Graves treated with carbimazole 2010. 3d cough and fever",
            50,
            37.0,
            "B_SEPSIS",
            False,
        ),
        ("mum is on clozapine, cough", 4, 38.4, "B_SEPSIS", False),
        # A fever measured at triage in a patient whose immunity is weak, no fever word.
        ("on chemo for breast ca, cycle 3 nine days ago, feels rough", 47, 38.4, "B_SEPSIS", True),
        (
            "kidney transplant 2019 on tacrolimus, cough and feels unwell",
            60,
            38.3,
            "B_SEPSIS",
            True,
        ),
        ("biological mother unknown, adopted, cough", 30, 38.4, "B_SEPSIS", False),
        # A blow to the neck with both arms or hands numb, however the note says both.
        ("went in head down on a tackle, both his arms were burning", 17, 37.0, "B_TRAUMA", True),
        ("football tackle, neck hyperflexion, B/L hand paraesthesia", 22, 37.0, "B_TRAUMA", True),
        (
            "82F fall, R hip pain on axial loading. Baseline weakness both legs",
            82,
            37.0,
            "B_TRAUMA",
            False,
        ),
        # A high-pressure injection into a finger; not a jet washer and a nail in the foot.
        (
            "airless sprayer fired into his finger, honestly it's a pinprick",
            35,
            37.0,
            "B_TRAUMA",
            True,
        ),
        ("hydraulic leak, fluid went under the skin of his thumb", 35, 37.0, "B_TRAUMA", True),
        (
            "jet washer, trod on a nail, puncture wound to sole, grazed hand",
            35,
            37.0,
            "B_TRAUMA",
            False,
        ),
        # A snake's bite told in Kannada and Hindi; not a rat's, nor a man named Naag.
        (
            "'haavu kachchitu', 2 puncture marks below lat malleolus",
            52,
            37.0,
            "B_ENVENOMATION",
            True,
        ),
        ("family says saanp ne das liya while cutting grass", 45, 37.0, "B_ENVENOMATION", True),
        (
            "chuha ne kaata (rat bit) finger, family worried it might be saap",
            45,
            37.0,
            "B_ENVENOMATION",
            False,
        ),
        (
            "Pt Suresh Naag, bitten by a stray dog on L calf yesterday",
            45,
            37.0,
            "B_ENVENOMATION",
            False,
        ),
        # Days after an operation on the stomach or the bowel; not months after, nor a wife's.
        (
            "Sleeve gastrectomy 9 days ago, pain up into L shoulder tip, shivery",
            38,
            37.0,
            "B_POSTOP",
            True,
        ),
        ("POD5 right hemi, increasing abdo pain, not passing wind", 70, 37.0, "B_POSTOP", True),
        ("lap sleeve 5 days ago, feels unwell", 38, 38.2, "B_POSTOP", True),
        (
            "sleeve gastrectomy 8 months ago. Cough and fever started 2 days ago",
            45,
            37.0,
            "B_POSTOP",
            False,
        ),
        (
            "wife had gastric bypass last week; he has flu-like illness, fever",
            45,
            37.0,
            "B_POSTOP",
            False,
        ),
        # A weekly methotrexate taken daily; a baclofen pump run empty.
        (
            "on methotrexate ONCE a week, tabs in EVERY day slot, one each morning for 6 days",
            70,
            37.0,
            "B_MEDICINE",
            True,
        ),
        (
            "baclofen pump alarming, the low reservoir beep, legs spasming more",
            40,
            37.0,
            "B_MEDICINE",
            True,
        ),
        (
            "RA on methotrexate weekly, stiff every morning for an hour",
            55,
            37.0,
            "B_MEDICINE",
            False,
        ),
        ("runner, ITB syndrome L knee, ran out of ibuprofen", 30, 37.0, "B_MEDICINE", False),
        # A toddler at a grandparent's sulfonylurea, no word for a child; not the child's own.
        (
            "on floor with pop's tablet box open, chewing. Diamicron MR, 1 maybe 2 gone",
            2,
            37.0,
            "B_OVERDOSE",
            True,
        ),
        ("sucked on a tramadol, mum took it off him, half dissolved", 2, 37.0, "B_OVERDOSE", True),
        (
            "on propranolol for haemangioma, ate his bottle well, vomited once",
            0.4,
            37.0,
            "B_OVERDOSE",
            False,
        ),
        (
            "vomiting. Mum on amlodipine tablets. Dad has gone to park the car",
            2,
            37.0,
            "B_OVERDOSE",
            False,
        ),
    ],
)
def test_the_fifty_sixth_sets_situations(
    complaint: str, age: float, temperature: float, code: str, fires: bool
) -> None:
    found = codes(
        esi_rules(complaint=complaint, vitals=vitals(age_years=age, temperature_c=temperature))
    )
    assert (code in found) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # A wipe that could not be felt, numbness between the legs, urine that will not come,
        # with back pain; not a urine infection's drops, a carpal tunnel, a new mother.
        ("back pain, wiped after toilet 'couldn't feel the paper'", "B_CAUDA_EQUINA", True),
        ("LBP since lifting sofa, couldnt feel toilet paper when he wiped", "B_CAUDA_EQUINA", True),
        ("back pain, numbness between legs", "B_CAUDA_EQUINA", True),
        ("LBP, urine wont come", "B_CAUDA_EQUINA", True),
        (
            "dysuria, lower back pain, going every 10 mins but only little drops",
            "B_CAUDA_EQUINA",
            False,
        ),
        ("?carpal tunnel, couldnt feel the paper between her fingers", "B_CAUDA_EQUINA", False),
        (
            "post-partum day 1, perineum sore, numb between my legs, voiding fine",
            "B_CAUDA_EQUINA",
            False,
        ),
        # Drooling told otherwise, with a noise breathing in; not sputum spat into tissues.
        (
            "cant swallow own saliva, spitting into a towel, high pitched noise on breathing in",
            "A_RESP_DISTRESS",
            True,
        ),
        ("unable to swallow own saliva, stridor", "A_RESP_DISTRESS", True),
        (
            "wheezy, high pitched noise breathing out, spitting into tissues",
            "A_RESP_DISTRESS",
            False,
        ),
        # The questions of a lost memory, not of impatience.
        ("she's asked me three times how we got here and she's not like this", "B_ALTERED", True),
        (
            "ankle sprain, waiting 2 hrs, has asked 3 times when she will be seen",
            "B_ALTERED",
            False,
        ),
        ("URTI sx, asked me several times whether it could be covid", "B_ALTERED", False),
        # An erection that will not go down, a foreskin left back, a ring stuck; not an erect
        # chest film, an erection gone down, a child's foreskin, a phimosis, a zip.
        ("erection 'won't go down' since about 2am, now ~6 hrs", "B_GENITAL_ISCHAEMIA", True),
        ("28M sickle cell, painful erection x5hrs", "B_GENITAL_ISCHAEMIA", True),
        (
            "skin's all bunched up in a ring behind the end of his willy, swollen, dusky",
            "B_GENITAL_ISCHAEMIA",
            True,
        ),
        (
            "metal ring on his penis, cant get it off, penis swollen and dark",
            "B_GENITAL_ISCHAEMIA",
            True,
        ),
        ("abdo pain 8 hrs, GP erect CXR ?free air", "B_GENITAL_ISCHAEMIA", False),
        (
            "had erection for 2 hrs after cialis but went down by itself",
            "B_GENITAL_ISCHAEMIA",
            False,
        ),
        ("3yo foreskin wont go back, red and swollen at tip", "B_GENITAL_ISCHAEMIA", False),
        (
            "8yo caught penis in zip, foreskin trapped in zipper, swollen",
            "B_GENITAL_ISCHAEMIA",
            False,
        ),
        ("neck stiff since last night, fever", "B_GENITAL_ISCHAEMIA", False),
        # Stridor now is a narrowed airway; not only when a child cries, nor a history.
        ("croup, barking cough, stridor at rest", "B_SOB", True),
        ("inspiratory stridor, sore throat", "B_SOB", True),
        ("croup, barking cough, stridor only when crying, settles with mum", "B_SOB", False),
        ("hx stridor as baby, now cough", "B_SOB", False),
        ("no stridor, sore throat", "B_SOB", False),
    ],
)
def test_the_fifty_seventh_sets_situations(complaint: str, code: str, fires: bool) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=40)))) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fourteenth paraphrase round: what a relative or a handover says of an
        # unresponsive patient.
        (
            "rubbing hard on his chest bone n pinched his ear he dont even flinch",
            "A_UNRESPONSIVE",
            True,
        ),
        (
            "she didn't open her eyes or make a sound when he shouted or shook her shoulder",
            "A_UNRESPONSIVE",
            True,
        ),
        ("his eyes only flicker when I squeeze his ear lobe hard", "A_UNRESPONSIVE", True),
        ("I pressed his fingernail, he moaned, but his eyes never opened", "A_UNRESPONSIVE", True),
        ("GCS of, uh, four. E1, V1, M2. Found in the park", "A_UNRESPONSIVE", True),
        ("she doesn't do anything when I pinch her", "A_UNRESPONSIVE", True),
        # ... not a treatment that did not work, nor a coma long ago.
        ("GP says cellulitis unresponsive to tablets, walking, obs fine", "A_UNRESPONSIVE", False),
        ("infection unresponsive to oral abx", "A_UNRESPONSIVE", False),
        # A limb: a bone seen, a thumb nearly off, a degloving, a tense calf, a cold leg.
        ("Bone seen through wound R leg after slip", "B_LIMB", True),
        ("His thumb's nearly off, just hanging at the side", "B_LIMB", True),
        ("Ring caught on the fence, the skin came off his finger like a glove", "B_LIMB", True),
        (
            "kicked in the shin, calf's tense and woody, screams when I pull his toes up",
            "B_LIMB",
            True,
        ),
        (
            "right leg felt dead, freezing to touch and a funny bluey-white colour",
            "B_LIMB",
            True,
        ),
        # ... not a foot off the ground.
        ("off the bottom step, maybe a foot off the ground, sore wrist", "B_LIMB", False),
        # Later pregnancy and just after the birth.
        (
            "37 weeks, normally the baby kicks her in the ribs after tea. Tonight nothing",
            "B_OBSTETRIC",
            True,
        ),
        (
            "she delivered yesterday, soaked three maternity pads in the last hour, clots the "
            "size of her fist",
            "B_OBSTETRIC",
            True,
        ),
        ("post c section 2 weeks, wound soaked with pus", "B_OBSTETRIC", False),
        ("gave birth 3 years ago, heavy period with big clots", "B_OBSTETRIC", False),
        # Other situations worded anew.
        ("Subject on sidewalk: one gasp every 20-30 sec only", "A_APNOEA", True),
        ("her right arm and leg jumping, jumping, now 6 minutes still going", "A_SEIZING", True),
        ("her mouth is down on left side, saliva coming out", "B_STROKE", True),
        ("Subject shot once in the lower back, alert and talking", "B_TRAUMA", True),
        ("keeps dozing mid-sentence but wakes when spoken to", "B_ALTERED", True),
        # What is no situation: oriented, a test negative, a groin strain, an idiom.
        ("knows where she is and what day it is, not muddled", "B_ALTERED", False),
        ("doesn't know where she is or what day it is", "B_ALTERED", True),
        ("Urine hCG done - negative. crampy lower tummy pain with her period", "B_ECTOPIC", False),
        ("hCG: positive. crampy lower tummy pain", "B_ECTOPIC", True),
        # The review of these changes: what they must not hide ...
        (
            "sudden pain in left testicle 2 hrs ago, vomiting, right testicle normal lie",
            "B_TORSION",
            True,
        ),
        ("3yo drank ant killer cough and drooling", "B_OVERDOSE", True),
        ("2yo swallowed a battery low in the gullet on xray", "B_OVERDOSE", True),
        ("while driving suddenly lost sight of the road for a few minutes", "B_EYE", True),
        ("barely knows what day it is since this morning", "B_ALTERED", True),
        ("chest pain crushing, when he was young he had rheumatic fever", "B_ACS", True),
        ("seizing for 8 minutes when she was little she had febrile fits", "A_SEIZING", True),
        # ... nor fire on.
        ("sore chest bone after coughing, nothing else", "A_UNRESPONSIVE", False),
        ("infected fingernail, ibuprofen doesn't do anything", "A_UNRESPONSIVE", False),
        ("had his jabs today and he dont even flinch, now mild fever", "A_UNRESPONSIVE", False),
        ("shouted at work, he didnt wake up till noon next day, hungover", "A_UNRESPONSIVE", False),
        ("whooping cough, gives a gasp every time the coughing fit ends", "A_APNOEA", False),
        ("restless legs, leg jumping all night, still going now", "A_SEIZING", False),
        ("skin on her fingers peeling off like a glove after scarlet fever", "B_LIMB", False),
        ("Raynauds, toes go white and cold to the touch in winter", "B_LIMB", False),
        ("sprained ankle, swollen and shiny, can't point toes up", "B_LIMB", False),
        ("knee swollen and tight after twisting it, ibuprofen barely touched it", "B_LIMB", False),
        ("thumbs cut off circulation by tight rings, swollen", "B_LIMB", False),
        ("38 weeks, baby kicks fine, nausea this morning, nothing since", "B_OBSTETRIC", False),
        ("parcel delivered yesterday, nosebleed with big clots, stopped now", "B_OBSTETRIC", False),
        ("had an epidural steroid shot in the lower back yesterday, sore", "B_TRAUMA", False),
        ("dozes mid-morning in his chair as usual, eating fine", "B_ALTERED", False),
        ("mouth is down on the corners, he's been sulking, cold symptoms", "B_STROKE", False),
        ("he had simply lost sight of his wife in the store", "B_EYE", False),
        ("lost consciousness at the sight of blood", "B_EYE", False),
        ("lost sight of her left eye suddenly", "B_EYE", True),
        (
            "she had meningitis when she was child, deaf since, hearing aid broken",
            "B_MENINGITIS",
            False,
        ),
        ("a 'killer' hangover after drinking, the usual kind", "B_OVERDOSE", False),
        ("hearing aid battery's dead, eating and drinking fine", "B_OVERDOSE", False),
        ("toddler swallowed a battery, drooling", "B_OVERDOSE", True),
    ],
)
def test_the_fourteenth_paraphrase_rounds_wordings(complaint: str, code: str, fires: bool) -> None:
    result = esi_rules(complaint=complaint, vitals=vitals(age_years=40))

    assert (code in codes(result)) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The fifty-eighth vignette set: packets swallowed to smuggle them, told by the border.
        (
            "Border Force x2 w pt from airport. Terminal scan +ve for 'packages', pt admits "
            "swallowing ~70-80, won't say what. 'I feel fine'",
            "B_OVERDOSE",
            True,
        ),
        # 2,4-dinitrophenol bought as a fat burner; a fat burner taken beyond its dose.
        ("took DNP for cutting, 2 caps a day, now boiling hot", "B_OVERDOSE", True),
        (
            "I think I've overdone my fat burners, took 3 yesterday + 2 this morning, boiling "
            "hot, drenched in sweat",
            "B_OVERDOSE",
            True,
        ),
        # GHB taken round the clock, then stopped.
        (
            "Ive been on G every couple hours day and night for 4 months, ran out. Last bit "
            "about 2 yesterday afternoon. Shakes, cant sleep at all, sweating",
            "B_MEDICINE",
            True,
        ),
        # What stopped a false alarm: a man who sat down hard is no priapism, "smells of
        # nothing" no apnoea, the tunnel vision before a faint no eye emergency.
        (
            "Sore R wrist. Legs went to jelly and he sat down hard on the path, hand out, "
            "about 4 hrs ago",
            "B_GENITAL_ISCHAEMIA",
            False,
        ),
        ("erection since 2am, now 6 hrs, sore", "B_GENITAL_ISCHAEMIA", True),
        ("No head wound seen. Smells of nothing. Knows name only", "A_APNOEA", False),
        (
            "stood up at the end and went grey and slid down the wall, came round with it. "
            "Felt hot, sweaty, tunnel vision before",
            "B_EYE",
            False,
        ),
        ("sudden loss of vision in the right eye an hour ago", "B_EYE", True),
        # Its review: more ways of saying them ...
        ("Hard on x 6 hrs, painful.", "B_GENITAL_ISCHAEMIA", True),
        (
            "Hard-on won't go away since 3am, painful, took blue pill from mate.",
            "B_GENITAL_ISCHAEMIA",
            True,
        ),
        ("Stiffy won't go down since last night, 8 hours, painful.", "B_GENITAL_ISCHAEMIA", True),
        (
            "Swallowed 30 packets of cocaine before flight, border force present.",
            "B_OVERDOSE",
            True,
        ),
        (
            "Custody nurse referral, swallowed 2 rocks when arrested 30 mins ago, wrapped in "
            "plastic. Obs normal.",
            "B_OVERDOSE",
            True,
        ),
        (
            "Airport police. Suspected of carrying drugs internally. No pain, calm.",
            "B_OVERDOSE",
            True,
        ),
        ("Been taking 2,4-dinitrophenol for 2 weeks, now feverish and sweaty.", "B_OVERDOSE", True),
        (
            "Took 4 fat burners at once this morning instead of 1, now palpitations and sweating.",
            "B_OVERDOSE",
            True,
        ),
        ("GBL withdrawal, restless, jumpy, sweats.", "B_MEDICINE", True),
        (
            "On G 24/7 for months, ran out yesterday, now shaking and sweating, can't sleep.",
            "B_MEDICINE",
            True,
        ),
        (
            "Vision suddenly lost in one eye, then tunnel vision, with jaw pain and scalp "
            "tenderness, age 78.",
            "B_EYE",
            True,
        ),
        # ... and what they must not read: silica gel or capsules swallowed at an airport,
        # air rifle pellets, a nurse practitioner (a DNP), a fat burner user's other pills,
        # a GHB user who stopped long ago or took it once, a G-tube, a G&T, a fall hard on
        # a leg.
        (
            "5yo swallowed one of the silica gel packets from a new shoe box at the airport "
            "shop. Well, playing, no cough.",
            "B_OVERDOSE",
            False,
        ),
        (
            "22/40 pregnant, vomiting, struggles to swallow her vitamin capsules. Anomaly scan "
            "Monday was normal.",
            "B_OVERDOSE",
            False,
        ),
        (
            "Shot in the arm with air rifle pellets. X ray shows 2 pellets in soft tissue. "
            "Eating and swallowing fine.",
            "B_OVERDOSE",
            False,
        ),
        (
            "Seen by DNP at the urgent care, started on amoxicillin capsules, feverish",
            "B_OVERDOSE",
            False,
        ),
        (
            "Takes a fat burner daily. Too many late nights, feels run down, sore throat",
            "B_OVERDOSE",
            False,
        ),
        (
            "Ex-GHB user, stopped two years ago, doing well. Cant sleep for a week since new job.",
            "B_MEDICINE",
            False,
        ),
        (
            "Used GHB once at a party last night. Stopped at midnight. Now sweaty and tired.",
            "B_MEDICINE",
            False,
        ),
        (
            "Mum using G tube for feeds every 3 hours, pump stopped working this morning, child "
            "restless",
            "B_MEDICINE",
            False,
        ),
        ("Doing G&T at the bar, ran out of money, shaky from cold.", "B_MEDICINE", False),
        (
            "Landed hard on that leg 5 hrs ago jumping off a wall, swollen ankle",
            "B_GENITAL_ISCHAEMIA",
            False,
        ),
        ("Came down hard on the ice, wrist pain since, 5 hrs ago.", "B_GENITAL_ISCHAEMIA", False),
    ],
)
def test_the_fifty_eighth_sets_situations(complaint: str, code: str, fires: bool) -> None:
    assert (code in codes(esi_rules(complaint=complaint, vitals=vitals(age_years=40)))) is fires


def test_a_fever_measured_in_a_child_with_sickle_blood_is_sepsis_risk() -> None:
    # The fifty-eighth vignette set, a Hausa family: "he have the sickle blood, since baby".
    note = "Uncle: he have the sickle blood, since baby. Body hot since this morning, legs pain"
    assert "B_SEPSIS" in codes(
        esi_rules(complaint=note, vitals=vitals(age_years=7, temperature_c=38.8))
    )
    # Told hot at home, as a fever: the same.
    assert "B_SEPSIS" in codes(
        esi_rules(complaint=note, vitals=vitals(age_years=7, temperature_c=36.9))
    )
    # Other words for the disease, with a fever measured.
    for other in ("Known sickle, runny nose", "Sickle crisis pt, pain in legs", "Sickle-beta thal"):
        assert "B_SEPSIS" in codes(
            esi_rules(complaint=other, vitals=vitals(age_years=5, temperature_c=38.6))
        ), other
    # A trait, a negative screen, a normal test: no disease.
    for none in (
        "Sickle blood test at birth was normal. Ear pain.",
        "Sickle disease screen negative. Cough.",
        "Sickle disease carrier. Cough.",
    ):
        assert "B_SEPSIS" not in codes(
            esi_rules(complaint=none, vitals=vitals(age_years=5, temperature_c=38.6))
        ), none
    # No fever told nor measured: no sepsis.
    quiet = "Uncle: he have the sickle blood, since baby. Wants his repeat folic acid"
    assert "B_SEPSIS" not in codes(
        esi_rules(complaint=quiet, vitals=vitals(age_years=7, temperature_c=36.9))
    )


@pytest.mark.parametrize(
    ("complaint", "age", "code", "fires"),
    [
        (
            "Mum: she's been a bit sicky since lunchtime. Babies bring it back up but the last "
            "two it came out green, bright green",
            0.0438,
            "B_OBSTRUCTION",
            True,
        ),
        ("Baby sicked up twice, dark green, not milky", 0.1, "B_OBSTRUCTION", True),
        (
            "Baby brought it back up after the feed, green poo this morning as usual",
            0.1,
            "B_OBSTRUCTION",
            False,
        ),
        (
            "Keeps screaming, pulls his legs right up, then flakes out asleep. Red jelly stuff in "
            "his nappy like raspberry jam",
            0.8,
            "B_OBSTRUCTION",
            True,
        ),
        (
            "Neck getting fatter since the thyroid op. Whispering, can't get her spit down, "
            "dribbling into the towel, high noise every time she breathes in",
            52,
            "A_RESP_DISTRESS",
            True,
        ),
        (
            "Pacemaker fitted Friday. Since last night sharp stabbing left chest when she "
            "breathes in, hiccups that won't stop, her tummy keeps twitching like every second",
            81,
            "B_POSTOP",
            True,
        ),
        (
            "Pacemaker fitted Friday, hiccups that won't stop, tummy keeps twitching like every "
            "second",
            81,
            "A_SEIZING",
            False,
        ),
        (
            "Pacemaker fitted 6 years ago, dizzy today after standing up quickly",
            78,
            "B_POSTOP",
            False,
        ),
        ("Eyelid keeps twitching for a week, tired, lots of coffee", 30, "A_SEIZING", False),
        ("Arm still twitching after the fit, not responding", 30, "A_SEIZING", True),
        (
            "Sick twice, brown and smelly, belly's like a drum. On clozapine, bowel chart empty "
            "since Weds",
            34,
            "B_OBSTRUCTION",
            True,
        ),
        (
            "Slipped, hit the back of her head on the tiles. On Varfine for the heart. Vomited "
            "once",
            84,
            "B_TRAUMA",
            True,
        ),
        (
            "He gulped the coin. Coughed a couple of times and then nothing. Eating crisps now, "
            "no drooling",
            2,
            "A_APNOEA",
            False,
        ),
        (
            "Wisdom tooth out this morning, mouth full of blood, mumbling through gauze that it's "
            "mostly spit",
            24,
            "B_STROKE",
            False,
        ),
        (
            "Grandad: the back of the car key fob came off and the little round flat battery's "
            "not there. Can't find it anywhere",
            1.5,
            "B_OVERDOSE",
            True,
        ),
        (
            "TV remote battery missing, found it under the sofa, toddler well",
            1.5,
            "B_OVERDOSE",
            False,
        ),
        (
            "Smoke alarm battery missing, chest pain on breathing in after a cold",
            45,
            "B_OVERDOSE",
            False,
        ),
        (
            "8 days after baby, normal delivery. Headache, sees little lights, sparkle, pain in "
            "the upper belly",
            29,
            "B_OBSTETRIC",
            True,
        ),
        ("Normal delivery 5 years ago. Her usual migraine with sparkles", 33, "B_OBSTETRIC", False),
        ("Knob still hard after 5 hours, really painful", 30, "B_GENITAL_ISCHAEMIA", True),
        ("Dick still hard of hearing, ear wax", 70, "B_GENITAL_ISCHAEMIA", False),
        ("Fell down in the garden, gulping down air then nothing, grey", 70, "A_APNOEA", True),
        ("Baby went limp, gulped a couple of times then nothing for ages", 0.2, "A_APNOEA", True),
        (
            "Sudden onset, mumbling through one side of his mouth, came on at 10am",
            70,
            "B_STROKE",
            True,
        ),
        (
            "Had a fit, stopped jerking but his eye still twitching and not responding",
            2,
            "A_SEIZING",
            True,
        ),
        ("Got a new pacemaker last week, passed out in the kitchen", 75, "B_POSTOP", True),
        ("Post PPM day 3, hiccoughing all night", 75, "B_POSTOP", True),
        (
            "Her husband had a pacemaker fitted last week; she feels faint from not eating",
            60,
            "B_POSTOP",
            False,
        ),
        ("ICD insertion planned for next month, dizzy with a cold", 60, "B_POSTOP", False),
        (
            "Pacemaker fitted 6 months ago, dizzy for a day after a stomach bug",
            60,
            "B_POSTOP",
            False,
        ),
        (
            "Pacemaker fitted 3 days ago, faint rash around the wound dressing, no pain",
            60,
            "B_POSTOP",
            False,
        ),
        (
            "Post thyroidectomy neck swollen, cant get his own spit down, high pitched noise "
            "every time he breathes in",
            45,
            "A_RESP_DISTRESS",
            True,
        ),
        (
            "Teething, dribbling into the towel all day, snuffly noise every time she breathes in "
            "from her cold, feeding well",
            0.8,
            "A_RESP_DISTRESS",
            False,
        ),
        (
            "2yo, back came off the TV remote and the battery is missing, looked everywhere",
            2,
            "B_OVERDOSE",
            True,
        ),
        (
            "3yo fever 2 days, thermometer battery flat so couldn't check, rash has gone now",
            3,
            "B_OVERDOSE",
            False,
        ),
        (
            "Smoke alarm battery beeping all night, missing a front tooth now",
            4,
            "B_OVERDOSE",
            False,
        ),
        ("Feeds keep coming back up and it's gone green now", 0.3, "B_OBSTRUCTION", True),
        (
            "9mo, sicked up his spinach and peas puree, green colour, happy and feeding",
            0.75,
            "B_OBSTRUCTION",
            False,
        ),
        (
            "5 month old, bit sicky, green bogies and cough, feeding well",
            0.4,
            "B_OBSTRUCTION",
            False,
        ),
        (
            "6 month old, brought it up with the GP that he is fussy with his green veg, "
            "otherwise well",
            0.5,
            "B_OBSTRUCTION",
            False,
        ),
        ("Pulls legs right up, pale and sleepy in between", 0.8, "B_OBSTRUCTION", True),
        ("On clozapine, not pooed for 5 days, vomiting", 35, "B_OBSTRUCTION", True),
        ("Calf tight as a drum after football", 25, "B_OBSTRUCTION", False),
        ("SVD 6 days ago, severe headache, pain at top of stomach", 29, "B_OBSTETRIC", True),
        ("Vaginal delivery 7 months ago, headache, seeing lights", 38, "B_OBSTETRIC", False),
        (
            "10 days after baby, feels she's lost her sparkle, low mood, headache from not "
            "sleeping",
            30,
            "B_OBSTETRIC",
            False,
        ),
        ("His willy's been hard for 5 hours", 14, "B_GENITAL_ISCHAEMIA", True),
    ],
)
def test_the_fifty_ninth_sets_situations(
    complaint: str, age: float, code: str, fires: bool
) -> None:
    # The fifty-ninth vignette set (babies, home after an operation, work and the outdoors,
    # people who communicate differently, Khmer/Vietnamese/Portuguese families) and its
    # review's probes: what each change reads, and what it must not.
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=age)))
    assert (code in fired) is fires


def test_sickle_cell_disease_written_short_is_a_weak_immunity_for_a_fever() -> None:
    hot = vitals(age_years=6, temperature_c=38.9)
    for note in ("Known SCD, fever since this morning", "SCD pt with fever", "SS disease, fever"):
        assert "B_SEPSIS" in codes(esi_rules(complaint=note, vitals=hot)), note
    # A relative's "known SCD" is as often a sudden cardiac death.
    note = "Father known SCD (sudden cardiac death) at 45, pt fever with cough"
    assert "B_SEPSIS" not in codes(
        esi_rules(complaint=note, vitals=vitals(age_years=50, temperature_c=38.5))
    )


@pytest.mark.parametrize(
    ("complaint", "fires"),
    [
        # The sixtieth vignette set, a Kurdish family: a coal stove in the one room they
        # sleep in, all of them with headaches, the mother fainted, better in the car.
        (
            "Since 3 days all family have headache. This morning she fall down in the "
            "kitchen. Heating broke so they use the coal stove in the living room, windows "
            "closed because cold. Outside in the car she feel better.",
            True,
        ),
        ("Headache every morning, feels better outside, new gas heater in the bedroom", True),
        ("Whole family dizzy and vomiting, charcoal indoors to keep warm", True),
        # A barbecue in the garden and the chicken everyone ate; a family's stomach bug
        # beside a heater; a fall with a heater carried: no carbon monoxide.
        ("Nauseous and dizzy, we had a bbq in the garden, everyone ate the chicken", False),
        ("Tripped and fell down in the garage carrying the portable heater, grazed knee", False),
        ("Burnt her hand on the coal fire, felt sick with the pain, kids too upset", False),
    ],
)
def test_fuel_burnt_indoors_with_a_household_unwell_is_carbon_monoxide(
    complaint: str, fires: bool
) -> None:
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=35)))
    assert ("B_OVERDOSE" in fired) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "code", "fires"),
    [
        (
            "Back went lifting kerbs on Monday. Since last night couldnt pass water properly, "
            "just dribbles, numb like after the dentist when he wipes",
            48,
            "B_CAUDA_EQUINA",
            True,
        ),
        (
            "Got double-barrelled by a young horse in the stable, left side under the ribs, "
            "dizzy getting out of the car",
            40,
            "B_TRAUMA",
            True,
        ),
        (
            "Text from daughter: sorry mum I took all the pills in the kitchen drawer",
            16,
            "B_OVERDOSE",
            True,
        ),
        (
            "Last night he swallow raw fish gall bladder from big grass carp, vomit, diarrhoea, "
            "pee only little bit",
            52,
            "B_OVERDOSE",
            True,
        ),
        (
            "Grandma rub White Flower oil on his tummy, put the bottle on the sofa, he grab and "
            "drink, maybe half bottle gone",
            2,
            "B_OVERDOSE",
            True,
        ),
        (
            "Grandma roast ginkgo nuts, she ate all afternoon, bowl maybe 40, vomited x3, jumpy",
            5,
            "B_OVERDOSE",
            True,
        ),
        (
            "Headaches 3 weeks, waking him in the night crying, sick first thing most mornings, "
            "clumsy, one eye turning in",
            8,
            "B_HEADACHE",
            True,
        ),
        (
            "Headache since yesterday after a long shift, slept fine, no vomiting",
            30,
            "B_HEADACHE",
            False,
        ),
        (
            "Just off the overnight boat from Belfast, seasick, spewing",
            30,
            "B_STROKE",
            False,
        ),
        (
            "Did his back in lifting, can't pass water",
            45,
            "B_CAUDA_EQUINA",
            True,
        ),
        (
            "Bad back, chest infection, nose just dribbles all day",
            45,
            "B_CAUDA_EQUINA",
            False,
        ),
        (
            "Pain in her back went away, now can't pass water, UTI, burning",
            45,
            "B_CAUDA_EQUINA",
            False,
        ),
        (
            "Took all the tablets the GP gave but the pain is no better",
            30,
            "B_OVERDOSE",
            False,
        ),
        (
            "Double barrelled surname, registration query, cut finger",
            30,
            "B_TRAUMA",
            False,
        ),
        (
            "Off food and drink, lives with grandma who is on methadone, fever 38.5",
            2,
            "B_OVERDOSE",
            False,
        ),
        (
            "Drank some eucalyptus oil from grandma's bottle, coughing",
            2,
            "B_OVERDOSE",
            True,
        ),
        (
            "Headaches first thing in the morning, being sick, now seeing double",
            7,
            "B_HEADACHE",
            True,
        ),
        (
            "Hangover, headache, woke him up, sick in the morning after drinking",
            30,
            "B_HEADACHE",
            False,
        ),
        (
            "Toothache woke me up, headache, felt sick in the morning",
            30,
            "B_HEADACHE",
            False,
        ),
        (
            "Headache woke him up, long-standing squint, no vomiting",
            30,
            "B_HEADACHE",
            False,
        ),
    ],
)
def test_the_sixty_first_sets_situations(
    complaint: str, age: float, code: str, fires: bool
) -> None:
    # The sixty-first vignette set (travellers and farms, Chinese/Korean/Japanese families,
    # men who play it down, children, telephone advice calls) and its review's probes.
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=age)))
    assert (code in fired) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "code", "fires"),
    [
        (
            "Theres a lump in my groin thats pumping, like its got a heartbeat. Been injecting "
            "my left groin 6 months",
            38,
            "B_AORTIC",
            True,
        ),
        (
            "Lump that is pumping out pus, abscess on arm",
            40,
            "B_AORTIC",
            False,
        ),
        (
            "Pain L loin going round to the groin, came on 2 hrs ago lifting a bag of compost, "
            "never had a stone in my life. Came over faint on the toilet, grey and sweaty",
            71,
            "B_AORTIC",
            True,
        ),
        (
            "Diabetic foot ulcer, whole front of the foot red and puffed up, rotten smell, "
            "crackles like bubble wrap when you press",
            67,
            "B_SEPSIS",
            True,
        ),
        (
            "Rash on her leg feels like bubble wrap, itchy, no fever",
            40,
            "B_SEPSIS",
            False,
        ),
        (
            "Gave one of her kidneys to her brother 6 yrs ago so this is my only one. Hasn't had "
            "a wee since 6 this morning",
            45,
            "B_ONE_KIDNEY",
            True,
        ),
        (
            "Transplant kidney, not passing urine since yesterday",
            50,
            "B_ONE_KIDNEY",
            True,
        ),
        (
            "One kidney since birth, lost a stone in weight this year, tired",
            40,
            "B_ONE_KIDNEY",
            False,
        ),
        (
            "One kidney, no urine infection symptoms, just a rash on arm",
            40,
            "B_ONE_KIDNEY",
            False,
        ),
        (
            "Lipo 5 days ago abroad, flew back yesterday. R calf hinchada y dura, me ahogo un "
            "poquito on the stairs",
            36,
            "B_PE",
            True,
        ),
        (
            "Lipo years ago, asthma flare, wheezy and short of breath",
            40,
            "B_PE",
            False,
        ),
    ],
)
def test_the_sixty_second_sets_situations(
    complaint: str, age: float, code: str, fires: bool
) -> None:
    # The sixty-second vignette set (the heart told the unexpected way, skin and infection,
    # kidneys and plumbing, Spanish/Haitian/French-speaking families, the frail) and its
    # review's probes.
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=age)))
    assert (code in fired) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # The sight greying out for seconds in a faint: no sight lost...
        (
            "Felt hot and sick in the queue then her vision went black and she slid to the "
            "floor, back to normal now",
            "B_EYE",
            False,
        ),
        ("Got up too fast, everything went black and I passed out for a few secs", "B_EYE", False),
        ("vision went, fainted", "B_EYE", False),
        # ... unless an eye is named, or the sight is lost after the faint.
        ("Everything went black in one eye for 5 minutes then came back", "B_EYE", True),
        ("Vision went dark in her left eye and then she fainted from the shock", "B_EYE", True),
        ("She fainted last week. Today her vision went black and wont come back", "B_EYE", True),
        ("Sudden loss of vision in both eyes then collapsed", "B_EYE", True),
        # ... nor (its review) a sight still lost, lost on one side, or at risk whatever the
        # faint: an arteritis, a new mother, a blow, an eye operation, flashes.
        (
            "Passed out on saturday! This morning her vision went dark and it is still dark",
            "B_EYE",
            True,
        ),
        (
            "78F new temple headache, scalp tender, jaw hurts chewing, vision went dim this am, "
            "felt lightheaded",
            "B_EYE",
            True,
        ),
        ("Fell and hit the floor, since then sight has gone on the right", "B_EYE", True),
        (
            "Post cataract op yday, vision went dark overnight, felt faint when she noticed",
            "B_EYE",
            True,
        ),
        ("Saw flashing lights then vision went black and she felt light headed", "B_EYE", True),
        ("vision gone R 45 min, came round after faint in the toilet", "B_EYE", True),
        ("Post partum day 3, headache, vision went dim, felt faint", "B_EYE", True),
        # A faint told over sentences, with a fall or a dizziness.
        (
            "Felt faint in the shower. Everything went black for a few seconds. Didnt fall.",
            "B_EYE",
            False,
        ),
        ("Stood up. Vision went black. Fell. Got up. Fine.", "B_EYE", False),
        # ... nor a faint with double vision, a low sugar or a racing heart (the set's review).
        ("Vision went double and he fell, now cant walk straight", "B_EYE", True),
        ("Type 1, felt faint and vision went black, sugar 2.1", "B_EYE", True),
        ("Dizzy, vision went black, palpitations, heart racing 180, fainted", "B_EYE", True),
        # A faint's witness answering the questions about a fit: "didn't shake"...
        ("Fainted in church, didnt shake, didnt wet himself, back to normal", "A_SEIZING", False),
        ("She didnt have a fit, just went pale for a second, fine now", "A_SEIZING", False),
        # ... not a fit that did not stop, nor a first fit going on now.
        (
            "Didnt stop shaking for 10 minutes, eyes rolled back, still not waking",
            "A_SEIZING",
            True,
        ),
        (
            "Never had a seizure before, now jerking all over on the floor and foaming",
            "A_SEIZING",
            True,
        ),
        ("Hasnt stopped fitting since 5 min, midazolam didnt help", "A_SEIZING", True),
        ("He doesnt have epilepsy, found shaking in bed, eyes rolled up", "A_SEIZING", True),
        ("Husband says she wasnt shaking or jerking, just went limp for a sec", "A_SEIZING", False),
        # ... not a fit's failure to recover (its review).
        ("Fits x3, wasnt conscious between", "A_SEIZING", True),
        ("Had 3 fits, isnt awake in between", "A_SEIZING", True),
        ("2 seizures in an hour, hasnt spoken between", "A_SEIZING", True),
    ],
)
def test_a_faint_told_with_what_did_not_happen(complaint: str, code: str, fires: bool) -> None:
    # A faint: the sight going black in both eyes for seconds and "didn't shake, didn't wet
    # himself" are no eye emergency and no fit (the sixty-first set's vasovagal faints).
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=30)))
    assert (code in fired) is fires


@pytest.mark.parametrize(
    ("complaint", "age", "code", "fires"),
    [
        # A teenager's "took a load of paracetamol".
        (
            "Last night I took a load of paracetamol. like 20? maybe 24. the 500 ones",
            16,
            "B_OVERDOSE",
            True,
        ),
        ("Necked a load of ibuprofen after a row", 17, "B_OVERDOSE", True),
        # ... not "a bunch of blisters", "a ton of hits" (its review).
        ("Popped a bunch of blisters on his feet, diabetic on tablets", 50, "B_OVERDOSE", False),
        ("Took a ton of hits in rugby, sore ribs, had ibuprofen", 20, "B_OVERDOSE", False),
        # Tablets that treated a past reaction were not swallowed in a poisoning.
        (
            "I eat strawberries at my sister's party and now hives. Similar 2 yrs ago, went "
            "away with tablets",
            31,
            "B_OVERDOSE",
            False,
        ),
        ("At a party, took some tablets someone gave her, now drowsy", 19, "B_OVERDOSE", True),
        # Blood coughed up in more than streaks...
        (
            "CF pt. About an hour ago I coughed up proper fresh red blood, about a quarter of a "
            "mug",
            17,
            "B_HAEMOPTYSIS",
            True,
        ),
        (
            "Coughing up blood x2 today, about an egg cup each time. Hx TB",
            40,
            "B_HAEMOPTYSIS",
            True,
        ),
        ("PE last year. Coughing up blood, about 30mls", 50, "B_HAEMOPTYSIS", True),
        ("Blood comes up when she coughs, loads of it", 60, "B_HAEMOPTYSIS", True),
        # ... not streaks, an amount of something else, or blood from the nose or the mouth.
        ("Coughing up blood streaks with a cold", 30, "B_HAEMOPTYSIS", False),
        (
            "Coughing a lot, some blood streaks in the phlegm, a mug of lemsip",
            30,
            "B_HAEMOPTYSIS",
            False,
        ),
        (
            "Nosebleed at school after an elbow, tonight coughed up blood, it's all clots",
            13,
            "B_HAEMOPTYSIS",
            False,
        ),
        (
            "Officers say coughing up blood in the cell, loads of it. Pt: I bit me tongue. No "
            "cough",
            36,
            "B_HAEMOPTYSIS",
            False,
        ),
        ("No cough, but vomited a cupful of blood", 50, "B_HAEMOPTYSIS", False),
        # Its review: a negation of something else before the cough, "1/2 cup", "++"...
        ("CF pt, no fever, coughed up about 60ml fresh blood", 20, "B_HAEMOPTYSIS", True),
        (
            "Was not coughing yesterday, today coughed up a mugful of blood",
            50,
            "B_HAEMOPTYSIS",
            True,
        ),
        ("Coughed up 1/2 cup of blood", 60, "B_HAEMOPTYSIS", True),
        ("Haemoptysis ++ since 2am, on apixaban", 70, "B_HAEMOPTYSIS", True),
        ("Coughing up bloody sputum, about 50 ml", 60, "B_HAEMOPTYSIS", True),
        # ... and clots, a pressure, a medicine's millilitres, a lip or the gums, elsewhere.
        ("Dry cough, on blood thinners for clots in legs", 60, "B_HAEMOPTYSIS", False),
        ("Coughing, heavy period passing big clots", 30, "B_HAEMOPTYSIS", False),
        ("Wisdom teeth removed yesterday, coughing up blood clots", 20, "B_HAEMOPTYSIS", False),
        ("Bit my lip, coughing up blood, a mouthful", 20, "B_HAEMOPTYSIS", False),
        ("Chesty cough, a bit of blood in phlegm, mum gave 20ml calpol", 6, "B_HAEMOPTYSIS", False),
        ("Coughing, blood pressure 180, lots of it in family", 60, "B_HAEMOPTYSIS", False),
        ("Hacked off the end of his finger, loads of blood", 40, "B_HAEMOPTYSIS", False),
        # A "known CP" in a wheelchair is a cerebral palsy, no chest pain.
        (
            "Mum w/ son in wheelchair. Known CP, non-verbal, PEG button popped out",
            9,
            "B_PE",
            False,
        ),
        ("In wheelchair since stroke, CP since this morning, SOB", 70, "B_PE", True),
    ],
)
def test_the_sixty_third_sets_situations(
    complaint: str, age: float, code: str, fires: bool
) -> None:
    # The sixty-third vignette set (teenagers, long-term conditions known well, Polish/Russian/
    # Ukrainian/Lithuanian/Romanian and Yoruba/Igbo/Swahili/Twi/Shona/Tigrinya-speaking
    # families, what was found in the night) and its review's probes.
    fired = codes(esi_rules(complaint=complaint, vitals=vitals(age_years=age)))
    assert (code in fired) is fires


@pytest.mark.parametrize(
    ("complaint", "code", "fires"),
    [
        # Hives with the lips and the breathing asked about and normal (the sixty-third
        # vignette set)...
        (
            "he's come out in massive lumps all over after prawns, no lip/tongue/eye swelling, "
            "no voice change, no wheeze or trouble breathing",
            "B_ANAPHYLAXIS",
            False,
        ),
        (
            "raised red itchy welts after strawberries. Denies lip/tongue swelling, no throat "
            "tightness, voice normal, no SOB",
            "B_ANAPHYLAXIS",
            False,
        ),
        # ... not where one of them is told present, or was not asked about.
        ("hives all over after prawns, no lip swelling, but wheezy now", "B_ANAPHYLAXIS", True),
        ("hives all over after prawns, feels awful", "B_ANAPHYLAXIS", True),
        # ... nor where a sign beyond the skin is told (its review).
        (
            "stung by bee, no lip swelling, no SOB, feels like going to pass out",
            "B_ANAPHYLAXIS",
            True,
        ),
        (
            "bee sting, no lip or tongue swelling, no SOB, throat feels like closing",
            "B_ANAPHYLAXIS",
            True,
        ),
        ("used epipen, no lip swelling now, no wheeze now, after peanut", "B_ANAPHYLAXIS", True),
        # A faint's witness who saw no fit...
        ("She fainted - wasnt a seizure, wasnt stiff, wasnt jerking", "A_SEIZING", False),
        ("Witness states didnt see any jerking, LOC 10 sec", "A_SEIZING", False),
        # ... not a fit told as going on, nor "never" or a comparison after the sign (its
        # review).
        ("didnt have a fit before, she is shaking and jerking now", "A_SEIZING", True),
        ("Known epileptic, never a fit this long, 8 mins", "A_SEIZING", True),
        ("wasnt jerking, just staring and chewing, wont answer, 20 min now", "A_SEIZING", True),
        ("He never fits like this, 20 minutes now and still going", "A_SEIZING", True),
        ("Didnt have a seizure in 2 years but had 3 today, not waking between", "A_SEIZING", True),
        # Beetroot in the stoma bag; not with a black tarry stool.
        ("My bag's full of blood, love. Had a big beetroot salad last night", "B_BLEEDING", False),
        (
            "My bag's full of blood and clots, had beetroot last night but this is different",
            "B_BLEEDING",
            True,
        ),
        # The sight going black in a faint; not a sight still lost.
        ("Got up too fast, everything went dark and I was on the floor", "B_EYE", False),
        ("Fainted yesterday, today everything went dark and still cant see", "B_EYE", True),
    ],
)
def test_what_was_told_absent_keeps_the_meaning_match_from_firing_alone(
    complaint: str, code: str, fires: bool
) -> None:
    # The meaning match stands in as having read the whole note as the situation.
    fired = codes(esi_rules(complaint=complaint, vitals=ADULT, similar={code: complaint[:40]}))
    assert (code in fired) is fires
