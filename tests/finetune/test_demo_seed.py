"""The demo's first start: safe to interrupt and run again, and its models train in a worker."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from diagnosis.registry.models import ModelVersion
from finetune import services
from finetune.management.commands import demo_seed
from finetune.models import TestSetCase, TrainingRun
from imaging.models import Instance
from medassist.models import Patient


@pytest.fixture
def wake_ups(monkeypatch):  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        services, "job_enqueue_on_commit", lambda name, **kw: sent.append((name, kw))
    )
    return sent


@pytest.mark.django_db
def test_an_interrupted_first_start_goes_on_where_it_stopped_without_doubling_anything(
    tiny, monkeypatch
):
    real_ingest = demo_seed.instance_ingest
    calls = {"n": 0}

    def dies_on_the_eighth(**kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt  # Ctrl-C in the middle of patient 3
        return real_ingest(**kwargs)

    monkeypatch.setattr(demo_seed, "instance_ingest", dies_on_the_eighth)
    with pytest.raises(KeyboardInterrupt):
        call_command("demo_seed", patients=5, images_per_patient=3, triage=False, verbosity=0)
    # Whole patients only: the third one's two stored images went with its transaction.
    assert Patient.objects.filter(mrn__startswith="SYN-").count() == 2
    assert Instance.objects.count() == 6

    monkeypatch.setattr(demo_seed, "instance_ingest", real_ingest)
    call_command("demo_seed", patients=5, images_per_patient=3, triage=False, verbosity=0)
    call_command("demo_seed", patients=5, images_per_patient=3, triage=False, verbosity=0)

    assert Patient.objects.filter(mrn__startswith="SYN-").count() == 5
    assert Instance.objects.count() == 15
    assert TestSetCase.objects.count() == 6  # round(5 * 0.3) = 2 patients of 3 images
    assert ModelVersion.objects.filter(task="image", status="champion").count() == 1


@pytest.mark.django_db
def test_queued_first_models_train_in_the_worker_and_are_queued_once(tiny, wake_ups):
    call_command(
        "demo_seed", patients=4, images_per_patient=3, triage=False, queue=True, verbosity=0
    )
    call_command(
        "demo_seed", patients=4, images_per_patient=3, triage=False, queue=True, verbosity=0
    )

    run = TrainingRun.objects.get()
    assert (run.task, run.trigger, run.status) == ("image", "bootstrap", "queued")
    assert wake_ups == [(services.TRAINING_RUN_EXECUTE, {"run_id": run.pk})]
    assert not ModelVersion.objects.exists()  # nothing trained in the command itself


@pytest.mark.django_db
def test_the_demo_trains_a_first_encounter_diagnosis_model_on_synthetic_encounters(tiny, settings):  # type: ignore[no-untyped-def]
    from finetune.models import EncounterTestCase

    settings.MEDASSIST_DEMO_ENCOUNTERS = 60
    settings.MEDASSIST_ENCOUNTER_DX_MIN_CASES = 4
    settings.MEDASSIST_ENCOUNTER_DX_GATE_MIN_CASES_PER_GROUP = 1
    settings.MEDASSIST_ENCOUNTER_DX_EPOCHS = 1
    args = {"patients": 4, "images_per_patient": 3, "triage": False, "encounter_dx": True}
    call_command("demo_seed", **args, verbosity=0)

    dx = ModelVersion.objects.get(task="encounter_dx", status="champion")
    assert dx.trained_on_synthetic_data and dx.data_mix == "synthetic"
    assert "synthetic" in dx.model_card["training_data"]
    # Every demo encounter's patient is marked synthetic, as all demo data is.
    patients = Patient.objects.filter(mrn__startswith="SYN-DX-")
    assert patients.exists() and not patients.filter(is_synthetic=False).exists()
    # The demo's chest images were read by the image champion first: their findings trained.
    summary = dx.training_summary
    assert summary["with_images"] > 0 and summary["without_images"] > 0
    assert dx.metrics["n_with_images"] + dx.metrics["n_without_images"] == dx.metrics["n"]
    frozen = EncounterTestCase.objects.count()
    assert frozen > 0

    call_command("demo_seed", **args, verbosity=0)  # again: nothing new
    assert ModelVersion.objects.filter(task="encounter_dx").count() == 1
    assert EncounterTestCase.objects.count() == frozen
