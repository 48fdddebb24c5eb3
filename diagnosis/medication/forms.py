"""Forms of medication safety. They only parse what was typed; the services judge it (by
field, so each message shows next to its field)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from diagnosis.medication.models import AllergyRecord, KnowledgeEntry, Severity
from diagnosis.medication.selectors import MedicationWarning


class KnowledgeEntryForm(forms.Form):
    kind = forms.ChoiceField(label="Kind of entry", choices=KnowledgeEntry.Kind.choices)
    name = forms.CharField(
        label="Class name", required=False, max_length=100, help_text="e.g. penicillins"
    )
    members = forms.CharField(
        label="Substances of the class, one a line",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    term_a = forms.CharField(
        label="Allergy to, or first medication (a substance or a class)",
        required=False,
        max_length=100,
    )
    term_b = forms.CharField(
        label="Medication warned about (a substance or a class)", required=False, max_length=100
    )
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "—"), *Severity.choices]
    )
    note = forms.CharField(
        label="Risk (reaction or mechanism)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    action = forms.CharField(
        label="What to do", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    source = forms.CharField(
        label="Source (citation)",
        required=False,
        max_length=300,
        help_text="The reference this entry was checked against, e.g. BNF Appendix 1 "
        "(summary). Cite it; do not copy its text.",
    )
    change_note = forms.CharField(
        label="What changed and why", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            del self.fields["change_note"]
        else:
            del self.fields["kind"]


class KnowledgeRetireForm(forms.Form):
    reason = forms.CharField(
        label="Why is it retired?",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the entry is retired."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_retire_%s")
        super().__init__(*args, **kwargs)


class AllergyForm(forms.Form):
    kind = forms.ChoiceField(
        label="Record",
        choices=AllergyRecord.Kind.choices,
        initial=AllergyRecord.Kind.ALLERGY,
        widget=forms.RadioSelect,
    )
    substance = forms.CharField(label="Substance", required=False, max_length=100)
    reaction = forms.CharField(label="Reaction", required=False, max_length=200)
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=[("", "—"), *AllergyRecord.AllergySeverity.choices],
    )
    replaces = forms.IntegerField(required=False, widget=forms.HiddenInput)
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Three forms share the page: each its own element ids, so each label finds its field.
        kwargs.setdefault("auto_id", "allergy_%s")
        super().__init__(*args, **kwargs)


class MedicationForm(forms.Form):
    name = forms.CharField(label="Medication", required=False, max_length=100)
    dose = forms.CharField(label="Dose", required=False, max_length=50)
    route = forms.CharField(label="Route", required=False, max_length=50)
    frequency = forms.CharField(label="Frequency", required=False, max_length=50)
    replaces = forms.IntegerField(required=False, widget=forms.HiddenInput)
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "medication_%s")
        super().__init__(*args, **kwargs)


class PlanForm(forms.Form):
    """A medication for the encounter's plan, with one acknowledgement per warning shown."""

    name = forms.CharField(label="Medication", required=False, max_length=100)
    dose = forms.CharField(label="Dose", required=False, max_length=50)
    route = forms.CharField(label="Route", required=False, max_length=50)
    frequency = forms.CharField(label="Frequency", required=False, max_length=50)

    def __init__(
        self, *args: Any, warnings: Sequence[MedicationWarning] = (), **kwargs: Any
    ) -> None:
        kwargs.setdefault("auto_id", "plan_%s")
        super().__init__(*args, **kwargs)
        self.warnings = list(warnings)
        for warning in self.warnings:
            self.fields[f"ack_{warning.key}"] = forms.BooleanField(
                label="I have read this warning", required=False
            )
            self.fields[f"reason_{warning.key}"] = forms.CharField(
                label="Reason to override",
                required=False,
                max_length=1000,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def warning_rows(self) -> list[tuple[MedicationWarning, forms.BoundField, forms.BoundField]]:
        return [(w, self[f"ack_{w.key}"], self[f"reason_{w.key}"]) for w in self.warnings]
