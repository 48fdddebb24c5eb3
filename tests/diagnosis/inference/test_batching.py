"""Micro-batched inference: each image gets its own answer; a poison input fails alone."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from diagnosis.inference.batching import inference_batch_run
from diagnosis.inference.models import InferenceRequest, Suggestion
from diagnosis.inference.services import inference_requests_create
from diagnosis.registry.serving import classifier_for
from imaging.ingest.services import instance_ingest
from imaging.selectors import instance_read_dataset
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from tests.conftest import wait_for

FINDINGS = ["normal", "opacity", "nodule"]


def _ingest(seed: int, finding: str, *, source: str = "c-store"):  # type: ignore[no-untyped-def]
    ds = synthetic_dicom(
        finding=finding,
        patient_id=f"BATCH-{seed}",
        patient_name="Synthetic^Batch",
        size=96,
        rng=np.random.default_rng(seed),
    )
    return instance_ingest(data=dicom_bytes(ds), source=source).instance


def _backoff_elapses(instance) -> None:  # type: ignore[no-untyped-def]
    InferenceRequest.objects.filter(instance=instance).update(
        not_before=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_one_batch_returns_each_image_its_own_result(image_champion, settings):
    settings.MEDASSIST_INFERENCE_MAX_BATCH = 8
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    instances = [_ingest(100 + i, FINDINGS[i % 3]) for i in range(6)]
    inference_requests_create(instance_ids=[i.pk for i in instances])

    outcome = inference_batch_run()

    assert outcome.claimed == 6 and len(outcome.stored) == 6
    clf = classifier_for(image_champion)
    for instance in instances:
        alone = clf.classify_datasets([instance_read_dataset(instance=instance)])[0]
        batched = Suggestion.objects.get(instance=instance).probabilities
        assert batched == pytest.approx(alone, abs=1e-4)
    assert set(InferenceRequest.objects.values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db
def test_a_poison_input_is_retried_then_fails_visibly_without_harming_its_batch(
    image_champion, settings, media_root
):
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    settings.MEDASSIST_INFERENCE_MAX_ATTEMPTS = 2
    good, poison = _ingest(1, "nodule"), _ingest(2, "normal")
    (media_root / poison.storage_key).write_bytes(b"not the file that was stored")
    inference_requests_create(instance_ids=[good.pk, poison.pk])

    first = inference_batch_run()
    assert Suggestion.objects.filter(instance=good, status="ok").exists()
    assert first.retried == [poison.pk]
    assert InferenceRequest.objects.get(instance=poison).attempts == 1
    # Backoff: not claimed again at once, by this worker or another.
    assert inference_batch_run().claimed == 0
    _backoff_elapses(poison)

    second = inference_batch_run()
    assert second.failed == [poison.pk]
    failed = Suggestion.objects.get(instance=poison)
    assert failed.status == Suggestion.Status.FAILED
    assert "checksum" in failed.error
    assert InferenceRequest.objects.get(instance=poison).status == "failed"


@pytest.mark.django_db
def test_a_redelivered_request_stores_no_second_suggestion(image_champion, settings):
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    instance = _ingest(5, "opacity")
    inference_requests_create(instance_ids=[instance.pk])
    inference_batch_run()
    # The same work arrives again (a redelivered message re-opening the request).
    inference_requests_create(instance_ids=[instance.pk])
    again = inference_batch_run()
    assert again.claimed == 1 and again.stored == []
    assert Suggestion.objects.filter(instance=instance).count() == 1


@pytest.mark.integration
def test_a_real_worker_fails_a_poison_input_after_bounded_retries_and_keeps_serving(
    celery_worker, image_champion, media_root
):
    # Pushed, so inference waits for the 1 s quiet period: time enough to corrupt the file.
    poison = _ingest(7, "normal", source="c-store")
    (media_root / poison.storage_key).write_bytes(b"corrupted on disk")
    failed = wait_for(
        lambda: Suggestion.objects.filter(instance=poison, status="failed").first(),
        timeout=60,
        what="the poison input to fail after its retries",
    )
    assert InferenceRequest.objects.get(instance=poison).attempts == 3  # the default bound
    assert "checksum" in failed.error

    healthy = _ingest(8, "nodule", source="upload")
    served = wait_for(
        lambda: Suggestion.objects.filter(instance=healthy, status="ok").first(),
        timeout=60,
        what="the next upload to be served",
    )
    assert served.model_version == image_champion
    # The heatmap follows the suggestion, computed by the same worker.
    assert wait_for(
        lambda: Suggestion.objects.filter(pk=served.pk).exclude(saliency_key="").exists(),
        timeout=60,
        what="the saliency heatmap",
    )


@pytest.mark.django_db
def test_stored_suggestions_keep_the_worklist_urgency_of_their_study(image_champion, settings):
    from diagnosis.review.models import StudyUrgency

    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    settings.MEDASSIST_ATTENTION_MARGIN = 1.01  # every suggestion needs attention: band 3
    instance = _ingest(30, "nodule")
    inference_requests_create(instance_ids=[instance.pk])
    inference_batch_run()

    urgency = StudyUrgency.objects.get(study_id=instance.series.study_id)
    suggestion = Suggestion.objects.get(instance=instance)
    assert urgency.key_suggestion == suggestion
    assert urgency.priority == pytest.approx(3.0 + suggestion.top_probability)


@pytest.mark.django_db
def test_a_woken_worker_drains_batch_after_batch_then_hands_over(
    image_champion, settings, monkeypatch
):
    from diagnosis.inference import batching

    settings.MEDASSIST_INFERENCE_MAX_BATCH = 2
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    monkeypatch.setattr(batching, "BATCHES_PER_WAKE_UP", 2)
    # The broker itself is exercised by the real-worker tests; here we only look at
    # which wake-up the drain sends.
    woken: list[int] = []
    monkeypatch.setattr(
        batching,
        "job_enqueue",
        lambda name, *, countdown=None, **kw: woken.append(kw["instance_id"]),
    )
    instances = [_ingest(200 + i, FINDINGS[i % 3]) for i in range(5)]
    inference_requests_create(instance_ids=[i.pk for i in instances])

    first = batching.inference_drain()
    assert first.claimed == 4 and len(first.stored) == 4 and first.stopped_early
    assert woken == [instances[4].pk]  # the one still waiting gets a worker again

    second = batching.inference_drain()
    assert second.claimed == 1 and len(second.stored) == 1 and not second.stopped_early
    assert woken == [instances[4].pk]
    clf = classifier_for(image_champion)
    for instance in instances:
        alone = clf.classify_datasets([instance_read_dataset(instance=instance)])[0]
        assert Suggestion.objects.get(instance=instance).probabilities == pytest.approx(
            alone, abs=1e-4
        )


@pytest.mark.django_db
def test_an_error_mid_drain_gives_back_every_request_it_held(image_champion, settings, monkeypatch):
    from diagnosis.inference import batching, services

    settings.MEDASSIST_INFERENCE_MAX_BATCH = 2
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    settings.MEDASSIST_INFERENCE_MAX_ATTEMPTS = 2
    # The broker is exercised by the real-worker tests; here only the wake-ups are counted.
    woken: list[int] = []
    monkeypatch.setattr(
        batching,
        "job_enqueue",
        lambda name, *, countdown=None, **kw: woken.append(kw["instance_id"]),
    )
    calls = {"n": 0}
    refresh = services.instances_urgency_refresh

    def fail_on_second_batch(*, instances):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= 2:  # from the second batch on, every time
            raise RuntimeError("database went away")
        refresh(instances=instances)

    monkeypatch.setattr(services, "instances_urgency_refresh", fail_on_second_batch)
    instances = [_ingest(300 + i, FINDINGS[i % 3]) for i in range(6)]
    inference_requests_create(instance_ids=[i.pk for i in instances])

    with pytest.raises(RuntimeError, match="went away"):
        batching.inference_batch_run(max_batches=10)

    statuses = dict(InferenceRequest.objects.values_list("instance_id", "status"))
    assert "running" not in statuses.values()  # nothing left for the stale timeout
    stored = set(Suggestion.objects.values_list("instance_id", flat=True))
    assert stored == {instances[0].pk, instances[1].pk}  # the first batch's transaction
    given_back = InferenceRequest.objects.filter(status="pending")
    assert {r.instance_id for r in given_back} == {i.pk for i in instances[2:]}
    assert all(r.attempts == 1 and r.not_before for r in given_back)
    assert sorted(woken) == sorted(i.pk for i in instances[2:])

    # The error repeats: after the bounded tries every image shows a visible failure.
    for request in given_back:
        _backoff_elapses(request.instance)
    with pytest.raises(RuntimeError):
        batching.inference_batch_run(max_batches=10)
    failed = Suggestion.objects.filter(status="failed").values_list("instance_id", flat=True)
    assert set(failed) == {i.pk for i in instances[2:]}
    assert not InferenceRequest.objects.filter(status__in=["pending", "running"]).exists()


@pytest.mark.django_db
def test_a_promotion_mid_drain_ends_the_drain_and_a_new_wake_up_uses_the_new_champion(
    image_champion, settings, monkeypatch
):
    from diagnosis.inference import batching
    from diagnosis.registry.services import model_version_promote, model_version_register

    settings.MEDASSIST_INFERENCE_MAX_BATCH = 2
    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    # Only the wake-up is looked at here; the real-worker tests exercise the broker.
    woken: list[int] = []
    monkeypatch.setattr(
        batching,
        "job_enqueue",
        lambda name, *, countdown=None, **kw: woken.append(kw["instance_id"]),
    )
    instances = [_ingest(400 + i, FINDINGS[i % 3]) for i in range(5)]
    inference_requests_create(instance_ids=[i.pk for i in instances])
    claim = batching._claim
    state: dict[str, object] = {}

    def claim_then_promote(*, limit, version):  # type: ignore[no-untyped-def]
        rows = claim(limit=limit, version=version)
        state["claims"] = int(state.get("claims", 0)) + 1  # type: ignore[call-overload]
        if state["claims"] == 2:  # an ML admin promotes while the drain's batches run
            v2 = model_version_register(
                task="image",
                weights_key=image_champion.weights_key,
                weights_sha256=image_champion.weights_sha256,
                labels=image_champion.labels,
                image_size=image_champion.image_size,
                preprocess_version=image_champion.preprocess_version,
                parent=image_champion,
                temperature=image_champion.temperature,
                model_card=image_champion.model_card,
                metrics=image_champion.metrics,
                training_summary={"n_train": 0},
                trained_through_review_id=0,
                trained_on_synthetic_data=True,
            )
            state["v2"] = model_version_promote(version=v2, actor=None, reason="test")
        return rows

    monkeypatch.setattr(batching, "_claim", claim_then_promote)
    first = batching.inference_drain()
    # The batches claimed before the promotion ran on the old champion, then the drain
    # stopped and woke a worker for the rest.
    assert first.stopped_early and len(first.stored) == 4
    assert set(Suggestion.objects.values_list("model_version", flat=True)) == {image_champion.pk}
    assert woken == [instances[4].pk]
    assert InferenceRequest.objects.filter(status="pending").count() == 1

    second = batching.inference_drain()
    assert len(second.stored) == 1
    newer = Suggestion.objects.exclude(model_version=image_champion)
    assert set(newer.values_list("model_version", flat=True)) == {state["v2"].pk}  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_suggestion_another_writer_stored_first_is_kept_as_it_is(
    image_champion, settings, monkeypatch
):
    from diagnosis.inference import batching, services

    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    raced, other = _ingest(50, "nodule"), _ingest(51, "normal")
    inference_requests_create(instance_ids=[raced.pk, other.pk])
    store = batching._store
    first: dict[str, Suggestion] = {}

    def another_writer_first(jobs, results, **kwargs):  # type: ignore[no-untyped-def]
        # Between this batch's claim and its store, the unbatched path stores one of them.
        first["row"] = services.suggestion_store(
            instance=raced,
            version=image_champion,
            probabilities={"normal": 0.1, "opacity": 0.2, "nodule": 0.7},
            input_sha256=raced.sha256,
            latency_ms=1.0,
        )
        return store(jobs, results, **kwargs)

    monkeypatch.setattr(batching, "_store", another_writer_first)
    outcome = inference_batch_run()

    rows = Suggestion.objects.filter(instance__in=[raced, other])
    assert rows.count() == 2
    kept = Suggestion.objects.get(instance=raced)
    assert kept.pk == first["row"].pk
    assert kept.probabilities == {"normal": 0.1, "opacity": 0.2, "nodule": 0.7}
    assert kept.latency_ms == 1.0
    assert sorted(outcome.stored) == sorted(rows.values_list("pk", flat=True))
    assert set(InferenceRequest.objects.values_list("status", flat=True)) == {"done"}


@pytest.mark.django_db
def test_images_waiting_for_a_suggestion_go_before_the_heatmaps_of_earlier_ones(
    image_champion, settings, media_root
):
    """A study pushed while the heatmaps of an earlier one are drawn gets its suggestions
    first: the heatmap task runs the waiting requests before each heatmap."""
    from diagnosis.inference.batching import saliency_compute_many

    settings.MEDASSIST_INFERENCE_MAX_WAIT_MS = 0
    earlier = [_ingest(400 + i, FINDINGS[i % 3]) for i in range(2)]
    inference_requests_create(instance_ids=[i.pk for i in earlier])
    inference_batch_run()
    drawn = list(Suggestion.objects.filter(instance__in=earlier).values_list("pk", flat=True))
    pushed = [_ingest(500 + i, FINDINGS[i % 3]) for i in range(3)]
    inference_requests_create(instance_ids=[i.pk for i in pushed])

    saliency_compute_many(suggestion_ids=drawn)

    assert InferenceRequest.objects.filter(instance__in=pushed, status="done").count() == 3
    heatmaps = [s.saliency_key for s in Suggestion.objects.filter(pk__in=drawn)]
    assert all(heatmaps)
    # The pushed study's suggestions were stored before the first of those heatmaps was.
    last_suggested = max(
        Suggestion.objects.filter(instance__in=pushed).values_list("created_at", flat=True)
    )
    first_drawn = min((media_root / key).stat().st_mtime for key in heatmaps)
    assert last_suggested.timestamp() <= first_drawn
