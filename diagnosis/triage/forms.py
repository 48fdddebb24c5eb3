"""The nurse's intake form, her confirm/override form, and vital signs taken again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from diagnosis.encounters.forms import EncounterForm, VitalSignsForm
from diagnosis.encounters.models import Encounter
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


class IntakeForm(EncounterForm):
    """EncounterForm plus what triage needs: age, AVPU or GCS, and how the patient arrived."""

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

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # No maxlength attribute: the browser would cut a pasted note short without a word;
        # the server explains the limit instead (clean_chief_complaint).
        limit = settings.MEDASSIST_TRIAGE_MAX_COMPLAINT_CHARS
        self.fields["chief_complaint"].help_text = f"Up to {limit:,} characters."
        _avpu_or_gcs(self)
        # The nurse starts typing the MRN at once; Enter anywhere but the complaint submits.
        self.fields["mrn"].widget.attrs["autofocus"] = True

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
