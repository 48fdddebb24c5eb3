"""Writes of the core app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest

from .models import AuditEvent, Patient


def client_ip(request: HttpRequest) -> str | None:
    """The address an audit event records for a request (as the web server saw it)."""
    return request.META.get("REMOTE_ADDR")


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    obj: Any = None,
    detail: dict[str, Any] | None = None,
    remote_addr: str | None = None,
) -> AuditEvent:
    """Append one audit event; ``obj`` is any model instance (its type and pk are kept)."""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        detail=detail or {},
        remote_addr=remote_addr,
    )


@transaction.atomic
def patient_get_or_register(
    *,
    mrn: str,
    name: str = "",
    birth_date: dt.date | None = None,
    sex: str = Patient.Sex.UNKNOWN,
    is_synthetic: bool = False,
    actor: AbstractBaseUser | None = None,
) -> Patient:
    """Return the patient with this MRN, registering them first if they are new.

    Details of an existing patient are filled in where they were blank, never overwritten.
    """
    patient, created = Patient.objects.select_for_update().get_or_create(
        mrn=mrn.strip(),
        defaults={"name": name, "birth_date": birth_date, "sex": sex, "is_synthetic": is_synthetic},
    )
    if created:
        patient.full_clean()
        audit_record(actor=actor, action="patient.register", obj=patient)
        return patient
    changed = []
    for field, value in (("name", name), ("birth_date", birth_date)):
        if value and not getattr(patient, field):
            setattr(patient, field, value)
            changed.append(field)
    if sex != Patient.Sex.UNKNOWN and patient.sex == Patient.Sex.UNKNOWN:
        patient.sex = sex
        changed.append("sex")
    if changed:
        patient.full_clean()
        patient.save(update_fields=changed)
    return patient
