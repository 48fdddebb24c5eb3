"""Clinical leads, the demo knowledge table and a synthetic encounter for the medication tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from diagnosis.encounters.models import Encounter
from diagnosis.medication.services import medication_knowledge_demo_ensure
from medassist.roles import Role
from tests.conftest import make_user
from tests.diagnosis.encounters.helpers import encounter_of


@pytest.fixture
def lead(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("lead-test", Role.CLINICAL_LEAD)


@pytest.fixture
def lead2(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("lead2-test", Role.CLINICAL_LEAD)


@pytest.fixture
def knowledge(lead: User, lead2: User) -> int:
    """The demo table, written by ``lead`` and approved by ``lead2``: how many entries."""
    return medication_knowledge_demo_ensure(author=lead, approver=lead2)


@pytest.fixture
def encounter(nurse: User) -> Encounter:
    return encounter_of(nurse, mrn="SYN-MEDICATION-1")
