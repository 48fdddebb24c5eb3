"""Growing the frozen image test set from reviewed cases: the service, the page, the command."""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from diagnosis.registry.models import Finding
from diagnosis.review.services import review_submit
from finetune import selectors, services
from finetune.adapters import training_set
from finetune.models import TestSetCase as FrozenCase
from imaging.ingest.services import instance_ingest
from imaging.models import Instance, Series, Study
from medassist.models import AuditEvent, Patient
from tests.factories import unmarked_file

pytestmark = pytest.mark.django_db

FINDINGS = ["normal", "opacity", "nodule"]
_seq = itertools.count(1)


def patient(*, synthetic: bool = True, sex: str = "F", birth: dt.date | None = None) -> Patient:
    n = next(_seq)
    return Patient.objects.create(
        mrn=f"TS-{n}", name=f"Test^Patient{n}", sex=sex, birth_date=birth, is_synthetic=synthetic
    )


def case(
    who: Patient,
    finding: str,
    *,
    doctor: User,
    modality: str = "CR",
    body_part: str = "CHEST",
    study_date: dt.date | None = None,
) -> Instance:
    """One labelled image of ``who`` (rows only: the test set never reads the file)."""
    n = next(_seq)
    study = Study.objects.create(
        patient=who,
        study_instance_uid=f"1.2.826.0.9.{n}",
        study_date=study_date,
        is_synthetic=who.is_synthetic,
    )
    series = Series.objects.create(
        study=study, series_instance_uid=f"1.2.826.0.8.{n}", modality=modality, body_part=body_part
    )
    instance = Instance.objects.create(
        series=series,
        sop_instance_uid=f"1.2.826.0.7.{n}",
        sop_class_uid="1.2",
        rows=64,
        columns=64,
        storage_key=f"test/ts/{n}",
        sha256="0" * 64,
        size_bytes=1,
    )
    review_submit(instance=instance, reviewer=doctor, finding=Finding.objects.get(code=finding))
    return instance


@pytest.fixture
def labelled(doctor: User) -> list[Instance]:
    """Four synthetic patients with two cases of every finding each (24 labelled cases)."""
    return [
        case(who, code, doctor=doctor)
        for who in [patient() for _ in range(4)]
        for code in FINDINGS
        for _ in range(2)
    ]


def frozen_per_finding() -> dict[str, int]:
    return {code: FrozenCase.objects.filter(finding__code=code).count() for code in FINDINGS}


def test_it_freezes_up_to_n_cases_of_every_finding(labelled: list[Instance], ml_admin: User):
    plan = services.test_set_grow(per_finding=3, actor=ml_admin, seed=1)

    assert frozen_per_finding() == {"normal": 3, "opacity": 3, "nodule": 3}
    assert {f.code: (f.cases, f.eligible) for f in plan.findings} == {
        code: (3, 8) for code in FINDINGS
    }
    # One case per patient before a second from anyone: three findings, three patients each.
    for code in FINDINGS:
        patients = FrozenCase.objects.filter(finding__code=code).values(
            "instance__series__study__patient"
        )
        assert len({row["instance__series__study__patient"] for row in patients}) == 3
    # A finding with fewer cases than asked gives what it has; a second step adds more.
    services.test_set_grow(per_finding=10, actor=ml_admin, seed=1)
    assert frozen_per_finding() == {code: 8 for code in FINDINGS}
    assert services.test_set_grow(per_finding=1, actor=ml_admin, seed=1).cases == 0


def test_frozen_patients_never_reach_training(labelled: list[Instance], ml_admin: User):
    before = training_set(labels=FINDINGS)
    assert len(before.instances) == 24

    plan = services.test_set_grow(per_finding=1, actor=ml_admin, seed=7)

    frozen_patients = set(
        FrozenCase.objects.values_list("instance__series__study__patient", flat=True)
    )
    after = training_set(labels=FINDINGS)
    trained_patients = {i.patient_id for i in after.instances}
    assert frozen_patients and not frozen_patients & trained_patients
    # The picked patients' other labelled cases left training with them, and are counted.
    assert len(after.instances) == 24 - plan.cases - plan.withheld_from_training
    assert plan.withheld_from_training == 6 * plan.new_patients - plan.cases


def test_real_cases_are_frozen_before_synthetic_ones(doctor: User, ml_admin: User):
    for code in FINDINGS:
        for _ in range(3):
            case(patient(), code, doctor=doctor)
    # Two real images, as a scanner sends them (no SYNTHETIC mark in the header).
    real = [
        instance_ingest(data=unmarked_file(seed), uploaded_by=doctor).instance for seed in (1, 2)
    ]
    for instance in real:
        assert not instance.series.study.is_synthetic
        review_submit(
            instance=instance, reviewer=doctor, finding=Finding.objects.get(code="nodule")
        )

    plan = services.test_set_grow(per_finding=2, actor=ml_admin, seed=3)

    nodules = FrozenCase.objects.filter(finding__code="nodule")
    assert {c.instance_id for c in nodules} == {i.pk for i in real}
    assert {f.code: (f.real, f.synthetic) for f in plan.findings}["nodule"] == (2, 0)
    assert (plan.real, plan.synthetic) == (2, 4)


def test_the_same_seed_picks_the_same_cases(labelled: list[Instance], ml_admin: User):
    first = services.test_set_grow(per_finding=2, actor=ml_admin, seed=42, dry_run=True)
    again = services.test_set_grow(per_finding=2, actor=ml_admin, seed=42, dry_run=True)
    others = {
        services.test_set_grow(per_finding=2, actor=ml_admin, seed=s, dry_run=True).picks
        for s in range(8)
    }

    assert first.picks == again.picks
    assert len(others) > 1  # the seed does choose
    frozen = services.test_set_grow(per_finding=2, actor=ml_admin, seed=42)
    assert frozen.picks == first.picks
    assert set(FrozenCase.objects.values_list("instance_id", "finding_id")) == set(first.picks)


def test_a_dry_run_writes_nothing(labelled: list[Instance], ml_admin: User):
    events = AuditEvent.objects.count()

    plan = services.test_set_grow(per_finding=2, actor=ml_admin, dry_run=True)

    assert plan.cases == 6 and plan.dry_run and plan.batch is None
    assert not FrozenCase.objects.exists()
    assert AuditEvent.objects.count() == events


def test_growing_is_audited_with_counts_only(labelled: list[Instance], ml_admin: User):
    plan = services.test_set_grow(per_finding=2, actor=ml_admin, seed=5)

    event = AuditEvent.objects.get(action="test_set.grow")
    assert event.actor == ml_admin
    assert event.detail["cases"] == 6 and event.detail["seed"] == 5
    assert event.detail["per_finding_cases"] == {code: 2 for code in FINDINGS}
    assert event.detail["batch"] == str(plan.batch)
    assert "TS-" not in str(event.detail) and "Test^" not in str(event.detail)  # no MRN, no name
    assert set(FrozenCase.objects.values_list("frozen_by", "batch").distinct()) == {
        (ml_admin.pk, plan.batch)
    }


def test_the_test_set_never_shrinks(labelled: list[Instance], ml_admin: User):
    services.test_set_grow(per_finding=1, actor=ml_admin, seed=1)

    with pytest.raises(ValueError, match="never removed"):
        FrozenCase.objects.all().delete()
    with pytest.raises(ValueError, match="never removed"):
        FrozenCase.objects.first().delete()  # type: ignore[union-attr]
    assert FrozenCase.objects.count() == 3


@pytest.mark.parametrize(
    ("birth", "study", "band"),
    [
        (dt.date(2010, 6, 2), dt.date(2028, 6, 1), "0-17"),
        (dt.date(2010, 6, 2), dt.date(2028, 6, 2), "18-39"),
        (dt.date(1980, 1, 1), dt.date(2024, 1, 1), "40-64"),
        (dt.date(1950, 1, 1), dt.date(2024, 1, 1), "65+"),
        (None, dt.date(2024, 1, 1), "unknown"),
        (dt.date(1950, 1, 1), None, "unknown"),
    ],
)
def test_age_is_counted_at_the_study_date(birth: dt.date, study: dt.date, band: str):
    assert selectors.age_band(birth_date=birth, study_date=study) == band


def test_the_composition_counts_findings_modalities_sex_and_age(doctor: User, ml_admin: User):
    old = patient(synthetic=False, sex="M", birth=dt.date(1950, 3, 1))
    case(old, "nodule", doctor=doctor, modality="ct", study_date=dt.date(2024, 5, 1))
    young = patient(sex="F", birth=dt.date(2000, 1, 1))
    case(young, "opacity", doctor=doctor, study_date=dt.date(2024, 5, 1))
    case(young, "opacity", doctor=doctor, study_date=dt.date(2024, 6, 1))
    services.test_set_grow(per_finding=1, actor=ml_admin, seed=1)

    comp = selectors.test_set_composition()

    assert (comp.total, comp.real, comp.synthetic, comp.patients) == (2, 1, 1, 2)
    rows = {f.code: (f.cases, f.real, f.synthetic, f.patients, f.eligible) for f in comp.findings}
    assert rows == {"nodule": (1, 1, 0, 1, 0), "opacity": (1, 0, 1, 1, 1), "normal": (0,) * 5}
    assert comp.by_modality == [("CR", "CHEST", 1), ("CT", "CHEST", 1)]
    assert comp.by_sex_age == [("Female", "18-39", 1), ("Male", "65+", 1)]


def test_the_page_is_for_ml_admins_only(client: Client, doctor: User, ml_admin: User):
    url = reverse("finetune:test-set")
    assert url == "/models/test-set/"
    client.force_login(doctor)
    assert client.get(url).status_code == 403
    client.force_login(ml_admin)
    page = client.get(url)
    assert page.status_code == 200
    assert 'data-testid="composition"' in page.content.decode()
    assert url in client.get(reverse("finetune:models")).content.decode()


def test_the_page_shows_a_dry_run_then_freezes_with_confirmation(
    client: Client, labelled: list[Instance], ml_admin: User
):
    client.force_login(ml_admin)
    url = reverse("finetune:test-set")

    dry = client.post(url, {"per_finding": 2, "seed": "", "action": "plan"})
    assert dry.status_code == 200
    plan = dry.context["plan"]
    assert "6 cases (0 real, 6 synthetic)" in dry.content.decode()
    assert not FrozenCase.objects.exists()

    refused = client.post(url, {"per_finding": 2, "seed": plan.seed, "action": "freeze"})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.content.decode()
    assert not FrozenCase.objects.exists()

    done = client.post(
        url, {"per_finding": 2, "seed": plan.seed, "action": "freeze", "confirm": "on"}, follow=True
    )
    assert done.status_code == 200
    assert "Froze 6 cases" in done.content.decode()
    # Exactly what the dry run showed.
    assert set(FrozenCase.objects.values_list("instance_id", "finding_id")) == set(plan.picks)
    assert AuditEvent.objects.filter(action="test_set.grow", actor=ml_admin).count() == 1


def test_the_page_explains_bad_input(client: Client, ml_admin: User):
    client.force_login(ml_admin)
    response = client.post(reverse("finetune:test-set"), {"per_finding": 0, "action": "plan"})
    assert response.status_code == 400
    assert "Freeze at least one case per finding." in response.content.decode()


def test_the_command_prints_the_plan_and_freezes(labelled: list[Instance]):
    out = io.StringIO()
    call_command("test_set_freeze", per_finding=1, seed=9, dry_run=True, stdout=out)
    assert "Dry run, nothing frozen: would freeze 3 cases" in out.getvalue()
    assert not FrozenCase.objects.exists()

    out = io.StringIO()
    call_command("test_set_freeze", "--per-finding", "2", "--seed", "9", stdout=out)
    assert "Froze 6 cases (0 real, 6 synthetic)" in out.getvalue()
    assert frozen_per_finding() == {code: 2 for code in FINDINGS}
    event = AuditEvent.objects.get(action="test_set.grow")
    assert event.actor is None and event.detail["cases"] == 6
