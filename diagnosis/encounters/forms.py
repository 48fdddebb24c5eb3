"""Forms of the encounter record."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from diagnosis.encounters.models import Disposition, Encounter
from medassist.models import Patient


class VitalSignsForm(forms.Form):
    """One set of vital signs, with ranges a nurse would call plausible: the intake's vitals
    and every reassessment's. ``cleaned_data`` gains ``temperature_c`` (always Celsius)."""

    # A vital sign is typed, or ticked as absent next to it (clean() asks for one of the two).
    heart_rate = forms.IntegerField(label="Heart rate (/min)", required=False)
    pulseless = forms.BooleanField(label="No pulse (pulseless)", required=False)
    respiratory_rate = forms.IntegerField(label="Respiratory rate (/min)", required=False)
    apnoeic = forms.BooleanField(label="Not breathing (apnoeic)", required=False)
    spo2 = forms.IntegerField(label="SpO2 (%)", required=False)
    spo2_unobtainable = forms.BooleanField(
        label="SpO2 cannot be measured (no reliable trace)", required=False
    )
    systolic_bp = forms.IntegerField(label="Systolic BP (mmHg)", required=False)
    diastolic_bp = forms.IntegerField(label="Diastolic BP (mmHg)", required=False)
    bp_unobtainable = forms.BooleanField(label="BP cannot be measured", required=False)
    temperature = forms.DecimalField(max_digits=5, decimal_places=1, label="Temperature")
    temperature_unit = forms.ChoiceField(choices=[("C", "°C"), ("F", "°F")], initial="C")
    pain = forms.IntegerField(label="Pain (0-10)")
    mental_status = forms.ChoiceField(
        choices=Encounter.MentalStatus.choices, label="Mental status (AVPU)"
    )

    # field -> (low, high, unit words) of what can be measured on a living patient.
    RANGES = {
        "heart_rate": (20, 300, "beats per minute"),
        "respiratory_rate": (2, 80, "breaths per minute"),
        "spo2": (0, 100, "percent"),
        "systolic_bp": (30, 300, "mmHg"),
        "diastolic_bp": (10, 200, "mmHg"),
        "pain": (0, 10, "on the 0-10 scale"),
    }

    # (value field, its "absent" tick, what the nurse is asked for, and what to do instead when
    # the typed value is too low to be a measurement).
    ABSENT = (
        ("heart_rate", "pulseless", "the heart rate", "If there is no pulse, tick 'No pulse'."),
        (
            "respiratory_rate",
            "apnoeic",
            "the respiratory rate",
            "If the patient is not breathing, tick 'Not breathing'.",
        ),
        (
            "spo2",
            "spo2_unobtainable",
            "the SpO2",
            "If the oximeter finds no reliable trace, tick 'SpO2 cannot be measured'.",
        ),
        (
            "systolic_bp",
            "bp_unobtainable",
            "the systolic BP",
            "If the blood pressure cannot be measured, tick 'BP cannot be measured'.",
        ),
        (
            "diastolic_bp",
            "bp_unobtainable",
            "the diastolic BP",
            "If the blood pressure cannot be measured, tick 'BP cannot be measured'.",
        ),
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        ticks = {tick: self.fields[tick].label for _, tick, _, _ in self.ABSENT}
        for field, tick, what, instead in self.ABSENT:
            value, absent = data.get(field), data.get(tick)
            if field in self.errors:
                continue
            if absent and value is not None:
                self.add_error(
                    field, f"'{ticks[tick]}' is ticked and {what} is filled in: clear one of them."
                )
            elif not absent and value is None:
                self.add_error(field, f"Enter {what}, or tick '{ticks[tick]}'.")
            elif value == 0 and field == "spo2":
                # The range below allows 0 for a typed SpO2, but no oximeter reads 0%.
                self.add_error(field, f"0% is not an SpO2 reading. {instead}")
        low_hints = {field: instead for field, _, _, instead in self.ABSENT}
        for field, (low, high, unit) in self.RANGES.items():
            value = data.get(field)
            if field in self.errors:
                continue
            if value is not None and not low <= value <= high:
                hint = f" {low_hints[field]}" if field in low_hints and value < low else ""
                self.add_error(
                    field, f"{value} is not plausible: expected {low} to {high} {unit}.{hint}"
                )
        sbp, dbp = data.get("systolic_bp"), data.get("diastolic_bp")
        if sbp is not None and dbp is not None and dbp >= sbp and "diastolic_bp" not in self.errors:
            self.add_error("diastolic_bp", "Diastolic pressure must be lower than systolic.")
        temp, unit = data.get("temperature"), data.get("temperature_unit")
        if temp is not None:
            celsius = (temp - 32) * Decimal(5) / Decimal(9) if unit == "F" else temp
            if not Decimal(25) <= celsius <= Decimal(45):
                shown = "77-113 °F" if unit == "F" else "25-45 °C"
                self.add_error("temperature", f"{temp} is not plausible: expected {shown}.")
            else:
                data["temperature_c"] = celsius.quantize(Decimal("0.1"))
        return data


class EncounterForm(VitalSignsForm):
    """Patient identity plus complaint and vitals."""

    mrn = forms.CharField(label="MRN", max_length=64)
    name = forms.CharField(max_length=200, required=False)
    birth_date = forms.DateField(
        required=False,
        # ISO whatever the language (en-gb writes 31/01/1980): a browser's date field shows
        # no other form, so a date given as the form's initial value would show blank.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label="Birth date",
    )
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    chief_complaint = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Describe the complaint in the patient's words."},
    )

    # Who and why first, then the vitals (a subclass's own fields would otherwise come last).
    field_order = ["mrn", "name", "birth_date", "sex", "chief_complaint"]


class _OneLineErrors:
    """Every error of the form as one sentence, for the one alert line these cards show."""

    errors: dict[str, list[str]]

    def error_text(self) -> str:
        return " ".join(message for messages in self.errors.values() for message in messages)


class FinalDiagnosisForm(_OneLineErrors, forms.Form):
    """The code the doctor picked and a note; the code is checked against ICD-10 by the service."""

    icd10_code = forms.CharField(required=False)
    note = forms.CharField(required=False, strip=False)


CHOOSE_OUTCOME = "Choose where the patient went."


class DispositionForm(_OneLineErrors, forms.Form):
    """Where the patient went and the ESI level they needed in hindsight (blank: cannot judge)."""

    outcome = forms.ChoiceField(
        choices=Disposition.Outcome.choices,
        error_messages={"required": CHOOSE_OUTCOME, "invalid_choice": CHOOSE_OUTCOME},
    )
    esi_in_hindsight = forms.TypedChoiceField(
        choices=[(str(level), f"ESI {level}") for level in range(1, 6)],
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": "The ESI level is 1 (most acute) to 5."},
    )
    disposition_note = forms.CharField(required=False, strip=False)
