"""Who may use each care pathway URL: every one is in the access policy, and each view keeps it.

The project-wide matrix (tests/web/test_url_policy.py) asks every URL as every role; this
file states the pathway rules themselves, so a change to who may write or read a pathway is
a change someone has to make here on purpose.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.pathways.models import PathwayVersion
from medassist.access import POLICY
from medassist.roles import Role
from tests.conftest import make_user
from tests.diagnosis.encounters.helpers import encounter_of
from tests.diagnosis.pathways.helpers import approved_pathway

pytestmark = pytest.mark.django_db

LEAD, DOCTOR, NURSE, ML_ADMIN, AUDITOR = (
    Role.CLINICAL_LEAD,
    Role.DOCTOR,
    Role.NURSE,
    Role.ML_ADMIN,
    Role.AUDITOR,
)
# name -> (roles let in, methods served)
EXPECTED = {
    "diagnosis:pathways": ({LEAD, DOCTOR}, {"GET"}),
    "diagnosis:pathway": ({LEAD, DOCTOR}, {"GET"}),
    "diagnosis:pathway-version": ({LEAD, DOCTOR}, {"GET"}),
    "diagnosis:pathway-new": ({LEAD}, {"GET", "POST"}),
    "diagnosis:pathway-edit": ({LEAD}, {"GET", "POST"}),
    "diagnosis:pathway-approve": ({LEAD}, {"POST"}),
    "diagnosis:pathway-retire": ({LEAD}, {"POST"}),
    "diagnosis:pathway-use": ({DOCTOR}, {"POST"}),
}


def test_every_pathway_url_has_the_policy_entry_it_should() -> None:
    for name, (roles, methods) in EXPECTED.items():
        rule = POLICY[name]
        assert (set(rule.roles), set(rule.methods)) == (roles, methods), name
        # Pathways hold no patient data; the decision's page is audited by its service.
        assert not rule.patient_data, name


def test_the_clinical_lead_lands_on_the_pathways_and_sees_them_in_the_menu() -> None:
    client = Client()
    client.force_login(make_user("lead-home", LEAD))
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("diagnosis:pathways")
    page = client.get(response["Location"]).content.decode()
    assert 'href="/pathways/">Care pathways</a>' in page
    assert "Cases</a>" not in page


def _urls(version: PathwayVersion, encounter_id: int) -> dict[str, str]:
    return {
        "diagnosis:pathways": reverse("diagnosis:pathways"),
        "diagnosis:pathway": reverse("diagnosis:pathway", args=[version.pathway_id]),
        "diagnosis:pathway-version": reverse("diagnosis:pathway-version", args=[version.pk]),
        "diagnosis:pathway-new": reverse("diagnosis:pathway-new"),
        "diagnosis:pathway-edit": reverse("diagnosis:pathway-edit", args=[version.pathway_id]),
        "diagnosis:pathway-approve": reverse("diagnosis:pathway-approve", args=[version.pk]),
        "diagnosis:pathway-retire": reverse("diagnosis:pathway-retire", args=[version.pathway_id]),
        "diagnosis:pathway-use": reverse("diagnosis:pathway-use", args=[encounter_id]),
    }


@pytest.mark.parametrize("role", [LEAD, DOCTOR, NURSE, ML_ADMIN, AUDITOR, "no role", "anonymous"])
def test_each_pathway_url_lets_in_exactly_its_roles(role: str, lead: User, lead2: User) -> None:
    version = approved_pathway(author=lead, approver=lead2)
    encounter = encounter_of(make_user("nurse-access", NURSE))
    client = Client()
    if role != "anonymous":
        client.force_login(make_user(f"user-{role}", None if role == "no role" else role))
    for name, url in _urls(version, encounter.pk).items():
        roles, methods = EXPECTED[name]
        for method in methods:
            response = getattr(client, method.lower())(url)
            if role == "anonymous":
                assert response.status_code == 302, (name, method)
                assert response["Location"].startswith(reverse("login")), (name, method)
            elif role in roles:
                assert response.status_code not in {401, 403}, (name, method)
            else:
                assert response.status_code == 403, (name, method, role)
    # Nothing the refused or empty requests sent changed a pathway.
    assert PathwayVersion.objects.count() == 1
