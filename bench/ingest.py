"""Ingest throughput: instances/s and MB/s through each way an image reaches MedAssist.

A benchmark script, not a test: it prints figures. See bench/README.md. In short::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py

It creates (and afterwards drops) a scratch PostgreSQL database ``medassist_bench`` on the
server of ``DATABASE_URL``, migrates it, and measures three workloads

- ``ct``:     512 x 512, 16-bit CT, uncompressed (Explicit VR Little Endian, ~0.5 MB)
- ``ct-rle``: the same image RLE Lossless compressed
- ``cr``:     2500 x 2000, 16-bit CR, uncompressed (10 MB)

through three paths

- ``in-process``: ``imaging.ingest.services.instance_ingest`` called in a loop (the baseline)
- ``stow-rs``:    POST /imaging/dicomweb/studies to gunicorn (``--workers``), ``--clients``
                  concurrent HTTP clients, one instance per request
- ``c-store``:    ``manage.py dicom_scp``, ``--clients`` concurrent associations

Every instance has fresh UIDs (a re-sent instance is a cheap no-op and would flatter the
figures); one workload is one CT/CR series of one patient, as a modality sends it. Inference
is enqueued on commit as in production: to a Redis DB with ``--redis-url`` (the bench purges
its queues afterwards, so give it a DB nobody else uses), else to a filesystem broker inside
the bench's temporary folder. Clients run on the same machine as the servers and share its
cores, as they would on a one-box install.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "medassist_bench"
BENCH_AE = "BENCH_SCU"
STOW_PATH = "/imaging/dicomweb/studies"


@dataclass
class Result:
    workload: str
    path: str
    n: int
    ok: int
    seconds: float
    megabytes: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.megabytes * self.ok / self.n / self.seconds if self.seconds else 0.0


# --- Workloads ---------------------------------------------------------------------------


def _base_dataset(kind: str):  # type: ignore[no-untyped-def]
    """One image of the workload; ``series_of`` gives it fresh UIDs per instance."""
    import numpy as np
    from pydicom.uid import RLELossless

    from medassist.ml.synthetic import chest_phantom, synthetic_dicom

    rng = np.random.default_rng(0)
    if kind in ("ct", "ct-rle"):
        ds = synthetic_dicom(
            finding="nodule",
            patient_id=f"BENCH-{kind}",
            patient_name="Bench^CT",
            size=512,
            rng=rng,
            modality="CT",
        )
        if kind == "ct-rle":
            ds.compress(RLELossless)
        return ds
    ds = synthetic_dicom(
        finding="opacity", patient_id="BENCH-cr", patient_name="Bench^CR", size=64, rng=rng
    )
    # 2500 x 2000 x 16 bit = 10 MB: a 1000-pixel phantom upscaled to 2000 and padded with air.
    small = chest_phantom("opacity", size=1000, rng=rng)
    big = np.kron(small, np.ones((2, 2), dtype=np.uint16))
    pixels = np.pad(big, ((250, 250), (0, 0)), constant_values=int(small.min()))
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = [0.15, 0.15]
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def series_of(kind: str, n: int, path: str) -> list[bytes]:
    """``n`` Part 10 files of one series, fresh Study/Series/SOP Instance UIDs."""
    from pydicom.uid import generate_uid

    from medassist.ml.synthetic import dicom_bytes

    ds = _base_dataset(kind)
    ds.PatientID = f"BENCH-{kind}-{path}"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    files = []
    for number in range(1, n + 1):
        uid = generate_uid()
        ds.SOPInstanceUID = uid
        ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.InstanceNumber = number
        files.append(dicom_bytes(ds))
    return files


# --- Scratch database and servers --------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(predicate: Callable[[], bool], what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while not predicate():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 90 s")
        time.sleep(0.3)


@contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- The three paths ---------------------------------------------------------------------


def run_in_process(files: list[bytes]) -> tuple[int, str]:
    from imaging.ingest.errors import IngestError
    from imaging.ingest.services import instance_ingest

    ok, errors = 0, []
    for data in files:
        try:
            instance_ingest(data=data, uploaded_by=None, source="bench")
            ok += 1
        except IngestError as exc:
            errors.append(str(exc))
    return ok, errors[0] if errors else ""


def run_stow(files: list[bytes], *, base: str, token: str, clients: int) -> tuple[int, str]:
    import requests

    def post(data: bytes, session: requests.Session) -> str:
        boundary = uuid.uuid4().hex
        body = b"".join(
            (
                f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode(),
                data,
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        response = session.post(
            base + STOW_PATH,
            data=body,
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
                "Authorization": f"Token {token}",
            },
            timeout=300,
        )
        return "" if response.status_code == 200 else f"{response.status_code} {response.text}"

    return _concurrently(files, clients, requests.Session, post)


def run_c_store(paths: list[Path], *, port: int, clients: int) -> tuple[int, str]:
    from pydicom import dcmread
    from pynetdicom import AE, _config

    # Send the files' encoded data sets as they are, as a PACS does, instead of decoding and
    # re-encoding them in this (client) process.
    _config.STORE_SEND_CHUNKED_DATASET = True
    header = dcmread(paths[0], stop_before_pixels=True)

    def connect():  # type: ignore[no-untyped-def]
        ae = AE(ae_title=BENCH_AE)
        ae.add_requested_context(header.SOPClassUID, header.file_meta.TransferSyntaxUID)
        assoc = ae.associate("127.0.0.1", port, ae_title="MEDASSIST", max_pdu=0)
        if not assoc.is_established:
            raise RuntimeError("the C-STORE listener refused the association")
        return assoc

    def send(path: Path, assoc) -> str:  # type: ignore[no-untyped-def]
        status = assoc.send_c_store(path)
        code = status.get("Status")
        return "" if code == 0 else f"0x{code or 0:04X} {status.get('ErrorComment', '')}"

    def release(assoc) -> None:  # type: ignore[no-untyped-def]
        assoc.release()

    return _concurrently(paths, clients, connect, send, release)


def _concurrently(items, clients, open_client, send, close=None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """Each of ``clients`` threads opens one client and sends its share of ``items``."""
    shares = [items[i::clients] for i in range(clients)]
    errors: list[str] = []
    lock = threading.Lock()

    def worker(share):  # type: ignore[no-untyped-def]
        client = open_client()
        ok = 0
        try:
            for item in share:
                error = send(item, client)
                if error:
                    with lock:
                        errors.append(error)
                else:
                    ok += 1
        finally:
            if close is not None:
                close(client)
        return ok

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        ok = sum(pool.map(worker, shares))
    return ok, errors[0][:200] if errors else ""


# --- Main --------------------------------------------------------------------------------


def machine_info(db_url: str) -> list[str]:
    import django
    import psycopg
    import pydicom
    import pynetdicom

    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.1f} GiB RAM"
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    pg = row[0] if row else "?"
    return [
        f"CPU: {cpu}, {os.cpu_count()} logical cores (os.sched_getaffinity: "
        f"{len(os.sched_getaffinity(0))}){memory}",
        f"{platform.platform()}, Python {platform.python_version()}, Django {django.__version__}, "
        f"pydicom {pydicom.__version__}, pynetdicom {pynetdicom.__version__}, PostgreSQL {pg}",
    ]


def print_table(results: list[Result], info: list[str], args: argparse.Namespace) -> None:
    baseline = {r.workload: r.per_second for r in results if r.path == "in-process"}
    print()
    print("MedAssist ingest benchmark")
    for line in info:
        print("  " + line)
    print(
        f"  gunicorn workers: {args.workers}, concurrent clients: {args.clients}; "
        "clients share the machine with the servers"
    )
    print()
    head = (
        f"{'workload':<8} {'path':<11} {'n':>5} {'ok':>5} {'s':>7} "
        f"{'inst/s':>8} {'MB/s':>7} {'x base':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        base = baseline.get(r.workload)
        ratio = f"{r.per_second / base:.2f}" if base else "-"
        print(
            f"{r.workload:<8} {r.path:<11} {r.n:>5} {r.ok:>5} {r.seconds:>7.2f} "
            f"{r.per_second:>8.1f} {r.mb_per_second:>7.1f} {ratio:>7}"
        )
    notes = [f"{r.workload}/{r.path}: {r.note}" for r in results if r.note]
    if notes:
        print()
        for note in notes:
            print("  note: " + note)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-ct", type=int, default=200, help="instances of the CT workloads")
    parser.add_argument("--n-cr", type=int, default=20, help="instances of the 10 MB CR")
    parser.add_argument("--clients", type=int, default=5, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (2-4)")
    parser.add_argument(
        "--workloads", default="ct,ct-rle,cr", help="comma-separated: ct, ct-rle, cr"
    )
    parser.add_argument(
        "--paths", default="in-process,stow-rs,c-store", help="comma-separated paths"
    )
    parser.add_argument("--redis-url", default="", help="broker for the inference jobs")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    args = parser.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = _with_db(server_url, BENCH_DB)
    tmp = Path(tempfile.mkdtemp(prefix="medassist-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "medassist.settings",
        "DATABASE_URL": db_url,
        "MEDASSIST_VAR_DIR": str(tmp / "var"),
        "MEDIA_ROOT": str(tmp / "media"),
        "MEDASSIST_ENV": "development",
        "DEBUG": "false",  # DEBUG keeps every SQL query in memory
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    os.environ.update(env)
    if not args.redis_url:
        os.environ.pop("REDIS_URL", None)

    # pynetdicom logs every refused probe while the listener starts, and every association.
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    load_before = os.getloadavg()
    print(f"Creating database {BENCH_DB} and migrating it...", flush=True)
    _admin(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {BENCH_DB}")
    results: list[Result] = []
    try:
        import django

        django.setup()
        from django.contrib.auth.models import Group, User
        from django.core.management import call_command
        from django.db import connections
        from rest_framework.authtoken.models import Token

        from medassist.roles import Role

        call_command("migrate", verbosity=0, interactive=False)
        user = User.objects.create_user(username="bench", password=uuid.uuid4().hex)
        user.groups.add(Group.objects.get(name=Role.DOCTOR))
        token = Token.objects.create(user=user).key
        info = machine_info(db_url)

        for workload in workloads:
            n = args.n_cr if workload == "cr" else args.n_ct
            for path in paths:
                # The first instances of each run are a warm-up outside the clock (worker
                # processes finishing their imports, decoders loading, connections opening).
                warm = args.clients
                files = series_of(workload, n + warm, path)
                megabytes = sum(len(f) for f in files[warm:]) / 1e6
                print(f"{workload} via {path}: {n} x {megabytes / n:.2f} MB ...", flush=True)
                result = _run_path(path, files, warm=warm, env=env, tmp=tmp, token=token, args=args)
                result.workload, result.megabytes = workload, megabytes
                results.append(result)
        load_after = os.getloadavg()
        info.append(
            f"load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}; "
            "anything above 0 is other work competing for the same cores"
        )
        print_table(results, info, args)
        if args.redis_url:
            from medassist.celery import app

            app.control.purge()
        connections.close_all()
    finally:
        if not args.keep:
            _admin(server_url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"Kept database {BENCH_DB} and files under {tmp}")
    return 0


def _run_path(
    path: str,
    files: list[bytes],
    *,
    warm: int,
    env: dict[str, str],
    tmp: Path,
    token: str,
    args: argparse.Namespace,
) -> Result:
    n = len(files) - warm
    if path == "in-process":
        run_in_process(files[:warm])
        start = time.perf_counter()
        ok, error = run_in_process(files[warm:])
        return Result("", path, n, ok, time.perf_counter() - start, 0.0, error)

    if path == "stow-rs":
        if not (ROOT / "imaging" / "dicomweb" / "views.py").exists():
            return Result("", path, n, 0, 0.0, 0.0, "no STOW-RS endpoint in this checkout yet")
        port = _free_port()
        gunicorn = [
            sys.executable,
            "-m",
            "gunicorn",
            "medassist.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--timeout",
            "300",
            # Load Django once in the master, so no worker is still importing when the clock
            # starts; steady state is what is measured.
            "--preload",
        ]
        base = f"http://127.0.0.1:{port}"
        with _process(gunicorn, env, tmp / "gunicorn.log") as proc:
            _wait(lambda: _accepts(port), "gunicorn", proc)
            run_stow(files[:warm], base=base, token=token, clients=args.clients)
            start = time.perf_counter()
            ok, error = run_stow(files[warm:], base=base, token=token, clients=args.clients)
            seconds = time.perf_counter() - start
        return Result("", path, n, ok, seconds, 0.0, error)

    if path == "c-store":
        folder = tmp / f"send-{uuid.uuid4().hex}"
        folder.mkdir()
        paths = []
        for i, data in enumerate(files):
            paths.append(folder / f"{i}.dcm")
            paths[-1].write_bytes(data)
        port = _free_port()
        scp = [
            sys.executable,
            "manage.py",
            "dicom_scp",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--allowed-ae-titles",
            BENCH_AE,
        ]
        with _process(scp, env, tmp / "scp.log") as proc:
            _wait(lambda: _echoes(port), "the C-STORE listener", proc)
            run_c_store(paths[:warm], port=port, clients=args.clients)
            start = time.perf_counter()
            ok, error = run_c_store(paths[warm:], port=port, clients=args.clients)
            seconds = time.perf_counter() - start
        shutil.rmtree(folder, ignore_errors=True)
        return Result("", path, n, ok, seconds, 0.0, error)
    raise SystemExit(f"unknown path {path!r}")


def _echoes(port: int) -> bool:
    """C-ECHO, not a bare TCP probe: a connection that never associates holds a thread."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title=BENCH_AE)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title="MEDASSIST")
    if not assoc.is_established:
        return False
    ok = assoc.send_c_echo().get("Status") == 0
    assoc.release()
    return ok


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    raise SystemExit(main())
