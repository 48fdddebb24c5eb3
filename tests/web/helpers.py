"""Reading rendered pages the way a user does: which message sits next to which field."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse

# templates/_field.html: one <div class="field"> per field holding its label, widget, errors.
_FIELD_BLOCK = re.compile(r'<div class="field[^"]*">(.*?)</div>', re.DOTALL)
_LABEL_FOR = re.compile(r'<label for="id_([\w-]+)">')
_ERROR = re.compile(r'<p class="error"[^>]*>(.*?)</p>', re.DOTALL)


def text_of(response: HttpResponse) -> str:
    return html.unescape(response.content.decode())


def field_errors(response: HttpResponse) -> dict[str, list[str]]:
    """Map each form field name to the error messages shown inside that field's own block."""
    found: dict[str, list[str]] = {}
    for block in _FIELD_BLOCK.findall(response.content.decode()):
        label = _LABEL_FOR.search(block)
        if label is None:
            continue
        errors = [html.unescape(e).strip() for e in _ERROR.findall(block)]
        if errors:
            found[label.group(1)] = errors
    return found


def stored_files() -> dict[str, str]:
    """Every stored DICOM file under MEDIA_ROOT/dicom, relative path -> SHA-256."""
    root = Path(settings.MEDIA_ROOT) / "dicom"
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }
