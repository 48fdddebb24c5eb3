"""The model's own level as the model's, the rules' as the rules': a version's page reports how
often the model alone under-triages, beside the figure after the rules have raised it, so the
rules' safety net is never mistaken for the model's skill."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.triage.rules import Vitals
from diagnosis.triage.services import note_text
from finetune.adapters import TriageAdapter, TriageSet, triage_metrics
from tests.diagnosis.triage.helpers import triage_champion_answering
from tests.factories import ModelVersionFactory
from tests.web.helpers import text_of

pytestmark = pytest.mark.django_db

LEVELS = ["1", "2", "3", "4", "5"]


def _calm(age: float = 45.0) -> Vitals:
    return Vitals(
        age_years=age,
        heart_rate=80,
        respiratory_rate=16,
        spo2=98,
        systolic_bp=128,
        diastolic_bp=78,
        temperature_c=36.8,
        pain=3,
    )


def test_triage_metrics_count_the_model_s_own_under_and_over_triage() -> None:
    figures = triage_metrics(
        references=[2, 2, 4, 5], suggested=[2, 2, 5, 5], model_levels=[5, 2, 5, 4]
    )

    # After the rules: one ESI 4 sent to 5. The model alone also sent an ESI 2 to 5.
    assert figures["under_triage_rate"] == 0.25
    assert figures["model_under_triage_rate"] == 0.5
    assert (figures["over_triage_rate"], figures["model_over_triage_rate"]) == (0.0, 0.25)


def test_the_evaluation_measures_the_model_before_the_rules_raise_it(tiny: dict[str, int]) -> None:
    """A real model that answers ESI 5 for everything: the chest-pain rule catches the ESI 2
    case, so after the rules one case in three is under-triaged; the model alone, two."""
    version = triage_champion_answering(5)
    adapter = TriageAdapter()
    clf = adapter.load_base(version)
    notes = [
        ("67 y/o M c/o CP radiating to L arm", "2"),  # B_ACS raises 5 to 2
        ("ankle sprain, walking", "4"),  # nothing raises it: under-triage either way
        ("sore throat", "5"),
    ]
    data = TriageSet(
        texts=[note_text(complaint=c, vitals=_calm()) for c, _ in notes],
        labels=[level for _, level in notes],
        cases=[(c, _calm()) for c, _ in notes],
        real=[True] * len(notes),
    )

    figures = adapter.evaluate(clf, data, LEVELS).extra

    assert figures["under_triage_rate"] == pytest.approx(1 / 3)
    assert figures["model_under_triage_rate"] == pytest.approx(2 / 3)
    assert figures["model_over_triage_rate"] == 0.0


def test_the_version_page_shows_the_model_s_under_triage_beside_the_combined_one(
    client: Client, ml_admin: User
) -> None:
    version = ModelVersionFactory(
        task="triage",
        labels=LEVELS,
        image_size=0,
        metrics={
            "n": 300,
            "accuracy": 0.81,
            "macro_f1": 0.8,
            "under_triage_rate": 0.02,
            "over_triage_rate": 0.11,
            "model_accuracy": 0.77,
            "model_under_triage_rate": 0.093,
            "model_over_triage_rate": 0.057,
        },
    )
    older = ModelVersionFactory(
        task="triage", labels=LEVELS, image_size=0, metrics={"n": 300, "under_triage_rate": 0.03}
    )
    client.force_login(ml_admin)

    page = text_of(client.get(reverse("finetune:version", args=[version.pk])))
    before = text_of(client.get(reverse("finetune:version", args=[older.pk])))

    assert "Model alone (before the rules), under-triage" in page
    under = page.split('data-testid="model-under-triage">')[1].split("</td>")[0]
    over = page.split('data-testid="model-over-triage">')[1].split("</td>")[0]
    assert under == "0.093 (after the rules: 0.020)"
    assert over == "0.057 (after the rules: 0.110)"
    assert "not measured (trained before it was measured)" in before
