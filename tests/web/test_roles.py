"""Who may open which page: anonymous visitors sign in first, a wrong role gets 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.services import encounter_open
from finetune.models import TrainingRun
from medassist.services import patient_get_or_register
from tests.conftest import make_user
from tests.factories import TrainingRunFactory, ingested_instance

pytestmark = pytest.mark.django_db

DOCTOR, NURSE, ML_ADMIN, AUDITOR, NO_ROLE = "doctor", "nurse", "ml_admin", "auditor", "no role"
ROLES = (DOCTOR, NURSE, ML_ADMIN, AUDITOR, NO_ROLE)

# Every page, and the roles it serves. Everyone else signed in gets 403.
PAGES: dict[str, set[str]] = {
    "diagnosis:worklist": {DOCTOR},
    "diagnosis:case": {DOCTOR},
    "imaging:upload": {DOCTOR},
    "imaging:frame": {DOCTOR},
    "diagnosis:triage-board": {NURSE},
    "diagnosis:encounter-new": {NURSE},
    "diagnosis:encounter": {NURSE, DOCTOR},
    "finetune:models": {ML_ADMIN},
    "finetune:run": {ML_ADMIN},
    "audit": {AUDITOR},
    "audit-export": {AUDITOR},
}


@pytest.fixture
def users(doctor: User, nurse: User, ml_admin: User) -> dict[str, User]:
    return {
        DOCTOR: doctor,
        NURSE: nurse,
        ML_ADMIN: ml_admin,
        AUDITOR: make_user("auditor-test", AUDITOR),
        NO_ROLE: make_user("nobody", None),
    }


@pytest.fixture
def url_of(users: dict[str, User]) -> Callable[[str], str]:
    """Build a page's URL, creating the row it shows when it needs one."""

    def build(name: str) -> str:
        if name in {"diagnosis:case", "imaging:frame"}:
            instance = ingested_instance(1, by=users[DOCTOR])
            return reverse(name, kwargs={"instance_id": instance.pk})
        if name == "diagnosis:encounter":
            patient = patient_get_or_register(mrn="ROLE-1", name="Role Test")
            encounter, _ = encounter_open(
                patient=patient, opened_by=users[NURSE], chief_complaint="Cough",
                heart_rate=80, respiratory_rate=16, spo2=97, systolic_bp=120, diastolic_bp=80,
                temperature_c=37, pain=2, mental_status="A",
            )  # fmt: skip
            return reverse(name, kwargs={"encounter_id": encounter.pk})
        if name == "finetune:run":
            return reverse(name, kwargs={"run_id": TrainingRunFactory().pk})
        return reverse(name)

    return build


@pytest.mark.parametrize("name", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in_and_brought_back_after(
    client: Client, url_of: Callable[[str], str], name: str
) -> None:
    url = url_of(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("name", "role"),
    [(name, role) for name in PAGES for role in ROLES],
    ids=[f"{name}-{role.replace(' ', '_')}" for name in PAGES for role in ROLES],
)
def test_a_page_opens_only_for_the_roles_it_serves(
    client: Client, users: dict[str, User], url_of: Callable[[str], str], name: str, role: str
) -> None:
    url = url_of(name)
    client.force_login(users[role])
    response = client.get(url)
    if role in PAGES[name]:
        assert response.status_code == 200
        if name == "imaging:frame":
            assert response["Content-Type"] == "image/png"
            assert response.content.startswith(b"\x89PNG")
    else:
        assert response.status_code == 403
        content = response.content.decode()
        assert "Not allowed" in content
        # A wrong role never sees the patient the page is about.
        assert "Synthetic" not in content
        assert "Role Test" not in content


@pytest.mark.parametrize(
    ("role", "landing"),
    [
        (DOCTOR, "diagnosis:worklist"),
        (NURSE, "diagnosis:triage-board"),
        (ML_ADMIN, "finetune:models"),
        (AUDITOR, "audit"),
    ],
)
def test_the_home_page_sends_each_role_to_its_own_work(
    client: Client, users: dict[str, User], role: str, landing: str
) -> None:
    client.force_login(users[role])
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse(landing)
    assert client.get(response["Location"]).status_code == 200


def test_the_home_page_tells_a_user_without_a_role_to_ask_for_one(
    client: Client, users: dict[str, User]
) -> None:
    client.force_login(users[NO_ROLE])
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "Ask an administrator" in response.content.decode()


def test_the_home_page_sends_an_anonymous_visitor_to_sign_in(client: Client) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [DOCTOR, NURSE, NO_ROLE])
def test_only_an_ml_admin_can_start_retraining(
    client: Client, users: dict[str, User], role: str
) -> None:
    client.force_login(users[role])
    response = client.post(reverse("finetune:run-start"))
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()


def test_an_ml_admin_starting_retraining_lands_on_the_queued_run(
    client: Client, users: dict[str, User]
) -> None:
    client.force_login(users[ML_ADMIN])
    response = client.post(reverse("finetune:run-start"))
    run = TrainingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finetune:run", kwargs={"run_id": run.pk})
    assert run.status == TrainingRun.Status.QUEUED
    assert run.trigger == TrainingRun.Trigger.MANUAL
    assert run.started_by == users[ML_ADMIN]


def test_the_demo_auditor_account_opens_the_audit_log_and_nothing_clinical(
    client: Client,
) -> None:
    from finetune.management.commands.demo_seed import DEMO_PASSWORD, demo_users_ensure

    assert ("auditor", AUDITOR) in demo_users_ensure()
    auditor = User.objects.get(username="auditor")
    assert auditor.check_password(DEMO_PASSWORD)
    client.force_login(auditor)
    assert client.get(reverse("audit")).status_code == 200
    assert client.get(reverse("diagnosis:worklist")).status_code == 403
