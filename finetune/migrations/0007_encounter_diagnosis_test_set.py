"""The encounter diagnosis task: its frozen, patient-disjoint test set of encounters."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TASKS = [
    ("image", "Image finding"),
    ("triage", "Triage"),
    ("encounter_dx", "Encounter diagnosis"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("diagnosis", "0021_encounter_diagnosis_model"),
        ("finetune", "0006_training_run_resumes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="testsetcase",
            name="task",
            field=models.CharField(choices=TASKS, default="image", max_length=16),
        ),
        migrations.AlterField(
            model_name="trainingrun",
            name="task",
            field=models.CharField(choices=TASKS, default="image", max_length=16),
        ),
        migrations.CreateModel(
            name="EncounterTestCase",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("frozen_at", models.DateTimeField(auto_now_add=True)),
                ("batch", models.UUIDField(blank=True, db_index=True, null=True)),
                (
                    "encounter",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="diagnosis.encounter",
                    ),
                ),
                (
                    "frozen_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
