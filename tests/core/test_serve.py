"""`make run`'s command: the site answers before anything slow, with a worker per queue.

Runs ``manage.py serve --no-demo`` as a newcomer would, on the embedded defaults (SQLite and
the filesystem broker, in a folder of its own), and stops it with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_the_url_once_the_site_answers_and_runs_a_worker_per_queue(
    tmp_path: Path,
) -> None:
    port = _free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "MEDIA_ROOT"}
    }
    env.update(MEDASSIST_VAR_DIR=str(tmp_path / "var"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-demo", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "MedAssist is at" in line:
                break
            assert line or proc.poll() is None, "".join(lines)[-3000:]
        else:
            raise AssertionError("no URL in 120 s:\n" + "".join(lines)[-3000:])
        # Printed only once the server answers: the very next request succeeds.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
        started = "".join(lines)
        assert "a worker for each of default, inference, training" in started
        children = subprocess.run(
            ["ps", "-o", "args=", "--ppid", str(proc.pid)], capture_output=True, text=True
        ).stdout
        for queue in ("default", "inference", "training"):
            assert f"-Q {queue} " in children, children
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Stopped." in out
