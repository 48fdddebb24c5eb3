"""The final diagnosis page: search as you type, a validated code, nothing overwritten."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import FinalDiagnosis
from diagnosis.encounters.services import final_diagnosis_record
from medassist.models import AuditEvent
from tests.diagnosis.encounters.helpers import encounter_of

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_new_final_diagnosis_supersedes_the_old_and_both_remain(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    first = final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code="J18.9")
    second = final_diagnosis_record(
        encounter=encounter, doctor=doctor, icd10_code="J18.1", note="Lobar on the film"
    )
    first.refresh_from_db()
    assert (first.icd10_code, first.icd10_title) == ("J18.9", "Pneumonia, unspecified")
    assert second.supersedes == first
    assert FinalDiagnosis.objects.filter(encounter=encounter).count() == 2
    events = AuditEvent.objects.filter(action="final_diagnosis.record").order_by("pk")
    assert [e.detail["icd10"] for e in events] == ["J18.9", "J18.1"]
    assert events[1].detail["mrn"] == encounter.patient.mrn


def test_an_unknown_code_is_not_recorded(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    with pytest.raises(ValidationError):
        final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code="Q99.X")
    assert not FinalDiagnosis.objects.exists()


def test_the_htmx_search_returns_only_the_results_fragment(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    response = _client(doctor).get(url, {"q": "lobar pneumonia"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<fieldset id="icd10-results"')
    assert 'value="J18.1"' in body and "Lobar pneumonia, unspecified" in body
    assert "<html" not in body


def test_the_search_works_without_javascript_as_a_full_page(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    response = _client(doctor).get(url, {"q": "J18"})
    body = response.content.decode()
    assert "<html" in body and 'value="J18.9"' in body
    assert "SYNTHETIC DATA" in body


def test_posting_a_code_saves_it_and_shows_it_as_current(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    client = _client(doctor)
    response = client.post(url, {"icd10_code": "J18.9", "note": "CXR consolidation"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Final diagnosis saved: J18.9 Pneumonia, unspecified." in page
    saved = FinalDiagnosis.objects.get()
    assert (saved.doctor, saved.note) == (doctor, "CXR consolidation")


def test_posting_an_unknown_code_shows_why_and_keeps_the_note(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    response = _client(doctor).post(url, {"icd10_code": "ZZZ1", "note": "my words"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "ZZZ1 is not an ICD-10 code" in body
    assert "my words" in body
    assert not FinalDiagnosis.objects.exists()


def test_only_doctors_record_final_diagnoses(nurse, ml_admin) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    for user in (nurse, ml_admin):
        assert _client(user).post(url, {"icd10_code": "J18.9"}).status_code == 403
    assert not FinalDiagnosis.objects.exists()


def test_opening_the_page_is_audited_but_typing_in_the_search_is_not(doctor, nurse) -> None:
    encounter = encounter_of(nurse)
    url = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    client = _client(doctor)
    client.get(url)
    client.get(url, {"q": "pneu"}, HTTP_HX_REQUEST="true")
    views = AuditEvent.objects.filter(action="encounter.view", object_id=str(encounter.pk))
    assert views.count() == 1 and views.get().actor == doctor
