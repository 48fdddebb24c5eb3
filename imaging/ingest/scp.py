"""The DICOM C-STORE listener (Storage SCP): a PACS or a scanner pushes images to MedAssist.

Every received instance goes through :func:`imaging.ingest.services.instance_ingest`, the same path
as a browser upload, and the sender is told "success" only after the instance is committed.
Non-image objects (structured reports, RT structure sets and plans, waveforms, encapsulated
PDFs, presentation states) are stored with their study like images, so a PACS pushing a
whole study sees a success for every object; they are never sent to inference.

Who may connect is an allow list of calling AE titles (``MEDASSIST_SCP_ALLOWED_AE_TITLES``).
Safe by default: with an empty list every association is refused, unless
``MEDASSIST_SCP_ALLOW_ANY`` is set. The sender must also address the listener by its own AE
title (``MEDASSIST_SCP_AE_TITLE``, the *called* AE title): a PACS configured with another
node's title is refused at association with A-ASSOCIATE-RJ "called AE title not
recognised", rather than having its images filed here by mistake. An AE title is not
authentication (any peer can claim any title), so the port belongs on the hospital's imaging
network, not on the internet.

Association rejections (A-ASSOCIATE-RJ, PS3.8 9.3.4: result, source, reason), each logged at
WARNING with the peer, the titles it used and the setting to change:

=============================  ========================================================
result / source / reason       when
=============================  ========================================================
1 / 1 / 7 (permanent, service  the called AE title is not the listener's
user, called AE title not      (``MEDASSIST_SCP_AE_TITLE``); checked first
recognised)
1 / 1 / 3 (permanent, service  the calling AE title is not allowed
user, calling AE title not     (``MEDASSIST_SCP_ALLOWED_AE_TITLES``)
recognised)
=============================  ========================================================

Status codes of a refused instance (PS3.4 B.2.3 Table B.2-1, Storage Service Class; the Error
Comment (0000,0902) carries the reason in words):

======  ==============================================  =====================================
status  PS3.4 meaning                                   MedAssist refusal (IngestError.code)
======  ==============================================  =====================================
0xA700  Refused: Out of Resources                       file or image over the size limits
                                                        (``too_large``)
0xA701  Refused: Out of Resources                       a deflated file inflating past the
                                                        limit (``bomb``)
0xA900  Error: Data Set does not match SOP Class        a required UID missing or malformed
                                                        (``missing_uid``, ``invalid_uid``)
0xA901  Error: Data Set does not match SOP Class        a *different* instance with this SOP
                                                        Instance UID is stored (``conflict``)
0xA902  Error: Data Set does not match SOP Class        its study/series is filed under
                                                        another patient/study
                                                        (``hierarchy_conflict``)
0xC000  Error: Cannot understand                        not DICOM, unreadable, truncated
                                                        (``not_dicom``, ``truncated``,
                                                        ``corrupt``, ``encrypted``)
0xC001  Error: Cannot understand                        an image without its pixel data
                                                        (``no_pixel_data``); reports, RT
                                                        objects, waveforms, PDFs are stored
0xC002  Error: Cannot understand                        pixels that cannot be decoded here
                                                        (``unsupported_transfer_syntax``,
                                                        ``undecodable``)
0xC0FF  Error: Cannot understand                        an unexpected error on our side; the
                                                        traceback is logged; retry later
======  ==============================================  =====================================

Received data sets are spooled to a temporary file as they arrive (pynetdicom's
``STORE_RECV_CHUNKED_DATASET``), never held whole in memory, and counted while they arrive:
one that passes ``MEDASSIST_MAX_UPLOAD_BYTES`` is not received further, the association is
aborted (A-ABORT) and its partial file removed, so an oversized push costs neither memory nor
disk. A data set within the limit is read from its file with the same bounded read as the
other paths, then ingested.

PS3.4 has no C-STORE status for "a different object with this UID exists" (0x0111 Duplicate
SOP Instance belongs to N-CREATE), so a conflict is reported in the A9xx range: the data set
is not the instance its UID says it is. The sender's copy is kept aside by ingest for an
administrator, and the stored original is never touched. Only the range (A7xx, A9xx, Cxxx) is
standard; the low byte is ours, so a log line points at one cause. A re-send of the same
image is a success, so a sender that retries after a lost response never sees a failure;
that includes an image already stored by STOW-RS or an upload, whose file meta group (which
the listener writes itself) or transfer syntax differs (see imaging/ingest/identity.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder
from pydicom.uid import UID, AllTransferSyntaxes
from pynetdicom import AE, StoragePresentationContexts, _config, evt
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from medassist.services import audit_origin

from .errors import IngestError
from .limits import max_upload_bytes, megabytes
from .parsing import read_bounded
from .services import instance_ingest

logger = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
TOO_MANY_PIXELS = 0xA701
MISSING_UID = 0xA900
CONFLICT = 0xA901
HIERARCHY_CONFLICT = 0xA902
CANNOT_UNDERSTAND = 0xC000
NO_PIXEL_DATA = 0xC001
NOT_DECODABLE = 0xC002
INTERNAL_ERROR = 0xC0FF

# IngestError.code -> C-STORE status (see the table in the module docstring).
STATUS_BY_CODE: dict[str, int] = {
    "too_large": OUT_OF_RESOURCES,
    "bomb": TOO_MANY_PIXELS,
    "missing_uid": MISSING_UID,
    "invalid_uid": MISSING_UID,
    "conflict": CONFLICT,
    "hierarchy_conflict": HIERARCHY_CONFLICT,
    "not_dicom": CANNOT_UNDERSTAND,
    "truncated": CANNOT_UNDERSTAND,
    "corrupt": CANNOT_UNDERSTAND,
    "encrypted": CANNOT_UNDERSTAND,
    "no_pixel_data": NO_PIXEL_DATA,
    "unsupported_transfer_syntax": NOT_DECODABLE,
    "undecodable": NOT_DECODABLE,
}
# A code added later falls back on the HTTP status every IngestError carries.
STATUS_BY_HTTP_STATUS: dict[int, int] = {
    413: OUT_OF_RESOURCES,
    409: CONFLICT,
    415: NOT_DECODABLE,
    422: NOT_DECODABLE,
}

# A-ASSOCIATE-RJ (PS3.8 9.3.4): rejected-permanent, by the service user, and the reason.
REJECT_PERMANENT, SERVICE_USER = 0x01, 0x01
CALLING_AE_NOT_RECOGNISED, CALLED_AE_NOT_RECOGNISED = 0x03, 0x07
# Error Comment (0000,0902) is an LO: at most 64 characters.
_ERROR_COMMENT_LIMIT = 64
# P-DATA-TF (PS3.8 9.3.5): the PDU type, and the header sizes of the PDU and of each PDV item.
_P_DATA_TF = 0x04
_PDU_HEADER, _PDV_HEADER = 6, 6
# The preamble, 'DICM' and the file meta group the listener's spooled file adds to the data
# set: room left for them when that file is read against the file size limit.
_META_ALLOWANCE = 64 * 1024


@dataclass
class _Receiving:
    """How much of the current data set an association has sent, and whether it was cut off."""

    dataset_bytes: int = 0
    aborted: bool = False


@dataclass(frozen=True)
class ScpConfig:
    """How the listener presents itself and whom it lets in. Timeouts are in seconds."""

    ae_title: str = "MEDASSIST"
    port: int = 11112
    bind_address: str = "127.0.0.1"
    allowed_calling_ae_titles: tuple[str, ...] = ()
    allow_any_calling_ae: bool = False
    maximum_pdu_size: int = 131072
    maximum_associations: int = 10
    acse_timeout: float = 30.0
    dimse_timeout: float = 60.0
    network_timeout: float = 60.0

    def with_overrides(self, **changes: Any) -> ScpConfig:
        """A copy with the given fields replaced; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def parse_ae_titles(value: Any) -> tuple[str, ...]:
    """AE titles from a comma-separated string or a list, blanks dropped."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    return tuple(str(item).strip() for item in items if str(item).strip())


def scp_config_from_settings() -> ScpConfig:
    """Read the ``MEDASSIST_SCP_*`` settings (their safe defaults are in settings.py)."""
    return ScpConfig(
        ae_title=str(settings.MEDASSIST_SCP_AE_TITLE),
        port=int(settings.MEDASSIST_SCP_PORT),
        bind_address=str(settings.MEDASSIST_SCP_BIND),
        allowed_calling_ae_titles=parse_ae_titles(settings.MEDASSIST_SCP_ALLOWED_AE_TITLES),
        allow_any_calling_ae=_as_bool(settings.MEDASSIST_SCP_ALLOW_ANY),
        maximum_pdu_size=int(settings.MEDASSIST_SCP_MAX_PDU),
        maximum_associations=int(settings.MEDASSIST_SCP_MAX_ASSOCIATIONS),
        acse_timeout=float(settings.MEDASSIST_SCP_ACSE_TIMEOUT),
        dimse_timeout=float(settings.MEDASSIST_SCP_DIMSE_TIMEOUT),
        network_timeout=float(settings.MEDASSIST_SCP_NETWORK_TIMEOUT),
    )


def accepted_transfer_syntaxes() -> list[UID]:
    """The transfer syntaxes whose pixel data pydicom can decode on this machine.

    Uncompressed (implicit/explicit little endian, explicit big endian, deflated) always; RLE,
    JPEG, JPEG-LS and JPEG 2000 when their decoder plugin is installed. Accepting a syntax we
    could not decode would turn a clean association-time refusal into a failed store.
    """
    found: list[UID] = []
    for uid in AllTransferSyntaxes:
        try:
            available = get_decoder(uid).is_available
        except NotImplementedError:
            continue  # no decoder exists at all (MPEG, HEVC, JPIP...)
        if available:
            found.append(uid)
    return found


def ingest_error_status(error: IngestError) -> int:
    """The C-STORE failure status for a refused instance (see the module's table)."""
    code = getattr(error, "code", None)
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    return STATUS_BY_HTTP_STATUS.get(getattr(error, "status", 400), CANNOT_UNDERSTAND)


def _failure(status: int, comment: str) -> Dataset:
    response = Dataset()
    response.Status = status
    # LO allows no backslash; a clinician-readable sentence rarely has one, but be sure.
    response.ErrorComment = comment.replace("\\", "/")[:_ERROR_COMMENT_LIMIT]
    return response


def _peer(assoc: Association) -> str:
    remote = assoc.requestor
    return f"{remote.ae_title!r} at {remote.address}:{remote.port}"


@dataclass
class StorageScp:
    """The handlers of one listener; counts what each association stored and refused."""

    config: ScpConfig
    _counts: weakref.WeakKeyDictionary[Association, Counter[str]] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _receiving: weakref.WeakKeyDictionary[Association, _Receiving] = field(
        default_factory=weakref.WeakKeyDictionary
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _count(self, assoc: Association, outcome: str) -> None:
        with self._lock:
            self._counts.setdefault(assoc, Counter())[outcome] += 1

    def handle_requested(self, event: evt.Event) -> None:
        """Refuse an association addressed to another AE title, or from a calling AE title
        that is not allowed (A-ASSOCIATE-RJ, see the module's table)."""
        # The requestor's details are filled in only after negotiation; read the request.
        request = event.assoc.requestor.primitive
        calling = str(request.calling_ae_title).strip()
        called = str(request.called_ae_title).strip()
        if called != self.config.ae_title.strip():
            # Checked first: a sender that calls another title is misconfigured whoever it
            # is, and saying so points its administrator at the right setting.
            self._reject(
                event,
                CALLED_AE_NOT_RECOGNISED,
                calling=calling,
                reason=(
                    f"it called AE title {called!r}, but this listener is "
                    f"{self.config.ae_title.strip()!r} (MEDASSIST_SCP_AE_TITLE); set the "
                    "sender's destination AE title to that, or change the setting"
                ),
            )
            return
        if self.config.allow_any_calling_ae or calling in self.config.allowed_calling_ae_titles:
            return
        if not self.config.allowed_calling_ae_titles:
            reason = (
                "no calling AE titles are allowed yet: set MEDASSIST_SCP_ALLOWED_AE_TITLES "
                "to the AE titles of your PACS and modalities"
            )
        else:
            reason = "its calling AE title is not in MEDASSIST_SCP_ALLOWED_AE_TITLES"
        self._reject(event, CALLING_AE_NOT_RECOGNISED, calling=calling, reason=reason)

    @staticmethod
    def _reject(event: evt.Event, diagnostic: int, *, calling: str, reason: str) -> None:
        remote = event.assoc.requestor
        logger.warning(
            "Refused DICOM association from %r at %s:%s (A-ASSOCIATE-RJ permanent, reason %d): %s.",
            calling,
            remote.address,
            remote.port,
            diagnostic,
            reason,
        )
        event.assoc.acse.send_reject(REJECT_PERMANENT, SERVICE_USER, diagnostic)
        # As pynetdicom does for its own rejections: wait until the A-ASSOCIATE-RJ has gone
        # out before the connection is closed, or the peer sees an abort instead.
        event.assoc.kill()

    def handle_data_received(self, event: evt.Event) -> None:
        """Count each data set as its P-DATA arrives; past the size limit, stop receiving it.

        Runs in the association's network thread for every PDU, before pynetdicom spools
        it. An oversized data set aborts the association (there is no way to answer a C-STORE
        before its data set has arrived) and its partial file is removed at once.
        """
        data: bytes = event.data
        if len(data) < _PDU_HEADER or data[0] != _P_DATA_TF:
            return
        with self._lock:
            state = self._receiving.setdefault(event.assoc, _Receiving())
        if state.aborted:
            return
        limit = max_upload_bytes()
        pos = _PDU_HEADER
        while pos + _PDV_HEADER <= len(data):
            item_length = int.from_bytes(data[pos : pos + 4], "big")
            control = data[pos + 5]
            pos += 4 + item_length
            if control & 0x01:
                continue  # a command fragment
            state.dataset_bytes += item_length - 2
            if state.dataset_bytes > limit:
                self._abort_oversized(event, state, limit)
                return
            if control & 0x02:
                state.dataset_bytes = 0  # the last fragment: the next data set starts afresh

    def _abort_oversized(self, event: evt.Event, state: _Receiving, limit: int) -> None:
        state.aborted = True
        self._count(event.assoc, "refused")
        logger.warning(
            "C-STORE from %s aborted: its data set passed the %s limit "
            "(MEDASSIST_MAX_UPLOAD_BYTES) after %s; it was not received further.",
            _peer(event.assoc),
            megabytes(limit),
            megabytes(state.dataset_bytes),
        )
        # pynetdicom's half-written spool file: removed now (the handle it still writes this
        # PDU to frees the space when it is closed), as nothing else would remove it.
        message = getattr(event.assoc.dimse, "message", None)
        partial = getattr(message, "_data_set_path", None)
        if partial is not None:
            with contextlib.suppress(OSError):
                os.unlink(partial)
        event.assoc.abort()

    def handle_store(self, event: evt.Event) -> int | Dataset:
        """Ingest one received instance; success only once it is committed.

        Runs in the association's own thread, so it has its own database connection: stale or
        broken connections are dropped before and after, never reused for the next instance.
        """
        close_old_connections()
        try:
            # Outside any atomic block, instance_ingest commits before it returns (its own
            # transaction.atomic() is the outermost one), so 0x0000 means "safely stored".
            if connections["default"].in_atomic_block:
                raise RuntimeError("C-STORE handler called inside a transaction")
            # The audit rows of this instance name the sending peer and its AE title.
            with audit_origin(
                remote_addr=event.assoc.requestor.address,
                calling_ae_title=str(event.assoc.requestor.ae_title).strip(),
            ):
                result = instance_ingest(
                    data=_received_file(event), uploaded_by=None, source="c-store"
                )
        except IngestError as exc:
            status = ingest_error_status(exc)
            self._count(event.assoc, "refused")
            logger.warning(
                "C-STORE from %s refused with status 0x%04X: %s",
                _peer(event.assoc),
                status,
                exc,
            )
            return _failure(status, str(exc))
        except Exception:
            # Anything else is our fault (database down, disk full...): the sender gets a
            # failure and can retry; the listener itself keeps running.
            self._count(event.assoc, "failed")
            logger.exception("C-STORE from %s failed with an unexpected error", _peer(event.assoc))
            return _failure(INTERNAL_ERROR, "MedAssist could not store this instance; retry later.")
        finally:
            close_old_connections()
        self._count(event.assoc, "stored" if result.created else "duplicate")
        logger.debug(
            "C-STORE from %s: %s %s",
            _peer(event.assoc),
            "stored" if result.created else "already had",
            result.instance.sop_instance_uid,
        )
        return SUCCESS

    def handle_closed(self, event: evt.Event) -> None:
        """Release/abort: log the association's tally and close its thread's DB connection."""
        with self._lock:
            counts = self._counts.pop(event.assoc, Counter())
        # The receiving state stays until the association is gone (weak keys): PDUs the peer
        # sent before it saw an abort still arrive after EVT_ABORTED, and must be ignored.
        if counts:
            logger.info(
                "DICOM association from %s ended: %d stored, %d already stored, "
                "%d refused, %d failed.",
                _peer(event.assoc),
                counts["stored"],
                counts["duplicate"],
                counts["refused"],
                counts["failed"],
            )
        # Django connections are per thread and this thread is about to end.
        connections.close_all()

    def handlers(self) -> list[tuple[evt.EventType, Any]]:
        return [
            (evt.EVT_REQUESTED, self.handle_requested),
            (evt.EVT_DATA_RECV, self.handle_data_received),
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_RELEASED, self.handle_closed),
            (evt.EVT_ABORTED, self.handle_closed),
        ]


def _received_file(event: evt.Event) -> bytes:
    """The received instance as a Part 10 file, read no further than the file size limit.

    pynetdicom spooled it to a temporary file (which it removes after the handler); without
    spooling (a listener built by hand) it is in memory already.
    """
    try:
        path = event.dataset_path
    except AttributeError:
        return event.encoded_dataset()
    limit = max_upload_bytes()
    with open(path, "rb") as received:
        try:
            return read_bounded(received, limit=limit + _META_ALLOWANCE)
        except IngestError:
            raise IngestError(
                f"This instance is over the {megabytes(limit)} limit; it was not stored.",
                status=413,
                code="too_large",
            ) from None


def scp_build_ae(*, config: ScpConfig) -> AE:
    """An AE that accepts Verification and every Storage SOP Class in decodable syntaxes.

    Received data sets are spooled to temporary files (``STORE_RECV_CHUNKED_DATASET``, a
    setting of the whole pynetdicom process) instead of being held in memory.
    """
    _config.STORE_RECV_CHUNKED_DATASET = True
    ae = AE(ae_title=config.ae_title)
    # The handler of EVT_REQUESTED rejects a wrong called AE title first and logs why; this
    # makes pynetdicom refuse it too should that handler ever not be bound.
    ae.require_called_aet = True
    syntaxes = accepted_transfer_syntaxes()
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, syntaxes)
    ae.add_supported_context(Verification)
    ae.maximum_pdu_size = config.maximum_pdu_size
    ae.maximum_associations = config.maximum_associations
    ae.acse_timeout = config.acse_timeout
    ae.dimse_timeout = config.dimse_timeout
    ae.network_timeout = config.network_timeout
    return ae


class SharedPortServer(ThreadedAssociationServer):
    """An association server whose port several listener processes can share.

    With ``SO_REUSEPORT`` the kernel spreads incoming associations over every process bound
    to the port, so the listener can use more than one core (one Python process, whatever
    its threads, uses one).
    """

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def scp_start(*, config: ScpConfig, shared_port: bool = False) -> ThreadedAssociationServer:
    """Start listening in background threads and return the server (``.shutdown()`` stops it).

    Logs the configuration, and loudly when no sender is allowed in.
    """
    if config.allow_any_calling_ae:
        logger.warning(
            "MEDASSIST_SCP_ALLOW_ANY is on: any DICOM sender that reaches port %d may store "
            "images. Prefer an allow list (MEDASSIST_SCP_ALLOWED_AE_TITLES).",
            config.port,
        )
    elif not config.allowed_calling_ae_titles:
        logger.warning(
            "MEDASSIST_SCP_ALLOWED_AE_TITLES is empty: every DICOM association will be "
            "refused. List the calling AE titles of your PACS and modalities (comma-separated)."
        )
    scp = StorageScp(config=config)
    ae = scp_build_ae(config=config)
    # What ae.start_server(block=False) does, with a server class of our choosing.
    server = ae.make_server(
        (config.bind_address, config.port),
        evt_handlers=scp.handlers(),
        server_class=SharedPortServer if shared_port else ThreadedAssociationServer,
    )
    threading.Thread(target=server.serve_forever, name="DicomAcceptor", daemon=True).start()
    ae._servers.append(server)  # so that ae.shutdown() stops it too
    assert server is not None  # block=False always returns the server
    logger.info(
        "DICOM listener %r on %s:%d; allowed calling AE titles: %s.",
        config.ae_title,
        config.bind_address,
        server.server_address[1],
        "any" if config.allow_any_calling_ae else ", ".join(config.allowed_calling_ae_titles),
    )
    return server
