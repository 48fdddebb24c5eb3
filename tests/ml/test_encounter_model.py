"""The encounter diagnosis model on the CPU: its inputs, its fusion of image findings, what
each kind of input contributed, its checkpoints, and top-k recall.

The network is the real all-MiniLM-L6-v2 of the installed package, trained for a few epochs
on a handful of SYNTHETIC encounters whose group only their image findings tell apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medassist.ml.encounter_inputs import (
    KINDS,
    EncounterInputs,
    image_vector,
    render_text,
)
from medassist.ml.gate_stats import METRICS, sensitivities, top_k_recall

CODES = ["normal", "opacity", "nodule"]
GROUPS = ["C30-C39", "J09-J18", "R50-R69"]
# Every case reads the same: only the images say which group it is.
SAME = {"hr": 96, "rr": 20, "spo2": 95, "sbp": 124, "dbp": 78, "temp_c": 37.6, "pain": 3}
TRUTH_IMAGES = {
    "J09-J18": {"normal": 0.05, "opacity": 0.9, "nodule": 0.05},
    "C30-C39": {"normal": 0.05, "opacity": 0.05, "nodule": 0.9},
    "R50-R69": {"normal": 0.9, "opacity": 0.05, "nodule": 0.05},
}


def _case(group: str, i: int, *, images: bool = True) -> EncounterInputs:
    jitter = 0.04 * ((i % 3) - 1)
    return EncounterInputs(
        complaint="cough and tiredness",
        vitals=SAME,
        age_years=50.0 + i,
        sex="F" if i % 2 else "M",
        history=(),
        images={k: min(1.0, max(0.0, v + jitter)) for k, v in TRUTH_IMAGES[group].items()}
        if images
        else None,
    )


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    from medassist.ml.encounter_model import (
        EncounterClassifier,
        build_encounter_model,
        train_encounter_classifier,
    )

    torch.set_num_threads(1)
    torch.manual_seed(0)
    clf = EncounterClassifier(build_encounter_model(len(GROUPS), len(CODES)), GROUPS, CODES)
    items, labels = [], []
    for i in range(8):
        for group in GROUPS:
            items.append(_case(group, i))
            labels.append(group)
    losses: list[float] = []
    train_encounter_classifier(
        clf,
        items,
        labels,
        epochs=6,
        batch_size=8,
        lr=5e-5,
        head_lr=1e-2,
        image_dropout=0.0,
        seed=0,
        on_epoch=lambda epoch, loss: losses.append(loss),
    )
    assert losses[-1] < losses[0], losses
    return clf


def test_the_text_holds_each_kind_and_leaves_out_what_it_is_told() -> None:
    x = EncounterInputs(
        complaint="  chest   pain ",
        vitals={"hr": 110, "rr": 22, "spo2": 93, "sbp": 100, "dbp": 60, "temp_c": 37.0},
        age_years=67.4,
        sex="M",
        history=("I20-I25 Ischaemic heart diseases",),
        images={"opacity": 0.7},
    )
    text = render_text(x)
    assert text == (
        "complaint: chest pain. vitals: HR 110 RR 22 SpO2 93% BP 100/60 T 37.0C. "
        "patient: 67y male. earlier diagnoses: I20-I25 Ischaemic heart diseases."
    )
    assert x.present() == list(KINDS)
    assert "earlier diagnoses" not in render_text(x, without=["history"])
    assert "HR 110" not in render_text(x, without=["vitals"])
    assert "67y" not in render_text(x, without=["age_sex"])
    assert image_vector(x, CODES) == [0.0, 0.7, 0.0, 1.0]
    assert image_vector(x, CODES, without=["images"]) == [0.0, 0.0, 0.0, 0.0]
    no_images = EncounterInputs(complaint="fall", sex="U")
    assert image_vector(no_images, CODES) == [0.0, 0.0, 0.0, 0.0]
    assert no_images.present() == ["complaint"]
    # The same inputs always have the same fingerprint; another value, another.
    assert x.fingerprint() == EncounterInputs(**{**x.__dict__}).fingerprint()
    assert x.fingerprint() != EncounterInputs(**{**x.__dict__, "images": None}).fingerprint()


def test_top_k_recall_counts_the_truth_in_the_first_k_and_ties_against_it() -> None:
    p = np.array(
        [
            [0.5, 0.3, 0.1, 0.1],  # truth 1: second -> in top 1? no; top 2 yes
            [0.1, 0.2, 0.3, 0.4],  # truth 0: last -> not in top 3
            [0.25, 0.25, 0.25, 0.25],  # truth 3, all tied: ranked last
        ]
    )
    y = np.array([1, 0, 3])
    assert top_k_recall(p, y, k=1) == 0.0
    assert top_k_recall(p, y, k=2) == pytest.approx(1 / 3)
    assert top_k_recall(p, y, k=3) == pytest.approx(1 / 3)
    assert top_k_recall(p, y, k=4) == 1.0
    assert METRICS["top3_recall"](p, y) == pytest.approx(1 / 3)
    # Per class, top-k recall is the class's sensitivity among its first k.
    assert sensitivities(p, y, top=2)[1] == 1.0 and sensitivities(p, y)[1] == 0.0


def test_the_model_uses_image_findings_when_present_and_ranks_without_them(trained) -> None:  # type: ignore[no-untyped-def]
    clf = trained
    with_images = [_case(g, 20) for g in GROUPS]
    ranked = [clf.rank(x, top=3) for x in with_images]
    # The images decide: each case's own group first.
    assert [r[0][0] for r in ranked] == GROUPS

    # Without studies the same network still ranks every group (the "no images" flag).
    without = [_case(g, 20, images=False) for g in GROUPS]
    ranked_without = [clf.rank(x, top=3) for x in without]
    assert all(len(r) == 3 and abs(sum(p for _, p in r) - 1) < 1e-6 for r in ranked_without)
    # ... and with nothing else to tell them apart, all three cases rank alike.
    assert len({r[0][0] for r in ranked_without}) == 1

    # Leave-one-kind-out: the images carried the decision, and say so.
    probs, contributions = clf.contributions(with_images[1])
    by_kind = {c.kind: c for c in contributions}
    assert max(probs, key=probs.get) == "J09-J18"
    assert by_kind["images"].present and by_kind["images"].delta > 0.2
    assert by_kind["images"].delta == max(c.delta for c in contributions if c.present)
    assert by_kind["history"].present is False and by_kind["history"].delta is None
    # Without images nothing is said about them, and the rest is still measured.
    _, none = clf.contributions(without[1])
    assert {c.kind: c.present for c in none}["images"] is False
    assert all(c.delta is not None for c in none if c.present)


def test_checkpoints_round_trip_and_refuse_a_different_file(trained, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from medassist.ml.encounter_model import (
        load_encounter_checkpoint,
        save_encounter_checkpoint,
    )

    clf = trained
    clf.temperature = 1.3
    try:
        sha = save_encounter_checkpoint(clf, tmp_path / "dx.pt")
        loaded = load_encounter_checkpoint(tmp_path / "dx.pt", expected_sha256=sha)
    finally:
        clf.temperature = 1.0
    assert loaded.labels == GROUPS and loaded.image_codes == CODES
    assert loaded.temperature == pytest.approx(1.3)
    x = [_case("C30-C39", 3)]
    assert torch.allclose(loaded.logits(x), clf.logits(x), atol=1e-5)
    with pytest.raises(ValueError, match="SHA-256"):
        load_encounter_checkpoint(tmp_path / "dx.pt", expected_sha256="0" * 64)


def test_adapting_to_new_groups_and_findings_keeps_what_was_learnt(trained) -> None:  # type: ignore[no-untyped-def]
    from medassist.ml.encounter_model import adapt

    clf = trained
    grown = adapt(clf, [*GROUPS, "other"], [*CODES, "effusion"])
    assert grown.labels == [*GROUPS, "other"] and grown.image_codes == [*CODES, "effusion"]
    assert torch.equal(grown.model.head.weight[:3], clf.model.head.weight)
    # A finding the old model never saw has no effect until trained.
    assert torch.count_nonzero(grown.model.image_proj.weight[:, 3]) == 0
    x = _case("J09-J18", 5)
    old = clf.classify([x])[0]
    new = grown.classify([x])[0]
    assert max(new, key=new.get) == max(old, key=old.get)
    assert clf.labels == GROUPS  # the original is untouched
