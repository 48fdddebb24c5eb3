"""The PACS export's test archive: a real pynetdicom Storage SCP in a thread, and cases to
review (stored images with a suggestion and a heatmap)."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from PIL import Image
from pynetdicom import AE, AllStoragePresentationContexts, evt

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from tests.factories import ModelVersionFactory, ingested_instance

ARCHIVE_AE = "TEST_PACS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Archive:
    """A Storage SCP that keeps what it receives as Part 10 files; ``answer`` is its status."""

    port: int
    folder: Path
    answer: int = 0x0000
    received: list[Path] = field(default_factory=list)
    calling: list[str] = field(default_factory=list)
    server: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _store(self, event: evt.Event) -> int:
        if self.answer != 0x0000:
            return self.answer
        ds = event.dataset
        ds.file_meta = event.file_meta
        path = self.folder / f"{len(self.received):03d}-{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        with self.lock:
            self.received.append(path)
            self.calling.append(event.assoc.requestor.ae_title)
        return 0x0000

    def start(self) -> None:
        ae = AE(ae_title=ARCHIVE_AE)
        ae.supported_contexts = AllStoragePresentationContexts
        self.server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
        )

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def datasets(self) -> list[pydicom.Dataset]:
        return [pydicom.dcmread(p) for p in self.received]


@pytest.fixture
def archive(tmp_path: Path, settings: Any) -> Iterator[Archive]:
    folder = tmp_path / "archive"
    folder.mkdir()
    pacs = Archive(port=_free_port(), folder=folder)
    pacs.start()
    settings.MEDASSIST_PACS_SEND = "auto"
    settings.MEDASSIST_PACS_HOST = "127.0.0.1"
    settings.MEDASSIST_PACS_PORT = pacs.port
    settings.MEDASSIST_PACS_AE_TITLE = ARCHIVE_AE
    settings.MEDASSIST_PACS_CALLING_AE_TITLE = "MEDASSIST"
    settings.MEDASSIST_PACS_SECONDARY_CAPTURE = False
    settings.MEDASSIST_PACS_TIMEOUT_SECONDS = 5.0
    settings.MEDASSIST_PACS_RETRY_SECONDS = 60
    settings.MEDASSIST_PACS_MAX_ATTEMPTS = 3
    yield pacs
    pacs.stop()


@pytest.fixture
def version(db: None) -> ModelVersion:
    return ModelVersionFactory(status=ModelVersion.Status.CHAMPION, version=7)


def review_case(version: ModelVersion, *, seed: int = 1, images: int = 1) -> list[Instance]:
    """A study of ``images`` stored images, each with a suggestion (nodule, 0.87) and a heatmap."""
    first = ingested_instance(seed)
    instances = [first]
    for i in range(1, images):
        ds = pydicom.dcmread(io.BytesIO(stored_bytes(first)))
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        ds.PixelData = bytes(reversed(ds.PixelData))
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        instances.append(instance_ingest(data=buf.getvalue(), uploaded_by=None).instance)
    nodule = Finding.objects.get(code="nodule")
    for instance in instances:
        suggestion = Suggestion.objects.create(
            instance=instance,
            model_version=version,
            top_finding=nodule,
            top_probability=0.87,
            probabilities={"nodule": 0.87, "normal": 0.13},
            input_sha256=instance.sha256,
            latency_ms=3.0,
        )
        heat = np.zeros((instance.rows, instance.columns, 4), dtype=np.uint8)
        heat[8:24, 8:24] = (255, 0, 0, 160)
        key = f"saliency/{version.pk}/{instance.sha256}.png"
        path = Path(media_dir()) / key
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(heat, mode="RGBA").save(path)
        Suggestion.objects.filter(pk=suggestion.pk).update(saliency_key=key)
    return instances


def media_dir() -> str:
    from django.conf import settings

    return str(settings.MEDIA_ROOT)


def stored_bytes(instance: Instance) -> bytes:
    return (Path(media_dir()) / instance.storage_key).read_bytes()
