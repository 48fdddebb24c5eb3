"""The encounter diagnosis suggestion on the encounter pages: what the model reads about an
encounter (never its own final diagnosis), with or without images, and the fragment that
says it is decision support, with the model version and a link to its model card."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import torch
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.encounters.models import Encounter, EncounterDiagnosisSuggestion
from diagnosis.encounters.selectors import dx_inputs_of, encounter_studies
from diagnosis.encounters.services import final_diagnosis_record
from diagnosis.inference.models import Suggestion
from diagnosis.registry.models import Finding, ModelVersion
from tests.diagnosis.encounters.helpers import encounter_of
from tests.factories import ModelVersionFactory, ingested_instance

GROUPS = ["I20-I25", "J09-J18", "R50-R69", "other"]


@pytest.fixture
def dx_champion(db: None, media_root: Path) -> ModelVersion:
    """A champion of the encounter diagnosis task with a real (untrained) checkpoint."""
    from medassist.ml.encounter_model import (
        EncounterClassifier,
        build_encounter_model,
        save_encounter_checkpoint,
    )

    codes = list(Finding.objects.filter(is_active=True).values_list("code", flat=True))
    torch.manual_seed(0)
    clf = EncounterClassifier(build_encounter_model(len(GROUPS), len(codes)), GROUPS, codes)
    # Let the images say something (the untrained head ignores them): opacity argues for
    # pneumonia, so their contribution shows.
    with torch.no_grad():
        clf.model.image_head.weight[GROUPS.index("J09-J18"), codes.index("opacity")] = 4.0
    key = "models/encounter_dx/test-v1.pt"
    sha = save_encounter_checkpoint(clf, media_root / key)
    return ModelVersionFactory(
        task="encounter_dx",
        weights_key=key,
        weights_sha256=sha,
        labels=GROUPS,
        image_size=0,
        preprocess_version="encounter-dx-v1",
        status=ModelVersion.Status.CHAMPION,
        promoted_at=timezone.now(),
        trained_on_synthetic_data=True,
        model_card={"intended_use": "Decision support: ranks likely diagnosis groups."},
    )


def _image_findings(encounter: Encounter, *, opacity: float) -> None:
    """A study of the encounter's patient, today, whose image the image model scored."""
    instance = ingested_instance(71, patient_id=encounter.patient.mrn, finding="opacity")
    version = ModelVersionFactory(task="image", promoted_at=timezone.now(), status="champion")
    probabilities = {"normal": 0.1, "opacity": opacity, "nodule": 0.9 - opacity}
    Suggestion.objects.create(
        instance=instance,
        model_version=version,
        probabilities=probabilities,
        top_finding=Finding.objects.get(code="opacity"),
        top_probability=opacity,
        input_sha256=instance.sha256,
        latency_ms=1.0,
    )


def test_the_encounter_own_final_diagnosis_never_reaches_its_inputs(
    nurse: User, doctor: User
) -> None:
    earlier = encounter_of(nurse, mrn="SYN-DX-LEAK")
    final_diagnosis_record(encounter=earlier, doctor=doctor, icd10_code="I10")
    Encounter.objects.filter(pk=earlier.pk).update(
        created_at=timezone.now() - dt.timedelta(days=90)
    )
    encounter = encounter_of(nurse, mrn="SYN-DX-LEAK")
    final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code="J18.9")
    # Recoded: both the superseded and the current code are the encounter's own.
    final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code="C34.9")
    later = encounter_of(nurse, mrn="SYN-DX-LEAK")
    final_diagnosis_record(encounter=later, doctor=doctor, icd10_code="K35.8")

    inputs = dx_inputs_of(encounter=encounter).inputs
    from medassist.ml.encounter_inputs import render_text

    text = render_text(inputs)
    assert inputs.history == ("I10-I15 Hypertensive diseases",)  # the earlier one only
    for own in ("J18", "J09-J18", "C34", "C30-C39", "pneumonia", "neoplasm"):
        assert own.lower() not in text.lower()
    assert "K35" not in text  # nor a later encounter's
    # The earliest encounter has no history at all.
    assert dx_inputs_of(encounter=Encounter.objects.get(pk=earlier.pk)).inputs.history == ()


def test_the_image_findings_of_the_encounter_studies_are_inputs_when_there_are_any(
    nurse: User,
) -> None:
    encounter = encounter_of(nurse, mrn="SYN-DX-IMG")
    assert dx_inputs_of(encounter=encounter).inputs.images is None
    _image_findings(encounter, opacity=0.8)
    read = dx_inputs_of(encounter=encounter)
    assert read.inputs.images == pytest.approx({"normal": 0.1, "opacity": 0.8, "nodule": 0.1})
    assert (read.n_studies, read.n_images) == (1, 1)
    # A study from long before the encounter is not one of its studies.
    old = encounter_of(nurse, mrn="SYN-DX-IMG")
    Encounter.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    assert not encounter_studies(encounter=Encounter.objects.get(pk=old.pk)).exists()


def _fragment(client: Client, encounter: Encounter) -> str:
    response = client.get(
        reverse("diagnosis:encounter-dx", args=[encounter.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the fragment, not a page
    return html


def test_the_page_shows_ranked_groups_as_decision_support_with_version_and_model_card(
    dx_champion: ModelVersion, nurse: User, doctor: User
) -> None:
    encounter = encounter_of(nurse, mrn="SYN-DX-PAGE")
    client = Client()
    client.force_login(doctor)

    # The pages ask for the suggestion once shown; they never run the model themselves.
    for name in ("diagnosis:final-diagnosis", "diagnosis:encounter"):
        page = client.get(reverse(name, args=[encounter.pk])).content.decode()
        assert reverse("diagnosis:encounter-dx", args=[encounter.pk]) in page
        assert 'data-testid="dx-pending"' in page

    # Without studies.
    html = _fragment(client, encounter)
    assert "Decision support, not a diagnosis" in html
    assert f"v{dx_champion.version}" in html
    card = reverse("finetune:version-card", args=[dx_champion.pk])
    assert f'href="{card}"' in html
    assert html.count("<li>") == len(GROUPS)
    assert "Without images" in html
    assert 'data-testid="dx-contribution-images"' in html and "none for this encounter" in html
    assert "SYNTHETIC" in html  # the model was trained on synthetic data
    first = EncounterDiagnosisSuggestion.objects.get()
    assert first.inputs["kinds"] == ["complaint", "vitals"]  # no age or sex recorded
    # Asked again with the same inputs: the stored suggestion, not a new one.
    _fragment(client, encounter)
    assert EncounterDiagnosisSuggestion.objects.count() == 1

    # With a study whose image shows an opacity: a new suggestion, the images contributing.
    _image_findings(encounter, opacity=0.85)
    html = _fragment(client, encounter)
    assert "Image findings of 1 study (1 image) were inputs" in html
    latest = EncounterDiagnosisSuggestion.objects.latest("pk")
    assert latest.pk != first.pk and latest.inputs["studies"] == 1
    images = next(c for c in latest.contributions if c["kind"] == "images")
    assert images["present"] and images["delta"] > 0
    assert latest.ranked[0]["group"] == "J09-J18"
    assert latest.ranked[0]["title"] == "Influenza and pneumonia"

    # The doctor can open the model card the suggestion links to.
    assert client.get(card).status_code == 200


def test_without_a_champion_the_page_says_so_plainly(nurse: User, doctor: User) -> None:
    encounter = encounter_of(nurse, mrn="SYN-DX-NONE")
    client = Client()
    client.force_login(doctor)
    html = _fragment(client, encounter)
    assert "No encounter diagnosis model has been trained and promoted yet" in html
    assert "Decision support" in html
    assert not EncounterDiagnosisSuggestion.objects.exists()
    # Nurses do not get the diagnosis suggestion.
    nurse_client = Client()
    nurse_client.force_login(nurse)
    response = nurse_client.get(reverse("diagnosis:encounter-dx", args=[encounter.pk]))
    assert response.status_code == 403


def test_a_web_process_loads_the_champion_at_start(dx_champion: ModelVersion, settings) -> None:
    """The first doctor to open an encounter does not wait for the model to load: the web
    process loads the champion when it starts (medassist.wsgi sends web_process_ready)."""
    from diagnosis.registry import serving
    from medassist.signals import web_process_ready

    settings.MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL = True
    serving._cache.pop("encounter_dx", None)
    failures = [r for _, r in web_process_ready.send_robust(sender=None) if r is not None]
    assert failures == []
    assert serving._cache["encounter_dx"][0] == dx_champion.weights_sha256


def test_a_web_process_that_does_not_serve_the_model_leaves_it_unloaded(
    dx_champion: ModelVersion, settings
) -> None:
    from diagnosis.registry import serving
    from medassist.signals import web_process_ready

    settings.MEDASSIST_WEB_SERVES_ENCOUNTER_DX_MODEL = False
    settings.MEDASSIST_WEB_SERVES_TRIAGE_MODEL = False
    serving._cache.pop("encounter_dx", None)
    web_process_ready.send_robust(sender=None)
    assert "encounter_dx" not in serving._cache
