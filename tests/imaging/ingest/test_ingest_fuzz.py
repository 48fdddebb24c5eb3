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

import os
import random
import warnings
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction
from pytest_django.fixtures import Settings

from imaging.ingest.errors import IngestError
from imaging.ingest.services import instance_ingest
from imaging.models import IngestConflict, Instance, NonImageInstance, Series, Study
from imaging.selectors import instance_read_dataset
from medassist.models import Patient
from tests.imaging.ingest.mutants import MUTATIONS, _corpus

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("MEDASSIST_FUZZ_EXAMPLES", "200"))
SEED = int(os.environ.get("MEDASSIST_FUZZ_SEED", "20261128"))

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
