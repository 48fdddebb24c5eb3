"""Writes of the PACS export: queue a review's SR, send it by C-STORE with retries, sweep.

The :class:`PacsExport` row is the work (docs/pacs_export.md). It is written in the
transaction of the review it reports (``auto``) or of the doctor's button (``manual``), and a
wake-up for ``diagnosis.pacs.tasks.pacs_export_send`` goes out once that commits. A worker
claims the row, builds the SR (and the heatmap capture), and stores them in the configured
PACS. A failure (refused association, no answer, a non-success status, a damaged file) is
kept on the row with the next attempt's time, doubling the wait up to an hour, for
``MEDASSIST_PACS_MAX_ATTEMPTS`` attempts; then it stays failed with the reason until a
doctor retries it. Every attempt is audited. The minute sweep re-wakes exports whose
wake-up was lost and takes back those whose worker died while sending.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from diagnosis.pacs.models import PacsExport
from diagnosis.pacs.selectors import AUTO, OFF, final_review, pacs_destination, pacs_mode
from diagnosis.review.models import ReadingState, Review
from imaging.models import Instance
from medassist.jobs import job_enqueue, job_enqueue_on_commit
from medassist.services import audit_record

# The registered name of the task that sends one export (diagnosis/pacs/tasks.py).
PACS_EXPORT_SEND = "diagnosis.pacs.tasks.pacs_export_send"
# Work younger than this is left to its own wake-up (it is probably on its way).
SETTLE = timedelta(minutes=1)
MAX_BACKOFF_SECONDS = 3600
SWEEP_LIMIT = 200
# C-STORE statuses an archive answers when it stored the object (success, or a warning
# such as coercion of data elements, PS3.4 B.2.3).
_STORED = {0x0000, 0xB000, 0xB006, 0xB007}

logger = logging.getLogger(__name__)


class PacsRefused(ValidationError):
    """The export cannot be requested; the message says why in a clinician's words."""


class PacsSendError(RuntimeError):
    """One attempt failed; the message is what the case page and the audit log show."""


def series_uid(*, study_instance_uid: str, kind: str) -> str:
    """The one series per study that holds MedAssist's objects of ``kind`` ("sr" or "sc")."""
    return generate_uid(entropy_srcs=["medassist-pacs-series", kind, study_instance_uid])


def _stale_after() -> timedelta:
    """A send held longer than this lost its worker (every DICOM step has its timeout)."""
    return timedelta(seconds=max(300.0, 4 * settings.MEDASSIST_PACS_TIMEOUT_SECONDS))


def pacs_export_queue(
    *, review: Review, actor: AbstractBaseUser | None, trigger: str
) -> PacsExport:
    """Record that ``review`` must be sent to the PACS, and wake a worker once it commits.

    Idempotent per review. When the image already has an export, the new one replaces it:
    its SR names the replaced SR as its predecessor. One still waiting (queued, or failed and
    waiting for a retry) is not sent any more; if no attempt of it ever left, nothing of it
    reached the archive, and the new SR names what it replaced in turn. Locks the image's
    exports, so an export being claimed meanwhile is either sending (and replaced) or waits.
    """
    with transaction.atomic():
        existing = PacsExport.objects.filter(review=review).first()
        if existing is not None:
            return existing
        previous = (
            PacsExport.objects.select_for_update()
            .filter(instance_id=review.instance_id)
            .exclude(status=PacsExport.Status.REPLACED)
            .order_by("-pk")
            .first()
        )
        replaces = previous
        if previous is not None and previous.status in (
            PacsExport.Status.QUEUED,
            PacsExport.Status.FAILED,
        ):
            previous.status = PacsExport.Status.REPLACED
            previous.next_attempt_at = None
            previous.save(update_fields=["status", "next_attempt_at", "updated_at"])
            if previous.attempts == 0:
                replaces = previous.replaces
        instance = Instance.objects.select_related("series__study").get(pk=review.instance_id)
        study = instance.series.study
        suggestion = review.suggestion
        with_capture = bool(
            settings.MEDASSIST_PACS_SECONDARY_CAPTURE
            and suggestion is not None
            and suggestion.saliency_key
        )
        export = PacsExport.objects.create(
            study=study,
            instance=instance,
            review=review,
            requested_by=actor if actor is not None and actor.is_authenticated else None,
            trigger=trigger,
            replaces=replaces,
            sr_sop_instance_uid=generate_uid(),
            sr_series_instance_uid=series_uid(
                study_instance_uid=study.study_instance_uid, kind="sr"
            ),
            sc_sop_instance_uid=generate_uid() if with_capture else "",
            sc_series_instance_uid=(
                series_uid(study_instance_uid=study.study_instance_uid, kind="sc")
                if with_capture
                else ""
            ),
        )
        audit_record(
            actor=actor,
            action="pacs.export.queue",
            obj=export,
            detail={
                "review": review.pk,
                "instance": instance.pk,
                "study": study.pk,
                "trigger": trigger,
                "sr_sop_instance_uid": export.sr_sop_instance_uid,
                "secondary_capture": with_capture,
                "replaces": replaces.pk if replaces else None,
                "not_sent_replaced": (
                    previous.pk
                    if previous is not None and previous.status == PacsExport.Status.REPLACED
                    else None
                ),
                "destination": pacs_destination(),
            },
        )
        job_enqueue_on_commit(PACS_EXPORT_SEND, export_id=export.pk)
    return export


def pacs_review_finalised(*, review: Review, state: ReadingState) -> PacsExport | None:
    """Called by the review service in the transaction that records ``review``: with
    ``MEDASSIST_PACS_SEND=auto``, a doctor's review that became the image's final read (its
    label) is queued for the PACS; an amended final review replaces the previous export."""
    if pacs_mode() != AUTO:
        return None
    if review.source != Review.Source.CLINICIAN or state.label_id != review.pk:
        return None
    return pacs_export_queue(review=review, actor=review.reviewer, trigger=PacsExport.Trigger.AUTO)


def pacs_export_request(
    *, instance: Instance, actor: AbstractBaseUser | None
) -> tuple[PacsExport, bool]:
    """The doctor's "Send to PACS": queue the image's final review, or retry its failed
    export now. Returns the export and whether this call queued anything.

    Raises PacsRefused when sending is off or the image has no doctor's final review yet.
    """
    if pacs_mode() == OFF:
        raise PacsRefused("Sending to the PACS is switched off here (MEDASSIST_PACS_SEND).")
    with transaction.atomic():
        Instance.objects.select_for_update().filter(pk=instance.pk).exists()
        review = final_review(instance=instance)
        if review is None:
            raise PacsRefused(
                "This image has no final review by a doctor yet: review it first "
                "(with double reading, once the reads agree or are adjudicated)."
            )
        existing = PacsExport.objects.select_for_update().filter(review=review).first()
        if existing is None:
            return (
                pacs_export_queue(review=review, actor=actor, trigger=PacsExport.Trigger.MANUAL),
                True,
            )
        if existing.status != PacsExport.Status.FAILED:
            return existing, False
        existing.status = PacsExport.Status.QUEUED
        existing.next_attempt_at = None
        existing.save(update_fields=["status", "next_attempt_at", "updated_at"])
        audit_record(
            actor=actor,
            action="pacs.export.retry",
            obj=existing,
            detail={"review": review.pk, "attempts": existing.attempts},
        )
        job_enqueue_on_commit(PACS_EXPORT_SEND, export_id=existing.pk)
    return existing, True


def _claim(*, export_id: int, now: datetime) -> PacsExport | None:
    """Take the export for one attempt if it is due and nobody holds it."""
    with transaction.atomic():
        export = (
            PacsExport.objects.select_for_update(skip_locked=True)
            .filter(pk=export_id)
            .filter(
                Q(status=PacsExport.Status.QUEUED)
                | Q(status=PacsExport.Status.FAILED, next_attempt_at__lte=now)
            )
            .first()
        )
        if export is None:
            return None
        export.status = PacsExport.Status.SENDING
        export.attempts += 1
        export.claimed_at = now
        export.destination = pacs_destination()
        export.save(update_fields=["status", "attempts", "claimed_at", "destination", "updated_at"])
    return export


def _c_store(datasets: Sequence[Dataset]) -> None:
    """Store ``datasets`` in the configured PACS over one association; raises PacsSendError."""
    from pynetdicom import AE

    timeout = settings.MEDASSIST_PACS_TIMEOUT_SECONDS
    ae = AE(ae_title=settings.MEDASSIST_PACS_CALLING_AE_TITLE)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    ae.connection_timeout = timeout
    for sop_class in dict.fromkeys(str(ds.SOPClassUID) for ds in datasets):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    where = pacs_destination()
    assoc = ae.associate(
        settings.MEDASSIST_PACS_HOST,
        settings.MEDASSIST_PACS_PORT,
        ae_title=settings.MEDASSIST_PACS_AE_TITLE,
    )
    if not assoc.is_established:
        if assoc.is_rejected:
            raise PacsSendError(
                f"The PACS {where} refused the association (check its AE title and that it "
                f"accepts {settings.MEDASSIST_PACS_CALLING_AE_TITLE})."
            )
        raise PacsSendError(
            f"Could not connect to the PACS {where} (no answer within {timeout:g} s)."
        )
    try:
        for ds in datasets:
            answer = assoc.send_c_store(ds)
            if "Status" not in answer:
                raise PacsSendError(
                    f"The PACS {where} did not answer the C-STORE of {ds.SOPInstanceUID} "
                    "(timed out or the connection was lost)."
                )
            status = int(answer.Status)
            if status not in _STORED:
                comment = str(answer.get("ErrorComment", "") or "")
                raise PacsSendError(
                    f"The PACS {where} did not store {ds.SOPInstanceUID}: status "
                    f"0x{status:04X}{': ' + comment if comment else ''}."
                )
    finally:
        if assoc.is_established:
            assoc.release()


def _audit_attempt(export: PacsExport, *, result: str, **detail: Any) -> None:
    """One event per attempt, in the name of whoever asked for the export (the reviewer in
    ``auto``, the doctor who pressed the button in ``manual``); a worker made the attempt."""
    audit_record(
        actor=export.requested_by,
        action="pacs.export.send",
        obj=export,
        detail={
            "result": result,
            "attempt": export.attempts,
            "review": export.review_id,
            "reviewer": export.review.reviewer_id,
            "requested_by": export.requested_by_id,
            "trigger": export.trigger,
            "destination": export.destination,
            "sr_sop_instance_uid": export.sr_sop_instance_uid,
            "sc_sop_instance_uid": export.sc_sop_instance_uid or None,
            **detail,
        },
    )


def _attempt_failed(*, export: PacsExport, error: str, now: datetime) -> PacsExport:
    """Keep the reason, schedule the next attempt with backoff, or give up after the last."""
    if export.attempts >= settings.MEDASSIST_PACS_MAX_ATTEMPTS:
        delay, next_at = None, None
    else:
        delay = min(
            settings.MEDASSIST_PACS_RETRY_SECONDS * 2 ** (export.attempts - 1),
            MAX_BACKOFF_SECONDS,
        )
        next_at = now + timedelta(seconds=delay)
    PacsExport.objects.filter(pk=export.pk, status=PacsExport.Status.SENDING).update(
        status=PacsExport.Status.FAILED,
        next_attempt_at=next_at,
        last_error=error[:2000],
        updated_at=now,
    )
    export.refresh_from_db()
    _audit_attempt(
        export,
        result="failed",
        error=error[:500],
        next_attempt_at=next_at.isoformat() if next_at else None,
    )
    if next_at is not None:
        logger.warning(
            "PACS export %s failed (attempt %s), retry in %ss: %s",
            export.pk,
            export.attempts,
            delay,
            error,
        )
        job_enqueue(PACS_EXPORT_SEND, countdown=delay, export_id=export.pk)
    else:
        logger.error(
            "PACS export %s gave up after %s attempts: %s", export.pk, export.attempts, error
        )
    return export


def pacs_export_send(*, export_id: int, now: datetime | None = None) -> PacsExport | None:
    """One attempt at an export, if it is due and nobody else holds it (else None).

    Builds the SR (and the capture) from the rows, stores them in the PACS over one
    association, and records the result on the row and in the audit log.
    """
    now = now or timezone.now()
    export = _claim(export_id=export_id, now=now)
    if export is None:
        return None
    # highdicom loads here, in the worker, not in every web process that imports this module.
    from diagnosis.pacs.documents import capture_build, report_build

    export = PacsExport.objects.select_related("review", "replaces", "requested_by").get(
        pk=export.pk
    )
    try:
        datasets: list[Dataset] = [report_build(export=export)]
        capture = capture_build(export=export)
        if capture is not None:
            datasets.append(capture)
        _c_store(datasets)
    except PacsSendError as exc:
        return _attempt_failed(export=export, error=str(exc), now=timezone.now())
    except Exception as exc:  # a damaged file, a network error below pynetdicom: retried
        logger.exception("PACS export %s could not be sent", export.pk)
        return _attempt_failed(
            export=export, error=f"{type(exc).__name__}: {exc}", now=timezone.now()
        )
    sent_at = timezone.now()
    PacsExport.objects.filter(pk=export.pk).update(
        status=PacsExport.Status.SENT,
        sent_at=sent_at,
        next_attempt_at=None,
        last_error="",
        updated_at=sent_at,
    )
    export.refresh_from_db()
    _audit_attempt(export, result="sent", objects=len(datasets))
    return export


def pacs_export_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Each minute, from beat: re-wake exports whose wake-up was lost, take back stuck ones.

    - Queued for over a minute, or failed with a retry due over a minute ago: woken again
      (a duplicate wake-up finds the export taken or done, and does nothing).
    - Sending for longer than every timeout allows: its worker died; the attempt counts as
      failed (with backoff, or given up after the last) and the export is woken again.
    Returns how many of each it found.
    """
    now = now or timezone.now()
    stuck = list(
        PacsExport.objects.select_related("review", "requested_by").filter(
            status=PacsExport.Status.SENDING, claimed_at__lt=now - _stale_after()
        )[:SWEEP_LIMIT]
    )
    for export in stuck:
        logger.warning("Sweep: PACS export %s lost its worker while sending", export.pk)
        _attempt_failed(
            export=export,
            error="The worker stopped while sending; the archive may or may not have it.",
            now=now,
        )
    due = list(
        PacsExport.objects.filter(
            Q(status=PacsExport.Status.QUEUED, updated_at__lt=now - SETTLE)
            | Q(status=PacsExport.Status.FAILED, next_attempt_at__lt=now - SETTLE)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    for pk in due:
        job_enqueue(PACS_EXPORT_SEND, export_id=pk)
    if due:
        logger.warning("Sweep: %s PACS exports waited for their wake-up; sent again", len(due))
    return {"woken": len(due), "stuck": len(stuck)}
