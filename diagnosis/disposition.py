"""The doctor's disposition of an encounter, and the triage label it gives.

A disposition says where the patient went and, optionally, the ESI level the doctor judges
the patient needed in hindsight. That level is the triage task's best label: the nurse
decided at the door, the doctor knows how the visit went. :func:`triage_label_of` is the
one place that decides which label an encounter trains with.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from medassist.services import audit_record

from .chains import encounter_chain, encounter_chain_head
from .models import Encounter, TriageAssessment
from .models_final import Disposition

# Outcomes that show a patient needed far more than ESI 4-5 ("one resource", "none").
_HIGH_ACUITY_OUTCOMES = {
    Disposition.Outcome.CRITICAL_CARE,
    Disposition.Outcome.THEATRE,
    Disposition.Outcome.DIED,
}


def dispositions_of(*, encounter: Encounter) -> QuerySet[Disposition]:
    """Every disposition of the encounter, newest first; the first one is current."""
    return encounter_chain(Disposition, encounter=encounter, related=("doctor", "supersedes"))


@transaction.atomic
def disposition_record(
    *,
    encounter: Encounter,
    doctor: AbstractBaseUser,
    outcome: str,
    esi_in_hindsight: int | None,
    note: str = "",
    remote_addr: str | None = None,
) -> Disposition:
    """Record where the patient went; a previous disposition is superseded, never changed.

    Raises:
        ValidationError: unknown outcome, a level outside 1-5, or ESI 4-5 for a patient
            taken to critical care or theatre, or who died, without a note saying why.
    """
    if outcome not in Disposition.Outcome.values:
        raise ValidationError("Choose where the patient went.", code="outcome")
    if esi_in_hindsight is not None and not 1 <= esi_in_hindsight <= 5:
        raise ValidationError("The ESI level is 1 (most acute) to 5.", code="esi")
    note = note.strip()
    if outcome in _HIGH_ACUITY_OUTCOMES and esi_in_hindsight in (4, 5) and not note:
        raise ValidationError(
            f"ESI {esi_in_hindsight} in hindsight for a patient who was "
            f"“{Disposition.Outcome(outcome).label.lower()}” is unusual: add a note saying "
            "why, or choose another level. It will teach the triage model.",
            code="esi_implausible",
        )
    # Lock the encounter so two doctors saving at once still form one chain.
    previous = encounter_chain_head(Disposition, encounter_id=encounter.pk)
    disposition = Disposition(
        encounter=encounter,
        doctor=doctor,
        outcome=outcome,
        esi_in_hindsight=esi_in_hindsight,
        note=note,
        supersedes=previous,
    )
    disposition.full_clean()
    disposition.save()
    audit_record(
        actor=doctor,
        action="disposition.record",
        obj=disposition,
        detail={
            "encounter": encounter.pk,
            "mrn": encounter.patient.mrn,
            "outcome": outcome,
            "esi_in_hindsight": esi_in_hindsight,
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return disposition


def triage_labels() -> dict[int, tuple[int, str]]:
    """The triage label of every labelled encounter: ``{encounter id: (level, source)}``.

    The current disposition's ESI in hindsight when the doctor gave one (source
    ``"disposition"``), else the nurse's confirmed level on the current assessment
    (``"nurse"``). Encounters with neither have no label.
    """
    labels: dict[int, tuple[int, str]] = {}
    for encounter_id, level in TriageAssessment.objects.filter(
        superseded_by__isnull=True, confirmed_level__isnull=False
    ).values_list("encounter_id", "confirmed_level"):
        labels[encounter_id] = (int(level), "nurse")
    for encounter_id, level in Disposition.objects.filter(
        superseded_by__isnull=True, esi_in_hindsight__isnull=False
    ).values_list("encounter_id", "esi_in_hindsight"):
        labels[encounter_id] = (int(level), "disposition")
    return labels
