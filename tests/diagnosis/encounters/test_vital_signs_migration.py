"""Migration 0013 gives every encounter from before it its vital signs as its first measurement.

Run through Django's migration executor on the real test database: back to 0012, rows made
with the models as they were then, forward to 0013, and the rows read as they are now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("diagnosis", "0012_absent_vitals_shock_index")]
AFTER = [("diagnosis", "0013_vital_signs_reassessment")]


@pytest.fixture
def executor(transactional_db: None) -> Iterator[MigrationExecutor]:
    """The executor at 0012; the database is migrated back to the latest state afterwards."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def _encounter(apps: Any, nurse: Any, mrn: str, **vitals: Any) -> Any:
    patient = apps.get_model("medassist", "Patient").objects.create(mrn=mrn, is_synthetic=True)
    fields = {
        "heart_rate": 96,
        "respiratory_rate": 18,
        "spo2": 97,
        "systolic_bp": 124,
        "diastolic_bp": 78,
        "temperature_c": Decimal("37.4"),
        "pain": 3,
        "mental_status": "A",
        **vitals,
    }
    return apps.get_model("diagnosis", "Encounter").objects.create(
        patient=patient, opened_by=nurse, chief_complaint="ankle sprain", **fields
    )


def _assessment(apps: Any, encounter: Any, **fields: Any) -> Any:
    return apps.get_model("diagnosis", "TriageAssessment").objects.create(
        encounter=encounter, input_sha256="0" * 64, **fields
    )


def test_each_encounter_gets_its_vitals_as_one_measurement_and_its_assessments_point_at_it(
    executor: MigrationExecutor,
) -> None:
    old = executor.loader.project_state(BEFORE).apps
    nurse = old.get_model("auth", "User").objects.create(username="migration-nurse")
    sprain = _encounter(old, nurse, "SYN-MIG-1")
    arrest = _encounter(
        old,
        nurse,
        "SYN-MIG-2",
        heart_rate=None,
        pulseless=True,
        respiratory_rate=None,
        apnoeic=True,
        spo2=None,
        spo2_unobtainable=True,
        systolic_bp=None,
        diastolic_bp=None,
        bp_unobtainable=True,
        mental_status="U",
    )
    opened = timezone.now() - dt.timedelta(hours=3)
    old.get_model("diagnosis", "Encounter").objects.filter(pk=sprain.pk).update(created_at=opened)
    # The sprain's assessment: resources say ESI 4, a danger-zone rule (D) fired: rules say 2.
    danger = [{"code": "D_HR", "decision_point": "D", "level": 2, "reason": "", "mandatory": False}]
    first = _assessment(
        old, sprain, suggested_level=2, resources_level=4, rules_fired=danger, confirmed_level=2
    )
    second = _assessment(old, sprain, suggested_level=2, resources_level=4, rules_fired=danger)
    # The arrest's: the hard-rule floor (A) is 1; no resources level known (3 by default).
    arrest_assessment = _assessment(old, arrest, suggested_level=1, rules_floor=1)

    executor.loader.build_graph()
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps
    VitalSigns = new.get_model("diagnosis", "VitalSigns")
    TriageAssessment = new.get_model("diagnosis", "TriageAssessment")
    [measured] = VitalSigns.objects.filter(encounter_id=sprain.pk)
    assert (measured.heart_rate, measured.respiratory_rate, measured.spo2) == (96, 18, 97)
    assert (measured.systolic_bp, measured.diastolic_bp, measured.pain) == (124, 78, 3)
    assert measured.temperature_c == Decimal("37.4") and measured.mental_status == "A"
    assert measured.taken_at == opened, "taken when the encounter was opened"
    assert measured.taken_by_id == nurse.pk
    [absent] = VitalSigns.objects.filter(encounter_id=arrest.pk)
    assert (absent.pulseless, absent.apnoeic, absent.spo2_unobtainable, absent.bp_unobtainable) == (
        True,
        True,
        True,
        True,
    )
    assert absent.heart_rate is None and absent.systolic_bp is None
    # The encounter keeps its own columns (the intake set).
    Encounter = new.get_model("diagnosis", "Encounter")
    assert Encounter.objects.get(pk=sprain.pk).heart_rate == 96

    by_pk = {a.pk: a for a in TriageAssessment.objects.all()}
    assert by_pk[first.pk].vitals_id == by_pk[second.pk].vitals_id == measured.pk
    assert by_pk[arrest_assessment.pk].vitals_id == absent.pk
    assert (by_pk[first.pk].rules_level, by_pk[arrest_assessment.pk].rules_level) == (2, 1)
    assert by_pk[first.pk].confirmed_level == 2, "the nurse's decision is left as it was"


def test_running_the_copy_again_adds_nothing(executor: MigrationExecutor) -> None:
    old = executor.loader.project_state(BEFORE).apps
    nurse = old.get_model("auth", "User").objects.create(username="migration-nurse-2")
    encounter = _encounter(old, nurse, "SYN-MIG-3")
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    migration = executor.loader.get_migration("diagnosis", "0013_vital_signs_reassessment")
    copy = migration.operations[-1].code

    copy(new, None)

    measurements = new.get_model("diagnosis", "VitalSigns").objects
    assert measurements.filter(encounter_id=encounter.pk).count() == 1
