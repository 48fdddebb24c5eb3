from __future__ import annotations

from decimal import Decimal

from django import forms

from medassist.models import Patient

from .models import Encounter, Finding


class ReviewForm(forms.Form):
    """Accept the suggestion, correct it (one finding, or several when multi-label), or reject.

    A post without ``decision`` is a correction with the chosen finding (the original form),
    which the service records as "accept" when it equals the suggestion.
    """

    DECISIONS = [("accept", "Accept"), ("correct", "Correct"), ("reject", "Reject")]

    decision = forms.ChoiceField(choices=DECISIONS, required=False)
    finding = forms.ModelChoiceField(
        queryset=Finding.objects.none(),
        required=False,
        # No silent default: the doctor picks, or keeps the suggested finding preselected.
        empty_label="— choose the finding —",
    )
    findings = forms.ModelMultipleChoiceField(
        queryset=Finding.objects.none(),
        required=False,
        label="Findings (choose every one you see)",
        widget=forms.CheckboxSelectMultiple,
    )
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    # The worklist filters the doctor came from, so the next case follows the same list.
    worklist = forms.CharField(required=False, widget=forms.HiddenInput, max_length=500)
    then = forms.CharField(required=False, widget=forms.HiddenInput, max_length=10)

    def __init__(
        self, *args: object, findings: object, multi_label: bool = False, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.multi_label = multi_label
        self.fields["finding"].queryset = findings  # type: ignore[attr-defined]
        if multi_label:
            self.fields["findings"].queryset = findings  # type: ignore[attr-defined]
        else:
            del self.fields["findings"]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        decision = data.get("decision") or "correct"
        data["decision"] = decision
        chosen = list(data.get("findings") or [])
        if data.get("finding") is not None and data["finding"] not in chosen:
            chosen.insert(0, data["finding"])
        data["chosen"] = chosen
        if decision == "correct" and not chosen:
            self.add_error("finding", "Choose the finding you see.")
        return data


class EncounterForm(forms.Form):
    """Patient identity plus complaint and vitals, with ranges a nurse would call plausible."""

    mrn = forms.CharField(label="MRN", max_length=64)
    name = forms.CharField(max_length=200, required=False)
    birth_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Birth date"
    )
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    chief_complaint = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Describe the complaint in the patient's words."},
    )
    heart_rate = forms.IntegerField(label="Heart rate (/min)")
    respiratory_rate = forms.IntegerField(label="Respiratory rate (/min)")
    spo2 = forms.IntegerField(label="SpO2 (%)")
    systolic_bp = forms.IntegerField(label="Systolic BP (mmHg)")
    diastolic_bp = forms.IntegerField(label="Diastolic BP (mmHg)")
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

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        for field, (low, high, unit) in self.RANGES.items():
            value = data.get(field)
            if value is not None and not low <= value <= high:
                self.add_error(field, f"{value} is not plausible: expected {low} to {high} {unit}.")
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
