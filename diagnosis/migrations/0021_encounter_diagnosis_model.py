"""The encounter diagnosis model: a third model task in the registry, and the suggestions it
stores per encounter (decision support; never edited)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("diagnosis", "0020_suggestion_failed_index")]

    operations = [
        migrations.AlterField(
            model_name="modelversion",
            name="task",
            field=models.CharField(
                choices=[
                    ("image", "Image finding"),
                    ("triage", "Triage"),
                    ("encounter_dx", "Encounter diagnosis"),
                ],
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="EncounterDiagnosisSuggestion",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[("ok", "OK"), ("failed", "Failed")], default="ok", max_length=16
                    ),
                ),
                ("ranked", models.JSONField(default=list)),
                ("contributions", models.JSONField(default=list)),
                ("inputs", models.JSONField(default=dict)),
                ("input_sha256", models.CharField(max_length=64)),
                ("weights_sha256", models.CharField(default="", max_length=64)),
                ("code_version", models.CharField(default="", max_length=64)),
                ("device", models.CharField(default="", max_length=100)),
                ("latency_ms", models.FloatField(default=0.0)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "encounter",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="diagnosis_suggestions",
                        to="diagnosis.encounter",
                    ),
                ),
                (
                    "model_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="diagnosis.modelversion",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("encounter", "model_version", "input_sha256"),
                        name="one_dx_suggestion_per_encounter_version_inputs",
                    )
                ],
            },
        ),
    ]
