"""Writes of the review workflow: reviews, double reading, assignments and study urgency."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef

from diagnosis.inference.models import Suggestion
from diagnosis.inference.selectors import promoted_at
from diagnosis.pacs.services import pacs_review_finalised
from diagnosis.registry.models import Finding
from diagnosis.review.models import (
    ReadingState,
    Review,
    ReviewAssignment,
    StudyFinding,
    StudyUrgency,
)
from diagnosis.review.selectors import (
    double_reading,
    latest_suggestions,
    multi_label,
    suggestion_priority,
)
from imaging.models import Instance, Study
from medassist.services import audit_record


def study_urgency_refresh(*, study_ids: Iterable[int]) -> int:
    """Recompute the stored urgency of these studies, and the findings their current
    suggestions name first (:class:`StudyFinding`), from their latest suggestions.

    Called whenever suggestions are stored; returns how many studies it wrote.
    """
    ids = sorted(set(study_ids))
    if not ids:
        return 0
    best: dict[int, dict[str, Any]] = {}
    findings: set[tuple[int, int]] = set()
    for row in (
        latest_suggestions()
        .filter(instance__series__study_id__in=ids)
        .annotate(priority=suggestion_priority(), study=F("instance__series__study_id"))
        .order_by("study", "-priority", "pk")
        .values("study", "pk", "priority", "top_finding_id")
    ):
        best.setdefault(row["study"], row)
        if row["top_finding_id"] is not None:
            findings.add((row["study"], row["top_finding_id"]))
    StudyFinding.objects.filter(study_id__in=ids).delete()
    StudyFinding.objects.bulk_create(
        [StudyFinding(study_id=study, finding_id=finding) for study, finding in sorted(findings)]
    )
    StudyUrgency.objects.bulk_create(
        [
            StudyUrgency(
                study_id=study_id,
                priority=best[study_id]["priority"] if study_id in best else 0.0,
                key_suggestion_id=best[study_id]["pk"] if study_id in best else None,
            )
            for study_id in ids
        ],
        update_conflicts=True,
        unique_fields=["study"],
        update_fields=["priority", "key_suggestion", "updated_at"],
    )
    # The worklist sorts by the copy on the study row (one index, whatever the filter).
    Study.objects.bulk_update(
        [
            Study(
                pk=study_id,
                worklist_priority=best[study_id]["priority"] if study_id in best else 0.0,
            )
            for study_id in ids
        ],
        ["worklist_priority"],
    )
    return len(ids)


def study_worklist_refresh(*, study_ids: Iterable[int]) -> None:
    """Recompute where these studies stand in reading (unread, one read of two, disagreeing
    reads) from their images' reading states; called in the transaction that changes one.

    The study rows are locked first: an image stored meanwhile marks its study unread under
    the same lock (ingest), so the two can never leave a study with an unread image marked
    as read.
    """
    ids = sorted(set(study_ids))
    if not ids:
        return
    list(Study.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
    of_study = ReadingState.objects.filter(instance__series__study_id=OuterRef("pk"))
    Study.objects.filter(pk__in=ids).update(
        unread=Exists(
            Instance.objects.filter(series__study_id=OuterRef("pk")).exclude(
                Exists(ReadingState.objects.filter(instance_id=OuterRef("pk")))
            )
        ),
        second_read_pending=Exists(of_study.filter(status=ReadingState.Status.ONE_READ)),
        in_adjudication=Exists(of_study.filter(status=ReadingState.Status.ADJUDICATION)),
    )


class ReviewRefused(ValidationError):
    """The review cannot be recorded; the message says why in a clinician's words."""


def _agreement_key(review: Review, findings: Sequence[int]) -> tuple[Any, ...]:
    if review.action == Review.Action.REJECT:
        return ("reject",)
    return ("findings", frozenset(findings))


def _state_update(*, instance: Instance) -> ReadingState:
    """Re-derive the reading state of ``instance`` from its current reviews (locked)."""
    current = list(
        Review.objects.filter(instance=instance, superseded_by__isnull=True)
        .prefetch_related("findings")
        .order_by("pk")
    )
    adjudications = [r for r in current if r.kind == Review.Kind.ADJUDICATION]
    reads = [r for r in current if r.kind == Review.Kind.READ]
    label: Review | None = None
    first_reader = None
    if adjudications:
        status, label = ReadingState.Status.REVIEWED, adjudications[-1]
    elif not double_reading():
        status, label = ReadingState.Status.REVIEWED, current[-1]
    else:
        clinician = [r for r in reads if r.source == Review.Source.CLINICIAN]
        if not clinician:
            status, label = ReadingState.Status.REVIEWED, current[-1]  # synthetic truth
        elif len(clinician) == 1:
            status, first_reader = ReadingState.Status.ONE_READ, clinician[0].reviewer
        else:
            keys = {_agreement_key(r, [f.pk for f in r.findings.all()]) for r in clinician}
            if len(keys) == 1:
                status, label = ReadingState.Status.REVIEWED, clinician[-1]
            else:
                status = ReadingState.Status.ADJUDICATION
    state, _ = ReadingState.objects.update_or_create(
        instance=instance,
        defaults={"status": status, "label": label, "first_reader": first_reader},
    )
    return state


@transaction.atomic
def review_record(
    *,
    instance: Instance,
    reviewer: AbstractBaseUser | None,
    decision: str,
    findings: Sequence[Finding] = (),
    comment: str = "",
    source: str = Review.Source.CLINICIAN,
    remote_addr: str | None = None,
    imported_from: str = "",
) -> Review:
    """Record a doctor's decision on ``instance``: accept, correct or reject.

    A label that did not come from a clinician at this screen (an imported one, with
    ``imported_from`` naming its file and row, or a generator's truth) saw no suggestion: it
    is stored as a correction that points at none, never as "accepted the suggestion".

    ``accept`` takes the latest suggestion's top finding; ``correct`` takes ``findings`` (one,
    or several when ``MEDASSIST_MULTI_LABEL``); ``reject`` marks the image non-diagnostic (no
    label to train on). Nothing is overwritten: the reviewer's previous current review (any
    reviewer's, with single reading) is superseded. Under double reading a doctor who is not
    one of the two readers of a disagreeing case records the adjudication, which is the label.
    Raises ReviewRefused with a message for the clinician.
    """
    # Lock the instance so two reviews submitted at once still form one chain.
    Instance.objects.select_for_update().filter(pk=instance.pk).exists()
    # The suggestion the case page shows: of the version promoted last (after a rollback,
    # the restored version's, even though a retired version's row is newer).
    suggestion = (
        Suggestion.objects.filter(instance=instance, status=Suggestion.Status.OK)
        .annotate(promoted=promoted_at())
        .order_by("-promoted", "-pk")
        .first()
    )
    if source == Review.Source.IMPORT:
        suggestion = None
    chosen = list(dict.fromkeys(findings))
    if decision == Review.Action.ACCEPT:
        if suggestion is None or suggestion.top_finding is None:
            raise ReviewRefused("There is no AI suggestion to accept: choose the finding.")
        chosen = [suggestion.top_finding]
    elif decision == Review.Action.CORRECT:
        if not chosen:
            raise ReviewRefused("Choose the finding you see.")
        if len(chosen) > 1 and not multi_label():
            raise ReviewRefused("Choose one finding: this task takes a single label.")
        if (
            len(chosen) == 1
            and suggestion is not None
            and suggestion.top_finding_id == chosen[0].pk
        ):
            decision = Review.Action.ACCEPT
    elif decision == Review.Action.REJECT:
        chosen = []
    else:
        raise ReviewRefused(f"Unknown review action {decision!r}.")

    state = ReadingState.objects.filter(instance=instance).first()
    kind = Review.Kind.READ
    current = Review.objects.filter(instance=instance, superseded_by__isnull=True)
    if double_reading() and source == Review.Source.CLINICIAN:
        readers = set(
            current.filter(kind=Review.Kind.READ, source=Review.Source.CLINICIAN).values_list(
                "reviewer_id", flat=True
            )
        )
        adjudicating = state is not None and (
            state.status == ReadingState.Status.ADJUDICATION
            or current.filter(kind=Review.Kind.ADJUDICATION).exists()
        )
        if adjudicating and reviewer is not None and reviewer.pk not in readers:
            kind = Review.Kind.ADJUDICATION
            previous = current.filter(kind=Review.Kind.ADJUDICATION).order_by("-pk").first()
        else:
            previous = current.filter(reviewer=reviewer, kind=Review.Kind.READ).first()
            if previous is None and len(readers) >= 2:
                raise ReviewRefused(
                    "Two doctors have already read this image; "
                    "a third doctor reviews only when they disagree."
                )
    else:
        previous = current.order_by("-pk").first()
    review = Review(
        instance=instance,
        suggestion=suggestion,
        reviewer=reviewer,
        action=decision,
        kind=kind,
        finding=chosen[0] if chosen else None,
        comment=comment,
        source=source,
        imported_from=imported_from,
        supersedes=previous,
    )
    review.full_clean()
    review.save()
    review.findings.set(chosen)
    state = _state_update(instance=instance)
    study_worklist_refresh(study_ids=[instance.series.study_id])
    audit_record(
        actor=reviewer,
        action="review.submit",
        obj=review,
        detail={
            "instance": instance.pk,
            "finding": chosen[0].code if chosen else None,
            "action": decision,
            "kind": kind,
            "findings": [f.code for f in chosen],
            "supersedes": previous.pk if previous else None,
            "reading_state": state.status,
        },
        remote_addr=remote_addr,
    )
    # A doctor's final read goes back to the PACS as an SR (MEDASSIST_PACS_SEND=auto); an
    # amended one sends a new SR that replaces the previous (diagnosis/pacs).
    pacs_review_finalised(review=review, state=state)
    return review


def review_submit(
    *,
    instance: Instance,
    reviewer: AbstractBaseUser | None,
    finding: Finding,
    comment: str = "",
    source: str = Review.Source.CLINICIAN,
    remote_addr: str | None = None,
) -> Review:
    """Record one finding for ``instance`` ("accept" when it is the suggested one)."""
    return review_record(
        instance=instance,
        reviewer=reviewer,
        decision=Review.Action.CORRECT,
        findings=[finding],
        comment=comment,
        source=source,
        remote_addr=remote_addr,
    )


@transaction.atomic
def review_assign(
    *, study: Study, assignee: AbstractBaseUser, assigned_by: AbstractBaseUser | None
) -> ReviewAssignment:
    assignment, created = ReviewAssignment.objects.get_or_create(
        study=study, assignee=assignee, defaults={"assigned_by": assigned_by}
    )
    if created:
        audit_record(
            actor=assigned_by,
            action="review.assign",
            obj=assignment,
            detail={"study": study.pk, "assignee": assignee.pk},
        )
    return assignment
