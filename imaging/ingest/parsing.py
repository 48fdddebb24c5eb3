"""Reading an untrusted DICOM Part 10 file: every check that refuses it before it is stored.

Nothing is decoded before it is known to be bounded: the 'DICM' marker, the file meta, a
bounded inflate for Deflated files, the header without pixel data, the UIDs and the pixel
count come first (:func:`parse_header`); only then is every frame decoded once
(:func:`parse_pixels`). Every refusal is an :class:`~imaging.ingest.errors.IngestError`.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from dataclasses import dataclass

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.pixels import get_decoder, iter_pixels
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from .errors import IngestError
from .limits import INFLATE_CHUNK, max_inflated_bytes, max_pixels, megabytes

PREAMBLE_LENGTH = 128
# A (0002,eeee) element header plus the 'DICM' marker: nothing shorter can be Part 10.
_MIN_PART10_BYTES = PREAMBLE_LENGTH + 4 + 8
_UNDEFINED_LENGTH = 0xFFFFFFFF
_UID_RE = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# Characters PostgreSQL text cannot hold (NUL) or that only confuse a reader (controls).
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

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


def _check_inflated_size(data: bytes, offset: int) -> tuple[int, str]:
    """Inflate a Deflated dataset in bounded chunks; refuse it as soon as it passes the limit.

    Nothing bigger than one chunk over the limit is ever held, so a deflate bomb (kilobytes
    that inflate to gigabytes) costs at most the limit in time and memory. Returns the size
    and the SHA-256 of the inflated dataset (two deflaters write the same dataset differently).
    """
    limit = max_inflated_bytes()
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    pending = memoryview(data)[offset:]
    total = 0
    digest = hashlib.sha256()
    try:
        while True:
            out = inflater.decompress(pending, INFLATE_CHUNK)
            digest.update(out)
            total += len(out)
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
    except zlib.error as exc:
        raise IngestError(
            f"This Deflated DICOM file could not be inflated (it may be truncated): {exc}",
            code="truncated",
        ) from exc
    return total, digest.hexdigest()


def _check_complete(ds: pydicom.Dataset, stream_length: int) -> None:
    """Refuse a dataset whose last elements claim more bytes than the file holds.

    pydicom reads a short final value without complaint, so a cut-off file would otherwise
    look complete up to the cut.
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


def _read_dataset(data: bytes, *, stop_before_pixels: bool) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=stop_before_pixels)
    except MemoryError:
        raise
    except EOFError as exc:
        raise IngestError(
            f"This DICOM file could not be read (it is truncated): {exc}", code="truncated"
        ) from exc
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file could not be read (it may be truncated or damaged): {exc}",
            code="not_dicom",
        ) from exc


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


def _read_header(ds: pydicom.Dataset, transfer_syntax: str, dataset_sha256: str) -> Header:
    uids = {k: _uid(ds, k) for k in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")}
    try:
        sop_class = str(ds.get("SOPClassUID", "") or "").strip()[:64]
        rows = _positive(ds, "Rows")
        columns = _positive(ds, "Columns")
        frames = _positive(ds, "NumberOfFrames", default=1)
        samples = _positive(ds, "SamplesPerPixel", default=1)
        number = ds.get("InstanceNumber")
        instance_number = int(number) if number not in (None, "") else None
    except MemoryError:
        raise
    except KeyError as exc:
        raise IngestError(
            "This DICOM file has no pixel data (it is not an image): it gives no Rows and Columns.",
            code="no_pixel_data",
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


def _convert_all(ds: pydicom.Dataset) -> None:
    """Convert every element (sequences included) now, so a bogus VR or length is a refusal
    here rather than an error later in whichever page first reads that element."""

    def convert(dataset: pydicom.Dataset, elem: pydicom.DataElement) -> None:
        _ = elem.value

    try:
        ds.walk(convert)
    except MemoryError:
        raise
    except Exception as exc:  # pydicom raises many types on hostile bytes
        raise IngestError(
            f"This DICOM file's header holds a value that cannot be read: {exc}", code="corrupt"
        ) from exc


def _transfer_syntax(data: bytes) -> tuple[str, int]:
    """The Transfer Syntax UID of a Part 10 file and the offset where its data set starts."""
    meta, offset = _read_meta(data)
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
    already converted, so reading one cannot fail) and the length element positions count in.
    """
    if len(data) < _MIN_PART10_BYTES or data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] != b"DICM":
        raise IngestError(
            "This file is not a DICOM file: it lacks the 'DICM' marker of a DICOM Part 10 file.",
            code="not_dicom",
        )
    syntax, offset = _transfer_syntax(data)
    # Element positions count from the start of the file, or of the inflated dataset.
    stream_length = len(data)
    if syntax == DeflatedExplicitVRLittleEndian:
        # pydicom inflates the whole dataset at once; prove it is bounded before it may.
        stream_length, dataset_sha256 = _check_inflated_size(data, offset)
    else:
        dataset_sha256 = hashlib.sha256(memoryview(data)[offset:]).hexdigest()
    head = _read_dataset(data, stop_before_pixels=True)
    _check_complete(head, stream_length)
    _convert_all(head)
    header = _read_header(head, syntax, dataset_sha256)
    _check_pixel_count(header)
    return header, head, stream_length


def parse_pixels(data: bytes, header: Header, stream_length: int) -> None:
    ds = _read_dataset(data, stop_before_pixels=False)
    _check_complete(ds, stream_length)
    _check_decodes(ds, header)
