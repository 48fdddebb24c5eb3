"""Forms of the ML admin's pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from . import export


class ExportForm(forms.Form):
    """What a de-identified export holds; the page explains each choice."""

    findings = forms.MultipleChoiceField(
        label="Findings",
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": "Choose at least one finding.",
            "invalid_choice": "That finding is not in the vocabulary; reload the page.",
        },
    )
    date_from = forms.DateField(
        label="Study date from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date such as 2024-01-31."},
    )
    date_to = forms.DateField(
        label="Study date to",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date such as 2024-01-31."},
    )
    modified_dates = forms.BooleanField(
        label="Keep dates, shifted (Retain Longitudinal Temporal Information with Modified Dates)",
        required=False,
        help_text="All dates of one patient move back by the same random 1 to 10 years, so "
        "intervals between studies stay true. Without it, dates are removed or emptied.",
    )
    clean_descriptors = forms.BooleanField(
        label="Keep safe descriptions (Clean Descriptors)",
        required=False,
        help_text="Study and series descriptions and similar text are kept only when they are "
        "exactly one of the allowed phrases listed below; any other text is removed.",
    )
    include_burned_in = forms.BooleanField(
        label="Include images that may have text burned into the pixels",
        required=False,
        help_text="De-identification cannot remove names written into the image itself. "
        "Check every such image before the dataset leaves the hospital.",
    )

    def __init__(self, *args: Any, findings: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["findings"].choices = findings

    def clean_date_to(self) -> dt.date | None:
        # date_from is cleaned first (fields clean in order), so it is known here.
        start, end = self.cleaned_data.get("date_from"), self.cleaned_data.get("date_to")
        if start and end and end < start:
            raise forms.ValidationError("The end date is before the start date.")
        return end

    def choice(self) -> export.ExportChoice:
        data = self.cleaned_data
        return export.ExportChoice(
            findings=tuple(data["findings"]),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            modified_dates=data.get("modified_dates", False),
            clean_descriptors=data.get("clean_descriptors", False),
            include_burned_in=data.get("include_burned_in", False),
        )
