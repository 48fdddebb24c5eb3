"""Reading an untrusted DICOM Part 10 file: every check that refuses it before it is stored.

Nothing is decoded before it is known to be bounded: the 'DICM' marker, the file meta, a
bounded inflate for Deflated files, the header without pixel data, the UIDs and the pixel
count come first (:func:`parse_header`); only then is every frame decoded once
(:func:`parse_pixels`). Every refusal is an :class:`~imaging.ingest.errors.IngestError`.

A file without pixel data is a *non-image object* (a structured report, an RT structure set
or plan, a waveform, an encapsulated PDF, a presentation state...) when its SOP class is not
an image class: it is read and checked the same way, and stored with its study, but it has
no frames to decode (:attr:`Header.has_pixel_data` is False).
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO, Any, Protocol

import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.encaps import generate_frames
from pydicom.filereader import _read_file_meta_info, read_dataset, read_partial, read_preamble
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.tag import BaseTag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    MediaStorageDirectoryStorage,
    UID_dictionary,
)

from .errors import IngestError
from .limits import INFLATE_CHUNK, max_inflated_bytes, max_pixels, megabytes

PREAMBLE_LENGTH = 128
# A (0002,eeee) element header plus the 'DICM' marker: nothing shorter can be Part 10.
_MIN_PART10_BYTES = PREAMBLE_LENGTH + 4 + 8
_UNDEFINED_LENGTH = 0xFFFFFFFF
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Characters PostgreSQL text cannot hold (NUL) or that only confuse a reader (controls).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Values longer than this are not read while a file is checked: bulk data (a PDF, a waveform,
# padding) that nothing needs before storing. Pixel data is read when its frames are decoded;
# sequences are read to be checked.
DEFER_BYTES = 1 << 20
# Pixel Data, Float Pixel Data, Double Float Pixel Data: where an image's frames are.
_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})

# SOP classes whose objects are images: one of these without pixel data is a damaged image
# (most often a file cut off just before its pixels), never a non-image object to keep.
IMAGE_SOP_CLASSES: frozenset[str] = frozenset(
    uid
    for uid, (name, kind, *_rest) in UID_dictionary.items()
    if kind == "SOP Class" and "Image Storage" in name
) | frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.66.4",  # Segmentation Storage
        "1.2.840.10008.5.1.4.1.1.66.7",  # Label Map Segmentation Storage
        "1.2.840.10008.5.1.4.1.1.30",  # Parametric Map Storage
    }
)

# What an executable header looks like at the start of the preamble (PS3.10 7.5 lets it hold
# anything, which is how a DICOM file can also be a runnable program: CVE-2019-11687).
_EXECUTABLE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows PE"),
    (b"\x7fELF", "ELF"),
    (b"\xfe\xed\xfa\xce", "Mach-O"),
    (b"\xfe\xed\xfa\xcf", "Mach-O"),
    (b"\xce\xfa\xed\xfe", "Mach-O"),
    (b"\xcf\xfa\xed\xfe", "Mach-O"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal"),
)


def executable_kind(preamble: bytes) -> str:
    """The executable format a preamble starts with ("Windows PE", "ELF", ...), or ""."""
    for magic, kind in _EXECUTABLE_MAGIC:
        if preamble.startswith(magic):
            return kind
    return ""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def refuse_declared_size(declared: Any, *, limit: int, slack: int = 0) -> None:
    """Refuse, before reading it, an input whose declared size (a Content-Length, an
    upload's size; None or unparsable counts as undeclared) is over ``limit`` bytes, plus
    ``slack`` for what wraps the file (multipart framing), which the message leaves out.

    Raises:
        IngestError: ``too_large`` (413).
    """
    try:
        size = int(declared)
    except (TypeError, ValueError):
        return
    if size > limit + slack:
        raise IngestError(
            f"This file is {size / 1e6:.1f} MB; the limit is {megabytes(limit)}.",
            status=413,
            code="too_large",
        )


def read_bounded(stream: Readable, *, limit: int) -> bytes:
    """Read a whole input of at most ``limit`` bytes; never hold more than one chunk past it.

    Raises:
        IngestError: ``too_large`` (413) as soon as the input passes ``limit``.
    """
    chunks: list[bytes] = []
    got = 0
    while True:
        chunk = stream.read(min(INFLATE_CHUNK, limit + 1 - got))
        if not chunk:
            return b"".join(chunks)
        got += len(chunk)
        if got > limit:
            raise IngestError(
                f"This file is over the {megabytes(limit)} limit; it was refused unread.",
                status=413,
                code="too_large",
            )
        chunks.append(chunk)


def _syntax_name(uid: str) -> str:
    name = UID(uid).name
    return f"{name} ({uid})" if name and name != uid else uid


def _read_meta(data: bytes) -> tuple[pydicom.Dataset, int]:
    """Return the File Meta group and the offset where the dataset starts."""
    fp = io.BytesIO(data)
    try:
        read_preamble(fp, False)
        meta = _read_file_meta_info(fp)
        # Converting every element now surfaces a bogus VR or length as a refusal here.
        for elem in meta:
            _ = elem.value
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file's header (file meta information) could not be read: {exc}",
            code="not_dicom",
        ) from exc
    return meta, fp.tell()


def read_file_meta(data: bytes) -> pydicom.Dataset:
    """The File Meta group of a Part 10 file, read alone (raises IngestError ``not_dicom``)."""
    return _read_meta(data)[0]


def _check_inflated_size(
    data: bytes, offset: int, *, sink: IO[bytes] | None = None, digest: bool = True
) -> tuple[int, str]:
    """Inflate a Deflated dataset in bounded chunks; refuse it as soon as it passes the limit.

    Nothing bigger than one chunk over the limit is ever held, so a deflate bomb (kilobytes
    that inflate to gigabytes) costs at most the limit in time and one chunk of memory; the
    inflated chunks go to ``sink`` (a temporary file) when given. Returns the size and the
    SHA-256 of the inflated dataset (two deflaters write the same dataset differently), or ""
    without ``digest``.
    """
    limit = max_inflated_bytes()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = memoryview(data)[offset:]
    total = 0
    hasher = hashlib.sha256() if digest else None
    try:
        while True:
            out = inflater.decompress(pending, INFLATE_CHUNK)
            if hasher is not None:
                hasher.update(out)
            total += len(out)
            if sink is not None and total <= limit:
                sink.write(out)
            if total > limit:
                raise IngestError(
                    "This Deflated DICOM file inflates to more than "
                    f"{megabytes(limit)} (the limit); it was refused unread, as a possible "
                    "decompression bomb.",
                    status=413,
                    code="bomb",
                )
            pending = memoryview(inflater.unconsumed_tail)
            if inflater.eof or (not out and not pending):
                break
        if not inflater.eof:
            # The deflate stream stops without its final block: pydicom (and every reader
            # after it) would fail on it, so it is not stored.
            raise zlib.error("the deflate stream ends before its final block")
    except zlib.error as exc:
        raise IngestError(
            f"This Deflated DICOM file could not be inflated (it may be truncated): {exc}",
            code="truncated",
        ) from exc
    return total, hasher.hexdigest() if hasher is not None else ""


def _check_complete(ds: pydicom.Dataset, stream_length: int, *, nested: bool = True) -> None:
    """Refuse a dataset whose elements claim more bytes than the file holds.

    pydicom reads a short final value without complaint, so a cut-off file would otherwise
    look complete up to the cut. With ``nested``, the items of every sequence are checked the
    same way against their sequence's bytes (where a report's text lives), which converts
    the sequences; a bogus value found there is refused as ``corrupt``.
    """
    # Dataset.elements() would convert each value (and raise on a bogus VR) before we look;
    # the raw elements keep where their value starts in the stream.
    for elem in list(ds._dict.values()):
        if not isinstance(elem, RawDataElement) or elem.length == _UNDEFINED_LENGTH:
            continue
        if elem.value_tell + elem.length > stream_length:
            raise IngestError(
                f"This DICOM file is truncated: element {elem.tag} needs {elem.length} bytes "
                f"but the file ends {stream_length - elem.value_tell} bytes into it.",
                code="truncated",
            )
    if nested:
        _check_sequences(ds)


def _raw_vr(elem: RawDataElement) -> str:
    if elem.VR:
        return str(elem.VR)
    try:
        return str(dictionary_VR(elem.tag))
    except KeyError:
        return "UN"


def _check_sequences(ds: pydicom.Dataset) -> None:
    """Check the elements of each sequence item against the bytes of its sequence.

    An item's element positions count from the start of its sequence's value, so an element
    that claims more than the sequence holds was cut short or lies about its length.
    """
    for elem in list(ds._dict.values()):
        if not isinstance(elem, RawDataElement) or _raw_vr(elem) != "SQ":
            continue
        if isinstance(elem.value, bytes):
            available = len(elem.value)
        elif _deferred(elem):
            available = elem.length  # read from the stream now, as much as it holds
        else:
            continue
        try:
            items = ds[elem.tag].value
        except MemoryError:
            raise
        except Exception as exc:  # pydicom raises many types on hostile bytes
            raise IngestError(
                f"This DICOM file's sequence {elem.tag} cannot be read: {exc}", code="corrupt"
            ) from exc
        for item in items:
            for inner in list(item._dict.values()):
                if not isinstance(inner, RawDataElement) or inner.length == _UNDEFINED_LENGTH:
                    continue
                if inner.value_tell + inner.length > available:
                    raise IngestError(
                        f"This DICOM file is truncated or damaged: element {inner.tag} in "
                        f"sequence {elem.tag} needs {inner.length} bytes but the sequence "
                        f"holds {max(available - inner.value_tell, 0)} more.",
                        code="truncated",
                    )
            _check_sequences(item)


def _read_failed(exc: BaseException) -> IngestError:
    if isinstance(exc, EOFError):
        return IngestError(
            f"This DICOM file could not be read (it is truncated): {exc}", code="truncated"
        )
    return IngestError(
        f"This DICOM file could not be read (it may be truncated or damaged): {exc}",
        code="not_dicom",
    )


def _read_stream(fp: IO[bytes], *, stop_before_pixels: bool) -> tuple[pydicom.Dataset, bool]:
    """Read a Part 10 stream, values over :data:`DEFER_BYTES` left unread (pydicom reads them
    from ``fp`` when first asked); also whether it has pixel data at its top level.

    With ``stop_before_pixels`` it stops there, as ``dcmread`` does; a data set without
    pixel data is then read whole.
    """
    found: list[bool] = []

    def at_pixel_data(tag: BaseTag, vr: str | None, length: int) -> bool:
        if tag in _PIXEL_TAGS:
            found.append(True)
            return stop_before_pixels
        return False

    try:
        ds = read_partial(fp, stop_when=at_pixel_data, defer_size=DEFER_BYTES)
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise _read_failed(exc) from exc
    return ds, bool(found)


# Explicit VR Little Endian, as the file meta group of an inflated Deflated data set: the
# inflated bytes then read like any other file, from disk.
_INFLATED_SYNTAX = b"1.2.840.10008.1.2.1\0"
_INFLATED_META = (
    b"\x02\x00\x00\x00UL\x04\x00"
    + struct.pack("<I", 8 + len(_INFLATED_SYNTAX))
    + b"\x02\x00\x10\x00UI"
    + struct.pack("<H", len(_INFLATED_SYNTAX))
    + _INFLATED_SYNTAX
)


@contextmanager
def _part10_stream(
    data: bytes, *, checked: bool = False
) -> Iterator[tuple[IO[bytes], int, str, str]]:
    """The file as pydicom reads it, with the length element positions count in, its Transfer
    Syntax UID and the SHA-256 of its data set.

    A Deflated data set is inflated in bounded chunks (refused past
    ``MEDASSIST_MAX_INFLATED_BYTES``) into a temporary file behind a plain file meta group,
    so neither pydicom's whole-buffer inflate nor the inflated data set is ever held in
    memory; the file is removed on exit. Other files are read from ``data`` in place.
    ``checked``: :func:`parse_header` already inflated it within its limit and recorded its
    digest, so it is inflated once more, into the file only (the digest is then "").

    Raises:
        IngestError: not Part 10, no readable file meta or transfer syntax, a DICOMDIR, or
            a Deflated data set that does not inflate within its limit.
    """
    if len(data) < _MIN_PART10_BYTES or data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] != b"DICM":
        raise IngestError(
            "This file is not a DICOM file: it lacks the 'DICM' marker of a DICOM Part 10 file.",
            code="not_dicom",
        )
    syntax, offset = _transfer_syntax(data)
    if syntax != DeflatedExplicitVRLittleEndian:
        digest = hashlib.sha256(memoryview(data)[offset:]).hexdigest()
        yield io.BytesIO(data), len(data), syntax, digest
        return
    # Counted first (nothing kept, nothing hashed), written and hashed only once known to be
    # within the limit: a bomb costs neither disk nor more time than its inflating.
    if not checked:
        _check_inflated_size(data, offset, digest=False)
    with tempfile.NamedTemporaryFile(prefix="medassist-inflated-", suffix=".dcm") as spool:
        head = b"\0" * PREAMBLE_LENGTH + b"DICM" + _INFLATED_META
        spool.write(head)
        # Still bounded: the limit holds on this pass too, whoever calls.
        inflated, digest = _check_inflated_size(data, offset, sink=spool, digest=not checked)
        spool.flush()
        spool.seek(0)
        yield spool, len(head) + inflated, syntax, digest


def _drop_deferred(ds: pydicom.Dataset) -> None:
    """Remove the values left unread (bulk data over :data:`DEFER_BYTES`): nothing filed from
    the header needs them, and their stream may be gone by the time anything would."""
    for tag, elem in list(ds._dict.items()):
        if _deferred(elem):
            del ds[tag]


def _deferred(elem: object) -> bool:
    return (
        isinstance(elem, RawDataElement)
        and elem.value is None
        and elem.length
        not in (
            0,
            _UNDEFINED_LENGTH,
        )
    )


def sop_class_name(uid: str) -> str:
    """The SOP class's name ("Basic Text SR Storage"), or the UID itself when unknown."""
    entry = UID_dictionary.get(uid)
    return entry[0] if entry else uid


def _uid(ds: pydicom.Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "") or "").strip().rstrip("\0").strip()
    if not value:
        raise IngestError(
            f"This DICOM file has no {keyword}, so it cannot be filed.", code="missing_uid"
        )
    if len(value) > 64 or not _UID_RE.match(value):
        raise IngestError(
            f"This DICOM file's {keyword} is not a valid UID (digits and dots, at most 64 "
            "characters), so it cannot be filed.",
            code="invalid_uid",
        )
    return value


@dataclass(frozen=True)
class Header:
    """The values ingest needs, read and checked before any pixel data is decoded."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    transfer_syntax: str
    rows: int
    columns: int
    frames: int
    samples: int
    instance_number: int | None
    # SHA-256 of the data set alone: after the preamble, 'DICM' and the file meta group
    # (0002), inflated for Deflated files. The same image sent by another path (C-STORE
    # rebuilds the file meta) has the same one. See :func:`dataset_digest`.
    dataset_sha256: str = ""
    # False for a non-image object (a report, an RT plan, a waveform, a PDF...): then rows,
    # columns, frames and samples are 0 and there is nothing to decode.
    has_pixel_data: bool = True
    # Where the pixel data element starts in the file (0: unknown, or a Deflated file, whose
    # inflated data set is read again): :func:`parse_pixels` reads from there on, so the
    # header is parsed once.
    pixels_at: int = 0


def _positive(ds: pydicom.Dataset, keyword: str, default: int | None = None) -> int:
    value = ds.get(keyword)
    if value in (None, ""):
        if default is None:
            raise KeyError(keyword)
        return default
    number = int(value)  # type: ignore[arg-type]
    if number < 1:
        raise ValueError(f"{keyword} is {number}")
    return number


def _instance_number(ds: pydicom.Dataset) -> int | None:
    number = ds.get("InstanceNumber")
    return int(number) if number not in (None, "") else None  # type: ignore[arg-type]


def _non_image_header(
    ds: pydicom.Dataset, uids: dict[str, str], transfer_syntax: str, dataset_sha256: str
) -> Header:
    """The header of a file without pixel data, if it is an object worth keeping.

    Kept: any SOP class that is not an image class (reports, RT objects, waveforms,
    encapsulated documents, presentation states, private classes...). Refused: no SOP Class
    UID (what it holds cannot be told), a DICOMDIR, and an image class without its pixels.
    """
    sop_class = CONTROL_RE.sub("", str(ds.get("SOPClassUID", "") or "").strip().rstrip("\0"))
    if not sop_class:
        raise IngestError(
            "This DICOM file has no pixel data and no SOP Class UID, so what it holds cannot "
            "be told; it was not stored.",
            code="missing_uid",
        )
    if len(sop_class) > 64 or not _UID_RE.match(sop_class):
        raise IngestError(
            "This DICOM file's SOPClassUID is not a valid UID (digits and dots, at most 64 "
            "characters), so it cannot be filed.",
            code="invalid_uid",
        )
    if sop_class == MediaStorageDirectoryStorage:
        raise _dicomdir_refused()
    if sop_class in IMAGE_SOP_CLASSES:
        raise IngestError(
            f"This DICOM file has no pixel data: it says it is an image "
            f"({sop_class_name(sop_class)}) but holds none; it may have been cut off before "
            "its pixels.",
            code="no_pixel_data",
        )
    try:
        instance_number = _instance_number(ds)
    except MemoryError:
        raise
    except Exception as exc:  # bogus VRs/lengths surface as many types when converted
        raise IngestError(f"This DICOM file's header is not valid: {exc}", code="corrupt") from exc
    return Header(
        sop_instance_uid=uids["SOPInstanceUID"],
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
        sop_class_uid=sop_class,
        transfer_syntax=transfer_syntax,
        rows=0,
        columns=0,
        frames=0,
        samples=0,
        instance_number=instance_number,
        dataset_sha256=dataset_sha256,
        has_pixel_data=False,
    )


def _read_header(
    ds: pydicom.Dataset, transfer_syntax: str, dataset_sha256: str, *, has_pixel_data: bool
) -> Header:
    uids = {k: _uid(ds, k) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")}
    if not has_pixel_data:
        return _non_image_header(ds, uids, transfer_syntax, dataset_sha256)
    try:
        sop_class = str(ds.get("SOPClassUID", "") or "").strip()[:64]
        rows = _positive(ds, "Rows")
        columns = _positive(ds, "Columns")
        frames = _positive(ds, "NumberOfFrames", default=1)
        samples = _positive(ds, "SamplesPerPixel", default=1)
        instance_number = _instance_number(ds)
    except MemoryError:
        raise
    except KeyError as exc:
        raise IngestError(
            "This DICOM file holds pixel data but gives no Rows and Columns, so its image "
            "cannot be read.",
            code="corrupt",
        ) from exc
    except Exception as exc:  # bogus VRs/lengths surface as many types when converted
        raise IngestError(
            f"This DICOM file's image header is not valid: {exc}", code="corrupt"
        ) from exc
    return Header(
        sop_instance_uid=uids["SOPInstanceUID"],
        study_instance_uid=uids["StudyInstanceUID"],
        series_instance_uid=uids["SeriesInstanceUID"],
        sop_class_uid=CONTROL_RE.sub("", sop_class),
        transfer_syntax=transfer_syntax,
        rows=rows,
        columns=columns,
        frames=frames,
        samples=samples,
        instance_number=instance_number,
        dataset_sha256=dataset_sha256,
    )


def _check_pixel_count(header: Header) -> None:
    limit = max_pixels()
    count = header.rows * header.columns * header.frames * header.samples
    if count > limit:
        raise IngestError(
            f"This image is {header.columns} x {header.rows} pixels x {header.frames} frame(s) "
            f"x {header.samples} sample(s) = {count:,} values; the limit is {limit:,}. "
            "It was refused before decoding.",
            status=413,
            code="too_large",
        )


def _check_decodes(ds: pydicom.Dataset, header: Header) -> None:
    """Decode every frame once (one at a time, so memory stays at one frame)."""
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise IngestError(
            "This DICOM file has no pixel data (it is not an image).", code="no_pixel_data"
        )
    syntax = header.transfer_syntax
    try:
        decoder = get_decoder(UID(syntax))
        available = decoder.is_available
    except NotImplementedError:
        available = False
    if not available:
        raise IngestError(
            f"Images in the transfer syntax {_syntax_name(syntax)} cannot be decoded here. "
            "Ask the sender to send it uncompressed (Explicit VR Little Endian) or as JPEG "
            "2000 / JPEG-LS; docs/ingest.md lists what is supported.",
            status=415,
            code="unsupported_transfer_syntax",
        )
    _check_frame_headers(ds, header)
    try:
        decoded = sum(1 for _frame in iter_pixels(ds))
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as exc:
        # Every decoder plugin raises its own types, and the Rust ones (pylibjpeg-rle) panic
        # on hostile input with pyo3's PanicException, which derives from BaseException.
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        if UID(syntax).is_compressed:
            raise IngestError(
                f"The image in this DICOM file ({_syntax_name(syntax)}) could not be decoded; "
                f"it may be truncated, damaged, or a variant no installed decoder reads: {exc}",
                status=422,
                code="undecodable",
            ) from exc
        raise IngestError(
            f"The image in this DICOM file could not be decoded (it may be truncated): {exc}",
            code="truncated",
        ) from exc
    if decoded != header.frames:
        # An encapsulated image with fewer fragments than frames decodes "successfully" frame
        # by frame, then fails in whichever reader asks for the whole array.
        raise IngestError(
            f"This DICOM file says it has {header.frames} frame(s) but holds {decoded}; it may "
            "be truncated.",
            code="truncated",
        )


# JPEG start-of-frame markers (ITU T.81 B.1.1.3; 0xF7 is JPEG-LS, T.87): what a frame's own
# header says about its size.
_JPEG_SOF = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF, 0xF7}
)
# Markers without a length: SOI, TEM, RSTn.
_JPEG_STANDALONE = frozenset({0xD8, 0x01, *range(0xD0, 0xD8)})
# J2K: SOC then SIZ (ISO 15444-1 A.5.1).
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"


def _jpeg_frame_size(frame: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG or JPEG-LS frame's SOF segment, or None."""
    pos = 0
    while pos + 4 <= len(frame):
        if frame[pos] != 0xFF:
            return None
        marker = frame[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", frame[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            if pos + 10 > len(frame):
                return None
            rows, columns = struct.unpack(">HH", frame[pos + 5 : pos + 9])
            return rows, columns, frame[pos + 9]
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def _j2k_frame_size(frame: bytes) -> tuple[int, int, int] | None:
    """(rows, columns, components) from a JPEG 2000 codestream's SIZ segment, or None."""
    at = frame.find(_J2K_SOC_SIZ, 0, 4096)  # a JP2 file holds its codestream in a box
    if at < 0 or at + 42 > len(frame):
        return None
    x, y, x0, y0 = struct.unpack(">IIII", frame[at + 8 : at + 24])
    (components,) = struct.unpack(">H", frame[at + 40 : at + 42])
    return y - y0, x - x0, components


def _check_frame_headers(ds: pydicom.Dataset, header: Header) -> None:
    """Refuse compressed frames whose own header says another size than Rows x Columns.

    A decoder allocates what the codestream says, not what the DICOM header says: a few
    hundred bytes of JPEG 2000 claiming 14000 x 14000 pixels cost gigabytes to decode. So
    every frame's header is read first, and any disagreement is refused before decoding.
    """
    syntax = UID(header.transfer_syntax)
    if syntax in JPEG2000TransferSyntaxes:
        read_size = _j2k_frame_size
    elif syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
        read_size = _jpeg_frame_size
    else:
        return  # uncompressed and RLE frames are sized by the DICOM header itself
    expected = (header.rows, header.columns, header.samples)
    try:
        frames = generate_frames(ds.PixelData, number_of_frames=header.frames)
        for number, frame in enumerate(frames, start=1):
            found = read_size(frame)
            if found is None:
                raise IngestError(
                    f"Frame {number} of this DICOM file ({_syntax_name(syntax)}) has no "
                    "readable image header; it may be truncated or damaged.",
                    status=422,
                    code="undecodable",
                )
            if found == expected:
                continue
            rows, columns, samples = found
            bigger = rows * columns * samples > header.rows * header.columns * header.samples
            raise IngestError(
                f"Frame {number} of this DICOM file says it is {columns} x {rows} pixels x "
                f"{samples} sample(s), but the file's header says {header.columns} x "
                f"{header.rows} x {header.samples}"
                + (
                    "; it was refused before decoding, as a possible decompression bomb."
                    if bigger
                    else "; it cannot be decoded as this image."
                ),
                status=413 if bigger else 422,
                code="bomb" if bigger else "undecodable",
            )
    except (IngestError, MemoryError):
        raise
    except Exception as exc:  # pydicom's frame splitter raises on damaged fragments
        raise IngestError(
            f"The compressed frames of this DICOM file could not be separated: {exc}",
            status=422,
            code="undecodable",
        ) from exc


def _convert_all(ds: pydicom.Dataset) -> None:
    """Convert every element (sequences included) now, so a bogus VR or length is a refusal
    here rather than an error later in whichever page first reads that element. Bulk values
    left unread (over :data:`DEFER_BYTES`) stay unread, sequences excepted."""

    def convert(dataset: pydicom.Dataset) -> None:
        for tag, raw in list(dataset._dict.items()):
            if _deferred(raw) and _raw_vr(raw) != "SQ":
                continue
            elem = dataset[tag]
            if elem.VR == "SQ":
                for item in elem.value:
                    convert(item)

    try:
        convert(ds)
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file's header holds a value that cannot be read: {exc}", code="corrupt"
        ) from exc


def _dicomdir_refused() -> IngestError:
    return IngestError(
        "This file has no pixel data: it is a DICOMDIR, the index of a disc or folder, not an "
        "image or report. Upload the files it lists (the whole folder) instead.",
        code="no_pixel_data",
    )


def _transfer_syntax(data: bytes) -> tuple[str, int]:
    """The Transfer Syntax UID of a Part 10 file and the offset where its data set starts."""
    meta, offset = _read_meta(data)
    if str(meta.get("MediaStorageSOPClassUID", "")).strip() == MediaStorageDirectoryStorage:
        # Its records carry no SOP Instance UID of their own; say what it is first.
        raise _dicomdir_refused()
    syntax = str(meta.get("TransferSyntaxUID", "") or "").strip().rstrip("\0")
    if not syntax or not _UID_RE.match(syntax) or len(syntax) > 64:
        raise IngestError(
            "This DICOM file does not say how it is encoded (no valid Transfer Syntax UID "
            "in its file meta information).",
            code="not_dicom",
        )
    return syntax, offset


def dataset_digest(data: bytes) -> tuple[str, str]:
    """(Transfer Syntax UID, SHA-256 of the data set) of a Part 10 file, as ingest records it.

    The preamble and the file meta group are left out, so the same data set wrapped in
    another file meta header (as C-STORE rebuilds it) has the same digest; a Deflated data
    set is hashed inflated, in bounded chunks. Raises IngestError for a file it cannot read.
    """
    syntax, offset = _transfer_syntax(data)
    if syntax == DeflatedExplicitVRLittleEndian:
        return syntax, _check_inflated_size(data, offset)[1]
    return syntax, hashlib.sha256(memoryview(data)[offset:]).hexdigest()


def parse_header(data: bytes) -> tuple[Header, pydicom.Dataset, int]:
    """Check everything that can be checked without decoding pixels.

    Returns the checked header values, the dataset without its pixel data (every element
    already converted, so reading one cannot fail; bulk values over :data:`DEFER_BYTES` left
    out) and the length element positions count in. Memory stays near the size of ``data``
    whatever the file claims or inflates to.
    """
    with _part10_stream(data) as (fp, stream_length, syntax, dataset_sha256):
        head, has_pixel_data = _read_stream(fp, stop_before_pixels=True)
        # read_partial stops at the start of the pixel data element: in ``data`` itself,
        # unless the data set was inflated into a temporary file.
        pixels_at = fp.tell() if has_pixel_data and syntax != DeflatedExplicitVRLittleEndian else 0
        _check_complete(head, stream_length)
        _convert_all(head)
        _drop_deferred(head)
    header = _read_header(head, syntax, dataset_sha256, has_pixel_data=has_pixel_data)
    if header.has_pixel_data:
        _check_pixel_count(header)
        header = replace(header, pixels_at=pixels_at)
    return header, head, stream_length


def parse_pixels(
    data: bytes, header: Header, stream_length: int, head: pydicom.Dataset | None = None
) -> None:
    """Decode every frame once; a non-image object has none (it was read whole already).

    Each compressed frame's own header must state the image's size before any decoder runs
    (a codestream claiming a bigger image than Rows x Columns is a decompression bomb).

    With ``head`` (what :func:`parse_header` returned for ``data``), only the elements from
    the pixel data on are read, and added to a copy of it: the header is not parsed again.
    Without it (or for a Deflated file) the whole data set is read again.
    """
    if not header.has_pixel_data:
        return
    if head is not None and header.pixels_at:
        ds = _with_pixels(data, header, head)
        _check_complete(ds, stream_length, nested=False)
        _check_decodes(ds, header)
        return
    with _part10_stream(data, checked=True) as (fp, _length, _syntax, _digest):
        ds, _ = _read_stream(fp, stop_before_pixels=False)
        # The header's sequences were checked already; the pixels follow them.
        _check_complete(ds, stream_length, nested=False)
        _check_decodes(ds, header)


def _with_pixels(data: bytes, header: Header, head: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of ``head`` with the elements of ``data`` from the pixel data on (the pixels and
    whatever follows them), read in the encoding the header was read in."""
    implicit, little = head.original_encoding
    fp = io.BytesIO(data)
    fp.seek(header.pixels_at)
    try:
        rest = read_dataset(fp, bool(implicit), bool(little), defer_size=DEFER_BYTES)
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise _read_failed(exc) from exc
    ds = copy.copy(head)
    # A shallow copy shares the element dict: give the copy its own, so the header the
    # caller files from never holds the pixels.
    ds._dict = {**head._dict, **rest._dict}
    # Values left unread (over DEFER_BYTES: the pixels of a big image) are read from here.
    ds.filename, ds.buffer, ds.fileobj_type = None, fp, io.BytesIO
    return ds
