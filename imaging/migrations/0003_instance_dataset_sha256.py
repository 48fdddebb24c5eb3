"""Instance.dataset_sha256: the image's identity without its preamble and file meta group.

No data migration: filling it for the rows already stored would read every stored file at
upgrade time (hours on a large archive, with the table locked or half-filled). Rows stored
before it exist keep it blank, and ingest computes and records it the first time a copy
with the same SOP Instance UID arrives (imaging/ingest/identity.py), which is the only time
it is needed. Adding a column with a constant default is instant on PostgreSQL 11+.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("imaging", "0002_ingest_conflict"),
    ]

    operations = [
        migrations.AddField(
            model_name="instance",
            name="dataset_sha256",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
    ]
