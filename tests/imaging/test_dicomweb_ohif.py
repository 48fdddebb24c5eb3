"""What a web viewer (OHIF) needs of DICOMweb: frames, bulk data, the QIDO-RS attributes and
parameters it sends, retrieve URLs with the right host and port, and CORS when asked for.

Files are stored through the ingest (pydicom's real test files and synthetic ones); requests
go through Django's test client with a doctor's token, and multipart answers are read back
by a small parser here, independent of the server's own code.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.contrib.auth.models import User
from django.test import Client
from pydicom.data import get_testdata_file
from pydicom.encaps import get_frame
from pydicom.uid import RLELossless
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from imaging.ingest.services import instance_ingest
from tests.factories import synthetic_dataset

pytestmark = pytest.mark.django_db

BASE = "/imaging/dicomweb"
OCTET_MULTIPART = "multipart/related; type=application/octet-stream"
EXPLICIT_LE = "1.2.840.10008.1.2.1"


def store(doctor: User, ds_or_name: pydicom.Dataset | str) -> pydicom.Dataset:
    """Ingest a pydicom test file (by name) or a data set; return the data set as sent."""
    if isinstance(ds_or_name, str):
        data = Path(get_testdata_file(ds_or_name)).read_bytes()
    else:
        buf = io.BytesIO()
        pydicom.dcmwrite(buf, ds_or_name, enforce_file_format=True)
        data = buf.getvalue()
    outcome = instance_ingest(data=data, uploaded_by=doctor)
    assert outcome.instance is not None, outcome
    return pydicom.dcmread(io.BytesIO(data))


def instance_path(ds: pydicom.Dataset) -> str:
    return (
        f"{BASE}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def parts(response) -> list[tuple[str, bytes]]:  # type: ignore[no-untyped-def]
    """(Content-Type, body) of each part of a multipart/related response."""
    content_type = response["Content-Type"]
    assert content_type.startswith("multipart/related"), content_type
    boundary = re.search(r"boundary=\"?([^\";]+)", content_type).group(1).encode()  # type: ignore[union-attr]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    found = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk[2:].partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode("latin-1").split("\r\n") if ": " in line
        )
        found.append((headers["Content-Type"], data.removesuffix(b"\r\n")))
    return found


@pytest.fixture
def api(doctor: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")


# --- Frames ----------------------------------------------------------------------------------


def test_a_frame_comes_uncompressed_by_default_and_as_the_file_s_own_values(
    api: Client, doctor: User
) -> None:
    ct = store(doctor, "CT_small.dcm")

    for accept in (OCTET_MULTIPART, None, "*/*"):
        headers = {"Accept": accept} if accept else {}
        response = api.get(f"{instance_path(ct)}/frames/1", headers=headers)
        assert response.status_code == 200, response.content[:300]
        [(part_type, data)] = parts(response)
        assert part_type == f"application/octet-stream; transfer-syntax={EXPLICIT_LE}"
        assert data == ct.PixelData

    # A single frame may also come as one body, when that is asked for.
    single = api.get(
        f"{instance_path(ct)}/frames/1", headers={"Accept": "application/octet-stream"}
    )
    assert single["Content-Type"].startswith("application/octet-stream")
    assert single.content == ct.PixelData


def test_rle_frames_come_as_stored_when_asked_and_decoded_otherwise(
    api: Client, doctor: User
) -> None:
    rle = store(doctor, "MR_small_RLE.dcm")
    url = f"{instance_path(rle)}/frames/1"

    # What OHIF sends: any transfer syntax, in octet-stream parts.
    response = api.get(url, headers={"Accept": f"{OCTET_MULTIPART}; transfer-syntax=*"})
    [(part_type, data)] = parts(response)
    assert part_type == f"application/octet-stream; transfer-syntax={RLELossless}"
    assert data == get_frame(rle.PixelData, 0, number_of_frames=1)

    named = api.get(url, headers={"Accept": f"{OCTET_MULTIPART}; transfer-syntax={RLELossless}"})
    assert parts(named)[0][1] == data
    as_image = api.get(url, headers={"Accept": "multipart/related; type=image/dicom-rle"})
    assert parts(as_image)[0][0] == f"image/dicom-rle; transfer-syntax={RLELossless}"
    assert parts(as_image)[0][1] == data

    # Without a transfer syntax: decoded, little-endian values.
    plain = parts(api.get(url, headers={"Accept": OCTET_MULTIPART}))
    assert plain[0][0].endswith(f"transfer-syntax={EXPLICIT_LE}")
    assert (
        plain[0][1] == rle.pixel_array.astype("<i2" if rle.PixelRepresentation else "<u2").tobytes()
    )

    refused = api.get(url, headers={"Accept": "multipart/related; type=image/jpeg"})
    assert refused.status_code == 406
    detail = refused.json()["detail"]
    assert "RLE Lossless" in detail and "transfer-syntax=*" in detail


def test_a_list_of_frames_of_a_multi_frame_image_comes_in_the_order_asked(
    api: Client, doctor: User
) -> None:
    dose = store(doctor, "rtdose.dcm")  # 15 frames, 32-bit, Implicit VR Little Endian
    frames = dose.pixel_array

    response = api.get(f"{instance_path(dose)}/frames/3,1,15", headers={"Accept": OCTET_MULTIPART})

    assert response.status_code == 200
    got = [
        np.frombuffer(data, "<u4").reshape(dose.Rows, dose.Columns) for _, data in parts(response)
    ]
    assert len(got) == 3
    for want, have in zip((frames[2], frames[0], frames[14]), got, strict=True):
        assert np.array_equal(want, have)
    # A comma sent percent-encoded reads the same.
    encoded = api.get(f"{instance_path(dose)}/frames/3%2C1", headers={"Accept": OCTET_MULTIPART})
    assert len(parts(encoded)) == 2


def test_frames_of_a_large_file_stream_one_frame_at_a_time(
    api: Client, doctor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imaging.dicomweb import views

    rle = store(doctor, "emri_small_RLE.dcm")  # 10 frames
    monkeypatch.setattr(views, "EAGER_RETRIEVE_BYTES", 0)  # every file counts as large
    response = api.get(f"{instance_path(rle)}/frames/2,4,6", headers={"Accept": OCTET_MULTIPART})

    assert response.streaming  # the frames are cut (here: decoded) as the response is sent
    got = parts(response)
    assert [data for _, data in got] == [
        rle.pixel_array[n].astype("<u2" if not rle.PixelRepresentation else "<i2").tobytes()
        for n in (1, 3, 5)
    ]


def test_big_endian_frames_are_sent_little_endian(api: Client, doctor: User) -> None:
    big = store(doctor, "MR_small_bigendian.dcm")
    [(_, data)] = parts(api.get(f"{instance_path(big)}/frames/1"))
    assert np.array_equal(
        np.frombuffer(data, "<i2" if big.PixelRepresentation else "<u2").reshape(64, 64),
        big.pixel_array,
    )


def test_a_jpeg_frame_comes_as_its_jpeg_bitstream(api: Client, doctor: User) -> None:
    jpeg = store(doctor, "SC_rgb_jpeg_dcmtk.dcm")
    response = api.get(
        f"{instance_path(jpeg)}/frames/1", headers={"Accept": "multipart/related; type=image/jpeg"}
    )
    [(part_type, data)] = parts(response)
    assert part_type.startswith("image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50")
    assert data[:2] == b"\xff\xd8"
    assert data == get_frame(jpeg.PixelData, 0, number_of_frames=1)


def test_frames_that_do_not_exist_or_are_not_numbers_are_refused_with_reasons(
    api: Client, doctor: User
) -> None:
    ct = store(doctor, "CT_small.dcm")
    beyond = api.get(f"{instance_path(ct)}/frames/1,2")
    assert beyond.status_code == 404
    assert "has 1 frame(s)" in beyond.json()["detail"] and "frame 2" in beyond.json()["detail"]
    for bad in ("0", "one", "1,,2", "-1"):
        response = api.get(f"{instance_path(ct)}/frames/{bad}")
        assert response.status_code == 400, bad
        assert "1 for the first" in response.json()["detail"]
    several_as_one = api.get(
        f"{instance_path(ct)}/frames/1,1", headers={"Accept": "application/octet-stream"}
    )
    assert several_as_one.status_code == 406
    missing = api.get(
        f"{BASE}/studies/{ct.StudyInstanceUID}/series/{ct.SeriesInstanceUID}"
        "/instances/1.2.3/frames/1"
    )
    assert missing.status_code == 404
    assert "no instance with SOP Instance UID 1.2.3" in missing.json()["detail"]


# --- Bulk data -------------------------------------------------------------------------------


def _with_bulk_values() -> pydicom.Dataset:
    ds = synthetic_dataset(61)
    ds.add_new(0x00291010, "OB", bytes(range(256)) * 8)  # 2 KiB, private
    ds.add_new(0x00290010, "LO", "MEDASSIST TEST")
    icon = pydicom.Dataset()
    icon.Rows = icon.Columns = 64
    icon.SamplesPerPixel = 1
    icon.PhotometricInterpretation = "MONOCHROME2"
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit = 7
    icon.PixelRepresentation = 0
    icon.PixelData = bytes(range(256)) * 16
    ds.IconImageSequence = [icon]
    ds.add_new(0x00291011, "OB", b"\x01\x02")  # small: inlined
    return ds


def test_metadata_names_bulk_data_by_uri_and_each_uri_gives_the_value(
    api: Client, doctor: User
) -> None:
    ds = store(doctor, _with_bulk_values())
    study = f"{BASE}/studies/{ds.StudyInstanceUID}"

    for url in (
        f"{instance_path(ds)}/metadata",
        f"{study}/series/{ds.SeriesInstanceUID}/metadata",
        f"{study}/metadata",
    ):
        [meta] = api.get(url).json()
        pixel = meta["7FE00010"]
        assert pixel["vr"] in {"OB", "OW"} and "Value" not in pixel
        assert pixel["BulkDataURI"] == (f"http://testserver{instance_path(ds)}/bulkdata/7FE00010")
    assert meta["00291010"]["BulkDataURI"].endswith("/bulkdata/00291010")
    assert meta["00291011"]["InlineBinary"] == "AQI="
    icon_uri = meta["00880200"]["Value"][0]["7FE00010"]["BulkDataURI"]
    assert icon_uri.endswith("/bulkdata/00880200/0/7FE00010")

    def fetch(uri: str, accept: str | None = None) -> list[tuple[str, bytes]]:
        response = api.get(
            uri.removeprefix("http://testserver"), headers={"Accept": accept} if accept else {}
        )
        assert response.status_code == 200, response.content[:300]
        return parts(response)

    assert fetch(meta["00291010"]["BulkDataURI"]) == [
        ("application/octet-stream", bytes(range(256)) * 8)
    ]
    assert fetch(icon_uri)[0][1] == bytes(range(256)) * 16
    [(_, pixels)] = fetch(pixel["BulkDataURI"], OCTET_MULTIPART)
    assert pixels == ds.PixelData
    # OHIF asks without multipart and takes the body as the value.
    single = api.get(
        pixel["BulkDataURI"].removeprefix("http://testserver"), headers={"Accept": "*/*"}
    )
    assert single["Content-Type"].startswith("application/octet-stream")
    assert single.content == ds.PixelData

    not_binary = api.get(f"{instance_path(ds)}/bulkdata/00100010")  # Patient's Name
    assert not_binary.status_code == 404
    assert "not binary" in not_binary.json()["detail"]
    assert api.get(f"{instance_path(ds)}/bulkdata/00291099").status_code == 404
    assert api.get(f"{instance_path(ds)}/bulkdata/not-a-tag").status_code == 404


def test_compressed_pixel_data_as_bulk_data_comes_as_stored_frames_or_decoded(
    api: Client, doctor: User
) -> None:
    rle = store(doctor, "emri_small_RLE.dcm")  # 10 frames
    uri = f"{instance_path(rle)}/bulkdata/7FE00010"
    stored = parts(api.get(uri, headers={"Accept": f"{OCTET_MULTIPART}; transfer-syntax=*"}))
    assert len(stored) == 10
    assert stored[4][1] == get_frame(rle.PixelData, 4, number_of_frames=10)
    [(_, decoded)] = parts(api.get(uri, headers={"Accept": OCTET_MULTIPART}))
    assert decoded == rle.pixel_array.astype(rle.pixel_array.dtype.newbyteorder("<")).tobytes()


# --- Rendered series and study ---------------------------------------------------------------


def test_a_rendered_series_is_each_image_rendered(api: Client, doctor: User) -> None:
    first = store(doctor, synthetic_dataset(62))
    second = synthetic_dataset(63, patient_id=first.PatientID)
    second.StudyInstanceUID = first.StudyInstanceUID
    second.SeriesInstanceUID = first.SeriesInstanceUID
    second.InstanceNumber = 2
    store(doctor, second)
    series = f"{BASE}/studies/{first.StudyInstanceUID}/series/{first.SeriesInstanceUID}"

    response = api.get(
        f"{series}/rendered", headers={"Accept": "multipart/related; type=image/png"}
    )
    assert response.status_code == 200
    rendered = parts(response)
    assert [t for t, _ in rendered] == ["image/png", "image/png"]
    assert all(data.startswith(b"\x89PNG") for _, data in rendered)
    study = api.get(
        f"{BASE}/studies/{first.StudyInstanceUID}/rendered",
        headers={"Accept": "multipart/related; type=image/jpeg"},
    )
    assert [data[:2] for _, data in parts(study)] == [b"\xff\xd8", b"\xff\xd8"]
    assert api.get(f"{series}/rendered", headers={"Accept": "text/html"}).status_code == 406


# --- QIDO-RS as OHIF asks ------------------------------------------------------------------


def test_study_results_carry_time_accession_and_referring_physician(
    api: Client, doctor: User
) -> None:
    sc = store(doctor, "SC_rgb_jpeg_dcmtk.dcm")  # Moriarty^James, 120000
    ct = store(doctor, "CT_small.dcm")

    # OHIF's study list: includefield with its comma percent-encoded, paging, a patient ID.
    response = api.get(
        f"{BASE}/studies?limit=101&offset=0&fuzzymatching=false"
        "&includefield=00081030%2C00080060&00100020=ID1"
    )
    assert response.status_code == 200
    [study] = response.json()
    assert study["00080030"] == {"vr": "TM", "Value": ["120000"]}
    assert study["00080090"] == {"vr": "PN", "Value": [{"Alphabetic": "Moriarty^James"}]}
    assert study["00080050"]["vr"] == "SH"  # AccessionNumber: present, empty here
    # Study Description is returned; Modality is a series attribute (ModalitiesInStudy is
    # returned instead), which the Warning header says.
    assert study["00081030"]["vr"] == "LO"
    assert "not returned: Modality" in response["Warning"]

    by_uid = api.get(f"{BASE}/studies", {"StudyInstanceUID": ct.StudyInstanceUID}).json()
    assert [s["0020000D"]["Value"] for s in by_uid] == [[ct.StudyInstanceUID]]
    assert by_uid[0]["00080030"]["Value"] == ["072730"]
    assert "Value" not in by_uid[0]["00080090"]  # no referring physician in this file

    # Repeated includefield, and paging one at a time, oldest first.
    repeated = api.get(f"{BASE}/studies?includefield=StudyTime&includefield=00080090")
    assert repeated.status_code == 200 and "Warning" not in repeated
    pages = [api.get(f"{BASE}/studies", {"limit": 1, "offset": o}) for o in (0, 1, 2)]
    assert [p.json()[0]["0020000D"]["Value"][0] for p in pages[:2]] == [
        sc.StudyInstanceUID,
        ct.StudyInstanceUID,
    ]
    assert "offset=1" in pages[0]["Warning"]
    assert pages[2].status_code == 204

    # Series search with includefield, as OHIF sends it; the study's attributes come along.
    series = api.get(
        f"{BASE}/studies/{sc.StudyInstanceUID}/series?includefield=0008103E%2C00200011"
    )
    [one] = series.json()
    assert one["00080090"]["Value"] == [{"Alphabetic": "Moriarty^James"}]
    instances = api.get(f"{BASE}/studies/{sc.StudyInstanceUID}/instances").json()
    assert instances[0]["00080030"]["Value"] == ["120000"]


# --- Retrieve URLs: the base URL setting, and the port --------------------------------------


def _retrieve_url(client: Client, study: str, **extra: str) -> str:
    [result] = client.get(f"{BASE}/studies", {"StudyInstanceUID": study}, **extra).json()
    return result["00081190"]["Value"][0]


def test_retrieve_urls_keep_the_port_the_request_came_to(
    api: Client, doctor: User, settings: Settings
) -> None:
    settings.ALLOWED_HOSTS = ["medassist.test"]
    ct = store(doctor, "CT_small.dcm")
    study = f"/imaging/dicomweb/studies/{ct.StudyInstanceUID}"

    # A Host header without the port (as some clients send it): the server's port is added.
    assert _retrieve_url(
        api, ct.StudyInstanceUID, HTTP_HOST="medassist.test", SERVER_PORT="8123"
    ) == (f"http://medassist.test:8123{study}")
    # With it, as sent.
    assert _retrieve_url(api, ct.StudyInstanceUID, HTTP_HOST="medassist.test:9000") == (
        f"http://medassist.test:9000{study}"
    )
    # The default port, or behind a proxy (which knows the public port): the host alone.
    assert _retrieve_url(
        api, ct.StudyInstanceUID, HTTP_HOST="medassist.test", SERVER_PORT="80"
    ) == (f"http://medassist.test{study}")
    proxied = _retrieve_url(
        api,
        ct.StudyInstanceUID,
        HTTP_HOST="medassist.test",
        SERVER_PORT="8000",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
    )
    assert proxied == f"http://medassist.test{study}"


def test_the_base_url_setting_names_every_retrieve_url_and_bulk_data_uri(
    api: Client, doctor: User, settings: Settings
) -> None:
    settings.MEDASSIST_DICOMWEB_BASE_URL = "https://pacs.example.org:8443/dicomweb/"
    ct = store(doctor, "CT_small.dcm")
    root = "https://pacs.example.org:8443/dicomweb"

    assert _retrieve_url(api, ct.StudyInstanceUID) == f"{root}/studies/{ct.StudyInstanceUID}"
    [meta] = api.get(f"{instance_path(ct)}/metadata").json()
    assert meta["7FE00010"]["BulkDataURI"] == (
        f"{root}{instance_path(ct).removeprefix(BASE)}/bulkdata/7FE00010"
    )
    [series] = api.get(f"{BASE}/series").json()
    assert series["00081190"]["Value"][0].startswith(f"{root}/studies/")


# --- CORS ------------------------------------------------------------------------------------

PREFLIGHT = {
    "HTTP_ORIGIN": "https://viewer.example.org",
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization,accept",
}


def test_cors_is_off_unless_origins_are_named(api: Client, doctor: User) -> None:
    preflight = Client().options(f"{BASE}/studies", **PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in preflight
    search = api.get(f"{BASE}/studies", HTTP_ORIGIN="https://viewer.example.org")
    assert "Access-Control-Allow-Origin" not in search


def test_cors_answers_preflight_and_requests_of_the_named_origins_on_dicomweb_only(
    api: Client, doctor: User, settings: Settings
) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://viewer.example.org"]
    settings.CORS_URLS_REGEX = r"^/imaging/dicomweb/"
    ct = store(doctor, "CT_small.dcm")

    preflight = Client().options(f"{instance_path(ct)}/frames/1", **PREFLIGHT)
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "https://viewer.example.org"
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    assert "GET" in preflight["Access-Control-Allow-Methods"]

    response = api.get(f"{BASE}/studies", HTTP_ORIGIN="https://viewer.example.org")
    assert response["Access-Control-Allow-Origin"] == "https://viewer.example.org"
    assert "Warning" in response["Access-Control-Expose-Headers"]
    # Another origin, or another part of the site: no CORS headers.
    other = api.get(f"{BASE}/studies", HTTP_ORIGIN="https://evil.example.org")
    assert "Access-Control-Allow-Origin" not in other
    page = Client().options("/accounts/login/", **PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in page
