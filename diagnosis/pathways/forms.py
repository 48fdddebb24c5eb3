"""Forms of the care pathways: the clinical lead's editor and the doctor's checklist."""

from __future__ import annotations

from typing import Any

from django import forms

from diagnosis.pathways.models import PathwayItem, PathwayVersion
from diagnosis.pathways.services import ACCEPT, DECLINE, ItemSpec, ItemState

# Blank step rows under the written ones; "More rows" adds this many again.
EXTRA_ROWS = 3


class PathwayForm(forms.Form):
    """A version's title, review date and change note; the group only when creating."""

    group = forms.CharField(
        label="Diagnosis group (ICD-10)",
        max_length=40,
        help_text=(
            "An ICD-10 block such as I20-I25, or a range of categories such as J45-J46 "
            "(J45-J45 for one category). One code such as I21.4 stands for its block."
        ),
        error_messages={"required": "Enter the diagnosis group, e.g. I20-I25."},
    )
    title = forms.CharField(
        max_length=200,
        error_messages={"required": "Give the pathway a title doctors will recognise."},
    )
    review_date = forms.DateField(
        # A date input takes ISO dates only, whatever the site's language writes.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text="When the clinical leads will look at this pathway again.",
        error_messages={
            "required": "Choose the review date.",
            "invalid": "Enter the review date as a date, e.g. 2027-06-30.",
        },
    )
    change_note = forms.CharField(
        label="What changed, and why",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, creating: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            del self.fields["change_note"]
        else:
            del self.fields["group"]


class PathwayItemForm(forms.Form):
    """One recommended next step: its kind and its text (a blank row is left out)."""

    kind = forms.ChoiceField(
        choices=[("", "Kind…"), *PathwayItem.Kind.choices],
        required=False,
    )
    text = forms.CharField(
        label="Step",
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"size": 80}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("text", "").strip() and not data.get("kind"):
            self.add_error("kind", "Choose the kind of this step.")
        return data


PathwayItemFormSet = forms.formset_factory(PathwayItemForm, extra=EXTRA_ROWS, max_num=60)


def items_of(formset: forms.BaseFormSet) -> list[ItemSpec]:
    """The steps the lead wrote, in order; blank rows left out (call after is_valid())."""
    return [
        ItemSpec(kind=form.cleaned_data["kind"], text=form.cleaned_data["text"])
        for form in formset.forms
        if form.cleaned_data.get("text", "").strip()
    ]


def formset_initial(version: PathwayVersion | None) -> list[dict[str, str]]:
    """The steps of ``version`` as the editor's first rows."""
    if version is None:
        return []
    return [{"kind": item.kind, "text": item.text} for item in version.items.all()]


class PathwayRetireForm(forms.Form):
    reason = forms.CharField(
        label="Why is it retired?",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the pathway is retired."},
    )


class PathwayUseForm(forms.Form):
    """The doctor's checklist: one tick and one note per step, then accept or decline.

    Fields per step ``item_<id>`` (ticked: followed) and ``note_<id>``; ``action`` is the
    button pressed. Built for one version; ``item_states()`` gives what the service takes.
    """

    action = forms.ChoiceField(
        choices=[(ACCEPT, "Accept"), (DECLINE, "Decline")],
        error_messages={"required": "Accept the pathway or decline it."},
    )
    decline_reason = forms.CharField(
        label="Reason for declining",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, version: PathwayVersion, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = version
        self.items = list(version.items.all())
        for item in self.items:
            self.fields[f"item_{item.pk}"] = forms.BooleanField(
                required=False, initial=True, label=item.text
            )
            self.fields[f"note_{item.pk}"] = forms.CharField(
                required=False, max_length=1000, label=f"Note on step {item.position}"
            )

    def rows(self) -> list[tuple[PathwayItem, forms.BoundField, forms.BoundField]]:
        """Each step with its tick and its note, in the pathway's order."""
        return [(item, self[f"item_{item.pk}"], self[f"note_{item.pk}"]) for item in self.items]

    def item_states(self) -> dict[int, ItemState]:
        return {
            item.pk: ItemState(
                followed=bool(self.cleaned_data.get(f"item_{item.pk}")),
                note=self.cleaned_data.get(f"note_{item.pk}", ""),
            )
            for item in self.items
        }

    def error_text(self) -> str:
        return " ".join(message for messages in self.errors.values() for message in messages)
