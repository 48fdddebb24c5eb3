"""Reads behind QIDO-RS and WADO-RS.

Searches are one query for the page of rows (related rows joined, counts annotated) plus one
for the modalities of the studies on the page, whatever the page size.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
from django.conf import settings
from django.db.models import Count, QuerySet
from PIL import Image
from pydicom.filereader import read_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian

from medassist.ml.display import dicom_to_display, display_to_png

from ..models import Instance, Series, Study
from ..selectors import instance_read_bytes
from .query import QidoQuery, query_filter


def study_search(*, query: QidoQuery) -> QuerySet[Study]:
    """Studies matching ``query``, oldest first, with ``n_series`` and ``n_instances``."""
    return (
        Study.objects.select_related("patient")
        .filter(query_filter(query, level="study"))
        .annotate(
            n_series=Count("series", distinct=True),
            n_instances=Count("series__instances"),
        )
        .order_by("pk")
    )


def series_search(*, query: QidoQuery, study_uid: str | None = None) -> QuerySet[Series]:
    """Series matching ``query`` (within one study if given), with ``n_instances``."""
    series = Series.objects.select_related("study__patient").filter(
        query_filter(query, level="series")
    )
    if study_uid is not None:
        series = series.filter(study__study_instance_uid=study_uid)
    return series.annotate(n_instances=Count("instances")).order_by("pk")


def instance_search(
    *, query: QidoQuery, study_uid: str | None = None, series_uid: str | None = None
) -> QuerySet[Instance]:
    """Instances matching ``query`` (within one study and/or series if given)."""
    instances = Instance.objects.select_related("series__study__patient").filter(
        query_filter(query, level="instance")
    )
    if study_uid is not None:
        instances = instances.filter(series__study__study_instance_uid=study_uid)
    if series_uid is not None:
        instances = instances.filter(series__series_instance_uid=series_uid)
    return instances.order_by("pk")


def modalities_by_study(*, study_ids: list[int]) -> dict[int, list[str]]:
    """The distinct modalities of each study's series, sorted, in one query."""
    pairs = (
        Series.objects.filter(study_id__in=study_ids)
        .exclude(modality="")
        .values_list("study_id", "modality")
        .distinct()
    )
    found: dict[int, list[str]] = defaultdict(list)
    for study_id, modality in pairs:
        found[study_id].append(modality)
    return {k: sorted(v) for k, v in found.items()}


def retrieve_instances(
    *, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> QuerySet[Instance]:
    """The stored instances under a WADO-RS path, in series then instance-number order."""
    instances = Instance.objects.select_related("series__study").filter(
        series__study__study_instance_uid=study_uid
    )
    if series_uid is not None:
        instances = instances.filter(series__series_instance_uid=series_uid)
    if sop_uid is not None:
        instances = instances.filter(sop_instance_uid=sop_uid)
    return instances.order_by("series_id", "instance_number", "pk")


def missing_resource_message(
    *, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> str:
    """Say which UID of a WADO-RS path is not stored here (for a 404)."""
    if not Study.objects.filter(study_instance_uid=study_uid).exists():
        return f"No study with Study Instance UID {study_uid} is stored here."
    if (
        series_uid is not None
        and not Series.objects.filter(
            series_instance_uid=series_uid, study__study_instance_uid=study_uid
        ).exists()
    ):
        return f"Study {study_uid} has no series with Series Instance UID {series_uid}."
    if sop_uid is not None:
        return f"Series {series_uid} has no instance with SOP Instance UID {sop_uid}."
    return f"Study {study_uid} has no stored instances."


def instance_transfer_syntax(*, instance: Instance) -> str:
    """The transfer syntax UID the instance is stored in (reads only its file meta)."""
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    return str(read_file_meta_info(path).TransferSyntaxUID)


def instance_retrieve_bytes(*, instance: Instance, transfer_syntax: str | None) -> bytes:
    """The instance as a Part 10 file, as stored (``transfer_syntax`` None) or transcoded.

    Only Explicit VR Little Endian is produced by transcoding: compressed pixel data is
    decompressed, big endian data byte-swapped. The stored file is checked against its
    SHA-256 first (raises imaging.selectors.StoredFileError).

    Raises:
        ValueError: ``transfer_syntax`` is neither the stored one nor Explicit VR Little Endian.
    """
    data = instance_read_bytes(instance=instance)
    if transfer_syntax is None:
        return data
    ds = pydicom.dcmread(io.BytesIO(data))
    stored = ds.file_meta.TransferSyntaxUID
    if stored == transfer_syntax:
        return data
    if transfer_syntax != ExplicitVRLittleEndian:
        raise ValueError(f"cannot transcode {stored} to {transfer_syntax}")
    if stored.is_compressed:
        ds.decompress()
    elif not stored.is_little_endian:
        # pydicom writes pixel bytes unchanged, so big endian words are swapped here.
        pixels = ds.pixel_array
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def instance_metadata_dataset(*, instance: Instance) -> pydicom.Dataset:
    """The stored instance's attributes without its pixel data (checksum verified)."""
    data = instance_read_bytes(instance=instance)
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def instance_render(
    *,
    instance: Instance,
    frame: int = 0,
    window: tuple[float, float] | None = None,
    media_type: str = "image/png",
    quality: int = 90,
) -> bytes:
    """One frame (zero-based) rendered as an 8-bit PNG or JPEG, as the viewer shows it.

    Raises:
        IndexError: ``frame`` is out of range.
        ValueError: the window width is invalid.
    """
    ds = pydicom.dcmread(io.BytesIO(instance_read_bytes(instance=instance)))
    img = dicom_to_display(ds, frame=frame, window=window)
    if media_type == "image/png":
        return display_to_png(img)
    u8 = np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
