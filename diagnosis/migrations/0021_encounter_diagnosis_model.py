"""Reserved for the encounter diagnosis model's schema (kept so the migration graph stays linear)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("diagnosis", "0020_suggestion_failed_index")]

    operations = []
