"""Fill the worklist state the studies now carry (imaging 0004) from the reading states and
the stored urgency, as the services keep it from now on."""

from django.db import migrations
from django.db.models import Exists, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def fill(apps, schema_editor):
    Study = apps.get_model("imaging", "Study")
    Instance = apps.get_model("imaging", "Instance")
    ReadingState = apps.get_model("diagnosis", "ReadingState")
    StudyUrgency = apps.get_model("diagnosis", "StudyUrgency")
    of_study = ReadingState.objects.filter(instance__series__study_id=OuterRef("pk"))
    Study.objects.update(
        worklist_priority=Coalesce(
            Subquery(StudyUrgency.objects.filter(study_id=OuterRef("pk")).values("priority")[:1]),
            Value(0.0),
        ),
        unread=Exists(
            Instance.objects.filter(series__study_id=OuterRef("pk")).exclude(
                Exists(ReadingState.objects.filter(instance_id=OuterRef("pk")))
            )
        ),
        second_read_pending=Exists(of_study.filter(status="one_read")),
        in_adjudication=Exists(of_study.filter(status="adjudication")),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("diagnosis", "0014_care_pathways"),
        ("imaging", "0004_study_worklist_state"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
