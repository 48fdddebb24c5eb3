"""Writing accepted bytes to MEDIA_ROOT: atomic files, and conflicting files kept aside."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
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

    The bytes go to a temporary name in the same folder, are flushed to disk, then renamed,
    and the rename is flushed too: a reader (or a crash) sees the whole file or none of it,
    and once this returns the file survives a crash.
    """
    return write_durably([data], folder)[0]


# Threads that flush files to disk side by side (see write_durably); one pool per process,
# made on first use so that a forked worker (gunicorn, the listener) makes its own.
_FSYNC_THREADS = 8
_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _fsync_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(_FSYNC_THREADS, "ingest-fsync"))
        return _pool[1]


def _fsync_all(fds: list[int]) -> None:
    """fsync every descriptor; several at once, so the file system commits them together."""
    if len(fds) == 1:
        os.fsync(fds[0])
        return
    # Every flush is waited for, and the first failure raised, before anything goes on.
    for future in [_fsync_pool().submit(os.fsync, fd) for fd in fds]:
        future.result()


def write_durably(datas: list[bytes], folder: str) -> list[tuple[str, Path]]:
    """Write each of ``datas`` under a new server-generated key; return their (key, path)
    once every file is on disk (:func:`durable_write_start`, then ``wait``)."""
    writing = durable_write_start(datas, folder)
    writing.wait()
    return writing.files


# The thread that finishes each durable write (flushes, renames) while its caller goes on;
# one per process, made on first use (see _fsync_pool).
_finisher: tuple[int, ThreadPoolExecutor] | None = None


def _finisher_pool() -> ThreadPoolExecutor:
    global _finisher
    with _pool_lock:
        if _finisher is None or _finisher[0] != os.getpid():
            _finisher = (os.getpid(), ThreadPoolExecutor(2, "ingest-finish"))
        return _finisher[1]


class DurableWrite:
    """Files on their way to disk under new keys (see :func:`durable_write_start`)."""

    def __init__(self, files: list[tuple[str, Path]], temps: list[Path], job: Future[None]):
        self.files = files
        self._temps = temps
        self._job = job

    def wait(self) -> None:
        """Return once every file is flushed, renamed under its key and the rename flushed;
        raise what went wrong otherwise (then no file of this write is left)."""
        self._job.result()

    def discard(self) -> None:
        """Wait for the flush to end, whatever its outcome, then remove every file."""
        with contextlib.suppress(BaseException):
            self._job.result()
        for path in [*self._temps, *(final for _key, final in self.files)]:
            path.unlink(missing_ok=True)


def durable_write_start(datas: list[bytes], folder: str) -> DurableWrite:
    """Write each of ``datas`` under a new server-generated key, and flush them to disk in a
    background thread, so that the caller's own work (the rows of these files) overlaps the
    disk's; ``wait()`` before anything points at them for good (a commit).

    The files of one call share one subfolder. Each is written to a temporary name; all are
    flushed together (their fsyncs run side by side, which the file system commits as one
    journal transaction rather than one per file), then renamed, and the folder is flushed
    once for all the renames. A reader (or a crash) sees each file whole or not at all; once
    ``wait()`` returns every file survives a crash. On any failure nothing is left behind and
    the error is raised, here (writing) or by ``wait()`` (flushing, renaming).
    """
    prefix = uuid.uuid4().hex[:2]
    parent = Path(settings.MEDIA_ROOT) / folder / prefix
    parent.mkdir(parents=True, exist_ok=True)
    names = [prefix + uuid.uuid4().hex[2:] for _ in datas]
    temps = [parent / f".{name}.tmp" for name in names]
    finals = [parent / f"{name}.dcm" for name in names]
    fds: list[int] = []
    try:
        for tmp, data in zip(temps, datas, strict=True):
            fds.append(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC, 0o644))
            with memoryview(data) as view:
                written = 0
                while written < len(view):
                    written += os.write(fds[-1], view[written:])
    except BaseException:
        _undo(fds, temps, finals, renamed=0)
        raise
    job = _finisher_pool().submit(_finish, fds, temps, finals, parent)
    files = [
        (f"{folder}/{prefix}/{name}.dcm", final) for name, final in zip(names, finals, strict=True)
    ]
    return DurableWrite(files, temps, job)


def _finish(fds: list[int], temps: list[Path], finals: list[Path], parent: Path) -> None:
    renamed = 0
    try:
        _fsync_all(fds)
        for fd in fds:
            os.close(fd)
        fds = []
        for tmp, final in zip(temps, finals, strict=True):
            os.replace(tmp, final)
            renamed += 1
        _fsync_folder(parent)
    except BaseException:
        _undo(fds, temps, finals, renamed=renamed)
        raise


def _undo(fds: list[int], temps: list[Path], finals: list[Path], *, renamed: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    for path in [*finals[:renamed], *temps[renamed:]]:
        path.unlink(missing_ok=True)


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames into it) to disk, where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY | _O_CLOEXEC)
    except OSError:  # Windows cannot open a folder; its renames are durable on return
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
