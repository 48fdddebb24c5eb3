"""De-identification by PS3.15 Annex E: every row of Table E.1-1, the options, burned-in text.

Pure DICOM: no database. Real files from pydicom's test data and synthetic ones from the
demo generator (tests.factories).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataset import Dataset
from pydicom.uid import UID, SecondaryCaptureImageStorage, generate_uid

from imaging.deid import (
    BURNED_IN,
    BURNED_IN_UNKNOWN,
    GROUP_ROWS,
    TABLE_E1_1,
    Deidentifier,
    DeidOptions,
    ProfileRow,
    burned_in_reason,
    dataset_file_bytes,
    resolve_basic,
)
from tests.factories import synthetic_dataset

SECRET = "SECRET"
BASIC_ACTIONS = {"X", "Z", "D", "U", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}


def real(name: str) -> pydicom.Dataset:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return pydicom.dcmread(path)


@pytest.fixture(scope="module")
def ct_small() -> pydicom.Dataset:
    return real("CT_small.dcm")


def sample_value(vr: str, tag: int) -> Any:
    """An identifying-looking value of ``vr`` (unique per tag for UIDs)."""
    vr = vr.split(" or ")[0]
    text = {
        "AE": "SECRETAE",
        "AS": "042Y",
        "CS": SECRET,
        "DA": "20200102",
        "DS": "42.5",
        "DT": "20200102101112",
        "IS": "42",
        "PN": f"{SECRET}^Jane",
        "SH": f"{SECRET} DOE",
        "TM": "101112",
        "UR": "http://secret.example/",
    }
    if vr in text:
        return text[vr]
    if vr in {"LO", "LT", "ST", "UC", "UT"}:
        return f"{SECRET} Jane Doe"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.9.7777.{tag}"
    if vr.startswith("O") or vr == "UN":
        return b"SECRET!!"
    if vr in {"FL", "FD"}:
        return 4.25
    if vr == "AT":
        return 0x00100010
    if vr == "SQ":
        item = Dataset()
        item.CodeValue = SECRET
        item.CodingSchemeDesignator = "99SECRET"
        item.CodeMeaning = f"{SECRET} Jane Doe"
        item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.9.7778.{tag}"
        return [item]
    return 42  # US, SS, UL, SL, UV, SV


def with_attribute(base: pydicom.Dataset, row: ProfileRow) -> pydicom.Dataset:
    ds = copy.deepcopy(base)
    vr = dictionary_VR(row.tag).split(" or ")[0]
    value = sample_value(vr, row.tag)
    if row.tag >> 16 == 0x0002:
        ds.file_meta.add_new(row.tag, vr, value)
    else:
        ds.add_new(row.tag, vr, value)
    return ds


def strings_in(elem_value: Any) -> str:
    """Every text and byte value in a (sequence) value, as one string."""
    if (
        isinstance(elem_value, pydicom.Sequence | list)
        and elem_value
        and isinstance(elem_value[0], Dataset)
    ):
        return " ".join(strings_in(e.value) for item in elem_value for e in item)
    if isinstance(elem_value, bytes):
        return elem_value.decode("latin-1")
    return str(elem_value)


def test_the_table_holds_every_single_tag_row_of_table_e1_1() -> None:
    # DICOM 2024b: 617 single tags, plus curves, overlay data, overlay comments, private.
    assert len(TABLE_E1_1) == 617
    assert len(GROUP_ROWS) == 4
    for tag, row in TABLE_E1_1.items():
        assert row.tag == tag
        assert row.keyword == dictionary_keyword(tag), hex(tag)
        assert row.basic in BASIC_ACTIONS, row
        assert row.modified_dates in {"", "C"} and row.clean_descriptors in {"", "C"}
    brief = {
        "PatientName": "Z",
        "PatientID": "Z/D",
        "PatientBirthDate": "Z",
        "PatientSex": "Z",
        "PatientAge": "X",
        "OtherPatientIDs": "X",
        "OtherPatientNames": "X",
        "PatientAddress": "X",
        "AccessionNumber": "Z",
        "StudyID": "Z",
        "StudyDate": "Z",
        "StudyTime": "Z",
        "SeriesDate": "X/D",
        "AcquisitionDate": "X/Z",
        "ContentDate": "Z/D",
        "InstitutionName": "X/Z/D",
        "InstitutionAddress": "X",
        "ReferringPhysicianName": "Z",
        "PerformingPhysicianName": "X",
        "OperatorsName": "X/Z/D",
        "StationName": "X/Z/D",
        "DeviceSerialNumber": "X/Z/D",
        "StudyDescription": "X",
        "SeriesDescription": "X",
        "ImageComments": "X",
        "RequestAttributesSequence": "X",
        "StudyInstanceUID": "U",
        "SeriesInstanceUID": "U",
        "SOPInstanceUID": "U",
        "FrameOfReferenceUID": "U",
        "MediaStorageSOPInstanceUID": "U",
        "ReferencedSOPInstanceUID": "U",
    }
    by_keyword = {row.keyword: row.basic for row in TABLE_E1_1.values()}
    assert {k: by_keyword[k] for k in brief} == brief


@pytest.mark.parametrize("row", list(TABLE_E1_1.values()), ids=lambda row: row.keyword)
def test_each_row_gets_its_basic_profile_action(row: ProfileRow, ct_small: Dataset) -> None:
    """For a CT image (no Type 1 or 2 rule applies) every combined code takes its first action."""
    original_ds = with_attribute(ct_small, row)
    deid = Deidentifier()
    out = deid.deidentify(original_ds)
    expected = row.basic.split("/")[0]
    if row.tag >> 16 == 0x0002:
        # File Meta: rebuilt, naming the new SOP Instance UID.
        assert expected == "U"
        assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
        assert out.file_meta.MediaStorageSOPInstanceUID != ct_small.SOPInstanceUID
        return
    original = original_ds[row.tag].value
    if expected == "X":
        assert row.tag not in out
    elif expected == "Z":
        assert row.tag in out and out[row.tag].is_empty
    elif expected == "D":
        kept = out[row.tag].value
        assert row.tag in out and not out[row.tag].is_empty
        assert kept != original
        assert SECRET not in strings_in(kept)
    else:
        assert expected == "U"
        new = out[row.tag].value
        assert new != original and UID(new).is_valid and new.startswith("2.25.")
        # The same UID in another file of the same export maps to the same new UID ...
        again = deid.deidentify(with_attribute(ct_small, row))
        assert again[row.tag].value == new
        # ... and another export gives another.
        assert Deidentifier().deidentify(with_attribute(ct_small, row))[row.tag].value != new


@pytest.mark.parametrize(
    ("action", "required", "expected"),
    [
        ("X/Z", 3, "X"),
        ("X/Z", 2, "Z"),
        ("X/D", 3, "X"),
        ("X/D", 1, "D"),
        ("X/Z/D", 3, "X"),
        ("X/Z/D", 2, "Z"),
        ("X/Z/D", 1, "D"),
        ("Z/D", 3, "Z"),
        ("Z/D", 2, "Z"),
        ("Z/D", 1, "D"),
        ("X/Z/U*", 3, "X"),
        ("X/Z/U*", 2, "Z"),
        ("X/Z/U*", 1, "U*"),
        ("D", 3, "D"),
    ],
)
def test_combined_codes_take_the_first_action_the_iod_allows(
    action: str, required: int, expected: str
) -> None:
    assert resolve_basic(action, required) == expected


def test_an_enhanced_image_keeps_its_type_1_attributes_as_dummies() -> None:
    ds = real("emri_small.dcm")  # Enhanced MR: Content Date and Device Serial Number Type 1
    ds.DeviceSerialNumber = "SN-SECRET-1"
    out = Deidentifier().deidentify(ds)
    assert out.ContentDate and out.ContentDate != ds.ContentDate
    assert out.DeviceSerialNumber and out.DeviceSerialNumber != ds.DeviceSerialNumber


def test_a_dx_image_keeps_its_performed_procedure_step_reference_with_new_uids() -> None:
    ds = synthetic_dataset(1, modality="DX")
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.3"  # Modality Performed Procedure Step
    item.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.9.7777.55"
    ds.ReferencedPerformedProcedureStepSequence = [item]
    out = Deidentifier().deidentify(ds)
    kept = out.ReferencedPerformedProcedureStepSequence[0]
    assert kept.ReferencedSOPClassUID == item.ReferencedSOPClassUID
    assert kept.ReferencedSOPInstanceUID != item.ReferencedSOPInstanceUID
    # In a CT image the same sequence is Type 3: removed.
    ct = synthetic_dataset(2, modality="CT")
    ct.ReferencedPerformedProcedureStepSequence = [copy.deepcopy(item)]
    assert "ReferencedPerformedProcedureStepSequence" not in Deidentifier().deidentify(ct)


def test_private_tags_are_removed_everywhere(ct_small: Dataset) -> None:
    ds = copy.deepcopy(ct_small)
    item = Dataset()
    item.add_new(0x00290010, "LO", "ACME")
    item.add_new(0x00291001, "LO", SECRET)
    ds.add_new(0x00081250, "SQ", [item])  # Related Series Sequence: kept, cleaned inside
    assert any(e.tag.is_private for e in ds)
    out = Deidentifier().deidentify(ds)
    found: list[Any] = []
    out.walk(lambda _ds, elem: found.append(elem) if elem.tag.is_private else None)
    assert found == []


def test_curves_and_overlays_are_removed() -> None:
    ds = real("MR-SIEMENS-DICOM-WithOverlays.dcm")
    ds.add_new(0x50003000, "OW", b"\1\2")  # a curve
    assert any(e.tag.group in (0x5000, 0x6000) for e in ds)
    out = Deidentifier().deidentify(ds)
    assert not any(e.tag.group & 0xFF00 in (0x5000, 0x6000) for e in out)
    assert out.PixelData == ds.PixelData


def test_identity_removed_and_the_method_is_recorded(ct_small: Dataset) -> None:
    out = Deidentifier().deidentify(ct_small)
    assert out.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in out.DeidentificationMethodCodeSequence] == ["113100"]
    assert out.DeidentificationMethodCodeSequence[0].CodingSchemeDesignator == "DCM"
    assert out.DeidentificationMethod == "Basic Application Confidentiality Profile"
    assert out.LongitudinalTemporalInformationModified == "REMOVED"
    both = Deidentifier(DeidOptions(modified_dates=True, clean_descriptors=True))
    marked = both.deidentify(ct_small)
    assert [c.CodeValue for c in marked.DeidentificationMethodCodeSequence] == [
        "113100",
        "113107",
        "113105",
    ]
    assert marked.LongitudinalTemporalInformationModified == "MODIFIED"


def test_uids_are_consistent_within_a_study_and_differ_between_exports() -> None:
    study, series = generate_uid(), generate_uid()
    first = synthetic_dataset(1, study_uid=study, series_uid=series, patient_id="P-1")
    second = synthetic_dataset(2, study_uid=study, series_uid=series, patient_id="P-1")
    deid = Deidentifier()
    a, b = deid.deidentify(first), deid.deidentify(second)
    assert a.StudyInstanceUID == b.StudyInstanceUID != study
    assert a.SeriesInstanceUID == b.SeriesInstanceUID != series
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.SOPClassUID == first.SOPClassUID  # a class identifies nobody
    other = Deidentifier().deidentify(first)
    assert other.StudyInstanceUID != a.StudyInstanceUID
    assert other.SOPInstanceUID != a.SOPInstanceUID


def test_without_modified_dates_the_dates_follow_the_table() -> None:
    ds = synthetic_dataset(3)
    ds.AcquisitionDate = "20200102"
    out = Deidentifier().deidentify(ds)
    assert out["StudyDate"].is_empty and out["StudyTime"].is_empty  # Z
    assert "SeriesDate" not in out and "AcquisitionDate" not in out  # X/D, X/Z: Type 3
    assert out["ContentDate"].is_empty  # Z/D, Type 2C in General Image
    assert out["PatientBirthDate"].is_empty


def test_modified_dates_move_each_patient_by_one_offset() -> None:
    def day(text: str) -> dt.date:
        return dt.datetime.strptime(text, "%Y%m%d").date()

    first = synthetic_dataset(4, patient_id="P-1")
    second = synthetic_dataset(5, patient_id="P-1")
    second.StudyDate = "20190305"
    second.AcquisitionDateTime = "20190305081500.250+0100"
    third = synthetic_dataset(6, patient_id="P-2")
    deid = Deidentifier(DeidOptions(modified_dates=True))
    a, b, c = (deid.deidentify(d) for d in (first, second, third))
    shift = day(a.StudyDate) - day(first.StudyDate)
    assert dt.timedelta(days=-3650) <= shift <= dt.timedelta(days=-365)
    assert day(b.StudyDate) - day(second.StudyDate) == shift
    assert day(b.AcquisitionDateTime[:8]) - day(second.StudyDate) == shift
    assert b.AcquisitionDateTime[8:] == "081500.250+0100"  # the time of day is kept
    assert a.StudyTime == first.StudyTime
    assert day(a.SeriesDate) - day(first.SeriesDate) == shift
    c_shift = day(c.StudyDate) - day(third.StudyDate)
    assert dt.timedelta(days=-3650) <= c_shift <= dt.timedelta(days=-365)
    assert "PatientBirthDate" in a and a["PatientBirthDate"].is_empty  # no date option: Z


def test_a_date_that_cannot_be_shifted_gets_the_basic_action() -> None:
    ds = synthetic_dataset(7)
    ds.AcquisitionDateTime = "2020"  # a partial DT
    ds.AcquisitionDate = "20200101-20200301"  # a range
    out = Deidentifier(DeidOptions(modified_dates=True)).deidentify(ds)
    assert "AcquisitionDateTime" not in out and "AcquisitionDate" not in out


def test_clean_descriptors_keep_only_allow_listed_text() -> None:
    ds = synthetic_dataset(8)
    ds.StudyDescription = "Chest   pa"
    ds.SeriesDescription = "Mr Smith's chest, bed 4"
    ds.ProtocolName = "CHEST PA"
    allow = frozenset({"CHEST PA"})
    out = Deidentifier(DeidOptions(clean_descriptors=True, descriptor_allowlist=allow)).deidentify(
        ds
    )
    assert out.StudyDescription == "Chest   pa"
    assert out.ProtocolName == "CHEST PA"
    assert "SeriesDescription" not in out and "ImageComments" not in out
    plain = Deidentifier().deidentify(ds)
    assert "StudyDescription" not in plain and "ProtocolName" not in plain


@pytest.mark.parametrize(
    ("modality", "sop_class", "stated", "expected"),
    [
        ("CT", None, "YES", BURNED_IN),
        ("US", None, "NO", None),
        ("CR", None, None, None),
        ("US", None, None, BURNED_IN_UNKNOWN),
        ("XA", None, None, BURNED_IN_UNKNOWN),
        ("ES", None, None, BURNED_IN_UNKNOWN),
        ("OT", None, None, BURNED_IN_UNKNOWN),
        ("SC", None, "", BURNED_IN_UNKNOWN),
        ("CR", SecondaryCaptureImageStorage, None, BURNED_IN_UNKNOWN),
    ],
)
def test_burned_in_annotation_rule(
    modality: str, sop_class: str | None, stated: str | None, expected: str | None
) -> None:
    ds = synthetic_dataset(9)
    ds.Modality = modality
    if sop_class:
        ds.SOPClassUID = sop_class
    del ds.BurnedInAnnotation
    if stated is not None:
        ds.BurnedInAnnotation = stated
    assert burned_in_reason(ds) == expected


def test_pydicom_test_files_are_judged_by_their_modality() -> None:
    assert burned_in_reason(real("US1_UNCR.dcm")) == BURNED_IN_UNKNOWN
    assert burned_in_reason(real("SC_rgb.dcm")) == BURNED_IN_UNKNOWN
    assert burned_in_reason(real("CT_small.dcm")) is None


@pytest.mark.parametrize(
    "source",
    ["CT_small.dcm", "MR_small.dcm", "US1_UNCR.dcm", "SC_rgb.dcm", "JPEG2000.dcm", "CR", "DX"],
)
def test_the_deidentified_file_parses_and_keeps_its_pixels(source: str) -> None:
    ds = real(source) if source.endswith(".dcm") else synthetic_dataset(10, modality=source)
    options = DeidOptions(modified_dates=True, clean_descriptors=True)
    data = dataset_file_bytes(Deidentifier(options).deidentify(ds))
    back = pydicom.dcmread(io.BytesIO(data))
    assert data[128:132] == b"DICM" and data[:128] == bytes(128)
    assert back.PixelData == ds.PixelData
    if not back.file_meta.TransferSyntaxUID.is_compressed:
        assert np.array_equal(back.pixel_array, ds.pixel_array)
    assert back.PatientIdentityRemoved == "YES"
    assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
    # Nothing that named the patient or the original instances is left in the bytes.
    for value in (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID):
        assert str(value).encode() not in data
    for value in (ds.get("PatientName"), ds.get("PatientID")):
        if value:
            assert str(value).encode() not in data
