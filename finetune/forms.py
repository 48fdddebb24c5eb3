"""Forms of the ML admin's pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import validate_slug

from diagnosis.registry.models import RADLEX_VALIDATOR, SNOMED_CT_VALIDATOR
from diagnosis.registry.selectors import finding_with_code

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
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date such as 2024-01-31."},
    )
    date_to = forms.DateField(
        label="Study date to",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
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


class RollbackForm(forms.Form):
    """Make an earlier version the champion: the reason goes into the audit log."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the audit log with your name, e.g. “v7 misses nodules on CT”.",
        error_messages={"required": "Give the reason for making this version the champion."},
    )
    confirm = forms.BooleanField(
        label="I confirm: new suggestions will come from this version from the next batch on.",
        error_messages={"required": "Tick the box to confirm the change of champion."},
    )


class TestSetGrowForm(forms.Form):
    """How many reviewed cases per finding to freeze into the test set: a dry run, then freeze."""

    per_finding = forms.IntegerField(
        label="Cases per finding",
        min_value=1,
        max_value=1000,
        initial=10,
        help_text="At most this many more cases of each finding; fewer where fewer are labelled.",
        error_messages={
            "required": "Enter how many cases of each finding to freeze.",
            "invalid": "Enter a whole number.",
            "min_value": "Freeze at least one case per finding.",
            "max_value": "Freeze at most 1000 cases per finding at a time.",
        },
    )
    seed = forms.IntegerField(
        label="Seed (optional)",
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="The same seed on the same labels picks the same cases. Empty: a new one.",
        error_messages={
            "invalid": "Enter a whole number, or leave it empty.",
            "min_value": "Enter a number of 0 or more.",
            "max_value": "Enter a smaller number.",
        },
    )
    confirm = forms.BooleanField(
        label="I understand: frozen cases and their patients never reach training again, "
        "and the test set cannot shrink.",
        required=False,
    )

    def __init__(self, *args: Any, freeze: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.freeze = freeze

    def clean_confirm(self) -> bool:
        confirm = bool(self.cleaned_data.get("confirm"))
        if self.freeze and not confirm:
            raise forms.ValidationError("Tick the box to confirm freezing these cases.")
        return confirm


class EncounterTestSetGrowForm(forms.Form):
    """Which share of the patients not yet in the encounter diagnosis test set to freeze."""

    percent = forms.IntegerField(
        label="Share of the remaining diagnosed patients (%)",
        min_value=1,
        max_value=100,
        initial=30,
        help_text="Every diagnosed encounter of each drawn patient is frozen; real patients "
        "are drawn first.",
        error_messages={
            "required": "Enter the share of patients to freeze.",
            "invalid": "Enter a whole number.",
            "min_value": "Freeze at least 1%.",
            "max_value": "At most 100%.",
        },
    )
    confirm_encounters = forms.BooleanField(
        label="I understand: these patients' encounters never reach training again, and the "
        "test set cannot shrink.",
        error_messages={"required": "Tick the box to confirm freezing these patients."},
    )


class FindingForm(forms.Form):
    """What an ML admin may change about a finding: everything but its code."""

    name = forms.CharField(
        label="Name",
        max_length=200,
        help_text="As reviewers will see it in the review form, e.g. “Pleural effusion”.",
        error_messages={"required": "Give the finding a name reviewers will recognise."},
    )
    description = forms.CharField(
        label="Description",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="When to choose it, for reviewers and for whoever reads the model card.",
    )
    snomed_ct = forms.CharField(
        label="SNOMED CT concept id (optional)",
        required=False,
        max_length=18,
        validators=[SNOMED_CT_VALIDATOR],
        error_messages={"max_length": "A SNOMED CT concept id is at most 18 digits."},
    )
    radlex = forms.CharField(
        label="RadLex id (optional)",
        required=False,
        max_length=24,
        validators=[RADLEX_VALIDATOR],
        error_messages={"max_length": "A RadLex id is at most 24 characters, e.g. RID5350."},
    )
    sensitivity_margin = forms.FloatField(
        label="Sensitivity margin (optional)",
        required=False,
        min_value=0.0,
        max_value=1.0,
        help_text="The promotion gate refuses a new version whose sensitivity for this finding "
        "drops by more than this, e.g. 0.02 for a finding that must never be missed more "
        "often. Empty: the site's default.",
        error_messages={
            "min_value": "A margin is between 0 and 1 (a share of this finding's cases).",
            "max_value": "A margin is between 0 and 1 (a share of this finding's cases).",
            "invalid": "Give the margin as a number such as 0.05.",
        },
    )


class FindingAddForm(FindingForm):
    """A new finding: its permanent code first, then what :class:`FindingForm` asks."""

    code = forms.CharField(
        label="Code",
        max_length=64,
        validators=[validate_slug],
        help_text="Permanent and never reused: lower-case letters, digits and hyphens, "
        "e.g. pleural-effusion. Reviews, test cases and model versions name the finding by it.",
        error_messages={
            "required": "Give the finding a code.",
            "invalid": "Use only lower-case letters, digits, hyphens or underscores, "
            "e.g. pleural-effusion.",
        },
    )
    field_order = ["code", "name", "description", "snomed_ct", "radlex"]

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        existing = finding_with_code(code=code)
        if existing is not None:
            state = "a retired finding" if existing.retired_at else "an offered finding"
            raise forms.ValidationError(
                f"The code “{code}” already belongs to {state} (“{existing.name}”). Codes are "
                "never reused, so old reviews and model versions keep their meaning; choose "
                "another code."
            )
        return code


class FindingRetireForm(forms.Form):
    """Retiring is for good: the finding is no longer offered and its code is never reused."""

    confirm = forms.BooleanField(
        label="I confirm: reviewers will no longer be offered this finding, new model "
        "versions will not predict it, and its code can never be used again.",
        error_messages={"required": "Tick the box to confirm retiring this finding."},
    )


class LabelImportForm(forms.Form):
    """A CSV of existing labels and, optionally, a .zip of the DICOM files it names.

    The first submission is a dry run; "Import" sends the same files again with the
    fingerprint of the dry run, so what is imported is what the ML admin saw.
    """

    labels = forms.FileField(
        label="Labels (CSV)",
        help_text="A header row, then one row per label: a column naming the image "
        "(sop_instance_uid, study_instance_uid or file) and a finding column (a finding's code "
        "or name); comment is optional. UTF-8.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={
            "required": "Choose the CSV file of labels.",
            "empty": "This CSV file is empty: it needs a header row, then one row per label.",
        },
    )
    images = forms.FileField(
        label="DICOM images (.zip, optional)",
        required=False,
        help_text="The images the CSV names, in one .zip (folders inside are fine). Leave it "
        "empty to label images already stored.",
        widget=forms.FileInput(attrs={"accept": ".zip,application/zip"}),
        error_messages={"empty": "This .zip file is empty."},
    )
    # Set by the dry run's report; an import of other files than the dry run's is refused.
    fingerprint = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
