"""Reads of the study viewer: the study with its series, and the manifest the viewer loads.

Non-image objects (reports, RT objects, waveforms, PDFs, presentation states) are listed with
their series as what they are (modality and SOP class), never opened as images.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse

from ..models import Instance, NonImageInstance, Series, Study
from .rendering import instance_attributes

PRESETS: tuple[tuple[str, str, float, float], ...] = (
    # (key, label, window center, window width) in HU.
    ("lung", "Lung", -600.0, 1500.0),
    ("mediastinum", "Mediastinum", 40.0, 400.0),
    ("bone", "Bone", 400.0, 1800.0),
    ("brain", "Brain", 40.0, 80.0),
    ("abdomen", "Abdomen", 60.0, 400.0),
)


# Said of every non-image object wherever it is listed.
NON_IMAGE_NOTE = "not an image: no AI"


def viewer_study(*, study_id: int) -> Study:
    """The study with its patient, series, images and non-image objects loaded (404 when
    there is none)."""
    series = Series.objects.order_by("pk").prefetch_related(
        Prefetch("instances", queryset=Instance.objects.order_by("pk")),
        Prefetch(
            "non_image_instances",
            queryset=NonImageInstance.objects.order_by(
                F("instance_number").asc(nulls_last=True), "pk"
            ),
        ),
    )
    return get_object_or_404(
        Study.objects.select_related("patient").prefetch_related(Prefetch("series", series)),
        pk=study_id,
    )


def viewer_non_images(*, study_id: int) -> QuerySet[NonImageInstance]:
    """The study's non-image objects, series by series, with their series loaded."""
    return (
        NonImageInstance.objects.filter(series__study_id=study_id)
        .select_related("series")
        .order_by("series_id", F("instance_number").asc(nulls_last=True), "pk")
    )


def viewer_opening_instance(*, study: Study, requested: str | None) -> Instance | None:
    """The instance the viewer opens with: the requested one if it is in the study, else the
    first of the first series by Instance Number (the manifest refines ties by location)."""
    instances = Instance.objects.filter(series__study=study).order_by(
        "series_id", F("instance_number").asc(nulls_last=True), "pk"
    )
    if requested and requested.isdigit():
        chosen = instances.filter(pk=int(requested)).first()
        if chosen is not None:
            return chosen
    return instances.first()


def _order(item: tuple[Instance, dict[str, Any]]) -> tuple[Any, ...]:
    """Instance Number first, then slice location, then arrival; missing values go last."""
    instance, attributes = item
    number = instance.instance_number
    location = attributes.get("slice_location")
    return (
        number is None,
        number if number is not None else 0,
        location is None,
        location if location is not None else 0.0,
        instance.pk,
    )


def _instance_entry(instance: Instance, attributes: dict[str, Any]) -> dict[str, Any]:
    frames = max(instance.frames, 1)
    raw = reverse("imaging:viewer:frame-raw", kwargs={"instance_id": instance.pk, "frame": 0})
    return {
        "id": instance.pk,
        "sop_instance_uid": instance.sop_instance_uid,
        "instance_number": instance.instance_number,
        "frames": frames,
        "rows": instance.rows,
        "columns": instance.columns,
        # Frame n is at the same URL with "/0." replaced by "/n."; listing every frame of a
        # long cine would only make the manifest large.
        "frame_url_template": raw.replace("/0.raw", "/{frame}.raw"),
        "attributes": attributes,
        # Filled in by pages that have an AI overlay for this instance (see _viewer.html).
        "overlay_url": None,
    }


def _non_image_entry(item: NonImageInstance, series: Series) -> dict[str, Any]:
    return {
        "id": item.pk,
        "sop_instance_uid": item.sop_instance_uid,
        "sop_class_uid": item.sop_class_uid,
        "sop_class_name": item.sop_class_name,
        "title": item.title,
        "label": f"{series.modality or '?'} · {item.sop_class_name}",
        "note": NON_IMAGE_NOTE,
    }


def _series_entry(series: Series) -> dict[str, Any]:
    pairs = [(i, instance_attributes(instance=i)) for i in series.instances.all()]
    pairs.sort(key=_order)
    instances = [_instance_entry(i, a) for i, a in pairs]
    middle = pairs[len(pairs) // 2][0] if pairs else None
    first = pairs[0][1] if pairs else {}
    return {
        "id": series.pk,
        "series_instance_uid": series.series_instance_uid,
        "modality": series.modality,
        "description": series.description or first.get("series_description", ""),
        "number": first.get("series_number"),
        "thumbnail_url": (
            reverse("imaging:viewer:thumbnail", kwargs={"instance_id": middle.pk})
            if middle is not None
            else None
        ),
        "images": sum(entry["frames"] for entry in instances),
        "instances": instances,
        # Reports, RT objects, waveforms, PDFs...: listed, never shown as images.
        "non_images": [_non_image_entry(o, series) for o in series.non_image_instances.all()],
    }


def viewer_manifest(*, study: Study) -> dict[str, Any]:
    """Everything the viewer needs to page through a study, as JSON-ready data.

    Series with images come first, in order of arrival (Series Number when every one has
    one); instances in a series by Instance Number, then slice location. Series of non-image
    objects alone follow, each object listed with its modality and SOP class. Reading
    attributes opens each image file once (its SHA-256 is verified then) and caches them.

    Raises:
        imaging.selectors.StoredFileError: a stored file is missing or damaged.
    """
    entries = [_series_entry(s) for s in study.series.all()]
    series = [s for s in entries if s["instances"]]
    if series and all(s["number"] is not None for s in series):
        series.sort(key=lambda s: s["number"])
    series += [s for s in entries if not s["instances"]]
    return {
        "study": {
            "id": study.pk,
            "study_instance_uid": study.study_instance_uid,
            "description": study.description,
            "study_date": study.study_date.isoformat() if study.study_date else "",
            "patient": study.patient.name,
            "mrn": study.patient.mrn,
            "is_synthetic": study.is_synthetic or study.patient.is_synthetic,
        },
        "presets": [
            {"key": key, "label": label, "center": center, "width": width}
            for key, label, center, width in PRESETS
        ],
        "series": series,
    }
