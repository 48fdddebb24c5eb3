"""The finding vocabulary: ML admins add, describe, code and retire findings, and a new
finding grows the model's head so the reviews that use it train it."""

from __future__ import annotations

import pytest
import torch
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.registry.selectors import active_findings
from diagnosis.registry.services import finding_add, finding_retire
from diagnosis.review.services import review_submit
from finetune import services
from finetune.adapters import ADAPTERS, training_set
from finetune.models import TrainingRun
from finetune.services import training_run_execute, training_run_start
from imaging.ingest.services import instance_ingest
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent
from tests.factories import synthetic_dataset

FINDINGS_URL = "/models/findings/"


@pytest.fixture
def vocabulary(db: None) -> None:
    """The three demo findings, as the demo seed adds them."""
    for i, code in enumerate(["normal", "opacity", "nodule"]):
        Finding.objects.get_or_create(code=code, defaults={"name": code.title(), "sort_order": i})


@pytest.fixture
def admin_client(client: Client, ml_admin: User) -> Client:
    client.force_login(ml_admin)
    return client


def test_the_vocabulary_page_is_for_ml_admins_and_linked_from_the_models_page(
    client: Client, doctor: User, ml_admin: User, vocabulary: None
) -> None:
    assert reverse("finetune:findings") == FINDINGS_URL
    client.force_login(doctor)
    assert client.get(FINDINGS_URL).status_code == 403
    assert client.post(FINDINGS_URL, {"code": "x", "name": "X"}).status_code == 403
    client.force_login(ml_admin)
    page = client.get(FINDINGS_URL)
    assert page.status_code == 200
    assert b'data-testid="finding-nodule"' in page.content
    assert FINDINGS_URL.encode() in client.get(reverse("finetune:models")).content


def test_an_ml_admin_adds_a_finding_with_its_codes_and_it_is_offered_and_audited(
    admin_client: Client, ml_admin: User, vocabulary: None
) -> None:
    response = admin_client.post(
        FINDINGS_URL,
        {
            "code": "pleural-effusion",
            "name": "Pleural effusion",
            "description": "Fluid in the pleural space.",
            "snomed_ct": "60046008",
            "radlex": "RID34539",
        },
    )
    assert response.status_code == 302
    finding = Finding.objects.get(code="pleural-effusion")
    assert (finding.name, finding.snomed_ct, finding.radlex) == (
        "Pleural effusion",
        "60046008",
        "RID34539",
    )
    assert list(active_findings().values_list("code", flat=True))[-1] == "pleural-effusion"
    event = AuditEvent.objects.get(action="finding.add")
    assert event.actor == ml_admin and event.detail["code"] == "pleural-effusion"
    page = admin_client.get(FINDINGS_URL)
    assert "Pleural effusion" in page.content.decode()


def test_malformed_codes_get_field_errors_in_plain_words(
    admin_client: Client, vocabulary: None
) -> None:
    response = admin_client.post(
        FINDINGS_URL,
        {"code": "Pleural Effusion!", "name": "", "snomed_ct": "123", "radlex": "5350"},
    )
    assert response.status_code == 400
    errors = response.context["add_form"].errors
    assert "lower-case letters" in errors["code"][0]
    assert "name" in errors
    assert "6 to 18 digits" in errors["snomed_ct"][0]
    assert "RID followed by digits" in errors["radlex"][0]
    assert not Finding.objects.filter(name="").exists()


def test_a_retired_code_is_never_reused(
    admin_client: Client, ml_admin: User, vocabulary: None
) -> None:
    old = finding_add(code="effusion", name="Effusion", actor=ml_admin)
    finding_retire(finding=old, actor=ml_admin)

    response = admin_client.post(FINDINGS_URL, {"code": "effusion", "name": "Something else"})

    assert response.status_code == 400
    message = response.context["add_form"].errors["code"][0]
    assert "already belongs to a retired finding" in message and "never reused" in message
    assert Finding.objects.get(code="effusion").name == "Effusion"
    with pytest.raises(ValidationError):  # the service refuses too
        finding_add(code="effusion", name="Again", actor=ml_admin)


def test_editing_changes_name_description_and_codes_but_never_the_code(
    admin_client: Client, vocabulary: None
) -> None:
    nodule = Finding.objects.get(code="nodule")
    url = reverse("finetune:finding-edit")
    assert admin_client.get(url, {"finding": nodule.pk}).status_code == 200
    assert admin_client.get(url, {"finding": "x"}).status_code == 404

    response = admin_client.post(
        url,
        {
            "finding": nodule.pk,
            "code": "lump",
            "name": "Pulmonary nodule",
            "description": "Round, under 3 cm.",
            "snomed_ct": "",
            "radlex": "RID50149",
        },
    )

    assert response.status_code == 302
    nodule.refresh_from_db()
    assert (nodule.code, nodule.name, nodule.radlex) == ("nodule", "Pulmonary nodule", "RID50149")
    event = AuditEvent.objects.get(action="finding.update")
    assert event.detail["changed"]["name"] == {"from": "Nodule", "to": "Pulmonary nodule"}
    bad = admin_client.post(url, {"finding": nodule.pk, "name": "Nodule", "snomed_ct": "abc"})
    assert bad.status_code == 400 and "snomed_ct" in bad.context["edit_form"].errors


def test_retiring_needs_a_confirmation_then_stops_offering_and_keeps_the_row(
    admin_client: Client, ml_admin: User, vocabulary: None
) -> None:
    opacity = Finding.objects.get(code="opacity")
    url = reverse("finetune:finding-retire")

    refused = admin_client.post(url, {"finding": opacity.pk})
    assert refused.status_code == 400
    assert "Tick the box" in refused.content.decode()
    assert Finding.objects.get(pk=opacity.pk).is_active

    assert admin_client.post(url, {"finding": opacity.pk, "confirm": "on"}).status_code == 302
    opacity.refresh_from_db()
    assert not opacity.is_active and opacity.retired_at is not None
    assert "opacity" not in active_findings().values_list("code", flat=True)
    assert AuditEvent.objects.filter(action="finding.retire").count() == 1
    # Two offered findings are the least a classifier can choose between.
    with pytest.raises(ValidationError, match="at least 2"):
        finding_retire(finding=Finding.objects.get(code="nodule"), actor=ml_admin)


def test_a_finding_used_by_a_review_cannot_be_deleted(doctor: User, vocabulary: None) -> None:
    finding = Finding.objects.get(code="nodule")
    instance = instance_ingest(data=dicom_bytes(synthetic_dataset(1))).instance
    review_submit(instance=instance, reviewer=doctor, finding=finding)
    with pytest.raises(ProtectedError):
        finding.delete()


# --- A new finding grows the model head --------------------------------------------------


def test_a_new_finding_grows_the_head_and_its_reviews_train_it(
    db: None, image_champion: ModelVersion, doctor: User, ml_admin: User, settings: Settings
) -> None:
    settings.MEDASSIST_FINDING_MIN_LABELS = 4
    before = training_set(labels=image_champion.labels).instances
    effusion = finding_add(code="effusion", name="Effusion", actor=ml_admin)
    for seed in range(5):
        ds = synthetic_dataset(100 + seed, finding="opacity", patient_id=f"MRN-EFF-{seed}")
        instance = instance_ingest(data=dicom_bytes(ds), uploaded_by=doctor).instance
        review_submit(instance=instance, reviewer=doctor, finding=effusion)
    adapter = ADAPTERS["image"]
    champion = adapter.load_base(image_champion)
    # Labels but no frozen test case yet: it cannot be measured, so it does not join.
    assert adapter.offered_labels(champion) == image_champion.labels
    plan = services.test_set_grow(per_finding=1, actor=ml_admin, seed=0)
    assert dict((f.code, f.cases) for f in plan.findings)["effusion"] == 1

    # The base keeps the champion's rows for its findings and gains a row for the new one.
    labels = adapter.offered_labels(champion)
    assert labels == [*image_champion.labels, "effusion"]
    grown = adapter.prepare(champion, labels)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(grown.predict(x)[:, :-1], champion.predict(x), atol=1e-5)
    assert champion.labels == image_champion.labels  # the champion itself is unchanged

    run = training_run_start(task="image", trigger=TrainingRun.Trigger.MANUAL, started_by=ml_admin)
    run = training_run_execute(run_id=run.pk)

    assert run.status == "succeeded", run.error
    # The 4 effusion reviews left after freezing one train it; none of them is dropped.
    frozen_elsewhere = len(before) - len(training_set(labels=image_champion.labels).instances)
    assert run.n_train == len(before) - frozen_elsewhere + 4
    assert run.candidate.labels == [*image_champion.labels, "effusion"]
    assert run.candidate.training_summary["label_counts"]["effusion"] == 4
    assert run.candidate.parent == image_champion


def test_a_new_finding_says_what_it_is_still_collecting(
    db: None,
    image_champion: ModelVersion,
    doctor: User,
    ml_admin: User,
    admin_client: Client,
    settings: Settings,
) -> None:
    settings.MEDASSIST_FINDING_MIN_LABELS = 30
    settings.MEDASSIST_GATE_MIN_CASES_PER_FINDING = 20
    effusion = finding_add(code="effusion", name="Effusion", actor=ml_admin)
    for seed in range(7):
        ds = synthetic_dataset(200 + seed, finding="opacity", patient_id=f"MRN-COL-{seed}")
        instance = instance_ingest(data=dicom_bytes(ds), uploaded_by=doctor).instance
        review_submit(instance=instance, reviewer=doctor, finding=effusion)

    page = admin_client.get(reverse("finetune:findings"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "collecting labels: 7 of 30; test cases: 0 of 20" in html
    assert f"in the champion (v{image_champion.version})" in html
    adapter = ADAPTERS["image"]
    assert "effusion" not in adapter.offered_labels(adapter.load_base(image_champion))


@pytest.mark.django_db
def test_the_django_admin_shows_the_vocabulary_but_changes_go_through_the_audited_page() -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    from diagnosis.registry.models import Finding

    admin_client = Client()
    admin_client.force_login(
        User.objects.create_superuser("vocab-admin", "a@example.org", "pw-for-tests-only")
    )

    finding = Finding.objects.first()
    assert admin_client.get("/admin/diagnosis/finding/").status_code == 200
    page = admin_client.get(f"/admin/diagnosis/finding/{finding.pk}/change/")
    assert page.status_code == 200 and b'name="name"' not in page.content  # view only
    assert admin_client.get("/admin/diagnosis/finding/add/").status_code == 403
