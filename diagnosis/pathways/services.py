"""Writes of the care pathways: writing, editing, approving and retiring a pathway, and a
doctor's decision on the pathway offered for a final diagnosis. Every one is audited.

A clinical lead writes; a different clinical lead approves (four eyes); doctors use. Each
function checks the role itself as well as the view that calls it, so no other path
(a command, a shell, a future API) writes a pathway as somebody else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from diagnosis.encounters.models import FinalDiagnosis
from diagnosis.encounters.selectors import encounter_chain_head
from diagnosis.pathways.demo import DEMO_PATHWAYS, DEMO_REVIEW_MONTHS
from diagnosis.pathways.groups import group_of, group_parse
from diagnosis.pathways.models import (
    Pathway,
    PathwayApproval,
    PathwayItem,
    PathwayUse,
    PathwayUseItem,
    PathwayVersion,
)
from diagnosis.pathways.selectors import latest_version
from medassist.roles import Role, user_roles
from medassist.services import audit_record

# Limits on what one version holds, so a slip of the hand cannot post a novel.
MAX_ITEMS = 40
MAX_ITEM_CHARS = 1000
# A review date further ahead than this is a typing slip (2062 for 2026), not a plan.
MAX_REVIEW_YEARS = 5


@dataclass(frozen=True)
class ItemSpec:
    """One recommended next step as the clinical lead wrote it."""

    kind: str
    text: str


@dataclass(frozen=True)
class ItemState:
    """What the doctor did with one item: ticked (followed) or not, and an optional note."""

    followed: bool
    note: str = ""


def _require_role(user: AbstractBaseUser | None, role: str, what: str) -> None:
    if user is None or role not in user_roles(user):
        raise PermissionDenied(f"Only a {Role(role).label.lower()} may {what}.")


def _clean_content(
    *, title: str, review_date: dt.date, items: Sequence[ItemSpec]
) -> tuple[str, list[ItemSpec]]:
    """The title and items, stripped and checked; ValidationError by field otherwise."""
    errors: dict[str, list[str]] = {}
    title = " ".join(title.split())
    if not title:
        errors.setdefault("title", []).append("Give the pathway a title doctors will recognise.")
    elif len(title) > 200:
        errors.setdefault("title", []).append("Keep the title under 200 characters.")
    today = timezone.localdate()
    if review_date <= today:
        errors.setdefault("review_date", []).append(
            "The review date must be after today: it is when the leads will look at the "
            "pathway again."
        )
    elif review_date > today.replace(year=today.year + MAX_REVIEW_YEARS, day=min(today.day, 28)):
        errors.setdefault("review_date", []).append(
            f"Review pathways at least every {MAX_REVIEW_YEARS} years: choose an earlier date."
        )
    cleaned = [ItemSpec(kind=i.kind, text=i.text.strip()) for i in items if i.text.strip()]
    if not cleaned:
        errors.setdefault("items", []).append("Write at least one recommended next step.")
    elif len(cleaned) > MAX_ITEMS:
        errors.setdefault("items", []).append(
            f"A pathway holds at most {MAX_ITEMS} steps; split it or shorten it."
        )
    for item in cleaned:
        if item.kind not in PathwayItem.Kind.values:
            errors.setdefault("items", []).append(
                "Each step needs its kind: investigation, treatment, referral, follow-up or "
                "safety-net advice."
            )
            break
        if len(item.text) > MAX_ITEM_CHARS:
            errors.setdefault("items", []).append(
                f"Keep each step under {MAX_ITEM_CHARS} characters."
            )
            break
    if errors:
        raise ValidationError(errors)
    return title, cleaned


def _version_write(
    *,
    pathway: Pathway,
    number: int,
    author: AbstractBaseUser,
    title: str,
    review_date: dt.date,
    items: Sequence[ItemSpec],
    change_note: str,
) -> PathwayVersion:
    version = PathwayVersion(
        pathway=pathway,
        number=number,
        title=title,
        review_date=review_date,
        author=author,
        change_note=change_note.strip(),
    )
    version.full_clean(exclude=["pathway", "author"])
    version.save()
    PathwayItem.objects.bulk_create(
        PathwayItem(version=version, position=position, kind=item.kind, text=item.text)
        for position, item in enumerate(items, start=1)
    )
    return version


@transaction.atomic
def pathway_create(
    *,
    author: AbstractBaseUser,
    group: str,
    title: str,
    review_date: dt.date,
    items: Sequence[ItemSpec],
    is_demo: bool = False,
) -> PathwayVersion:
    """A new pathway for the diagnosis group ``group`` ("I20-I25", or one code for its
    block), with its first version as a draft awaiting another clinical lead's approval.

    Raises PermissionDenied unless ``author`` is a clinical lead; ValidationError (by
    field: ``group``, ``title``, ``review_date``, ``items``) for a group not in ICD-10, a
    group that already has a pathway in service, a review date not after today or more
    than five years ahead, or no step.
    """
    _require_role(author, Role.CLINICAL_LEAD, "write a care pathway")
    # Every problem at once, each by its field, so the lead corrects them in one go.
    errors: dict[str, list[str]] = {}
    try:
        parsed = group_parse(text=group)
    except ValidationError as exc:
        errors["group"] = exc.messages
    try:
        title, cleaned = _clean_content(title=title, review_date=review_date, items=items)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    taken = ValidationError(
        {
            "group": [
                f"{parsed.label} already has a pathway in service: edit that one "
                "(a new version), or retire it first."
            ]
        }
    )
    if Pathway.objects.filter(
        group_first=parsed.first, group_last=parsed.last, retired_at__isnull=True
    ).exists():
        raise taken
    try:
        # Two leads creating the same group at once: the database's unique constraint
        # lets one in, and the other is told as if it had come second.
        with transaction.atomic():
            pathway = Pathway.objects.create(
                group_first=parsed.first,
                group_last=parsed.last,
                group_title=parsed.title,
                is_demo=is_demo,
                created_by=author,
            )
    except IntegrityError as exc:
        raise taken from exc
    version = _version_write(
        pathway=pathway,
        number=1,
        author=author,
        title=title,
        review_date=review_date,
        items=cleaned,
        change_note="",
    )
    audit_record(
        actor=author,
        action="pathway.create",
        obj=version,
        detail={
            "pathway": pathway.pk,
            "group": parsed.label,
            "version": 1,
            "steps": len(cleaned),
            "review_date": review_date.isoformat(),
            "demo": is_demo,
        },
    )
    return version


def _lock(pathway: Pathway) -> Pathway:
    """The pathway row, locked: its writers (edit, approve, retire) take turns."""
    return Pathway.objects.select_for_update().get(pk=pathway.pk)


@transaction.atomic
def pathway_edit(
    *,
    pathway: Pathway,
    author: AbstractBaseUser,
    based_on: PathwayVersion,
    title: str,
    review_date: dt.date,
    items: Sequence[ItemSpec],
    change_note: str,
) -> PathwayVersion:
    """Write the pathway's next version, starting from ``based_on`` (the latest version the
    lead saw). The earlier versions stay as they are; the new one waits for approval.

    Raises PermissionDenied unless ``author`` is a clinical lead; ValidationError if the
    pathway is retired, if another lead saved a newer version meanwhile (nothing is saved:
    the lead reopens the newer one), if nothing changed, or for content as
    :func:`pathway_create`.
    """
    _require_role(author, Role.CLINICAL_LEAD, "edit a care pathway")
    pathway = _lock(pathway)
    if pathway.is_retired:
        raise ValidationError("This pathway is retired: write a new one for its group instead.")
    latest = latest_version(pathway=pathway)
    assert latest is not None, "every pathway is created with its first version"
    if based_on.pk != latest.pk:
        raise ValidationError(
            f"{latest.author} saved version {latest.number} while you were editing version "
            f"{based_on.number}; your changes were not saved. Open the pathway again to "
            "edit the newer version.",
            code="stale",
        )
    title, cleaned = _clean_content(title=title, review_date=review_date, items=items)
    before = [(i.kind, i.text) for i in latest.items.all()]
    if (
        title == latest.title
        and review_date == latest.review_date
        and [(i.kind, i.text) for i in cleaned] == before
    ):
        raise ValidationError("Nothing changed: no new version was written.", code="unchanged")
    version = _version_write(
        pathway=pathway,
        number=latest.number + 1,
        author=author,
        title=title,
        review_date=review_date,
        items=cleaned,
        change_note=change_note,
    )
    audit_record(
        actor=author,
        action="pathway.edit",
        obj=version,
        detail={
            "pathway": pathway.pk,
            "group": pathway.group_label,
            "version": version.number,
            "based_on": latest.number,
            "steps": len(cleaned),
            "review_date": review_date.isoformat(),
        },
    )
    return version


@transaction.atomic
def pathway_version_approve(
    *, version: PathwayVersion, approver: AbstractBaseUser
) -> PathwayApproval:
    """Approve a version: from now on it is the one offered to doctors.

    Raises PermissionDenied unless ``approver`` is a clinical lead; ValidationError when
    the approver wrote the version (four eyes), when it is approved already, when a newer
    version replaced it, when the pathway is retired, or when its review date has passed.
    """
    _require_role(approver, Role.CLINICAL_LEAD, "approve a care pathway")
    pathway = _lock(version.pathway)
    version = PathwayVersion.objects.select_related("author").get(pk=version.pk)
    if version.author_id == approver.pk:
        raise ValidationError(
            "Four eyes: a clinical lead other than the author approves a version. Ask "
            "another clinical lead to review it.",
            code="four_eyes",
        )
    if PathwayApproval.objects.filter(version=version).exists():
        raise ValidationError(f"Version {version.number} is approved already.", code="approved")
    if pathway.is_retired:
        raise ValidationError("This pathway is retired: it is no longer offered.")
    latest = latest_version(pathway=pathway)
    if latest is not None and latest.pk != version.pk:
        raise ValidationError(
            f"Version {latest.number} replaced version {version.number}: approve that one.",
            code="replaced",
        )
    if version.review_overdue(today=timezone.localdate()):
        raise ValidationError(
            f"Its review date ({version.review_date:%Y-%m-%d}) has passed: edit the pathway "
            "to set a new review date, then approve that version.",
            code="review_overdue",
        )
    approval = PathwayApproval.objects.create(version=version, approver=approver)
    audit_record(
        actor=approver,
        action="pathway.approve",
        obj=version,
        detail={
            "pathway": pathway.pk,
            "group": pathway.group_label,
            "version": version.number,
            "author": version.author_id,
        },
    )
    return approval


@transaction.atomic
def pathway_retire(*, pathway: Pathway, actor: AbstractBaseUser, reason: str) -> Pathway:
    """Stop offering the pathway. Its versions, and every encounter that used them, stay
    readable; its group may then get a new pathway.

    One clinical lead retires (withdrawing advice needs no second pair of eyes; giving it
    does). Raises PermissionDenied unless ``actor`` is a clinical lead; ValidationError
    without a reason or when it is retired already.
    """
    _require_role(actor, Role.CLINICAL_LEAD, "retire a care pathway")
    pathway = _lock(pathway)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the pathway is retired."]})
    if pathway.is_retired:
        raise ValidationError("This pathway is retired already.")
    pathway.retired_at = timezone.now()
    pathway.retired_by = actor
    pathway.retire_reason = reason
    pathway.save(update_fields=["retired_at", "retired_by", "retire_reason"])
    audit_record(
        actor=actor,
        action="pathway.retire",
        obj=pathway,
        detail={"group": pathway.group_label, "reason": reason},
    )
    return pathway


ACCEPT, DECLINE = "accept", "decline"


@transaction.atomic
def pathway_use_record(
    *,
    final_diagnosis: FinalDiagnosis,
    version: PathwayVersion,
    doctor: AbstractBaseUser,
    action: str,
    item_states: Mapping[int, ItemState],
    decline_reason: str = "",
    remote_addr: str | None = None,
) -> PathwayUse:
    """Record on the encounter what the doctor did with the pathway version offered for
    its final diagnosis; an earlier decision of the encounter is superseded, never changed.

    ``action`` is ``accept`` or ``decline``. ``item_states`` maps each of the version's item
    ids to whether it was followed (ticked) and a note. Accepting with every item ticked and
    no note is "accepted as written"; with an item unticked or a note, "accepted with
    changes". Declining needs a reason; every item is then recorded as not followed (with
    any note the doctor wrote).

    Raises PermissionDenied unless ``doctor`` is a doctor; ValidationError when the final
    diagnosis was superseded meanwhile, when the version is not approved or its group does
    not hold the diagnosis, when an item's state is missing, when accepting with no item
    ticked, or when declining without a reason.
    """
    _require_role(doctor, Role.DOCTOR, "record a care pathway decision")
    if action not in (ACCEPT, DECLINE):
        raise ValidationError("Accept the pathway or decline it.", code="action")
    encounter = final_diagnosis.encounter
    # Lock the encounter so two doctors saving at once still form one chain.
    previous = encounter_chain_head(PathwayUse, encounter_id=encounter.pk)
    current_diagnosis = encounter_chain_head(FinalDiagnosis, encounter_id=encounter.pk)
    if current_diagnosis is None or current_diagnosis.pk != final_diagnosis.pk:
        raise ValidationError(
            "The final diagnosis changed since this page was opened: reload it to see the "
            "pathway offered for the diagnosis as it is now.",
            code="diagnosis_changed",
        )
    version = (
        PathwayVersion.objects.select_related("pathway", "approval")
        .prefetch_related("items")
        .get(pk=version.pk)
    )
    group = group_of(first=version.pathway.group_first, last=version.pathway.group_last)
    if getattr(version, "approval", None) is None or not group.contains(final_diagnosis.icd10_code):
        raise ValidationError(
            "This pathway version is not offered for this diagnosis.", code="not_offered"
        )
    items = sorted(version.items.all(), key=lambda i: i.position)
    missing = [i.position for i in items if i.pk not in item_states]
    if missing or set(item_states) - {i.pk for i in items}:
        raise ValidationError(
            "The checklist sent does not match the pathway version: reload the page.",
            code="items",
        )
    decline_reason = decline_reason.strip()
    states = {i.pk: item_states[i.pk] for i in items}
    notes = {pk: s.note.strip()[:MAX_ITEM_CHARS] for pk, s in states.items()}
    if action == DECLINE:
        if not decline_reason:
            raise ValidationError(
                {"decline_reason": ["Say why the pathway does not fit this patient."]}
            )
        decision = PathwayUse.Decision.DECLINED
        followed = dict.fromkeys(states, False)
    else:
        followed = {pk: s.followed for pk, s in states.items()}
        if not any(followed.values()):
            raise ValidationError(
                "No step is ticked: tick the steps you will follow, or decline the pathway "
                "and say why.",
                code="nothing_ticked",
            )
        decline_reason = ""
        changed = not all(followed.values()) or any(notes.values())
        decision = PathwayUse.Decision.EDITED if changed else PathwayUse.Decision.ACCEPTED
    use = PathwayUse(
        encounter=encounter,
        final_diagnosis=final_diagnosis,
        version=version,
        doctor=doctor,
        decision=decision,
        decline_reason=decline_reason,
        supersedes=previous,
    )
    use.full_clean(exclude=["encounter", "final_diagnosis", "version", "doctor", "supersedes"])
    use.save()
    PathwayUseItem.objects.bulk_create(
        PathwayUseItem(use=use, item=item, followed=followed[item.pk], note=notes[item.pk])
        for item in items
    )
    audit_record(
        actor=doctor,
        action="pathway.use",
        obj=use,
        detail={
            "encounter": encounter.pk,
            "mrn": encounter.patient.mrn,
            "final_diagnosis": final_diagnosis.pk,
            "icd10": final_diagnosis.icd10_code,
            "pathway": version.pathway_id,
            "version": version.number,
            "decision": decision,
            "followed": sum(followed.values()),
            "steps": len(items),
            "supersedes": previous.pk if previous else None,
        },
        remote_addr=remote_addr,
    )
    return use


def pathways_demo_ensure(*, author: AbstractBaseUser, approver: AbstractBaseUser) -> int:
    """Write and approve the demo pathways whose group has no pathway yet; return how many.

    Running it again writes nothing. The demo pathways are marked as demo content
    (:mod:`diagnosis.pathways.demo`): sample steps, not clinical guidance.
    """
    written = 0
    for demo in DEMO_PATHWAYS:
        parsed = group_parse(text=demo.group)
        if Pathway.objects.filter(group_first=parsed.first, group_last=parsed.last).exists():
            continue
        with transaction.atomic():
            today = timezone.localdate()
            month = today.month - 1 + DEMO_REVIEW_MONTHS
            review = today.replace(
                year=today.year + month // 12, month=month % 12 + 1, day=min(today.day, 28)
            )
            version = pathway_create(
                author=author,
                group=demo.group,
                title=demo.title,
                review_date=review,
                items=[ItemSpec(kind=kind, text=text) for kind, text in demo.items],
                is_demo=True,
            )
            pathway_version_approve(version=version, approver=approver)
        written += 1
    return written
