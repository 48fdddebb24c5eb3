"""Non-image objects (reports, RT objects, waveforms, PDFs, presentation states) are stored
with their study on every path, listed as what they are, served by DICOMweb, and never sent
to the AI or put on the worklist."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pydicom.uid import ImplicitVRLittleEndian
from rest_framework.authtoken.models import Token

from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.inference.services import inference_sweep
from imaging.ingest.errors import IngestError
from imaging.ingest.services import instance_ingest
from imaging.models import IngestConflict, Instance, NonImageInstance, Series, Study
from imaging.selectors import instance_read_bytes
from imaging.stability import study_stable_check
from medassist.models import AuditEvent
from tests.factories import synthetic_dataset, synthetic_file
from tests.imaging.nonimage import (
    NON_IMAGE_FILES,
    StudyIds,
    basic_text_sr,
    ecg_waveform,
    encapsulated_pdf,
    presentation_state,
    pydicom_file,
)
from tests.web.helpers import stored_files

pytestmark = pytest.mark.django_db

BASE = "/imaging/dicomweb"
BOUNDARY = "nonimage-b0undary"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
PATIENT = "NONIMAGE-1"


def _read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(data))


def _whole_study(study_uid: str = "") -> tuple[list[bytes], list[bytes]]:
    """(images, non-image objects) of one study, as a PACS would push it."""
    study_uid = study_uid or pydicom.uid.generate_uid()
    ids = StudyIds(study_uid=study_uid, patient_id=PATIENT)
    first = synthetic_dataset(1, patient_id=PATIENT, study_uid=study_uid)
    images = [
        pydicom_bytes(first),
        synthetic_file(2, patient_id=PATIENT, study_uid=study_uid),
    ]
    of = (first.SeriesInstanceUID, first.SOPClassUID, first.SOPInstanceUID)
    others = [
        basic_text_sr(ids),
        encapsulated_pdf(ids),
        ecg_waveform(ids),
        presentation_state(ids, of=of),
    ]
    return images, others


def pydicom_bytes(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


# --- The ingest service ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "sop_class", "modality"),
    [f[1:] for f in NON_IMAGE_FILES],
    ids=[f[0] for f in NON_IMAGE_FILES],
)
def test_a_non_image_object_is_stored_whole_with_its_study_and_reads_back(
    build: Callable[[], bytes], sop_class: str, modality: str
) -> None:
    data = build()
    sent = _read(data)

    result = instance_ingest(data=data, source="upload")

    assert result.created and not result.is_image
    row = NonImageInstance.objects.get()
    assert result.instance == row
    assert not Instance.objects.exists()
    assert row.sop_instance_uid == sent.SOPInstanceUID
    assert row.sop_class_name == sop_class
    assert row.series.modality == modality
    assert row.series.series_instance_uid == sent.SeriesInstanceUID
    assert row.series.study.study_instance_uid == sent.StudyInstanceUID
    stored = instance_read_bytes(instance=row)  # checksum verified
    assert stored == b"\0" * 128 + data[128:]
    assert hashlib.sha256(stored).hexdigest() == row.sha256
    assert _read(stored) == sent
    event = AuditEvent.objects.get(action="instance.ingest")
    assert (event.object_type, event.object_id) == ("imaging.NonImageInstance", str(row.pk))


def test_a_non_image_object_says_what_it_is() -> None:
    ids = StudyIds(study_uid=pydicom.uid.generate_uid())
    report = instance_ingest(data=basic_text_sr(ids)).instance
    letter = instance_ingest(data=encapsulated_pdf(ids, title="Discharge letter")).instance
    plan = instance_ingest(data=pydicom_file("rtplan.dcm")).instance

    assert (report.sop_class_name, report.title) == ("Basic Text SR Storage", "Radiology Report")
    assert (letter.sop_class_name, letter.title) == ("Encapsulated PDF Storage", "Discharge letter")
    assert plan.sop_class_name == "RT Plan Storage"
    assert plan.title == _read(pydicom_file("rtplan.dcm")).RTPlanLabel


def test_the_same_report_sent_again_is_a_duplicate_stored_once() -> None:
    data = basic_text_sr()
    first = instance_ingest(data=data)
    again = instance_ingest(data=data, source="c-store")

    assert first.created and again.duplicate and not again.created
    assert again.instance == first.instance
    assert NonImageInstance.objects.count() == 1
    assert len(stored_files()) == 1


def test_the_same_report_in_another_transfer_syntax_is_a_duplicate() -> None:
    explicit = basic_text_sr()
    ds = _read(explicit)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    implicit = pydicom_bytes(ds)
    assert implicit != explicit

    instance_ingest(data=explicit)
    again = instance_ingest(data=implicit)

    assert again.duplicate
    assert NonImageInstance.objects.count() == 1
    assert not IngestConflict.objects.exists()


def test_a_different_report_under_a_stored_uid_is_kept_aside_as_a_conflict() -> None:
    original = instance_ingest(data=basic_text_sr(text="No acute findings.")).instance
    before = instance_read_bytes(instance=original)
    impostor = _read(basic_text_sr(text="Pneumothorax."))
    impostor.SOPInstanceUID = original.sop_instance_uid
    impostor.file_meta.MediaStorageSOPInstanceUID = original.sop_instance_uid
    impostor.StudyInstanceUID = original.series.study.study_instance_uid
    impostor.SeriesInstanceUID = original.series.series_instance_uid

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=pydicom_bytes(impostor))

    assert refused.value.code == "conflict"
    assert "different object with the same SOP Instance UID" in str(refused.value)
    conflict = IngestConflict.objects.get()
    assert conflict.existing_non_image == original
    assert conflict.existing_instance is None
    assert instance_read_bytes(instance=NonImageInstance.objects.get()) == before


def test_an_image_and_a_report_never_share_a_sop_instance_uid() -> None:
    image = instance_ingest(data=synthetic_file(3)).instance
    report = _read(basic_text_sr())
    report.SOPInstanceUID = image.sop_instance_uid
    report.file_meta.MediaStorageSOPInstanceUID = image.sop_instance_uid

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=pydicom_bytes(report))
    assert refused.value.code == "conflict"
    assert IngestConflict.objects.get().existing_instance == image

    stored_report = instance_ingest(data=basic_text_sr()).instance
    later_image = synthetic_dataset(4)
    later_image.SOPInstanceUID = stored_report.sop_instance_uid
    later_image.file_meta.MediaStorageSOPInstanceUID = stored_report.sop_instance_uid
    with pytest.raises(IngestError) as refused_image:
        instance_ingest(data=pydicom_bytes(later_image))
    assert refused_image.value.code == "conflict"
    assert IngestConflict.objects.filter(existing_non_image=stored_report).count() == 1
    assert Instance.objects.count() == 1
    assert NonImageInstance.objects.count() == 1


def _refusal(data: bytes) -> IngestError:
    with pytest.raises(IngestError) as refused:
        instance_ingest(data=data)
    return refused.value


def test_a_truncated_rt_plan_is_refused_and_leaves_nothing() -> None:
    error = _refusal(pydicom_file("rtplan_truncated.dcm"))

    assert error.code == "truncated"
    assert [m.objects.count() for m in (Study, Series, NonImageInstance)] == [0, 0, 0]
    assert not stored_files()


def test_an_image_class_without_its_pixels_is_still_refused() -> None:
    ds = synthetic_dataset(5)
    del ds.PixelData

    error = _refusal(pydicom_bytes(ds))

    assert error.code == "no_pixel_data"
    assert "no pixel data" in str(error)
    assert "Image Storage" in str(error)
    assert not NonImageInstance.objects.exists()


def test_a_dicomdir_and_an_object_that_does_not_say_what_it_is_are_refused() -> None:
    dicomdir = _refusal(pydicom_file("DICOMDIR"))
    assert dicomdir.code == "no_pixel_data"
    assert "DICOMDIR" in str(dicomdir)

    nameless = _read(basic_text_sr())
    del nameless.SOPClassUID
    error = _refusal(pydicom_bytes(nameless))
    assert error.code == "missing_uid"
    assert not NonImageInstance.objects.exists()


def test_a_damaged_value_in_a_report_is_refused_as_corrupt() -> None:
    data = bytearray(basic_text_sr(text="Findings in words."))
    # Give the TextValue (UT) an odd length far past the end of the file.
    at = bytes(data).index(b"UT\x00\x00") + 4
    data[at : at + 4] = (0x7FFFFFF0).to_bytes(4, "little")

    error = _refusal(bytes(data))

    assert error.code in {"truncated", "corrupt", "not_dicom"}
    assert not NonImageInstance.objects.exists()


# --- Never sent to the AI, never on the worklist --------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("source", ["upload", "c-store"])
def test_a_whole_study_sends_its_images_and_only_its_images_to_inference(
    source: str, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_STUDY_QUIET_SECONDS = 0
    images, others = _whole_study()

    for data in [*images[:1], *others, *images[1:]]:
        instance_ingest(data=data, source=source)
    study = Study.objects.get()
    study_stable_check(study_id=study.pk)
    # The sweep re-queues stored images that have no request after the quiet period.
    inference_sweep(now=study.created_at + dt.timedelta(minutes=30))

    assert NonImageInstance.objects.count() == len(others)
    requested = set(InferenceRequest.objects.values_list("instance_id", flat=True))
    assert requested == set(Instance.objects.values_list("pk", flat=True))
    assert len(requested) == len(images)
    assert not Suggestion.objects.exclude(instance_id__in=requested).exists()


def test_a_study_holding_only_reports_is_not_waiting_on_the_worklist(
    client: Client, doctor: User
) -> None:
    ids = StudyIds(study_uid=pydicom.uid.generate_uid(), patient_name="Reportonly^Patient")
    instance_ingest(data=basic_text_sr(ids), source="c-store")
    instance_ingest(data=encapsulated_pdf(ids), source="c-store")
    client.force_login(doctor)

    page = client.get(reverse("diagnosis:worklist"))

    assert page.status_code == 200
    assert "Reportonly" not in page.content.decode()
    assert not InferenceRequest.objects.exists()


# --- Upload page and REST API -------------------------------------------------------------


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


def test_one_report_uploaded_on_the_page_opens_its_studys_viewer(doctor_client: Client) -> None:
    upload = SimpleUploadedFile("report.dcm", basic_text_sr(), content_type="application/dicom")

    response = doctor_client.post(reverse("imaging:upload"), {"file": upload})

    row = NonImageInstance.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "imaging:viewer:study", kwargs={"study_id": row.series.study_id}
    )
    viewer = doctor_client.get(response["Location"])
    body = viewer.content.decode()
    assert "This study has no images yet." in body
    assert "SR · Basic Text SR Storage" in body
    assert "not an image: no AI" in body


def test_a_zip_of_a_whole_study_is_all_stored_and_the_summary_counts_both_kinds(
    doctor_client: Client,
) -> None:
    images, others = _whole_study()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        for n, data in enumerate([*images, *others]):
            zf.writestr(f"study/{n}.dcm", data)
    upload = SimpleUploadedFile("study.zip", archive.getvalue(), content_type="application/zip")

    response = doctor_client.post(
        reverse("imaging:upload"), {"file": upload}, HTTP_ACCEPT="application/json"
    )

    summary = response.json()
    assert (summary["stored"], summary["rejected"]) == (len(images) + len(others), 0)
    (study,) = summary["studies"]
    assert (study["images"], study["non_images"]) == (len(images), len(others))
    first_image = Instance.objects.order_by("pk").first()
    assert first_image is not None
    assert study["case_url"] == reverse("diagnosis:case", kwargs={"instance_id": first_image.pk})
    kinds = [item["non_image"] for item in summary["items"]]
    assert kinds == [False] * len(images) + [True] * len(others)

    page = doctor_client.post(
        reverse("imaging:upload"),
        {"file": SimpleUploadedFile("study.zip", archive.getvalue())},
    )
    assert "4 non-image objects" in page.content.decode()


def test_the_rest_api_stores_a_raw_report_and_says_it_is_not_an_image(doctor: User) -> None:
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")

    response = api.post(
        "/imaging/api/instances/", data=ecg_waveform(), content_type="application/dicom"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    row = NonImageInstance.objects.get()
    assert body["kind"] == "non-image"
    assert body["sop_class"] == "12-lead ECG Waveform Storage"
    assert (body["id"], body["sop_instance_uid"]) == (row.pk, row.sop_instance_uid)
    assert row.source == "api"


# --- Viewer and case page -----------------------------------------------------------------


def test_the_viewer_and_the_case_page_list_each_non_image_object_as_what_it_is(
    doctor_client: Client,
) -> None:
    images, others = _whole_study()
    stored = [instance_ingest(data=d).instance for d in [*images, *others]]
    study = Study.objects.get()
    first_image = stored[0]

    manifest = doctor_client.get(reverse("imaging:viewer:manifest", args=[study.pk])).json()
    viewer = doctor_client.get(reverse("imaging:viewer:study", args=[study.pk]))
    case = doctor_client.get(reverse("diagnosis:case", args=[first_image.pk]))

    image_series = [s for s in manifest["series"] if s["instances"]]
    other_series = [s for s in manifest["series"] if not s["instances"]]
    assert manifest["series"] == image_series + other_series  # images first
    assert sum(len(s["instances"]) for s in image_series) == len(images)
    listed = {o["label"]: o for s in other_series for o in s["non_images"]}
    assert set(listed) == {
        "SR · Basic Text SR Storage",
        "DOC · Encapsulated PDF Storage",
        "ECG · 12-lead ECG Waveform Storage",
        "PR · Grayscale Softcopy Presentation State Storage",
    }
    assert all(o["note"] == "not an image: no AI" for o in listed.values())
    assert listed["DOC · Encapsulated PDF Storage"]["title"] == "Discharge letter"
    for response in (viewer, case):
        assert response.status_code == 200
        body = response.content.decode()
        assert 'data-testid="non-images"' in body
        assert body.count("not an image: no AI") == len(others)
        for label in listed:
            assert label in body


# --- DICOMweb ------------------------------------------------------------------------------


def _multipart(*parts: bytes) -> bytes:
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode() + p + b"\r\n"
        for p in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
def dicomweb_auth(doctor: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=doctor).key}"}


@pytest.fixture
def web(dicomweb_auth: dict[str, str]) -> Client:
    return Client(**dicomweb_auth)


def _values(item: dict, tag: str) -> list:
    return item.get(tag, {}).get("Value", [])


def test_stow_stores_a_whole_study_with_its_reports_and_documents_without_a_failure(
    web: Client,
) -> None:
    images, others = _whole_study()
    parts = [*images, *others, pydicom_file("rtplan.dcm"), pydicom_file("test-SR.dcm")]

    response = web.post(f"{BASE}/studies", data=_multipart(*parts), content_type=STOW_TYPE)

    assert response.status_code == 200, response.content
    body = response.json()
    assert not _values(body, "00081198")  # FailedSOPSequence
    stored = _values(body, "00081199")  # ReferencedSOPSequence
    assert [_values(i, "00081155")[0] for i in stored] == [_read(p).SOPInstanceUID for p in parts]
    assert all(_values(i, "00081190")[0].endswith(_values(i, "00081155")[0]) for i in stored)
    assert Instance.objects.count() == len(images)
    assert NonImageInstance.objects.count() == len(others) + 2
    assert {r.source for r in NonImageInstance.objects.all()} == {"stow-rs"}


def test_qido_lists_and_counts_non_image_objects_with_the_images(web: Client) -> None:
    images, others = _whole_study()
    for data in [*images, *others]:
        instance_ingest(data=data)
    study = Study.objects.get()
    uid = study.study_instance_uid

    (found,) = web.get(f"{BASE}/studies", {"StudyInstanceUID": uid}).json()
    assert _values(found, "00201208") == [len(images) + len(others)]  # instances in study
    assert set(_values(found, "00080061")) >= {"SR", "DOC", "ECG", "PR"}  # modalities
    series = web.get(f"{BASE}/studies/{uid}/series").json()
    counts = {_values(s, "00080060")[0]: _values(s, "00201209")[0] for s in series}
    assert counts["SR"] == counts["DOC"] == counts["ECG"] == counts["PR"] == 1

    listed = web.get(f"{BASE}/studies/{uid}/instances").json()
    classes = [_values(i, "00080016")[0] for i in listed]
    assert len(listed) == len(images) + len(others)
    assert classes[len(images) :] == [_read(d).SOPClassUID for d in others]
    report = listed[len(images)]
    assert "00280010" not in report  # no Rows: not an image
    assert _values(report, "00081190")[0].endswith(_read(others[0]).SOPInstanceUID)

    only_reports = web.get(
        f"{BASE}/instances", {"SOPClassUID": "1.2.840.10008.5.1.4.1.1.88.11"}
    ).json()
    assert [_values(i, "00080018")[0] for i in only_reports] == [_read(others[0]).SOPInstanceUID]


def test_qido_pages_across_the_images_and_the_non_image_objects(web: Client) -> None:
    images, others = _whole_study()
    for data in [*images, *others]:
        instance_ingest(data=data)
    uid = Study.objects.get().study_instance_uid
    everything = [
        _values(i, "00080018")[0] for i in web.get(f"{BASE}/studies/{uid}/instances").json()
    ]

    pages = []
    for offset in range(0, len(everything), 4):
        page = web.get(f"{BASE}/studies/{uid}/instances", {"limit": 4, "offset": offset})
        pages += [_values(i, "00080018")[0] for i in page.json()]
    beyond = web.get(f"{BASE}/studies/{uid}/instances", {"offset": len(everything)})

    assert pages == everything
    assert beyond.status_code == 204


def test_wado_retrieves_a_report_its_metadata_and_the_whole_study(web: Client) -> None:
    images, others = _whole_study()
    for data in [*images, *others]:
        instance_ingest(data=data)
    report = NonImageInstance.objects.get(sop_class_uid="1.2.840.10008.5.1.4.1.1.88.11")
    study_uid = report.series.study.study_instance_uid
    path = (
        f"{BASE}/studies/{study_uid}/series/{report.series.series_instance_uid}"
        f"/instances/{report.sop_instance_uid}"
    )

    one = web.get(path, HTTP_ACCEPT='multipart/related; type="application/dicom"')
    metadata = web.get(f"{path}/metadata")
    rendered = web.get(f"{path}/rendered", HTTP_ACCEPT="image/png")
    whole = web.get(
        f"{BASE}/studies/{study_uid}",
        HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*',
    )

    assert one.status_code == 200
    (part,) = _parts(one)
    assert _read(part).SOPInstanceUID == report.sop_instance_uid
    assert _read(part).ContentSequence[0].TextValue == "No acute findings."
    (meta,) = metadata.json()
    assert _values(meta, "00080016") == ["1.2.840.10008.5.1.4.1.1.88.11"]
    assert "0040A730" in meta  # ContentSequence: the report itself
    assert rendered.status_code == 406
    assert "not an image" in rendered.json()["detail"]
    assert whole.status_code == 200
    uids = {_read(p).SOPInstanceUID for p in _parts(whole)}
    assert uids == {_read(d).SOPInstanceUID for d in [*images, *others]}


def test_wado_serves_a_big_endian_rt_plan_as_explicit_little_endian(web: Client) -> None:
    data = NON_IMAGE_FILES[[f[0] for f in NON_IMAGE_FILES].index("ExplVR_BigEndNoMeta.dcm")][1]()
    row = instance_ingest(data=data).instance
    path = (
        f"{BASE}/studies/{row.series.study.study_instance_uid}/series/"
        f"{row.series.series_instance_uid}/instances/{row.sop_instance_uid}"
    )

    response = web.get(path)  # no Accept: Explicit VR Little Endian by default

    assert response.status_code == 200
    (part,) = _parts(response)
    served = _read(part)
    assert served.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    original = _read(data)
    assert served.SOPInstanceUID == original.SOPInstanceUID
    assert [(e.tag, e.value) for e in served] == [(e.tag, e.value) for e in original]


def _parts(response) -> list[bytes]:  # type: ignore[no-untyped-def]
    content_type = response["Content-Type"]
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"')
    body = b"".join(response.streaming_content) if response.streaming else response.content
    chunks = body.split(f"--{boundary}".encode())[1:-1]
    return [chunk.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for chunk in chunks]


# --- Over HTTP, as a plain client ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_report_sent_over_http_by_stow_is_found_and_fetched_back(
    live_server, doctor: User
) -> None:  # type: ignore[no-untyped-def]
    token = Token.objects.create(user=doctor).key
    headers = {"Authorization": f"Token {token}"}
    data = basic_text_sr()
    with requests.Session() as http:
        stored = http.post(
            f"{live_server.url}{BASE}/studies",
            data=_multipart(data),
            headers={**headers, "Content-Type": STOW_TYPE},
            timeout=30,
        )
        assert stored.status_code == 200, stored.text
        url = _values(stored.json()["00081199"]["Value"][0], "00081190")[0]
        fetched = http.get(url, headers=headers, timeout=30)
    assert fetched.status_code == 200
    assert data[132:] in fetched.content  # the file, whole, from 'DICM' on
    assert Path(settings.MEDIA_ROOT, NonImageInstance.objects.get().storage_key).exists()
