"""Triage suggestion latency on the CPU, through the service a nurse's submit calls.

    .venv/bin/python bench/triage.py                 # 50 SYNTHETIC notes, torch's threads
    .venv/bin/python bench/triage.py --notes 100 --threads 2

Prints p50/p95 per note of:
  1. the whole suggestion, ``triage_assess``: ESI rules + MiniLM forward + the words that
     weighed (gradient x input) + the row with its provenance (what the nurse waits for
     after pressing Enter);
  2. its parts measured alone: the rules, the model's forward pass, the word weights, and
     for comparison the occlusion explanation it replaced.

Runs in a scratch folder (SQLite) with a champion whose weights are the pretrained encoder
and an untrained head: latency does not depend on the head's values. Notes are SYNTHETIC.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def report(name: str, values_ms: list[float]) -> None:
    p50, p95 = percentile(values_ms, 50), percentile(values_ms, 95)
    mean = statistics.fmean(values_ms)
    print(f"{name:38s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   mean {mean:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notes", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="medassist-bench-triage-"))
    os.environ["MEDASSIST_VAR_DIR"] = str(scratch)
    os.environ["MEDIA_ROOT"] = str(scratch / "media")
    os.environ["DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    os.environ["MEDASSIST_INFERENCE_DEVICE"] = "cpu"
    if args.threads:
        os.environ["MEDASSIST_TORCH_THREADS"] = str(args.threads)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medassist.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from diagnosis.encounters.models import Encounter
    from diagnosis.registry.services import model_version_promote, model_version_register
    from diagnosis.triage.rules import esi_rules
    from diagnosis.triage.services import note_units, triage_assess, vitals_of
    from diagnosis.triage.serving import text_classifier_for
    from diagnosis.triage.synthetic import generate_notes
    from finetune.adapters import TRIAGE_PREPROCESS_VERSION
    from medassist.ml.text_model import (
        TRIAGE_LABELS,
        TextClassifier,
        build_text_model,
        save_text_checkpoint,
        word_gradients,
        word_importance,
    )
    from medassist.services import patient_get_or_register

    call_command("migrate", verbosity=0)
    import torch

    torch.manual_seed(0)
    key = "models/triage/bench.pt"
    sha = save_text_checkpoint(
        TextClassifier(build_text_model(len(TRIAGE_LABELS)), TRIAGE_LABELS),
        Path(settings.MEDIA_ROOT) / key,
    )
    version = model_version_promote(
        version=model_version_register(
            task="triage", weights_key=key, weights_sha256=sha, labels=list(TRIAGE_LABELS),
            image_size=0, preprocess_version=TRIAGE_PREPROCESS_VERSION, parent=None,
            model_card={"intended_use": "bench"}, metrics={"n": 0},
            training_summary={"n_train": 0}, trained_through_review_id=0,
            trained_on_synthetic_data=True,
        ),
        actor=None,
        reason="bench",
    )  # fmt: skip
    nurse = User.objects.create_user("bench-nurse")
    encounters = []
    for i, note in enumerate(generate_notes(args.notes, seed=7)):
        v = note.vitals
        encounters.append(
            Encounter.objects.create(
                patient=patient_get_or_register(mrn=f"BENCH-{i}", is_synthetic=True),
                opened_by=nurse,
                chief_complaint=note.complaint,
                heart_rate=v.heart_rate or 80, respiratory_rate=v.respiratory_rate or 16,
                spo2=v.spo2 or 98, systolic_bp=v.systolic_bp or 120,
                diastolic_bp=min(v.diastolic_bp or 80, (v.systolic_bp or 120) - 1),
                temperature_c=round(v.temperature_c or 37.0, 1), pain=v.pain or 0,
                mental_status=v.avpu or "", gcs=v.gcs, age_years=round(v.age_years, 2),
            )
        )  # fmt: skip
    clf = text_classifier_for(version)
    triage_assess(encounter=encounters[0], actor=nurse)  # warm-up: load, first allocations

    whole, rules, forward, words, single_words, gradients = [], [], [], [], [], []
    for encounter in encounters:
        started = time.perf_counter()
        triage_assess(encounter=encounter, actor=nurse)
        whole.append((time.perf_counter() - started) * 1000)
        vitals = vitals_of(encounter=encounter)
        units = note_units(complaint=encounter.chief_complaint, vitals=vitals)
        text = " ".join(units)
        started = time.perf_counter()
        esi_rules(complaint=encounter.chief_complaint, vitals=vitals)
        rules.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        clf.classify([text])
        forward.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        word_importance(clf, text, units=units)
        words.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        word_importance(clf, text)
        single_words.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        word_gradients(clf, text, units=units)
        gradients.append((time.perf_counter() - started) * 1000)

    print(f"# {args.notes} SYNTHETIC notes, torch threads {torch.get_num_threads()}, CPU")
    report("whole suggestion (triage_assess)", whole)
    report("  ESI rules", rules)
    report("  MiniLM forward (1 note)", forward)
    report("  word weights (gradient x input)", gradients)
    report("  (occlusion by unit, for comparison)", words)
    report("  (occlusion word by word, for comparison)", single_words)


if __name__ == "__main__":
    main()
