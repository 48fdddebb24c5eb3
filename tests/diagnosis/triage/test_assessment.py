"""The ESI assessment through the service: rules above the model, the nurse's decision, provenance.

The text model is real (all-MiniLM-L6-v2 with a head biased towards a chosen level), so
these tests show what a nurse would see for each answer the model could give.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection

from diagnosis.encounters.models import Encounter
from diagnosis.triage.models import TriageAssessment
from diagnosis.triage.services import (
    assessment_words,
    encounter_intake,
    triage_assess,
    triage_confirm,
)
from medassist.models import AuditEvent
from tests.diagnosis.triage.helpers import triage_champion_answering

pytestmark = pytest.mark.django_db

NOTE = {
    "mrn": "TRI-1",
    "name": "Test Patient",
    "birth_date": None,
    "sex": "M",
    "age_years": Decimal("67"),
    "heart_rate": 88,
    "respiratory_rate": 16,
    "spo2": 97,
    "systolic_bp": 130,
    "diastolic_bp": 80,
    "temperature_c": Decimal("37.2"),
    "temperature_unit": "C",
    "pain": 4,
    "mental_status": "A",
    "gcs": None,
    "arrival_mode": "walk_in",
}


def _intake(nurse: User, **changes: object) -> TriageAssessment:
    fields = {**NOTE, "chief_complaint": "ankle sprain, walking", **changes}
    return encounter_intake(**fields, actor=nurse)  # type: ignore[arg-type]


# Both kinds of triage model (MEDASSIST_TRIAGE_MODEL).
KINDS = ["fine-tuned", "frozen-encoder"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model_level", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(
    ("complaint", "changes", "floor"),
    [
        ("unresponsive, not breathing", {"mental_status": "U"}, 1),
        ("67 y/o M c/o CP radiating to L arm", {}, 2),
    ],
)
def test_no_model_answer_makes_a_rule_mandated_level_less_acute(
    nurse: User,
    tiny: dict[str, int],
    model_level: int,
    complaint: str,
    changes: dict[str, object],
    floor: int,
    kind: str,
) -> None:
    triage_champion_answering(model_level, kind=kind)

    assessment = _intake(nurse, chief_complaint=complaint, **changes)

    assert assessment.model_level == model_level  # the model really said it
    assert assessment.rules_floor == floor
    assert assessment.suggested_level == min(model_level, floor)
    assert assessment.suggested_level <= floor
    assert any(rule["mandatory"] and rule["level"] == floor for rule in assessment.rules_fired)


def test_without_a_triage_model_the_rules_still_suggest_and_say_so(nurse: User) -> None:
    assessment = _intake(nurse, chief_complaint="67 y/o M c/o CP radiating to L arm")

    assert assessment.model_version is None
    assert assessment.suggested_level == 2
    assert "No triage model yet" in assessment.explanation
    assert assessment.needs_attention
    assert assessment.model_probabilities == {}


@pytest.mark.parametrize("kind", KINDS)
def test_the_assessment_records_what_produced_it(
    nurse: User, tiny: dict[str, int], kind: str
) -> None:
    version = triage_champion_answering(4, kind=kind)

    assessment = _intake(nurse, chief_complaint="ankle sprain, walking")

    assert assessment.model_version == version
    assert assessment.weights_sha256 == version.weights_sha256
    assert assessment.input_text.startswith("ankle sprain, walking HR 88")
    assert assessment.input_sha256 == hashlib.sha256(assessment.input_text.encode()).hexdigest()
    assert assessment.code_version and assessment.device.startswith("cpu")
    assert assessment.latency_ms > 0
    assert sum(assessment.model_probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert AuditEvent.objects.filter(action="triage.assess", object_id=str(assessment.pk)).exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_words_that_weighed_come_after_the_suggestion_and_stay_the_same(
    nurse: User, tiny: dict[str, int], kind: str
) -> None:
    triage_champion_answering(4, kind=kind)
    assessment = _intake(nurse, chief_complaint="ankle sprain, walking")
    # The suggestion is stored without them: the nurse's request does not wait for them.
    assert assessment.top_words == []

    words = assessment_words(assessment=assessment)

    assert 0 < len(words) <= 8
    assert all(word in assessment.input_text for word, _ in words)  # words of the note
    assessment.refresh_from_db()
    assert [tuple(wv) for wv in assessment.top_words] == words
    assert assessment.suggested_level == 4  # filling them changed nothing else
    assert assessment_words(assessment=assessment) == words  # computed once, then read


def test_an_unsure_model_marks_the_suggestion_for_attention(
    nurse: User, tiny: dict[str, int], settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_ATTENTION_MARGIN = 0.2
    triage_champion_answering(4, strength=0.05)  # nearly uniform: top two close together

    assessment = _intake(nurse)

    assert assessment.needs_attention
    assert "unsure" in assessment.attention_reason


def test_an_override_without_a_reason_is_refused_with_a_message(nurse: User) -> None:
    assessment = _intake(nurse, chief_complaint="67 y/o M c/o CP radiating to L arm")

    with pytest.raises(ValidationError) as refused:
        triage_confirm(assessment=assessment, level=3, reason="  ", actor=nurse)

    assert "instead of the suggested ESI 2: say why" in str(refused.value)
    assessment.refresh_from_db()
    assert assessment.confirmed_level is None


def test_an_override_with_a_reason_is_kept_beside_the_suggestion(nurse: User) -> None:
    assessment = _intake(nurse, chief_complaint="67 y/o M c/o CP radiating to L arm")

    saved = triage_confirm(
        assessment=assessment, level=1, reason="Grey and sweating at the door", actor=nurse
    )

    assert (saved.suggested_level, saved.confirmed_level) == (2, 1)
    assert saved.override_reason == "Grey and sweating at the door"
    assert saved.confirmed_by == nurse and saved.confirmed_at is not None
    assert AuditEvent.objects.filter(action="triage.override", object_id=str(saved.pk)).exists()


def test_confirming_the_suggestion_needs_no_reason(nurse: User) -> None:
    assessment = _intake(nurse, chief_complaint="67 y/o M c/o CP radiating to L arm")

    saved = triage_confirm(assessment=assessment, level=2, reason="", actor=nurse)

    assert saved.pk == assessment.pk and saved.confirmed_level == 2


def test_a_second_decision_supersedes_and_the_first_stays_on_record(nurse: User) -> None:
    first = triage_confirm(
        assessment=_intake(nurse, chief_complaint="67 y/o M c/o CP radiating to L arm"),
        level=2,
        reason="",
        actor=nurse,
    )

    second = triage_confirm(assessment=first, level=1, reason="Now hypotensive", actor=nurse)

    first.refresh_from_db()
    assert first.confirmed_level == 2  # not overwritten
    assert second.supersedes == first and second.confirmed_level == 1
    with pytest.raises(ValidationError, match="replaced by a newer one"):
        triage_confirm(assessment=first, level=3, reason="stale page", actor=nurse)


def test_reassessing_an_encounter_keeps_the_earlier_assessment(nurse: User) -> None:
    first = _intake(nurse)
    encounter = Encounter.objects.get(pk=first.encounter_id)

    second = triage_assess(encounter=encounter, actor=nurse)

    assert second.supersedes == first
    assert TriageAssessment.objects.filter(encounter=encounter).count() == 2


def test_an_infant_age_from_the_birth_date_uses_the_infant_danger_zone(nurse: User) -> None:
    import datetime as dt

    from django.utils import timezone

    birth = timezone.localdate() - dt.timedelta(days=300)  # about 10 months
    assessment = _intake(
        nurse,
        birth_date=birth,
        age_years=None,
        heart_rate=170,
        chief_complaint="fussy, feeding less",
    )

    encounter = assessment.encounter
    assert Decimal("0.7") < encounter.age_years < Decimal("0.9")
    assert assessment.suggested_level == 2  # HR 170 is above 160 for 3 months to 3 years
    assert any(rule["decision_point"] == "D" for rule in assessment.rules_fired)


def test_a_situation_only_its_meaning_reveals_raises_the_suggestion(
    nurse: User, tiny: dict[str, int]
) -> None:
    """The real pretrained encoder: a concept's own description that its word lists do not
    catch is still a high-risk situation, and the reason quotes what read like it."""
    from diagnosis.triage.concepts import CONCEPTS
    from diagnosis.triage.meaning import similar_concepts
    from diagnosis.triage.rules import Vitals, esi_rules

    adult = Vitals(
        age_years=40, heart_rate=80, respiratory_rate=16, spo2=98, systolic_bp=125,
        diastolic_bp=80, temperature_c=37.0, pain=2, avpu="A",
    )  # fmt: skip
    by_meaning_only = (
        (concept, text)
        for concept in CONCEPTS
        if concept.level == 2
        for text in concept.descriptions
        if not esi_rules(complaint=text, vitals=adult).floor
        and concept.code in similar_concepts(text)
    )
    found = next(by_meaning_only, None)  # the first will do
    assert found, "every description is caught by the lists: pick another case"
    concept, text = found
    triage_champion_answering(5)

    assessment = _intake(nurse, chief_complaint=text)

    assert assessment.model_level == 5
    assert assessment.suggested_level == 2
    fired = next(r for r in assessment.rules_fired if r["code"] == concept.code)
    assert "reads like it" in fired["reason"]


# --- The intake: the suggestion first, then one transaction ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_intake_suggests_before_writing_and_stores_everything_together(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model runs outside any transaction, before a row is written; the patient, the
    encounter, its first vital signs and the suggestion on them are then stored together."""
    from diagnosis.triage import services

    triage_champion_answering(4)
    seen: list[tuple[bool, int]] = []
    real_opinion = services.model_opinion

    def watched(**kwargs: object) -> services.ModelOpinion:
        seen.append((connection.in_atomic_block, Encounter.objects.count()))
        return real_opinion(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(services, "model_opinion", watched)

    assessment = _intake(nurse, chief_complaint="ankle sprain, walking")

    assert seen == [(False, 0)], "the model ran before anything was written, in no transaction"
    encounter = Encounter.objects.get()
    assert assessment.vitals == encounter.vital_signs.get(), "read on the first measurement"
    assert assessment.supersedes is None and assessment.model_level == 4
    assert encounter.esi_level == assessment.suggested_level
    assert AuditEvent.objects.filter(action="triage.assess", object_id=str(assessment.pk)).exists()


@pytest.mark.django_db(transaction=True)
def test_the_intake_writes_each_row_once_and_its_audit_events_in_one_insert(
    nurse: User,
) -> None:
    """What the nurse waits for past the model is round trips: the encounter is inserted
    with its suggested level (no UPDATE after), and the patient's, the encounter's and the
    assessment's audit events go in one INSERT, inside the transaction that stores them."""
    from django.test.utils import CaptureQueriesContext

    triage_champion_answering(4)
    before = AuditEvent.objects.count()  # the champion's promotion
    with CaptureQueriesContext(connection) as queries:
        assessment = _intake(nurse, chief_complaint="ankle sprain, walking")

    sql = [q["sql"] for q in queries.captured_queries]
    writes = [s.split("(")[0].strip() for s in sql if s.startswith(("INSERT", "UPDATE"))]
    assert writes == [
        'INSERT INTO "medassist_patient"',
        'INSERT INTO "diagnosis_encounter"',
        'INSERT INTO "diagnosis_vitalsigns"',
        'INSERT INTO "diagnosis_triageassessment"',
        'INSERT INTO "medassist_auditevent"',
    ], writes
    if connection.vendor == "postgresql":  # SQLite's driver shows no BEGIN/COMMIT
        audit_at = next(i for i, s in enumerate(sql) if "medassist_auditevent" in s)
        assert sql.index("BEGIN") < audit_at < sql.index("COMMIT")
    encounter = Encounter.objects.get()
    assert encounter.esi_level == assessment.suggested_level and not encounter.esi_confirmed
    events = AuditEvent.objects.order_by("pk")[before:]
    assert [e.action for e in events] == ["patient.register", "encounter.open", "triage.assess"]
    assert events[2].object_id == str(assessment.pk)
    assert events[1].detail["vitals"] == assessment.vitals_id


def test_a_suggestion_that_fails_leaves_the_encounter_on_record(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A model that fails on a note cannot be made to order with real weights: its answer is
    # replaced by an error here (a mock), and the intake's own rows are real.
    from diagnosis.triage import services

    triage_champion_answering(4)

    def fails(**kwargs: object) -> None:
        raise RuntimeError("the model's weights could not be read")

    monkeypatch.setattr(services, "model_opinion", fails)

    with pytest.raises(RuntimeError, match="weights"):
        _intake(nurse, chief_complaint="ankle sprain, walking")

    encounter = Encounter.objects.get()
    assert encounter.patient.mrn == NOTE["mrn"] and encounter.vital_signs.count() == 1
    assert not TriageAssessment.objects.exists()


def test_a_birth_date_recorded_while_the_suggestion_ran_is_the_age_assessed(
    nurse: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another intake registers the patient with a birth date while this one's suggestion
    is computed (on an unknown age): the encounter holds the recorded age, and the stored
    suggestion is the one on that age, not the adult thresholds."""
    import datetime as dt

    from django.utils import timezone

    from diagnosis.triage import services
    from medassist.services import patient_get_or_register

    birth = timezone.localdate() - dt.timedelta(days=300)  # about 10 months
    real_compute = services._assessment_compute

    def meanwhile(**kwargs: object) -> TriageAssessment:
        computed = real_compute(**kwargs)  # type: ignore[arg-type]
        if not Encounter.objects.exists():  # the other intake, once
            patient_get_or_register(mrn=NOTE["mrn"], birth_date=birth, actor=nurse)
        return computed

    monkeypatch.setattr(services, "_assessment_compute", meanwhile)

    assessment = _intake(nurse, age_years=None, heart_rate=170, chief_complaint="fussy")

    assert Decimal("0.7") < assessment.encounter.age_years < Decimal("0.9")
    assert "Age unknown" not in assessment.explanation
    assert assessment.suggested_level == 2  # HR 170: the infant danger zone
    assert TriageAssessment.objects.count() == 1
    # The encounter sorts by the assessment stored, not the one computed on no age.
    encounter = Encounter.objects.get()
    assert encounter.esi_level == 2 and not encounter.esi_confirmed
