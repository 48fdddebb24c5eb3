"""The DICOM JSON model (PS3.18 Annex F.2) for DICOMweb responses.

Two kinds of objects are built here: the metadata of a stored instance (pydicom's
``Dataset.to_json_dict`` with bulk data left out), and small response datasets (QIDO results,
the STOW response) assembled from database values with :func:`element`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

# Tags used below, by keyword, so the code reads like the standard.
TAG = {
    keyword: f"{tag_for_keyword(keyword):08X}"
    for keyword in (
        "SpecificCharacterSet",
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "InstanceAvailability",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "StudyDescription",
        "SeriesDescription",
        "RetrieveURL",
        "FailedSOPSequence",
        "ReferencedSOPSequence",
        "FailureReason",
        "ReferencedSOPClassUID",
        "ReferencedSOPInstanceUID",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPClassUID",
        "SOPInstanceUID",
        "StudyID",
        "Modality",
        "SeriesNumber",
        "BodyPartExamined",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
        "NumberOfSeriesRelatedInstances",
        "TextValue",
        "PixelData",
    )
}

# Binary value representations: their values are bulk data, not metadata.
BULK_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def tag_of(key: str) -> str | None:
    """Normalise a keyword (``PatientID``) or hex tag (``00100020``) to 8 upper-case hex digits.

    Returns None when ``key`` is neither a known keyword nor an 8-digit hex tag.
    """
    key = key.strip()
    if len(key) == 8:
        try:
            int(key, 16)
        except ValueError:
            pass
        else:
            return key.upper()
    tag = tag_for_keyword(key)
    return f"{tag:08X}" if tag is not None else None


def keyword_of(tag: str) -> str:
    """The keyword of an 8-digit hex tag, or the tag itself for private/unknown tags."""
    return keyword_for_tag(int(tag, 16)) or tag


def vr_of(tag: str) -> str:
    try:
        return dictionary_VR(int(tag, 16)).split(" or ")[0]
    except KeyError:
        return "UN"


def element(keyword: str, value: Any = None, *, vr: str | None = None) -> tuple[str, dict]:
    """One DICOM JSON attribute ``(tag, {"vr": ..., "Value": [...]})``.

    ``value`` may be None or "" (an empty attribute: "vr" only, as PS3.18 F.2.5 allows for
    unknown values), one value, or a list. Dates become DA strings, person names become
    ``{"Alphabetic": name}``; everything else is passed through as given.
    """
    tag = TAG.get(keyword) or tag_of(keyword)
    if tag is None:
        raise KeyError(f"unknown DICOM keyword {keyword!r}")
    vr = vr or vr_of(tag)
    values = value if isinstance(value, list) else [value]
    values = [v for v in values if v is not None and v != ""]
    out: dict[str, Any] = {"vr": vr}
    if values:
        if vr == "PN":
            out["Value"] = [{"Alphabetic": str(v)} for v in values]
        elif vr == "DA":
            out["Value"] = [v.strftime("%Y%m%d") if isinstance(v, dt.date) else v for v in values]
        else:
            out["Value"] = values
    return tag, out


def dataset(*elements: tuple[str, dict]) -> dict[str, dict]:
    """A DICOM JSON dataset from :func:`element` pairs, keys in ascending tag order."""
    return dict(sorted(elements))


def _element_json(
    ds: pydicom.Dataset,
    key: Any,
    *,
    prefix: str,
    bulk_data_uri: Callable[[str], str] | None,
    threshold: int,
) -> dict[str, Any] | None:
    """One attribute of ``ds`` in DICOM JSON; None to leave it out."""
    elem = ds[key]
    tag = f"{elem.tag:08X}"
    if elem.VR == "SQ":
        items = [
            _dataset_json(
                item, prefix=f"{prefix}{tag}/{n}/", bulk_data_uri=bulk_data_uri, threshold=threshold
            )
            for n, item in enumerate(elem.value or [])
        ]
        return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
    value = elem.value
    if elem.VR in BULK_VRS and isinstance(value, (bytes, bytearray)) and len(value) > threshold:
        if bulk_data_uri is None:
            return None
        return {"vr": elem.VR, "BulkDataURI": bulk_data_uri(prefix + tag)}
    return elem.to_json_dict(bulk_data_element_handler=None, bulk_data_threshold=threshold)


def _dataset_json(
    ds: pydicom.Dataset,
    *,
    prefix: str,
    bulk_data_uri: Callable[[str], str] | None,
    threshold: int,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(ds.keys()):
        try:
            attr = _element_json(
                ds, key, prefix=prefix, bulk_data_uri=bulk_data_uri, threshold=threshold
            )
        except Exception:  # noqa: S112 - a malformed attribute is left out, not the request failed
            continue
        if attr is not None:
            out[f"{key:08X}"] = attr
    return out


def metadata_json(
    ds: pydicom.Dataset,
    *,
    bulk_data_uri: Callable[[str], str] | None = None,
    pixel_data_vr: str | None = None,
    bulk_data_threshold: int = 1024,
) -> dict[str, Any]:
    """The DICOM JSON metadata of ``ds`` (read without its pixel data).

    Binary values (OB, OW, OF, OD, OL, OV, UN) longer than ``bulk_data_threshold`` bytes get
    a ``BulkDataURI``: ``bulk_data_uri(key)`` where ``key`` names the attribute, ``7FE00010``
    at the top level or ``00540016/0/00181074`` inside a sequence's item. Pixel Data, read
    separately, is added with VR ``pixel_data_vr`` when given. Without ``bulk_data_uri`` such
    values are left out. Shorter binary values are inlined (``InlineBinary``, base64).
    Attributes whose values cannot be encoded (malformed files happen) are skipped instead of
    failing the request.
    """
    if "PixelData" in ds:
        del ds.PixelData
    result = _dataset_json(
        ds, prefix="", bulk_data_uri=bulk_data_uri, threshold=bulk_data_threshold
    )
    if pixel_data_vr and bulk_data_uri is not None:
        result[TAG["PixelData"]] = {"vr": pixel_data_vr, "BulkDataURI": bulk_data_uri("7FE00010")}
    return result


# --- Search results (QIDO-RS) from database rows -------------------------------------------
# Only what the database holds is returned; attributes it does not keep are left out.

STUDY_TAGS = {
    TAG[k]
    for k in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "InstanceAvailability",
        "ModalitiesInStudy",
        "StudyDescription",
        "RetrieveURL",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
    )
}
SERIES_TAGS = {
    TAG[k]
    for k in (
        "Modality",
        "SeriesDescription",
        "BodyPartExamined",
        "SeriesInstanceUID",
        "NumberOfSeriesRelatedInstances",
    )
}
INSTANCE_TAGS = {
    TAG[k]
    for k in (
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
    )
}


def _study_elements(study: Any, header: dict[str, str] | None) -> list[tuple[str, dict]]:
    """The study's and patient's attributes; ``header`` holds those the database does not
    keep (Study Time, Referring Physician's Name), read from a stored file, when known."""
    patient = study.patient
    header = header or {}
    return [
        element("StudyInstanceUID", study.study_instance_uid),
        element("StudyDate", study.study_date),
        element("StudyTime", header.get("StudyTime")),
        element("StudyDescription", study.description),
        element("AccessionNumber", study.accession_number),
        element("ReferringPhysicianName", header.get("ReferringPhysicianName")),
        element("PatientName", patient.name),
        element("PatientID", patient.mrn),
        element("PatientBirthDate", patient.birth_date),
        element("PatientSex", "" if patient.sex == "U" else patient.sex),
    ]


def _series_elements(series: Any) -> list[tuple[str, dict]]:
    return [
        element("SeriesInstanceUID", series.series_instance_uid),
        element("Modality", series.modality),
        element("SeriesDescription", series.description),
        element("BodyPartExamined", series.body_part),
    ]


def study_json(
    study: Any, *, modalities: list[str], url: str, header: dict[str, str] | None = None
) -> dict[str, dict]:
    """A study search result; ``study`` carries ``n_series`` and ``n_instances``."""
    return dataset(
        *_study_elements(study, header),
        element("ModalitiesInStudy", modalities),
        element("NumberOfStudyRelatedSeries", study.n_series),
        element("NumberOfStudyRelatedInstances", study.n_instances),
        element("InstanceAvailability", "ONLINE"),
        element("RetrieveURL", url),
    )


def series_json(series: Any, *, url: str, header: dict[str, str] | None = None) -> dict[str, dict]:
    """A series search result, with its study's attributes; ``series`` has ``n_instances``."""
    return dataset(
        *_study_elements(series.study, header),
        *_series_elements(series),
        element("NumberOfSeriesRelatedInstances", series.n_instances),
        element("InstanceAvailability", "ONLINE"),
        element("RetrieveURL", url),
    )


def instance_json(
    instance: Any, *, url: str, header: dict[str, str] | None = None
) -> dict[str, dict]:
    """An instance search result, with its series' and study's attributes. A non-image object
    (no ``rows``) has no Rows, Columns or Number of Frames."""
    image = (
        [
            element("Rows", instance.rows),
            element("Columns", instance.columns),
            element("NumberOfFrames", instance.frames),
        ]
        if hasattr(instance, "rows")
        else []
    )
    return dataset(
        *_study_elements(instance.series.study, header),
        *_series_elements(instance.series),
        element("SOPClassUID", instance.sop_class_uid),
        element("SOPInstanceUID", instance.sop_instance_uid),
        element("InstanceNumber", instance.instance_number),
        *image,
        element("InstanceAvailability", "ONLINE"),
        element("RetrieveURL", url),
    )
