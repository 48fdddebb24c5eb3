"""Load MedAssist's synthetic demo data and train the first champion.

Writes valid DICOM files of chest-like phantoms (normal / opacity / nodule) for synthetic
patients, ingests them through the ordinary ingest service, labels the training patients with
the generator's ground truth (shown as "synthetic ground truth", never as a clinician's
review), freezes the other patients' images as the test set, and trains the first champion
from the ImageNet backbone. Running it again changes nothing once a champion exists.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.review.models import Review
from diagnosis.review.services import review_submit
from finetune.models import TrainingRun, TriageNote
from finetune.services import (
    test_set_freeze,
    training_run_execute,
    triage_notes_freeze,
)
from imaging.ingest.services import instance_ingest
from medassist.ml.synthetic import FINDINGS, dicom_bytes, synthetic_dicom
from medassist.roles import Role

DEMO_PASSWORD = "medassist-demo"  # noqa: S105 - printed to the user; demo accounts only
DEMO_USERS = [
    ("doctor", Role.DOCTOR, "Dr Demo"),
    ("nurse", Role.NURSE, "Nurse Demo"),
    ("mladmin", Role.ML_ADMIN, "ML Admin Demo"),
    ("auditor", Role.AUDITOR, "Auditor Demo"),
]


def demo_users_ensure() -> list[tuple[str, str]]:
    """Create the demo accounts if missing; return (username, role) pairs."""
    user_model = get_user_model()
    created = []
    for username, role, full_name in DEMO_USERS:
        user, new = user_model.objects.get_or_create(
            username=username, defaults={"first_name": full_name}
        )
        if new:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(Group.objects.get(name=role))
        created.append((username, str(role)))
    return created


class Command(BaseCommand):
    help = "Create demo accounts and synthetic DICOM data, and train the first champion."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--patients", type=int, default=settings.MEDASSIST_DEMO_PATIENTS)
        parser.add_argument(
            "--images-per-patient", type=int, default=settings.MEDASSIST_DEMO_IMAGES_PER_PATIENT
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--no-train", action="store_true", help="Load the data but train no champion."
        )
        parser.add_argument(
            "--triage",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Store the synthetic triage notes and train the first triage champion "
            "(default: yes for the full-size demo, no when --patients shrinks it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Demo data and demo accounts are refused in production.")
        users = demo_users_ensure()
        if ModelVersion.objects.filter(task=Task.IMAGE).exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
        else:
            self._load(options["patients"], options["images_per_patient"], options["seed"])
            if not options["no_train"]:
                self._train()
        # The full demo includes triage; a shrunken one (the tests' image fixtures) skips
        # its minutes of MiniLM training unless asked for.
        triage = options["triage"]
        if triage is None:
            triage = options["patients"] == settings.MEDASSIST_DEMO_PATIENTS
        if triage:
            if ModelVersion.objects.filter(task=Task.TRIAGE).exists():
                self.stdout.write("Triage model already trained; nothing to do.")
            else:
                self._triage(train=not options["no_train"])
        self.stdout.write(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for username, role in users:
            self.stdout.write(f"  {username:8s} {role}")

    def _load(self, n_patients: int, per_patient: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        findings = {f.code: f for f in Finding.objects.filter(code__in=FINDINGS)}
        n_test = max(1, round(n_patients * settings.MEDASSIST_DEMO_TEST_FRACTION))
        # Whole patients go to the test set, so no patient is in both training and test.
        test_patients = set(rng.choice(n_patients, size=n_test, replace=False).tolist())
        count = 0
        for p in range(n_patients):
            for i in range(per_patient):
                # Cycle the findings so every class is in both training and test.
                code = FINDINGS[(p * per_patient + i) % len(FINDINGS)]
                ds = synthetic_dicom(
                    finding=code,
                    patient_id=f"SYN-{p + 1:04d}",
                    patient_name=f"Synthetic^Patient{p + 1:02d}",
                    size=settings.MEDASSIST_DEMO_IMAGE_PIXELS,
                    rng=rng,
                    monochrome1=bool(rng.random() < 0.2),
                )
                with transaction.atomic():
                    result = instance_ingest(data=dicom_bytes(ds), source="demo")
                    if p in test_patients:
                        test_set_freeze(instance=result.instance, finding=findings[code])
                    else:
                        review_submit(
                            instance=result.instance,
                            reviewer=None,
                            finding=findings[code],
                            comment="Synthetic ground truth from the demo generator.",
                            source=Review.Source.SYNTHETIC_TRUTH,
                        )
                count += 1
        self.stdout.write(
            f"Wrote {count} synthetic DICOM images for {n_patients} synthetic patients "
            f"({n_test} patients held out as the frozen test set)."
        )

    def _train(self) -> None:
        self.stdout.write("Training the first champion from the ImageNet backbone...")
        run = TrainingRun.objects.create(task=Task.IMAGE, trigger=TrainingRun.Trigger.BOOTSTRAP)
        run = training_run_execute(run_id=run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training the first champion failed: {run.error}")
        metrics = run.candidate_metrics
        self.stdout.write(
            f"Champion image v{run.candidate.version}: accuracy {metrics['accuracy']:.3f}, "
            f"macro-F1 {metrics['macro_f1']:.3f} on {metrics['n']} frozen synthetic test images."
        )

    def _triage(self, *, train: bool) -> None:
        """Freeze the held-out SYNTHETIC triage test set, store training notes, train v1."""
        from diagnosis.triage.synthetic import generate_notes, held_out_test_set

        if not TriageNote.objects.exists():
            n_test = triage_notes_freeze(notes=held_out_test_set(), split=TriageNote.Split.TEST)
            n_train = settings.MEDASSIST_TRIAGE_TRAIN_NOTES
            triage_notes_freeze(notes=generate_notes(n_train, seed=0), split=TriageNote.Split.TRAIN)
            self.stdout.write(
                f"Stored {n_train} synthetic triage notes for training and froze {n_test} "
                "held-out synthetic notes as the triage test set."
            )
        if not train:
            return
        self.stdout.write("Training the first triage champion from all-MiniLM-L6-v2...")
        run = TrainingRun.objects.create(task=Task.TRIAGE, trigger=TrainingRun.Trigger.BOOTSTRAP)
        run = training_run_execute(run_id=run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training the first triage champion failed: {run.error}")
        m = run.candidate_metrics
        self.stdout.write(
            f"Champion triage v{run.candidate.version}: accuracy {m['accuracy']:.3f}, "
            f"under-triage {m['under_triage_rate']:.1%}, over-triage {m['over_triage_rate']:.1%} "
            f"on {m['n']} frozen SYNTHETIC test notes (suggestions after the ESI rules)."
        )
