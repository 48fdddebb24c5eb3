"""Indexes for the audit log's reads: newest first by ``(at, id)``, each filter ending in it.

The audit table takes an insert on nearly every request, and a large hospital's holds tens
of millions of rows: building an index the ordinary way would block those inserts (so the
requests that write them) for as long as the build takes. On PostgreSQL the new indexes are
therefore built ``CONCURRENTLY``, outside a transaction, and only then are the two indexes
they replace dropped (``at`` alone, ``actor`` alone), so every read keeps an index
throughout. SQLite builds them the ordinary way.

A build that fails half-way on PostgreSQL leaves an INVALID index; ``IF NOT EXISTS`` is not
used, so running the migration again stops on it: drop it (``DROP INDEX CONCURRENTLY
audit_at_id``) and migrate again.
"""

import django.db.models.deletion
import django.db.models.fields.json
from django.conf import settings
from django.db import migrations, models

from medassist.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("medassist", "0002_audit_chain"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["at", "id"], name="audit_at_id"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["actor", "at", "id"], name="audit_actor_at"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["object_type", "at", "id"], name="audit_object_type_at"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ),
        AddIndexConcurrently(
            model_name="auditevent",
            index=models.Index(
                django.db.models.fields.json.KeyTextTransform("mrn", "detail"),
                condition=models.Q(("detail__has_key", "mrn")),
                name="audit_detail_mrn",
            ),
        ),
        # The indexes the new ones make redundant.
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(auto_now_add=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
