"""The doctor's review form."""

from __future__ import annotations

from django import forms

from diagnosis.registry.models import Finding


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
