"""Every suggestion can be traced, says how sure it is, and flags what it should not answer."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from django.conf import settings

from diagnosis.inference.services import suggestion_compute
from imaging.ingest.services import instance_ingest
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom

pytestmark = pytest.mark.django_db


def _synthetic_instance(seed: int = 1):  # type: ignore[no-untyped-def]
    ds = synthetic_dicom(
        finding="nodule",
        patient_id=f"PROV-{seed}",
        patient_name="Synthetic^Prov",
        size=64,
        rng=np.random.default_rng(seed),
    )
    return instance_ingest(data=dicom_bytes(ds)).instance


def test_every_suggestion_records_the_exact_model_code_input_and_device(image_champion):
    instance = _synthetic_instance()
    suggestion = suggestion_compute(instance_id=instance.pk)

    stored = (Path(settings.MEDIA_ROOT) / instance.storage_key).read_bytes()
    assert suggestion.model_version == image_champion
    assert suggestion.weights_sha256 == image_champion.weights_sha256
    assert suggestion.input_sha256 == hashlib.sha256(stored).hexdigest()
    assert suggestion.preprocess_version == image_champion.preprocess_version
    assert suggestion.code_version
    assert suggestion.device.startswith("cpu")
    assert suggestion.latency_ms > 0


def test_the_champion_is_calibrated_on_held_back_patients_and_carries_a_model_card(
    image_champion,
):
    assert image_champion.training_summary["n_calibration"] >= 1
    assert image_champion.temperature > 0
    # A few held-back cases cannot measure calibration: no temperature is claimed, and the
    # version says why instead of an ECE figure.
    calibration = image_champion.training_summary["calibration"]
    assert calibration["measured"] is False and calibration["ece_before"] is None
    assert image_champion.temperature == 1.0
    assert "too few cases to measure calibration" in calibration["reason"]
    # Trained on CR images only, and CR and DX chest radiographs are one scope family.
    assert image_champion.model_card["modalities"] == ["CR", "DX"]
    assert "synthetic" in image_champion.model_card["limitations"].lower()


def test_an_image_of_another_modality_needs_attention_instead_of_a_confident_answer(
    image_champion,
):
    ct = Path(pydicom.data.get_testdata_file("CT_small.dcm")).read_bytes()
    instance = instance_ingest(data=ct).instance
    suggestion = suggestion_compute(instance_id=instance.pk)
    assert suggestion.needs_attention
    assert "Out of scope" in suggestion.attention_reason
    assert "CT" in suggestion.attention_reason


def test_an_unsure_model_says_needs_attention_with_the_threshold_in_use(image_champion, settings):
    settings.MEDASSIST_ATTENTION_MARGIN = 1.01  # no margin can reach it
    suggestion = suggestion_compute(instance_id=_synthetic_instance(2).pk)
    assert suggestion.needs_attention
    assert "unsure" in suggestion.attention_reason
    assert suggestion.attention_margin == pytest.approx(1.01)


def test_the_case_page_shows_attention_and_provenance(image_champion, client, doctor, settings):
    settings.MEDASSIST_ATTENTION_MARGIN = 1.01
    instance = _synthetic_instance(3)
    suggestion = suggestion_compute(instance_id=instance.pk)
    client.force_login(doctor)
    body = client.get(f"/cases/{instance.pk}/").content.decode()
    assert "Needs attention." in body
    assert suggestion.code_version in body
    assert "calibrated" in body


def test_the_heatmap_is_stored_and_offered_as_an_overlay_on_the_case_page(
    image_champion, client, doctor
):
    from diagnosis.inference.services import saliency_compute

    instance = _synthetic_instance(4)
    suggestion = suggestion_compute(instance_id=instance.pk)
    key = saliency_compute(suggestion_id=suggestion.pk)
    assert key.endswith(".png")

    client.force_login(doctor)
    overlay_url = f"/suggestions/{suggestion.pk}/saliency.png"
    assert overlay_url in client.get(f"/cases/{instance.pk}/").content.decode()
    png = client.get(overlay_url)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_a_study_suggestion_aggregates_its_images_by_the_configured_rule(image_champion):
    from diagnosis.inference.models import Suggestion
    from diagnosis.inference.selectors import study_suggestion

    rng = np.random.default_rng(9)
    study_uid, series_uid = "1.2.826.0.1.3680043.8.498.77", "1.2.826.0.1.3680043.8.498.78"
    instances = []
    for finding in ("normal", "nodule"):
        ds = synthetic_dicom(
            finding=finding,
            patient_id="AGG-1",
            patient_name="Synthetic^Agg",
            study_uid=study_uid,
            series_uid=series_uid,
            size=64,
            rng=rng,
        )
        instances.append(instance_ingest(data=dicom_bytes(ds)).instance)
    for instance in instances:
        suggestion_compute(instance_id=instance.pk)
    # Make the per-image answers unambiguous, so the rule is what is tested.
    Suggestion.objects.filter(instance=instances[0]).update(
        probabilities={"normal": 0.9, "opacity": 0.05, "nodule": 0.05}
    )
    Suggestion.objects.filter(instance=instances[1]).update(
        probabilities={"normal": 0.2, "opacity": 0.1, "nodule": 0.7}
    )
    study_id = instances[0].series.study_id

    by_max = study_suggestion(study_id=study_id, rule="max")
    # One abnormal image makes an abnormal study.
    assert by_max.probabilities == {"nodule": 0.7, "normal": 0.2, "opacity": 0.1}
    assert by_max.top_finding == "nodule"
    assert len(by_max.instances) == 2
    by_mean = study_suggestion(study_id=study_id, rule="mean")
    assert by_mean.probabilities["nodule"] == pytest.approx(0.375)
    assert by_mean.top_finding == "normal"
    with pytest.raises(ValueError, match="max"):
        study_suggestion(study_id=study_id, rule="median")


def test_the_ml_admin_sees_inference_failures_with_their_reason(image_champion, client, ml_admin):
    from diagnosis.inference.services import suggestion_record_failure

    instance = _synthetic_instance(6)
    suggestion_record_failure(instance_id=instance.pk, error="StoredFileError: checksum differs")
    client.force_login(ml_admin)
    body = client.get("/models/").content.decode()
    assert "Inference failures" in body
    assert "checksum differs" in body


@pytest.mark.parametrize(
    ("calibration", "temperature", "says"),
    [
        (
            {"used": True, "measured": True, "n_fit": 60, "n_judge": 58, "ece_before": 0.21,
             "ece_after": 0.04},
            1.8,
            "calibrated (temperature 1.80, fitted on 60 held-back cases; expected calibration "
            "error 0.210 -> 0.040 on 58 others)",
        ),
        ({"used": False, "measured": True, "ece_before": 0.02}, 1.0, "not rescaled"),
        ({"used": False, "measured": False}, 1.0, "too few held-back cases to measure"),
    ],
)  # fmt: skip
def test_the_pages_say_what_calibration_measured(calibration, temperature, says) -> None:  # type: ignore[no-untyped-def]
    from diagnosis.registry.models import ModelVersion

    version = ModelVersion(
        temperature=temperature,
        training_summary={"n_calibration": 118, "calibration": calibration},
    )
    assert says in version.calibration_note
