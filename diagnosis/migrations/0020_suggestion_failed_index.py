"""A partial index of the suggestions inference gave up on, newest first (the ML admin's list).

Built ``CONCURRENTLY`` on PostgreSQL (outside a transaction), so suggestions keep being
written while it builds; SQLite builds it the ordinary way.
"""

from django.db import migrations, models

from medassist.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("diagnosis", "0019_medication_safety")]

    operations = [
        AddIndexConcurrently(
            model_name="suggestion",
            index=models.Index(
                fields=["-created_at", "-id"],
                name="suggestion_failed_recent",
                condition=models.Q(status="failed"),
            ),
        ),
    ]
