"""Care pathways: the hospital's written next steps for a group of diagnoses, and their use.

A :class:`Pathway` is one diagnosis group's pathway (``I20-I25``); what it says lives in its
:class:`PathwayVersion` rows, each with its checklist of :class:`PathwayItem` rows. A clinical
lead writes a version (the author), a different clinical lead approves it
(:class:`PathwayApproval`: four eyes), and the newest approved version is the one offered to
doctors. Editing writes a new version; nothing a version says is ever changed or deleted,
so an encounter that used version 3 shows version 3 for ever.

When a doctor records a final diagnosis, the pathway of its group is offered; the doctor's
decision is a :class:`PathwayUse` naming the exact version, with one
:class:`PathwayUseItem` per item saying whether it was followed and any note.

Pathways are written by people: no model generates or edits them.

Every table here but :class:`Pathway` is insert-only: the models refuse to update or
delete a row, and on PostgreSQL a trigger refuses UPDATE and DELETE whoever sends them
(migration ``0014_care_pathways``). A pathway row itself is never deleted; retiring it (no
longer offered) is the one change it takes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class InsertOnlyModel(models.Model):
    """A row that is written once: saving it again or deleting it raises ValueError."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError(f"{self._meta.verbose_name} rows are never changed: write a new one.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError(f"{self._meta.verbose_name} rows are never deleted.")


class Pathway(models.Model):
    """The care pathway of one diagnosis group; its content is in its versions.

    The group is a range of ICD-10 categories, ``group_first`` to ``group_last`` inclusive
    (:mod:`diagnosis.pathways.groups`); its title is copied as the code set read when the
    pathway was created. One pathway in service per group: a retired one makes room.
    """

    group_first = models.CharField("first ICD-10 category", max_length=3)
    group_last = models.CharField("last ICD-10 category", max_length=3)
    group_title = models.CharField("diagnosis group title", max_length=300)
    # Demo pathways are sample content, not clinical guidance: every page that shows one says so.
    is_demo = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    retire_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group_first", "group_last"],
                condition=Q(retired_at__isnull=True),
                name="pathway_one_in_service_per_group",
            ),
            models.CheckConstraint(
                condition=Q(group_first__lte=F("group_last")), name="pathway_group_in_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Pathway {self.pk} ({self.group_label})"

    @property
    def group_label(self) -> str:
        return f"{self.group_first}-{self.group_last}"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class PathwayVersion(InsertOnlyModel):
    """What a pathway says, as one clinical lead wrote it. Never changed: an edit is a new one.

    ``number`` counts from 1 per pathway. A version is approved when it has a
    :class:`PathwayApproval`; the pathway's current version is its highest-numbered approved
    one. ``review_date`` is when the clinical leads promised to look at it again; after it
    the version is still offered, flagged "Review overdue".
    """

    pathway = models.ForeignKey(Pathway, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    review_date = models.DateField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # What changed since the version before, and why (empty for the first).
    change_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["pathway", "number"], name="pathwayversion_number")
        ]

    def __str__(self) -> str:
        return f"Pathway {self.pathway_id} v{self.number}: {self.title}"

    def review_overdue(self, *, today: dt.date) -> bool:
        """Whether the review date has passed (it is overdue from the day after)."""
        return today > self.review_date


class PathwayItem(InsertOnlyModel):
    """One recommended next step of a version, in the order the lead wrote them."""

    class Kind(models.TextChoices):
        INVESTIGATION = "investigation", "Investigation"
        TREATMENT = "treatment", "Treatment"
        REFERRAL = "referral", "Referral"
        FOLLOW_UP = "follow_up", "Follow-up"
        SAFETY_NET = "safety_net", "Safety-net advice"

    version = models.ForeignKey(PathwayVersion, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    text = models.TextField(max_length=1000)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="pathwayitem_position")
        ]

    def __str__(self) -> str:
        return f"Item {self.position} of pathway version {self.version_id}: {self.kind}"


class PathwayApproval(InsertOnlyModel):
    """A clinical lead other than the author approving a version (four eyes)."""

    version = models.OneToOneField(
        PathwayVersion, primary_key=True, on_delete=models.PROTECT, related_name="approval"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Approval of pathway version {self.version_id} by {self.approver_id}"


class PathwayUse(InsertOnlyModel):
    """What a doctor did with the pathway offered for an encounter's final diagnosis.

    Names the exact version offered. Never changed: a new decision supersedes the last, and
    both remain.
    """

    class Decision(models.TextChoices):
        ACCEPTED = "accepted", "Accepted as written"
        EDITED = "edited", "Accepted with changes"
        DECLINED = "declined", "Declined"

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="pathway_uses"
    )
    final_diagnosis = models.ForeignKey(
        "diagnosis.FinalDiagnosis", on_delete=models.PROTECT, related_name="pathway_uses"
    )
    version = models.ForeignKey(PathwayVersion, on_delete=models.PROTECT, related_name="uses")
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    decline_reason = models.TextField(blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="declined") | ~Q(decline_reason=""),
                name="pathwayuse_decline_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"Pathway use {self.pk}: {self.decision} v{self.version_id} on {self.encounter_id}"


class PathwayUseItem(InsertOnlyModel):
    """One item's state in a doctor's decision: followed (ticked) or not, with a note."""

    use = models.ForeignKey(PathwayUse, on_delete=models.PROTECT, related_name="item_states")
    item = models.ForeignKey(PathwayItem, on_delete=models.PROTECT, related_name="+")
    followed = models.BooleanField()
    note = models.TextField(blank=True, max_length=1000)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["use", "item"], name="pathwayuseitem_once")]

    def __str__(self) -> str:
        return f"Item {self.item_id} in pathway use {self.use_id}: followed={self.followed}"
