"""The whole loop through a real Celery worker process on Redis and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import Review
from diagnosis.review.services import review_submit
from finetune.models import TrainingRun
from finetune.services import training_run_start
from imaging.ingest.services import instance_ingest
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def _upload(doctor, seed: int, finding: str = "nodule"):  # type: ignore[no-untyped-def]
    ds = synthetic_dicom(
        finding=finding,
        patient_id=f"E2E-{seed}",
        patient_name="Synthetic^E2E",
        size=96,
        rng=np.random.default_rng(seed),
    )
    return instance_ingest(data=dicom_bytes(ds), uploaded_by=doctor).instance


def test_ingest_review_retrain_and_serve_through_a_real_worker(
    celery_worker, image_champion, doctor, ml_admin
):
    v1 = image_champion

    # 1. An upload is picked up by the worker and answered by the champion.
    first = _upload(doctor, seed=101)
    suggestion = wait_for(
        lambda: Suggestion.objects.filter(instance=first).first(), what="the first suggestion"
    )
    assert suggestion.status == Suggestion.Status.OK
    assert suggestion.model_version == v1
    assert abs(sum(suggestion.probabilities.values()) - 1.0) < 1e-3
    assert set(suggestion.probabilities) == set(v1.labels)

    # 2. The doctor corrects, then changes their mind: both reviews remain, the later wins.
    opacity, nodule = Finding.objects.get(code="opacity"), Finding.objects.get(code="nodule")
    r1 = review_submit(instance=first, reviewer=doctor, finding=opacity)
    r2 = review_submit(instance=first, reviewer=doctor, finding=nodule)
    assert r2.supersedes == r1
    assert list(Review.objects.filter(instance=first).order_by("pk")) == [r1, r2]

    # 3. An ML admin retrains on the reviewed cases; the worker runs it and the gate decides.
    run = training_run_start(trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    run = wait_for(
        lambda: TrainingRun.objects.filter(pk=run.pk, status__in=["succeeded", "failed"]).first(),
        timeout=180,
        what="the training run",
    )
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.candidate is not None and run.candidate.version == 2
    assert run.candidate.parent == v1
    assert run.decision in {TrainingRun.Decision.PROMOTED, TrainingRun.Decision.KEPT}
    assert run.decision_reason
    assert run.candidate_metrics["n"] == run.champion_metrics["n"] > 0
    champion = ModelVersion.objects.get(task="image", status=ModelVersion.Status.CHAMPION)
    expected = run.candidate if run.decision == TrainingRun.Decision.PROMOTED else v1
    assert champion == expected

    # 4. The next upload is served by whichever version is champion now, without a restart.
    second = _upload(doctor, seed=202, finding="opacity")
    later = wait_for(
        lambda: Suggestion.objects.filter(instance=second).first(), what="the second suggestion"
    )
    assert later.model_version == champion


def test_a_promoted_champion_serves_the_next_upload_without_restarting_the_worker(
    celery_worker, image_champion, doctor, ml_admin, settings
):
    # Generous limits make the gate promote whatever the candidate scores.
    settings.MEDASSIST_GATE_MARGIN = 1.0
    settings.MEDASSIST_GATE_SENSITIVITY_MARGIN = 1.0
    settings.MEDASSIST_GATE_MAX_ECE = 1.0
    warm = _upload(doctor, seed=7)
    wait_for(lambda: Suggestion.objects.filter(instance=warm).exists(), what="warm-up")

    from finetune.services import training_run_execute

    run = TrainingRun.objects.create(task="image", trigger=TrainingRun.Trigger.MANUAL)
    run = training_run_execute(run_id=run.pk)
    assert run.decision == TrainingRun.Decision.PROMOTED
    new = _upload(doctor, seed=8)
    served = wait_for(lambda: Suggestion.objects.filter(instance=new).first(), what="suggestion")
    assert served.model_version == run.candidate
