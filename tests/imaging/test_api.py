"""The REST upload endpoint: a raw application/dicom body or a multipart form, same rules."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection
from django.db import OperationalError as DatabaseOperationalError
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from diagnosis.inference import services as inference_services
from diagnosis.inference.models import InferenceRequest
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from imaging.signals import instances_filed
from medassist.celery import app as celery_app
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent
from medassist.roles import Role
from tests.factories import synthetic_dataset, synthetic_file

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


def test_a_signed_in_doctor_uploads_without_a_token(doctor: User) -> None:
    browser = Client()
    browser.force_login(doctor)

    response = browser.post(URL, data=synthetic_file(19), content_type="application/dicom")

    assert response.status_code == 201, response.content
    assert Instance.objects.get().uploaded_by == doctor


def test_a_doctor_holding_other_roles_and_groups_uploads_with_a_token(doctor: User) -> None:
    doctor.groups.add(Group.objects.get_or_create(name=Role.NURSE)[0])
    doctor.groups.add(Group.objects.create(name="radiology-night-shift"))
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=doctor).key}")

    response = client.post(URL, data=synthetic_file(20), content_type="application/dicom")

    assert response.status_code == 201, response.content


def test_a_token_of_a_user_without_the_doctor_role_stores_nothing(nurse: User) -> None:
    nurse.groups.add(Group.objects.create(name="doctor-in-training"))
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=nurse).key}")

    response = client.post(URL, data=synthetic_file(21), content_type="application/dicom")

    assert response.status_code == 403
    assert "doctor role" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_an_unknown_token_or_a_deactivated_doctors_token_stores_nothing(
    doctor: User, token: str
) -> None:
    unknown = Client(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert unknown.post(URL, data=synthetic_file(22), content_type="application/dicom").json() == {
        "detail": "Invalid token."
    }
    doctor.is_active = False
    doctor.save()

    response = Client(HTTP_AUTHORIZATION=f"Token {token}").post(
        URL, data=synthetic_file(23), content_type="application/dicom"
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "User inactive or deleted."}
    assert not Instance.objects.exists()


def _one_series(n: int) -> list[bytes]:
    study, series = generate_uid(), generate_uid()
    files = []
    for i in range(n):
        ds = synthetic_dataset(30 + i, patient_id="API-SERIES-1")
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.InstanceNumber = study, series, i + 1
        files.append(dicom_bytes(ds))
    return files


@pytest.mark.django_db(transaction=True)
def test_an_upload_into_a_known_series_costs_the_statements_its_work_needs(
    api: Client, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    first, *rest = _one_series(3)
    assert api.post(URL, data=first, content_type="application/dicom").status_code == 201

    for data in rest:
        with CaptureQueriesContext(connection) as queries:
            response = api.post(URL, data=data, content_type="application/dicom")
        assert response.status_code == 201, response.content
        # The token with its user and roles; the stored copies of the UID; in one
        # transaction (BEGIN and COMMIT): the series with its study and patient, the row's
        # INSERT in its savepoint (a racing upload of the same UID is answered as a duplicate
        # or a conflict), the worklist flag, the audit event, and in a savepoint the
        # champion's answers and the inference request; after the commit, the two reads that
        # say whether a wake-up is on its way already.
        assert len(queries) <= 16, "\n".join(q["sql"][:120] for q in queries.captured_queries)

    assert InferenceRequest.objects.filter(status="pending").count() == 3
    assert AuditEvent.objects.filter(action="instance.ingest").count() == 3


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_broker_is_down_is_stored_with_its_waiting_request(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", refused)
    data = synthetic_file(24)

    response = api.post(URL, data=data, content_type="application/dicom")

    # The uploader is told the file is stored, and it is, with its work waiting.
    assert response.status_code == 201, response.content
    instance = Instance.objects.get()
    assert _stored(instance) == _as_stored(data)
    assert InferenceRequest.objects.filter(
        instance=instance, status=InferenceRequest.Status.PENDING
    ).exists()
    assert "Connection refused" in caplog.text
    # The minute sweep sends the wake-up the outage swallowed.
    woken: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(
        inference_services, "job_enqueue", lambda name, **kw: woken.append((name, kw)) or True
    )
    inference_services.inference_sweep(now=timezone.now() + inference_services.SETTLE * 2)
    assert (inference_services.SUGGESTION_COMPUTE, {"instance_id": instance.pk}) in woken


@pytest.mark.django_db(transaction=True)
def test_an_uploads_inference_request_commits_with_the_image_in_one_transaction(
    api: Client, sent: list[tuple[str, dict[str, Any]]]
) -> None:
    filed_in_transaction: list[bool] = []

    def receiver(sender: object, **kwargs: object) -> None:
        filed_in_transaction.append(connection.in_atomic_block)

    instances_filed.connect(receiver, dispatch_uid="test-filed")
    try:
        response = api.post(URL, data=synthetic_file(25), content_type="application/dicom")
    finally:
        instances_filed.disconnect(dispatch_uid="test-filed")

    assert response.status_code == 201, response.content
    assert filed_in_transaction == [True]
    instance = Instance.objects.get()
    assert InferenceRequest.objects.filter(instance=instance, status="pending").exists()
    # The wake-up goes after the commit, once.
    assert [name for name, _ in sent] == [inference_services.SUGGESTION_COMPUTE]


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_inference_request_cannot_be_written_is_stored_and_swept_later(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: object) -> list[int]:
        raise RuntimeError("injected: the request table is unwritable")

    monkeypatch.setattr(inference_services, "inference_requests_create", broken)

    response = api.post(URL, data=synthetic_file(26), content_type="application/dicom")

    assert response.status_code == 201, response.content
    instance = Instance.objects.get()
    assert AuditEvent.objects.filter(action="instance.ingest", object_id=str(instance.pk)).exists()
    assert not InferenceRequest.objects.exists()
    assert "injected" in caplog.text
    monkeypatch.undo()
    # The minute sweep finds the image without a request once its study is quiet.
    woken: list[str] = []
    monkeypatch.setattr(inference_services, "job_enqueue", lambda name, **kw: woken.append(name))
    Instance.objects.filter(pk=instance.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=10)
    )
    assert inference_services.inference_sweep()["lost"] == 1
    assert InferenceRequest.objects.filter(instance=instance, status="pending").exists()


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_inference_request_fails_once_gets_it_right_after_the_commit(
    api: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    # Mocked: a lock timeout or a serialization failure of the request table inside the
    # upload's transaction cannot be timed with the real server; the first write raising
    # what psycopg would is. The second, after the commit, is the real one.
    real = inference_services.inference_requests_create
    calls: list[bool] = []

    def fails_in_the_transaction(**kwargs: Any) -> list[int]:
        calls.append(connection.in_atomic_block)
        if len(calls) == 1:
            raise DatabaseOperationalError("injected: lock timeout on the request table")
        return real(**kwargs)

    monkeypatch.setattr(inference_services, "inference_requests_create", fails_in_the_transaction)

    response = api.post(URL, data=synthetic_file(29), content_type="application/dicom")

    assert response.status_code == 201, response.content
    assert calls == [True, False], "tried in the upload's transaction, then after its commit"
    instance = Instance.objects.get()
    # No wait for the sweep: the request is open and a worker woken when the doctor is answered.
    assert InferenceRequest.objects.filter(instance=instance, status="pending").exists()
    assert [name for name, _ in sent] == [inference_services.SUGGESTION_COMPUTE]
    assert "injected" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_inference_request_fails_again_after_the_commit_is_left_to_the_sweep(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Mocked, as above: the lock that does not go away.
    calls: list[bool] = []

    def keeps_failing(**kwargs: Any) -> list[int]:
        calls.append(connection.in_atomic_block)
        raise DatabaseOperationalError("injected: lock timeout on the request table")

    monkeypatch.setattr(inference_services, "inference_requests_create", keeps_failing)

    response = api.post(URL, data=synthetic_file(31), content_type="application/dicom")

    assert response.status_code == 201, response.content
    assert calls == [True, False], "one more try after the commit, no more"
    assert Instance.objects.exists() and not InferenceRequest.objects.exists()
    assert caplog.text.count("injected") >= 2


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_wake_up_fails_after_the_commit_is_answered_as_stored(
    api: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Mocked: a database lost in the instant between the commit and the wake-up's reads
    # cannot be timed with the real server; the wake-up raising what psycopg would is.
    def lost(**kwargs: object) -> bool:
        raise DatabaseError("injected: the connection dropped after the commit")

    monkeypatch.setattr(inference_services, "inference_wake", lost)

    response = api.post(URL, data=synthetic_file(27), content_type="application/dicom")

    assert response.status_code == 201, response.content
    instance = Instance.objects.get()
    # The request committed with the image; the minute sweep wakes a worker for it.
    assert InferenceRequest.objects.filter(instance=instance, status="pending").exists()
    assert "injected" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_pushed_image_whose_stability_check_fails_after_the_commit_is_stored(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Mocked: the cache and broker lost in the instant after the commit cannot be timed
    # with the real Redis; the stability check's scheduling raising what redis-py would is.
    from redis.exceptions import ConnectionError as RedisConnectionError

    from imaging import stability

    def lost(*args: object, **kwargs: object) -> None:
        raise RedisConnectionError("injected: Redis went away after the commit")

    monkeypatch.setattr(stability, "_schedule", lost)

    result = instance_ingest(data=synthetic_file(30), source="c-store")

    # The modality is told the image is stored (it is): the sweep finds its study later.
    assert result.created and Instance.objects.filter(pk=result.instance.pk).exists()
    assert "injected" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_pushed_image_is_not_declared_stable_inside_its_transaction(
    sent: list[tuple[str, dict[str, Any]]],
) -> None:
    filed: list[str] = []

    def receiver(sender: object, *, source: str, **kwargs: object) -> None:
        filed.append(source)

    instances_filed.connect(receiver, dispatch_uid="test-filed-pushed")
    try:
        instance_ingest(data=synthetic_file(28), source="c-store")
    finally:
        instances_filed.disconnect(dispatch_uid="test-filed-pushed")

    # A modality's study waits for its quiet period: no request yet, nothing woken.
    assert filed == []
    assert not InferenceRequest.objects.exists()
    assert sent == []
