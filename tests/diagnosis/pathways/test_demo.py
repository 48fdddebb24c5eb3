"""The demo's care pathways: written by one demo lead, approved by the other, marked as demo
content, and written once however often the demo data is loaded."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.pathways.demo import DEMO_PATHWAYS
from diagnosis.pathways.models import Pathway, PathwayVersion
from diagnosis.pathways.selectors import pathway_offer
from diagnosis.pathways.services import pathways_demo_ensure
from finetune.management.commands.demo_seed import DEMO_PASSWORD, DEMO_USERS, demo_users_ensure
from medassist.roles import Role

pytestmark = pytest.mark.django_db


def _demo() -> None:
    demo_users_ensure()
    pathways_demo_ensure(
        author=User.objects.get(username="lead"), approver=User.objects.get(username="lead2")
    )


def test_the_demo_has_two_clinical_lead_accounts() -> None:
    leads = [username for username, role, _ in DEMO_USERS if role == Role.CLINICAL_LEAD]
    assert leads == ["lead", "lead2"]
    assert ("lead", Role.CLINICAL_LEAD) in demo_users_ensure()
    assert User.objects.get(username="lead").check_password(DEMO_PASSWORD)


def test_the_demo_pathways_are_approved_demo_content_and_written_once() -> None:
    _demo()
    _demo()
    assert 3 <= Pathway.objects.count() == len(DEMO_PATHWAYS) <= 5
    assert PathwayVersion.objects.count() == len(DEMO_PATHWAYS)
    assert all(Pathway.objects.values_list("is_demo", flat=True))
    for code in ("I21.9", "J18.9", "J45.9", "K35.8"):
        offered = pathway_offer(icd10_code=code)
        assert offered is not None, code
        assert (offered.author.username, offered.approval.approver.username) == ("lead", "lead2")


def test_a_demo_pathway_says_it_is_not_clinical_guidance() -> None:
    _demo()
    client = Client()
    client.force_login(User.objects.get(username="lead"))
    page = client.get(reverse("diagnosis:pathways")).content.decode()
    assert page.count("DEMO CONTENT: not clinical guidance") == len(DEMO_PATHWAYS)
