"""The doctor's disposition: recorded, audited, and the triage task's best label."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from diagnosis.encounters.models import Disposition
from diagnosis.encounters.services import disposition_record
from diagnosis.registry.models import ModelVersion
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.selectors import triage_labels
from diagnosis.triage.services import encounter_intake, triage_confirm
from finetune.adapters import TriageAdapter
from finetune.models import TrainingRun
from finetune.services import training_run_start_if_new_labels
from medassist.models import AuditEvent
from tests.diagnosis.triage.helpers import triage_champion_answering

pytestmark = pytest.mark.django_db


def _confirmed(nurse: User, *, mrn: str, complaint: str, level: int) -> TriageAssessment:
    assessment = _assessed(nurse, mrn=mrn, complaint=complaint)
    reason = "" if level == assessment.suggested_level else "seen many of these"
    return triage_confirm(assessment=assessment, level=level, reason=reason, actor=nurse)


def _assessed(nurse: User, *, mrn: str, complaint: str) -> TriageAssessment:
    return encounter_intake(
        mrn=mrn,
        name="Synthetic Disposition",
        birth_date=None,
        sex="F",
        age_years=Decimal("45"),
        chief_complaint=complaint,
        heart_rate=90,
        respiratory_rate=16,
        spo2=98,
        systolic_bp=125,
        diastolic_bp=80,
        temperature_c=Decimal("37.0"),
        temperature_unit="C",
        pain=2,
        mental_status="A",
        gcs=None,
        arrival_mode="walk_in",
        actor=nurse,
    )


def test_a_disposition_is_recorded_audited_and_a_second_one_supersedes(
    nurse: User, doctor: User
) -> None:
    encounter = _confirmed(nurse, mrn="DISP-1", complaint="abd pain, vomiting", level=3).encounter
    first = disposition_record(
        encounter=encounter, doctor=doctor, outcome="admitted_ward", esi_in_hindsight=3
    )
    second = disposition_record(
        encounter=encounter,
        doctor=doctor,
        outcome="theatre",
        esi_in_hindsight=2,
        note="Perforated appendix found on CT",
    )
    first.refresh_from_db()
    assert second.supersedes == first and first.outcome == "admitted_ward"  # kept as it was
    events = AuditEvent.objects.filter(action="disposition.record").order_by("pk")
    assert [e.detail["outcome"] for e in events] == ["admitted_ward", "theatre"]
    assert events.last().detail["esi_in_hindsight"] == 2


@pytest.mark.parametrize(
    ("outcome", "level", "note", "message"),
    [
        ("", 3, "", "Choose where the patient went"),
        ("home", 3, "", "Choose where the patient went"),
        ("discharged", 0, "", r"1 \(most acute\) to 5"),
        ("discharged", 6, "", r"1 \(most acute\) to 5"),
        ("critical_care", 5, "", "add a note saying why"),
        ("died", 4, "  ", "add a note saying why"),
    ],
)
def test_bad_dispositions_are_refused_with_a_message_and_nothing_is_stored(
    nurse: User, doctor: User, outcome: str, level: int, note: str, message: str
) -> None:
    encounter = _confirmed(nurse, mrn="DISP-2", complaint="sore throat", level=5).encounter
    with pytest.raises(ValidationError, match=message):
        disposition_record(
            encounter=encounter,
            doctor=doctor,
            outcome=outcome,
            esi_in_hindsight=level,
            note=note,
        )
    assert not Disposition.objects.exists()


def test_an_unusual_level_with_a_note_and_an_unjudged_level_are_accepted(
    nurse: User, doctor: User
) -> None:
    encounter = _confirmed(nurse, mrn="DISP-3", complaint="wrist pain", level=4).encounter
    kept = disposition_record(
        encounter=encounter,
        doctor=doctor,
        outcome="theatre",
        esi_in_hindsight=4,
        note="Elective washout of a wrist wound, booked from the department",
    )
    assert kept.esi_in_hindsight == 4
    left = disposition_record(
        encounter=encounter, doctor=doctor, outcome="left", esi_in_hindsight=None
    )
    assert left.esi_in_hindsight is None


def test_the_doctors_level_in_hindsight_outranks_the_nurses_as_the_training_label(
    nurse: User, doctor: User
) -> None:
    chest = _confirmed(nurse, mrn="DISP-4", complaint="indigestion after dinner", level=4)
    ankle = _confirmed(nurse, mrn="DISP-5", complaint="ankle sprain, walking", level=5)
    left = _confirmed(nurse, mrn="DISP-6", complaint="back pain", level=4)
    disposition_record(
        encounter=chest.encounter,
        doctor=doctor,
        outcome="theatre",
        esi_in_hindsight=2,
        note="Inferior STEMI on the ECG: cath lab",
    )
    disposition_record(
        encounter=left.encounter, doctor=doctor, outcome="left", esi_in_hindsight=None
    )

    assert triage_labels() == {
        chest.encounter_id: (2, "disposition"),
        ankle.encounter_id: (5, "nurse"),
        left.encounter_id: (4, "nurse"),  # the doctor could not judge: the nurse's stands
    }
    data = TriageAdapter().training_data()
    by_text = dict(zip(data.texts, data.labels, strict=True))
    assert by_text[next(t for t in by_text if "indigestion" in t)] == "2"
    assert by_text[next(t for t in by_text if "ankle" in t)] == "5"
    assert data.max_disposition_id == Disposition.objects.latest("pk").pk


def test_a_new_disposition_alone_is_a_new_label_for_scheduled_retraining(
    nurse: User, doctor: User, settings, django_capture_on_commit_callbacks
) -> None:
    assessment = _confirmed(nurse, mrn="DISP-7", complaint="headache", level=4)
    champion = triage_champion_answering(4)
    ModelVersion.objects.filter(pk=champion.pk).update(
        trained_through_review_id=assessment.pk,
        trained_through_disposition_id=0,
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert training_run_start_if_new_labels(task="triage") is None  # nothing new yet
        # "Cannot judge" gives no label: no retraining for it.
        disposition_record(
            encounter=assessment.encounter, doctor=doctor, outcome="left", esi_in_hindsight=None
        )
        assert training_run_start_if_new_labels(task="triage") is None
        disposition_record(
            encounter=assessment.encounter,
            doctor=doctor,
            outcome="admitted_ward",
            esi_in_hindsight=3,
        )
        run = training_run_start_if_new_labels(task="triage")
    assert run is not None and run.task == "triage"
    assert run.trigger == TrainingRun.Trigger.SCHEDULE


def test_taking_a_level_back_is_a_new_label_too(nurse: User, doctor: User) -> None:
    assessment = _confirmed(nurse, mrn="DISP-11", complaint="dizzy", level=3)
    given = disposition_record(
        encounter=assessment.encounter, doctor=doctor, outcome="admitted_ward", esi_in_hindsight=2
    )
    champion = triage_champion_answering(3)
    ModelVersion.objects.filter(pk=champion.pk).update(
        trained_through_review_id=assessment.pk, trained_through_disposition_id=given.pk
    )
    disposition_record(
        encounter=assessment.encounter, doctor=doctor, outcome="left", esi_in_hindsight=None
    )
    # The label fell back to the nurse's 3: the champion learnt 2 for this note.
    assert triage_labels()[assessment.encounter_id] == (3, "nurse")
    assert training_run_start_if_new_labels(task="triage") is not None


def test_the_doctor_records_a_disposition_on_the_encounter_page(
    client: Client, nurse: User, doctor: User
) -> None:
    encounter = _confirmed(nurse, mrn="DISP-8", complaint="fall, hip pain", level=3).encounter
    page = reverse("diagnosis:final-diagnosis", args=[encounter.pk])
    client.force_login(doctor)
    shown = client.get(page).content.decode()
    assert "The nurse confirmed <strong>ESI 3</strong>" in shown
    assert 'value="3" checked' in shown  # prefilled with the nurse's level

    url = reverse("diagnosis:disposition", args=[encounter.pk])
    refused = client.post(
        url, {"outcome": "critical_care", "esi_in_hindsight": "5", "disposition_note": ""}
    )
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "add a note saying why" in body
    assert 'value="critical_care" selected' in body and 'value="5" checked' in body
    assert not Disposition.objects.exists()

    saved = client.post(
        url, {"outcome": "admitted_ward", "esi_in_hindsight": "2", "disposition_note": ""}
    )
    assert saved.status_code == 302
    after = client.get(page).content.decode()
    assert "Disposition saved: Admitted to a ward, ESI 2 in hindsight." in after
    assert "No disposition yet." not in after

    client.force_login(nurse)
    assert client.post(url, {"outcome": "discharged", "esi_in_hindsight": "5"}).status_code == 403
    assert Disposition.objects.count() == 1


def test_a_patient_with_a_disposition_leaves_the_triage_board(nurse: User, doctor: User) -> None:
    from diagnosis.triage.selectors import triage_board

    gone = _confirmed(nurse, mrn="DISP-9", complaint="cut finger", level=5).encounter
    waiting = _confirmed(nurse, mrn="DISP-10", complaint="cut hand", level=5).encounter
    assert {r.encounter.pk for r in triage_board()} == {gone.pk, waiting.pk}
    disposition_record(encounter=gone, doctor=doctor, outcome="discharged", esi_in_hindsight=5)
    assert [r.encounter.pk for r in triage_board()] == [waiting.pk]


def test_too_few_held_back_notes_are_not_used_to_calibrate(settings) -> None:
    from finetune.adapters import TriageSet

    data = TriageSet(
        texts=[f"note {i}" for i in range(40)],
        labels=["3"] * 40,
        cases=[("", None)] * 40,  # type: ignore[list-item]
        groups=[f"note-{i}" for i in range(40)],
    )
    fit, held = data.split(fraction=0.2, seed=0, min_held=30)
    assert (fit.n, held.n) == (40, 0)  # 8 would be held back: too few, all train
    fit, held = data.split(fraction=0.2, seed=0, min_held=8)
    assert (fit.n, held.n) == (32, 8)
    assert not set(fit.groups) & set(held.groups)


def test_a_level_confirmed_after_training_on_an_older_assessment_is_a_new_label(
    nurse: User, django_capture_on_commit_callbacks
) -> None:
    from django.utils import timezone

    waiting = _assessed(nurse, mrn="DISP-12", complaint="wrist pain after a fall")
    champion = triage_champion_answering(4)
    # The champion was trained after this assessment was made, before it was confirmed.
    ModelVersion.objects.filter(pk=champion.pk).update(
        trained_through_review_id=waiting.pk,
        training_summary={"labels_read_at": timezone.now().isoformat()},
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert training_run_start_if_new_labels(task="triage") is None
        triage_confirm(assessment=waiting, level=4, reason="x-ray needed", actor=nurse)
        assert training_run_start_if_new_labels(task="triage") is not None
