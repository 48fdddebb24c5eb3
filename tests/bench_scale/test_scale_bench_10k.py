"""The scale bench itself, as a person runs it, at its 10^4 size: it fills a scratch database
with 10,000 studies, times every page, search, export and training read it knows, prints
their queries per request and the plans of the slowest, and drops the database. Timings are
not asserted (goals live in bench/README.md); that it runs to the end, every page answers as
it should, and no page needs more queries than the query-count test allows, are."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from tests.bench_scale.test_queries_per_page import MOST

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("postgres")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_bench_runs_at_ten_thousand_studies_and_times_every_page() -> None:
    db = settings.DATABASES["default"]
    server = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/postgres"
    name = f"test_bench_scale_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": server}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [
            sys.executable,
            "bench/scale.py",
            "--sizes",
            "10000",
            "--requests",
            "2",
            "--budget-s",
            "1",
            "--export-max-rows",
            "20000",
            "--database",
            name,
            "--drop",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "filled 10,000 studies" in out
    table = out[out.rindex("== 10,000 studies ==") :]
    rows = re.findall(r"^(\w[\w ]*?)\s{2,}(.+?)\s{2,}(\d+)\s+[\d.]+\s+[\d.]+\s+(\d+)", table, re.M)
    groups = {group for group, *_ in rows}
    assert {"worklist", "case", "triage", "audit", "qido", "ml admin", "training"} <= groups
    pages = [(g, label, int(q)) for g, label, _, q in rows if g not in {"training"}]
    assert len(pages) >= 40
    assert max(q for g, label, q in pages if "CSV" not in label and "chain" not in label) <= MOST
    assert "slowest query #1 at 10,000 studies" in out and "Execution Time" in out
