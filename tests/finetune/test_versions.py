"""The version page of a model: lineage, training data, metrics, model card, and rollback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.registry.models import ModelVersion
from diagnosis.triage.synthetic import generate_notes
from finetune.adapters import TriageAdapter
from finetune.models import TriageNote
from finetune.services import triage_notes_freeze
from medassist.models import AuditEvent
from tests.conftest import sign_in
from tests.factories import ModelVersionFactory

Status = ModelVersion.Status

METRICS = {
    "n": 4,
    "accuracy": 0.75,
    "macro_f1": 0.6667,
    "labels": ["normal", "nodule"],
    "per_class": {
        "normal": {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1},
        "nodule": {"precision": 1.0, "recall": 0.6667, "f1": 0.8, "support": 3},
    },
    "confusion": [[1, 0], [1, 2]],
}


def _with_weights(version: ModelVersion, media_root: Path) -> ModelVersion:
    path = media_root / version.weights_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"weights")
    return version


@pytest.fixture
def lineage(db: None, media_root: Path) -> dict[str, ModelVersion]:
    """v1 (retired, synthetic) -> v2 (champion, mixed data) -> v3 (candidate kept out)."""
    first = ModelVersionFactory(
        status=Status.RETIRED,
        trained_on_synthetic_data=True,
        training_summary={"n_train": 8, "n_real": 0, "n_synthetic": 10},
        model_card={"intended_use": "Suggests a finding.", "modalities": ["CR", "DX"]},
    )
    second = ModelVersionFactory(
        status=Status.CHAMPION,
        parent=first,
        # The flag is OR-ed with the parent's; the page follows the version's own counts.
        trained_on_synthetic_data=True,
        metrics=METRICS,
        training_summary={
            "n_train": 20,
            "n_calibration": 4,
            "n_real": 14,
            "n_synthetic": 10,
            "label_counts": {"normal": 12, "nodule": 12},
            "epochs": 3,
        },
        model_card={"intended_use": "Suggests a finding.", "limitations": ""},
    )
    third = ModelVersionFactory(status=Status.CANDIDATE, parent=second)
    return {"v1": _with_weights(first, media_root), "v2": second, "v3": third}


def _admin(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_version_page_shows_lineage_mixed_data_per_class_figures_and_the_card(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    v1, v2, v3 = lineage["v1"], lineage["v2"], lineage["v3"]
    response = _admin(ml_admin).get(reverse("finetune:version", args=[v2.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"v{v1.version}</a> → <strong>v{v2.version}</strong>" in html  # parent chain
    assert reverse("finetune:version", args=[v3.pk]) in html  # its child
    assert "mixed: 14 real, 10 synthetic" in html
    assert "normal: 12" in html and "nodule: 12" in html
    assert "0.750" in html and "0.667" in html  # accuracy, macro-F1
    assert 'data-testid="per-class"' in html and "0.800" in html
    assert 'data-testid="confusion"' in html
    assert "Suggests a finding." in html and "not stated" in html  # an empty card entry
    assert v2.weights_sha256 in html
    assert "Macro AUROC</th><td>not measured" in html  # recorded before AUROC was measured
    # The champion cannot be "rolled back" to itself.
    assert "Make this the champion" not in html


def test_a_version_without_figures_or_counts_says_so_instead_of_showing_blanks(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    bare = ModelVersionFactory(metrics={}, training_summary={}, model_card={})
    html = _admin(ml_admin).get(reverse("finetune:version", args=[bare.pk])).content.decode()
    assert "Not measured: this version has no figures on the frozen test set." in html
    assert "Real and synthetic counts not recorded" in html
    assert "No model card was recorded" in html
    assert "Make this the champion" in html


def test_a_version_trained_on_synthetic_data_only_is_badged_synthetic(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    html = (
        _admin(ml_admin).get(reverse("finetune:version", args=[lineage["v1"].pk])).content.decode()
    )
    assert "SYNTHETIC DATA" in html and "all 10 synthetic, 0 real" in html


def test_the_models_page_links_every_version_to_its_page(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    html = _admin(ml_admin).get(reverse("finetune:models")).content.decode()
    for version in lineage.values():
        assert reverse("finetune:version", args=[version.pk]) in html


def test_a_rollback_without_a_reason_is_refused_next_to_the_field(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    url = reverse("finetune:version-rollback", args=[lineage["v1"].pk])
    response = _admin(ml_admin).post(url, {"reason": "  ", "confirm": "on"})
    assert response.status_code == 400
    assert "Give the reason for making this version the champion." in response.content.decode()
    assert ModelVersion.objects.get(status=Status.CHAMPION) == lineage["v2"]


def test_a_rollback_makes_the_earlier_version_champion_and_audits_who_and_why(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    v1, v2 = lineage["v1"], lineage["v2"]
    url = reverse("finetune:version-rollback", args=[v1.pk])
    response = _admin(ml_admin).post(url, {"reason": "v2 misses nodules", "confirm": "on"})
    assert response.status_code == 302
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (Status.CHAMPION, Status.RETIRED)
    event = AuditEvent.objects.get(action="model.promote", object_id=str(v1.pk))
    assert event.actor == ml_admin
    assert event.detail == {"reason": "Rollback: v2 misses nodules", "previous": v2.pk}
    html = _admin(ml_admin).get(reverse("finetune:version", args=[v1.pk])).content.decode()
    assert "Rollback: v2 misses nodules" in html and ml_admin.username in html


def test_a_rollback_to_a_version_whose_weights_are_gone_changes_nothing(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    url = reverse("finetune:version-rollback", args=[lineage["v3"].pk])
    response = _admin(ml_admin).post(url, {"reason": "try it", "confirm": "on"}, follow=True)
    assert "weights file" in response.content.decode()
    assert ModelVersion.objects.get(status=Status.CHAMPION) == lineage["v2"]
    assert not AuditEvent.objects.filter(action="model.promote").exists()


def test_the_model_card_downloads_as_json_and_as_a_printable_page(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    v2 = lineage["v2"]
    url = reverse("finetune:version-card", args=[v2.pk])
    response = _admin(ml_admin).get(url, {"format": "json"})
    assert response["Content-Disposition"].startswith("attachment;")
    card = json.loads(response.content)
    assert card["model_card"]["intended_use"] == "Suggests a finding."
    assert card["training_data"]["n_real"] == 14 and card["training_data"]["origin"] == "mixed"
    assert card["weights_sha256"] == v2.weights_sha256
    assert card["metrics_on_frozen_test_set"]["macro_f1"] == METRICS["macro_f1"]
    page = _admin(ml_admin).get(url).content.decode()
    assert "Model card: Image finding v" in page and "14 real, 10 synthetic" in page


def test_a_missing_version_is_not_found(ml_admin: User) -> None:
    assert _admin(ml_admin).get(reverse("finetune:version", args=[999999])).status_code == 404


def test_the_triage_training_data_counts_its_real_and_synthetic_notes(db: None) -> None:
    notes = generate_notes(3, seed=5)
    triage_notes_freeze(notes=notes, split=TriageNote.Split.TRAIN)
    TriageNote.objects.filter(pk=TriageNote.objects.order_by("pk").first().pk).update(
        synthetic=False
    )
    data = TriageAdapter().training_data()
    assert (data.n, data.n_synthetic) == (3, 2)


def test_a_trained_image_version_records_how_many_cases_were_synthetic(
    db: None, image_champion: ModelVersion
) -> None:
    summary = image_champion.training_summary
    # demo_seed's images are all synthetic, with the generator's ground truth as labels.
    assert summary["n_real"] == 0
    assert summary["n_synthetic"] == summary["n_train"] + summary["n_calibration"] > 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_ml_admin_opens_a_version_and_rolls_back_to_it_in_the_browser(
    live_server, page, media_root: Path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from medassist.roles import Role
    from tests.conftest import make_user

    admin = make_user("mladmin-browser", Role.ML_ADMIN)
    old = _with_weights(
        ModelVersionFactory(status=Status.RETIRED, model_card={"intended_use": "Old one."}),
        media_root,
    )
    current = ModelVersionFactory(status=Status.CHAMPION, parent=old)
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}{reverse('finetune:models')}")
    page.get_by_role("link", name=f"v{old.version}", exact=True).click()
    page.wait_for_url(re.compile(rf"/models/versions/{old.pk}/$"))
    expect(page.get_by_test_id("version-status")).to_have_text("Retired")
    expect(page.get_by_test_id("model-card")).to_contain_text("Old one.")

    page.get_by_test_id("rollback").click()  # no reason, no confirmation
    expect(page.get_by_test_id("error-reason")).to_contain_text("Give the reason")
    expect(page.get_by_test_id("error-confirm")).to_be_visible()

    page.get_by_label("Reason").fill("The new version misreads portable films")
    page.get_by_label(re.compile("I confirm")).check()
    page.get_by_test_id("rollback").click()
    expect(page.locator(".flash")).to_contain_text(f"v{old.version} is now the champion")
    expect(page.get_by_test_id("version-status")).to_have_text("Champion")
    expect(page.get_by_test_id("history")).to_contain_text("misreads portable films")
    current.refresh_from_db()
    assert current.status == Status.RETIRED


def test_the_version_page_shows_what_calibration_measured_with_its_reliability_table(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    import numpy as np
    import torch

    from medassist.ml.calibration import calibrate

    # An overconfident model (right ~70 %, sure ~100 %) calibrated on 200 held-back cases.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=200)
    guess = np.where(rng.random(200) < 0.7, y, (y + 1) % 3)
    logits = np.full((200, 3), -4.0)
    logits[np.arange(200), guess] = 4.0
    measured = calibrate(torch.tensor(logits), torch.tensor(y), min_cases=100).summary()
    version = ModelVersionFactory(training_summary={"calibration": measured})
    html = _admin(ml_admin).get(reverse("finetune:version", args=[version.pk])).content.decode()
    assert f"{measured['ece_before']:.3f} without a temperature" in html
    assert "The temperature is used." in html
    assert 'data-testid="reliability"' in html and "0.93-1.00" in html

    too_few = ModelVersionFactory(
        training_summary={
            "calibration": calibrate(torch.zeros(0, 3), torch.zeros(0), min_cases=100).summary()
        }
    )
    html = _admin(ml_admin).get(reverse("finetune:version", args=[too_few.pk])).content.decode()
    assert "Not calibrated: too few cases to measure calibration" in html
    assert 'data-testid="reliability"' not in html
    # A version from before calibration was measured says that, not a figure.
    html = _admin(ml_admin).get(reverse("finetune:version", args=[lineage["v2"].pk])).content
    assert b"trained before calibration was measured" in html


def test_the_models_list_badges_each_version_by_its_own_data_not_its_parents_flag(
    ml_admin: User, lineage: dict[str, ModelVersion]
) -> None:
    real_only = ModelVersionFactory(
        trained_on_synthetic_data=True,  # OR-ed in from a synthetic parent
        training_summary={"n_train": 16, "n_real": 16, "n_synthetic": 0},
    )
    html = _admin(ml_admin).get(reverse("finetune:models")).content.decode()
    assert "mixed: 14 real, 10 synthetic" in html  # v2
    row = html[html.index(reverse("finetune:version", args=[real_only.pk])) :]
    row = row[: row.index("</tr>")]
    assert "real data" in row and "SYNTHETIC" not in row.upper()


def test_a_trained_version_shows_intervals_sources_subgroups_and_its_loss_curve(
    db: None, image_champion: ModelVersion, ml_admin: User
) -> None:
    m = image_champion.metrics
    assert m["by_source"]["synthetic"]["n"] == m["n"] and "real" not in m["by_source"]
    low, high = m["ci"]["accuracy"]
    assert low <= m["accuracy"] <= high
    assert set(m["subgroups"]) == {"sex", "age band", "modality", "manufacturer"}
    assert sum(g["n"] for g in m["subgroups"]["modality"].values()) == m["n"]
    losses = image_champion.training_summary["loss_per_epoch"]
    assert len(losses) == image_champion.training_summary["epochs"]

    html = _admin(ml_admin).get(reverse("finetune:version", args=[image_champion.pk])).content
    html = html.decode()
    assert f"{m['accuracy']:.3f} (95% CI {low:.3f}\N{EN DASH}{high:.3f})" in html
    assert 'data-testid="by-source"' in html and 'data-testid="subgroups"' in html
    assert f"1: {losses[0]:.3f}" in html
    first, last = image_champion.training_summary["study_dates"]
    assert first <= last and f"{first} to {last}" in html
