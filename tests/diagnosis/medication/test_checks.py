"""The check of a medication against the patient's allergies and current medications."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from diagnosis.encounters.models import Encounter
from diagnosis.medication.models import AllergyRecord
from diagnosis.medication.selectors import patient_check
from diagnosis.medication.services import allergy_record, medication_record

pytestmark = pytest.mark.django_db


def _allergy(encounter: Encounter, nurse: User, substance: str, severity: str = "severe") -> None:
    allergy_record(
        patient=encounter.patient,
        actor=nurse,
        encounter=encounter,
        kind=AllergyRecord.Kind.ALLERGY,
        substance=substance,
        reaction="rash and wheeze",
        severity=severity,
    )


def _taking(encounter: Encounter, nurse: User, name: str) -> None:
    medication_record(patient=encounter.patient, actor=nurse, encounter=encounter, name=name)


def _warnings(encounter: Encounter, name: str) -> list[tuple[str, str]]:
    result = patient_check(patient=encounter.patient, name=name)
    return [(w.kind, w.severity) for w in result.warnings]


def test_a_penicillin_allergy_warns_for_amoxicillin_and_flucloxacillin(
    knowledge: int, encounter: Encounter, nurse: User
) -> None:
    _allergy(encounter, nurse, "Penicillin")
    for name in ("Amoxicillin 500 mg", "flucloxacillin", "Co-amoxiclav 625mg"):
        result = patient_check(patient=encounter.patient, name=name)
        [warning] = result.warnings
        assert (warning.kind, warning.severity) == ("allergy", "contraindicated")
        assert "penicillin" in warning.title.lower()
        assert warning.source.startswith("BNF")
        assert warning.is_demo


def test_a_penicillin_allergy_gives_a_cephalosporin_caution(
    knowledge: int, encounter: Encounter, nurse: User
) -> None:
    _allergy(encounter, nurse, "amoxicillin")
    assert _warnings(encounter, "Ceftriaxone 2 g IV") == [("allergy", "moderate")]


def test_an_nsaid_allergy_covers_the_class_and_sulfonamides_theirs(
    knowledge: int, encounter: Encounter, nurse: User
) -> None:
    _allergy(encounter, nurse, "ibuprofen")
    _allergy(encounter, nurse, "co-trimoxazole")
    assert _warnings(encounter, "naproxen") == [("allergy", "contraindicated")]
    assert _warnings(encounter, "sulfadiazine") == [("allergy", "contraindicated")]
    assert _warnings(encounter, "paracetamol") == []


def test_an_allergy_to_a_substance_the_table_does_not_name_still_warns_for_itself(
    encounter: Encounter, nurse: User
) -> None:
    _allergy(encounter, nurse, "chlorhexidine")
    result = patient_check(patient=encounter.patient, name="Chlorhexidine mouthwash")
    [warning] = result.warnings
    assert warning.version is None and "allergy record" in warning.source


@pytest.mark.parametrize(
    ("current", "new", "severity"),
    [
        ("Warfarin 5 mg", "ibuprofen 400 mg", "major"),
        ("warfarin", "Aspirin 75 mg", "major"),
        ("warfarin", "clarithromycin 500 mg", "major"),
        ("sertraline 50 mg", "tramadol 50 mg", "major"),
        ("ramipril 5 mg", "spironolactone 25 mg", "major"),
        ("methotrexate 10 mg weekly", "trimethoprim 200 mg", "contraindicated"),
        ("methotrexate", "co-trimoxazole", "contraindicated"),
        ("simvastatin 40 mg", "clarithromycin", "contraindicated"),
        ("isosorbide mononitrate", "sildenafil 50 mg", "contraindicated"),
        ("citalopram 20 mg", "ondansetron 4 mg", "major"),
    ],
)
def test_known_interactions_warn_whichever_drug_comes_second(
    knowledge: int, encounter: Encounter, nurse: User, current: str, new: str, severity: str
) -> None:
    _taking(encounter, nurse, current)
    assert ("interaction", severity) in _warnings(encounter, new)


def test_one_qt_prolonging_drug_alone_does_not_warn_about_itself(
    knowledge: int, encounter: Encounter, nurse: User
) -> None:
    _taking(encounter, nurse, "citalopram 20 mg")
    assert _warnings(encounter, "citalopram 10 mg") == []


def test_a_stopped_medication_and_an_inactive_allergy_no_longer_warn(
    knowledge: int, encounter: Encounter, nurse: User, doctor: User
) -> None:
    taken = medication_record(
        patient=encounter.patient, actor=nurse, encounter=encounter, name="warfarin"
    )
    medication_record(
        patient=encounter.patient, actor=doctor, encounter=encounter, replaces=taken.pk, remove=True
    )
    _allergy(encounter, nurse, "penicillin")
    allergy = AllergyRecord.objects.get(substance="penicillin")
    allergy_record(
        patient=encounter.patient,
        actor=doctor,
        encounter=encounter,
        kind="allergy",
        replaces=allergy.pk,
        remove=True,
    )
    assert _warnings(encounter, "ibuprofen") == []
    assert _warnings(encounter, "amoxicillin") == []
    assert AllergyRecord.objects.count() == 2, "removal is a new inactive row; the first stays"


def test_a_medication_the_table_does_not_name_is_reported_as_not_checked(
    knowledge: int, encounter: Encounter
) -> None:
    result = patient_check(patient=encounter.patient, name="Unobtainium 5 mg")
    assert not result.recognised and result.warnings == []


def test_the_accepted_pathway_s_treatment_steps_are_checked_on_the_page(
    knowledge: int, encounter: Encounter, nurse: User, doctor: User, lead: User, lead2: User
) -> None:
    from django.test import Client
    from django.urls import reverse

    from diagnosis.encounters.services import final_diagnosis_record
    from diagnosis.pathways.services import ItemSpec, ItemState, pathway_use_record
    from tests.diagnosis.pathways.helpers import approved_pathway

    version = approved_pathway(
        author=lead,
        approver=lead2,
        group="J12-J18",
        title="Pneumonia",
        items=(
            ItemSpec(kind="investigation", text="Chest X-ray"),
            ItemSpec(kind="treatment", text="Oral amoxicillin 500 mg three times a day"),
        ),
    )
    _allergy(encounter, nurse, "penicillin")
    diagnosis = final_diagnosis_record(encounter=encounter, doctor=doctor, icd10_code="J18.9")
    pathway_use_record(
        final_diagnosis=diagnosis,
        version=version,
        doctor=doctor,
        action="accept",
        item_states={item.pk: ItemState(followed=True) for item in version.items.all()},
    )
    client = Client()
    client.force_login(doctor)
    page = client.get(reverse("diagnosis:medication", args=[encounter.pk])).content.decode()
    assert 'data-testid="pathway-step-checks"' in page
    assert "Oral amoxicillin 500 mg three times a day" in page
    assert "Contraindicated allergy warning" in page
