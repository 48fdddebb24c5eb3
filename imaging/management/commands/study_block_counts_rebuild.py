"""``manage.py study_block_counts_rebuild``: count the studies per block of ids again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from imaging.dicomweb.services import study_block_counts_rebuild


class Command(BaseCommand):
    help = (
        "Count the studies of every block of ids again (PostgreSQL), for QIDO-RS searches "
        "with a deep offset. The database keeps the counts by itself; run this after a "
        "restore of data only, or if the counts were emptied by hand."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counted = study_block_counts_rebuild()
        self.stdout.write(f"{counted} studies counted in their blocks of ids.")
