"""Server time of the doctors' worklist page at 10,000 and 100,000 studies.

Creates a scratch PostgreSQL database (``medassist_bench_worklist`` on the server of
``DATABASE_URL``, default 127.0.0.1:5432), fills it with SYNTHETIC studies by bulk_create
(one series, one image and one AI suggestion each; a share already reviewed), then times
``GET /cases/`` through Django's test client as a signed-in doctor (in-process: no network)
over a few filter combinations, and counts the queries per page. Prints p50/p95 in ms.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x .venv/bin/python bench/worklist.py \
        [--sizes 10000,100000] [--requests 50] [--page-size 25]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "medassist_bench_worklist"
QUERIES = [
    "",
    "?modality=CT",
    "?finding=nodule",
    "?status=reviewed",
    "?status=all&page=40",
    "?modality=CR&finding=normal&from=2020-01-01",
]


def _setup(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = parsed._replace(path=f"/{DB_NAME}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    os.environ.setdefault("MEDASSIST_VAR_DIR", tempfile.mkdtemp(prefix="bench-worklist-"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(start: int, stop: int) -> float:
    """Add studies start..stop-1; returns the seconds it took."""
    from django.db import transaction
    from django.utils import timezone

    from diagnosis.inference.models import Suggestion
    from diagnosis.registry.models import Finding, ModelVersion
    from diagnosis.review.models import ReadingState, Review
    from diagnosis.review.services import study_urgency_refresh
    from imaging.models import Instance, Series, Study
    from medassist.models import Patient

    began = time.perf_counter()
    rng = random.Random(start)
    version = ModelVersion.objects.first() or ModelVersion.objects.create(
        task="image",
        version=1,
        status="champion",
        weights_key="bench.pt",
        weights_sha256="0" * 64,
        labels=["normal", "opacity", "nodule"],
        image_size=64,
        preprocess_version="bench",
    )
    findings = {f.code: f for f in Finding.objects.all()}
    now = timezone.now()
    batch = 5000
    for lo in range(start, stop, batch):
        hi = min(stop, lo + batch)
        with transaction.atomic():
            patients = Patient.objects.bulk_create(
                [
                    Patient(mrn=f"BENCH-{i}", name=f"Synthetic^{i}", is_synthetic=True)
                    for i in range(lo, hi)
                ]
            )
            studies = Study.objects.bulk_create(
                [
                    Study(
                        patient=p,
                        study_instance_uid=f"1.2.9.1.{i}",
                        description="SYNTHETIC",
                        is_synthetic=True,
                    )
                    for i, p in zip(range(lo, hi), patients, strict=True)
                ]
            )
            # Spread arrival over 30 days so ordering by waiting time is meaningful.
            for s in studies:
                s.created_at = now - timezone.timedelta(minutes=rng.randint(0, 43200))
            Study.objects.bulk_update(studies, ["created_at"])
            series = Series.objects.bulk_create(
                [
                    Series(
                        study=s,
                        series_instance_uid=f"1.2.9.2.{i}",
                        modality=rng.choice(["CR", "CR", "DX", "CT"]),
                    )
                    for i, s in zip(range(lo, hi), studies, strict=True)
                ]
            )
            instances = Instance.objects.bulk_create(
                [
                    Instance(
                        series=se,
                        sop_instance_uid=f"1.2.9.3.{i}",
                        sop_class_uid="1.2",
                        instance_number=1,
                        rows=512,
                        columns=512,
                        storage_key=f"bench/{i}",
                        sha256="0" * 64,
                        size_bytes=1,
                    )
                    for i, se in zip(range(lo, hi), series, strict=True)
                ]
            )
            suggestions = []
            for inst in instances:
                code = rng.choices(["normal", "opacity", "nodule"], [6, 2, 2])[0]
                p = rng.uniform(0.4, 0.99)
                suggestions.append(
                    Suggestion(
                        instance=inst,
                        model_version=version,
                        top_finding=findings[code],
                        top_probability=p,
                        probabilities={code: p},
                        needs_attention=p < 0.5,
                        input_sha256="0" * 64,
                        latency_ms=1.0,
                    )
                )
            Suggestion.objects.bulk_create(suggestions)
            # What inference does after storing suggestions: keep each study's urgency.
            study_urgency_refresh(study_ids=[s.instance.series.study_id for s in suggestions])
            # A third already reviewed, as in a working department.
            reviewed = [s for s in suggestions if rng.random() < 0.33]
            reviews = Review.objects.bulk_create(
                [
                    Review(
                        instance=s.instance, suggestion=s, action="accept", finding=s.top_finding
                    )
                    for s in reviewed
                ]
            )
            ReadingState.objects.bulk_create(
                [ReadingState(instance=r.instance, status="reviewed", label=r) for r in reviews]
            )
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return time.perf_counter() - began


def _measure(n_requests: int) -> list[tuple[str, float, float, int]]:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = User.objects.filter(username="bench-doctor").first()
    if user is None:
        user = User.objects.create_user("bench-doctor")  # force_login: no password
        user.groups.add(Group.objects.get(name="doctor"))
    client = Client()
    client.force_login(user)
    out = []
    per = max(1, n_requests // len(QUERIES))
    for query in QUERIES:
        client.get("/cases/" + query)  # warm the plan and caches
        times = []
        for _ in range(per):
            began = time.perf_counter()
            response = client.get("/cases/" + query)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as ctx:
            client.get("/cases/" + query)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        out.append((query or "(default: awaiting)", statistics.median(times), p95, len(ctx)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--page-size", type=int, default=25)
    args = parser.parse_args()
    os.environ["MEDASSIST_WORKLIST_PAGE_SIZE"] = str(args.page_size)
    _setup(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    from django.conf import settings

    settings.MEDASSIST_WORKLIST_PAGE_SIZE = args.page_size
    settings.ALLOWED_HOSTS = ["*"]
    done = 0
    print(f"{'studies':>8}  {'filter':<44} {'p50 ms':>7} {'p95 ms':>7} {'queries':>7}")
    for size in [int(s) for s in args.sizes.split(",")]:
        fill = _fill(done, size)
        done = size
        rows = _measure(args.requests)
        for query, p50, p95, nq in rows:
            print(f"{size:>8}  {query:<44} {p50:>7.1f} {p95:>7.1f} {nq:>7}")
        all_p95 = max(r[2] for r in rows)
        print(f"{size:>8}  worst p95 {all_p95:.1f} ms; filled in {fill:.1f} s", flush=True)


if __name__ == "__main__":
    main()
