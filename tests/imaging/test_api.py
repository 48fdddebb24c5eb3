"""The REST upload endpoint: a raw application/dicom body or a multipart form, same rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pydicom.data import get_testdata_file
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from imaging.models import Instance
from tests.factories import synthetic_file

pytestmark = pytest.mark.django_db

URL = "/imaging/api/instances/"


@pytest.fixture
def token(doctor: User) -> str:
    return Token.objects.create(user=doctor).key


@pytest.fixture
def api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def _stored(instance: Instance) -> bytes:
    return (Path(settings.MEDIA_ROOT) / instance.storage_key).read_bytes()


def _as_stored(data: bytes) -> bytes:
    return b"\0" * 128 + data[128:]


def test_the_url_is_the_documented_one() -> None:
    assert reverse("imaging:api-upload") == URL


def test_a_raw_dicom_body_without_a_filename_is_stored(api: Client) -> None:
    data = Path(str(get_testdata_file("CT_small.dcm"))).read_bytes()

    response = api.post(URL, data=data, content_type="application/dicom")

    assert response.status_code == 201, response.content
    body = response.json()
    instance = Instance.objects.get()
    assert body["id"] == instance.pk
    assert body["created"] is True
    assert body["sop_instance_uid"] == instance.sop_instance_uid
    assert instance.source == "api"
    assert _stored(instance) == _as_stored(data)
    assert hashlib.sha256(_stored(instance)).hexdigest() == body["sha256"]


def test_a_raw_body_with_a_transfer_syntax_parameter_is_stored(api: Client) -> None:
    data = synthetic_file(11)

    response = api.post(
        URL,
        data=data,
        content_type="application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
    )

    assert response.status_code == 201, response.content


def test_a_raw_dicom_body_sent_over_http_by_a_plain_client_is_stored(
    live_server, token: str
) -> None:  # type: ignore[no-untyped-def]
    data = synthetic_file(12)

    response = requests.post(
        f"{live_server.url}{URL}",
        data=data,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/dicom"},
        timeout=30,
    )

    assert response.status_code == 201, response.text
    assert _stored(Instance.objects.get()) == _as_stored(data)


def test_the_same_raw_body_sent_twice_is_stored_once(api: Client) -> None:
    data = synthetic_file(13)
    first = api.post(URL, data=data, content_type="application/dicom")
    again = api.post(URL, data=data, content_type="application/dicom")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert Instance.objects.count() == 1


def test_a_raw_body_that_is_not_dicom_is_refused_with_its_code(api: Client) -> None:
    response = api.post(URL, data=b"hello, not an image", content_type="application/dicom")

    assert response.status_code == 400
    assert response.json()["code"] == "not_dicom"
    assert "not a DICOM file" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_an_empty_raw_body_is_answered_with_how_to_send_the_file(api: Client) -> None:
    response = api.post(URL, data=b"", content_type="application/dicom")

    assert response.status_code == 400
    assert "application/dicom" in response.json()["detail"]


def test_a_raw_body_over_the_size_limit_is_refused_with_the_limit_named(
    api: Client, settings: Settings
) -> None:
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 1_000_000
    data = synthetic_file(14) + b"\0" * 2_000_000

    response = api.post(URL, data=data, content_type="application/dicom")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "the limit is 1 MB" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_a_multipart_upload_still_works(api: Client) -> None:
    data = synthetic_file(15)
    upload = SimpleUploadedFile("scan.dcm", data, content_type="application/dicom")

    response = api.post(URL, {"file": upload})

    assert response.status_code == 201, response.content
    assert _stored(Instance.objects.get()) == _as_stored(data)


def test_a_multipart_upload_over_the_size_limit_is_refused(api: Client, settings: Settings) -> None:
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 1_000_000
    upload = SimpleUploadedFile("big.dcm", synthetic_file(16) + b"\0" * 1_500_000)

    response = api.post(URL, {"file": upload})

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Instance.objects.exists()


def test_a_named_octet_stream_body_still_works(api: Client) -> None:
    data = synthetic_file(17)

    response = api.post(
        URL,
        data=data,
        content_type="application/octet-stream",
        HTTP_CONTENT_DISPOSITION='attachment; filename="scan.dcm"',
    )

    assert response.status_code == 201, response.content


def test_a_raw_body_just_over_the_limit_is_refused_while_it_is_read(
    api: Client, settings: Settings
) -> None:
    # Within the slack left for multipart framing, so the declared length lets it in; the
    # bounded read stops one byte past the limit.
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 1_000_000
    data = synthetic_file(18)
    data += b"\0" * (1_000_001 - len(data))

    response = api.post(URL, data=data, content_type="application/dicom")

    assert response.status_code == 413
    assert response.json() == {
        "detail": "This file is over the 1 MB limit; it was refused unread.",
        "code": "too_large",
    }
