"""Indexes for QIDO-RS searches by accession number and by study date.

Built ``CONCURRENTLY`` on PostgreSQL (outside a transaction), so ingest keeps filing studies
while they build; SQLite builds them the ordinary way. A build that fails half-way leaves an
INVALID index: drop it (``DROP INDEX CONCURRENTLY study_accession``) and migrate again.
"""

from django.db import migrations, models

from medassist.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("imaging", "0005_non_image_instance")]

    operations = [
        AddIndexConcurrently(
            model_name="study",
            index=models.Index(fields=["accession_number"], name="study_accession"),
        ),
        AddIndexConcurrently(
            model_name="study",
            index=models.Index(fields=["study_date", "id"], name="study_date_id"),
        ),
    ]
