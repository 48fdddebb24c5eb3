"""Writes of medication safety, every one audited: the knowledge table (clinical leads write,
a different clinical lead approves), the patient's allergies and current medications (nurses
and doctors), and the doctor's medication plan entries with their warning overrides.

Each function checks the role itself as well as the view that calls it. Nothing here
prescribes: a plan entry records what the doctor decided, after the doctor acknowledged
every warning the knowledge table raised, each with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from diagnosis.encounters.models import Encounter
from diagnosis.medication.demo import DEMO_CLASSES, DEMO_RULES
from diagnosis.medication.models import (
    AllergyRecord,
    KnowledgeApproval,
    KnowledgeEntry,
    KnowledgeVersion,
    MedicationPlanEntry,
    MedicationRecord,
    Severity,
    WarningOverride,
)
from diagnosis.medication.selectors import (
    allergies_current,
    entry_state,
    latest_version,
    medications_current,
    patient_check,
)
from medassist.models import Patient
from medassist.roles import Role, user_roles
from medassist.services import audit_record

MAX_MEMBERS = 200
RETIRED_MESSAGE = (
    "This entry is retired: it checks nothing and takes no new version. Write a new entry instead."
)


@dataclass(frozen=True)
class EntryContent:
    """What a clinical lead wrote for one knowledge entry (the fields its kind uses)."""

    name: str = ""
    members: str = ""
    term_a: str = ""
    term_b: str = ""
    severity: str = ""
    note: str = ""
    action: str = ""
    source: str = ""


@dataclass(frozen=True)
class Acknowledgement:
    """The doctor's answer to one warning: ticked as read, and why the medication stays."""

    acknowledged: bool
    reason: str = ""


def _require_role(user: AbstractBaseUser | None, roles: tuple[str, ...], what: str) -> None:
    if user is None or not set(roles) & user_roles(user):
        names = " or ".join(Role(r).label.lower() for r in roles)
        raise PermissionDenied(f"Only a {names} may {what}.")


# --- The knowledge table -------------------------------------------------------------------


def _clean_content(*, kind: str, content: EntryContent) -> EntryContent:
    """The content stripped and checked for its kind; ValidationError by field otherwise."""

    def one_line(text: str) -> str:
        return " ".join(text.split())

    errors: dict[str, list[str]] = {}
    if kind == KnowledgeEntry.Kind.DRUG_CLASS:
        members = sorted({one_line(m).lower() for m in content.members.splitlines() if m.strip()})
        cleaned = EntryContent(name=one_line(content.name).lower(), members="\n".join(members))
        if not cleaned.name:
            errors["name"] = ["Name the class, e.g. penicillins."]
        if not members:
            errors["members"] = ["List the substances of the class, one a line."]
        elif len(members) > MAX_MEMBERS:
            errors["members"] = [f"A class holds at most {MAX_MEMBERS} substances."]
    elif kind in (KnowledgeEntry.Kind.ALLERGY, KnowledgeEntry.Kind.INTERACTION):
        cleaned = EntryContent(
            term_a=one_line(content.term_a).lower(),
            term_b=one_line(content.term_b).lower(),
            severity=content.severity,
            note=content.note.strip(),
            action=content.action.strip(),
            source=one_line(content.source),
        )
        first = "the allergy" if kind == KnowledgeEntry.Kind.ALLERGY else "the first medication"
        for name, value, message in (
            ("term_a", cleaned.term_a, f"Name {first}: a substance or a class."),
            ("term_b", cleaned.term_b, "Name the medication warned about: a substance or a class."),
            ("note", cleaned.note, "Say what the risk is (the reaction or the mechanism)."),
            ("action", cleaned.action, "Say what the doctor should do."),
            ("source", cleaned.source, "Cite the source this entry was checked against."),
        ):
            if not value:
                errors[name] = [message]
        if cleaned.severity not in Severity.values:
            errors["severity"] = ["Choose the severity: contraindicated, major or moderate."]
    else:
        raise ValidationError({"kind": ["Choose a drug class, an allergy rule or an interaction."]})
    if errors:
        raise ValidationError(errors)
    return cleaned


def _version_write(
    *,
    entry: KnowledgeEntry,
    number: int,
    author: AbstractBaseUser,
    content: EntryContent,
    change_note: str,
) -> KnowledgeVersion:
    version = KnowledgeVersion(
        entry=entry,
        number=number,
        author=author,
        change_note=change_note.strip(),
        name=content.name,
        members=content.members,
        term_a=content.term_a,
        term_b=content.term_b,
        severity=content.severity,
        note=content.note,
        action=content.action,
        source=content.source,
    )
    version.full_clean(exclude=["entry", "author"])
    version.save()
    return version


@transaction.atomic
def knowledge_entry_create(
    *, author: AbstractBaseUser, kind: str, content: EntryContent, is_demo: bool = False
) -> KnowledgeVersion:
    """A new knowledge entry with its first version, awaiting another clinical lead's
    approval. Raises PermissionDenied unless ``author`` is a clinical lead; ValidationError
    by field for missing or unknown content."""
    _require_role(author, (Role.CLINICAL_LEAD,), "write the medication knowledge table")
    cleaned = _clean_content(kind=kind, content=content)
    entry = KnowledgeEntry.objects.create(kind=kind, is_demo=is_demo, created_by=author)
    version = _version_write(entry=entry, number=1, author=author, content=cleaned, change_note="")
    audit_record(
        actor=author,
        action="medication_knowledge.create",
        obj=version,
        detail={"entry": entry.pk, "kind": kind, "label": version.label, "demo": is_demo},
    )
    return version


@transaction.atomic
def knowledge_entry_edit(
    *,
    entry: KnowledgeEntry,
    author: AbstractBaseUser,
    based_on: KnowledgeVersion,
    content: EntryContent,
    change_note: str,
) -> KnowledgeVersion:
    """Write the entry's next version from ``based_on`` (the latest one the lead saw); it
    checks nothing until another clinical lead approves it.

    Raises PermissionDenied unless ``author`` is a clinical lead; ValidationError when the
    entry is retired, when a newer version was saved meanwhile, when nothing changed, or for
    content.
    """
    _require_role(author, (Role.CLINICAL_LEAD,), "edit the medication knowledge table")
    entry = KnowledgeEntry.objects.select_for_update().get(pk=entry.pk)
    if entry.is_retired:
        raise ValidationError(RETIRED_MESSAGE, code="retired")
    latest = latest_version(entry=entry)
    assert latest is not None, "every entry is created with its first version"
    if based_on.pk != latest.pk:
        raise ValidationError(
            f"{latest.author} saved version {latest.number} while you were editing version "
            f"{based_on.number}; your changes were not saved. Open the entry again.",
            code="stale",
        )
    cleaned = _clean_content(kind=entry.kind, content=content)
    before = EntryContent(
        name=latest.name,
        members=latest.members,
        term_a=latest.term_a,
        term_b=latest.term_b,
        severity=latest.severity,
        note=latest.note,
        action=latest.action,
        source=latest.source,
    )
    if cleaned == before:
        raise ValidationError("Nothing changed: no new version was written.", code="unchanged")
    version = _version_write(
        entry=entry,
        number=latest.number + 1,
        author=author,
        content=cleaned,
        change_note=change_note,
    )
    audit_record(
        actor=author,
        action="medication_knowledge.edit",
        obj=version,
        detail={"entry": entry.pk, "version": version.number, "based_on": latest.number},
    )
    return version


@transaction.atomic
def knowledge_version_approve(
    *, version: KnowledgeVersion, approver: AbstractBaseUser
) -> KnowledgeApproval:
    """Approve a version: from now on it is the one the checks use.

    Raises PermissionDenied unless ``approver`` is a clinical lead; ValidationError when the
    approver wrote it (four eyes), when it is approved already, when a newer version replaced
    it, or when the entry is retired.
    """
    _require_role(approver, (Role.CLINICAL_LEAD,), "approve the medication knowledge table")
    entry = KnowledgeEntry.objects.select_for_update().get(pk=version.entry_id)
    if entry.is_retired:
        raise ValidationError(RETIRED_MESSAGE, code="retired")
    version = KnowledgeVersion.objects.get(pk=version.pk)
    if version.author_id == approver.pk:
        raise ValidationError(
            "Four eyes: a clinical lead other than the author approves a version. Ask "
            "another clinical lead to review it.",
            code="four_eyes",
        )
    if KnowledgeApproval.objects.filter(version=version).exists():
        raise ValidationError(f"Version {version.number} is approved already.", code="approved")
    latest = latest_version(entry=entry)
    if latest is not None and latest.pk != version.pk:
        raise ValidationError(
            f"Version {latest.number} replaced version {version.number}: approve that one.",
            code="replaced",
        )
    approval = KnowledgeApproval.objects.create(version=version, approver=approver)
    audit_record(
        actor=approver,
        action="medication_knowledge.approve",
        obj=version,
        detail={"entry": entry.pk, "version": version.number, "author": version.author_id},
    )
    return approval


@transaction.atomic
def knowledge_entry_retire(
    *, entry: KnowledgeEntry, actor: AbstractBaseUser, reason: str
) -> KnowledgeEntry:
    """Retire the entry: from now on it warns about nothing. Its versions stay readable, and
    so does every warning override that cited one (each points at the exact version).

    One clinical lead retires, as for a care pathway (withdrawing a rule needs no second
    pair of eyes; giving one does). A drafted version awaiting approval can no longer be
    approved. Raises PermissionDenied unless ``actor`` is a clinical lead; ValidationError
    without a reason (``reason``), for one over 1,000 characters, or when it is retired
    already.
    """
    _require_role(actor, (Role.CLINICAL_LEAD,), "retire an entry of the medication knowledge table")
    entry = KnowledgeEntry.objects.select_for_update().get(pk=entry.pk)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the entry is retired."]})
    if len(reason) > 1000:
        raise ValidationError(
            {"reason": [f"Keep the reason to 1,000 characters (it has {len(reason):,})."]}
        )
    if entry.is_retired:
        raise ValidationError("This entry is retired already.", code="retired")
    current = entry_state(entry=entry).current
    entry.retired_at = timezone.now()
    entry.retired_by = actor
    entry.retire_reason = reason
    entry.save(update_fields=["retired_at", "retired_by", "retire_reason"])
    audit_record(
        actor=actor,
        action="medication_knowledge.retire",
        obj=entry,
        detail={
            "entry": entry.pk,
            "kind": entry.kind,
            "label": current.label if current else "",
            "version": current.number if current else None,
            "reason": reason,
        },
    )
    return entry


def medication_knowledge_demo_ensure(
    *, author: AbstractBaseUser, approver: AbstractBaseUser
) -> int:
    """Write and approve the demo entries when the table has none yet; return how many.

    Running it again writes nothing. Every demo entry is marked DEMO CONTENT.
    """
    if KnowledgeEntry.objects.filter(is_demo=True).exists():
        return 0
    written = 0
    with transaction.atomic():
        for cls in DEMO_CLASSES:
            version = knowledge_entry_create(
                author=author,
                kind=KnowledgeEntry.Kind.DRUG_CLASS,
                content=EntryContent(name=cls.name, members="\n".join(cls.members)),
                is_demo=True,
            )
            knowledge_version_approve(version=version, approver=approver)
            written += 1
        for rule in DEMO_RULES:
            version = knowledge_entry_create(
                author=author,
                kind=rule.kind,
                content=EntryContent(
                    term_a=rule.term_a,
                    term_b=rule.term_b,
                    severity=rule.severity,
                    note=rule.note,
                    action=rule.action,
                    source=rule.source,
                ),
                is_demo=True,
            )
            knowledge_version_approve(version=version, approver=approver)
            written += 1
    return written


# --- The patient's allergies and medications -----------------------------------------------


def _replaced(
    model: type[AllergyRecord] | type[MedicationRecord], *, patient: Patient, replaces: int | None
) -> AllergyRecord | MedicationRecord | None:
    """The record being changed or removed, if it still stands; ValidationError otherwise."""
    if replaces is None:
        return None
    record = model.objects.filter(pk=replaces, patient=patient).first()
    if record is None:
        raise ValidationError("That record is not this patient's.", code="unknown")
    if model.objects.filter(supersedes=record).exists():
        raise ValidationError(
            "Someone changed this record while you were looking at it: nothing was saved. "
            "Reload the page to see it as it is now.",
            code="stale",
        )
    return record


@transaction.atomic
def allergy_record(
    *,
    patient: Patient,
    actor: AbstractBaseUser,
    encounter: Encounter | None,
    kind: str,
    substance: str = "",
    reaction: str = "",
    severity: str = "",
    replaces: int | None = None,
    remove: bool = False,
    remote_addr: str | None = None,
) -> AllergyRecord:
    """Record an allergy or "no known allergies"; with ``replaces``, the new row supersedes
    that record (``remove``: the new row marks it inactive).

    Recording an allergy ends a standing "no known allergies" (a new inactive row supersedes
    it); "no known allergies" is refused while an allergy stands. Raises PermissionDenied
    unless ``actor`` is a nurse or a doctor; ValidationError by field otherwise.
    """
    _require_role(actor, (Role.NURSE, Role.DOCTOR), "record allergies")
    # The patient row is the lock: two writers of one patient's allergies take turns.
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    previous = _replaced(AllergyRecord, patient=patient, replaces=replaces)
    assert previous is None or isinstance(previous, AllergyRecord)
    if remove:
        if previous is None:
            raise ValidationError("Choose the record to mark inactive.", code="unknown")
        record = AllergyRecord(
            patient=patient,
            encounter=encounter,
            kind=previous.kind,
            substance=previous.substance,
            reaction=previous.reaction,
            severity=previous.severity,
            active=False,
            supersedes=previous,
            recorded_by=actor,
        )
    else:
        substance = " ".join(substance.split())
        standing = AllergyRecord.objects.filter(
            patient=patient, superseded_by__isnull=True, active=True
        )
        errors: dict[str, list[str]] = {}
        if kind == AllergyRecord.Kind.ALLERGY:
            if not substance:
                errors["substance"] = ["Name the substance the patient is allergic to."]
            if severity not in AllergyRecord.AllergySeverity.values:
                errors["severity"] = [
                    "Choose the severity: mild, moderate, severe or life-threatening."
                ]
        elif kind == AllergyRecord.Kind.NONE_KNOWN:
            if (
                standing.filter(kind=AllergyRecord.Kind.ALLERGY)
                .exclude(pk=getattr(previous, "pk", None))
                .exists()
            ):
                errors["kind"] = [
                    "An allergy is recorded for this patient: mark it inactive first if it "
                    "was recorded in error."
                ]
            substance, reaction, severity = "", "", ""
        else:
            errors["kind"] = ["Record an allergy, or that the patient has no known allergies."]
        if errors:
            raise ValidationError(errors)
        if kind == AllergyRecord.Kind.ALLERGY:
            for none_known in standing.filter(kind=AllergyRecord.Kind.NONE_KNOWN):
                AllergyRecord.objects.create(
                    patient=patient,
                    encounter=encounter,
                    kind=none_known.kind,
                    active=False,
                    supersedes=none_known,
                    recorded_by=actor,
                )
        record = AllergyRecord(
            patient=patient,
            encounter=encounter,
            kind=kind,
            substance=substance,
            reaction=" ".join(reaction.split()),
            severity=severity,
            supersedes=previous,
            recorded_by=actor,
        )
    record.full_clean(exclude=["patient", "encounter", "supersedes", "recorded_by"])
    record.save()
    audit_record(
        actor=actor,
        action="allergy.remove" if remove else "allergy.record",
        obj=record,
        detail={
            "mrn": patient.mrn,
            "encounter": encounter.pk if encounter else None,
            "kind": record.kind,
            "substance": record.substance,
            "severity": record.severity,
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return record


@transaction.atomic
def medication_record(
    *,
    patient: Patient,
    actor: AbstractBaseUser,
    encounter: Encounter | None,
    name: str = "",
    dose: str = "",
    route: str = "",
    frequency: str = "",
    replaces: int | None = None,
    remove: bool = False,
    remote_addr: str | None = None,
) -> MedicationRecord:
    """Record a medication the patient currently takes; with ``replaces``, the new row
    supersedes that record (``remove``: the patient no longer takes it).

    Raises PermissionDenied unless ``actor`` is a nurse or a doctor; ValidationError by
    field otherwise.
    """
    _require_role(actor, (Role.NURSE, Role.DOCTOR), "record current medications")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    previous = _replaced(MedicationRecord, patient=patient, replaces=replaces)
    assert previous is None or isinstance(previous, MedicationRecord)
    if remove:
        if previous is None:
            raise ValidationError("Choose the medication to mark stopped.", code="unknown")
        name, dose, route, frequency = (
            previous.name,
            previous.dose,
            previous.route,
            previous.frequency,
        )
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": ["Name the medication."]})
    record = MedicationRecord(
        patient=patient,
        encounter=encounter,
        name=name,
        dose=dose.strip(),
        route=route.strip(),
        frequency=frequency.strip(),
        active=not remove,
        supersedes=previous,
        recorded_by=actor,
    )
    record.full_clean(exclude=["patient", "encounter", "supersedes", "recorded_by"])
    record.save()
    audit_record(
        actor=actor,
        action="medication.stop" if remove else "medication.record",
        obj=record,
        detail={
            "mrn": patient.mrn,
            "encounter": encounter.pk if encounter else None,
            "name": name,
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return record


# --- At intake -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeAllergy:
    """An allergy as the nurse typed it on row ``row`` of the intake form."""

    row: int
    substance: str
    reaction: str = ""
    severity: str = ""


@dataclass(frozen=True)
class IntakeMedication:
    """A current medication as the nurse typed it on row ``row`` of the intake form."""

    row: int
    name: str
    dose: str = ""
    route: str = ""
    frequency: str = ""


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _row_errors(prefix: str, row: int, exc: ValidationError) -> dict[str, list[str]]:
    """A record service's errors, by field, as the intake row's fields."""
    if not hasattr(exc, "error_dict"):
        return {f"{prefix}_{row}_{'substance' if prefix == 'allergy' else 'name'}": exc.messages}
    return {f"{prefix}_{row}_{field}": messages for field, messages in exc.message_dict.items()}


def intake_rows_check(
    *,
    allergies: Sequence[IntakeAllergy],
    no_known_allergies: bool,
    medications: Sequence[IntakeMedication],
) -> dict[str, list[str]]:
    """What is wrong with the intake's allergy and medication rows, by the intake form's
    field names (empty: nothing). No query: the form shows these next to the other fields'
    errors, and :func:`intake_records_save` checks them again before it writes."""
    errors: dict[str, list[str]] = {}
    if no_known_allergies and allergies:
        errors["no_known_allergies"] = [
            "You ticked “No known allergies” and entered an allergy: untick it, or clear "
            "the allergy rows."
        ]
    for i, allergy in enumerate(allergies):
        if not allergy.substance.strip():
            errors[f"allergy_{allergy.row}_substance"] = [
                "Name the substance the patient is allergic to, or clear this row."
            ]
        elif earlier := next(
            (a for a in allergies[:i] if _same(a.substance, allergy.substance)), None
        ):
            errors[f"allergy_{allergy.row}_substance"] = [
                f"{allergy.substance.strip()} is on row {earlier.row} already: keep one row."
            ]
        if allergy.severity not in AllergyRecord.AllergySeverity.values:
            errors[f"allergy_{allergy.row}_severity"] = [
                "Choose the severity: mild, moderate, severe or life-threatening."
            ]
    for i, medication in enumerate(medications):
        if not medication.name.strip():
            errors[f"medication_{medication.row}_name"] = [
                "Name the medication, or clear this row."
            ]
        elif previous := next((m for m in medications[:i] if _same(m.name, medication.name)), None):
            errors[f"medication_{medication.row}_name"] = [
                f"{medication.name.strip()} is on row {previous.row} already: keep one row."
            ]
    return errors


@transaction.atomic
def intake_records_save(
    *,
    patient: Patient,
    encounter: Encounter,
    actor: AbstractBaseUser,
    allergies: Sequence[IntakeAllergy] = (),
    no_known_allergies: bool = False,
    medications: Sequence[IntakeMedication] = (),
) -> list[AllergyRecord | MedicationRecord]:
    """Record what the nurse learnt at intake: the patient's allergies (or "no known
    allergies") and current medications, each through :func:`allergy_record` and
    :func:`medication_record`, so the same checks, insert-only rows and audit events apply.

    What already stands is not written twice: an allergy (or medication) the patient's
    record already holds with the same substance (name), reaction and severity (dose,
    route, frequency) is left as it is; with other details, the new row supersedes it;
    "no known allergies" already standing is left as it is. Returns the rows written.

    Call it inside the intake's transaction: it raises ValidationError keyed by the intake
    form's fields (``allergy_<row>_<field>``, ``medication_<row>_<field>``,
    ``no_known_allergies``) for every row at fault, and then the caller's transaction must
    roll back, so nothing of the intake is saved.
    """
    _require_role(actor, (Role.NURSE, Role.DOCTOR), "record allergies and medications")
    errors = intake_rows_check(
        allergies=allergies, no_known_allergies=no_known_allergies, medications=medications
    )
    if errors:
        raise ValidationError(errors)
    standing_allergies = list(allergies_current(patient=patient))
    standing_medications = list(medications_current(patient=patient))
    written: list[AllergyRecord | MedicationRecord] = []
    none_known_stands = any(a.kind == AllergyRecord.Kind.NONE_KNOWN for a in standing_allergies)
    if no_known_allergies and not none_known_stands:
        try:
            written.append(
                allergy_record(
                    patient=patient,
                    actor=actor,
                    encounter=encounter,
                    kind=AllergyRecord.Kind.NONE_KNOWN,
                )
            )
        except ValidationError:
            # An allergy on record: "none known" would contradict it.
            errors["no_known_allergies"] = [
                "An allergy is on this patient's record (listed above): “No known allergies” "
                "would contradict it. Untick it; if that allergy was recorded in error, mark "
                "it inactive on the encounter's allergies page."
            ]
    for allergy in allergies:
        match = next(
            (
                a
                for a in standing_allergies
                if a.kind == AllergyRecord.Kind.ALLERGY and _same(a.substance, allergy.substance)
            ),
            None,
        )
        if (
            match is not None
            and _same(match.reaction, allergy.reaction)
            and match.severity == allergy.severity
        ):
            continue
        try:
            written.append(
                allergy_record(
                    patient=patient,
                    actor=actor,
                    encounter=encounter,
                    kind=AllergyRecord.Kind.ALLERGY,
                    substance=allergy.substance,
                    reaction=allergy.reaction,
                    severity=allergy.severity,
                    replaces=match.pk if match else None,
                )
            )
        except ValidationError as exc:
            errors.update(_row_errors("allergy", allergy.row, exc))
    for medication in medications:
        found = next((m for m in standing_medications if _same(m.name, medication.name)), None)
        if found is not None and all(
            _same(getattr(found, f), getattr(medication, f)) for f in ("dose", "route", "frequency")
        ):
            continue
        try:
            written.append(
                medication_record(
                    patient=patient,
                    actor=actor,
                    encounter=encounter,
                    name=medication.name,
                    dose=medication.dose,
                    route=medication.route,
                    frequency=medication.frequency,
                    replaces=found.pk if found else None,
                )
            )
        except ValidationError as exc:
            errors.update(_row_errors("medication", medication.row, exc))
    if errors:
        raise ValidationError(errors)
    return written


# --- The doctor's medication plan ----------------------------------------------------------


@transaction.atomic
def medication_plan_add(
    *,
    encounter: Encounter,
    doctor: AbstractBaseUser,
    name: str,
    dose: str = "",
    route: str = "",
    frequency: str = "",
    acknowledgements: Mapping[str, Acknowledgement],
    remote_addr: str | None = None,
) -> MedicationPlanEntry:
    """Enter a medication in the encounter's plan, once every warning is overridden.

    The medication is checked against the patient's current allergies and medications (under
    the patient's lock, so the check is of what stands when it is saved). Each warning,
    by its key, needs an :class:`Acknowledgement` ticked and with a reason; otherwise nothing
    is stored and ValidationError names each warning's field (``ack_<key>``, ``reason_<key>``).
    Each override is audited (``medication.override``) with its reason.

    Raises PermissionDenied unless ``doctor`` is a doctor.
    """
    _require_role(doctor, (Role.DOCTOR,), "enter a medication plan")
    Patient.objects.select_for_update().filter(pk=encounter.patient_id).exists()
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": ["Name the medication."]})
    result = patient_check(patient=encounter.patient, name=name)
    errors: dict[str, list[str]] = {}
    for warning in result.warnings:
        answer = acknowledgements.get(warning.key)
        if answer is None or not answer.acknowledged:
            errors[f"ack_{warning.key}"] = [
                "Tick to confirm you have read this warning before saving."
            ]
        if answer is None or not answer.reason.strip():
            errors[f"reason_{warning.key}"] = [
                "Say why this medication is still right for the patient despite the warning."
            ]
    if errors:
        raise ValidationError(errors)
    entry = MedicationPlanEntry(
        encounter=encounter,
        doctor=doctor,
        name=name,
        dose=dose.strip(),
        route=route.strip(),
        frequency=frequency.strip(),
        checked=result.recognised,
    )
    entry.full_clean(exclude=["encounter", "doctor"])
    entry.save()
    audit_record(
        actor=doctor,
        action="medication_plan.add",
        obj=entry,
        detail={
            "encounter": encounter.pk,
            "mrn": encounter.patient.mrn,
            "name": name,
            "checked": result.recognised,
            "warnings": len(result.warnings),
        },
        remote_addr=remote_addr,
    )
    for warning in result.warnings:
        reason = acknowledgements[warning.key].reason.strip()[:1000]
        override = WarningOverride.objects.create(
            plan_entry=entry,
            kind=warning.kind,
            knowledge_version=warning.version,
            severity=warning.severity,
            summary=warning.summary,
            reason=reason,
        )
        audit_record(
            actor=doctor,
            action="medication.override",
            obj=override,
            detail={
                "encounter": encounter.pk,
                "mrn": encounter.patient.mrn,
                "plan_entry": entry.pk,
                "medication": name,
                "kind": warning.kind,
                "severity": warning.severity,
                "knowledge_version": warning.version.pk if warning.version else None,
                "source": warning.source,
                "reason": reason,
            },
            remote_addr=remote_addr,
        )
    return entry
