"""Rows the coding tests build on: a synthetic patient with an encounter."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from diagnosis.encounters.models import Encounter
from medassist.models import Patient


def encounter_of(nurse: AbstractBaseUser, *, mrn: str = "SYN-CODING-1") -> Encounter:
    patient, _ = Patient.objects.get_or_create(
        mrn=mrn, defaults={"name": "Synthetic Coding", "is_synthetic": True}
    )
    return Encounter.objects.create(
        patient=patient,
        opened_by=nurse,
        chief_complaint="Cough and fever for three days",
        heart_rate=104,
        respiratory_rate=24,
        spo2=93,
        systolic_bp=128,
        diastolic_bp=80,
        temperature_c=Decimal("38.6"),
        pain=3,
        mental_status="A",
    )
