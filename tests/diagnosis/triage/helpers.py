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


def triage_champion_answering(level: int, *, strength: float = 6.0) -> ModelVersion:
    """Register and promote the pretrained encoder with a head biased towards ``level``.

    The head keeps its small random weights, so the words still weigh a little; the bias
    makes the model answer ``level`` for any note (a real model, not a mock).
    """
    torch.manual_seed(0)
    model = build_text_model(len(TRIAGE_LABELS), pretrained=True)
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[level - 1] = strength
    key = f"models/triage/test-{uuid.uuid4().hex}.pt"
    sha = save_text_checkpoint(
        TextClassifier(model, TRIAGE_LABELS), Path(settings.MEDIA_ROOT) / key
    )
    version = model_version_register(
        task="triage",
        weights_key=key,
        weights_sha256=sha,
        labels=list(TRIAGE_LABELS),
        image_size=0,
        preprocess_version="triage-text-v1",
        parent=None,
        model_card={"intended_use": "tests"},
        metrics={"n": 0},
        training_summary={"n_train": 0},
        trained_through_review_id=0,
        trained_on_synthetic_data=True,
    )
    return model_version_promote(version=version, actor=None, reason="test champion")
