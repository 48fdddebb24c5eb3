"""The nurse's intake form, her confirm/override form, and vital signs taken again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.urls import reverse

from diagnosis.encounters.forms import EncounterForm, VitalSignsForm
from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import AllergyRecord
from diagnosis.medication.services import IntakeAllergy, IntakeMedication, intake_rows_check
from diagnosis.triage.services import complaint_length_error

ESI_CHOICES = [
    (1, "ESI 1 — immediate life-saving intervention"),
    (2, "ESI 2 — high risk, should not wait"),
    (3, "ESI 3 — two or more resources"),
    (4, "ESI 4 — one resource"),
    (5, "ESI 5 — no resources"),
]


GCS_RANGE = (3, 15, "points")
NO_MENTAL_STATUS = "Record the mental status: AVPU or GCS."


def _gcs_field() -> forms.IntegerField:
    return forms.IntegerField(label="GCS (3-15)", required=False, help_text="Instead of AVPU.")


def _avpu_or_gcs(form: forms.Form) -> None:
    """AVPU becomes optional, with an empty first choice: the GCS may stand instead."""
    status = form.fields["mental_status"]
    status.required = False
    status.choices = [("", "— AVPU —"), *Encounter.MentalStatus.choices]  # type: ignore[attr-defined]


def _require_avpu_or_gcs(form: forms.Form, data: dict[str, Any]) -> None:
    if not data.get("mental_status") and data.get("gcs") is None and "gcs" not in form.errors:
        form.add_error("mental_status", NO_MENTAL_STATUS)


# Blank rows the intake offers for allergies and for current medications; "More rows" adds
# ROWS_MORE at a time, up to ROWS_MAX (the encounter's medication page takes any more).
ROWS_START = 3
ROWS_MORE = 3
ROWS_MAX = 12
ALLERGY_FIELDS = ("substance", "reaction", "severity")
MEDICATION_FIELDS = ("name", "dose", "route", "frequency")


def row_count(data: Any, name: str) -> int:
    """The number of rows the page showed (its hidden ``name`` field), within bounds."""
    value = str(data.get(name, "") or "")
    count = int(value) if value.isdigit() else ROWS_START
    return max(ROWS_START, min(ROWS_MAX, count))


class IntakeForm(EncounterForm):
    """EncounterForm plus what triage needs: age, AVPU or GCS, and how the patient arrived;
    and the patient's allergies ("no known allergies" or one row each: substance, reaction,
    severity) and current medications (one row each), all optional.

    ``allergy_rows`` and ``medication_rows`` are how many blank rows to offer (see
    :func:`row_count`); rows left blank are ignored.
    """

    age_years = forms.DecimalField(
        label="Age (years)",
        required=False,
        max_digits=5,
        decimal_places=2,
        help_text="Only if no birth date; 0.5 = six months.",
    )
    # Optional so an older client's form still opens an encounter: blank means walk-in.
    arrival_mode = forms.ChoiceField(
        choices=Encounter.ArrivalMode.choices,
        initial=Encounter.ArrivalMode.WALK_IN,
        required=False,
    )
    gcs = _gcs_field()

    RANGES = {**EncounterForm.RANGES, "gcs": GCS_RANGE, "age_years": (0, 130, "years")}

    field_order = [
        "mrn", "name", "birth_date", "age_years", "sex", "arrival_mode", "chief_complaint",
        "heart_rate", "pulseless", "respiratory_rate", "apnoeic", "spo2", "spo2_unobtainable",
        "systolic_bp", "diastolic_bp", "bp_unobtainable",
        "temperature", "temperature_unit", "pain", "mental_status", "gcs",
    ]  # fmt: skip

    no_known_allergies = forms.BooleanField(
        label="No known allergies (the patient was asked)", required=False
    )

    def __init__(
        self,
        *args: Any,
        allergy_rows: int = ROWS_START,
        medication_rows: int = ROWS_START,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # No maxlength attribute: the browser would cut a pasted note short without a word;
        # the server explains the limit instead (clean_chief_complaint).
        limit = settings.MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS
        self.fields["chief_complaint"].help_text = f"Up to {limit:,} characters."
        _avpu_or_gcs(self)
        # The nurse starts typing the MRN at once; Enter anywhere but the complaint submits.
        mrn = self.fields["mrn"].widget.attrs
        mrn["autofocus"] = True
        # With JavaScript, leaving the MRN field shows what is recorded for a known patient
        # (the "Look up" button does the same without it).
        mrn.update(
            {
                "hx-post": reverse("diagnosis:encounter-new"),
                "hx-trigger": "change",
                "hx-target": "#known-patient",
                "hx-swap": "outerHTML",
                "hx-vals": '{"action": "lookup"}',
            }
        )
        self.allergy_rows = allergy_rows
        self.medication_rows = medication_rows
        severities = [("", "—"), *AllergyRecord.AllergySeverity.choices]
        for row in range(1, allergy_rows + 1):
            self.fields[f"allergy_{row}_substance"] = forms.CharField(
                label=f"Allergy {row}: substance", required=False, max_length=100
            )
            self.fields[f"allergy_{row}_reaction"] = forms.CharField(
                label=f"Allergy {row}: reaction", required=False, max_length=200
            )
            self.fields[f"allergy_{row}_severity"] = forms.ChoiceField(
                label=f"Allergy {row}: severity", required=False, choices=severities
            )
        for row in range(1, medication_rows + 1):
            self.fields[f"medication_{row}_name"] = forms.CharField(
                label=f"Medication {row}", required=False, max_length=100
            )
            for part in ("dose", "route", "frequency"):
                self.fields[f"medication_{row}_{part}"] = forms.CharField(
                    label=f"Medication {row}: {part}", required=False, max_length=50
                )

    @property
    def allergy_rows_full(self) -> bool:
        return self.allergy_rows >= ROWS_MAX

    @property
    def medication_rows_full(self) -> bool:
        return self.medication_rows >= ROWS_MAX

    def allergy_row_fields(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"allergy_{row}_{part}"] for part in ALLERGY_FIELDS]
            for row in range(1, self.allergy_rows + 1)
        ]

    def medication_row_fields(self) -> list[list[forms.BoundField]]:
        return [
            [self[f"medication_{row}_{part}"] for part in MEDICATION_FIELDS]
            for row in range(1, self.medication_rows + 1)
        ]

    def _row(self, prefix: str, row: int, parts: tuple[str, ...]) -> dict[str, str]:
        return {part: self.cleaned_data.get(f"{prefix}_{row}_{part}") or "" for part in parts}

    def allergy_entries(self) -> list[IntakeAllergy]:
        """The allergy rows with anything typed in them (call after ``is_valid()``)."""
        rows = (
            (row, self._row("allergy", row, ALLERGY_FIELDS))
            for row in range(1, self.allergy_rows + 1)
        )
        return [IntakeAllergy(row=row, **values) for row, values in rows if any(values.values())]

    def medication_entries(self) -> list[IntakeMedication]:
        """The medication rows with anything typed in them (call after ``is_valid()``)."""
        rows = (
            (row, self._row("medication", row, MEDICATION_FIELDS))
            for row in range(1, self.medication_rows + 1)
        )
        return [IntakeMedication(row=row, **values) for row, values in rows if any(values.values())]

    def clean_chief_complaint(self) -> str:
        complaint: str = self.cleaned_data["chief_complaint"]
        too_long = complaint_length_error(complaint)
        if too_long:
            raise forms.ValidationError(too_long)
        return complaint

    def clean(self) -> dict[str, object]:
        data = super().clean()
        _require_avpu_or_gcs(self, data)
        data["arrival_mode"] = data.get("arrival_mode") or Encounter.ArrivalMode.WALK_IN
        problems = intake_rows_check(
            allergies=self.allergy_entries(),
            no_known_allergies=bool(data.get("no_known_allergies")),
            medications=self.medication_entries(),
        )
        for name, messages in problems.items():
            if name not in self.errors:  # a field's own error (too long) says it first
                for message in messages:
                    self.add_error(name, message)
        return data


class ConfirmForm(forms.Form):
    level = forms.TypedChoiceField(
        choices=ESI_CHOICES,
        coerce=int,
        label="ESI level",
        error_messages={"required": "Choose the ESI level you decide on."},
    )
    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason (required if you change the level)",
    )


class VitalsRetakeForm(VitalSignsForm):
    """Vital signs taken again: the intake's vitals part, with its fields, ranges, absent ticks
    and AVPU-or-GCS rule. Never prefilled: each value is what was measured this time."""

    gcs = _gcs_field()

    RANGES = {**VitalSignsForm.RANGES, "gcs": GCS_RANGE}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _avpu_or_gcs(self)

    def clean(self) -> dict[str, object]:
        data = super().clean()
        _require_avpu_or_gcs(self, data)
        return data

    def vitals(self) -> dict[str, Any]:
        """The cleaned vital signs as :func:`diagnosis.triage.services.vitals_retake` takes
        them (call after ``is_valid()``)."""
        return {name: self.cleaned_data.get(name) for name in Encounter.VITAL_FIELDS}
