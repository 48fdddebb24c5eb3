"""Bombs cost nothing, on every path: each file of the hostile corpus (tests/imaging/bombs.py)
is sent to the upload page, the REST API, STOW-RS and the C-STORE listener by a separate
client process, exactly as a remote sender would, and the server's own peak memory growth and
the time to its answer are measured.

The server (pytest-django's live server and the listener) runs in this process, so its peak
resident memory is this process's: Linux resets that peak when "5" is written to
/proc/self/clear_refs, and reports it as VmHWM. Every refusal must come within 2 s, with at
most 300 MB of peak memory growth, and store nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.authtoken.models import Token

from imaging.ingest.scp import ScpConfig, scp_start
from imaging.models import Instance, NonImageInstance
from tests.factories import file_without_pixels
from tests.imaging.bombs import NAMES, build_corpus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

MAX_GROWTH_MB = 300
MAX_SECONDS = 2.0
HERE = Path(__file__).parent
CSRF = "b0mbtestcsrftoken0123456789abcde"  # any 32 letters and digits: cookie and header agree
PATHS = ["upload", "rest", "stow", "c-store"]


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(key)


@dataclass
class Measured:
    outcome: dict[str, object]
    growth_mb: float
    seconds: float


def measure(send: Callable[[], dict[str, object]]) -> Measured:
    """Run ``send`` (a client in another process) and this process's peak memory growth."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("this kernel does not let a process reset its peak memory (clear_refs)")
    base = _status_mb("VmRSS")
    outcome = send()
    growth = _status_mb("VmHWM") - base
    return Measured(outcome, round(growth, 1), float(outcome["seconds"]))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("bombs"))


@pytest.fixture
def listener_port(postgres: None) -> Iterator[int]:
    config = ScpConfig(port=0, bind_address="127.0.0.1", allowed_calling_ae_titles=("TEST_PACS",))
    server = scp_start(config=config)
    yield int(server.server_address[1])
    ae = server.ae
    server.shutdown()
    deadline = time.monotonic() + 10
    while ae.active_associations and time.monotonic() < deadline:
        time.sleep(0.05)


def _curl(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}",
            "-H",
            "Expect:",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, seconds = [*done.stdout.split(), "0", "0"][:2]
    return {"http": int(code), "seconds": float(seconds), "error": done.stderr.strip()}


def _stow_body(path: Path, folder: Path) -> Path:
    """The file as the one part of a STOW-RS request, written to disk."""
    body = folder / f"{path.name}.stow"
    with body.open("wb") as out, path.open("rb") as src:
        out.write(b"--b0mb\r\nContent-Type: application/dicom\r\n\r\n")
        while chunk := src.read(1 << 20):
            out.write(chunk)
        out.write(b"\r\n--b0mb--\r\n")
    return body


@pytest.fixture
def senders(
    live_server, doctor: User, listener_port: int, tmp_path: Path
) -> dict[str, Callable[[Path], dict[str, object]]]:  # type: ignore[no-untyped-def]
    token = Token.objects.create(user=doctor).key
    browser = Client()
    browser.force_login(doctor)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    cookies = f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={CSRF}"
    url = live_server.url

    def upload(path: Path) -> dict[str, object]:
        kind = "application/zip" if path.suffix == ".zip" else "application/dicom"
        return _curl(
            "-b", cookies, "-H", f"X-CSRFToken: {CSRF}",
            "-F", f"file=@{path};type={kind}", f"{url}/imaging/upload/",
        )  # fmt: skip

    def rest(path: Path) -> dict[str, object]:
        return _curl(
            "-H", f"Authorization: Token {token}", "-H", "Content-Type: application/dicom",
            "--data-binary", f"@{path}", f"{url}/imaging/api/instances/",
        )  # fmt: skip

    def stow(path: Path) -> dict[str, object]:
        body = _stow_body(path, tmp_path)
        return _curl(
            "-H", f"Authorization: Token {token}",
            "-H", 'Content-Type: multipart/related; type="application/dicom"; boundary=b0mb',
            "--data-binary", f"@{body}", f"{url}/imaging/dicomweb/studies",
        )  # fmt: skip

    def c_store(path: Path) -> dict[str, object]:
        done = subprocess.run(
            [sys.executable, str(HERE / "cstore_send.py"), str(listener_port), "MEDASSIST", path],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    paths = {"upload": upload, "rest": rest, "stow": stow, "c-store": c_store}
    # One refused file through each path first: the first request of a server pays for
    # what it loads once (modules, templates), which is not what a bomb costs.
    warm_up = tmp_path / "warm-up.dcm"
    warm_up.write_bytes(file_without_pixels())
    for send in paths.values():
        send(warm_up)
    return paths


def _refused(path_name: str, outcome: dict[str, object], *, archive: bool = False) -> bool:
    if path_name == "c-store":
        # A failure status, or no answer at all: the listener aborted the association.
        return outcome.get("status") != 0
    http = int(outcome["http"])  # type: ignore[arg-type]
    # A .zip gets the upload summary page (200), its bomb listed as rejected.
    return 400 <= http < 500 or (archive and http == 200)


def _accepted(path_name: str, outcome: dict[str, object]) -> bool:
    if path_name == "c-store":
        return outcome.get("status") == 0
    return int(outcome["http"]) in {200, 201, 302}  # type: ignore[arg-type]


def _stored() -> int:
    return Instance.objects.count() + NonImageInstance.objects.count()


CASES = [(bomb, path) for bomb in NAMES for path in PATHS if bomb != "zip-bomb" or path == "upload"]


@pytest.mark.parametrize(("bomb", "path_name"), CASES, ids=[f"{b}-{p}" for b, p in CASES])
def test_a_bomb_is_refused_fast_without_memory_on_every_path(
    corpus: dict[str, Path],
    senders: dict[str, Callable[[Path], dict[str, object]]],
    bomb: str,
    path_name: str,
) -> None:
    measured = measure(lambda: senders[path_name](corpus[bomb]))

    print(f"\n{bomb:>18} via {path_name:<8} {measured.growth_mb:7.1f} MB {measured.seconds:6.2f} s "
          f"{measured.outcome}")  # fmt: skip
    assert _refused(path_name, measured.outcome, archive=bomb == "zip-bomb"), measured.outcome
    assert _stored() == 0
    assert measured.growth_mb < MAX_GROWTH_MB
    assert measured.seconds < MAX_SECONDS


@pytest.mark.parametrize("path_name", PATHS)
def test_a_file_inflating_to_just_under_its_limit_costs_no_memory_in_proportion(
    corpus: dict[str, Path],
    senders: dict[str, Callable[[Path], dict[str, object]]],
    path_name: str,
) -> None:
    # 262 kB that inflate to 250 MB, under the 256 MiB limit: a valid file, stored.
    measured = measure(lambda: senders[path_name](corpus["deflate-under-limit"]))

    print(f"\ndeflate-under-limit via {path_name:<8} {measured.growth_mb:7.1f} MB "
          f"{measured.seconds:6.2f} s {measured.outcome}")  # fmt: skip
    assert _accepted(path_name, measured.outcome), measured.outcome
    assert _stored() == 1
    assert measured.growth_mb < MAX_GROWTH_MB
