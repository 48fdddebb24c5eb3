"""Pathways the tests build on, written and approved through the services as leads do."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from diagnosis.pathways.models import PathwayVersion
from diagnosis.pathways.services import ItemSpec, pathway_create, pathway_version_approve

CHEST_PAIN_STEPS = (
    ItemSpec(kind="investigation", text="12-lead ECG"),
    ItemSpec(kind="investigation", text="Troponin on arrival"),
    ItemSpec(kind="referral", text="Discuss with cardiology"),
    ItemSpec(kind="safety_net", text="Return if the pain comes back"),
)


def in_days(days: int) -> dt.date:
    return timezone.localdate() + dt.timedelta(days=days)


def approved_pathway(
    *,
    author: AbstractBaseUser,
    approver: AbstractBaseUser,
    group: str = "I20-I25",
    title: str = "Chest pain",
    items: tuple[ItemSpec, ...] = CHEST_PAIN_STEPS,
    review_in_days: int = 365,
) -> PathwayVersion:
    """A pathway whose first version ``author`` wrote and ``approver`` approved."""
    version = pathway_create(
        author=author,
        group=group,
        title=title,
        review_date=in_days(review_in_days),
        items=list(items),
    )
    pathway_version_approve(version=version, approver=approver)
    return version
