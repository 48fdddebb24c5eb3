"""Reads of the PACS export: the mode in use, and what the case page shows of an image's exports."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from diagnosis.pacs.models import PacsExport
from diagnosis.review.models import ReadingState, Review
from imaging.models import Instance

OFF, AUTO, MANUAL = "off", "auto", "manual"
# An export in these states still moves on its own (the case page's panel polls).
MOVING = (PacsExport.Status.QUEUED, PacsExport.Status.SENDING)


def pacs_mode() -> str:
    """``off``, ``auto`` or ``manual`` (``MEDASSIST_PACS_SEND``)."""
    return str(settings.MEDASSIST_PACS_SEND)


def pacs_destination() -> str:
    """Where exports go, as the case page and the audit log name it: "AE@host:port"."""
    return (
        f"{settings.MEDASSIST_PACS_AE_TITLE}@{settings.MEDASSIST_PACS_HOST}:"
        f"{settings.MEDASSIST_PACS_PORT}"
    )


def final_review(*, instance: Instance) -> Review | None:
    """The review that is the image's final read (its label), when a clinician made it.

    With single reading it is the current review; with double reading, the agreed read or
    the adjudication. Imported labels and demo truth are not a doctor's report: None.
    """
    state = ReadingState.objects.select_related("label").filter(instance=instance).first()
    if state is None or state.label is None:
        return None
    if state.label.source != Review.Source.CLINICIAN:
        return None
    return state.label


@dataclass
class PacsPanel:
    """What the case page shows: the mode, this image's exports, and whether to offer the
    "Send to PACS" button (and what it says)."""

    mode: str
    destination: str
    exports: list[PacsExport] = field(default_factory=list)
    final_review_id: int | None = None
    button: str = ""  # empty: no button

    @property
    def moving(self) -> bool:
        return any(e.status in MOVING for e in self.exports)


def pacs_panel(*, instance: Instance) -> PacsPanel:
    mode = pacs_mode()
    panel = PacsPanel(mode=mode, destination=pacs_destination() if mode != OFF else "")
    if mode == OFF:
        return panel
    panel.exports = list(
        PacsExport.objects.filter(instance=instance)
        .select_related("review__reviewer", "requested_by", "replaces")
        .order_by("-pk")[:10]
    )
    final = final_review(instance=instance)
    if final is None:
        return panel
    panel.final_review_id = final.pk
    current = next((e for e in panel.exports if e.review_id == final.pk), None)
    if current is None:
        panel.button = "Send to PACS"
    elif current.status == PacsExport.Status.FAILED:
        panel.button = "Retry sending to PACS now"
    return panel
