"""The encounter test-set page's counts per diagnosis group, from the counts per ICD-10 code
the database keeps (PostgreSQL triggers) or counts live (SQLite), without reading every
diagnosis."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from diagnosis.encounters.models import DiagnosisCodeCount, Encounter, FinalDiagnosis
from diagnosis.encounters.selectors import (
    current_diagnosis_counts,
    current_final_diagnoses,
    dx_group_of,
)
from diagnosis.encounters.services import encounter_open, final_diagnosis_record
from finetune.models import EncounterTestCase
from finetune.selectors import encounter_group_counts, encounter_test_patient_ids
from finetune.services import encounter_test_set_freeze
from medassist.services import patient_get_or_register

pytestmark = pytest.mark.django_db

PNEUMONIA, ASTHMA, INFARCT, UTI, APPENDICITIS = "J18.9", "J45.9", "I21.9", "N39.0", "K35.8"


def _encounter(nurse: User, mrn: str) -> Encounter:
    patient = patient_get_or_register(mrn=mrn, name="Synthetic Counts")
    encounter, _ = encounter_open(
        patient=patient, opened_by=nurse, chief_complaint="Cough and fever",
        heart_rate=96, respiratory_rate=20, spo2=95, systolic_bp=120, diastolic_bp=75,
        temperature_c=Decimal("38.2"), pain=3, mental_status="A",
    )  # fmt: skip
    return encounter


def _diagnosed(nurse: User, doctor: User, mrn: str, *codes: str) -> Encounter:
    """An encounter whose final diagnosis was recorded once per code, each superseding the
    one before (the last is current)."""
    encounter = _encounter(nurse, mrn)
    for code in codes:
        final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code=code)
    return encounter


def _live_counts() -> dict[str, int]:
    return dict(Counter(current_final_diagnoses().values_list("icd10_code", flat=True)))


def _kept_counts() -> dict[str, int]:
    return dict(
        DiagnosisCodeCount.objects.filter(current__gt=0).values_list("icd10_code", "current")
    )


def _reference_group_counts() -> dict[str, tuple[int, int]]:
    """The page's figures as they were computed before the summary: every current final
    diagnosis read and grouped here."""
    test_patients = encounter_test_patient_ids()
    frozen = set(EncounterTestCase.objects.values_list("encounter_id", flat=True))
    counts: dict[str, list[int]] = {}
    for encounter_id, patient_id, code in current_final_diagnoses().values_list(
        "encounter_id", "encounter__patient_id", "icd10_code"
    ):
        row = counts.setdefault(dx_group_of(icd10_code=code), [0, 0])
        if encounter_id in frozen:
            row[1] += 1
        elif patient_id not in test_patients:
            row[0] += 1
    return {group: (train, test) for group, (train, test) in sorted(counts.items())}


# --- The counts PostgreSQL keeps ---------------------------------------------------------


def test_postgres_counts_each_new_diagnosis_under_its_code(
    postgres: None, nurse: User, doctor: User
) -> None:
    _diagnosed(nurse, doctor, "CNT-1", PNEUMONIA)
    _diagnosed(nurse, doctor, "CNT-2", PNEUMONIA)
    _diagnosed(nurse, doctor, "CNT-3", INFARCT)

    assert _kept_counts() == {PNEUMONIA: 2, INFARCT: 1} == _live_counts()
    assert current_diagnosis_counts() == {PNEUMONIA: 2, INFARCT: 1}


def test_postgres_moves_one_count_when_a_diagnosis_is_superseded(
    postgres: None, nurse: User, doctor: User
) -> None:
    encounter = _diagnosed(nurse, doctor, "CNT-4", PNEUMONIA)
    _diagnosed(nurse, doctor, "CNT-5", PNEUMONIA)
    assert _kept_counts() == {PNEUMONIA: 2}

    final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code=ASTHMA)

    assert _kept_counts() == {PNEUMONIA: 1, ASTHMA: 1} == _live_counts()
    # The code whose last current diagnosis went keeps its row, at 0, and is not listed.
    final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code=INFARCT)
    assert DiagnosisCodeCount.objects.get(icd10_code=ASTHMA).current == 0
    assert current_diagnosis_counts() == {PNEUMONIA: 1, INFARCT: 1} == _live_counts()


def test_postgres_counts_a_superseding_row_written_before_the_one_it_supersedes(
    postgres: None, nurse: User, doctor: User
) -> None:
    """A bulk load may write a chain in any order (the foreign key is checked at commit):
    in one statement or in two, only the last of the chain is current."""
    one, two = _encounter(nurse, "CNT-6"), _encounter(nurse, "CNT-7")
    top = (FinalDiagnosis.objects.order_by("-pk").values_list("pk", flat=True).first()) or 0

    def row(pk: int, encounter: Encounter, code: str, supersedes: int | None) -> FinalDiagnosis:
        return FinalDiagnosis(
            pk=pk, encounter=encounter, doctor=doctor, icd10_code=code,
            icd10_title=code, supersedes_id=supersedes,
        )  # fmt: skip

    FinalDiagnosis.objects.bulk_create(
        [row(top + 2, one, ASTHMA, top + 1), row(top + 1, one, PNEUMONIA, None)]
    )
    FinalDiagnosis.objects.bulk_create([row(top + 4, two, INFARCT, top + 3)])
    FinalDiagnosis.objects.bulk_create([row(top + 3, two, UTI, None)])

    assert _kept_counts() == {ASTHMA: 1, INFARCT: 1} == _live_counts()


def test_postgres_follows_an_update_or_a_delete_the_service_never_makes(
    postgres: None, nurse: User, doctor: User
) -> None:
    encounter = _diagnosed(nurse, doctor, "CNT-8", PNEUMONIA, ASTHMA)
    _diagnosed(nurse, doctor, "CNT-9", INFARCT)
    head = FinalDiagnosis.objects.get(encounter=encounter, superseded_by__isnull=True)

    FinalDiagnosis.objects.filter(pk=head.pk).update(icd10_code=UTI)
    assert _kept_counts() == {UTI: 1, INFARCT: 1} == _live_counts()

    FinalDiagnosis.objects.filter(pk=head.pk).update(note="checked")
    assert _kept_counts() == {UTI: 1, INFARCT: 1}

    # The current diagnosis no longer supersedes anything: both of the chain are current.
    FinalDiagnosis.objects.filter(pk=head.pk).update(supersedes=None)
    assert _kept_counts() == {UTI: 1, PNEUMONIA: 1, INFARCT: 1} == _live_counts()
    FinalDiagnosis.objects.filter(pk=head.pk).update(supersedes=head.pk - 1)
    assert _kept_counts() == {UTI: 1, INFARCT: 1} == _live_counts()

    # Deleting the current one makes the one it superseded current again.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM diagnosis_finaldiagnosis WHERE id = %s", [head.pk])
    assert _kept_counts() == {PNEUMONIA: 1, INFARCT: 1} == _live_counts()


# --- The page's figures, on either database ----------------------------------------------


@pytest.fixture
def diagnosed(nurse: User, doctor: User, ml_admin: User) -> None:
    """Patients in and out of the test set, frozen and later encounters of test patients,
    and diagnoses superseded across groups (some before, some after the freeze)."""
    frozen = [
        _diagnosed(nurse, doctor, "TEST-1", PNEUMONIA),
        _diagnosed(nurse, doctor, "TEST-2", ASTHMA, INFARCT),
    ]
    later = _diagnosed(nurse, doctor, "TEST-2", UTI)  # a later visit: never trains
    _diagnosed(nurse, doctor, "TEST-3", APPENDICITIS)  # only a test patient has this group
    frozen.append(_encounter(nurse, "TEST-3"))
    final_diagnosis_record(encounter=frozen[-1], doctor=doctor, icd10_code=PNEUMONIA)
    for i, codes in enumerate([(PNEUMONIA,), (ASTHMA,), (INFARCT, PNEUMONIA), (UTI, ASTHMA)]):
        _diagnosed(nurse, doctor, f"TRAIN-{i}", *codes)
    _encounter(nurse, "TRAIN-9")  # no diagnosis yet
    encounter_test_set_freeze(encounters=frozen, actor=ml_admin)
    # Diagnoses changed after the freeze still count where they are now.
    final_diagnosis_record(encounter=frozen[0], doctor=doctor, icd10_code=ASTHMA)
    final_diagnosis_record(encounter=later, doctor=doctor, icd10_code=PNEUMONIA)
    assert EncounterTestCase.objects.count() == 3


def test_the_group_counts_are_the_ones_reading_every_diagnosis_gave(diagnosed: None) -> None:
    expected = _reference_group_counts()

    assert encounter_group_counts() == expected
    assert expected == {
        "I20-I25": (0, 1),
        "J09-J18": (2, 1),
        "J40-J47": (2, 1),
        "K35-K38": (0, 0),
    }


def test_the_group_counts_follow_a_new_and_a_superseding_diagnosis(
    diagnosed: None, nurse: User, doctor: User
) -> None:
    encounter = _diagnosed(nurse, doctor, "TRAIN-10", INFARCT)
    assert encounter_group_counts()["I20-I25"] == (1, 1)

    final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code=UTI)
    counts = encounter_group_counts()
    assert counts["I20-I25"] == (0, 1)
    assert counts["N30-N39"] == (1, 0)
    assert counts == _reference_group_counts()


def test_the_group_counts_cost_one_query_however_many_diagnoses(
    nurse: User, doctor: User, ml_admin: User
) -> None:
    frozen = _diagnosed(nurse, doctor, "SIZE-T", PNEUMONIA)
    encounter_test_set_freeze(encounters=[frozen], actor=ml_admin)
    sizes = []
    for n in (2, 20):
        for i in range(len(current_final_diagnoses()), n):
            _diagnosed(nurse, doctor, f"SIZE-{i}", (PNEUMONIA, ASTHMA, UTI)[i % 3], INFARCT)
        with CaptureQueriesContext(connection) as queries:
            counts = encounter_group_counts()
        assert counts == _reference_group_counts()
        assert sum(train for train, _ in counts.values()) == n - 1
        sizes.append(len(queries))

    assert sizes == [1, 1]
