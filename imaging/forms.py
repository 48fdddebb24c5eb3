from __future__ import annotations

from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(
        label="DICOM file",
        help_text="One DICOM Part 10 file (.dcm).",
        error_messages={"required": "Choose a DICOM file to upload."},
    )
