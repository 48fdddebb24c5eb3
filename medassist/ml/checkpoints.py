"""Writing and hashing checkpoint files, shared by the image and the text models."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(payload: dict[str, Any], path: Path) -> str:
    """``torch.save`` ``payload`` to ``path`` via a temporary file and a rename.

    A reader never sees a half-written checkpoint, and a failure leaves no temporary file.
    Returns the written file's hex SHA-256.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return sha256_file(path)


def read_checked(path: Path, *, expected_sha256: str | None = None) -> Any:
    """The payload of the checkpoint at ``path`` (tensors and plain values only, on the CPU),
    after checking its SHA-256 against ``expected_sha256`` when given (before unpickling).

    Raises:
        ValueError: the SHA-256 differs.
        FileNotFoundError: no file at ``path``.
    """
    path = Path(path)
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual.lower() != expected_sha256.lower():
            raise ValueError(
                f"checkpoint {path.name} has SHA-256 {actual}, expected {expected_sha256}"
            )
    return torch.load(path, map_location="cpu", weights_only=True)
