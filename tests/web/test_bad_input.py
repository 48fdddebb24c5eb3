"""Bad input is refused with a message a clinician can act on, and changes nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from rest_framework.authtoken.models import Token

from diagnosis.encounters.models import Encounter
from imaging.models import Instance, Series, Study
from medassist.ml.synthetic import dicom_bytes
from medassist.models import Patient
from tests.factories import (
    file_without_pixels,
    ingested_instance,
    synthetic_dataset,
    synthetic_file,
    truncated_file,
)
from tests.web.helpers import field_errors, stored_files, text_of

pytestmark = pytest.mark.django_db

# (id, how to build the file, words the clinician must read)
BAD_FILES: list[tuple[str, Callable[[], bytes], str]] = [
    ("not-dicom", lambda: b"hello", "not a DICOM file"),
    ("truncated", lambda: truncated_file(2), "truncated"),
    ("no-pixel-data", file_without_pixels, "no pixel data"),
]


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/dicom")


def _state() -> dict[str, Any]:
    return {
        "rows": [m.objects.count() for m in (Patient, Study, Series, Instance)],
        "files": stored_files(),
    }


@pytest.fixture
def existing(doctor: User) -> Instance:
    """A case already stored before the bad upload arrives."""
    return ingested_instance(1, by=doctor)


def _assert_untouched(instance: Instance) -> None:
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    assert hashlib.sha256(path.read_bytes()).hexdigest() == instance.sha256
    fresh = Instance.objects.get(pk=instance.pk)
    assert (fresh.sha256, fresh.storage_key) == (instance.sha256, instance.storage_key)


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


@pytest.fixture
def api_client(doctor: User) -> Client:
    token = Token.objects.create(user=doctor)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.mark.parametrize(
    ("build", "words"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_the_upload_page_refuses_a_bad_file_next_to_the_field_and_stores_nothing(
    doctor_client: Client, existing: Instance, build: Callable[[], bytes], words: str
) -> None:
    before = _state()
    response = doctor_client.post(reverse("imaging:upload"), {"file": _upload("scan.dcm", build())})
    assert 400 <= response.status_code < 500
    errors = field_errors(response)
    assert list(errors) == ["file"]
    assert words in errors["file"][0]
    assert _state() == before
    _assert_untouched(existing)


@pytest.mark.parametrize(
    ("build", "words"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_the_api_refuses_a_bad_file_with_a_json_reason_and_stores_nothing(
    api_client: Client, existing: Instance, build: Callable[[], bytes], words: str
) -> None:
    before = _state()
    response = api_client.post(
        reverse("imaging:api-upload"), {"file": _upload("scan.dcm", build())}
    )
    assert 400 <= response.status_code < 500
    assert words in response.json()["detail"]
    assert _state() == before
    _assert_untouched(existing)


def test_the_api_asks_for_the_file_field_when_it_is_missing(api_client: Client) -> None:
    response = api_client.post(reverse("imaging:api-upload"), {"other": "x"})
    assert response.status_code == 400
    assert "'file'" in response.json()["detail"]


def test_the_api_refuses_a_nurse_token_and_stores_nothing(nurse: User) -> None:
    nurse_api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=nurse).key}")
    response = nurse_api.post(
        reverse("imaging:api-upload"), {"file": _upload("scan.dcm", synthetic_file(3))}
    )
    assert response.status_code == 403
    assert "doctor" in response.json()["detail"]
    assert not Instance.objects.exists()


def test_the_api_refuses_an_anonymous_upload(client: Client) -> None:
    response = client.post(
        reverse("imaging:api-upload"), {"file": _upload("scan.dcm", synthetic_file(3))}
    )
    assert response.status_code in {401, 403}
    assert not Instance.objects.exists()


def test_the_same_file_uploaded_twice_is_stored_once(
    doctor_client: Client, api_client: Client
) -> None:
    data = synthetic_file(4)
    first = doctor_client.post(reverse("imaging:upload"), {"file": _upload("a.dcm", data)})
    instance = Instance.objects.get()
    assert first.status_code == 302
    assert first["Location"] == reverse("diagnosis:case", kwargs={"instance_id": instance.pk})

    again = doctor_client.post(reverse("imaging:upload"), {"file": _upload("b.dcm", data)})
    assert again["Location"] == first["Location"]
    by_api = api_client.post(reverse("imaging:api-upload"), {"file": _upload("c.dcm", data)})
    assert by_api.status_code == 200
    assert by_api.json()["id"] == instance.pk
    assert by_api.json()["created"] is False

    assert Instance.objects.count() == 1
    assert len(stored_files()) == 1


def test_a_different_file_with_a_stored_sop_instance_uid_is_a_conflict(
    doctor_client: Client, api_client: Client, existing: Instance
) -> None:
    impostor = synthetic_dataset(5, finding="opacity")
    impostor.SOPInstanceUID = existing.sop_instance_uid
    impostor.file_meta.MediaStorageSOPInstanceUID = existing.sop_instance_uid
    data = dicom_bytes(impostor)
    before = _state()

    response = api_client.post(reverse("imaging:api-upload"), {"file": _upload("x.dcm", data)})
    assert response.status_code == 409
    assert "same SOP Instance UID" in response.json()["detail"]

    page = doctor_client.post(reverse("imaging:upload"), {"file": _upload("x.dcm", data)})
    assert page.status_code == 409
    assert "same SOP Instance UID" in field_errors(page)["file"][0]

    assert _state() == before
    _assert_untouched(existing)


def test_a_study_already_filed_under_another_patient_is_refused_and_nothing_is_registered(
    api_client: Client, existing: Instance
) -> None:
    study_uid = existing.series.study.study_instance_uid
    data = synthetic_file(6, patient_id="SOMEONE-ELSE", study_uid=study_uid)
    before = _state()

    response = api_client.post(reverse("imaging:api-upload"), {"file": _upload("x.dcm", data)})

    assert response.status_code == 409
    assert "another patient" in response.json()["detail"]
    assert _state() == before  # no new patient, study, series, instance or file
    _assert_untouched(existing)


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(
    doctor_client: Client, settings: Settings
) -> None:
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 2_000_000
    data = synthetic_file(7) + b"\0" * 2_000_000

    response = doctor_client.post(reverse("imaging:upload"), {"file": _upload("big.dcm", data)})

    assert response.status_code == 413
    assert "the limit is 2 MB" in field_errors(response)["file"][0]
    assert _state()["rows"] == [0, 0, 0, 0]


# --- The nurse's encounter form ----------------------------------------------------------

VALID_ENCOUNTER = {
    "mrn": "MRN-100",
    "name": "Ada Test",
    "birth_date": "1970-01-01",
    "sex": "F",
    "chief_complaint": "Chest pain since this morning",
    "heart_rate": "88",
    "respiratory_rate": "16",
    "spo2": "97",
    "systolic_bp": "130",
    "diastolic_bp": "80",
    "temperature": "37.2",
    "temperature_unit": "C",
    "pain": "4",
    "mental_status": "A",
}


@pytest.fixture
def nurse_client(client: Client, nurse: User) -> Client:
    client.force_login(nurse)
    return client


def test_implausible_vitals_are_refused_each_next_to_its_own_field(nurse_client: Client) -> None:
    implausible = {
        **VALID_ENCOUNTER,
        "spo2": "150",
        "heart_rate": "500",
        "temperature": "60",
        "systolic_bp": "120",
        "diastolic_bp": "130",
        "pain": "11",
    }
    response = nurse_client.post(reverse("diagnosis:encounter-new"), implausible)

    assert response.status_code == 400
    errors = field_errors(response)
    assert set(errors) == {"spo2", "heart_rate", "temperature", "diastolic_bp", "pain"}
    assert "expected 0 to 100 percent" in errors["spo2"][0]
    assert "expected 20 to 300 beats per minute" in errors["heart_rate"][0]
    assert "expected 25-45 °C" in errors["temperature"][0]
    assert "lower than systolic" in errors["diastolic_bp"][0]
    assert "expected 0 to 10" in errors["pain"][0]
    # What the nurse typed is kept, so only the wrong fields need retyping.
    assert "Chest pain since this morning" in text_of(response)
    assert not Encounter.objects.exists()
    assert not Patient.objects.exists()


def test_a_fahrenheit_temperature_out_of_range_is_explained_in_fahrenheit(
    nurse_client: Client,
) -> None:
    response = nurse_client.post(
        reverse("diagnosis:encounter-new"),
        {**VALID_ENCOUNTER, "temperature": "140", "temperature_unit": "F"},
    )
    assert response.status_code == 400
    assert "expected 77-113 °F" in field_errors(response)["temperature"][0]
    assert not Encounter.objects.exists()


def test_a_valid_encounter_registers_the_patient_and_opens_the_encounter(
    nurse_client: Client, nurse: User
) -> None:
    response = nurse_client.post(reverse("diagnosis:encounter-new"), VALID_ENCOUNTER)

    encounter = Encounter.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "diagnosis:encounter", kwargs={"encounter_id": encounter.pk}
    )
    patient = Patient.objects.get()
    assert (patient.mrn, patient.name, patient.sex) == ("MRN-100", "Ada Test", "F")
    assert encounter.patient == patient
    assert encounter.opened_by == nurse
    assert (encounter.heart_rate, encounter.spo2, encounter.pain) == (88, 97, 4)
    assert encounter.temperature_c == Decimal("37.2")
    page = nurse_client.get(response["Location"])
    assert "Chest pain since this morning" in text_of(page)


def test_an_existing_patient_is_reused_not_registered_twice(nurse_client: Client) -> None:
    nurse_client.post(reverse("diagnosis:encounter-new"), VALID_ENCOUNTER)
    nurse_client.post(
        reverse("diagnosis:encounter-new"),
        {**VALID_ENCOUNTER, "chief_complaint": "Back again: cough", "name": "Ada T."},
    )
    patient = Patient.objects.get()
    assert patient.encounters.count() == 2
    # The registered name is not overwritten by a later spelling.
    assert patient.name == "Ada Test"


def test_a_temperature_in_fahrenheit_is_stored_in_celsius(nurse_client: Client) -> None:
    response = nurse_client.post(
        reverse("diagnosis:encounter-new"),
        {**VALID_ENCOUNTER, "temperature": "98.6", "temperature_unit": "F"},
    )
    assert response.status_code == 302
    assert Encounter.objects.get().temperature_c == Decimal("37.0")
