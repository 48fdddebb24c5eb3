"""Indexes for QIDO-RS searches by accession number and by study date.

Built ``CONCURRENTLY`` on PostgreSQL (outside a transaction), so ingest keeps filing studies
while they build; SQLite builds them the ordinary way. A build that fails half-way leaves an
INVALID index: drop it (``DROP INDEX CONCURRENTLY study_accession``) and migrate again.
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
