"""Settings refuse to start on a value they cannot be sure of, with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _check(**env: str) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py check`` in a fresh process with these environment variables."""
    clean = {k: v for k, v in os.environ.items() if k != "MEDASSIST_ENV"}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("spelling", ["Production", "prod", "PRODUCTION", "staging", " "])
def test_an_unknown_environment_name_refuses_to_start_and_says_which(spelling: str) -> None:
    done = _check(MEDASSIST_ENV=spelling, DEBUG="")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert f"MEDASSIST_ENV={spelling!r}" in last
    assert "development, test, production" in last
    # It did not quietly run the checks in development mode.
    assert "System check identified" not in done.stdout


@pytest.mark.parametrize("name", ["development", "test"])
def test_the_known_non_production_names_start(name: str) -> None:
    done = _check(MEDASSIST_ENV=name)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "System check identified no issues" in done.stdout


@pytest.mark.parametrize("kind", ["fine_tuned", "Frozen-Encoder", "frozen"])
def test_an_unknown_triage_model_kind_refuses_to_start_and_says_which(kind: str) -> None:
    done = _check(MEDASSIST_TRIAGE_MODEL=kind)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert f"MEDASSIST_TRIAGE_MODEL must be frozen-encoder or fine-tuned, got {kind!r}" in last


def test_a_negative_web_thread_count_refuses_to_start() -> None:
    done = _check(MEDASSIST_WEB_TORCH_THREADS="-1")
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "MEDASSIST_WEB_TORCH_THREADS=-1" in last
