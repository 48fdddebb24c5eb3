"""Mutation fuzzing of instance_ingest: hostile bytes are refused as 4xx, never a 500.

A seeded corpus of real (pydicom's test files) and generated DICOM files is mutated: byte
flips, truncations, inserted garbage, huge Rows/Columns, bogus VRs and lengths, a deflate
bomb. Every mutant must either be stored (and then read back intact) or be refused with an
IngestError whose status is 4xx; any other exception is what a user would see as a 500. A
refused mutant must leave no row and no file behind.

CI runs a fast subset (200 mutants, a few seconds). Set MEDASSIST_FUZZ_EXAMPLES=5000 (and
optionally MEDASSIST_FUZZ_SEED) for a longer run; a failure prints the seed and the mutation
and writes the input under the test's tmp_path so it can be replayed.
"""

from __future__ import annotations

import io
import os
import random
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian
from pytest_django.fixtures import Settings

from imaging.ingest import parsing
from imaging.ingest.errors import IngestError
from imaging.ingest.services import instance_ingest
from imaging.models import IngestConflict, Instance, NonImageInstance, Series, Study
from imaging.selectors import instance_read_dataset
from medassist.models import Patient
from tests.factories import synthetic_dataset, synthetic_file
from tests.imaging.nonimage import basic_text_sr, ecg_waveform, encapsulated_pdf

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("MEDASSIST_FUZZ_EXAMPLES", "200"))
SEED = int(os.environ.get("MEDASSIST_FUZZ_SEED", "20261128"))

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


EMPTY: tuple[tuple[int, ...], list[Path]] = ((0, 0, 0, 0, 0, 0), [])


def _state() -> tuple[tuple[int, ...], list[Path]]:
    """Row counts of everything ingest writes (one query: the loop runs it often) and files."""
    tables = [
        m._meta.db_table
        for m in (Patient, Study, Series, Instance, NonImageInstance, IngestConflict)
    ]
    counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)  # noqa: S608 (own names)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        rows = tuple(cursor.fetchone())
    files = sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())
    return rows, files


def test_every_mutated_file_is_stored_or_refused_with_a_4xx_and_never_crashes(
    settings: Settings, tmp_path: Path
) -> None:
    # Small limits keep each bomb cheap; they are the same code paths as the defaults.
    settings.MEDASSIST_MAX_INFLATED_BYTES = 2 * 1024 * 1024
    settings.MEDASSIST_MAX_PIXELS = 4096 * 4096
    rng = random.Random(SEED)
    corpus = _corpus()
    operators = [op for op, weight in MUTATIONS for _ in range(weight)]
    outcomes: dict[str, int] = {}

    assert _state() == EMPTY
    for n in range(EXAMPLES):
        original = rng.randrange(len(corpus))
        operator = rng.choice(operators)
        what, mutant = operator(rng, corpus[original])
        label = f"example {n} (seed {SEED}): corpus[{original}], {operator.__name__}: {what}"
        # Each mutant starts from the same empty database: a savepoint rolled back after it.
        with transaction.atomic():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pydicom warns on every odd value
                    result = instance_ingest(data=mutant)
            except IngestError as exc:
                assert 400 <= exc.status < 500, f"{label}: status {exc.status}"
                assert exc.code and str(exc), label
                assert _state() == EMPTY, f"{label}: a refused file left something behind"
                outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # a decoder's Rust panic is a BaseException
                replay = tmp_path / f"crash-{n}.dcm"
                replay.write_bytes(mutant)
                pytest.fail(f"{label}: {type(exc).__name__}: {exc} (input saved as {replay})")
            else:
                # Stored: it must read back, and an image decode, like any other stored one.
                stored = instance_read_dataset(instance=result.instance)
                if result.is_image:
                    stored.pixel_array  # noqa: B018
                else:
                    _ = [elem.value for elem in stored.iterall()]
                outcomes["stored"] = outcomes.get("stored", 0) + 1
            transaction.set_rollback(True)
        for path in Path(settings.MEDIA_ROOT).rglob("*"):
            if path.is_file():
                path.unlink()

    # The corpus and operators really exercise both sides.
    assert outcomes.get("stored", 0) > 0
    assert sum(v for k, v in outcomes.items() if k != "stored") > 0
    assert outcomes.get("bomb", 0) > 0
    print(f"\n{EXAMPLES} mutants: {dict(sorted(outcomes.items()))}")
