"""Clinical leads for the care pathway tests (two: one writes, the other approves)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from medassist.roles import Role
from tests.conftest import make_user


@pytest.fixture
def lead(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("lead-test", Role.CLINICAL_LEAD)


@pytest.fixture
def lead2(db) -> User:  # type: ignore[no-untyped-def]
    return make_user("lead2-test", Role.CLINICAL_LEAD)
