"""Ingest throughput: instances/s through each way an image reaches MedAssist, side by side
with Orthanc on the same files, machine and client code.

A benchmark script, not a test: it prints figures. See bench/README.md. In short::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ingest.py \\
        --n 500 --rounds 3 --redis-url redis://127.0.0.1:6379/5

It creates (and afterwards drops) a scratch PostgreSQL database (``--db-name``) on the server
of ``DATABASE_URL``, migrates it, starts MedAssist in its production shape (gunicorn with
``--workers`` workers, the C-STORE listener ``manage.py dicom_scp``; no inference worker, so
inference requests only queue) and, when the ``Orthanc`` binary is installed (Debian packages
``orthanc`` and ``orthanc-dicomweb``), an Orthanc with a temporary configuration of its own
(storage and SQLite index in the bench's temporary folder, free ports, the DICOMweb plugin, no
authentication). Then, for each path, ``--rounds`` times, alternating which server goes first:

- ``stow-rs``: ``--clients`` concurrent HTTP clients, ``--batch`` instances per STOW-RS request
  (MedAssist ``POST /imaging/dicomweb/studies``, Orthanc ``POST /dicom-web/studies``)
- ``rest``:    ``--clients`` concurrent HTTP clients, one file per request (MedAssist
  ``POST /imaging/api/instances/`` with a token, Orthanc ``POST /instances``)
- ``rest-floor``: the same requests with a 200-byte body that is no DICOM file, which each
  server refuses at once: refused requests/s, the cost of each stack's own request handling
  (for MedAssist gunicorn, Django's middleware and DRF's token check) before any ingest work
- ``c-store``: one association sending every file (``storescu`` when DCMTK is installed, else
  pynetdicom), to ``manage.py dicom_scp`` and to Orthanc's DICOM port
- ``in-process``: ``instance_ingest`` in a loop in this process (MedAssist only)
- ``in-process-batch``: ``instances_ingest`` on ``--batch`` files at a time in this process,
  as a STOW-RS request files them (MedAssist only): against ``in-process``, what one call
  costs whatever its number of files

Every run sends fresh files (new Study/Series/SOP Instance UIDs: a re-sent instance is a cheap
no-op for both servers and would flatter the figures), and both servers get the very same
files in a round. The figure per path is the median over the rounds, and the ratio
MedAssist/Orthanc is given from the medians and per round.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import logging
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "medassist_bench"
BENCH_AE = "BENCH_SCU"
MEDASSIST_AE = "MEDASSIST"
ORTHANC_AE = "ORTHANC"
ORTHANC_PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc/plugins")
PATHS = ("stow-rs", "rest", "rest-floor", "c-store", "in-process", "in-process-batch")
IN_PROCESS = ("in-process", "in-process-batch")


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


_BASES: dict[str, object] = {}


def series_of(kind: str, n: int, tag: str) -> list[bytes]:
    """``n`` Part 10 files of one series of one patient, fresh Study/Series/SOP UIDs."""
    import copy

    from pydicom.uid import generate_uid

    from medassist.ml.synthetic import dicom_bytes

    if kind not in _BASES:
        _BASES[kind] = _base_dataset(kind)
    ds = copy.deepcopy(_BASES[kind])
    ds.PatientID = f"BENCH-{kind}-{tag}"  # type: ignore[attr-defined]
    ds.StudyInstanceUID = generate_uid()  # type: ignore[attr-defined]
    ds.SeriesInstanceUID = generate_uid()  # type: ignore[attr-defined]
    files = []
    for number in range(1, n + 1):
        uid = generate_uid()
        ds.SOPInstanceUID = uid  # type: ignore[attr-defined]
        ds.file_meta.MediaStorageSOPInstanceUID = uid  # type: ignore[attr-defined]
        ds.InstanceNumber = number  # type: ignore[attr-defined]
        files.append(dicom_bytes(ds))  # type: ignore[arg-type]
    return files


# --- Processes ---------------------------------------------------------------------------


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
def _process(
    args: list[str], env: dict[str, str] | None, log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def _echoes(port: int, called: str) -> bool:
    """C-ECHO, not a bare TCP probe: a connection that never associates holds a thread."""
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = AE(ae_title=BENCH_AE)
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        return False
    ok = assoc.send_c_echo().get("Status") == 0
    assoc.release()
    return ok


# --- Servers -----------------------------------------------------------------------------


@dataclass
class Server:
    """Where one server takes each path, and how a client authenticates."""

    name: str
    base: str  # http://127.0.0.1:port
    stow_path: str
    rest_path: str
    rest_ok: tuple[int, ...]
    dicom_port: int
    ae_title: str
    headers: dict[str, str] = field(default_factory=dict)
    count: Callable[[], int] | None = None
    listener: subprocess.Popen[bytes] | None = None  # MedAssist's C-STORE listener process


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or (
        "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None
    )


def orthanc_dicomweb_plugin() -> str | None:
    for folder in ORTHANC_PLUGIN_DIRS:
        found = sorted(Path(folder).glob("libOrthancDicomWeb.so*"))
        if found:
            return str(found[0])
    return None


def orthanc_version(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.splitlines()[0].strip() if out.stdout else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


@contextmanager
def orthanc_server(binary: str, folder: Path) -> Iterator[Server]:
    """Orthanc with its own storage and SQLite index under ``folder``; stopped on exit.

    Its defaults otherwise (fsync of every stored file, ``SyncStorageArea``), as the Debian
    package runs it; no authentication, so the same client code sends to both servers.
    """
    import requests

    folder.mkdir(parents=True, exist_ok=True)
    http_port, dicom_port = _free_port(), _free_port()
    plugin = orthanc_dicomweb_plugin()
    config = {
        "Name": "medassist-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": ORTHANC_AE,
        "DicomServerEnabled": True,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpServerEnabled": True,
        "Plugins": [plugin] if plugin else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    path = folder / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    base = f"http://127.0.0.1:{http_port}"

    def up() -> bool:
        try:
            return requests.get(base + "/system", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def count() -> int:
        return int(requests.get(base + "/statistics", timeout=30).json()["CountInstances"])

    with _process([binary, str(path)], None, folder / "orthanc.log", cwd=folder) as proc:
        _wait(up, "Orthanc", proc)
        _wait(lambda: _echoes(dicom_port, ORTHANC_AE), "Orthanc's DICOM port", proc)
        yield Server(
            name="Orthanc",
            base=base,
            stow_path="/dicom-web/studies" if plugin else "",
            rest_path="/instances",
            rest_ok=(200,),
            dicom_port=dicom_port,
            ae_title=ORTHANC_AE,
            count=count,
        )


@contextmanager
def medassist_server(
    env: dict[str, str], tmp: Path, token: str, workers: int, scp_processes: int
) -> Iterator[Server]:
    """gunicorn (``workers``, ``--preload``) and ``manage.py dicom_scp``; stopped on exit."""
    from imaging.models import Instance

    http_port, dicom_port = _free_port(), _free_port()
    gunicorn = [
        sys.executable,
        "-m",
        "gunicorn",
        "medassist.wsgi",
        "--bind",
        f"127.0.0.1:{http_port}",
        "--workers",
        str(workers),
        "--timeout",
        "300",
        # Load Django once in the master, so no worker is still importing when the clock
        # starts; steady state is what is measured.
        "--preload",
    ]
    scp = [
        sys.executable,
        "manage.py",
        "dicom_scp",
        "--port",
        str(dicom_port),
        "--bind",
        "127.0.0.1",
        "--allowed-ae-titles",
        BENCH_AE,
        "--processes",
        str(scp_processes),
    ]
    with ExitStack() as stack:
        web = stack.enter_context(_process(gunicorn, env, tmp / "gunicorn.log"))
        listener = stack.enter_context(_process(scp, env, tmp / "scp.log"))
        _wait(lambda: _accepts(http_port), "gunicorn", web)
        _wait(lambda: _echoes(dicom_port, MEDASSIST_AE), "the C-STORE listener", listener)
        yield Server(
            name="MedAssist",
            base=f"http://127.0.0.1:{http_port}",
            stow_path="/imaging/dicomweb/studies",
            rest_path="/imaging/api/instances/",
            rest_ok=(200, 201),
            dicom_port=dicom_port,
            ae_title=MEDASSIST_AE,
            headers={"Authorization": f"Token {token}"},
            count=lambda: Instance.objects.count(),
            listener=listener,
        )


# --- Clients (the same code for both servers) --------------------------------------------


def _concurrently(items, clients, open_client, send, close=None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``clients`` threads, each with one client, take items from a shared queue; returns the
    number of instances sent successfully (``send`` returns (ok count, error))."""
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(reversed(items))

    def worker() -> int:
        client = open_client()
        ok = 0
        try:
            while True:
                with lock:
                    if not queue:
                        break
                    item = queue.pop()
                sent, error = send(item, client)
                ok += sent
                if error:
                    with lock:
                        errors.append(error)
        finally:
            if close is not None:
                close(client)
        return ok

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        ok = sum(pool.map(lambda _: worker(), range(clients)))
    return ok, errors[0][:300] if errors else ""


def run_stow(server: Server, files: list[bytes], *, clients: int, batch: int) -> tuple[int, str]:
    import requests

    requests_ = [files[i : i + batch] for i in range(0, len(files), batch)]

    def post(group: list[bytes], session: requests.Session) -> tuple[int, str]:
        boundary = uuid.uuid4().hex
        chunks = []
        for data in group:
            chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            chunks.append(data)
            chunks.append(b"\r\n")
        chunks.append(f"--{boundary}--\r\n".encode())
        response = session.post(
            server.base + server.stow_path,
            data=b"".join(chunks),
            headers={
                **server.headers,
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
            timeout=300,
        )
        if response.status_code != 200:
            return 0, f"{response.status_code} {response.text[:300]}"
        body = response.json()
        failed = body.get("00081198", {}).get("Value") or []
        stored = body.get("00081199", {}).get("Value") or []
        if failed or len(stored) != len(group):
            return len(stored), f"{len(failed)} of {len(group)} failed: {response.text[:300]}"
        return len(group), ""

    return _concurrently(requests_, clients, requests.Session, post)


def _rest_post(server: Server, session, data: bytes):  # type: ignore[no-untyped-def]
    """One raw ``application/dicom`` body to the server's REST upload."""
    return session.post(
        server.base + server.rest_path,
        data=data,
        headers={**server.headers, "Content-Type": "application/dicom"},
        timeout=300,
    )


def run_rest(server: Server, files: list[bytes], *, clients: int) -> tuple[int, str]:
    import requests

    def post(data: bytes, session: requests.Session) -> tuple[int, str]:
        response = _rest_post(server, session, data)
        if response.status_code not in server.rest_ok:
            return 0, f"{response.status_code} {response.text[:300]}"
        return 1, ""

    return _concurrently(files, clients, requests.Session, post)


def run_rest_floor(server: Server, n: int, *, clients: int) -> tuple[int, str]:
    """The REST path's floor: ``n`` requests whose 200-byte body is no DICOM file, refused by
    the server as soon as it looks (a 4xx answer is the success counted). What a request costs
    in the server's own stack (HTTP, sign-in, routing; for MedAssist gunicorn, Django's
    middleware and DRF's token check) before any ingest work."""
    import requests

    junk = b"not a DICOM file " * 12

    def post(_: int, session: requests.Session) -> tuple[int, str]:
        response = _rest_post(server, session, junk)
        if not 400 <= response.status_code < 500:
            return 0, f"{response.status_code} {response.text[:300]}"
        return 1, ""

    return _concurrently(list(range(n)), clients, requests.Session, post)


def run_c_store(server: Server, paths: list[Path]) -> tuple[int, str]:
    """One association sending every file, as a modality or PACS pushes a series."""
    storescu = shutil.which("storescu")
    if storescu:
        proc = subprocess.run(
            [
                storescu,
                "-aet",
                BENCH_AE,
                "-aec",
                server.ae_title,
                "127.0.0.1",
                str(server.dicom_port),
                *map(str, paths),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        # storescu logs a refused instance and goes on; what was stored is counted on the
        # server (see ``timed``).
        error = f"storescu exited {proc.returncode}: " if proc.returncode else ""
        if proc.returncode or proc.stderr.strip():
            error += proc.stderr.strip()[-300:]
        return len(paths), error
    return _pynetdicom_store(server, paths)


def _pynetdicom_store(server: Server, paths: list[Path]) -> tuple[int, str]:
    from pydicom import dcmread
    from pynetdicom import AE, _config

    # Send the files' encoded data sets as they are, as a PACS does, instead of decoding and
    # re-encoding them in this (client) process.
    _config.STORE_SEND_CHUNKED_DATASET = True
    header = dcmread(paths[0], stop_before_pixels=True)
    ae = AE(ae_title=BENCH_AE)
    ae.add_requested_context(header.SOPClassUID, header.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title=server.ae_title, max_pdu=0)
    if not assoc.is_established:
        return 0, "the listener refused the association"
    ok, errors = 0, []
    try:
        for path in paths:
            status = assoc.send_c_store(path)
            code = status.get("Status")
            if code == 0:
                ok += 1
            else:
                errors.append(f"0x{code or 0:04X} {status.get('ErrorComment', '')}")
    finally:
        assoc.release()
    return ok, errors[0] if errors else ""


def run_in_process(files: list[bytes], batch: int = 1) -> tuple[int, str]:
    from imaging.ingest.services import instances_ingest

    ok, errors = 0, []
    for start in range(0, len(files), batch):
        for outcome in instances_ingest(files=files[start : start + batch], source="bench"):
            if isinstance(outcome, Exception):
                errors.append(str(outcome))
            else:
                ok += 1
    return ok, errors[0] if errors else ""


# --- Runs --------------------------------------------------------------------------------


@dataclass
class Run:
    server: str
    workload: str
    path: str
    round: int
    n: int
    ok: int
    seconds: float
    megabytes: float
    error: str = ""

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def send(
    path: str, server: Server | None, files: list[bytes], folder: Path, args
) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    if path == "in-process":
        return run_in_process(files)
    if path == "in-process-batch":
        return run_in_process(files, batch=args.batch)
    assert server is not None
    if path == "stow-rs":
        if not server.stow_path:
            return 0, "no STOW-RS endpoint (Orthanc's DICOMweb plugin is not installed)"
        return run_stow(server, files, clients=args.clients, batch=args.batch)
    if path == "rest":
        return run_rest(server, files, clients=args.clients)
    if path == "rest-floor":
        return run_rest_floor(server, len(files), clients=args.clients)
    if path == "c-store":
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, data in enumerate(files):
            paths.append(folder / f"{i:05d}.dcm")
            paths[-1].write_bytes(data)
        try:
            return run_c_store(server, paths)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    raise SystemExit(f"unknown path {path!r}")


def timed(
    path: str, server: Server | None, files: list[bytes], folder: Path, args
) -> tuple[int, str, float]:  # type: ignore[no-untyped-def]
    if path == "c-store":
        # The files go to disk first, outside the clock (storescu reads them from there).
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, data in enumerate(files):
            paths.append(folder / f"{i:05d}.dcm")
            paths[-1].write_bytes(data)
        assert server is not None
        before = server.count() if server.count is not None else None
        start = time.perf_counter()
        try:
            ok, error = run_c_store(server, paths)
        finally:
            seconds = time.perf_counter() - start
            shutil.rmtree(folder, ignore_errors=True)
        if before is not None and server.count is not None:
            ok = server.count() - before  # what the server says it stored
        return ok, error, seconds
    start = time.perf_counter()
    ok, error = send(path, server, files, folder, args)
    return ok, error, time.perf_counter() - start


# --- Report ------------------------------------------------------------------------------


def machine_info(db_url: str, orthanc: str) -> list[str]:
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
        f"Orthanc: {orthanc}; C-STORE client: "
        + ("storescu (DCMTK)" if shutil.which("storescu") else "pynetdicom"),
    ]


def print_report(runs: list[Run], info: list[str], args: argparse.Namespace) -> None:
    print()
    print(
        "MedAssist ingest benchmark"
        + (" against Orthanc" if any(r.server == "Orthanc" for r in runs) else "")
    )
    for line in info:
        print("  " + line)
    print(
        f"  MedAssist: gunicorn {args.workers} workers, {args.scp_processes} listener "
        f"process(es), no inference worker; clients: {args.clients} concurrent "
        f"({args.batch} instances per STOW-RS request), on the same machine"
    )
    print()
    head = (
        f"{'workload':<8} {'path':<16} {'rounds':>6}  {'MedAssist inst/s':<24} "
        f"{'Orthanc inst/s':<24} {'ratio':>6}  per-round ratios"
    )
    print(head)
    print("-" * len(head))
    keys = sorted({(r.workload, r.path) for r in runs}, key=lambda k: (k[0], PATHS.index(k[1])))

    def cell(rs: list[Run]) -> str:
        if not rs:
            return "-"
        median = statistics.median(r.per_second for r in rs)
        return f"{median:.1f} ({' / '.join(f'{r.per_second:.0f}' for r in rs)})"

    for workload, path in keys:
        mine = [r for r in runs if (r.workload, r.path, r.server) == (workload, path, "MedAssist")]
        theirs = [r for r in runs if (r.workload, r.path, r.server) == (workload, path, "Orthanc")]
        m = statistics.median(r.per_second for r in mine) if mine else 0.0
        o = statistics.median(r.per_second for r in theirs) if theirs else 0.0
        ratio = f"{m / o:.2f}" if o else "-"
        by_round = {r.round: r for r in theirs}
        rounds = " ".join(
            f"{r.per_second / by_round[r.round].per_second:.2f}"
            for r in mine
            if r.round in by_round and by_round[r.round].per_second
        )
        print(
            f"{workload:<8} {path:<16} {len(mine):>6}  {cell(mine):<24} {cell(theirs):<24} "
            f"{ratio:>6}  {rounds}"
        )
    errors = [r for r in runs if r.error or r.ok != r.n]
    if errors:
        print()
        for r in errors:
            print(
                f"  note: {r.server} {r.workload}/{r.path} round {r.round}: {r.ok} of {r.n} "
                f"ok; {r.error}"
            )


# --- Main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="instances per run (CT workloads)")
    parser.add_argument("--n-cr", type=int, default=20, help="instances per run of the 10 MB CR")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per path")
    parser.add_argument("--clients", type=int, default=5, help="concurrent HTTP clients")
    parser.add_argument("--batch", type=int, default=10, help="instances per STOW-RS request")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--scp-processes", type=int, default=1, help="C-STORE listener processes")
    parser.add_argument("--workloads", default="ct", help="comma-separated: ct, ct-rle, cr")
    parser.add_argument(
        "--paths", default="stow-rs,rest,c-store", help=f"comma-separated: {', '.join(PATHS)}"
    )
    parser.add_argument(
        "--orthanc",
        choices=("auto", "yes", "no"),
        default="auto",
        help="run Orthanc side by side (auto: when the Orthanc binary is installed)",
    )
    parser.add_argument("--redis-url", default="", help="broker for the inference wake-ups")
    parser.add_argument("--db-name", default=BENCH_DB, help="scratch database (dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    args = parser.parse_args()
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    for path in paths:
        if path not in PATHS:
            raise SystemExit(f"unknown path {path!r}; choose from {', '.join(PATHS)}")
    binary = orthanc_binary() if args.orthanc != "no" else None
    if args.orthanc == "yes" and binary is None:
        raise SystemExit("Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)")

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_name = args.db_name
    db_url = _with_db(server_url, db_name)
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
    print(f"uptime before: {_uptime()}", flush=True)
    print(f"Creating database {db_name} and migrating it...", flush=True)
    _admin(server_url, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {db_name}")
    runs: list[Run] = []
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
        info = machine_info(db_url, orthanc_version(binary) if binary else "not installed")
        connections.close_all()

        with ExitStack() as stack:
            servers: list[Server | None] = []
            server_paths = [p for p in paths if p not in IN_PROCESS]
            if server_paths:
                servers.append(
                    stack.enter_context(
                        medassist_server(env, tmp, token, args.workers, args.scp_processes)
                    )
                )
                if binary is not None:
                    servers.append(stack.enter_context(orthanc_server(binary, tmp / "orthanc")))
            for workload in workloads:
                n = args.n_cr if workload == "cr" else args.n
                for path in paths:
                    targets = [None] if path in IN_PROCESS else servers
                    # Warm-up, outside the clock: processes finish their imports, decoders
                    # load, connections open.
                    warm = series_of(workload, args.clients * args.batch, f"warm-{path}")
                    for target in targets:
                        send(path, target, warm, tmp / "send", args)
                    for round_ in range(1, args.rounds + 1):
                        files = series_of(workload, n, f"{path}-{round_}")
                        megabytes = sum(len(f) for f in files) / 1e6
                        # Alternate who goes first, so a trend in the machine's load (or in
                        # a server's growing index) does not favour one side.
                        order = targets if round_ % 2 else list(reversed(targets))
                        for target in order:
                            name = target.name if target is not None else "MedAssist"
                            ok, error, seconds = timed(path, target, files, tmp / "send", args)
                            run = Run(
                                name, workload, path, round_, n, ok, seconds, megabytes, error
                            )
                            runs.append(run)
                            print(
                                f"{workload} {path} round {round_}: {name} {run.per_second:.1f} "
                                f"inst/s ({ok}/{n} in {seconds:.2f} s)"
                                + (f" - {error[:200]}" if error else ""),
                                flush=True,
                            )
            counts = []
            for target in servers:
                if target is not None and target.count is not None:
                    counts.append(f"{target.name} holds {target.count()} instances")
            connections.close_all()
        load_after = os.getloadavg()
        info.append(
            f"load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f} "
            f"on {os.cpu_count()} cores; uptime after: {_uptime()}"
        )
        if counts:
            info.append("; ".join(counts))
        print_report(runs, info, args)
        if args.redis_url:
            from medassist.celery import app

            app.control.purge()
    finally:
        from django.db import connections as conns

        conns.close_all()
        if not args.keep:
            _admin(server_url, f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"Kept database {db_name} and files under {tmp}")
    return 0


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        load = os.getloadavg()
        return f"load average: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
