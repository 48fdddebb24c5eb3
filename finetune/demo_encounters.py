"""SYNTHETIC encounters with final diagnoses, for the demo's first encounter diagnosis model.

Each generated patient is marked synthetic (``Patient.is_synthetic``, MRN ``SYN-DX-...``),
like every piece of demo data, and its encounters are written through the ordinary services
(``encounter_open``, ``final_diagnosis_record``), so they are audited like any other. The
scenarios below are DEMO CONTENT: invented complaints and vital signs loosely typical of each
group, not clinical data. Some patients come back (their earlier diagnosis becomes history:
asthma before asthma, hypertension before a heart attack); chest complaints get a synthetic
chest image whose finding goes with the group (opacity for pneumonia, nodule for a lung
tumour), dated on the encounter's day, so the image model's findings become inputs.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from diagnosis.encounters.models import Encounter
from diagnosis.encounters.services import encounter_open, final_diagnosis_record
from medassist.models import Patient

MRN_PREFIX = "SYN-DX-"


@dataclass(frozen=True)
class Scenario:
    code: str  # ICD-10 final diagnosis
    complaints: tuple[str, ...]
    # (low, high) per vital sign: heart rate, respiratory rate, SpO2, systolic BP, temperature
    hr: tuple[int, int]
    rr: tuple[int, int]
    spo2: tuple[int, int]
    sbp: tuple[int, int]
    temp: tuple[float, float]
    pain: tuple[int, int]
    age: tuple[int, int]
    image: str = ""  # the synthetic chest image's finding, "" for none
    weight: int = 10  # how often it is drawn
    follows: str = ""  # an earlier diagnosis that makes this one likelier on a return visit


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "J18.9",
        (
            "cough and fever for three days",
            "productive cough, fever and shortness of breath",
            "fever, chills and pain on breathing in",
        ),
        (98, 120),
        (22, 30),
        (88, 94),
        (100, 130),
        (38.2, 39.6),
        (2, 5),
        (20, 90),
        image="opacity",
    ),
    Scenario(
        "C34.9",
        (
            "weight loss and a cough that will not go away",
            "coughing up blood and losing weight",
            "hoarse voice and chest ache for weeks",
        ),
        (80, 100),
        (16, 22),
        (92, 97),
        (110, 140),
        (36.5, 37.4),
        (1, 4),
        (50, 85),
        image="nodule",
    ),
    Scenario(
        "I21.9",
        (
            "crushing chest pain going to the left arm",
            "chest tightness and sweating since an hour",
            "central chest pain and nausea",
        ),
        (90, 120),
        (18, 24),
        (93, 98),
        (90, 170),
        (36.4, 37.2),
        (6, 10),
        (45, 90),
        image="normal",
        follows="I10",
    ),
    Scenario(
        "I10",
        ("headache and high blood pressure at home", "routine check: blood pressure high"),
        (70, 95),
        (14, 18),
        (96, 99),
        (165, 200),
        (36.4, 37.0),
        (0, 3),
        (35, 80),
    ),
    Scenario(
        "J45.9",
        (
            "wheezing and short of breath",
            "asthma attack, inhaler not helping",
            "tight chest and wheeze after a cold",
        ),
        (100, 125),
        (24, 32),
        (89, 95),
        (110, 135),
        (36.6, 37.6),
        (2, 5),
        (6, 60),
        image="normal",
        follows="J45.9",
    ),
    Scenario(
        "N39.0",
        ("burning when passing urine", "lower abdominal pain and passing urine often"),
        (80, 105),
        (14, 20),
        (96, 99),
        (105, 135),
        (37.4, 38.6),
        (3, 6),
        (18, 85),
    ),
    Scenario(
        "K35.8",
        ("pain in the right lower abdomen and vomiting", "tummy pain that moved to the right side"),
        (95, 120),
        (16, 22),
        (96, 99),
        (105, 130),
        (37.6, 38.8),
        (6, 9),
        (8, 50),
    ),
    Scenario(
        "S62.5",
        ("fell on an outstretched hand, painful thumb", "thumb swollen after a fall"),
        (75, 100),
        (14, 18),
        (97, 100),
        (110, 135),
        (36.4, 37.0),
        (5, 8),
        (10, 70),
    ),
    Scenario(
        "R51",
        ("headache since this morning", "headache and feeling tired"),
        (65, 90),
        (12, 18),
        (97, 100),
        (110, 140),
        (36.4, 37.2),
        (4, 7),
        (16, 70),
    ),
    # Rare: too few cases of its own, so the demo shows it pooled as "other".
    Scenario(
        "T63.4",
        ("stung by a wasp, arm swollen",),
        (80, 100),
        (14, 20),
        (96, 99),
        (110, 130),
        (36.5, 37.0),
        (3, 6),
        (10, 70),
        weight=1,
    ),
)


def _draw(rng: random.Random, low: float, high: float) -> float:
    return rng.uniform(low, high)


def demo_encounter_plan(n: int, *, seed: int = 0) -> list[list[tuple[Scenario, int]]]:
    """Per patient, their encounters in time order, as (scenario, days before today).

    About a third of the patients come back once; a return visit repeats a scenario that
    ``follows`` the first diagnosis half of the time. ``n`` encounters in all.
    """
    rng = random.Random(seed)
    weights = [s.weight for s in SCENARIOS]
    patients: list[list[tuple[Scenario, int]]] = []
    total = 0
    while total < n:
        first = rng.choices(SCENARIOS, weights=weights)[0]
        visits = [(first, rng.randint(200, 700))]
        if total + 1 < n and rng.random() < 0.35:
            followers = [s for s in SCENARIOS if s.follows == first.code]
            second = (
                rng.choice(followers)
                if followers and rng.random() < 0.5
                else rng.choices(SCENARIOS, weights=weights)[0]
            )
            visits.append((second, rng.randint(2, 150)))
        patients.append(visits)
        total += len(visits)
    return patients


def demo_encounters_write(
    *,
    n: int,
    nurse: AbstractBaseUser,
    doctor: AbstractBaseUser,
    seed: int = 0,
    images: bool = True,
) -> dict[str, Any]:
    """Write the plan of :func:`demo_encounter_plan` for the patients not there yet.

    Each patient in one transaction (an interrupted run leaves whole patients; running it
    again adds only the missing ones). Returns counts and the ids of the image instances
    stored (their suggestions come from the image model once it runs on them).
    """
    plan = demo_encounter_plan(n, seed=seed)
    there = set(Patient.objects.filter(mrn__startswith=MRN_PREFIX).values_list("mrn", flat=True))
    rng = random.Random(seed + 1)
    now = timezone.now()
    written, instances = 0, []
    for p, visits in enumerate(plan):
        mrn = f"{MRN_PREFIX}{p + 1:04d}"
        sex = rng.choice(["F", "M"])
        draws = [
            (
                rng.choice(s.complaints),
                [round(_draw(rng, *r)) for r in (s.hr, s.rr, s.spo2, s.sbp)],
                round(_draw(rng, *s.temp), 1),
                rng.randint(*s.pain),
                rng.randint(*s.age),
            )
            for s, _ in visits
        ]
        if mrn in there:
            continue
        with transaction.atomic():
            patient = Patient.objects.create(
                mrn=mrn, name=f"Synthetic^DxPatient{p + 1:03d}", sex=sex, is_synthetic=True
            )
            base_age = draws[0][4]
            for (scenario, days_ago), (complaint, (hr, rr, spo2, sbp), temp, pain, _) in zip(
                visits, draws, strict=True
            ):
                when = now - dt.timedelta(days=days_ago)
                encounter, _ = encounter_open(
                    patient=patient,
                    opened_by=nurse,
                    chief_complaint=complaint,
                    heart_rate=hr,
                    respiratory_rate=rr,
                    spo2=min(spo2, 100),
                    systolic_bp=sbp,
                    diastolic_bp=max(40, round(sbp * 0.62)),
                    temperature_c=Decimal(str(temp)),
                    pain=pain,
                    mental_status="A",
                    age_years=(Decimal(base_age) + Decimal(visits[0][1] - days_ago) / 365).quantize(
                        Decimal("0.01")
                    ),
                )
                # Back-dated, so a return visit comes after the first and each encounter's
                # studies (dated on its day) are its own.
                Encounter.objects.filter(pk=encounter.pk).update(created_at=when)
                encounter.created_at = when
                final_diagnosis_record(
                    encounter=encounter,
                    doctor=doctor,
                    icd10_code=scenario.code,
                    note="SYNTHETIC demo encounter (generated).",
                )
                if images and scenario.image:
                    instances.append(_image(patient, scenario.image, when, rng))
                written += 1
    return {"patients": len(plan), "encounters": written, "instances": instances}


def _image(patient: Patient, finding: str, when: dt.datetime, rng: random.Random) -> int:
    """Store one SYNTHETIC chest image of ``finding`` for the patient, dated ``when``."""
    import numpy as np
    from django.conf import settings

    from imaging.ingest.services import instance_ingest
    from medassist.ml.synthetic import dicom_bytes, synthetic_dicom

    ds = synthetic_dicom(
        finding=finding,
        patient_id=patient.mrn,
        patient_name=patient.name,
        size=settings.MEDASSIST_DEMO_IMAGE_PIXELS,
        rng=np.random.default_rng(rng.randrange(2**31)),
    )
    day = timezone.localtime(when).strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = day
    return instance_ingest(data=dicom_bytes(ds), source="demo").instance.pk
