"""A real MiniLM triage model whose answer the test chooses, registered as the champion."""

from __future__ import annotations

import uuid
from pathlib import Path

import torch
from django.conf import settings

from diagnosis.registry.models import ModelVersion
from diagnosis.registry.services import model_version_promote, model_version_register
from medassist.ml.text_model import (
    TRIAGE_LABELS,
    TextClassifier,
    build_text_model,
    save_text_checkpoint,
)
from medassist.ml.triage_head import build_triage_head, save_triage_head


def triage_champion_answering(
    level: int, *, strength: float = 6.0, kind: str = "fine-tuned"
) -> ModelVersion:
    """Register and promote a real triage model biased towards ``level``.

    ``kind`` "fine-tuned": the pretrained encoder with a head of small random weights;
    "frozen-encoder": the head on the frozen encoder (medassist.ml.triage_head) with small
    random weights. Either way the words still weigh a little and the bias makes the model
    answer ``level`` for any note (a real model, not a mock).
    """
    torch.manual_seed(0)
    if kind == "frozen-encoder":
        clf = build_triage_head(len(TRIAGE_LABELS))
        last = clf.model.layers[-1]
        with torch.no_grad():
            last.bias.zero_()
            last.bias[level - 1] = strength
        key = f"models/triage/test-{uuid.uuid4().hex}.pt"
        sha = save_triage_head(clf, Path(settings.MEDIA_ROOT) / key)
        preprocess_version = "triage-head-v1"
    else:
        model = build_text_model(len(TRIAGE_LABELS), pretrained=True)
        with torch.no_grad():
            model.head.bias.zero_()
            model.head.bias[level - 1] = strength
        key = f"models/triage/test-{uuid.uuid4().hex}.pt"
        sha = save_text_checkpoint(
            TextClassifier(model, TRIAGE_LABELS), Path(settings.MEDIA_ROOT) / key
        )
        preprocess_version = "triage-text-v1"
    version = model_version_register(
        task="triage",
        weights_key=key,
        weights_sha256=sha,
        labels=list(TRIAGE_LABELS),
        image_size=0,
        preprocess_version=preprocess_version,
        parent=None,
        model_card={"intended_use": "tests"},
        metrics={"n": 0},
        training_summary={"n_train": 0},
        trained_through_review_id=0,
        trained_on_synthetic_data=True,
    )
    return model_version_promote(version=version, actor=None, reason="test champion")
