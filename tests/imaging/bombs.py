"""A corpus of hostile DICOM files: small on the wire, huge (or lying) once read.

Each builder writes one file under ``folder`` and returns its path; the big ones are streamed
to disk, never held in memory. ``NAMES`` lists the corpus in the order the tests use it.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openjpeg
import pydicom
from pydicom.encaps import encapsulate
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEG2000Lossless

from imaging.ingest import parsing
from tests.factories import synthetic_dataset

MB = 1 << 20
# (FFFC,FFFC) Data Set Trailing Padding, OB, explicit VR little endian: a header with a
# 32-bit length, followed by that many bytes.
_PADDING_TAG = b"\xfc\xff\xfc\xffOB\x00\x00"


def _plain(seed: int) -> bytes:
    buf = io.BytesIO()
    synthetic_dataset(seed).save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def deflate_bomb(folder: Path, *, inflated: int, name: str = "deflate-bomb.dcm") -> Path:
    """A Deflated file whose data set ends in ``inflated`` bytes of zero padding."""
    ds = synthetic_dataset(61)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    _, offset = parsing._read_meta(data)
    plain = zlib.decompress(data[offset:], -zlib.MAX_WBITS)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    path = folder / name
    with path.open("wb") as out:
        out.write(data[:offset])
        out.write(packer.compress(plain + _PADDING_TAG + struct.pack("<I", inflated)))
        zeros = b"\0" * MB
        for _ in range(inflated // MB):
            out.write(packer.compress(zeros))
        out.write(packer.flush())
    return path


def codestream_bomb(folder: Path, *, side: int = 14000) -> Path:
    """JPEG 2000: the DICOM header says 64 x 64, the codestream says ``side`` x ``side``."""
    ds = synthetic_dataset(62)
    pixels = ds.pixel_array
    codestream = bytearray(openjpeg.encode(pixels.astype(np.uint16), bits_stored=12))
    siz = codestream.find(b"\xff\x51")
    codestream[siz + 6 : siz + 14] = struct.pack(">II", side, side)
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.PixelData = encapsulate([bytes(codestream)])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    path = folder / "codestream-bomb.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def pixel_count_bomb(folder: Path) -> Path:
    """Uncompressed, claiming 65535 x 65535 pixels x 1000 frames, holding 8 KB of them."""
    ds = synthetic_dataset(63)
    ds.Rows = ds.Columns = 65535
    ds.NumberOfFrames = 1000
    path = folder / "pixel-count-bomb.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def length_lie(folder: Path) -> Path:
    """A valid file followed by an element claiming almost 4 GB, holding 16 bytes."""
    path = folder / "length-lie.dcm"
    path.write_bytes(_plain(64) + _PADDING_TAG + struct.pack("<I", 0xFFFFFFF0) + b"\0" * 16)
    return path


def oversize(folder: Path, *, size: int = 128 * MB) -> Path:
    """A valid image followed by ``size`` bytes of padding: twice the default file limit."""
    path = folder / "oversize.dcm"
    with path.open("wb") as out:
        out.write(_plain(65) + _PADDING_TAG + struct.pack("<I", size))
        zeros = b"\0" * MB
        for _ in range(size // MB):
            out.write(zeros)
    return path


def zip_bomb(folder: Path, *, inflated: int = 1024 * MB) -> Path:
    """A .zip of one member that inflates to ``inflated`` zero bytes (about 1 MB zipped)."""
    path = folder / "zip-bomb.zip"
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("study/bomb.dcm", "w", force_zip64=True) as member,
    ):
        zeros = b"\0" * MB
        for _ in range(inflated // MB):
            member.write(zeros)
    return path


# name -> builder; every path refuses each of these (the zip only goes to the upload page).
BUILDERS: dict[str, Callable[[Path], Path]] = {
    "deflate-bomb": lambda folder: deflate_bomb(folder, inflated=1024 * MB),
    "codestream-bomb": codestream_bomb,
    "pixel-count-bomb": pixel_count_bomb,
    "length-lie": length_lie,
    "oversize": oversize,
    "zip-bomb": zip_bomb,
}
NAMES = list(BUILDERS)


def build_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    corpus = {name: build(folder) for name, build in BUILDERS.items()}
    # Inflates to just under the default 256 MiB limit: not refused, but it must not cost
    # memory in proportion to what it inflates to.
    corpus["deflate-under-limit"] = deflate_bomb(
        folder, inflated=250 * MB, name="deflate-under-limit.dcm"
    )
    return corpus


def read_back(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)
