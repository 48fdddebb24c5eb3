"""A seeded corpus of DICOM files and the mutations that make hostile variants of them.

Shared by the fuzz tests (tests/imaging/ingest/test_ingest_fuzz.py, test_fuzz_network.py)
and the long run over the network (bench/fuzz.py): real files (pydicom's test files, in
several encodings) and generated ones (a synthetic image, a Deflated one, a report, a
waveform, a PDF), mutated by byte flips, truncations, inserted garbage, huge Rows/Columns,
bogus VRs and lengths, and a deflate bomb. :func:`mutants` gives the same sequence for the
same seed.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian

from imaging.ingest import parsing
from tests.factories import synthetic_dataset, synthetic_file
from tests.imaging.nonimage import basic_text_sr, ecg_waveform, encapsulated_pdf

# Small files in different encodings, so mutations reach different parsers and decoders.
PYDICOM_FILES = [
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG2000.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",
    "SC_rgb_rle_2frame.dcm",
]


def _deflated(seed: int) -> bytes:
    ds = synthetic_dataset(seed)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _corpus() -> list[bytes]:
    # Non-image objects too: a report's text and a waveform's samples live in sequences.
    files = [synthetic_file(1), _deflated(2), basic_text_sr(), ecg_waveform(), encapsulated_pdf()]
    for name in [*PYDICOM_FILES, "rtplan.dcm"]:
        path = get_testdata_file(name)
        assert path is not None, name
        files.append(Path(str(path)).read_bytes())
    return files


# --- Mutations: each takes (rng, bytes) and returns (description, mutant) -----------------

Mutation = Callable[[random.Random, bytes], tuple[str, bytes]]


def flip_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    where = [rng.randrange(128, len(out)) for _ in range(rng.randint(1, 8))]
    for i in where:
        out[i] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
    return f"flip bytes at {where}", bytes(out)


def truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    cut = rng.randrange(0, len(data))
    return f"truncate at {cut}", data[:cut]


def insert_garbage(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(128, len(data))
    junk = rng.randbytes(rng.randint(1, 64))
    return f"insert {len(junk)} bytes at {at}", data[:at] + junk + data[at:]


def _find_tag(data: bytes, group: int, element: int, rng: random.Random) -> int | None:
    needles = [struct.pack("<HH", group, element), struct.pack(">HH", group, element)]
    hits = [i for n in needles for i in _all(data, n)]
    return rng.choice(hits) if hits else None


def _all(data: bytes, needle: bytes) -> list[int]:
    found, start = [], 0
    while (i := data.find(needle, start)) != -1:
        found.append(i)
        start = i + 1
    return found


def huge_dimensions(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    changed = []
    for element in (0x0010, 0x0011):  # Rows, Columns
        at = _find_tag(data, 0x0028, element, rng)
        if at is None:
            continue
        # Explicit VR: tag(4) VR(2) length(2) value; implicit: tag(4) length(4) value.
        value_at = at + 8  # explicit: tag, VR, 2-byte length; implicit: tag, 4-byte length
        if value_at + 2 <= len(out):
            out[value_at : value_at + 2] = b"\xff\xff"
            changed.append(hex(element))
    frames = _find_tag(data, 0x0028, 0x0008, rng)
    if frames is not None and rng.random() < 0.5:
        out[frames + 8 : frames + 10] = b"99"
    return f"huge Rows/Columns {changed}", bytes(out)


def bogus_vr(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    vrs = [
        i for vr in (b"US", b"UI", b"CS", b"OB", b"OW", b"SQ", b"DS", b"IS") for i in _all(data, vr)
    ]
    if not vrs:
        return flip_bytes(rng, data)
    at = rng.choice(vrs)
    new = rng.choice([b"ZZ", b"UN", b"SQ", b"OB", b"US", b"\x00\x00", b"FD"])
    return f"VR at {at} -> {new!r}", data[:at] + new + data[at + 2 :]


def bogus_length(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    at = rng.randrange(132, max(133, len(data) - 4))
    value = rng.choice([0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x10000, rng.randrange(1 << 32)])
    width = rng.choice([2, 4])
    packed = struct.pack("<I", value)[:width]
    return f"length {value:#x} ({width} bytes) at {at}", data[:at] + packed + data[at + width :]


def deflate_bomb(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """The deflated corpus file with megabytes of zeros appended to its deflated dataset."""
    deflated = _deflated(rng.randrange(1000))
    _, offset = parsing._read_meta(deflated)
    plain = zlib.decompress(deflated[offset:], -zlib.MAX_WBITS)
    megabytes = rng.randint(3, 12)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = packer.compress(plain) + packer.compress(b"\0" * (megabytes << 20)) + packer.flush()
    return f"deflate bomb of {megabytes} MB", deflated[:offset] + body


MUTATIONS: list[tuple[Mutation, int]] = [
    (flip_bytes, 5),
    (truncate, 3),
    (insert_garbage, 3),
    (huge_dimensions, 2),
    (bogus_vr, 3),
    (bogus_length, 3),
    (deflate_bomb, 1),
]


def mutants(seed: int, n: int) -> Iterator[tuple[str, bytes]]:
    """``n`` mutants, the same for the same seed: (a label to replay it by, its bytes)."""
    rng = random.Random(seed)
    corpus = _corpus()
    operators = [op for op, weight in MUTATIONS for _ in range(weight)]
    for number in range(n):
        original = rng.randrange(len(corpus))
        operator = rng.choice(operators)
        what, mutant = operator(rng, corpus[original])
        yield (
            f"mutant {number} (seed {seed}): corpus[{original}], {operator.__name__}: {what}",
            mutant,
        )
