"""A NUL or other control character in what a client sends is a 400, never a 500.

PostgreSQL cannot hold a NUL in text, so such a value reaching a query used to end as a 500.
The URL (path and query parameters) is refused by medassist.security before any view runs;
form fields are refused by Django's form fields, next to the field.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Encounter
from tests.web.helpers import field_errors
from tests.web.test_bad_input import VALID_ENCOUNTER

pytestmark = pytest.mark.django_db

# QIDO-RS searches and WADO-RS resources (imaging/dicomweb/urls.py).
STUDIES = "/imaging/dicomweb/studies"


def _get(client: Client, user: User, url: str) -> HttpResponse:
    client.force_login(user)
    return client.get(url)


def _assert_refused(response: HttpResponse) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "control character" in response.content.decode()


# (where, URL): the worklist's filters, QIDO-RS search parameters, UIDs in WADO-RS paths.
REFUSED = [
    ("worklist-unknown-param", "/cases/?q=%00"),
    ("worklist-filter", "/cases/?modality=CT%00"),
    ("worklist-escape", "/cases/?status=%1b[2J"),
    ("worklist-param-name", "/cases/?%00=1"),
    ("qido-patient-id", f"{STUDIES}?PatientID=%00"),
    ("qido-study-uid", f"{STUDIES}?StudyInstanceUID=1.2.3%00"),
    ("qido-series", "/imaging/dicomweb/series?Modality=%00"),
    ("qido-instances", "/imaging/dicomweb/instances?SOPInstanceUID=%00"),
    ("uid-in-path-series", f"{STUDIES}/1.2.%00/series"),
    ("uid-in-path-study", f"{STUDIES}/1.2.%00"),
    ("uid-in-path-instances", f"{STUDIES}/1.2.3/series/4.5%00/instances"),
    ("uid-in-path-metadata", f"{STUDIES}/1.2.%00/metadata"),
]


@pytest.mark.parametrize("url", [r[1] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_control_character_in_the_url_answers_400_before_the_view_runs(
    client: Client, doctor: User, url: str
) -> None:
    _assert_refused(_get(client, doctor, url))


def test_a_control_character_is_refused_before_sign_in_is_even_asked(client: Client) -> None:
    _assert_refused(client.get("/cases/?q=%00"))


def test_tab_and_line_breaks_in_a_parameter_are_ordinary_text(client: Client, doctor: User) -> None:
    assert _get(client, doctor, "/cases/?q=a%09b%0d%0ac").status_code == 200
    assert client.get(f"{STUDIES}?PatientID=NOBODY").status_code in {200, 204}


def test_a_nul_in_the_triage_complaint_is_refused_next_to_the_field(
    client: Client, nurse: User
) -> None:
    client.force_login(nurse)
    form = {**VALID_ENCOUNTER, "chief_complaint": "Chest pain\x00 since this morning"}
    response = client.post(reverse("diagnosis:encounter-new"), form)

    assert response.status_code == 400
    assert list(field_errors(response)) == ["chief_complaint"]
    assert not Encounter.objects.exists()
