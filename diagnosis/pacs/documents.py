"""The DICOM objects an export sends: the review's Structured Report and the heatmap capture.

:func:`report_build` writes a doctor's final review of one image as a Comprehensive SR
following TID 1500 (Measurement Report) with two qualitative evaluation groups (TID 1501):
the doctor's findings and, when the doctor judged one, the AI suggestion (its finding, its
probability, and whether the doctor accepted or corrected it). The observation context names
the reviewer (person observer) and the model version (device observer: the version is the
device's identity). The reviewed image is referenced in both groups and every image of the
study is listed as evidence; patient and study identity are copied from the reviewed image's
own file. An amended review's SR names the SR it replaces in its Predecessor Documents
Sequence.

:func:`capture_build` renders the heatmap on the image as a Secondary Capture (RGB), labelled
as AI decision support in its burned-in text and its Series Description, for archives whose
viewers cannot show an SR.

Both are rebuilt the same on every attempt from the export row and the (insert-only) review:
their UIDs and dates come from the rows, so an archive that receives one twice gets the
same object twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import ComprehensiveSRStorage, generate_uid

from diagnosis.inference.models import Suggestion
from diagnosis.pacs.models import PacsExport
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import Review
from imaging.models import Instance
from imaging.selectors import instance_read_dataset
from medassist.ml.display import dicom_to_display
from medassist.version import code_version

MANUFACTURER = "MedAssist"
# The local coding scheme of the hospital's finding vocabulary and of this report's own
# concepts (PS3.16 8.2: a private scheme designator starts with "99").
SCHEME = "99MEDASSIST"
SR_SERIES_NUMBER = 9901
SC_SERIES_NUMBER = 9902
SR_SERIES_DESCRIPTION = "MedAssist doctor review with AI suggestion (SR)"
SC_SERIES_DESCRIPTION = "AI saliency - decision support, not a diagnosis"
SC_BURNED_IN_TEXT = "AI saliency - decision support"

REVIEW_GROUP = "Doctor's review"
SUGGESTION_GROUP = "AI suggestion"
ALSO_PRESENT = hd.sr.CodedConcept("also-present", SCHEME, "Also present")
PROBABILITY = hd.sr.CodedConcept("probability", SCHEME, "Probability of finding")
REVIEW_ACTION = hd.sr.CodedConcept("review-action", SCHEME, "Doctor's decision on the suggestion")
NON_DIAGNOSTIC = hd.sr.CodedConcept("non-diagnostic", SCHEME, "Non-diagnostic image")
IMAGING_PROCEDURE = hd.sr.CodedConcept("363679005", "SCT", "Imaging")
ACTIONS = {
    Review.Action.ACCEPT: hd.sr.CodedConcept("accepted", SCHEME, "Accepted the AI suggestion"),
    Review.Action.CORRECT: hd.sr.CodedConcept("corrected", SCHEME, "Corrected the AI suggestion"),
    Review.Action.REJECT: hd.sr.CodedConcept("rejected", SCHEME, "Rejected as non-diagnostic"),
}
# Patient and study attributes highdicom reads from the first evidence item (Type 2: present,
# possibly empty).
_IDENTITY = (
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
)


def model_device_uid(version: ModelVersion) -> str:
    """The device observer UID of a model version: the same version always has the same one."""
    return generate_uid(
        entropy_srcs=["medassist-model", version.task, str(version.version), version.weights_sha256]
    )


def finding_concept(finding: Finding) -> hd.sr.CodedConcept:
    """A finding as a code: SNOMED CT or RadLex when the vocabulary maps it, else local."""
    if finding.snomed_ct:
        return hd.sr.CodedConcept(finding.snomed_ct, "SCT", finding.name)
    if finding.radlex:
        return hd.sr.CodedConcept(finding.radlex, "RADLEX", finding.name)
    return hd.sr.CodedConcept(finding.code, SCHEME, finding.name)


def person_name(user: AbstractBaseUser | None) -> str:
    """The reviewer as a DICOM person name (family^given), or their user name."""
    if user is None:
        return "Unknown^Reviewer"
    last = getattr(user, "last_name", "") or ""
    first = getattr(user, "first_name", "") or ""
    if last or first:
        return f"{last}^{first}"
    # A trailing caret says "one component" (PS3.5 6.2.1.2): a user name, not a family name.
    return str(user.get_username()).replace("^", " ")[:63] + "^"


def _source_header(instance: Instance) -> Dataset:
    """The reviewed image's header, with the identity attributes present (possibly empty)."""
    source = instance_read_dataset(instance=instance)
    header = Dataset()
    for element in source:
        if element.tag.group > 0x0002 and element.keyword != "PixelData":
            header.add(element)
    for keyword in _IDENTITY:
        if keyword not in header:
            setattr(header, keyword, "")
    header.SOPClassUID = instance.sop_class_uid
    header.SOPInstanceUID = instance.sop_instance_uid
    return header


def _evidence(instance: Instance, header: Dataset) -> list[Dataset]:
    """The reviewed image first (its identity is copied), then every other image of the study."""
    study_uid = instance.series.study.study_instance_uid
    items = [header]
    others = (
        Instance.objects.filter(series__study_id=instance.series.study_id)
        .exclude(pk=instance.pk)
        .select_related("series")
        .order_by("series_id", "instance_number", "pk")
    )
    for other in others:
        ds = Dataset()
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = other.series.series_instance_uid
        ds.SOPClassUID = other.sop_class_uid
        ds.SOPInstanceUID = other.sop_instance_uid
        items.append(ds)
    return items


def _tracking(export: PacsExport, what: str) -> hd.sr.TrackingIdentifier:
    return hd.sr.TrackingIdentifier(
        uid=generate_uid(entropy_srcs=[export.sr_sop_instance_uid, what]),
        identifier=f"{what} (review {export.review_id})",
    )


def _dicom_datetime(moment: dt.datetime) -> tuple[str, str]:
    local = timezone.localtime(moment)
    return local.strftime("%Y%m%d"), local.strftime("%H%M%S.%f")


def report_build(*, export: PacsExport) -> hd.sr.ComprehensiveSR:
    """The export's SR (see the module's docstring). Raises StoredFileError when the reviewed
    image's file is missing or damaged."""
    review = (
        Review.objects.select_related(
            "reviewer",
            "suggestion__model_version",
            "suggestion__top_finding",
            "instance__series__study",
        )
        .prefetch_related("findings")
        .get(pk=export.review_id)
    )
    instance = review.instance
    header = _source_header(instance)
    image_ref = hd.sr.SourceImageForMeasurementGroup(
        referenced_sop_class_uid=instance.sop_class_uid,
        referenced_sop_instance_uid=instance.sop_instance_uid,
    )
    suggestion: Suggestion | None = review.suggestion
    person = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=person_name(review.reviewer),
            login_name=review.reviewer.get_username() if review.reviewer else None,
        ),
    )
    device = None
    if suggestion is not None:
        version = suggestion.model_version
        device = hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=model_device_uid(version),
                name=f"MedAssist {version.task} model v{version.version}",
                manufacturer_name=MANUFACTURER,
                model_name=f"MedAssist {version.task} model",
                serial_number=f"v{version.version} weights {version.weights_sha256[:16]}",
            ),
        )

    # The first finding is the group's Finding; with several (multi-label), the others follow
    # as "Also present".
    chosen = list(review.findings.all()) or ([review.finding] if review.finding else [])
    chosen.sort(key=lambda f: f.pk != review.finding_id)
    evaluations = [
        hd.sr.QualitativeEvaluation(name=ALSO_PRESENT, value=finding_concept(f)) for f in chosen[1:]
    ]
    if suggestion is not None:
        evaluations.append(
            hd.sr.QualitativeEvaluation(name=REVIEW_ACTION, value=ACTIONS[review.action])
        )
    groups = [
        hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=_tracking(export, REVIEW_GROUP),
            finding_type=finding_concept(chosen[0]) if chosen else NON_DIAGNOSTIC,
            qualitative_evaluations=evaluations or None,
            source_images=[image_ref],
        )
    ]
    if suggestion is not None and suggestion.top_finding is not None:
        version = suggestion.model_version
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=_tracking(export, SUGGESTION_GROUP),
                algorithm_id=hd.sr.AlgorithmIdentification(
                    name=f"MedAssist {version.task} model",
                    version=f"v{version.version}",
                    manufacturer=MANUFACTURER,
                ),
                finding_type=finding_concept(suggestion.top_finding),
                measurements=[
                    hd.sr.Measurement(
                        name=PROBABILITY,
                        value=round(float(suggestion.top_probability or 0.0), 6),
                        unit=hd.sr.CodedConcept("1", "UCUM", "no units"),
                    )
                ],
                source_images=[image_ref],
            )
        )
    content = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(
            observer_person_context=person, observer_device_context=device
        ),
        procedure_reported=IMAGING_PROCEDURE,
        imaging_measurements=groups,
    )
    previous = None
    if export.replaces is not None:
        before = Dataset()
        before.StudyInstanceUID = instance.series.study.study_instance_uid
        before.SeriesInstanceUID = export.replaces.sr_series_instance_uid
        before.SOPClassUID = ComprehensiveSRStorage
        before.SOPInstanceUID = export.replaces.sr_sop_instance_uid
        previous = [before]
    date, time = _dicom_datetime(review.created_at)
    report = hd.sr.ComprehensiveSR(
        evidence=_evidence(instance, header),
        content=content,
        series_instance_uid=export.sr_series_instance_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=export.sr_sop_instance_uid,
        instance_number=export.pk,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=True,
        # The doctor's final review is the doctor's verified report of this image.
        is_verified=True,
        verifying_observer_name=person_name(review.reviewer),
        verifying_organization=str(header.get("InstitutionName", "") or MANUFACTURER)[:64],
        previous_versions=previous,
        series_description=SR_SERIES_DESCRIPTION,
        software_versions=code_version()[:64] or "unknown",
        content_date=date,
        content_time=time,
        series_date=date,
        series_time=time,
    )
    report.InstanceCreationDate, report.InstanceCreationTime = date, time
    report.VerifyingObserverSequence[0].VerificationDateTime = date + time
    return report


def _heatmap_rgb(export: PacsExport, source: pydicom.Dataset, key: str) -> np.ndarray:
    """The image in grey with the heatmap blended over it and the label burned in, uint8 RGB."""
    grey = np.round(dicom_to_display(source) * 255.0).astype(np.uint8)
    base = Image.fromarray(grey, mode="L").convert("RGBA")
    overlay = Image.open(Path(settings.MEDIA_ROOT) / key).convert("RGBA")
    if overlay.size != base.size:
        overlay = overlay.resize(base.size, Image.Resampling.BILINEAR)
    image = Image.alpha_composite(base, overlay).convert("RGB")
    draw = ImageDraw.Draw(image)
    size = max(8, image.height // 24)
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        font = ImageFont.load_default()
    box = draw.textbbox((0, 0), SC_BURNED_IN_TEXT, font=font)
    draw.rectangle((0, 0, box[2] + 4, box[3] + 4), fill=(0, 0, 0))
    draw.text((2, 2), SC_BURNED_IN_TEXT, fill=(255, 255, 0), font=font)
    return np.asarray(image, dtype=np.uint8)


def capture_build(*, export: PacsExport) -> hd.sc.SCImage | None:
    """The heatmap Secondary Capture of the export, or None when it has none.

    Raises StoredFileError (the image's file) or OSError (the heatmap's file)."""
    if not export.sc_sop_instance_uid:
        return None
    review = Review.objects.select_related("suggestion", "instance__series__study").get(
        pk=export.review_id
    )
    if review.suggestion is None or not review.suggestion.saliency_key:
        return None
    source = instance_read_dataset(instance=review.instance)
    header = _source_header(review.instance)
    pixels = _heatmap_rgb(export, source, review.suggestion.saliency_key)
    date, time = _dicom_datetime(review.created_at)
    capture = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=header,
        pixel_array=pixels,
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=export.sc_series_instance_uid,
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=export.sc_sop_instance_uid,
        instance_number=export.pk,
        manufacturer=MANUFACTURER,
        # highdicom wants an orientation for a patient image; the source's own (or empty,
        # Type 2) replaces this placeholder below, so nothing is made up.
        patient_orientation=("L", "F"),
        series_description=SC_SERIES_DESCRIPTION,
        content_date=date,
        content_time=time,
    )
    capture.PatientOrientation = source.get("PatientOrientation", "")
    capture.BurnedInAnnotation = "YES"
    capture.ImageComments = (
        f"{SC_BURNED_IN_TEXT}: heatmap of the model's suggestion "
        f"(v{review.suggestion.model_version.version}) for image {review.instance.sop_instance_uid}"
    )[:10240]
    capture.DerivationDescription = "Grey image with the AI saliency heatmap blended over it"
    source_ref = Dataset()
    source_ref.ReferencedSOPClassUID = review.instance.sop_class_uid
    source_ref.ReferencedSOPInstanceUID = review.instance.sop_instance_uid
    capture.SourceImageSequence = [source_ref]
    capture.DateOfSecondaryCapture, capture.TimeOfSecondaryCapture = date, time
    return capture
