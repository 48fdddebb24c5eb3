"""DICOMweb endpoints (PS3.18): STOW-RS, QIDO-RS and WADO-RS under /imaging/dicomweb/.

Each view parses the request (media types, parameters), calls the selector or service, and
renders DICOM JSON, multipart/related or an image. See docs/dicomweb.md.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from rest_framework.request import Request

from ..ingest.limits import max_upload_bytes
from ..models import Instance, StoredInstance
from ..selectors import StoredFileError
from . import json as dicom_json
from .auth import DicomWebView
from .base_url import dicomweb_root
from .multipart import (
    MultipartError,
    iter_parts,
    media_type_params,
    multipart_stream,
    new_boundary,
    spool_body,
)
from .pixels import (
    MEDIA_TYPE_ALIASES,
    PIXEL_DATA,
    BulkDataNotFound,
    FrameError,
    bulk_element,
    bulk_value,
    frame_media_type,
    iter_frames,
    parse_bulk_key,
    stored_pixels,
)
from .query import Level, QidoQuery, QueryError, parse_query, unsupported_includes
from .selectors import (
    header_values,
    instance_metadata_dataset,
    instance_render,
    instance_retrieve_bytes,
    instance_search,
    instance_transfer_syntax,
    missing_resource_message,
    modalities_by_study,
    non_image_at,
    retrieve_instances,
    retrieve_objects,
    series_search,
    study_search,
)
from .services import StowOutcome, stow_store

logger = logging.getLogger(__name__)

DICOM_JSON = "application/dicom+json"
# Up to this many bytes a retrieve is read (and checksum-verified) before the response starts,
# so a damaged file answers a clean 500; larger studies stream, and a damaged file then cuts
# the response short (the client sees an incomplete multipart message, never a wrong file).
EAGER_RETRIEVE_BYTES = 32 * 1024 * 1024


# --- Helpers ----------------------------------------------------------------------------


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"detail": message}), status=status, content_type="application/json"
    )


def _warning_header(messages: list[str]) -> str:
    """PS3.18 8.5 Warning header values: ``299 <agent>: "<text>"`` (ASCII, no quotes)."""
    clean = [re.sub(r"[^ -~]|\"", "'", m)[:300] for m in messages]
    return ", ".join(f'299 MedAssist: "{m}"' for m in clean)


def _dicom_json(payload: Any, *, status: int = 200, warnings: list[str] | None = None) -> Any:
    if status == 204:
        response = HttpResponse(status=204)
    else:
        response = HttpResponse(json.dumps(payload), status=status, content_type=DICOM_JSON)
    if warnings:
        response["Warning"] = _warning_header(warnings)
    return response


def _root(request: Request) -> str:
    return dicomweb_root(request)


def _study_url(root: str, study: str) -> str:
    return f"{root}/studies/{study}"


def _series_url(root: str, study: str, series: str) -> str:
    return f"{_study_url(root, study)}/series/{series}"


def _instance_url(root: str, instance: StoredInstance) -> str:
    series = instance.series
    return (
        f"{_series_url(root, series.study.study_instance_uid, series.series_instance_uid)}"
        f"/instances/{instance.sop_instance_uid}"
    )


def _accept_ranges(request: Request) -> list[tuple[str, dict[str, str]]]:
    """The Accept header's media ranges, highest quality first (stable within a quality)."""
    header = request.META.get("HTTP_ACCEPT", "").strip()
    if not header:
        return []
    ranges = []
    # Commas inside quoted parameter values do not separate ranges.
    for item in re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', header):
        media_type, params = media_type_params(item.strip())
        if not media_type:
            continue
        try:
            quality = float(params.pop("q", "1"))
        except ValueError:
            quality = 1.0
        if quality > 0:
            ranges.append((quality, media_type, params))
    ranges.sort(key=lambda r: -r[0])
    return [(m, p) for _, m, p in ranges]


# --- QIDO-RS ----------------------------------------------------------------------------


def _accepts_json(request: Request) -> bool:
    ranges = _accept_ranges(request)
    return not ranges or any(
        m in {DICOM_JSON, "application/json", "application/*", "*/*"} for m, _ in ranges
    )


class _SearchView(DicomWebView):
    level: Level = "study"
    audit_action = "dicomweb.search"

    def get(self, request: Request, **uids: str) -> HttpResponse:
        if not _accepts_json(request):
            return _error(406, "Search results are available as application/dicom+json only.")
        try:
            query = parse_query(dict(request.GET.lists()), level=self.level)
        except QueryError as exc:
            return _error(400, str(exc))
        rows = list(self.search(query, **uids)[query.offset : query.offset + query.limit + 1])
        more = len(rows) > query.limit
        payload = self.render_rows(rows[: query.limit], root=_root(request))
        warnings = list(query.warnings)
        missing = unsupported_includes(query, available=self.available)
        if missing:
            warnings.append("not available here, so not returned: " + ", ".join(missing))
        if more:
            warnings.append(
                "There are additional results that can be requested "
                f"(offset={query.offset + query.limit})"
            )
        return _dicom_json(payload, status=200 if payload else 204, warnings=warnings)

    available: set[str] = set()

    def search(self, query: QidoQuery, **uids: str) -> Any:
        raise NotImplementedError

    def render_rows(self, rows: list[Any], *, root: str) -> list[dict]:
        raise NotImplementedError


class StudySearchMixin:
    level: Level = "study"
    available = dicom_json.STUDY_TAGS

    def search(self, query: QidoQuery, **uids: str) -> Any:
        return study_search(query=query)

    def render_rows(self, rows: list[Any], *, root: str) -> list[dict]:
        modalities = modalities_by_study(study_ids=[s.pk for s in rows])
        headers = header_values(files=[s.header_file for s in rows])
        return [
            dicom_json.study_json(
                s,
                modalities=modalities.get(s.pk, []),
                url=_study_url(root, s.study_instance_uid),
                header=headers.get(s.header_file),
            )
            for s in rows
        ]


class SeriesSearchView(_SearchView):
    level = "series"
    available = dicom_json.STUDY_TAGS | dicom_json.SERIES_TAGS

    def search(self, query: QidoQuery, **uids: str) -> Any:
        return series_search(query=query, study_uid=uids.get("study"))

    def render_rows(self, rows: list[Any], *, root: str) -> list[dict]:
        headers = header_values(files=[s.header_file for s in rows])
        return [
            dicom_json.series_json(
                s,
                url=_series_url(root, s.study.study_instance_uid, s.series_instance_uid),
                header=headers.get(s.header_file),
            )
            for s in rows
        ]


class InstanceSearchView(_SearchView):
    level = "instance"
    available = dicom_json.STUDY_TAGS | dicom_json.SERIES_TAGS | dicom_json.INSTANCE_TAGS

    def search(self, query: QidoQuery, **uids: str) -> Any:
        return instance_search(
            query=query, study_uid=uids.get("study"), series_uid=uids.get("series")
        )

    def render_rows(self, rows: list[Any], *, root: str) -> list[dict]:
        files = {i.pk: f"{i.storage_key}|{i.sha256}" for i in rows}
        headers = header_values(files=list(files.values()))
        return [
            dicom_json.instance_json(i, url=_instance_url(root, i), header=headers.get(files[i.pk]))
            for i in rows
        ]


# --- STOW-RS ----------------------------------------------------------------------------


def _stow_boundary(request: Request) -> str | HttpResponse:
    """The multipart boundary of a STOW-RS request, or the 415/400 response refusing it."""
    expected = 'multipart/related; type="application/dicom"; boundary=...'
    media_type, params = media_type_params(request.META.get("CONTENT_TYPE", ""))
    if media_type != "multipart/related":
        return _error(
            415,
            f"STOW-RS takes Content-Type {expected}, not {media_type or 'none'}.",
        )
    part_type = params.get("type", "application/dicom").strip().lower()
    if part_type != "application/dicom":
        return _error(
            415,
            f"This server stores application/dicom parts only, not {part_type} "
            f"(send Content-Type {expected}).",
        )
    boundary = params.get("boundary", "").strip()
    if not boundary:
        return _error(400, f"The Content-Type header names no boundary; send {expected}.")
    return boundary


def _sop_item(outcome: StowOutcome, root: str) -> dict[str, dict]:
    elements = [
        dicom_json.element("ReferencedSOPClassUID", outcome.sop_class_uid),
        dicom_json.element("ReferencedSOPInstanceUID", outcome.sop_instance_uid),
    ]
    if outcome.instance is not None:
        elements.append(dicom_json.element("RetrieveURL", _instance_url(root, outcome.instance)))
        if outcome.duplicate:
            # Stored already: the same private attribute says so in words. PS3.18 has no
            # Warning Reason for it (B000/B006/B007 say the data set was changed, which it
            # was not), so none is claimed; the Warning header carries it too.
            elements.append(("00090010", {"vr": "LO", "Value": ["MEDASSIST"]}))
            elements.append(("00091001", {"vr": "LT", "Value": [outcome.message]}))
    else:
        elements.append(dicom_json.element("FailureReason", outcome.failure_reason))
        # The reason in words, for the person reading the response: a private attribute,
        # which DICOM clients that do not know it simply ignore.
        elements.append(("00090010", {"vr": "LO", "Value": ["MEDASSIST"]}))
        elements.append(("00091001", {"vr": "LT", "Value": [outcome.message]}))
    return dicom_json.dataset(*elements)


def _stow(request: Request, study: str | None) -> HttpResponse:
    boundary = _stow_boundary(request)
    if isinstance(boundary, HttpResponse):
        return boundary
    limit = settings.MEDASSIST_MAX_STOW_BYTES
    try:
        # DRF documents ``_request`` as the way to the underlying HttpRequest; its own
        # ``stream`` would not see a chunked body.
        spool = spool_body(request._request, limit=limit)
    except MultipartError as exc:
        return _error(exc.status, str(exc))
    with spool:
        try:
            outcomes = stow_store(
                parts=iter_parts(spool, boundary=boundary, max_part_bytes=max_upload_bytes()),
                uploaded_by=request.user,
                study_uid=study,
            )
        except MultipartError as exc:
            return _error(exc.status, str(exc))

    root = _root(request)
    stored = [o for o in outcomes if o.instance is not None]
    failed = [o for o in outcomes if o.instance is None]
    studies = {o.instance.series.study.study_instance_uid for o in stored if o.instance}
    if study is not None:
        studies = {study}
    payload = dicom_json.dataset(
        dicom_json.element(
            "RetrieveURL", _study_url(root, next(iter(studies))) if len(studies) == 1 else None
        ),
        dicom_json.element("ReferencedSOPSequence", [_sop_item(o, root) for o in stored]),
        dicom_json.element("FailedSOPSequence", [_sop_item(o, root) for o in failed]),
    )
    status = 200 if not failed else 202 if stored else 409
    duplicates = [o for o in stored if o.duplicate]
    warnings = [
        f"{o.sop_instance_uid or 'an unreadable part'}: {o.message}"
        for o in [*failed, *duplicates][:20]
    ]
    return _dicom_json(payload, status=status, warnings=warnings)


# --- WADO-RS ----------------------------------------------------------------------------


class NotAcceptable(Exception):
    pass


def _wanted_transfer_syntaxes(request: Request) -> set[str] | None:
    """Transfer syntaxes the client accepts; None means any (``transfer-syntax=*``).

    Without a transfer-syntax parameter PS3.18 (8.7.3.5.2) defaults application/dicom to
    Explicit VR Little Endian. Raises NotAcceptable when no media range allows DICOM.
    """
    ranges = _accept_ranges(request)
    if not ranges:
        return {ExplicitVRLittleEndian}
    wanted: set[str] = set()
    for media_type, params in ranges:
        if media_type == "multipart/related":
            if params.get("type", "application/dicom").lower() not in {
                "application/dicom",
                "application/*",
                "*/*",
            }:
                continue
        elif media_type not in {"*/*", "multipart/*", "application/dicom"}:
            continue
        wanted.add(params.get("transfer-syntax", "").strip() or ExplicitVRLittleEndian)
    if not wanted:
        raise NotAcceptable(
            'Instances are sent as multipart/related; type="application/dicom" only.'
        )
    return None if "*" in wanted else wanted


def _targets(
    instances: list[StoredInstance], wanted: set[str] | None
) -> list[tuple[str, str | None]]:
    """For each instance (its stored transfer syntax, the one to transcode to or None)."""
    out: list[tuple[str, str | None]] = []
    for instance in instances:
        stored = instance_transfer_syntax(instance=instance)
        if wanted is None or stored in wanted:
            out.append((stored, None))
        elif ExplicitVRLittleEndian in wanted:
            out.append((ExplicitVRLittleEndian, ExplicitVRLittleEndian))
        else:
            raise NotAcceptable(
                f"Instance {instance.sop_instance_uid} is stored as {stored} and can be sent "
                f"as that or as Explicit VR Little Endian ({ExplicitVRLittleEndian}) only; "
                "ask with transfer-syntax=* to take each instance as stored."
            )
    return out


class _RetrieveView(DicomWebView):
    # Recorded once per study and session by the access audit (medassist/access.py).
    audit_action = ""

    def get(self, request: Request, **uids: str) -> HttpResponse | StreamingHttpResponse:
        try:
            wanted = _wanted_transfer_syntaxes(request)
        except NotAcceptable as exc:
            return _error(406, str(exc))
        instances = retrieve_objects(**self.path_uids(uids))
        if not instances:
            return _error(404, missing_resource_message(**self.path_uids(uids)))
        try:
            targets = _targets(instances, wanted)
        except NotAcceptable as exc:
            return _error(406, str(exc))
        except FileNotFoundError:
            logger.error("A stored DICOM file under %s is missing", request.path)
            return _error(500, "A stored file of this resource is missing; tell the IT admin.")
        boundary = new_boundary()
        content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
        pairs = list(zip(instances, targets, strict=True))
        if sum(i.size_bytes for i in instances) <= EAGER_RETRIEVE_BYTES:
            try:
                parts = [self._part(i, t) for i, t in pairs]
            except StoredFileError as exc:
                logger.error("DICOMweb retrieve refused a damaged file: %s", exc)
                return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
            body = b"".join(multipart_stream(parts, boundary=boundary))
            return HttpResponse(body, content_type=content_type)
        return StreamingHttpResponse(
            multipart_stream(self._stream(pairs), boundary=boundary), content_type=content_type
        )

    def path_uids(self, uids: dict[str, str]) -> dict[str, str]:
        return {
            "study_uid": uids["study"],
            **({"series_uid": uids["series"]} if "series" in uids else {}),
            **({"sop_uid": uids["instance"]} if "instance" in uids else {}),
        }

    @staticmethod
    def _part(instance: StoredInstance, target: tuple[str, str | None]) -> tuple[str, bytes]:
        syntax, transcode_to = target
        data = instance_retrieve_bytes(instance=instance, transfer_syntax=transcode_to)
        return f"application/dicom; transfer-syntax={syntax}", data

    def _stream(
        self, pairs: list[tuple[StoredInstance, tuple[str, str | None]]]
    ) -> Iterator[tuple[str, bytes]]:
        for instance, target in pairs:
            try:
                yield self._part(instance, target)
            except StoredFileError:
                # The status line is already sent: cut the response short (no closing
                # boundary), so the client fails loudly instead of taking a wrong file.
                logger.exception("DICOMweb retrieve stopped at a damaged file")
                raise


def _pixel_data_vr(ds: Any) -> str:
    """The VR Pixel Data has in a data set read without it: OB when encapsulated or 8-bit."""
    syntax = UID(ds.file_meta.TransferSyntaxUID)
    if syntax.is_encapsulated or int(ds.get("BitsAllocated", 8)) <= 8:
        return "OB"
    return "OW"


def _instance_metadata(instance: StoredInstance, root: str) -> dict[str, Any]:
    """One instance's DICOM JSON metadata; its bulk data (Pixel Data of an image, binary
    values over 1 KiB) by BulkDataURI, retrievable from the bulkdata resource."""
    ds = instance_metadata_dataset(instance=instance)
    url = _instance_url(root, instance)
    return dicom_json.metadata_json(
        ds,
        bulk_data_uri=lambda key: f"{url}/bulkdata/{key}",
        pixel_data_vr=_pixel_data_vr(ds) if isinstance(instance, Instance) else None,
    )


class _MetadataView(_RetrieveView):
    def get(self, request: Request, **uids: str) -> HttpResponse:  # type: ignore[override]
        instances = retrieve_objects(**self.path_uids(uids))
        if not instances:
            return _error(404, missing_resource_message(**self.path_uids(uids)))
        root = _root(request)
        try:
            payload = [_instance_metadata(i, root) for i in instances]
        except StoredFileError as exc:
            logger.error("DICOMweb metadata refused a damaged file: %s", exc)
            return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
        return _dicom_json(payload)


RENDERED_TYPES = ("image/png", "image/jpeg")


def _rendered_type(request: Request, *, multipart_allowed: bool = False) -> tuple[str, bool] | None:
    """The rendered media type the Accept header asks for first, and whether it asked for a
    multipart/related message of them (only where ``multipart_allowed``)."""
    for media_type, params in _accept_ranges(request) or [("image/png", {})]:
        multipart = False
        if media_type == "multipart/related" and multipart_allowed:
            media_type, multipart = params.get("type", "image/png").strip().lower(), True
        if media_type in RENDERED_TYPES:
            return media_type, multipart
        if media_type in {"image/*", "*/*"}:
            return "image/png", multipart
    return None


def _render_params(request: Request) -> tuple[tuple[float, float] | None, int]:
    """``window`` and ``quality``; raises ValueError with the reason."""
    window = _window(request.GET.get("window", ""))
    try:
        quality = int(request.GET.get("quality", "90"))
    except ValueError:
        quality = 0
    if not 1 <= quality <= 100:
        raise ValueError("quality must be a whole number from 1 to 100.")
    return window, quality


def _window(value: str) -> tuple[float, float] | None:
    """PS3.18 8.3.5.1.4 ``window=center,width,function``; LINEAR is the one supported."""
    if not value:
        return None
    items = [v.strip() for v in value.split(",")]
    if len(items) == 2:
        items.append("linear")
    if len(items) != 3:
        raise ValueError("window must be center,width,function, e.g. window=40,400,linear.")
    if items[2].lower() != "linear":
        raise ValueError(f"Only the linear window function is supported, not {items[2]!r}.")
    try:
        return float(items[0]), float(items[1])
    except ValueError:
        raise ValueError(f"window center and width must be numbers, not {value!r}.") from None


class _RenderedView(DicomWebView):
    audit_action = ""

    def get(self, request: Request, **uids: str) -> HttpResponse:
        wanted = _rendered_type(request)
        if wanted is None:
            return _error(406, "Rendered images are available as image/png or image/jpeg.")
        media_type = wanted[0]
        frames = uids.get("frames", "1")
        if not frames.isdigit() or int(frames) < 1:
            return _error(
                400, f"Ask for one frame at a time by its number (1 is the first), not {frames!r}."
            )
        frame = int(frames)
        try:
            window, quality = _render_params(request)
        except ValueError as exc:
            return _error(400, str(exc))
        path = {"study_uid": uids["study"], "series_uid": uids["series"]}
        instance = retrieve_instances(**path, sop_uid=uids["instance"]).first()
        if instance is None:
            other = non_image_at(**path, sop_uid=uids["instance"])
            if other is not None:
                return _error(
                    406,
                    f"This instance is a {other.sop_class_name} object, not an image: it has "
                    "no rendered image. Retrieve it (application/dicom) or its metadata.",
                )
            return _error(404, missing_resource_message(**path, sop_uid=uids["instance"]))
        if frame > instance.frames:
            return _error(
                400, f"This instance has {instance.frames} frame(s); frame {frame} does not exist."
            )
        try:
            image = instance_render(
                instance=instance,
                frame=frame - 1,
                window=window,
                media_type=media_type,
                quality=quality,
            )
        except StoredFileError as exc:
            logger.error("DICOMweb rendering refused a damaged file: %s", exc)
            return _error(500, f"{exc} Tell the IT administrator.")
        except (ValueError, IndexError) as exc:
            return _error(400, f"This frame cannot be rendered as asked: {exc}")
        response = HttpResponse(image, content_type=media_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response


# Up to this many images a rendered study or series is rendered before the response starts
# (a damaged file then answers 500); more are rendered as the response streams.
EAGER_RENDERED_IMAGES = 50


class _CollectionRenderedView(DicomWebView):
    """A rendered study or series (PS3.18 10.4.1.1.3): each image instance rendered (its
    first frame, as the rendered instance), in series and instance order, as a
    multipart/related message; a series or study of one image may come as that image alone
    when a single image type is asked for."""

    audit_action = ""

    def get(self, request: Request, **uids: str) -> HttpResponse | StreamingHttpResponse:
        wanted = _rendered_type(request, multipart_allowed=True)
        if wanted is None:
            return _error(
                406,
                'Rendered images are available as multipart/related; type="image/png" (or '
                '"image/jpeg").',
            )
        media_type, multipart = wanted
        try:
            window, quality = _render_params(request)
        except ValueError as exc:
            return _error(400, str(exc))
        path = {"study_uid": uids["study"], "series_uid": uids.get("series")}
        images = list(retrieve_instances(**path))
        if not images:
            if retrieve_objects(**path):
                return _error(
                    406,
                    "This holds no images, only other objects (reports, documents...): "
                    "nothing to render. Retrieve them (application/dicom) or their metadata.",
                )
            return _error(404, missing_resource_message(**path))

        def render(instance: Instance) -> bytes:
            return instance_render(
                instance=instance, frame=0, window=window, media_type=media_type, quality=quality
            )

        if len(images) == 1 and not multipart:
            try:
                image = render(images[0])
            except StoredFileError as exc:
                logger.error("DICOMweb rendering refused a damaged file: %s", exc)
                return _error(500, f"{exc} Tell the IT administrator.")
            response = HttpResponse(image, content_type=media_type)
            response["Cache-Control"] = "private, max-age=3600"
            return response
        boundary = new_boundary()
        content_type = f'multipart/related; type="{media_type}"; boundary={boundary}'
        if len(images) <= EAGER_RENDERED_IMAGES:
            try:
                parts = [(media_type, render(i)) for i in images]
            except StoredFileError as exc:
                logger.error("DICOMweb rendering refused a damaged file: %s", exc)
                return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
            body = b"".join(multipart_stream(parts, boundary=boundary))
            response = HttpResponse(body, content_type=content_type)
        else:
            stream = ((media_type, render(i)) for i in images)
            response = StreamingHttpResponse(
                multipart_stream(stream, boundary=boundary), content_type=content_type
            )
        response["Cache-Control"] = "private, max-age=3600"
        return response


# --- Frames and bulk data ---------------------------------------------------------------

OCTET = "application/octet-stream"
# The most frame numbers one request may list (a frame may be listed more than once).
MAX_FRAME_LIST = 10_000


@dataclass(frozen=True)
class _PixelRepresentation:
    """How frames are sent: multipart or one body, the media type of each frame, whether
    as stored (the compressed bitstream) or uncompressed, and the transfer syntax named."""

    multipart: bool
    media_type: str
    as_stored: bool
    transfer_syntax: str

    @property
    def part_type(self) -> str:
        return f"{self.media_type}; transfer-syntax={self.transfer_syntax}"


_UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


def _part_representation(part: str, syntax: str, stored: UID) -> tuple[str, bool, str] | None:
    """(media type, as stored, transfer syntax) for frames asked as ``part`` with the
    ``transfer-syntax`` parameter ``syntax`` (empty when absent); None when not possible."""
    compressed = stored.is_encapsulated
    natural = frame_media_type(stored)
    if part == OCTET:
        if syntax in ("", *_UNCOMPRESSED):
            return OCTET, False, syntax or ExplicitVRLittleEndian
        if syntax in ("*", stored):
            return (OCTET, True, stored) if compressed else (OCTET, False, ExplicitVRLittleEndian)
        return None
    if part in ("*/*", "image/*"):
        if syntax in ("", "*", stored) and compressed:
            return natural or OCTET, True, stored
        if part == "*/*" and (syntax in ("", "*", *_UNCOMPRESSED) or syntax == stored):
            return OCTET, False, syntax if syntax in _UNCOMPRESSED else ExplicitVRLittleEndian
        return None
    if compressed and natural == part and syntax in ("", "*", stored):
        return natural, True, stored
    return None


def _pixel_representation(
    request: Request, stored: UID, *, single_part_allowed: bool
) -> _PixelRepresentation:
    """The first representation the Accept header allows, in its order of preference.

    Without an Accept header (or with ``*/*``) frames are uncompressed, in a multipart/related
    message of application/octet-stream parts (PS3.18 8.7.3.5.2). Raises NotAcceptable.
    """
    ranges = _accept_ranges(request) or [("multipart/related", {"type": OCTET})]
    for media_type, params in ranges:
        if media_type in ("*/*", "multipart/*"):
            return _PixelRepresentation(True, OCTET, False, ExplicitVRLittleEndian)
        if media_type == "multipart/related":
            part, multipart = params.get("type", OCTET).strip().lower(), True
        elif single_part_allowed:
            part, multipart = media_type, False
        else:
            continue
        found = _part_representation(
            MEDIA_TYPE_ALIASES.get(part, part), params.get("transfer-syntax", "").strip(), stored
        )
        if found is not None:
            return _PixelRepresentation(multipart, *found)
    ways = 'multipart/related; type="application/octet-stream" (uncompressed)'
    if stored.is_encapsulated:
        natural = frame_media_type(stored)
        ways += (
            f", or as stored with transfer-syntax=* or transfer-syntax={stored} "
            f"(type application/octet-stream{' or ' + natural if natural else ''})"
        )
    raise NotAcceptable(
        f"The pixel data of this instance is stored as {stored.name} ({stored}); it is "
        f"available as {ways}. A single-part answer is given for one frame only."
    )


def _frame_numbers(frames: str) -> list[int]:
    """``1`` or ``1,3,5`` (1-based); raises ValueError with the reason."""
    items = [f.strip() for f in frames.split(",")]
    if not items or not all(f.isdigit() and int(f) >= 1 for f in items):
        raise ValueError(
            "Frames are named by number, 1 for the first, one or a comma-separated list "
            f"(frames/1 or frames/1,2,3), not {frames!r}."
        )
    if len(items) > MAX_FRAME_LIST:
        raise ValueError(f"Ask for at most {MAX_FRAME_LIST} frames at once.")
    return [int(f) for f in items]


def _pixel_response(
    rep: _PixelRepresentation,
    bodies: Iterator[bytes],
    *,
    eager: bool,
) -> HttpResponse | StreamingHttpResponse:
    """The frames (or bulk data) ``bodies`` as ``rep`` says: one body, or multipart."""
    if not rep.multipart:
        response = HttpResponse(next(bodies), content_type=rep.part_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response
    boundary = new_boundary()
    content_type = f'multipart/related; type="{rep.media_type}"; boundary={boundary}'
    parts = ((rep.part_type, body) for body in bodies)
    if eager:
        response: HttpResponse | StreamingHttpResponse = HttpResponse(
            b"".join(multipart_stream(list(parts), boundary=boundary)),
            content_type=content_type,
        )
    else:
        response = StreamingHttpResponse(
            multipart_stream(parts, boundary=boundary), content_type=content_type
        )
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _frame_error(exc: FrameError, rep: _PixelRepresentation) -> HttpResponse:
    if rep.as_stored:
        logger.error("A stored frame could not be cut out: %s", exc)
        return _error(500, f"The stored pixel data cannot be read: {exc}")
    return _error(
        406,
        f"This frame cannot be sent uncompressed: {exc}. Ask for it as stored "
        '(Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*).',
    )


def _image_or_refusal(uids: dict[str, str]) -> Instance | HttpResponse:
    path = {"study_uid": uids["study"], "series_uid": uids["series"]}
    image = retrieve_instances(**path, sop_uid=uids["instance"]).first()
    if image is not None:
        return image
    other = non_image_at(**path, sop_uid=uids["instance"])
    if other is not None:
        return _error(
            404,
            f"This instance is a {other.sop_class_name} object, not an image: it has no "
            "frames. Retrieve it (application/dicom) or its metadata.",
        )
    return _error(404, missing_resource_message(**path, sop_uid=uids["instance"]))


class _FramesView(DicomWebView):
    """WADO-RS frames: ``frames/1`` or ``frames/1,3,5`` (PS3.18 10.4.1.1.4)."""

    audit_action = ""

    def get(self, request: Request, **uids: str) -> HttpResponse | StreamingHttpResponse:
        try:
            numbers = _frame_numbers(uids["frames"])
        except ValueError as exc:
            return _error(400, str(exc))
        image = _image_or_refusal(uids)
        if isinstance(image, HttpResponse):
            return image
        beyond = sorted({n for n in numbers if n > image.frames})
        if beyond:
            return _error(
                404,
                f"This instance has {image.frames} frame(s), numbered from 1; frame "
                f"{', '.join(map(str, beyond[:10]))} does not exist.",
            )
        try:
            stored = UID(instance_transfer_syntax(instance=image))
            rep = _pixel_representation(request, stored, single_part_allowed=len(numbers) == 1)
        except NotAcceptable as exc:
            return _error(406, str(exc))
        except FileNotFoundError:
            return _error(500, "The stored file of this instance is missing; tell the IT admin.")
        try:
            pixels = stored_pixels(instance=image)
        except StoredFileError as exc:
            logger.error("DICOMweb frames refused a damaged file: %s", exc)
            return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
        eager = image.size_bytes <= EAGER_RETRIEVE_BYTES or not rep.multipart
        bodies = iter_frames(pixels, numbers, as_stored=rep.as_stored)
        if eager:
            try:
                bodies = iter(list(bodies))
            except FrameError as exc:
                return _frame_error(exc, rep)
        return _pixel_response(rep, bodies, eager=eager)


def _bulk_representation(request: Request) -> bool:
    """Whether bulk data (other than Pixel Data) goes as multipart/related: the default, and
    whenever asked; a single application/octet-stream body when that (or ``*/*``) is asked
    first. Raises NotAcceptable."""
    ranges = _accept_ranges(request)
    if not ranges:
        return True
    for media_type, params in ranges:
        if media_type == "multipart/related" and params.get("type", OCTET).lower() in {
            OCTET,
            "application/*",
            "*/*",
        }:
            return True
        if media_type in {OCTET, "application/*", "*/*"}:
            return False
    raise NotAcceptable(
        'Bulk data is available as multipart/related; type="application/octet-stream" or '
        "as application/octet-stream."
    )


class _BulkDataView(DicomWebView):
    """WADO-RS bulk data: the BulkDataURIs of the metadata (PS3.18 10.4.1.1.5)."""

    audit_action = ""

    def get(self, request: Request, **uids: str) -> HttpResponse | StreamingHttpResponse:
        path = {
            "study_uid": uids["study"],
            "series_uid": uids["series"],
            "sop_uid": uids["instance"],
        }
        try:
            key = parse_bulk_key(uids["key"])
        except BulkDataNotFound as exc:
            return _error(404, f"No such bulk data: {exc}.")
        found = retrieve_objects(**path)
        if not found:
            return _error(404, missing_resource_message(**path))
        instance = found[0]
        if key == [PIXEL_DATA] and isinstance(instance, Instance):
            return self._pixel_data(request, instance)
        try:
            multipart = _bulk_representation(request)
            pixels = stored_pixels(instance=instance)
            value = bulk_value(pixels.ds, bulk_element(pixels.ds, key))
        except NotAcceptable as exc:
            return _error(406, str(exc))
        except BulkDataNotFound as exc:
            return _error(404, f"No such bulk data: {exc}.")
        except StoredFileError as exc:
            logger.error("DICOMweb bulk data refused a damaged file: %s", exc)
            return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
        if not multipart:
            response = HttpResponse(value, content_type=OCTET)
        else:
            boundary = new_boundary()
            response = HttpResponse(
                b"".join(multipart_stream([(OCTET, value)], boundary=boundary)),
                content_type=f'multipart/related; type="{OCTET}"; boundary={boundary}',
            )
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def _pixel_data(
        self, request: Request, image: Instance
    ) -> HttpResponse | StreamingHttpResponse:
        """Pixel Data: uncompressed, all frames in one body or part (the value a native
        Pixel Data element holds); or as stored, one part per compressed frame."""
        try:
            stored = UID(instance_transfer_syntax(instance=image))
            if _accept_ranges(request) and not _bulk_representation(request):
                rep = _PixelRepresentation(False, OCTET, False, ExplicitVRLittleEndian)
            else:
                rep = _pixel_representation(request, stored, single_part_allowed=False)
            pixels = stored_pixels(instance=image)
        except NotAcceptable as exc:
            return _error(406, str(exc))
        except StoredFileError as exc:
            logger.error("DICOMweb bulk data refused a damaged file: %s", exc)
            return _error(500, f"{exc} Tell the IT administrator; nothing was sent.")
        try:
            if rep.as_stored:
                bodies = iter(
                    list(iter_frames(pixels, list(range(1, pixels.frames + 1)), as_stored=True))
                )
            else:
                bodies = iter([pixels.pixel_data_uncompressed()])
        except FrameError as exc:
            return _frame_error(exc, rep)
        return _pixel_response(rep, bodies, eager=True)


# --- The resources ----------------------------------------------------------------------


class StudiesView(StudySearchMixin, _SearchView):
    """GET: search for studies (QIDO-RS). POST: store instances (STOW-RS)."""

    def post(self, request: Request) -> HttpResponse:
        return _stow(request, None)


class StudyView(_RetrieveView):
    """GET: retrieve a study (WADO-RS). POST: store instances of this study (STOW-RS)."""

    def post(self, request: Request, study: str) -> HttpResponse:
        return _stow(request, study)


class SeriesView(_RetrieveView):
    pass


class InstanceView(_RetrieveView):
    pass


class MetadataView(_MetadataView):
    pass


class RenderedView(_RenderedView):
    pass


class CollectionRenderedView(_CollectionRenderedView):
    pass


class FramesView(_FramesView):
    pass


class BulkDataView(_BulkDataView):
    pass
