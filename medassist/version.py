"""The code version recorded with every suggestion (provenance).

``MEDASSIST_CODE_VERSION`` (set by the image build) wins; otherwise the git commit of the
checkout, read once; otherwise the package version alone.
"""

from __future__ import annotations

import os
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@cache
def code_version() -> str:
    explicit = os.environ.get("MEDASSIST_CODE_VERSION")
    if explicit:
        return explicit
    try:
        package = version("medassist")
    except PackageNotFoundError:
        package = "0+unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return package
    return f"{package}+g{commit}" if commit else package
