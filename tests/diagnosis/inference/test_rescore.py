"""Re-scoring after a promotion or a rollback: the unreviewed studies get the new champion's
suggestion, the earlier one stays (shown as superseded), and reviewed cases keep their history.

The first test runs the whole loop through a real Celery worker process on PostgreSQL and
Redis; the others check the rules (who may start, one job at a time, the champion changing,
the sweep) on rows alone, without a model.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.inference import rescoring, services
from diagnosis.inference.models import InferenceRequest, RescoreJob, Suggestion
from diagnosis.inference.selectors import latest_suggestion, unreviewed_instances
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.registry.services import model_version_promote, model_version_register
from diagnosis.review.models import Review, StudyUrgency
from diagnosis.review.services import review_record, review_submit
from finetune.services import model_version_rollback
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from medassist.models import AuditEvent
from tests.conftest import wait_for
from tests.diagnosis.review import builders
from tests.factories import ModelVersionFactory
from tests.web.helpers import text_of


def _ingest(seed: int, finding: str) -> Instance:
    ds = synthetic_dicom(
        finding=finding,
        patient_id=f"RESCORE-{seed}",
        patient_name="Synthetic^Rescore",
        size=96,
        rng=np.random.default_rng(seed),
    )
    return instance_ingest(data=dicom_bytes(ds), source="upload").instance


def _same_weights_as(base: ModelVersion) -> ModelVersion:
    """A new candidate serving the champion's weights, as a training run registers one."""
    return model_version_register(
        task=Task.IMAGE,
        weights_key=base.weights_key,
        weights_sha256=base.weights_sha256,
        labels=base.labels,
        image_size=base.image_size,
        preprocess_version=base.preprocess_version,
        parent=base,
        temperature=base.temperature,
        model_card=base.model_card,
        metrics=base.metrics,
        training_summary={"n_train": 0},
        trained_through_review_id=0,
        trained_on_synthetic_data=True,
    )


def _answered_by_all(version: ModelVersion) -> bool:
    own = Suggestion.objects.filter(instance_id=OuterRef("pk"), model_version=version)
    return not Instance.objects.exclude(Exists(own)).exists()


def _versions_of(instance: Instance) -> set[int]:
    return set(Suggestion.objects.filter(instance=instance).values_list("model_version", flat=True))


def _case(client: Client, instance: Instance) -> str:
    response = client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk}))
    assert response.status_code == 200
    return text_of(response)


def _worklist_badges(client: Client) -> dict[int, str]:
    """Each worklist row's study -> the text of its "re-scored" badge ("" if none)."""
    response = client.get(reverse("diagnosis:worklist") + "?status=all")
    rows = re.findall(
        r'<tr data-case-url="[^"]*" data-study="(\d+)">(.*?)</tr>', text_of(response), re.S
    )
    badge = re.compile(r'data-testid="rescored"[^>]*>([^<]*)<')
    return {int(pk): (m.group(1) if (m := badge.search(row)) else "") for pk, row in rows}


def _wait_done(job: RescoreJob) -> RescoreJob:
    return wait_for(
        lambda: RescoreJob.objects.filter(pk=job.pk, status__in=["done", "failed"]).first(),
        timeout=120,
        what=f"re-score {job.pk} to end",
    )


@pytest.fixture
def steps_of_two(monkeypatch):  # type: ignore[no-untyped-def]
    """The worker started after this runs each re-score in steps of two images, so a job
    hands itself over from step to step (a hospital keeps the default)."""
    monkeypatch.setenv("MEDASSIST_RESCORE_CHUNK", "2")


@pytest.mark.integration
def test_after_a_promotion_and_a_rollback_a_real_worker_rescores_only_the_unreviewed_studies(
    steps_of_two, celery_worker, image_champion, client: Client, ml_admin: User, doctor: User
):
    v1 = image_champion
    uploads = [
        _ingest(600 + i, finding) for i, finding in enumerate(["nodule", "opacity", "normal"])
    ]
    # The demo's images (its frozen test cases are unreviewed) are answered with the uploads.
    services.suggestions_enqueue_missing(
        instance_ids=list(Instance.objects.values_list("pk", flat=True))
    )
    wait_for(lambda: _answered_by_all(v1), timeout=120, what="v1 to answer every image")
    reviewed = uploads[0]
    seen = Suggestion.objects.get(instance=reviewed, model_version=v1)
    review_record(instance=reviewed, reviewer=doctor, decision="accept")
    unreviewed = list(unreviewed_instances())
    assert reviewed not in unreviewed and set(uploads[1:]) <= set(unreviewed)

    # A better version is promoted; the ML admin re-scores from its page.
    v2 = model_version_promote(version=_same_weights_as(v1), actor=ml_admin, reason="better")
    client.force_login(ml_admin)
    version_page = reverse("finetune:version", kwargs={"version_id": v2.pk})
    studies = len({i.series.study_id for i in unreviewed})
    assert f"Re-score {studies} unreviewed stud" in text_of(client.get(version_page))
    response = client.post(reverse("diagnosis:rescore-start", kwargs={"version_id": v2.pk}))
    assert response.status_code == 302 and response["Location"] == version_page
    job = RescoreJob.objects.get()
    assert (job.model_version, job.requested_by, job.total) == (v2, ml_admin, len(unreviewed))
    audit = AuditEvent.objects.get(action="inference.rescore")
    assert audit.actor == ml_admin and audit.detail["images"] == len(unreviewed)

    job = _wait_done(job)
    assert (job.status, job.done, job.failed, job.percent) == ("done", len(unreviewed), 0, 100)
    assert job.started_at and job.finished_at and job.heartbeat_at
    for instance in unreviewed:  # a new row of v2 each; v1's is kept
        assert _versions_of(instance) == {v1.pk, v2.pk}
    # The reviewed case is untouched, and its review still points at what the doctor saw.
    assert _versions_of(reviewed) == {v1.pk}
    assert Review.objects.get(instance=reviewed).suggestion == seen

    # The version page shows the finished job; its progress partial stops polling.
    assert f"Re-scored {len(unreviewed)} of {len(unreviewed)} images on v2" in text_of(
        client.get(version_page)
    )
    partial = client.get(
        reverse("diagnosis:rescore-job", kwargs={"job_id": job.pk}), headers={"HX-Request": "true"}
    )
    assert partial.status_code == 286 and "<html" not in text_of(partial)

    # The doctor sees v2's suggestion, with v1's below it, superseded.
    client.force_login(doctor)
    case = _case(client, uploads[1])
    assert "Model: image v2" in case
    assert re.search(r"by image v1 on .*superseded by v2", case)
    assert "superseded by" not in _case(client, reviewed)
    badges = _worklist_badges(client)
    assert badges[uploads[1].series.study_id] == "re-scored by v2"
    assert badges[reviewed.series.study_id] == ""

    # An image arriving under v2, then a rollback to v1: re-scoring on v1 runs only the new
    # image (every other one has a v1 suggestion, current again since v1 was promoted last).
    late = _ingest(700, "nodule")
    wait_for(
        lambda: Suggestion.objects.filter(instance=late, model_version=v2).exists(),
        what="v2 to answer the late image",
    )
    v1 = model_version_rollback(version=v1, actor=ml_admin, reason="v2 misses nodules")
    rollback_job = services.rescore_start(version=v1, actor=ml_admin)
    assert rollback_job.total == 1
    assert _wait_done(rollback_job).status == "done"
    assert _versions_of(late) == {v1.pk, v2.pk}
    for instance in [*unreviewed, late]:
        assert latest_suggestion(instance=instance).model_version == v1
    # The worklist ranks the studies by v1's suggestions again.
    urgency = StudyUrgency.objects.select_related("key_suggestion").get(
        study_id=uploads[1].series.study_id
    )
    assert urgency.key_suggestion.model_version_id == v1.pk
    case = _case(client, uploads[1])
    assert "Model: image v1" in case
    assert re.search(r"by image v2 on .*superseded by v1", case)
    assert _case(client, reviewed).count("superseded by") == 0


# --- The rules, on rows alone (no model runs, no message is sent) --------------------------


@pytest.fixture
def promoted(db):  # type: ignore[no-untyped-def]
    """v1 answered three unreviewed studies and a reviewed one; then v2 became champion."""
    v1 = ModelVersionFactory(
        version=1,
        status=ModelVersion.Status.CHAMPION,
        promoted_at=timezone.now() - dt.timedelta(days=1),
    )
    studies = [builders.study(finding="nodule") for _ in range(3)]
    reviewed = builders.study(finding="normal")
    review_submit(
        instance=builders.first_instance(reviewed),
        reviewer=None,
        finding=Finding.objects.get(code="normal"),
    )
    v2 = model_version_promote(version=ModelVersionFactory(version=2), actor=None, reason="test")
    return SimpleNamespace(v1=v1, v2=v2, studies=studies, reviewed=reviewed)


@pytest.fixture
def woken(monkeypatch):  # type: ignore[no-untyped-def]
    """The wake-ups the services and the steps send (by task name)."""
    sent: list[tuple[str, dict]] = []

    def record(name, *, countdown=None, **kwargs):  # type: ignore[no-untyped-def]
        sent.append((name, kwargs))
        return True

    monkeypatch.setattr(services, "job_enqueue_on_commit", record)
    monkeypatch.setattr(services, "job_enqueue", record)
    monkeypatch.setattr(rescoring, "job_enqueue", record)
    return sent


def _suggest(instance: Instance, version: ModelVersion) -> Suggestion:
    return Suggestion.objects.create(
        instance=instance,
        model_version=version,
        top_finding=Finding.objects.get(code="opacity"),
        top_probability=0.8,
        probabilities={"opacity": 0.8},
        input_sha256="0" * 64,
        latency_ms=1.0,
    )


def test_only_the_image_champion_can_be_rescored(promoted, woken):  # type: ignore[no-untyped-def]
    with pytest.raises(services.RescoreRefused, match="v1 is not the champion"):
        services.rescore_start(version=promoted.v1, actor=None)
    triage = ModelVersionFactory(task=Task.TRIAGE, version=1, status=ModelVersion.Status.CHAMPION)
    with pytest.raises(services.RescoreRefused, match="Only the image model"):
        services.rescore_start(version=triage, actor=None)
    assert not RescoreJob.objects.exists() and woken == []


def test_one_rescore_at_a_time_and_none_with_nothing_to_do(promoted, woken, ml_admin):  # type: ignore[no-untyped-def]
    job = services.rescore_start(version=promoted.v2, actor=ml_admin)
    assert (job.total, job.status) == (3, "queued")  # the reviewed study is left out
    assert woken == [(services.RESCORE_RUN, {"job_id": job.pk})]
    with pytest.raises(services.RescoreRefused, match="already Queued"):
        services.rescore_start(version=promoted.v2, actor=ml_admin)
    RescoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    with pytest.raises(services.RescoreRefused, match="already Running"):
        services.rescore_start(version=promoted.v2, actor=ml_admin)
    RescoreJob.objects.filter(pk=job.pk).update(status="done")
    for study in promoted.studies:
        _suggest(builders.first_instance(study), promoted.v2)
    with pytest.raises(services.RescoreRefused, match="Nothing to re-score"):
        services.rescore_start(version=promoted.v2, actor=ml_admin)
    assert RescoreJob.objects.count() == 1


def test_only_an_ml_admin_starts_a_rescore_and_a_refusal_is_shown_on_the_version_page(
    promoted, woken, client: Client, doctor: User, ml_admin: User
):  # type: ignore[no-untyped-def]
    url = reverse("diagnosis:rescore-start", kwargs={"version_id": promoted.v2.pk})
    client.force_login(doctor)
    assert client.post(url).status_code == 403
    assert not RescoreJob.objects.exists()

    client.force_login(ml_admin)
    page = text_of(client.post(url, follow=True))
    assert "Re-scoring 3 unreviewed images on v2" in page
    assert 'data-testid="rescore-job"' in page and "Queued" in page
    again = text_of(client.post(url, follow=True))
    assert "already Queued" in again and RescoreJob.objects.count() == 1
    # The old champion's page offers no button.
    old = text_of(client.get(reverse("finetune:version", kwargs={"version_id": promoted.v1.pk})))
    assert 'data-testid="rescore-start"' not in old


def test_a_step_stops_and_says_so_when_the_champion_changed(promoted, woken):  # type: ignore[no-untyped-def]
    job = services.rescore_start(version=promoted.v2, actor=None)
    model_version_promote(version=ModelVersionFactory(version=3), actor=None, reason="another one")
    rescoring.rescore_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert "v3 became the champion while this re-score on v2 ran" in job.message
    assert not InferenceRequest.objects.exists()  # nothing was run on the new champion's behalf


def test_a_duplicate_wake_up_finds_the_job_held_and_runs_nothing(promoted, woken):  # type: ignore[no-untyped-def]
    job = services.rescore_start(version=promoted.v2, actor=None)
    RescoreJob.objects.filter(pk=job.pk).update(
        status="running", started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    assert rescoring.rescore_run(job_id=job.pk) is None
    RescoreJob.objects.filter(pk=job.pk).update(status="done")
    assert rescoring.rescore_run(job_id=job.pk) is None
    assert not InferenceRequest.objects.exists()


def test_the_sweep_resumes_a_job_whose_worker_died_a_bounded_number_of_times(
    promoted, woken, settings
):  # type: ignore[no-untyped-def]
    job = services.rescore_start(version=promoted.v2, actor=None)
    woken.clear()
    stale = timezone.now() - dt.timedelta(seconds=settings.MEDASSIST_INFERENCE_STALE_SECONDS + 5)
    RescoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=timezone.now())
    assert services.inference_sweep()["rescore"] == 0  # its worker may still be on it
    for _ in range(services.RESCORE_RESUMES):
        RescoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
        assert services.inference_sweep()["rescore"] == 1
        job.refresh_from_db()
        assert job.status == "queued" and "worker stopped" in job.message
        assert woken.pop() == (services.RESCORE_RUN, {"job_id": job.pk})
    RescoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=stale)
    services.inference_sweep()
    job.refresh_from_db()
    assert job.status == "failed" and "stopped 4 times" in job.error


def test_the_sweep_wakes_a_job_whose_wake_up_was_lost_and_fails_one_on_a_retired_version(
    promoted, woken
):  # type: ignore[no-untyped-def]
    job = services.rescore_start(version=promoted.v2, actor=None)
    woken.clear()
    services.inference_sweep()
    assert woken == []  # too young: its own wake-up is probably on its way
    RescoreJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    services.inference_sweep()
    assert woken == [(services.RESCORE_RUN, {"job_id": job.pk})]

    model_version_promote(version=ModelVersionFactory(version=3), actor=None, reason="another one")
    services.inference_sweep()
    job.refresh_from_db()
    assert job.status == "failed" and "v3 became the champion" in job.error


def test_a_suggestion_is_superseded_by_the_version_promoted_later_so_a_rollback_restores_it(
    promoted,
):  # type: ignore[no-untyped-def]
    instance = builders.first_instance(promoted.studies[0])
    old = Suggestion.objects.get(instance=instance)
    new = _suggest(instance, promoted.v2)
    current = latest_suggestion(instance=instance)
    assert current == new
    assert [(s, s.superseded_by_version) for s in current.superseded] == [(old, 2)]

    model_version_promote(version=promoted.v1, actor=None, reason="rollback")
    current = latest_suggestion(instance=instance)
    assert current == old  # one row per (instance, version): v1's comes back, none is added
    assert [(s, s.superseded_by_version) for s in current.superseded] == [(new, 1)]


def test_after_a_rollback_accepting_records_the_suggestion_the_page_shows(promoted, doctor):  # type: ignore[no-untyped-def]
    instance = builders.first_instance(promoted.studies[1])
    old = Suggestion.objects.get(instance=instance)
    _suggest(instance, promoted.v2)  # newer row, of the version rolled back below
    model_version_promote(version=promoted.v1, actor=None, reason="rollback")

    review = review_record(instance=instance, reviewer=doctor, decision=Review.Action.ACCEPT)

    assert latest_suggestion(instance=instance) == old
    assert review.suggestion == old and review.finding == old.top_finding


def test_the_worklist_marks_rescored_studies_in_a_fixed_number_of_queries(
    promoted, client: Client, doctor: User, django_assert_max_num_queries
):  # type: ignore[no-untyped-def]
    for study in promoted.studies[:2]:
        _suggest(builders.first_instance(study), promoted.v2)
    client.force_login(doctor)
    with django_assert_max_num_queries(10):  # as tests/diagnosis/review/test_worklist.py
        badges = _worklist_badges(client)
    assert [badges[s.pk] for s in promoted.studies] == ["re-scored by v2", "re-scored by v2", ""]
    assert badges[promoted.reviewed.pk] == ""
