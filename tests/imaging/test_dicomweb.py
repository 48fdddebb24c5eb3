"""DICOMweb (STOW-RS, QIDO-RS, WADO-RS) as an ordinary client sees it.

The positive paths are driven by the independent ``dicomweb-client`` library against a real
HTTP server (pytest-django's live_server) with pydicom's own test files and synthetic ones;
the refusals use raw ``requests`` so that exactly the request under test is sent.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000, ExplicitVRLittleEndian
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from imaging.models import Instance, Study
from imaging.selectors import StoredFileError
from medassist.models import AuditEvent
from tests.factories import file_without_pixels, synthetic_dataset, synthetic_file

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/imaging/dicomweb"
BOUNDARY = "test-boundary-7d1"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'

# Failure Reason values (PS3.18 Table I.2-2; 0111 is PS3.7's "Duplicate SOP Instance").
CANNOT_UNDERSTAND, DATA_SET_DOES_NOT_MATCH, DUPLICATE, OUT_OF_RESOURCES = (
    0xC000,
    0xA900,
    0x0111,
    0xA700,
)


def real(name: str) -> pydicom.Dataset:
    return pydicom.dcmread(get_testdata_file(name))


def real_bytes(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def multipart(*parts: bytes, part_type: str = "application/dicom") -> bytes:
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n\r\n".encode() + p + b"\r\n" for p in parts
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def values(item: dict, keyword_tag: str) -> list:
    return item.get(keyword_tag, {}).get("Value", [])


@pytest.fixture
def doctor_token(doctor: User) -> str:
    return Token.objects.create(user=doctor).key


@pytest.fixture
def url(live_server) -> str:  # type: ignore[no-untyped-def]
    return live_server.url + BASE


@pytest.fixture
def dicomweb(url: str, doctor_token: str) -> Iterator[DICOMwebClient]:
    # Closing the session ends the server's keep-alive threads and their database connections.
    with requests.Session() as session:
        yield DICOMwebClient(
            url=url, session=session, headers={"Authorization": f"Token {doctor_token}"}
        )


@pytest.fixture
def post(url: str, doctor_token: str) -> Callable[..., requests.Response]:
    def _post(body: bytes, *, path: str = "/studies", **headers: str) -> requests.Response:
        headers = {"Authorization": f"Token {doctor_token}", "Content-Type": STOW_TYPE, **headers}
        return requests.post(url + path, data=body, headers=headers, timeout=30)

    return _post


# --- STOW-RS + QIDO-RS through dicomweb-client ------------------------------------------


def test_a_dicomweb_client_stores_real_and_synthetic_files_and_finds_them_by_standard_keys(
    dicomweb: DICOMwebClient,
) -> None:
    synthetic = [synthetic_dataset(1), synthetic_dataset(2, patient_id="TEST-1")]
    files = [real("CT_small.dcm"), real("MR_small.dcm"), real("JPEG2000.dcm"), *synthetic]

    result = dicomweb.store_instances(files)

    stored = [item.ReferencedSOPInstanceUID for item in result.ReferencedSOPSequence]
    assert stored == [ds.SOPInstanceUID for ds in files]
    assert not result.get("FailedSOPSequence")
    assert all(
        item.RetrieveURL.endswith(f"/instances/{item.ReferencedSOPInstanceUID}")
        for item in result.ReferencedSOPSequence
    )
    assert Instance.objects.filter(source="stow-rs").count() == 5

    studies = dicomweb.search_for_studies()
    assert len(studies) == 5
    ct_study = files[0].StudyInstanceUID
    (ct,) = dicomweb.search_for_studies(search_filters={"PatientID": "1CT1"})
    assert values(ct, "0020000D") == [ct_study]
    assert values(ct, "00080061") == ["CT"]  # ModalitiesInStudy
    assert values(ct, "00080020") == ["20040119"]  # StudyDate
    assert values(ct, "00201206") == [1] and values(ct, "00201208") == [1]
    assert values(ct, "00081190")[0].endswith(f"{BASE}/studies/{ct_study}")

    def found(**filters: object) -> set[str]:
        fuzzy = filters.pop("fuzzymatching", None)
        results = dicomweb.search_for_studies(search_filters=filters, fuzzymatching=fuzzy)
        return {values(r, "00100020")[0] for r in results}

    assert found(PatientName="CompressedSamples*") == {"1CT1", "4MR1", "8NM1"}
    assert found(PatientName="compressedsamples^ct1") == {"1CT1"}
    assert found(PatientName="ct1", fuzzymatching=True) == {"1CT1"}
    assert found(PatientName="ct1", fuzzymatching=False) == set()
    assert found(StudyDate="20040101-20040131") == {"1CT1"}
    assert found(StudyDate="20040801-") == {"4MR1", "8NM1", "TEST-1"}
    assert found(ModalitiesInStudy="MR") == {"4MR1"}
    assert found(StudyInstanceUID=[ct_study, files[1].StudyInstanceUID]) == {"1CT1", "4MR1"}
    assert found(**{"00100020": "TEST-?"}) == {"TEST-1"}  # a tag in hex, a wildcard

    # Paging: two pages of two and a last one, in a stable order, with nothing lost.
    pages = [dicomweb.search_for_studies(limit=2, offset=o) for o in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    uids = [values(s, "0020000D")[0] for page in pages for s in page]
    assert sorted(uids) == sorted(values(s, "0020000D")[0] for s in studies)
    assert len(dicomweb.search_for_studies(limit=2, get_remaining=True)) == 5

    (series,) = dicomweb.search_for_series(ct_study)
    assert values(series, "00080060") == ["CT"]
    assert values(series, "00201209") == [1]
    assert len(dicomweb.search_for_series(search_filters={"Modality": "CR"})) == 2
    (instance,) = dicomweb.search_for_instances(
        ct_study, values(series, "0020000E")[0], fields=["NumberOfFrames"]
    )
    assert values(instance, "00080018") == [files[0].SOPInstanceUID]
    assert (values(instance, "00280010"), values(instance, "00280011")) == ([128], [128])
    by_class = dicomweb.search_for_instances(search_filters={"SOPClassUID": files[3].SOPClassUID})
    assert {values(i, "00080018")[0] for i in by_class} == {ds.SOPInstanceUID for ds in synthetic}
    assert dicomweb.search_for_instances(search_filters={"PatientID": "nobody"}) == []


def test_a_dicomweb_client_retrieves_files_metadata_and_rendered_frames(
    dicomweb: DICOMwebClient,
) -> None:
    j2k, big_endian, multiframe = (
        real("JPEG2000.dcm"),
        real("MR_small_bigendian.dcm"),
        real("rtdose.dcm"),
    )
    dicomweb.store_instances([j2k, big_endian, multiframe])
    path = (j2k.StudyInstanceUID, j2k.SeriesInstanceUID, j2k.SOPInstanceUID)

    # dicomweb-client asks for transfer-syntax=*: the file as stored.
    as_stored = dicomweb.retrieve_instance(*path)
    assert as_stored.file_meta.TransferSyntaxUID == JPEG2000
    assert as_stored.PixelData == j2k.PixelData
    # Asked for Explicit VR Little Endian, it is transcoded with the pixels unchanged.
    explicit_le = (("application/dicom", ExplicitVRLittleEndian),)
    plain = dicomweb.retrieve_instance(*path, media_types=explicit_le)
    assert plain.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(plain.pixel_array, j2k.pixel_array)
    swapped = dicomweb.retrieve_instance(
        big_endian.StudyInstanceUID,
        big_endian.SeriesInstanceUID,
        big_endian.SOPInstanceUID,
        media_types=explicit_le,
    )
    assert swapped.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(swapped.pixel_array, big_endian.pixel_array)

    (retrieved,) = dicomweb.retrieve_study(multiframe.StudyInstanceUID)
    assert retrieved.SOPInstanceUID == multiframe.SOPInstanceUID
    assert np.array_equal(retrieved.pixel_array, multiframe.pixel_array)

    (metadata,) = dicomweb.retrieve_study_metadata(j2k.StudyInstanceUID)
    assert values(metadata, "00100020") == ["8NM1"]
    # Pixel data is bulk data: a BulkDataURI in the metadata, never the pixels themselves.
    assert set(metadata["7FE00010"]) == {"vr", "BulkDataURI"}
    assert metadata["7FE00010"]["BulkDataURI"].endswith(
        f"/instances/{j2k.SOPInstanceUID}/bulkdata/7FE00010"
    )
    assert pydicom.Dataset.from_json(metadata).SOPInstanceUID == j2k.SOPInstanceUID
    series_meta = dicomweb.retrieve_series_metadata(
        multiframe.StudyInstanceUID, multiframe.SeriesInstanceUID
    )
    assert [m["00080018"]["Value"][0] for m in series_meta] == [multiframe.SOPInstanceUID]

    mf_path = (multiframe.StudyInstanceUID, multiframe.SeriesInstanceUID)
    png = dicomweb.retrieve_instance_frames_rendered(
        *mf_path, multiframe.SOPInstanceUID, frame_numbers=[3], media_types=("image/png",)
    )
    frame3 = Image.open(io.BytesIO(png))
    assert (frame3.format, frame3.size) == ("PNG", (10, 10))
    jpeg = dicomweb.retrieve_instance_frames_rendered(
        *mf_path, multiframe.SOPInstanceUID, frame_numbers=[1], media_types=("image/jpeg",)
    )
    assert Image.open(io.BytesIO(jpeg)).format == "JPEG"
    rendered = dicomweb.retrieve_instance_rendered(*path, media_types=("image/png",))
    assert Image.open(io.BytesIO(rendered)).size == (j2k.Columns, j2k.Rows)

    # Reads of patient data are audited with who read what: each study this client read,
    # once (a viewer fetching every frame does not write a row per frame).
    audited = AuditEvent.objects.filter(action="study.read")
    read = {j2k.StudyInstanceUID, multiframe.StudyInstanceUID}
    assert {Study.objects.get(pk=e.object_id).study_instance_uid for e in audited} >= read
    assert len({e.object_id for e in audited}) == audited.count()
    assert {e.actor.username for e in audited} == {"dr-test"}
    assert all(e.remote_addr for e in audited)


def test_a_rendered_frame_follows_the_window_asked_for(url: str, doctor_token: str) -> None:
    ds = synthetic_dataset(3)
    requests.post(
        url + "/studies",
        data=multipart(synthetic_file_from(ds)),
        headers={"Authorization": f"Token {doctor_token}", "Content-Type": STOW_TYPE},
        timeout=30,
    ).raise_for_status()
    frame = (
        f"{url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/1/rendered"
    )
    auth = {"Authorization": f"Token {doctor_token}"}

    def pixels(**params: str) -> np.ndarray:
        response = requests.get(frame, params=params, headers=auth, timeout=30)
        assert response.status_code == 200, response.text
        return np.asarray(Image.open(io.BytesIO(response.content)))

    lung, bone = pixels(window="-600,1500,linear"), pixels(window="400,1800")
    assert not np.array_equal(lung, bone)
    assert pixels(window="-100000,1,linear").min() == 255  # everything above the window: white

    refused = requests.get(frame, params={"window": "40,400,sigmoid"}, headers=auth, timeout=30)
    assert refused.status_code == 400
    assert "linear" in refused.json()["detail"]
    beyond = requests.get(frame.replace("/frames/1/", "/frames/2/"), headers=auth, timeout=30)
    assert beyond.status_code == 400
    assert "has 1 frame(s)" in beyond.json()["detail"]


def synthetic_file_from(ds: pydicom.Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


# --- STOW-RS outcomes ---------------------------------------------------------------------


def test_one_good_and_one_bad_instance_give_202_with_both_sequences_and_the_reason(
    dicomweb: DICOMwebClient,
) -> None:
    good = synthetic_dataset(4)
    no_pixels = pydicom.dcmread(io.BytesIO(file_without_pixels()))

    result = dicomweb.store_instances([good, no_pixels])

    (stored,) = result.ReferencedSOPSequence
    assert stored.ReferencedSOPInstanceUID == good.SOPInstanceUID
    (failed,) = result.FailedSOPSequence
    assert failed.ReferencedSOPInstanceUID == no_pixels.SOPInstanceUID
    assert failed.FailureReason == CANNOT_UNDERSTAND
    assert "no pixel data" in failed[0x00091001].value
    assert result.RetrieveURL.endswith(f"/studies/{good.StudyInstanceUID}")
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        good.SOPInstanceUID
    ]


def test_a_stow_where_nothing_is_stored_is_a_conflict_with_a_reason_per_part(
    post: Callable[..., requests.Response],
) -> None:
    assert post(multipart(real_bytes("MR_small.dcm"))).status_code == 200
    data = synthetic_file(5)

    # MR_small's SOP Instance UID, one pixel changed, in another transfer syntax: another image.
    impostor = real("MR_small_implicit.dcm")
    pixels = impostor.pixel_array.copy()
    pixels[0, 0] += 1
    impostor.PixelData = pixels.tobytes()
    buf = io.BytesIO()
    impostor.save_as(buf, enforce_file_format=True)

    response = post(multipart(b"hello, not DICOM", data[: len(data) // 2], buf.getvalue()))

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/dicom+json"
    body = response.json()
    assert "Value" not in body["00081199"]  # nothing stored
    reasons = [values(item, "00081197")[0] for item in body["00081198"]["Value"]]
    assert reasons == [CANNOT_UNDERSTAND, CANNOT_UNDERSTAND, DUPLICATE]
    messages = [values(item, "00091001")[0] for item in body["00081198"]["Value"]]
    assert "not a DICOM file" in messages[0]
    assert "truncated" in messages[1]
    assert "same SOP Instance UID" in messages[2]
    assert "same SOP Instance UID" in response.headers["Warning"]
    assert Instance.objects.count() == 1


def test_the_same_file_stored_twice_counts_as_stored(
    post: Callable[..., requests.Response],
) -> None:
    data = synthetic_file(6)
    assert post(multipart(data)).status_code == 200
    again = post(multipart(data, data))
    assert again.status_code == 200
    items = again.json()["00081199"]["Value"]
    assert len(items) == 2
    # Listed as stored, each with the reason in words and a Warning header.
    assert all("already stored" in values(item, "00091001")[0] for item in items)
    assert "already stored" in again.headers["Warning"]
    assert Instance.objects.count() == 1


def test_a_stow_to_one_study_refuses_instances_of_another(
    post: Callable[..., requests.Response],
) -> None:
    mine, other = synthetic_dataset(7), synthetic_dataset(8)

    response = post(
        multipart(synthetic_file_from(mine), synthetic_file_from(other)),
        path=f"/studies/{mine.StudyInstanceUID}",
    )

    assert response.status_code == 202
    (failed,) = response.json()["00081198"]["Value"]
    assert values(failed, "00081155") == [other.SOPInstanceUID]
    assert values(failed, "00081197") == [DATA_SET_DOES_NOT_MATCH]
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [
        mine.StudyInstanceUID
    ]


def test_a_hand_written_multipart_body_with_preamble_padding_and_no_close_is_read(
    post: Callable[..., requests.Response],
) -> None:
    data = synthetic_file(9)
    body = (
        b"This preamble is ignored.\r\n"
        + f"--{BOUNDARY}   \r\n".encode()  # transport padding after the delimiter
        + b"content-type: application/dicom\r\nX-Note: folded\r\n  header\r\n\r\n"
        + data
        + b"\r\n"  # no closing delimiter: the last part runs to the end
    )
    response = post(
        body,
        **{"Content-Type": f'multipart/related; type=application/dicom; boundary="{BOUNDARY}"'},
    )
    assert response.status_code == 200, response.text
    assert Instance.objects.count() == 1


# --- Refusals ----------------------------------------------------------------------------


def test_an_anonymous_client_gets_401_and_stores_nothing(url: str) -> None:
    stow = requests.post(
        url + "/studies",
        data=multipart(synthetic_file(10)),
        headers={"Content-Type": STOW_TYPE},
        timeout=30,
    )
    assert stow.status_code == 401
    assert stow.headers["WWW-Authenticate"] == "Token"
    assert requests.get(url + "/studies", timeout=30).status_code == 401
    assert not Instance.objects.exists()


def test_a_nurse_token_gets_403_naming_the_doctor_role(url: str, nurse: User) -> None:
    headers = {"Authorization": f"Token {Token.objects.create(user=nurse).key}"}
    stow = requests.post(
        url + "/studies",
        data=multipart(synthetic_file(11)),
        headers={**headers, "Content-Type": STOW_TYPE},
        timeout=30,
    )
    assert stow.status_code == 403
    assert "doctor" in stow.json()["detail"]
    assert requests.get(url + "/studies", headers=headers, timeout=30).status_code == 403
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "status", "words"),
    [
        ("application/dicom", 415, "multipart/related"),
        ('multipart/related; type="application/dicom+json"; boundary=x', 415, "application/dicom"),
        ("application/json", 415, "multipart/related"),
        ('multipart/related; type="application/dicom"', 400, "no boundary"),
        ('multipart/related; type="application/dicom"; boundary=elsewhere', 400, "boundary"),
    ],
    ids=["bare-dicom", "dicom-json-parts", "json", "no-boundary", "wrong-boundary"],
)
def test_a_stow_with_the_wrong_media_type_or_framing_is_refused_and_stores_nothing(
    post: Callable[..., requests.Response], content_type: str, status: int, words: str
) -> None:
    response = post(multipart(synthetic_file(12)), **{"Content-Type": content_type})
    assert response.status_code == status
    assert words in response.json()["detail"]
    assert not Instance.objects.exists()


def test_a_stow_over_the_size_limit_is_refused_with_413_before_storing(
    post: Callable[..., requests.Response], settings: Settings
) -> None:
    settings.MEDASSIST_MAX_STOW_BYTES = 20_000
    response = post(multipart(synthetic_file(13), synthetic_file(14), synthetic_file(15)))
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_a_stow_part_over_the_file_limit_is_refused_unread_and_the_others_stored(
    post: Callable[..., requests.Response], settings: Settings
) -> None:
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 1_000_000
    big = synthetic_dataset(17)
    big.DataSetTrailingPadding = b"\0" * 2_000_000
    small = synthetic_dataset(18)

    response = post(multipart(synthetic_file_from(big), synthetic_file_from(small)))

    assert response.status_code == 202
    body = response.json()
    (failed,) = values(body, "00081198")
    assert values(failed, "00081150") == [big.SOPClassUID]
    assert values(failed, "00081155") == [big.SOPInstanceUID]
    assert values(failed, "00081197") == [OUT_OF_RESOURCES]
    assert "the limit is 1 MB" in values(failed, "00091001")[0]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        small.SOPInstanceUID
    ]


def test_a_deflate_bomb_sent_by_stow_is_refused_as_a_bomb(
    post: Callable[..., requests.Response], settings: Settings, tmp_path: Path
) -> None:
    from tests.imaging.bombs import deflate_bomb

    settings.MEDASSIST_MAX_INFLATED_BYTES = 4 * 1024 * 1024
    bomb = deflate_bomb(tmp_path, inflated=64 * 1024 * 1024).read_bytes()
    study = pydicom.dcmread(io.BytesIO(synthetic_file(19))).StudyInstanceUID

    for path in ("/studies", f"/studies/{study}"):
        response = post(multipart(bomb), path=path)

        assert response.status_code == 409
        (failed,) = values(response.json(), "00081198")
        assert values(failed, "00081197") == [OUT_OF_RESOURCES]
        assert "decompression bomb" in values(failed, "00091001")[0]
    assert not Instance.objects.exists()


def test_unknown_uids_and_bad_queries_are_answered_with_reasons(
    url: str, doctor_token: str, post: Callable[..., requests.Response]
) -> None:
    ds = synthetic_dataset(16)
    post(multipart(synthetic_file_from(ds))).raise_for_status()
    auth = {"Authorization": f"Token {doctor_token}"}

    def get(path: str, **params: str) -> requests.Response:
        return requests.get(url + path, params=params, headers=auth, timeout=30)

    instance = (
        f"/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )
    # Without a transfer-syntax parameter PS3.18 means Explicit VR Little Endian.
    plain = requests.get(
        url + instance,
        headers={**auth, "Accept": 'multipart/related; type="application/dicom"'},
        timeout=30,
    )
    assert plain.status_code == 200
    assert "transfer-syntax=1.2.840.10008.1.2.1" in plain.content[:300].decode("latin-1")
    jpeg_ls = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.80'
    unwanted = requests.get(url + instance, headers={**auth, "Accept": jpeg_ls}, timeout=30)
    assert unwanted.status_code == 406
    assert "transfer-syntax=*" in unwanted.json()["detail"]
    not_dicom = requests.get(url + instance, headers={**auth, "Accept": "image/png"}, timeout=30)
    assert not_dicom.status_code == 406

    missing = get("/studies/1.2.3.4")
    assert missing.status_code == 404
    assert "No study with Study Instance UID 1.2.3.4" in missing.json()["detail"]
    no_series = get(f"/studies/{ds.StudyInstanceUID}/series/9.9/metadata")
    assert no_series.status_code == 404
    assert "has no series" in no_series.json()["detail"]
    bad_date = get("/studies", StudyDate="2024-01-01")
    assert bad_date.status_code == 400
    assert "YYYYMMDD" in bad_date.json()["detail"]
    typo = get("/studies", PatientIDD="x")
    assert typo.status_code == 400
    assert "'PatientIDD' is not a DICOM attribute" in typo.json()["detail"]
    assert get("/studies", PatientID="nobody").status_code == 204
    ignored = get("/studies", StudyTime="1200", PatientID=ds.PatientID)
    assert ignored.status_code == 200
    assert "StudyTime is not supported for matching" in ignored.headers["Warning"]


# --- Without a live server: queries, sessions, chunked bodies ------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("n_studies", [2, 6])
def test_a_search_costs_the_same_number_of_queries_for_few_or_many_results(
    doctor: User,
    django_assert_max_num_queries,
    n_studies: int,  # type: ignore[no-untyped-def]
) -> None:
    from imaging.ingest.services import instance_ingest

    for seed in range(n_studies):
        instance_ingest(data=synthetic_file(100 + seed), uploaded_by=doctor)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")

    # token + user, roles, the page, the page's modalities, the audit event
    for path, expected in (
        ("/studies", n_studies),
        ("/series", n_studies),
        ("/instances", n_studies),
    ):
        with django_assert_max_num_queries(5):
            response = client.get(BASE + path)
        assert response.status_code == 200
        assert len(response.json()) == expected


@pytest.mark.django_db
def test_a_signed_in_doctor_can_search_but_a_session_post_needs_csrf(doctor: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(doctor)
    assert client.get(BASE + "/studies").status_code == 204
    response = client.post(
        BASE + "/studies", data=multipart(synthetic_file(17)), content_type=STOW_TYPE
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_a_chunked_stow_is_read_when_the_server_decodes_it_else_411(doctor: User) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")
    body = multipart(synthetic_file(18))
    chunked = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}

    # The development server cannot decode chunked bodies: the client is told what to send.
    refused = client.post(BASE + "/studies", data=body, content_type=STOW_TYPE, **chunked)
    assert refused.status_code == 411
    assert "Content-Length" in refused.json()["detail"]

    # gunicorn decodes them and marks the input as terminated.
    decoded = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}
    stored = client.post(BASE + "/studies", data=body, content_type=STOW_TYPE, **chunked, **decoded)
    assert stored.status_code == 200, stored.content
    assert Instance.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("streamed", [False, True], ids=["read-first", "streamed"])
def test_a_damaged_stored_file_is_never_sent(
    doctor: User, monkeypatch: pytest.MonkeyPatch, streamed: bool
) -> None:
    from imaging.dicomweb import views
    from imaging.ingest.services import instance_ingest

    ds = synthetic_dataset(19)
    instance_ingest(data=synthetic_file_from(ds), uploaded_by=doctor)
    second = synthetic_dataset(20, study_uid=ds.StudyInstanceUID, patient_id=ds.PatientID)
    damaged = instance_ingest(data=synthetic_file_from(second), uploaded_by=doctor).instance
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")
    study = f"{BASE}/studies/{ds.StudyInstanceUID}"
    if streamed:
        monkeypatch.setattr(views, "EAGER_RETRIEVE_BYTES", 0)

    intact = client.get(study)
    body = b"".join(intact.streaming_content) if streamed else intact.content
    assert intact.status_code == 200
    assert body.count(b"Content-Type: application/dicom") == 2

    path = Path(settings.MEDIA_ROOT) / damaged.storage_key
    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    response = client.get(study)
    if streamed:
        # The status line is already out: the body stops before the damaged file.
        with pytest.raises(StoredFileError):
            b"".join(response.streaming_content)
    else:
        assert response.status_code == 500
        assert "does not match its checksum" in response.json()["detail"]
    assert client.get(f"{study}/metadata").status_code == 500


def test_a_signed_in_browser_stores_by_stow_rs_with_its_csrf_token(doctor: User) -> None:
    """Before, DRF parsed the multipart/related body for the CSRF check and said 415."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(doctor)
    browser.get("/cases/")  # the page sets the CSRF cookie a browser's script sends back
    token = browser.cookies["csrftoken"].value
    body = multipart(synthetic_file(41))

    refused = browser.post(BASE + "/studies", data=body, content_type=STOW_TYPE)
    assert refused.status_code == 403  # no token: Django's CSRF refusal, not "415"
    assert not Instance.objects.exists()

    stored = browser.post(
        BASE + "/studies", data=body, content_type=STOW_TYPE, headers={"X-CSRFToken": token}
    )
    assert stored.status_code == 200, stored.content[:300]
    assert Instance.objects.count() == 1
