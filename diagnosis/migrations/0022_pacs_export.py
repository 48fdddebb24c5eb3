"""Results back to the PACS: one PacsExport row per Structured Report to send (diagnosis/pacs)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("diagnosis", "0021_encounter_diagnosis_model"),
        ("imaging", "0006_study_qido_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PacsExport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "trigger",
                    models.CharField(
                        choices=[
                            ("auto", "Sent automatically on the final review"),
                            ("manual", "Sent by the doctor"),
                        ],
                        max_length=16,
                    ),
                ),
                ("sr_sop_instance_uid", models.CharField(max_length=64, unique=True)),
                ("sr_series_instance_uid", models.CharField(max_length=64)),
                ("sc_sop_instance_uid", models.CharField(blank=True, max_length=64)),
                ("sc_series_instance_uid", models.CharField(blank=True, max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("failed", "Failed"),
                            ("replaced", "Replaced by an amended review before it was sent"),
                        ],
                        default="queued",
                        max_length=16,
                    ),
                ),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("destination", models.CharField(blank=True, max_length=200)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "instance",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="imaging.instance",
                    ),
                ),
                (
                    "replaces",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="replaced_by",
                        to="diagnosis.pacsexport",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "review",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pacs_export",
                        to="diagnosis.review",
                    ),
                ),
                (
                    "study",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="imaging.study",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["instance", "-id"], name="pacs_export_instance"),
                    models.Index(
                        condition=models.Q(("status__in", ["queued", "sending", "failed"])),
                        fields=["status", "next_attempt_at"],
                        name="pacs_export_waiting",
                    ),
                ],
            },
        ),
    ]
