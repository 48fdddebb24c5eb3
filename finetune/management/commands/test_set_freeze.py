"""Grow the frozen image test set from reviewed cases: ``manage.py test_set_freeze``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from diagnosis.registry.models import Task
from finetune.services import test_set_grow


class Command(BaseCommand):
    help = (
        "Freeze up to N more reviewed cases per finding into the image test set (stratified, "
        "real before synthetic, patient-disjoint from training). Audited as test_set.grow. "
        "The test set never shrinks."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--per-finding", type=int, required=True, metavar="N")
        parser.add_argument(
            "--seed", type=int, default=None, help="The same seed picks the same cases."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Print the plan; freeze nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["per_finding"] < 1:
            raise CommandError("--per-finding must be 1 or more.")
        plan = test_set_grow(
            task=Task.IMAGE,
            per_finding=options["per_finding"],
            seed=options["seed"],
            actor=None,
            dry_run=options["dry_run"],
        )
        self.stdout.write(f"{'finding':<24} {'cases':>6} {'real':>6} {'synth':>6} {'patients':>8}")
        for f in plan.findings:
            self.stdout.write(
                f"{f.code:<24} {f.cases:>6} {f.real:>6} {f.synthetic:>6} {f.patients:>8}"
            )
        summary = (
            f"{plan.cases} cases ({plan.real} real, {plan.synthetic} synthetic) of "
            f"{plan.patients} patients, {plan.new_patients} new to the test set; "
            f"{plan.withheld_from_training} other labelled cases of the new patients leave "
            f"training. Seed {plan.seed}."
        )
        if plan.dry_run:
            self.stdout.write(f"Dry run, nothing frozen: would freeze {summary}")
        else:
            self.stdout.write(self.style.SUCCESS(f"Froze {summary} Batch {plan.batch}."))
