"""Load MedAssist's synthetic demo data and train the first champion.

Also writes the demo care pathways (sample content, not clinical guidance): one demo clinical
lead writes each, the other approves it; once, whatever the rest of the run does.

Writes valid DICOM files of chest-like phantoms (normal / opacity / nodule) for synthetic
patients, ingests them through the ordinary ingest service, labels the training patients with
the generator's ground truth (shown as "synthetic ground truth", never as a clinician's
review), freezes the other patients' images as the test set, and trains the first champion
from the ImageNet backbone. Running it again changes nothing once a champion exists; after
an interrupted first run it adds only the patients that are missing. With ``--queue`` the
first models train in the training worker (``manage.py serve`` does this, so the site is up
while they train). With the triage model (the full demo) it also writes SYNTHETIC diagnosed
encounters (``finetune/demo_encounters.py``) and trains the first encounter diagnosis model.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from diagnosis.medication.services import medication_knowledge_demo_ensure
from diagnosis.pathways.services import pathways_demo_ensure
from diagnosis.registry.models import Finding, ModelVersion, Task
from diagnosis.review.models import Review
from diagnosis.review.services import review_submit
from finetune.models import TrainingRun, TriageNote
from finetune.services import (
    test_set_freeze,
    training_run_execute,
    training_run_start,
    triage_notes_freeze,
)
from imaging.ingest.services import instance_ingest
from medassist.ml.synthetic import FINDINGS, dicom_bytes, synthetic_dicom
from medassist.models import Patient
from medassist.roles import Role

DEMO_PASSWORD = "medassist-demo"  # noqa: S105 - printed to the user; demo accounts only
DEMO_USERS = [
    ("doctor", Role.DOCTOR, "Dr Demo"),
    ("nurse", Role.NURSE, "Nurse Demo"),
    ("mladmin", Role.ML_ADMIN, "ML Admin Demo"),
    # Two clinical leads, because a pathway version is approved by a lead other than its author.
    ("lead", Role.CLINICAL_LEAD, "Clinical Lead Demo"),
    ("lead2", Role.CLINICAL_LEAD, "Second Clinical Lead Demo"),
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
            "--queue",
            action="store_true",
            help="Queue the first models' training for the training worker (with progress on "
            "the models page) instead of training here.",
        )
        parser.add_argument(
            "--follow",
            action="store_true",
            help="With --queue: print the first models' progress until they serve.",
        )
        parser.add_argument(
            "--encounter-dx",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="Write the SYNTHETIC diagnosed encounters and train the first encounter "
            "diagnosis champion (default: as --triage).",
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
        self._pathways()
        self._medication_knowledge()
        train = not options["no_train"]
        queue = options["queue"]
        # The full demo includes triage; a shrunken one (the tests' image fixtures) skips
        # its minutes of MiniLM training unless asked for.
        triage = options["triage"]
        if triage is None:
            triage = options["patients"] == settings.MEDASSIST_DEMO_PATIENTS
        wanted = []  # the first models to train, in order
        if ModelVersion.objects.filter(task=Task.IMAGE).exists():
            self.stdout.write("Demo data already loaded; nothing to do.")
        else:
            # Patient by patient, each in one transaction: an interrupted first start leaves
            # whole patients, and running again adds only the missing ones.
            self._load(options["patients"], options["images_per_patient"], options["seed"])
            wanted.append(Task.IMAGE)
        if triage:
            if ModelVersion.objects.filter(task=Task.TRIAGE).exists():
                self.stdout.write("Triage model already trained; nothing to do.")
            else:
                self._triage_notes()
                # Queued, the triage model goes first: once the image model serves, the
                # worker suggests for the 210 demo images (and draws their heatmaps), which
                # would share the cores with a triage run behind it.
                wanted.insert(0 if queue else len(wanted), Task.TRIAGE)
        # With the triage model, as the full demo has it; a caller that skips triage for
        # speed (the tests' fixtures, the benchmarks) skips this too unless asked for.
        encounter_dx = options["encounter_dx"]
        if encounter_dx is None:
            encounter_dx = triage
        if encounter_dx:
            if ModelVersion.objects.filter(task=Task.ENCOUNTER_DX).exists():
                self.stdout.write("Encounter diagnosis model already trained; nothing to do.")
            else:
                self._dx_encounters(options["seed"])
                # Last: the image model's findings of the demo encounters' studies are inputs.
                wanted.append(Task.ENCOUNTER_DX)
        if train:
            for task in wanted:
                if task == Task.ENCOUNTER_DX and not queue:
                    self._dx_image_findings()
                self._train(task, queue=queue)
        self.stdout.write(f"Demo accounts (password '{DEMO_PASSWORD}'):")
        for username, role in users:
            self.stdout.write(f"  {username:8s} {role}")
        if options["queue"] and options["follow"]:
            self._follow()

    def _pathways(self) -> None:
        """Write and approve the demo care pathways that are missing (none after the first)."""
        user_model = get_user_model()
        written = pathways_demo_ensure(
            author=user_model.objects.get(username="lead"),
            approver=user_model.objects.get(username="lead2"),
        )
        if written:
            self.stdout.write(
                f"Wrote {written} demo care pathways (DEMO CONTENT: sample steps, not "
                "clinical guidance), each approved by the second demo clinical lead."
            )

    def _medication_knowledge(self) -> None:
        """Write and approve the demo medication knowledge table, once."""
        user_model = get_user_model()
        written = medication_knowledge_demo_ensure(
            author=user_model.objects.get(username="lead"),
            approver=user_model.objects.get(username="lead2"),
        )
        if written:
            self.stdout.write(
                f"Wrote {written} demo medication knowledge entries (DEMO CONTENT: not "
                "clinical guidance), each approved by the second demo clinical lead."
            )

    def _follow(self) -> None:
        """Print the first models' training progress as it changes, until none is active."""
        started = time.monotonic()
        last: dict[int, str] = {}
        while True:
            runs = list(
                TrainingRun.objects.filter(trigger=TrainingRun.Trigger.BOOTSTRAP)
                .select_related("candidate")
                .order_by("pk")
            )
            for run in runs:
                if run.status == TrainingRun.Status.SUCCEEDED and run.candidate is not None:
                    line = f"ready, v{run.candidate.version} serves"
                elif not run.is_active:
                    line = f"{run.get_status_display().lower()}: {run.error or run.message}"
                else:
                    line = f"{run.get_status_display().lower()}, {run.percent}%: {run.message}"
                if last.get(run.pk) != line:
                    last[run.pk] = line
                    self.stdout.write(
                        f"First {run.get_task_display().lower()} model "
                        f"({time.monotonic() - started:.0f} s): {line}"
                    )
                    self.stdout.flush()
            if not any(run.is_active for run in runs):
                return
            time.sleep(1)

    def _load(self, n_patients: int, per_patient: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        findings = {f.code: f for f in Finding.objects.filter(code__in=FINDINGS)}
        n_test = max(1, round(n_patients * settings.MEDASSIST_DEMO_TEST_FRACTION))
        # Whole patients go to the test set, so no patient is in both training and test.
        test_patients = set(rng.choice(n_patients, size=n_test, replace=False).tolist())
        there = set(Patient.objects.filter(mrn__startswith="SYN-").values_list("mrn", flat=True))
        count = 0
        for p in range(n_patients):
            mrn = f"SYN-{p + 1:04d}"
            # Drawn whether or not the patient is there, so a rerun draws the same pixels.
            datasets = [
                synthetic_dicom(
                    finding=FINDINGS[(p * per_patient + i) % len(FINDINGS)],
                    patient_id=mrn,
                    patient_name=f"Synthetic^Patient{p + 1:02d}",
                    size=settings.MEDASSIST_DEMO_IMAGE_PIXELS,
                    rng=rng,
                    monochrome1=bool(rng.random() < 0.2),
                )
                for i in range(per_patient)
            ]
            if mrn in there:
                continue
            with transaction.atomic():
                for i, ds in enumerate(datasets):
                    # Cycle the findings so every class is in both training and test.
                    code = FINDINGS[(p * per_patient + i) % len(FINDINGS)]
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
            if (p + 1) % 10 == 0 or p + 1 == n_patients:
                self.stdout.write(f"  demo images: {p + 1} of {n_patients} synthetic patients")
                self.stdout.flush()
        self.stdout.write(
            f"Wrote {count} synthetic DICOM images for {n_patients} synthetic patients "
            f"({n_test} patients held out as the frozen test set)"
            + (f"; {len(there)} were there already." if there else ".")
        )

    def _train(self, task: str, *, queue: bool) -> None:
        """Train the first version of ``task``: here, or queued for the training worker.

        A first run interrupted here (Ctrl-C) left its run "running" with no one behind it:
        it is closed as interrupted first. A queued one already waiting or running is left to
        its worker (whose sweep resumes it if the worker was lost)."""
        active = TrainingRun.objects.filter(
            task=task,
            trigger=TrainingRun.Trigger.BOOTSTRAP,
            status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING],
        )
        name = {Task.IMAGE: "image", Task.TRIAGE: "triage"}.get(task, "encounter diagnosis")
        if queue:
            if active.exists():
                self.stdout.write(f"The first {name} model is already queued or training.")
                return
            run = training_run_start(
                task=task, trigger=TrainingRun.Trigger.BOOTSTRAP, started_by=None
            )
            self.stdout.write(
                f"The first {name} model is queued for training (run {run.pk}); its progress "
                "shows on the models page."
            )
            return
        active.update(
            status=TrainingRun.Status.FAILED,
            error="Interrupted during the first start; trained again.",
            finished_at=timezone.now(),
        )
        self.stdout.write(
            "Training the first champion from the ImageNet backbone..."
            if task == Task.IMAGE
            else f"Training the first {name} champion from all-MiniLM-L6-v2..."
        )
        run = TrainingRun.objects.create(task=task, trigger=TrainingRun.Trigger.BOOTSTRAP)
        run = training_run_execute(run_id=run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"Training the first {name} champion failed: {run.error}")
        m = run.candidate_metrics
        if task == Task.IMAGE:
            self.stdout.write(
                f"Champion image v{run.candidate.version}: accuracy {m['accuracy']:.3f}, "
                f"macro-F1 {m['macro_f1']:.3f} on {m['n']} frozen synthetic test images."
            )
        elif task == Task.ENCOUNTER_DX:
            self.stdout.write(
                f"Champion encounter diagnosis v{run.candidate.version}: top-3 recall "
                f"{m['top3_recall']:.3f}, accuracy {m['accuracy']:.3f} over "
                f"{len(run.candidate.labels)} groups on {m['n']} frozen SYNTHETIC test "
                "encounters."
            )
        else:
            self.stdout.write(
                f"Champion triage v{run.candidate.version}: accuracy {m['accuracy']:.3f}, "
                f"under-triage {m['under_triage_rate']:.1%}, over-triage "
                f"{m['over_triage_rate']:.1%} on {m['n']} frozen SYNTHETIC test notes "
                "(suggestions after the ESI rules)."
            )

    def _triage_notes(self) -> None:
        """Freeze the held-out SYNTHETIC triage test set and store the training notes, once."""
        from diagnosis.triage.synthetic import generate_notes, held_out_test_set

        if TriageNote.objects.exists():
            return
        with transaction.atomic():
            n_test = triage_notes_freeze(notes=held_out_test_set(), split=TriageNote.Split.TEST)
            n_train = settings.MEDASSIST_TRIAGE_TRAIN_NOTES
            triage_notes_freeze(notes=generate_notes(n_train, seed=0), split=TriageNote.Split.TRAIN)
        self.stdout.write(
            f"Stored {n_train} synthetic triage notes for training and froze {n_test} "
            "held-out synthetic notes as the triage test set."
        )

    def _dx_encounters(self, seed: int) -> None:
        """Write the SYNTHETIC diagnosed encounters and freeze their test set, once."""
        from finetune.demo_encounters import demo_encounters_write
        from finetune.models import EncounterTestCase
        from finetune.services import encounter_test_set_grow

        user_model = get_user_model()
        written = demo_encounters_write(
            n=settings.MEDASSIST_DEMO_ENCOUNTERS,
            nurse=user_model.objects.get(username="nurse"),
            doctor=user_model.objects.get(username="doctor"),
            seed=seed,
        )
        if written["encounters"]:
            self.stdout.write(
                f"Wrote {written['encounters']} SYNTHETIC encounters with final diagnoses for "
                f"{written['patients']} synthetic patients ({len(written['instances'])} "
                "synthetic chest images)."
            )
        if not EncounterTestCase.objects.exists():
            frozen = encounter_test_set_grow(
                fraction=settings.MEDASSIST_DEMO_TEST_FRACTION, actor=None, seed=seed
            )
            self.stdout.write(
                f"Froze {frozen} synthetic encounters (whole patients) as the encounter "
                "diagnosis test set."
            )

    def _dx_image_findings(self) -> None:
        """Let the image champion read the demo encounters' images now, so that their
        findings are inputs of the first encounter diagnosis model (a worker would do it)."""
        from diagnosis.inference.models import Suggestion
        from diagnosis.inference.services import suggestion_compute
        from finetune.demo_encounters import MRN_PREFIX
        from imaging.models import Instance

        if not ModelVersion.objects.filter(task=Task.IMAGE, status="champion").exists():
            return
        todo = (
            Instance.objects.filter(series__study__patient__mrn__startswith=MRN_PREFIX)
            .exclude(pk__in=Suggestion.objects.values("instance_id"))
            .values_list("pk", flat=True)
        )
        for pk in todo:
            suggestion_compute(instance_id=pk)
