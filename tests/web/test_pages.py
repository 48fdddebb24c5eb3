"""Pages as a clinician or ML admin sees them: HTMX fragments, reviews, badges."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.template.defaultfilters import floatformat
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.inference.models import InferenceRequest
from diagnosis.inference.services import inference_requests_create, suggestion_compute
from diagnosis.inference.tasks import NO_CHAMPION_RETRIES as MAX_RETRIES
from diagnosis.inference.tasks import suggestion_compute as suggestion_compute_task
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.models import Review
from finetune.models import TrainingRun
from tests.factories import (
    ModelVersionFactory,
    TrainingRunFactory,
    ingested_instance,
    unmarked_file,
)
from tests.web.helpers import text_of

pytestmark = pytest.mark.django_db

STOP_POLLING = 286  # htmx stops an `every` trigger on this status


def _htmx_get(client: Client, url: str) -> HttpResponse:
    return client.get(url, HTTP_HX_REQUEST="true")


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


@pytest.fixture
def admin_client(client: Client, ml_admin: User) -> Client:
    client.force_login(ml_admin)
    return client


def test_the_suggestion_panel_polls_until_the_suggestion_arrives_then_stops(
    image_champion: ModelVersion, doctor_client: Client, doctor: User
) -> None:
    instance = ingested_instance(11, by=doctor)
    url = reverse("diagnosis:case", kwargs={"instance_id": instance.pk})

    waiting = _htmx_get(doctor_client, url)
    assert waiting.status_code == 200
    body = waiting.content.decode()
    assert "<html" not in body and "Your review" not in body  # the fragment, not the page
    assert body.lstrip().startswith('<div id="suggestion"')
    assert f'hx-get="{url}"' in body
    assert 'hx-trigger="every 1s"' in body
    assert "looking at this image" in text_of(waiting)

    suggestion = suggestion_compute(instance_id=instance.pk)

    done = _htmx_get(doctor_client, url)
    assert done.status_code == STOP_POLLING
    body = text_of(done)
    assert "<html" not in body
    assert "hx-trigger" not in body
    assert f'data-testid="top-finding">{suggestion.top_finding.name}<' in body
    assert f"Model: image v{image_champion.version}" in body
    assert "trained on synthetic data only" in body


def test_the_full_case_page_is_a_whole_page_with_the_image_and_the_review_form(
    doctor_client: Client, doctor: User, image_champion: ModelVersion
) -> None:
    instance = ingested_instance(12, by=doctor)
    response = doctor_client.get(reverse("diagnosis:case", kwargs={"instance_id": instance.pk}))
    assert response.status_code == 200
    body = text_of(response)
    assert "<html" in body
    assert f'src="{reverse("imaging:frame", kwargs={"instance_id": instance.pk})}"' in body
    assert "Your review" in body
    assert 'hx-trigger="every 1s"' in body  # no suggestion yet: the panel polls


def test_the_run_progress_polls_while_queued_and_stops_with_the_decision_when_finished(
    admin_client: Client,
) -> None:
    run = TrainingRunFactory()
    url = reverse("finetune:run", kwargs={"run_id": run.pk})

    queued = _htmx_get(admin_client, url)
    assert queued.status_code == 200
    body = text_of(queued)
    assert "<html" not in body
    assert body.lstrip().startswith('<div id="progress"')
    assert 'hx-trigger="every 1s"' in body
    assert 'data-testid="run-status">Queued<' in body

    champion = ModelVersionFactory(version=1)
    run.base_version = champion
    run.candidate = ModelVersionFactory(version=2, parent=champion)
    run.status = TrainingRun.Status.SUCCEEDED
    run.progress = 1.0
    run.message = "Finished"
    run.candidate_metrics = {"accuracy": 0.9, "macro_f1": 0.88, "n": 4}
    run.champion_metrics = {"accuracy": 0.8, "macro_f1": 0.75, "n": 4}
    run.decision = TrainingRun.Decision.PROMOTED
    run.decision_reason = "Promoted: macro_f1 0.880 is not worse than the champion's 0.750."
    run.finished_at = timezone.now()
    run.save()

    finished = _htmx_get(admin_client, url)
    assert finished.status_code == STOP_POLLING
    body = text_of(finished)
    assert "hx-trigger" not in body
    assert 'data-testid="run-status">Finished<' in body
    assert "Promoted to champion." in body
    assert "macro_f1 0.880 is not worse than the champion's 0.750" in body
    assert "Candidate v2" in body and "Champion v1" in body


def test_a_failed_run_stops_polling_and_shows_why(admin_client: Client) -> None:
    run = TrainingRunFactory(
        status=TrainingRun.Status.FAILED, error="NotEnoughData: Only 1 reviewed cases"
    )
    response = _htmx_get(admin_client, reverse("finetune:run", kwargs={"run_id": run.pk}))
    assert response.status_code == STOP_POLLING
    assert "Only 1 reviewed cases" in text_of(response)


def test_a_second_review_supersedes_the_first_and_both_stay_on_the_page(
    doctor_client: Client, doctor: User
) -> None:
    instance = ingested_instance(13, by=doctor)
    case_url = reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
    review_url = reverse("diagnosis:review", kwargs={"instance_id": instance.pk})
    opacity, nodule = Finding.objects.get(code="opacity"), Finding.objects.get(code="nodule")

    first = doctor_client.post(review_url, {"finding": opacity.pk, "comment": "Hazy left base"})
    assert first.status_code == 302 and first["Location"] == case_url
    second = doctor_client.post(review_url, {"finding": nodule.pk})
    assert second["Location"] == case_url

    old, new = Review.objects.filter(instance=instance).order_by("pk")
    assert (old.finding, new.finding) == (opacity, nodule)
    assert new.supersedes == old
    assert (old.reviewer, new.reviewer) == (doctor, doctor)

    page = text_of(doctor_client.get(case_url))
    assert "Review saved: Nodule" in page
    history = page[page.index("Review history") :]
    # Newest first: the current label, then the superseded one with its comment.
    assert history.index("Nodule") < history.index("Opacity")
    assert history.count("(superseded)") == 1
    assert history.index("(superseded)") > history.index("Opacity")
    assert "Hazy left base" in history


def test_a_review_without_a_finding_is_refused_with_a_message(
    doctor_client: Client, doctor: User
) -> None:
    instance = ingested_instance(14, by=doctor)
    response = doctor_client.post(
        reverse("diagnosis:review", kwargs={"instance_id": instance.pk}),
        {"comment": "?"},
        follow=True,
    )
    assert "Choose the finding you see." in text_of(response)
    assert not Review.objects.exists()


def test_the_models_page_shows_the_champion_with_its_metrics_and_the_synthetic_badge(
    image_champion: ModelVersion, admin_client: Client
) -> None:
    response = admin_client.get(reverse("finetune:models"))
    assert response.status_code == 200
    body = text_of(response)
    metrics = image_champion.metrics
    row = body[body.index('<tr class="champion">') :]
    row = row[: row.index("</tr>")]
    assert f"v{image_champion.version}" in row
    assert "Champion" in row
    assert f"<td>{floatformat(metrics['accuracy'], 3)}</td>" in row
    assert f"<td>{floatformat(metrics['macro_f1'], 3)}</td>" in row
    assert f"<td>{metrics['n']}</td>" in row
    assert "SYNTHETIC DATA" in row
    # The bootstrap run that trained it is listed with its decision.
    assert "First champion (demo data)" in body
    assert "Promoted to champion" in body


def test_a_synthetic_study_is_badged_and_a_real_one_is_not(
    doctor_client: Client, doctor: User
) -> None:
    from imaging.ingest.services import instance_ingest

    synthetic = ingested_instance(15, by=doctor)
    real = instance_ingest(data=unmarked_file(16), uploaded_by=doctor).instance

    def case_page(instance_id: int) -> str:
        url = reverse("diagnosis:case", kwargs={"instance_id": instance_id})
        return text_of(doctor_client.get(url))

    assert "SYNTHETIC DATA" in case_page(synthetic.pk)
    assert "SYNTHETIC DATA" not in case_page(real.pk)


def test_when_inference_gives_up_the_case_page_says_so_and_stops_polling(
    image_champion: ModelVersion, doctor_client: Client, doctor: User, media_root: Path
) -> None:
    instance = ingested_instance(17, by=doctor)
    # The stored file no longer matches its checksum: every try fails the same way.
    (media_root / instance.storage_key).write_bytes(b"overwritten")
    # The request is on its last allowed try (earlier tries are in test_inference_batching).
    inference_requests_create(instance_ids=[instance.pk])
    InferenceRequest.objects.filter(instance=instance).update(
        attempts=settings.MEDASSIST_INFERENCE_MAX_ATTEMPTS - 1
    )

    suggestion_compute_task.apply(kwargs={"instance_id": instance.pk})

    response = _htmx_get(
        doctor_client, reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
    )
    assert response.status_code == STOP_POLLING
    body = text_of(response)
    assert "Inference failed" in body
    assert "does not match its checksum" in body
    assert "looking at this image" not in body


def test_when_no_model_is_deployed_the_case_page_stops_promising_a_suggestion(
    doctor_client: Client, doctor: User
) -> None:
    """With no champion at all, inference gives up after its retries; the page must say so.

    Otherwise the doctor watches "The model is looking at this image" forever (the panel
    polls every second without end) and the case never reaches the worklist.
    """
    instance = ingested_instance(18, by=doctor)

    suggestion_compute_task.apply(kwargs={"instance_id": instance.pk}, retries=MAX_RETRIES)

    response = _htmx_get(
        doctor_client, reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
    )
    assert response.status_code == STOP_POLLING
    assert "looking at this image" not in text_of(response)
