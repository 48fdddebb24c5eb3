"""Who may use each medication URL (the project-wide matrix checks every role; these check
what each role sees)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from diagnosis.medication import urls as medication_urls
from medassist.access import POLICY

pytestmark = pytest.mark.django_db

NAMES = [name for name in POLICY if name.startswith("diagnosis:medication")]


def test_every_medication_url_has_a_policy_entry() -> None:
    routed = {f"diagnosis:{pattern.name}" for pattern in medication_urls.urlpatterns}
    assert len(NAMES) == 10
    assert routed == set(NAMES)


def _get(user: User, url: str) -> int:
    client = Client()
    client.force_login(user)
    return client.get(url).status_code


def test_the_encounter_page_is_for_nurses_and_doctors_only(
    encounter: Encounter, nurse: User, doctor: User, lead: User
) -> None:
    url = reverse("diagnosis:medication", args=[encounter.pk])
    assert _get(nurse, url) == 200
    assert _get(doctor, url) == 200
    assert _get(lead, url) == 403, "clinical leads see no patient"


def test_the_plan_form_is_shown_to_doctors_only(
    encounter: Encounter, nurse: User, doctor: User
) -> None:
    url = reverse("diagnosis:medication", args=[encounter.pk])
    for user, shown in ((nurse, False), (doctor, True)):
        client = Client()
        client.force_login(user)
        assert ('id="plan-form"' in client.get(url).content.decode()) is shown
    client = Client()
    client.force_login(nurse)
    plan = reverse("diagnosis:medication-plan", args=[encounter.pk])
    assert client.post(plan, {"name": "paracetamol"}).status_code == 403


def test_the_knowledge_table_is_read_by_doctors_and_written_by_leads(
    doctor: User, lead: User, nurse: User
) -> None:
    url = reverse("diagnosis:medication-knowledge")
    assert _get(doctor, url) == 200
    assert _get(lead, url) == 200
    assert _get(nurse, url) == 403
    assert _get(doctor, reverse("diagnosis:medication-knowledge-new")) == 403
    assert _get(lead, reverse("diagnosis:medication-knowledge-new")) == 200
