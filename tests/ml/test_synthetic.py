"""Behaviour of the synthetic chest phantoms and DICOM files."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import ComputedRadiographyImageStorage, CTImageStorage, ExplicitVRLittleEndian

from medassist.ml.display import dicom_to_display
from medassist.ml.synthetic import (
    FINDINGS,
    SYNTHETIC_COMMENT,
    chest_phantom,
    dicom_bytes,
    synthetic_dicom,
)


@pytest.mark.parametrize(
    ("modality", "sop_class"), [("CR", ComputedRadiographyImageStorage), ("CT", CTImageStorage)]
)
def test_synthetic_dicom_is_valid_part10_and_round_trips_through_pydicom(
    modality: str, sop_class: str
) -> None:
    ds = synthetic_dicom(
        finding="opacity",
        patient_id="SYN-1",
        patient_name="Synthetic^One",
        study_uid="1.2.3.4",
        size=64,
        rng=np.random.default_rng(0),
        modality=modality,
    )
    raw = dicom_bytes(ds)
    assert raw[:128] == b"\0" * 128 and raw[128:132] == b"DICM"

    back = pydicom.dcmread(io.BytesIO(raw))  # no force=True: must be a conformant file
    assert back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert back.SOPClassUID == back.file_meta.MediaStorageSOPClassUID == sop_class
    assert back.SOPInstanceUID == back.file_meta.MediaStorageSOPInstanceUID
    assert back.StudyInstanceUID == "1.2.3.4" and back.SeriesInstanceUID
    assert back.PatientID == "SYN-1" and str(back.PatientName) == "Synthetic^One"
    assert back.Modality == modality and (back.Rows, back.Columns) == (64, 64)
    assert back.BitsAllocated == 16 and back.PixelRepresentation == 0
    assert back.PhotometricInterpretation == "MONOCHROME2"
    assert len(back.PatientBirthDate) == 8 and back.PatientSex in {"F", "M"}
    np.testing.assert_array_equal(back.pixel_array, ds.pixel_array)
    np.testing.assert_array_equal(dicom_to_display(back), dicom_to_display(ds))


def test_synthetic_images_are_marked_synthetic() -> None:
    for finding in FINDINGS:
        ds = synthetic_dicom(
            finding=finding,
            patient_id="SYN-2",
            patient_name="Synthetic^Two",
            size=48,
            rng=np.random.default_rng(1),
        )
        assert "SYNTHETIC" in ds.StudyDescription and "SYNTHETIC" in ds.SeriesDescription
        assert ds.ImageComments == SYNTHETIC_COMMENT
        assert ds.BurnedInAnnotation == "NO"
        # The ground truth stays with the caller: nothing in the file gives the finding away.
        raw = dicom_bytes(ds).lower()
        assert not any(name.encode() in raw for name in FINDINGS)


def test_each_finding_changes_the_lungs_and_normal_has_none() -> None:
    normal = chest_phantom("normal", size=128, rng=np.random.default_rng(3)).astype(float)
    for finding in ("opacity", "nodule"):
        img = chest_phantom(finding, size=128, rng=np.random.default_rng(3)).astype(float)
        # Same seed, same anatomy: the only large difference is the lesion.
        assert (img - normal).max() > 400
    assert chest_phantom("normal", size=64, rng=np.random.default_rng(0)).dtype == np.uint16
    with pytest.raises(ValueError):
        chest_phantom("fracture", rng=np.random.default_rng(0))
