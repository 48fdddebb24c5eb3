"""Test data: factory_boy factories for rows, and builders for DICOM files.

DICOM files are built with the same synthetic generator the demo uses, at 64 pixels so that
ingesting and rendering them costs milliseconds.
"""

from __future__ import annotations

import io
from typing import Any

import factory
import numpy as np
import pydicom
from django.contrib.auth.models import AbstractBaseUser
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from diagnosis.registry.models import ModelVersion, Task
from finetune.models import TrainingRun
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.ml.synthetic import FINDINGS, dicom_bytes, synthetic_dicom

SMALL = 64


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A registry row only: no weights file exists, so it can be shown but not run."""

    class Meta:
        model = ModelVersion

    task = Task.IMAGE
    version = factory.Sequence(lambda n: n + 1)
    weights_key = factory.LazyAttribute(lambda o: f"models/image/fake-v{o.version}.pt")
    weights_sha256 = "0" * 64
    labels = list(FINDINGS)
    image_size = SMALL
    preprocess_version = "test"
    metrics = factory.LazyFunction(lambda: {"accuracy": 0.8, "macro_f1": 0.75, "n": 4})
    training_summary = factory.LazyFunction(lambda: {"n_train": 8})


class TrainingRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingRun

    task = Task.IMAGE
    trigger = TrainingRun.Trigger.MANUAL


def synthetic_dataset(
    seed: int, *, finding: str = "nodule", patient_id: str | None = None, **kwargs: Any
) -> pydicom.Dataset:
    """A small synthetic DICOM dataset; ``seed`` fixes its pixels, fresh UIDs every call."""
    return synthetic_dicom(
        finding=finding,
        patient_id=patient_id or f"TEST-{seed}",
        patient_name=f"Synthetic^Test{seed}",
        size=SMALL,
        rng=np.random.default_rng(seed),
        **kwargs,
    )


def synthetic_file(seed: int, **kwargs: Any) -> bytes:
    """The bytes of a valid DICOM Part 10 file holding a small synthetic chest image."""
    return dicom_bytes(synthetic_dataset(seed, **kwargs))


def unmarked_file(seed: int) -> bytes:
    """A valid file whose header carries no SYNTHETIC mark, as a real scanner's would."""
    ds = synthetic_dataset(seed)
    ds.StudyDescription = "Chest PA"
    ds.SeriesDescription = "CR chest"
    ds.ImageComments = ""
    return dicom_bytes(ds)


def file_without_pixels() -> bytes:
    """A conformant Part 10 file with every UID but no image in it (e.g. a stray SR)."""
    meta = FileMetaDataset()
    uid = generate_uid()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "NOPIX-1"
    ds.Modality = "CT"
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def truncated_file(seed: int) -> bytes:
    """The first half of a valid file: header intact, pixel data cut short."""
    data = synthetic_file(seed)
    return data[: len(data) // 2]


def ingested_instance(seed: int, *, by: AbstractBaseUser | None = None, **kwargs: Any) -> Instance:
    """Store a small synthetic file through the ordinary ingest service."""
    return instance_ingest(data=synthetic_file(seed, **kwargs), uploaded_by=by).instance


def ingested_shifted_instances(
    n: int,
    *,
    patient_id: str = "HOSP-0001",
    seed: int = 0,
    findings: list[str] | None = None,
    modality: str = "DX",
    by: AbstractBaseUser | None = None,
) -> list[Instance]:
    """Ingest ``n`` domain-shifted stand-ins for a hospital's radiographs of one patient.

    One study and one series, instances numbered 1..n, each stored through the ordinary
    ingest service. The files are marked as real acquisitions (see
    :func:`medassist.ml.synthetic.shifted_dicom`), so the study and the patient are stored
    with ``is_synthetic`` False. ``findings`` (the ground truth the caller keeps) defaults
    to ``n`` codes in the shifted label mix; ``seed`` fixes the pixels and the findings.
    """
    from medassist.ml.synthetic import shifted_dicom, shifted_findings

    rng = np.random.default_rng(seed)
    findings = findings if findings is not None else shifted_findings(n, rng=rng)
    if len(findings) != n:
        raise ValueError(f"{len(findings)} findings given for {n} images")
    study_uid, series_uid = generate_uid(), generate_uid()
    return [
        instance_ingest(
            data=dicom_bytes(
                shifted_dicom(
                    finding=finding,
                    patient_id=patient_id,
                    patient_name="Doe^Jane",
                    study_uid=study_uid,
                    series_uid=series_uid,
                    instance_number=number,
                    size=SMALL,
                    rng=rng,
                    modality=modality,
                )
            ),
            uploaded_by=by,
        ).instance
        for number, finding in enumerate(findings, start=1)
    ]
