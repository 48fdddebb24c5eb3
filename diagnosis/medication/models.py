"""Medication safety: the patient's allergies and current medications, the doctor's
medication plan for an encounter, and the curated knowledge table that checks them.

The knowledge table is the hospital's own: clinical leads write each entry (a
:class:`KnowledgeEntry`: a drug class and its members, an allergy cross-reactivity rule or an
interaction pair), and a different clinical lead approves each version
(:class:`KnowledgeApproval`: four eyes), as for the care pathways. Only approved versions
check anything, and only while their entry is not retired (one clinical lead retires an
entry, with a reason, as a care pathway is retired). It is a curated table, not a complete
interaction checker.

The patient's records are insert-only: a change to an allergy or a medication is a new row
that supersedes the last, and removing one is a new row marking it inactive.
:class:`MedicationPlanEntry` is a medication a doctor entered for the encounter; each warning
it raised was acknowledged with a reason (:class:`WarningOverride`) before it was saved.
Nothing here prescribes: a plan entry records the doctor's own decision.

Every table here but :class:`KnowledgeEntry` is insert-only: the models refuse to update or
delete a row, and on PostgreSQL a trigger refuses UPDATE and DELETE whoever sends them
(migration ``0019_medication_safety``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from diagnosis.pathways.models import InsertOnlyModel


class Severity(models.TextChoices):
    """How strongly a knowledge-table rule warns."""

    CONTRAINDICATED = "contraindicated", "Contraindicated"
    MAJOR = "major", "Major"
    MODERATE = "moderate", "Moderate (caution)"


class KnowledgeEntry(models.Model):
    """One entry of the curated medication knowledge table; its content is in its versions."""

    class Kind(models.TextChoices):
        DRUG_CLASS = "class", "Drug class"
        ALLERGY = "allergy", "Allergy cross-reactivity"
        INTERACTION = "interaction", "Interaction"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Demo entries are sample content, not clinical guidance: every page that shows one says so.
    is_demo = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A retired entry checks nothing from then on; its versions, and every warning override
    # that cited one of them, stay readable (the overrides point at the exact version).
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    retire_reason = models.TextField(blank=True, max_length=1000)

    def __str__(self) -> str:
        return f"Knowledge entry {self.pk} ({self.kind})"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None


class KnowledgeVersion(InsertOnlyModel):
    """What an entry says, as one clinical lead wrote it. Never changed: an edit is a new one.

    For a drug class: ``name`` and ``members`` (substance names, one a line). For an allergy
    rule: an allergy to ``term_a`` (a substance or a class name) warns for ``term_b``. For an
    interaction: ``term_a`` with ``term_b``. ``note`` is the reaction risk or the mechanism,
    ``action`` what to do, ``source`` the citation the lead checked it against.
    """

    entry = models.ForeignKey(KnowledgeEntry, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100, blank=True)
    members = models.TextField(blank=True, max_length=4000)
    term_a = models.CharField(max_length=100, blank=True)
    term_b = models.CharField(max_length=100, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, blank=True)
    note = models.TextField(blank=True, max_length=1000)
    action = models.TextField(blank=True, max_length=1000)
    source = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    change_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "number"], name="knowledgeversion_number")
        ]

    def __str__(self) -> str:
        return f"Knowledge entry {self.entry_id} v{self.number}: {self.label}"

    @property
    def label(self) -> str:
        """The entry in a few words: the class name, or the pair of terms."""
        return self.name or f"{self.term_a} / {self.term_b}"

    def member_list(self) -> list[str]:
        return [m.strip() for m in self.members.splitlines() if m.strip()]


class KnowledgeApproval(InsertOnlyModel):
    """A clinical lead other than the author approving a version (four eyes)."""

    version = models.OneToOneField(
        KnowledgeVersion, primary_key=True, on_delete=models.PROTECT, related_name="approval"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Approval of knowledge version {self.version_id} by {self.approver_id}"


class AllergyRecord(InsertOnlyModel):
    """One statement about the patient's allergies: an allergy, or "no known allergies".

    A change is a new row superseding this one; removal is a new row with ``active`` false.
    """

    class Kind(models.TextChoices):
        ALLERGY = "allergy", "Allergy"
        NONE_KNOWN = "none_known", "No known allergies"

    class AllergySeverity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"
        LIFE_THREATENING = "life_threatening", "Life-threatening"

    patient = models.ForeignKey(
        "medassist.Patient", on_delete=models.PROTECT, related_name="allergy_records"
    )
    encounter = models.ForeignKey(
        "diagnosis.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    substance = models.CharField(max_length=100, blank=True)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=16, choices=AllergySeverity.choices, blank=True)
    active = models.BooleanField(default=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="none_known") | ~Q(substance=""),
                name="allergyrecord_allergy_has_substance",
            )
        ]

    def __str__(self) -> str:
        what = self.substance if self.kind == self.Kind.ALLERGY else "no known allergies"
        return f"Allergy record {self.pk} of patient {self.patient_id}: {what}"


class MedicationRecord(InsertOnlyModel):
    """One medication the patient currently takes, as recorded; superseded, never changed."""

    patient = models.ForeignKey(
        "medassist.Patient", on_delete=models.PROTECT, related_name="medication_records"
    )
    encounter = models.ForeignKey(
        "diagnosis.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=100)
    dose = models.CharField(max_length=50, blank=True)
    route = models.CharField(max_length=50, blank=True)
    frequency = models.CharField(max_length=50, blank=True)
    active = models.BooleanField(default=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Medication record {self.pk} of patient {self.patient_id}: {self.name}"


class MedicationPlanEntry(InsertOnlyModel):
    """A medication the doctor entered for the encounter, after every warning was overridden."""

    encounter = models.ForeignKey(
        "diagnosis.Encounter", on_delete=models.PROTECT, related_name="medication_plan"
    )
    doctor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    name = models.CharField(max_length=100)
    dose = models.CharField(max_length=50, blank=True)
    route = models.CharField(max_length=50, blank=True)
    frequency = models.CharField(max_length=50, blank=True)
    # False when no substance of the knowledge table was recognised: nothing was checked.
    checked = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"Medication plan entry {self.pk} on encounter {self.encounter_id}: {self.name}"


class WarningOverride(InsertOnlyModel):
    """A warning the doctor acknowledged, and why the medication is still right.

    ``knowledge_version`` is the approved rule that warned (None for the built-in warning
    that the medication is the very substance or class the patient is allergic to);
    ``summary`` is the warning as the doctor read it.
    """

    class Kind(models.TextChoices):
        ALLERGY = "allergy", "Allergy"
        INTERACTION = "interaction", "Interaction"

    plan_entry = models.ForeignKey(
        MedicationPlanEntry, on_delete=models.PROTECT, related_name="overrides"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    knowledge_version = models.ForeignKey(
        KnowledgeVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    severity = models.CharField(max_length=16, choices=Severity.choices)
    summary = models.TextField()
    reason = models.TextField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="warningoverride_has_reason")
        ]

    def __str__(self) -> str:
        return f"Override {self.pk} of a {self.kind} warning on plan entry {self.plan_entry_id}"
