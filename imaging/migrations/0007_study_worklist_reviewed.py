"""A partial index in the worklist's order for the reviewed view (single reading).

The page's count of reviewed studies (capped at ``MEDASSIST_WORKLIST_COUNT_CAP``) walked
``study_worklist_order`` past every unread study first: 383,000 of them at 10^6 studies,
275 ms on every load. Built ``CONCURRENTLY`` on PostgreSQL, as in ``0006``.
"""

from django.db import migrations, models

from medassist.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("imaging", "0006_study_qido_indexes")]

    operations = [
        AddIndexConcurrently(
            model_name="study",
            index=models.Index(
                fields=["-worklist_priority", "created_at", "id"],
                name="study_worklist_reviewed",
                condition=models.Q(unread=False, in_adjudication=False),
            ),
        ),
    ]
