"""The gate inside real training runs: poisoned labels are refused, and the page says why.

Real EfficientNet-Lite0 training on generated DICOM (64 px, a few epochs), real PostgreSQL;
the runs execute in-process (``training_run_execute``), the same code a worker runs.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.selectors import current_label_reviews
from diagnosis.review.services import review_submit
from finetune.adapters import training_set
from finetune.models import TrainingRun
from finetune.services import training_run_execute, training_run_start


@pytest.fixture
def measured_champion(db: None, tiny: dict, settings: Settings) -> ModelVersion:
    """A champion good enough to lose something: 20 synthetic patients, 3 epochs."""
    settings.MEDASSIST_TRAIN_EPOCHS = 3
    settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING = 5
    call_command("demo_seed", patients=20, images_per_patient=3, triage=False, verbosity=0)
    return ModelVersion.objects.get(task="image", status=ModelVersion.Status.CHAMPION)


def test_label_flip_poisoning_is_refused_and_the_run_page_shows_the_failed_criteria(
    measured_champion: ModelVersion, doctor: User, ml_admin: User, settings: Settings
) -> None:
    # The finding the champion finds best: there is something to lose.
    recall = {c: f["recall"] for c, f in measured_champion.metrics["per_class"].items()}
    target = max(recall, key=lambda c: (recall[c], c))
    assert recall[target] >= 0.6, measured_champion.metrics
    other = Finding.objects.exclude(code=target).order_by("code").first()

    # Someone relabels every training case of that finding as another one.
    flipped = 0
    for review in current_label_reviews().filter(finding__code=target):
        review_submit(instance=review.instance, reviewer=doctor, finding=other)
        flipped += 1
    assert flipped >= 10
    assert target not in training_set(labels=["normal", "opacity", "nodule"]).labels

    run = training_run_start(task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    run = training_run_execute(run_id=run.pk)

    assert run.status == "succeeded", run.error
    assert run.decision == "kept", run.decision_reason
    failed = {c["name"] for c in run.gate["criteria"] if c["passed"] is False}
    assert f"Sensitivity: {target}" in failed, run.gate
    assert ModelVersion.objects.get(pk=measured_champion.pk).status == "champion"

    client = Client()
    client.force_login(ml_admin)
    html = client.get(reverse("finetune:run", args=[run.pk])).content.decode()
    assert 'data-testid="gate-criteria"' in html
    assert f"Sensitivity: {target}" in html and "<strong>fail</strong>" in html
    assert "Kept the champion" in html


def test_the_same_labels_give_the_same_decision_twice(
    measured_champion: ModelVersion, ml_admin: User
) -> None:
    first = training_run_execute(
        run_id=training_run_start(
            task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin
        ).pk
    )
    assert first.status == "succeeded", first.error
    if first.decision == "promoted":  # the candidate became champion: compare against the same
        ModelVersion.objects.filter(pk=first.candidate_id).update(status="retired")
        ModelVersion.objects.filter(pk=measured_champion.pk).update(status="champion")
    second = training_run_execute(
        run_id=training_run_start(
            task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin
        ).pk
    )
    assert second.status == "succeeded", second.error
    assert (second.decision, second.gate["criteria"]) == (first.decision, first.gate["criteria"])


def _real_patients(n: int, doctor: User, *, per_patient: int = 3) -> None:
    """``n`` patients of domain-shifted stand-ins for a hospital's own radiographs (DX, marked
    real), each reviewed with its true finding."""
    from tests.factories import ingested_shifted_instances

    codes = ["normal", "opacity", "nodule"]
    findings = {f.code: f for f in Finding.objects.all()}
    for p in range(n):
        truth = [codes[(p + i) % 3] for i in range(per_patient)]
        instances = ingested_shifted_instances(
            per_patient, patient_id=f"HOSP-{p:04d}", seed=300 + p, findings=truth, by=doctor
        )
        for instance, code in zip(instances, truth, strict=True):
            review_submit(instance=instance, reviewer=doctor, finding=findings[code])


def test_with_real_training_cases_the_gate_decides_on_real_test_cases_and_says_so(
    db: None, image_champion: ModelVersion, doctor: User, ml_admin: User, settings: Settings
) -> None:
    from finetune import services

    settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING = 3
    _real_patients(9, doctor)

    # Real training cases, but only synthetic test cases: nothing can be measured on real data.
    run = training_run_execute(
        run_id=training_run_start(
            task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin
        ).pk
    )
    assert run.status == "succeeded", run.error
    assert run.decision == "kept" and "Cannot measure on real data yet" in run.decision_reason
    assert run.gate["decided_on"] == "real" and run.gate["n_decision"] == 0
    assert ModelVersion.objects.get(pk=image_champion.pk).status == "champion"
    # The version says what it was trained on, and DX joined the CR family's scope.
    assert (
        run.candidate.data_mix
        == f"mixed: 27 real, {run.candidate.training_summary['n_synthetic']} synthetic"
    )
    assert run.candidate.model_card["modalities"] == ["CR", "DX"]

    # Real cases frozen (real first, whole patients): now the real cases decide.
    plan = services.test_set_grow(per_finding=3, actor=ml_admin, seed=0)
    assert plan.real == 9 and plan.synthetic == 0
    run = training_run_execute(
        run_id=training_run_start(
            task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin
        ).pk
    )
    assert run.status == "succeeded", run.error
    assert run.gate["decided_on"] == "real" and run.gate["n_decision"] == 9
    names = [c["name"] for c in run.gate["criteria"]]
    assert "On synthetic test cases (shown, not judged)" in names
    assert run.candidate_metrics["by_source"]["real"]["n"] == 9
    assert run.candidate_metrics["by_source"]["synthetic"]["n"] == run.n_test - 9
