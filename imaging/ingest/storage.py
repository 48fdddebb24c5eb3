"""Writing accepted bytes to MEDIA_ROOT: atomic files, and conflicting files kept aside."""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from medassist.services import audit_record

from ..models import IngestConflict, NonImageInstance, StoredInstance
from .errors import IngestError

logger = logging.getLogger(__name__)


def write_atomically(data: bytes, folder: str) -> tuple[str, Path]:
    """Write ``data`` under a new server-generated key; return (key, path).

    The bytes go to a temporary name in the same folder, are flushed to disk, then renamed:
    a reader (or a crash) sees the whole file or none of it.
    """
    name = uuid.uuid4().hex
    key = f"{folder}/{name[:2]}/{name}.dcm"
    path = Path(settings.MEDIA_ROOT) / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{name}.tmp")
    try:
        with tmp.open("xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return key, path


def conflict_keep(
    *,
    data: bytes,
    sha256: str,
    existing: StoredInstance,
    by: AbstractBaseUser | None,
    source: str,
    executable: str,
) -> IngestError:
    """Keep a different file with a stored SOP Instance UID aside; return the error to raise.

    The stored instance (an image or a non-image object) is never touched. The same
    conflicting bytes sent twice are kept once.
    """
    uid = existing.sop_instance_uid
    what = "object" if isinstance(existing, NonImageInstance) else "image"
    message = (
        f"A different {what} with the same SOP Instance UID is already stored; nothing was "
        "changed. The new file was kept aside for an administrator to review."
    )
    error = IngestError(message, status=409, code="conflict")
    if IngestConflict.objects.filter(
        sop_instance_uid=uid, sha256=sha256, resolved_at__isnull=True
    ).exists():
        return error
    key, path = write_atomically(data, "conflicts")
    try:
        with transaction.atomic():
            original = (
                {"existing_non_image": existing}
                if isinstance(existing, NonImageInstance)
                else {"existing_instance": existing}
            )
            conflict = IngestConflict.objects.create(
                sop_instance_uid=uid,
                **original,
                storage_key=key,
                sha256=sha256,
                size_bytes=len(data),
                source=source[:32],
                received_by=by if by is not None and by.is_authenticated else None,
            )
            audit_record(
                actor=by,
                action="ingest.conflict",
                obj=conflict,
                detail={
                    "sop_instance_uid": uid,
                    "existing_instance_id": existing.pk,
                    "existing_kind": existing._meta.model_name,
                    "existing_sha256": existing.sha256,
                    "sha256": sha256,
                    "source": source,
                    "preamble_executable": executable,
                },
            )
    except IntegrityError:
        # The same conflicting bytes arrived twice at once; the other copy is kept.
        path.unlink(missing_ok=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.warning("Ingest conflict on SOP Instance UID %s kept aside as %s", uid, key)
    return error
