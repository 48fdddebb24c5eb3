"""Migration operations the apps share."""

from django.db import migrations


class AddIndexConcurrently(migrations.AddIndex):
    """AddIndex, built ``CONCURRENTLY`` on PostgreSQL (writes to the table go on while it
    builds; the migration must be ``atomic = False``) and the ordinary way elsewhere.

    A build that fails half-way leaves an INVALID index: drop it (``DROP INDEX CONCURRENTLY
    <name>``) and migrate again.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):  # type: ignore[no-untyped-def]
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)
