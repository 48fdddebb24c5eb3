"""Hostile files over the network: N seeded mutants through STOW-RS and C-STORE against a
running MedAssist, counting server errors and listener crashes.

A benchmark script, not a test: it prints figures. See bench/README.md. In short::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/fuzz.py \\
        --n 10000 --seed 1 --redis-url redis://127.0.0.1:6379/5

Like bench/ingest.py it creates (and afterwards drops) a scratch database, and starts gunicorn
(``--workers``) and ``manage.py dicom_scp`` itself. The mutants are those of the CI fuzz tests
(tests/imaging/ingest/mutants.py: byte flips, truncations, garbage, huge dimensions, bogus
VRs and lengths, deflate bombs over real and generated files, images and non-image objects),
the same for the same ``--seed``. Half go by STOW-RS, ``--batch`` per request; half by
C-STORE over one association at a time (a new one after an abort). Counted as failures:

- server errors: an HTTP 5xx, a STOW-RS Failure Reason 0x0110 (Processing failure: our side
  failed), a C-STORE status 0xC0FF (the listener's unexpected error);
- listener crashes: the listener process exited, or no longer accepts an association and
  answers C-ECHO (checked every ``--check-every`` mutants and at the end).

Everything else is a refusal with a reason (4xx, A7xx/A9xx/Cxxx), or stored. The label of
each failing mutant is printed, to replay it (``--only``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (  # noqa: E402 (the bench folder is on the path from here on)
    BENCH_AE,
    MEDASSIST_AE,
    Server,
    _admin,
    _echoes,
    _uptime,
    _with_db,
    medassist_server,
)

PROCESSING_FAILURE = 0x0110
INTERNAL_ERROR = 0xC0FF


def stow_request(server: Server, session, files: list[bytes]) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    """POST one STOW-RS request; (HTTP status, Failure Reasons of the refused parts)."""
    boundary = uuid.uuid4().hex
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n"
            for data in files
        )
        + f"--{boundary}--\r\n".encode()
    )
    response = session.post(
        server.base + server.stow_path,
        data=body,
        headers={
            **server.headers,
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
        timeout=300,
    )
    reasons: list[int] = []
    if response.headers.get("Content-Type", "").startswith("application/dicom+json"):
        failed = response.json().get("00081198", {}).get("Value") or []
        reasons = [item.get("00081197", {}).get("Value", [0])[0] for item in failed]
    return response.status_code, reasons


def context_of(data: bytes) -> tuple[str, str] | None:
    """(SOP class, transfer syntax) a sender would negotiate for a file, if its meta says."""
    from imaging.ingest.parsing import read_file_meta

    try:
        meta = read_file_meta(data)
        pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
    except Exception:  # a sender cannot send what it cannot read either
        return None
    ok = all(0 < len(uid) <= 64 and uid.replace(".", "").isdigit() for uid in pair)
    return pair if ok else None


class Listener:
    """C-STORE to the listener, one association at a time, re-associating after an abort."""

    def __init__(self, server: Server, contexts: list[tuple[str, str]], folder: Path) -> None:
        self.server, self.contexts, self.folder = server, contexts, folder
        self.assoc = None

    def send(self, label: str, data: bytes, pair: tuple[str, str]) -> str:
        from pynetdicom import AE

        if self.assoc is None or not self.assoc.is_established:
            ae = AE(ae_title=BENCH_AE)
            for sop_class, syntax in self.contexts:
                ae.add_requested_context(sop_class, syntax)
            self.assoc = ae.associate(
                "127.0.0.1", self.server.dicom_port, ae_title=MEDASSIST_AE, max_pdu=0
            )
            if not self.assoc.is_established:
                return "association refused"
        path = self.folder / "mutant.dcm"
        path.write_bytes(data)
        try:
            answer = self.assoc.send_c_store(path)
        except Exception:  # the client's own reader gave up on it
            return "not sendable"
        status = answer.get("Status") if answer else None
        if status is None:
            return "no answer (aborted)"
        if status == INTERNAL_ERROR:
            return "server error"
        return "stored" if status == 0 else f"0x{status:04X}"

    def close(self) -> None:
        if self.assoc is not None and self.assoc.is_established:
            self.assoc.release()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="mutants in all")
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--batch", type=int, default=5, help="mutants per STOW-RS request")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--check-every", type=int, default=250, help="C-ECHO the listener")
    parser.add_argument("--only", type=int, help="send only this mutant number (replay)")
    parser.add_argument("--redis-url", default="", help="broker for the inference wake-ups")
    parser.add_argument("--db-name", default="medassist_bench_fuzz", help="scratch database")
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    args = parser.parse_args()

    server_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    db_url = _with_db(server_url, args.db_name)
    tmp = Path(tempfile.mkdtemp(prefix="medassist-fuzz-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "medassist.settings",
        "DATABASE_URL": db_url,
        "MEDASSIST_VAR_DIR": str(tmp / "var"),
        "MEDIA_ROOT": str(tmp / "media"),
        "MEDASSIST_ENV": "development",
        "DEBUG": "false",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    os.environ.update(env)
    if not args.redis_url:
        os.environ.pop("REDIS_URL", None)
    logging.getLogger("pynetdicom").setLevel(logging.CRITICAL)
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")

    print(f"uptime before: {_uptime()}", flush=True)
    _admin(server_url, f"DROP DATABASE IF EXISTS {args.db_name} WITH (FORCE)")
    _admin(server_url, f"CREATE DATABASE {args.db_name}")
    try:
        import django

        django.setup()
        import requests
        from django.contrib.auth.models import Group, User
        from django.core.management import call_command
        from django.db import connections
        from rest_framework.authtoken.models import Token

        from medassist.roles import Role
        from tests.imaging.ingest.mutants import mutants

        call_command("migrate", verbosity=0, interactive=False)
        user = User.objects.create_user(username="fuzz", password=uuid.uuid4().hex)
        user.groups.add(Group.objects.get(name=Role.DOCTOR))
        token = Token.objects.create(user=user).key
        connections.close_all()

        print(f"Generating {args.n} mutants (seed {args.seed})...", flush=True)
        corpus = list(mutants(args.seed, args.n))
        numbered = list(enumerate(corpus))
        if args.only is not None:
            numbered = [numbered[args.only]]
        over_stow = [m for m in numbered if m[0] % 2 == 0]
        over_c_store = [m for m in numbered if m[0] % 2 == 1]
        failures: list[str] = []
        stow: Counter[str] = Counter()
        c_store: Counter[str] = Counter()
        crashes = 0
        started = time.perf_counter()
        with ExitStack() as stack:
            server = stack.enter_context(medassist_server(env, tmp, token, args.workers, 1))
            with requests.Session() as session:
                for start in range(0, len(over_stow), args.batch):
                    chunk = over_stow[start : start + args.batch]
                    status, reasons = stow_request(server, session, [d for _, (_, d) in chunk])
                    stow[f"HTTP {status}"] += 1
                    stow["instances"] += len(chunk)
                    stow["requests"] += 1
                    stow["refused"] += len(reasons)
                    if stow["requests"] % 200 == 0:
                        print(f"  STOW-RS: {stow['instances']} sent", flush=True)
                    if status >= 500 or PROCESSING_FAILURE in reasons:
                        stow["server errors"] += 1
                        failures.extend(f"STOW {status}: {label}" for _, (label, _) in chunk)
            stow_seconds = time.perf_counter() - started

            pairs = {n: context_of(data) for n, (_, data) in over_c_store}
            contexts = sorted({p for p in pairs.values() if p is not None})[:120]
            listener = Listener(server, contexts, tmp)
            started = time.perf_counter()
            for count, (number, (label, data)) in enumerate(over_c_store, start=1):
                pair = pairs[number]
                outcome = "not sendable" if pair is None or pair not in contexts else ""
                outcome = outcome or listener.send(label, data, pair)  # type: ignore[arg-type]
                c_store[outcome] += 1
                if count % 1000 == 0:
                    print(f"  C-STORE: {count} sent", flush=True)
                if outcome == "server error":
                    failures.append(f"C-STORE 0xC0FF: {label}")
                check = count % args.check_every == 0 or count == len(over_c_store)
                if check and not (_alive(server) and _echoes(server.dicom_port, MEDASSIST_AE)):
                    crashes += 1
                    failures.append(f"listener down after {label}")
                    break
            listener.close()
            c_store_seconds = time.perf_counter() - started
            stored = server.count() if server.count else 0
            connections.close_all()

        print()
        print(f"Fuzz over the network: {len(numbered)} mutants, seed {args.seed}")
        print(f"  uptime after: {_uptime()}")
        print(
            f"  STOW-RS: {stow['instances']} mutants in {stow['requests']} requests of "
            f"{args.batch} in {stow_seconds:.0f} s; responses "
            f"{json.dumps({k: v for k, v in sorted(stow.items()) if k.startswith('HTTP')})};"
            f" {stow['refused']} refused; server errors: {stow['server errors']}"
        )
        outcomes = {k: v for k, v in sorted(c_store.items()) if k != "server error"}
        print(
            f"  C-STORE: {sum(c_store.values())} mutants in {c_store_seconds:.0f} s; "
            f"{json.dumps(outcomes)}; server errors (0xC0FF): {c_store['server error']}; "
            f"listener crashes: {crashes}"
        )
        print(f"  images stored in all: {stored}")
        for line in failures[:50]:
            print("  FAIL " + line)
        return 1 if failures else 0
    finally:
        from django.db import connections as conns

        conns.close_all()
        if not args.keep:
            _admin(server_url, f"DROP DATABASE IF EXISTS {args.db_name} WITH (FORCE)")
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"Kept database {args.db_name} and files under {tmp}")


def _alive(server: Server) -> bool:
    return server.listener is None or server.listener.poll() is None


if __name__ == "__main__":
    raise SystemExit(main())
