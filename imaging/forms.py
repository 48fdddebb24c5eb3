from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from .ingest.bulk import is_zip
from .ingest.parsing import PREAMBLE_LENGTH


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes any number of files (Django's documented recipe)."""

    def __init__(self, *args: Any, attrs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs or {}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


class UploadForm(forms.Form):
    """One file, many files, a .zip, or a whole folder; without JavaScript it still works."""

    file = MultipleFileField(
        label="DICOM files",
        required=False,
        help_text="One or more DICOM Part 10 files (.dcm), or a .zip of them.",
        attrs={"accept": ".dcm,.dicom,.zip,application/dicom,application/zip"},
    )
    folder = MultipleFileField(
        label="…or a whole folder",
        required=False,
        help_text="Every file in the folder and its subfolders is sent.",
        attrs={"webkitdirectory": True, "directory": True},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("file") and not cleaned.get("folder") and not self.errors:
            self.add_error("file", "Choose a DICOM file to upload.")
        return cleaned

    def uploads(self) -> list[UploadedFile]:
        return [*self.cleaned_data.get("file", []), *self.cleaned_data.get("folder", [])]

    def is_single_file(self) -> bool:
        """One plain file (not a .zip, not a folder): the page goes straight to its case."""
        files = self.uploads()
        if len(files) != 1 or self.cleaned_data.get("folder"):
            return False
        head = files[0].read(PREAMBLE_LENGTH + 4)
        files[0].seek(0)
        return not is_zip(head, files[0].name or "")
