"""Arrival to suggestion: how long after a pushed study's last image every image of it has
the AI's suggestion, with the inference worker idle and while it is busy with earlier studies.

A benchmark script, not a test: it prints figures. See bench/README.md. In short::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/arrival.py \\
        --n 500

It creates (and afterwards drops) a scratch PostgreSQL database ``medassist_arrival``, starts
its own ``redis-server``, MedAssist as docker/compose.yaml runs it (gunicorn, the C-STORE
listener ``manage.py dicom_scp``, a Celery worker on the ``inference`` queue and one on the
``default`` queue, one process each), and a tiny synthetic image champion (``demo_seed``
with ``MEDASSIST_IMAGE_SIZE`` = ``--image-size``: the model's compute is measured, not
assumed). The study quiet period is the production default (``MEDASSIST_STUDY_QUIET_SECONDS``,
10 s) unless ``--quiet`` says otherwise. Then, for each path of ``--paths``:

- ``idle``: one study of ``--n`` CT images (512 x 512) pushed while the worker has nothing
  to do;
- ``busy``: ``--busy`` studies of ``--n`` images pushed one after the other, the next one
  as soon as the previous one is stored, so the later ones arrive while the worker computes
  the earlier ones; the last one is measured.

C-STORE pushes with DCMTK's ``storescu`` (one association; pynetdicom if DCMTK is missing),
STOW-RS with 5 clients of 10 images per request. For the measured study the script prints
the seconds from its last image stored (the push's end) to: its inference requests queued
(the quiet period, then the stability check on the ``default`` queue), its first image
claimed by the worker, and its last suggestion stored; the worker's compute for it (from
its first claim to its last suggestion); the time it waited behind earlier studies (from
its requests queued until the worker finished the images it had claimed before them); and
what is left once the quiet period, that wait and its own compute are taken away: the
scheduling overhead (stability check and wake-up delays), which the goal bounds at 10 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from faults import Redis, Worker, stack_env, tiny_stack_seed  # noqa: E402
from ingest import (  # noqa: E402
    _admin,
    _with_db,
    medassist_server,
    run_c_store,
    run_stow,
    series_of,
)

ARRIVAL_DB = "medassist_arrival"
PATHS = ("c-store", "stow-rs")


def _study_times(study_uid: str, n: int, deadline: float) -> dict[str, datetime] | None:
    """Wait until the study's ``n`` images each have a suggestion (None past ``deadline``,
    a ``time.monotonic()``), then the database's times of its requests and suggestions."""
    from django.db import connection
    from django.db.models import Max, Min

    from diagnosis.inference.models import InferenceRequest, Suggestion

    while time.monotonic() < deadline:
        done = (
            Suggestion.objects.filter(instance__series__study__study_instance_uid=study_uid)
            .values("instance_id")
            .distinct()
            .count()
        )
        if done >= n:
            break
        time.sleep(0.2)
    else:
        return None
    mine = InferenceRequest.objects.filter(instance__series__study__study_instance_uid=study_uid)
    requests = mine.aggregate(queued=Min("created_at"), claimed=Min("claimed_at"))
    last = Suggestion.objects.filter(
        instance__series__study__study_instance_uid=study_uid
    ).aggregate(last=Max("created_at"))["last"]
    # When the worker finished the earlier studies' images it had claimed before this one's.
    earlier = (
        InferenceRequest.objects.exclude(pk__in=mine.values("pk"))
        .filter(claimed_at__lt=requests["claimed"])
        .aggregate(done=Max("finished_at"))["done"]
    )
    connection.close()
    return {**requests, "last": last, "earlier_done": earlier}


def _push(path: str, server, files: list[bytes], folder: Path) -> None:  # type: ignore[no-untyped-def]
    if path == "c-store":
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, data in enumerate(files):
            target = folder / f"{i:05d}.dcm"
            target.write_bytes(data)
            paths.append(target)
        ok, error = run_c_store(server, paths)
    else:
        ok, error = run_stow(server, files, clients=5, batch=10)
    if ok != len(files):
        raise SystemExit(f"{path}: {ok} of {len(files)} stored: {error}")


def _study_uid(files: list[bytes]) -> str:
    import io

    import pydicom

    return str(pydicom.dcmread(io.BytesIO(files[0]), stop_before_pixels=True).StudyInstanceUID)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="images per study")
    parser.add_argument("--busy", type=int, default=3, help="studies pushed back to back")
    parser.add_argument("--paths", default="c-store,stow-rs", help="c-store, stow-rs")
    parser.add_argument("--image-size", type=int, default=64, help="MEDASSIST_IMAGE_SIZE")
    parser.add_argument("--quiet", type=float, default=10.0, help="study quiet period, s")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per study")
    args = parser.parse_args()
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    for path in paths:
        if path not in PATHS:
            raise SystemExit(f"unknown path {path!r}; choose from {', '.join(PATHS)}")

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    tmp = Path(tempfile.mkdtemp(prefix="medassist-arrival-"))
    redis = Redis(tmp)
    redis.start()
    env = stack_env(
        tmp,
        _with_db(server_url, ARRIVAL_DB),
        redis.port,
        MEDASSIST_IMAGE_SIZE=str(args.image_size),
        MEDASSIST_STUDY_QUIET_SECONDS=str(args.quiet),
        MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL="false",
    )
    os.environ.update(env)
    _admin(server_url, f"DROP DATABASE IF EXISTS {ARRIVAL_DB} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {ARRIVAL_DB}")
    rows: list[tuple[str, str, dict[str, float]]] = []
    try:
        import django

        django.setup()
        token = tiny_stack_seed("arrival")
        celery = [sys.executable, "-m", "celery", "-A", "medassist", "worker", "--concurrency",
                  "1", "--loglevel", "WARNING"]  # fmt: skip
        with medassist_server(env, tmp, token, 2, 1) as server:
            inference = Worker([*celery, "-Q", "inference", "-n", "inference@%h"], env,
                               tmp / "inference.log")  # fmt: skip
            default = Worker([*celery, "-Q", "default", "-n", "default@%h"], env,
                             tmp / "default.log")  # fmt: skip
            time.sleep(8)  # the workers' imports
            load = os.getloadavg()[0]
            print(
                f"# {os.cpu_count()} CPUs, load average {load:.2f}; {args.n} CT images a study;"
                f" quiet period {args.quiet:g} s; image model input {args.image_size} px;"
                " gunicorn 2 workers, 1 listener, Celery: 1 inference + 1 default process",
                flush=True,
            )
            # A first study warms the worker (model loaded, first batch), as in a running
            # hospital; it is not measured.
            warm = series_of("ct", 20, f"warm-{uuid.uuid4().hex[:8]}")
            _push("c-store", server, warm, tmp / "warm")
            _study_times(_study_uid(warm), 20, time.monotonic() + args.deadline)
            for path in paths:
                for scenario, count in (("idle", 1), ("busy", args.busy)):
                    pushed_at = 0.0
                    uid = ""
                    for k in range(count):
                        files = series_of("ct", args.n, f"{scenario}-{k}-{uuid.uuid4().hex[:8]}")
                        _push(path, server, files, tmp / f"{path}-{scenario}-{k}")
                        pushed_at = time.time()
                        uid = _study_uid(files)
                    times = _study_times(uid, args.n, time.monotonic() + args.deadline)
                    if times is None:
                        raise SystemExit(f"{path} {scenario}: not all suggested in time")
                    # Let the worker finish everything before the next scenario.
                    time.sleep(1)
                    queued = times["queued"].timestamp() - pushed_at
                    claimed = times["claimed"].timestamp() - pushed_at
                    last = times["last"].timestamp() - pushed_at
                    earlier = times["earlier_done"]
                    # Waiting behind earlier studies: from the requests queued until the
                    # worker finished what it had claimed before them (none when idle).
                    behind = (earlier.timestamp() - pushed_at - queued) if earlier else 0.0
                    behind = min(max(behind, 0.0), claimed - queued)
                    figures = {
                        "queued": queued,
                        "claimed": claimed,
                        "last": last,
                        "waited": behind,
                        "compute": last - claimed,
                        "overhead": last - args.quiet - behind - (last - claimed),
                    }
                    rows.append((path, scenario, figures))
                    print(
                        f"{path} {scenario}: all {args.n} suggested {last:.1f} s after the last"
                        f" image (queued at {queued:.1f} s, first claimed at {claimed:.1f} s)",
                        flush=True,
                    )
            inference.stop()
            default.stop()
    finally:
        redis.kill()
        _admin(server_url, f"DROP DATABASE IF EXISTS {ARRIVAL_DB} WITH (FORCE)")
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        "\npath     worker  last suggestion  requests queued  waited behind earlier"
        "  own compute  overhead (goal <= 10 s)"
    )
    for path, scenario, f in rows:
        print(
            f"{path:8} {scenario:6} {f['last']:14.1f}s {f['queued']:15.1f}s"
            f" {f['waited']:21.1f}s {f['compute']:11.1f}s {f['overhead']:9.1f}s"
        )
    overheads = [f["overhead"] for _, _, f in rows]
    if overheads:
        print(
            f"largest overhead {max(overheads):.1f} s; median {statistics.median(overheads):.1f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
