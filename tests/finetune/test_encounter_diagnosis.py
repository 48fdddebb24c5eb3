"""The encounter diagnosis task through the same run / gate / promote path as the others.

Real all-MiniLM-L6-v2 with tiny settings, chosen through the same knobs a hospital turns, on
SYNTHETIC demo encounters (finetune/demo_encounters.py); the runs execute in-process
(``training_run_execute``), the code a worker runs, on PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from diagnosis.encounters.models import Encounter
from diagnosis.encounters.selectors import current_final_diagnoses, dx_group_of
from diagnosis.encounters.services import final_diagnosis_record
from diagnosis.registry.models import ModelVersion
from finetune.adapters import ADAPTERS
from finetune.demo_encounters import SCENARIOS, demo_encounters_write
from finetune.models import EncounterTestCase, TrainingRun
from finetune.selectors import encounter_group_counts, encounter_test_patient_ids
from finetune.services import (
    encounter_test_set_grow,
    training_run_execute,
    training_run_start,
    training_run_start_if_new_labels,
)

TASK = "encounter_dx"


@pytest.fixture
def tiny_dx(tiny: dict, settings: Settings) -> None:
    """Tiny knobs of the encounter diagnosis task (a hospital keeps the defaults)."""
    settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES = 2
    settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP = 1
    settings.MEDASSIST_ENCOUNTER_DX_EPOCHS = 3
    settings.MEDASSIST_ENCOUNTER_DX_BATCH_SIZE = 8
    settings.MEDASSIST_ENCOUNTER_DX_HEAD_LR = 1e-2
    settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_TOP3_RECALL = 0.3
    settings.MEDASSIST_CALIBRATION_FRACTION = 0.0


@pytest.fixture
def encounters(db: None, tiny_dx: None, nurse: User, doctor: User, ml_admin: User) -> None:
    demo_encounters_write(n=60, nurse=nurse, doctor=doctor, seed=1, images=False)
    assert encounter_test_set_grow(fraction=0.3, actor=ml_admin, seed=0) > 0


def _run(ml_admin: User) -> TrainingRun:
    run = training_run_start(task=TASK, trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    return training_run_execute(run_id=run.pk)


def test_the_test_set_is_disjoint_by_patient_and_training_never_reads_it(
    encounters: None, nurse: User
) -> None:
    adapter = ADAPTERS[TASK]
    labels = adapter.offered_labels(None)
    test_patients = encounter_test_patient_ids()
    frozen = set(EncounterTestCase.objects.values_list("encounter_id", flat=True))
    # Whole patients: every diagnosed encounter of a test patient is frozen.
    for final in current_final_diagnoses().filter(encounter__patient_id__in=test_patients):
        assert final.encounter_id in frozen
    train = adapter.training_data(labels)
    test = adapter.test_data(labels)
    assert train.n and test.n
    train_patients = {int(g.split("-")[1]) for g in train.groups}
    assert not train_patients & test_patients
    assert {int(g.split("-")[1]) for g in test.groups} <= test_patients

    # A later encounter of a test patient is not frozen, and still never trains.
    patient_id = sorted(test_patients)[0]
    later = Encounter.objects.filter(patient_id=patient_id).first()
    later.pk = None
    later.save()
    final_diagnosis_record(encounter=later, doctor=later.opened_by, icd10_code="R51")
    again = adapter.training_data(labels)
    assert again.n == train.n
    assert not {int(g.split("-")[1]) for g in again.groups} & test_patients


def test_groups_with_too_few_cases_are_pooled_as_other_until_they_have_enough(
    encounters: None, settings: Settings
) -> None:
    adapter = ADAPTERS[TASK]
    counts = encounter_group_counts()
    assert counts["K35-K38"][0] == 3 and counts["K35-K38"][1] >= 1  # seed 1's appendicitis
    settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES = 4
    labels = adapter.offered_labels(None)
    assert "K35-K38" not in labels and labels[-1] == "other"
    assert all(counts[g][0] >= 4 and counts[g][1] >= 1 for g in labels[:-1])
    data = adapter.training_data(labels)
    pooled = {label for code, label in zip(data.codes, data.labels, strict=True) if code == "K35.8"}
    assert pooled == {"other"}

    # Once the group has enough cases it is an output of its own.
    settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES = 3
    assert "K35-K38" in adapter.offered_labels(None)

    # A hospital's own list: only its groups are outputs, everything else is "other".
    settings.MEDASSIST_ENCOUNTER_DX_GROUPS = ["I10-I15", "J40-J47", "I20-I25"]
    assert adapter.offered_labels(None) == ["I10-I15", "I20-I25", "J40-J47", "other"]
    assert dx_group_of(icd10_code="R51") == "other"
    assert dx_group_of(icd10_code="I21.9") == "I20-I25"


def test_a_worse_candidate_on_top3_recall_is_refused_and_a_good_one_promoted(
    encounters: None, ml_admin: User, doctor: User, settings: Settings
) -> None:
    settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES = 4  # some groups pooled as "other"
    first = _run(ml_admin)
    assert first.status == "succeeded", first.error
    assert first.decision == "promoted"  # the first version, without a champion to compare
    champion = first.candidate
    assert champion.task == TASK and champion.status == "champion"
    assert champion.labels[-1] == "other" and "I10-I15" in champion.labels
    assert champion.trained_on_synthetic_data
    assert champion.model_card["groups"] == "WHO ICD-10 blocks"
    assert champion.metrics["top3_recall"] >= 0.6, champion.metrics

    # Retrained on the same, correct labels: judged on top-3 recall, and promoted.
    settings.MEDASSIST_ENCOUNTER_DX_GATE_MARGIN = 0.5
    good = _run(ml_admin)
    assert good.status == "succeeded", good.error
    names = [c["name"] for c in good.gate["criteria"]]
    assert "top-3 recall difference (95% CI)" in names
    assert "Top-3 recall of the candidate" in names
    assert any(n.startswith("Top-3 recall: ") for n in names)
    assert not any(n.startswith("Sensitivity: ") for n in names)
    assert good.decision == "promoted", good.decision_reason
    assert "top-3 recall" in good.decision_reason

    # Someone recodes every training encounter as the next scenario's diagnosis (labels
    # shifted by one): the candidate learns the wrong groups, and the gate keeps the champion.
    settings.MEDASSIST_ENCOUNTER_DX_GATE_MARGIN = 0.02
    codes = [s.code for s in SCENARIOS]
    test_patients = encounter_test_patient_ids()
    for final in current_final_diagnoses().exclude(encounter__patient_id__in=test_patients):
        wrong = codes[(codes.index(final.icd10_code) + 1) % len(codes)]
        final_diagnosis_record(encounter=final.encounter, doctor=doctor, icd10_code=wrong)
    assert training_run_start_if_new_labels(task=TASK) is not None  # the same trigger
    poisoned = training_run_execute(run_id=TrainingRun.objects.latest("pk").pk)
    assert poisoned.status == "succeeded", poisoned.error
    assert poisoned.decision == "kept", poisoned.decision_reason
    failed = [c["name"] for c in poisoned.gate["criteria"] if c["passed"] is False]
    assert "top-3 recall difference (95% CI)" in failed, poisoned.gate
    assert ModelVersion.objects.get(pk=good.candidate_id).status == "champion"

    # The same admin pages: the models page lists the task, the version page its top-3
    # recall and model card, the run page every criterion of its gate.
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(ml_admin)
    models_page = client.get(reverse("finetune:models")).content.decode()
    assert 'data-testid="dx-versions"' in models_page and 'value="encounter_dx"' in models_page
    version_page = client.get(reverse("finetune:version", args=[champion.pk])).content.decode()
    assert 'data-testid="top3-recall"' in version_page and "Decision support" in version_page
    run_page = client.get(reverse("finetune:run", args=[poisoned.pk])).content.decode()
    assert "top-3 recall difference (95% CI)" in run_page and "Kept the champion" in run_page
    # The other tasks are untouched.
    assert not ModelVersion.objects.exclude(task=TASK).exists()


def test_an_ml_admin_grows_the_encounter_test_set_by_whole_patients_on_the_test_set_page(
    db: None, tiny_dx: None, nurse: User, doctor: User, ml_admin: User
) -> None:
    from django.test import Client
    from django.urls import reverse

    from medassist.models import AuditEvent

    demo_encounters_write(n=20, nurse=nurse, doctor=doctor, seed=2, images=False)
    client = Client()
    client.force_login(ml_admin)
    url = reverse("finetune:test-set")
    page = client.get(url).content.decode()
    assert 'data-testid="dx-test-set"' in page and "0 encounters of 0 patients" in page

    refused = client.post(url, {"action": "freeze-encounters", "percent": "50"})
    assert refused.status_code == 400
    assert "Tick the box to confirm freezing these patients." in refused.content.decode()
    assert not EncounterTestCase.objects.exists()

    done = client.post(
        url, {"action": "freeze-encounters", "percent": "50", "confirm_encounters": "on"}
    )
    assert done.status_code == 302
    frozen = set(EncounterTestCase.objects.values_list("encounter_id", flat=True))
    patients = encounter_test_patient_ids()
    # Whole patients: every diagnosed encounter of a drawn patient, and no one else's.
    assert frozen == set(
        Encounter.objects.filter(patient_id__in=patients).values_list("pk", flat=True)
    )
    event = AuditEvent.objects.get(action="test_set.grow")
    assert event.detail["task"] == TASK and event.detail["cases"] == len(frozen)
    page = client.get(url).content.decode()
    assert f"{len(frozen)} encounters of {len(patients)} patients" in page
