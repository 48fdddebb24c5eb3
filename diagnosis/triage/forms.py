"""The nurse's intake form and her confirm/override form."""

from __future__ import annotations

from django import forms
from django.conf import settings

from diagnosis.encounters.forms import EncounterForm
from diagnosis.encounters.models import Encounter
from diagnosis.triage.services import complaint_length_error

ESI_CHOICES = [
    (1, "ESI 1 — immediate life-saving intervention"),
    (2, "ESI 2 — high risk, should not wait"),
    (3, "ESI 3 — two or more resources"),
    (4, "ESI 4 — one resource"),
    (5, "ESI 5 — no resources"),
]


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
    gcs = forms.IntegerField(label="GCS (3-15)", required=False, help_text="Instead of AVPU.")

    RANGES = {**EncounterForm.RANGES, "gcs": (3, 15, "points"), "age_years": (0, 130, "years")}

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
        status = self.fields["mental_status"]
        status.required = False
        status.choices = [("", "— AVPU —"), *Encounter.MentalStatus.choices]  # type: ignore[attr-defined]
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
        if not data.get("mental_status") and data.get("gcs") is None and "gcs" not in self.errors:
            self.add_error("mental_status", "Record the mental status: AVPU or GCS.")
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
