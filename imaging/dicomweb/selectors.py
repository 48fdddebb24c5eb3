"""Reads behind QIDO-RS and WADO-RS.

Searches are one query for the page of rows (related rows joined, counts annotated) plus one
for the modalities of the studies on the page, whatever the page size; a study search with
no filter and an ``offset`` of a block of ids or more adds one, for the block it starts in.

Non-image objects (reports, RT objects, waveforms, PDFs, presentation states) are instances
like any other here: counted in their series and study, listed by instance searches after
the images, and retrieved with their study or series.
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat
from PIL import Image
from pydicom.filereader import read_file_meta_info, read_partial
from pydicom.uid import ExplicitVRLittleEndian

from medassist.ml.display import dicom_to_display, display_to_png

from ..models import (
    STUDY_BLOCK_BITS,
    Instance,
    NonImageInstance,
    Series,
    StoredInstance,
    Study,
)
from ..selectors import instance_read_bytes
from .query import QidoQuery, query_filter

logger = logging.getLogger(__name__)


def _non_images_counted(by: str) -> Coalesce:
    """How many non-image objects each row holds (``by``: the path from a non-image object
    to the row's model, e.g. ``series__study``), as a subquery."""
    counted = (
        NonImageInstance.objects.filter(**{by: OuterRef("pk")})
        .order_by()
        .values(by)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


@dataclass(frozen=True)
class StudyResults:
    """The studies matching a search, oldest first, sliced like a queryset into a list.

    A slice is one query whose subquery pages over the study table alone (the filters, then
    the primary key index); only the page's studies are then joined to their series and
    instances and counted. Counting in the same query as the paging would join and group
    every study before the offset, so a deep ``offset`` would cost all the instances before it.
    """

    matching: QuerySet[Study]
    # No filter: every study matches, so the counts per block of ids can place an offset.
    everything: bool = False

    def __getitem__(self, page: slice) -> list[Study]:
        start, stop = page.start or 0, page.stop
        matching = self.matching
        if self.everything and start >= 1 << STUDY_BLOCK_BITS and connection.vendor == "postgresql":
            # Past the last study counted (or no counts at all: emptied by hand, a restore of
            # data only): the plain walk answers, as without the counts.
            place = _study_offset_place(start)
            if place is not None:
                first_id, skipped = place
                matching = matching.filter(pk__gte=first_id)
                start, stop = start - skipped, None if stop is None else stop - skipped
        ids = matching.values("pk")[start:stop]
        return list(_study_rows(Study.objects.filter(pk__in=ids)))

    def __iter__(self) -> Iterator[Study]:
        yield from _study_rows(self.matching)


def _study_offset_place(offset: int) -> tuple[int, int] | None:
    """Where the study at ``offset`` (0-based, in id order) is: the first id of its block of
    ids and how many studies come before that block, from the
    :class:`~imaging.models.StudyBlockCount` rows PostgreSQL keeps; None past the last study.
    One query over the blocks' counts (a few hundred rows at a million studies), not a walk
    of the offset."""
    with connection.cursor() as cursor:
        cursor.execute(_STUDY_OFFSET_PLACE, [offset])
        found = cursor.fetchone()
    if found is None:
        return None
    block, before = found
    return block << STUDY_BLOCK_BITS, before


# The block holding the study at an offset: each block's slots summed, then added up in
# block order until past the offset (a few hundred rows at a million studies).
_STUDY_OFFSET_PLACE = """
SELECT block, through - studies FROM (
    SELECT block, sum(studies) AS studies, sum(sum(studies)) OVER (ORDER BY block) AS through
      FROM imaging_studyblockcount
     GROUP BY block
) AS blocks
 WHERE through > %s
 ORDER BY block
 LIMIT 1
"""


def _study_rows(studies: QuerySet[Study]) -> QuerySet[Study]:
    """``studies`` with their patient, ``n_series`` and ``n_instances`` (images and
    non-image objects) and ``header_file`` (see :func:`_header_file`), oldest first."""
    return (
        studies.select_related("patient")
        .annotate(
            n_series=Count("series", distinct=True),
            n_images=Count("series__instances"),
            n_non_images=_non_images_counted("series__study"),
            header_file=_header_file("series__study"),
        )
        .annotate(n_instances=F("n_images") + F("n_non_images"))
        .order_by("pk")
    )


def _header_file(by: str) -> Subquery:
    """One stored image of each row (``by``: the path from an image to the row's model) as
    ``"<storage key>|<sha256>"``, as a subquery: where the attributes the database does not
    keep (Study Time, Referring Physician's Name) are read from."""
    first = (
        Instance.objects.filter(**{by: OuterRef("pk")})
        .order_by("pk")
        .annotate(key=Concat("storage_key", Value("|"), "sha256", output_field=CharField()))
        .values("key")[:1]
    )
    return Subquery(first, output_field=CharField())


# Study-level attributes QIDO-RS returns that the database does not keep: read from the
# header of one stored file of the study, once per file (the cache keeps them by SHA-256).
HEADER_KEYWORDS = ("StudyTime", "ReferringPhysicianName")
_HEADER_CACHE_SECONDS = 30 * 24 * 3600


def _header_cache_key(sha256: str) -> str:
    return f"medassist:dicomweb:header:{sha256}"


def _past_header(tag: Any, vr: Any, length: int) -> bool:
    return int(tag) > 0x00080090  # Referring Physician's Name, the last one needed


def _read_header(storage_key: str) -> dict[str, str]:
    path = Path(settings.MEDIA_ROOT) / storage_key
    try:
        # Only the start of the file: its reading stops past group 0008's attributes.
        with path.open("rb") as fp:
            ds = read_partial(fp, stop_when=_past_header)
    except Exception:
        # A file that cannot be read answers its retrieve with an error; here the
        # attributes are just left empty.
        logger.warning("Could not read the header of stored file %s", storage_key)
        return {}
    return {k: str(ds.get(k) or "") for k in HEADER_KEYWORDS if ds.get(k)}


def header_values(*, files: list[str | None]) -> dict[str, dict[str, str]]:
    """The :data:`HEADER_KEYWORDS` values of each ``"<storage key>|<sha256>"`` in ``files``
    (None and empty entries are skipped), by that string. One cache round trip for the page;
    only files never read before are opened, and only their header is read.

    These values come from the header as stored, not from a checksum-verified read: they are
    search results shown in a list, and a retrieve of the file is always verified.
    """
    wanted = {f for f in files if f and "|" in f}
    if not wanted:
        return {}
    keys = {f: _header_cache_key(f.rpartition("|")[2]) for f in wanted}
    try:
        cached = cache.get_many(list(keys.values()))
    except Exception:
        logger.exception("Could not read the header cache; reading the files instead.")
        cached = {}
    found: dict[str, dict[str, str]] = {}
    fresh: dict[str, dict[str, str]] = {}
    for file, key in keys.items():
        if key in cached:
            found[file] = cached[key]
        else:
            found[file] = fresh[key] = _read_header(file.rpartition("|")[0])
    if fresh:
        try:
            cache.set_many(fresh, _HEADER_CACHE_SECONDS)
        except Exception:
            logger.exception("Could not write the header cache.")
    return found


def study_search(*, query: QidoQuery) -> StudyResults:
    """Studies matching ``query``, oldest first, with ``n_series`` and ``n_instances`` (images
    and non-image objects); see :class:`StudyResults`."""
    return StudyResults(
        Study.objects.filter(query_filter(query, level="study")).order_by("pk"),
        everything=not query.filters,
    )


def series_search(*, query: QidoQuery, study_uid: str | None = None) -> QuerySet[Series]:
    """Series matching ``query`` (within one study if given), with ``n_instances`` (images and
    non-image objects)."""
    series = Series.objects.select_related("study__patient").filter(
        query_filter(query, level="series")
    )
    if study_uid is not None:
        series = series.filter(study__study_instance_uid=study_uid)
    return (
        series.annotate(
            n_images=Count("instances"),
            n_non_images=_non_images_counted("series"),
            header_file=_header_file("series"),
        )
        .annotate(n_instances=F("n_images") + F("n_non_images"))
        .order_by("pk")
    )


@dataclass(frozen=True)
class InstanceResults:
    """The images, then the non-image objects, matching a search, paged as one list.

    Sliced like a queryset (``results[offset:offset + limit]``) into a list; each slice costs
    one query per table it reaches, plus one count when the images end before the slice.
    """

    images: QuerySet[Instance]
    non_images: QuerySet[NonImageInstance]

    def __getitem__(self, page: slice) -> list[StoredInstance]:
        start = page.start or 0
        stop = page.stop
        found: list[StoredInstance] = list(self.images[start:stop])
        if stop is not None and len(found) >= stop - start:
            return found
        # Images ran out within (or before) the page: the non-image objects follow.
        skipped = 0 if found else max(0, start - self.images.count())
        if stop is None:
            return found + list(self.non_images[skipped:])
        return found + list(self.non_images[skipped : skipped + (stop - start) - len(found)])

    def __iter__(self) -> Iterator[StoredInstance]:
        yield from self.images
        yield from self.non_images


# The order of QIDO-RS instance results: by study date, study, series, then arrival.
INSTANCE_ORDER = ("series__study__study_date", "series__study_id", "series_id", "pk")


def instance_search(
    *, query: QidoQuery, study_uid: str | None = None, series_uid: str | None = None
) -> InstanceResults:
    """Instances matching ``query`` (within one study and/or series if given): the images,
    then the non-image objects, each by :data:`INSTANCE_ORDER`."""

    def matching(model: Any) -> Any:
        found = model.objects.select_related("series__study__patient").filter(
            query_filter(query, level="instance")
        )
        if study_uid is not None:
            found = found.filter(series__study__study_instance_uid=study_uid)
        if series_uid is not None:
            found = found.filter(series__series_instance_uid=series_uid)
        # By study date, study, series, then arrival: the study date index gives the studies
        # of a date range in this order, so a page costs its own rows however many images
        # the range holds (ordered by the image's id alone, every image of the range was
        # read and sorted to find the first hundred).
        return found.order_by(*INSTANCE_ORDER)

    return InstanceResults(images=matching(Instance), non_images=matching(NonImageInstance))


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


def _under_path(
    model: Any, *, study_uid: str, series_uid: str | None, sop_uid: str | None
) -> QuerySet[Any]:
    found = model.objects.select_related("series__study").filter(
        series__study__study_instance_uid=study_uid
    )
    if series_uid is not None:
        found = found.filter(series__series_instance_uid=series_uid)
    if sop_uid is not None:
        found = found.filter(sop_instance_uid=sop_uid)
    return found.order_by("series_id", "instance_number", "pk")


def retrieve_instances(
    *, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> QuerySet[Instance]:
    """The stored images under a WADO-RS path, in series then instance-number order."""
    return _under_path(Instance, study_uid=study_uid, series_uid=series_uid, sop_uid=sop_uid)


def retrieve_objects(
    *, study_uid: str, series_uid: str | None = None, sop_uid: str | None = None
) -> list[StoredInstance]:
    """Every stored instance under a WADO-RS path, images and non-image objects: series by
    series, a series' images first, each in instance-number order."""
    path = {"study_uid": study_uid, "series_uid": series_uid, "sop_uid": sop_uid}
    found: list[StoredInstance] = [
        *_under_path(Instance, **path),
        *_under_path(NonImageInstance, **path),
    ]
    # A stable sort: within a series the images stay first, each kind in its own order.
    return sorted(found, key=lambda row: row.series_id)


def non_image_at(*, study_uid: str, series_uid: str, sop_uid: str) -> NonImageInstance | None:
    """The non-image object at this WADO-RS path, if one is stored there."""
    return _under_path(
        NonImageInstance, study_uid=study_uid, series_uid=series_uid, sop_uid=sop_uid
    ).first()


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


def instance_transfer_syntax(*, instance: StoredInstance) -> str:
    """The transfer syntax UID the instance is stored in (reads only its file meta)."""
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    return str(read_file_meta_info(path).TransferSyntaxUID)


def instance_retrieve_bytes(*, instance: StoredInstance, transfer_syntax: str | None) -> bytes:
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
        if "PixelData" in ds:
            # pydicom writes pixel bytes unchanged, so big endian words are swapped here.
            pixels = ds.pixel_array
            ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def instance_metadata_dataset(*, instance: StoredInstance) -> pydicom.Dataset:
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
