"""A partial index of the suggestions inference gave up on, newest first (the ML admin's list).

Built ``CONCURRENTLY`` on PostgreSQL (outside a transaction), so suggestions keep being
written while it builds; SQLite builds it the ordinary way.
"""

from django.db import migrations, models


class AddIndexConcurrently(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL and the ordinary way elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)


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
