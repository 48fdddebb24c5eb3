"""Non-image DICOM objects for tests: built with pydicom, or taken from pydicom's test files.

Every builder returns the bytes of a conformant Part 10 file with no pixel data. ``study`` lets
a test file the object in a study it already holds (the patient ID must then match).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
TWELVE_LEAD_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
GRAYSCALE_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11.1"
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"

# A minimal but valid one-page PDF.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass(frozen=True)
class StudyIds:
    """Where to file an object: the study's UID and its patient."""

    study_uid: str
    patient_id: str = "NONIMAGE-1"
    patient_name: str = "Test^Nonimage"


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _base(sop_class: str, modality: str, study: StudyIds | None, syntax: str) -> Dataset:
    study = study or StudyIds(study_uid=generate_uid())
    uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = uid
    meta.TransferSyntaxUID = UID(syntax)
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = UID(sop_class)
    ds.SOPInstanceUID = uid
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = study.patient_id
    ds.PatientName = study.patient_name
    ds.StudyDate = "20261128"
    ds.Modality = modality
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    return ds


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def basic_text_sr(
    study: StudyIds | None = None, *, text: str = "No acute findings.", syntax: str = ""
) -> bytes:
    """A Basic Text SR: a report titled "Radiology Report" with one finding in words."""
    ds = _base(BASIC_TEXT_SR, "SR", study, syntax or ExplicitVRLittleEndian)
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("18748-4", "LN", "Radiology Report")])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    finding = Dataset()
    finding.RelationshipType = "CONTAINS"
    finding.ValueType = "TEXT"
    finding.ConceptNameCodeSequence = Sequence([_code("121071", "DCM", "Finding")])
    finding.TextValue = text
    ds.ContentSequence = Sequence([finding])
    return _bytes(ds)


def encapsulated_pdf(study: StudyIds | None = None, *, title: str = "Discharge letter") -> bytes:
    """An Encapsulated PDF document."""
    ds = _base(ENCAPSULATED_PDF, "DOC", study, ExplicitVRLittleEndian)
    ds.DocumentTitle = title
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.BurnedInAnnotation = "YES"
    ds.ConceptNameCodeSequence = Sequence()
    ds.EncapsulatedDocument = PDF + (b"\0" if len(PDF) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(PDF)
    return _bytes(ds)


def ecg_waveform(study: StudyIds | None = None, *, seconds: float = 1.0) -> bytes:
    """A 12-lead ECG: one multiplex group, 12 channels of 16-bit samples at 500 Hz."""
    ds = _base(TWELVE_LEAD_ECG, "ECG", study, ExplicitVRLittleEndian)
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    samples = int(500 * seconds)
    t = np.arange(samples) / 500.0
    signal = np.stack([(np.sin(2 * np.pi * 1.2 * t + i) * 800).astype("<i2") for i in range(12)])
    group = Dataset()
    group.MultiplexGroupTimeOffset = 0.0
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = 12
    group.NumberOfWaveformSamples = samples
    group.SamplingFrequency = 500.0
    group.MultiplexGroupLabel = "RHYTHM"
    channels = []
    for lead in leads:
        channel = Dataset()
        channel.ChannelSourceSequence = Sequence([_code("5.6.3-9-1", "SCPECG", f"Lead {lead}")])
        channel.ChannelSensitivity = 1.0
        channel.ChannelSensitivityUnitsSequence = Sequence([_code("uV", "UCUM", "microvolt")])
        channel.ChannelSampleSkew = 0.0
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = Sequence(channels)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    # Samples are interleaved channel by channel.
    group.WaveformData = signal.T.astype("<i2").tobytes()
    ds.WaveformSequence = Sequence([group])
    ds.AcquisitionDateTime = "20261128101500"
    return _bytes(ds)


def presentation_state(
    study: StudyIds | None = None, *, of: tuple[str, str, str] | None = None
) -> bytes:
    """A Grayscale Softcopy Presentation State; ``of`` = (series UID, SOP class, SOP UID)
    of the image it applies to."""
    ds = _base(GRAYSCALE_PRESENTATION_STATE, "PR", study, ExplicitVRLittleEndian)
    ds.ContentLabel = "LUNG_WINDOW"
    ds.ContentDescription = "Lung window for the nodule"
    ds.PresentationCreationDate = "20261128"
    ds.PresentationCreationTime = "101500"
    if of is not None:
        image = Dataset()
        image.ReferencedSOPClassUID = of[1]
        image.ReferencedSOPInstanceUID = of[2]
        series = Dataset()
        series.SeriesInstanceUID = of[0]
        series.ReferencedImageSequence = Sequence([image])
        ds.ReferencedSeriesSequence = Sequence([series])
    voi = Dataset()
    voi.WindowCenter = -600
    voi.WindowWidth = 1500
    ds.SoftcopyVOILUTSequence = Sequence([voi])
    ds.PresentationLUTShape = "IDENTITY"
    return _bytes(ds)


def key_object_selection(study: StudyIds | None = None) -> bytes:
    """A Key Object Selection document ("Of Interest") with no references."""
    ds = _base(KEY_OBJECT_SELECTION, "KO", study, ExplicitVRLittleEndian)
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = Sequence([_code("113000", "DCM", "Of Interest")])
    ds.ContentSequence = Sequence()
    return _bytes(ds)


# --- pydicom's own non-image test files -----------------------------------------------------


def pydicom_file(name: str) -> bytes:
    return Path(str(get_testdata_file(name))).read_bytes()


def _as_part10(name: str, syntax: str) -> bytes:
    """A test file stored without a file meta group, wrapped as the Part 10 file it should be."""
    ds = pydicom.dcmread(str(get_testdata_file(name)), force=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta = meta
    return _bytes(ds)


# (id, builder, SOP class name, modality) for every kind of non-image object the tests store.
NON_IMAGE_FILES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("basic-text-sr", lambda: basic_text_sr(), "Basic Text SR Storage", "SR"),
    (
        "basic-text-sr-implicit",
        lambda: basic_text_sr(syntax=ImplicitVRLittleEndian),
        "Basic Text SR Storage",
        "SR",
    ),
    ("encapsulated-pdf", lambda: encapsulated_pdf(), "Encapsulated PDF Storage", "DOC"),
    ("ecg-12-lead", lambda: ecg_waveform(), "12-lead ECG Waveform Storage", "ECG"),
    (
        "presentation-state",
        lambda: presentation_state(),
        "Grayscale Softcopy Presentation State Storage",
        "PR",
    ),
    (
        "key-object-selection",
        lambda: key_object_selection(),
        "Key Object Selection Document Storage",
        "KO",
    ),
    ("reportsi.dcm", lambda: pydicom_file("reportsi.dcm"), "Basic Text SR Storage", "SR"),
    (
        "reportsi_with_empty_number_tags.dcm",
        lambda: pydicom_file("reportsi_with_empty_number_tags.dcm"),
        "Basic Text SR Storage",
        "SR",
    ),
    ("test-SR.dcm", lambda: pydicom_file("test-SR.dcm"), "Comprehensive SR Storage", "SR"),
    ("rtplan.dcm", lambda: pydicom_file("rtplan.dcm"), "RT Plan Storage", "RTPLAN"),
    (
        "waveform_ecg.dcm",
        lambda: pydicom_file("waveform_ecg.dcm"),
        "12-lead ECG Waveform Storage",
        "ECG",
    ),
    (
        "rtstruct.dcm",
        lambda: _as_part10("rtstruct.dcm", ImplicitVRLittleEndian),
        "RT Structure Set Storage",
        "RTSTRUCT",
    ),
    (
        "ExplVR_BigEndNoMeta.dcm",
        lambda: _as_part10("ExplVR_BigEndNoMeta.dcm", ExplicitVRBigEndian),
        "RT Ion Plan Storage",
        "RTPLAN",
    ),
]
