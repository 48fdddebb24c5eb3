"""Frames and bulk data of a stored instance, for WADO-RS (PS3.18 8.7.3, 10.4.1.1.4-5).

A frame is sent either *uncompressed* (little-endian native pixel values, the
``application/octet-stream`` default; compressed files are decoded one frame at a time) or
*as stored* (the compressed bitstream of that frame, unchanged). Memory is bounded by one
stored file plus one frame: the stored file is read once (and checked against its SHA-256),
then each frame is cut out or decoded only when its part is written.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.encaps import get_frame
from pydicom.pixels import pixel_array as decode_pixels
from pydicom.uid import UID, ExplicitVRBigEndian

from ..models import StoredInstance
from ..selectors import instance_read_bytes

# The media type of a frame as stored, by transfer syntax (PS3.18 Table 8.7.3-2). Syntaxes
# not named here (video, anything unknown) have no single-frame media type: their frames go
# as application/octet-stream with the transfer syntax named, or are decoded.
_FRAME_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51": "image/jpeg",  # JPEG Extended
    "1.2.840.10008.1.2.4.57": "image/jll",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70": "image/jll",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80": "image/jls",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81": "image/jls",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90": "image/jp2",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91": "image/jp2",  # JPEG 2000
    "1.2.840.10008.1.2.4.92": "image/jpx",  # JPEG 2000 Part 2 Lossless
    "1.2.840.10008.1.2.4.93": "image/jpx",  # JPEG 2000 Part 2
    "1.2.840.10008.1.2.4.201": "image/jphc",  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202": "image/jphc",  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203": "image/jphc",  # HTJ2K
    "1.2.840.10008.1.2.5": "image/dicom-rle",  # RLE Lossless
}
# Older names clients still send.
MEDIA_TYPE_ALIASES = {"image/x-dicom-rle": "image/dicom-rle", "image/x-jls": "image/jls"}


def frame_media_type(transfer_syntax: str) -> str | None:
    """The single-frame media type of frames stored in ``transfer_syntax`` (None: native or
    a syntax without one)."""
    return _FRAME_MEDIA_TYPES.get(str(transfer_syntax))


class FrameError(ValueError):
    """A frame cannot be given as asked (it could not be decoded, or the file is odd)."""


@dataclass
class StoredPixels:
    """A stored instance's data set, read once, from which frames are cut."""

    ds: pydicom.Dataset
    transfer_syntax: UID
    frames: int

    @property
    def native(self) -> bool:
        return not self.transfer_syntax.is_encapsulated

    def frame_as_stored(self, index: int) -> bytes:
        """Frame ``index`` (0-based) as stored: the compressed bitstream, or for native pixel
        data the little-endian values."""
        if self.native:
            return self.frame_uncompressed(index)
        offsets = None
        if "ExtendedOffsetTable" in self.ds and "ExtendedOffsetTableLengths" in self.ds:
            offsets = (self.ds.ExtendedOffsetTable, self.ds.ExtendedOffsetTableLengths)
        try:
            return get_frame(
                self.ds.PixelData, index, extended_offsets=offsets, number_of_frames=self.frames
            )
        except (ValueError, IndexError, KeyError) as exc:
            raise FrameError(f"frame {index + 1} is not in the stored data: {exc}") from exc

    def frame_uncompressed(self, index: int) -> bytes:
        """Frame ``index`` (0-based) as little-endian native values (PS3.5 8.1.1), decoded
        from a compressed file if need be (colour JPEG comes out as RGB)."""
        ds = self.ds
        if self.native:
            return _native_frame(ds, index, self.frames)
        try:
            array = decode_pixels(ds, index=index if self.frames > 1 else None)
        except Exception as exc:  # the decoders raise many kinds of errors
            raise FrameError(
                f"frame {index + 1} could not be decoded from {self.transfer_syntax.name}: {exc}"
            ) from exc
        array = np.ascontiguousarray(array)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        if int(ds.get("BitsAllocated", 8)) == 1:
            return np.packbits(array.astype(np.uint8).ravel(), bitorder="little").tobytes()
        return array.tobytes()

    def pixel_data_uncompressed(self) -> bytes:
        """All frames, uncompressed, as the value of a native Pixel Data element."""
        if self.native and self.transfer_syntax != ExplicitVRBigEndian:
            return bytes(self.ds.PixelData)
        return b"".join(self.frame_uncompressed(i) for i in range(self.frames))


def _frame_bits(ds: pydicom.Dataset) -> int:
    return (
        int(ds.Rows)
        * int(ds.Columns)
        * int(ds.get("SamplesPerPixel", 1))
        * int(ds.get("BitsAllocated", 8))
    )


def _native_frame(ds: pydicom.Dataset, index: int, frames: int) -> bytes:
    data = bytes(ds.PixelData)
    bits = _frame_bits(ds)
    bits_allocated = int(ds.get("BitsAllocated", 8))
    if bits % 8:
        # Bit-packed frames that do not start on a byte (Bits Allocated 1): re-pack.
        unpacked = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        frame = unpacked[index * bits : (index + 1) * bits]
        if frame.size < bits:
            raise FrameError(f"the stored pixel data ends before frame {index + 1}")
        return np.packbits(frame, bitorder="little").tobytes()
    size = bits // 8
    frame_bytes = data[index * size : (index + 1) * size]
    if len(frame_bytes) < size:
        raise FrameError(f"the stored pixel data ends before frame {index + 1}")
    big_endian = ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian
    if big_endian and bits_allocated > 8:
        width = bits_allocated // 8
        frame_bytes = np.frombuffer(frame_bytes, f">u{width}").astype(f"<u{width}").tobytes()
    return frame_bytes


def stored_pixels(*, instance: StoredInstance) -> StoredPixels:
    """The instance's stored file, read and verified once (raises StoredFileError)."""
    data = instance_read_bytes(instance=instance)
    ds = pydicom.dcmread(io.BytesIO(data))
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return StoredPixels(ds=ds, transfer_syntax=UID(ds.file_meta.TransferSyntaxUID), frames=frames)


# --- Bulk data -------------------------------------------------------------------------------

PIXEL_DATA = "7FE00010"


class BulkDataNotFound(LookupError):
    """The bulk data key names no binary attribute of the instance."""


def parse_bulk_key(key: str) -> list[str | int]:
    """``7FE00010`` or ``00540016/0/00181074``: tags (8 hex digits) and 0-based item numbers,
    alternating. Raises BulkDataNotFound for anything else."""
    parts = key.strip("/").split("/")
    path: list[str | int] = []
    for n, part in enumerate(parts):
        if n % 2 == 0:
            if len(part) != 8 or any(c not in "0123456789abcdefABCDEF" for c in part):
                raise BulkDataNotFound(f"{part!r} is not a tag of 8 hex digits")
            path.append(part.upper())
        else:
            if not part.isdigit():
                raise BulkDataNotFound(f"{part!r} is not an item number")
            path.append(int(part))
    if len(path) % 2 == 0:
        raise BulkDataNotFound("a bulk data key ends with a tag, not an item number")
    return path


def bulk_element(ds: pydicom.Dataset, path: list[str | int]) -> DataElement:
    """The element ``path`` names in ``ds`` (raises BulkDataNotFound)."""
    current: pydicom.Dataset = ds
    for n in range(0, len(path) - 1, 2):
        tag, item = int(str(path[n]), 16), int(path[n + 1])
        if tag not in current or current[tag].VR != "SQ" or item >= len(current[tag].value):
            raise BulkDataNotFound(f"the instance has no item {item} of ({path[n]})")
        current = current[tag].value[item]
    tag = int(str(path[-1]), 16)
    if tag not in current:
        raise BulkDataNotFound(f"the instance has no attribute ({path[-1]})")
    return current[tag]


def bulk_value(ds: pydicom.Dataset, element: DataElement) -> bytes:
    """A binary element's value in little-endian byte order."""
    value = element.value
    if value is None:
        return b""
    if not isinstance(value, (bytes, bytearray)):
        raise BulkDataNotFound(f"({element.tag.group:04X},{element.tag.elem:04X}) is not binary")
    width = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}.get(element.VR, 1)
    if width > 1 and ds.file_meta.TransferSyntaxUID == ExplicitVRBigEndian:
        return np.frombuffer(bytes(value), f">u{width}").astype(f"<u{width}").tobytes()
    return bytes(value)


def iter_frames(pixels: StoredPixels, numbers: list[int], *, as_stored: bool) -> Iterator[bytes]:
    """Frames by 1-based number, each cut or decoded only when asked for."""
    for number in numbers:
        index = number - 1
        yield pixels.frame_as_stored(index) if as_stored else pixels.frame_uncompressed(index)
