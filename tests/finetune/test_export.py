"""The de-identified dataset export: the page, its dry run, the zip, the download, the audit."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from diagnosis.registry.models import Finding
from diagnosis.review.services import review_submit
from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent
from medassist.roles import Role
from tests.conftest import make_user
from tests.factories import synthetic_dataset

pytestmark = pytest.mark.django_db

EXPORT_URL = "/models/export/"  # checked against reverse() below


@dataclass
class Case:
    instance: Instance
    finding: str
    patient_id: str
    patient_name: str
    uids: tuple[str, str, str]  # study, series, SOP instance


def labelled_case(seed: int, *, finding: str, patient: int, doctor: User, **header: str) -> Case:
    """Ingest a synthetic image of patient ``patient`` and label it as a doctor would."""
    ds = synthetic_dataset(seed, finding=finding, patient_id=f"MRN-EXP-{patient:03d}")
    ds.PatientName = f"Exportova^Pacientka{patient}"
    for keyword, value in header.items():
        setattr(ds, keyword, value)
    instance = instance_ingest(data=dicom_bytes(ds), uploaded_by=doctor).instance
    review_submit(instance=instance, reviewer=doctor, finding=Finding.objects.get(code=finding))
    return Case(
        instance=instance,
        finding=finding,
        patient_id=str(ds.PatientID),
        patient_name=str(ds.PatientName),
        uids=(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID)),
    )


@pytest.fixture
def cases(doctor: User) -> list[Case]:
    """Three labelled images of two patients, one with burned-in text, one unlabelled."""
    made = [
        labelled_case(1, finding="nodule", patient=1, doctor=doctor),
        labelled_case(2, finding="opacity", patient=1, doctor=doctor),
        labelled_case(3, finding="normal", patient=2, doctor=doctor),
        labelled_case(4, finding="nodule", patient=2, doctor=doctor, BurnedInAnnotation="YES"),
    ]
    instance_ingest(data=dicom_bytes(synthetic_dataset(5, patient_id="MRN-EXP-009")))
    return made


def form(**extra: object) -> dict[str, object]:
    return {"findings": ["normal", "opacity", "nodule"], **extra}


@pytest.fixture
def admin_client(client: Client, ml_admin: User) -> Client:
    client.force_login(ml_admin)
    return client


def test_the_export_page_is_for_ml_admins_only(client: Client, doctor: User, ml_admin: User):
    assert reverse("finetune:export") == EXPORT_URL
    response = client.get(EXPORT_URL)
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(doctor)
    assert client.get(EXPORT_URL).status_code == 403
    assert client.post(EXPORT_URL, form(action="export")).status_code == 403
    client.force_login(ml_admin)
    page = client.get(EXPORT_URL)
    assert page.status_code == 200
    assert b"Count (dry run)" in page.content
    assert b'at most <strong data-testid="max-images">2000</strong>' in page.content
    models = client.get(reverse("finetune:models"))
    assert reverse("finetune:export").encode() in models.content


def test_the_dry_run_counts_and_says_what_is_left_out(
    admin_client: Client, cases: list[Case], media_root: Path
):
    response = admin_client.post(EXPORT_URL, form(action="count"))
    assert response.status_code == 200
    summary = response.context["plan"]
    assert (summary.n_images, summary.n_patients) == (3, 2)
    html = response.content.decode()
    assert "3 images of 2 patients; 1 left out: burned-in annotation (1)." in html
    assert f"<td>{cases[3].instance.pk}</td>" in html  # the left-out image, by MedAssist id
    assert "Export 3 images" in html
    # A dry run writes nothing and audits nothing.
    assert not AuditEvent.objects.filter(action="dataset.export").exists()
    assert not (media_root / "exports").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"findings": []}, "Choose at least one finding."),
        ({"findings": ["no-such-finding"]}, "That finding is not in the vocabulary"),
        (form(date_from="2024-02-30"), "Enter a date such as 2024-01-31."),
        (form(date_from="2024-02-01", date_to="2024-01-01"), "The end date is before the start"),
    ],
)
def test_bad_input_gets_a_clear_message(admin_client: Client, data: dict, message: str):
    response = admin_client.post(EXPORT_URL, {**data, "action": "count"})
    assert response.status_code == 400
    assert message in response.content.decode()


def test_too_large_an_export_is_refused_with_the_limit(
    admin_client: Client, cases: list[Case], settings
):
    settings.MEDASSIST_EXPORT_MAX_IMAGES = 2
    response = admin_client.post(EXPORT_URL, form(action="export"))
    assert response.status_code == 400
    text = response.content.decode()
    assert "4 labelled images match, but one export holds at most 2" in text
    assert not AuditEvent.objects.filter(action="dataset.export").exists()


def test_a_date_range_without_studies_exports_nothing(admin_client: Client, cases: list[Case]):
    choice = form(date_from="2001-01-01", date_to="2001-12-31")
    counted = admin_client.post(EXPORT_URL, {**choice, "action": "count"})
    assert "0 images of 0 patients" in counted.content.decode()
    refused = admin_client.post(EXPORT_URL, {**choice, "action": "export"})
    assert refused.status_code == 400
    assert "nothing to export" in refused.content.decode()


def test_an_export_holds_deidentified_images_and_labels_and_is_audited(
    admin_client: Client, cases: list[Case], ml_admin: User, media_root: Path
):
    response = admin_client.post(EXPORT_URL, form(action="export", modified_dates="on"))
    assert response.status_code == 200
    result = response.context["result"]
    assert (result.n_images, result.n_patients) == (3, 2)
    assert re.fullmatch(r"[0-9a-f]{32}", result.key)
    path = media_root / "exports" / f"{result.key}.zip"
    assert [p.name for p in (media_root / "exports").iterdir()] == [path.name]

    raw = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        names = sorted(archive.namelist())
        members = {name: archive.read(name) for name in names}
    assert names == [
        "README.txt",
        "images/000001.dcm",
        "images/000002.dcm",
        "images/000003.dcm",
        "labels.csv",
    ]
    # Nothing that names a patient or an original instance, in the zip or any file in it.
    forbidden = {"Exportova", "Pacientka", "MRN-EXP"}
    for case in cases:
        forbidden |= {case.patient_id, case.patient_name, *case.uids}
    for blob in [raw, *members.values()]:
        for text in forbidden:
            assert text.encode() not in blob, text

    rows = list(csv.DictReader(io.StringIO(members["labels.csv"].decode())))
    files = {name: pydicom.dcmread(io.BytesIO(members[name])) for name in names[1:4]}
    assert len(rows) == 3
    for row in rows:
        ds = files[row["file"]]
        assert row["sop_instance_uid"] == ds.SOPInstanceUID
        assert row["study_instance_uid"] == ds.StudyInstanceUID
        assert row["series_instance_uid"] == ds.SeriesInstanceUID
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
        assert str(ds.PatientName) == "" and str(ds.PatientID) == ""
        assert row["label_source"] == "clinician" and row["label_kind"] == "read"
    assert sorted(row["finding"] for row in rows) == ["nodule", "normal", "opacity"]
    # Patient 1's two images share a pseudonym; patient 2 has another.
    by_finding = {row["finding"]: row for row in rows}
    assert by_finding["nodule"]["patient"] == by_finding["opacity"]["patient"]
    assert by_finding["normal"]["patient"] != by_finding["nodule"]["patient"]
    assert "Left out:\n  1 x burned-in annotation" in members["README.txt"].decode()

    event = AuditEvent.objects.get(action="dataset.export")
    assert event.actor == ml_admin
    assert event.remote_addr == "127.0.0.1"
    assert event.detail["key"] == result.key
    assert event.detail["counts"] == {"images": 3, "patients": 2, "left_out": 1}
    assert event.detail["options"]["modified_dates"] is True
    assert event.detail["left_out"] == [
        {"instance": cases[3].instance.pk, "reason": "burned-in annotation"}
    ]
    detail = json.dumps(event.detail)
    for text in forbidden:
        assert text not in detail


def test_only_the_admin_who_made_an_export_downloads_it(
    client: Client, cases: list[Case], ml_admin: User, doctor: User, media_root: Path
):
    client.force_login(ml_admin)
    result = client.post(EXPORT_URL, form(action="export")).context["result"]
    url = reverse("finetune:export-download", kwargs={"key": result.key})
    page = client.get(EXPORT_URL)
    assert url.encode() in page.content  # listed under "Your exports"

    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content)
    assert body == (media_root / "exports" / f"{result.key}.zip").read_bytes()
    assert AuditEvent.objects.filter(
        action="dataset.export.download", actor=ml_admin, detail__key=result.key
    ).exists()

    client.force_login(make_user("mladmin-other", Role.ML_ADMIN))
    assert client.get(url).status_code == 404
    assert (
        client.get(reverse("finetune:export-download", kwargs={"key": "f" * 32})).status_code == 404
    )
    assert client.get("/models/export/..%2F..%2Fsecret/download/").status_code == 404
    client.force_login(doctor)
    assert client.get(url).status_code == 403


def test_burned_in_images_go_in_only_when_asked(admin_client: Client, cases: list[Case]):
    response = admin_client.post(EXPORT_URL, form(action="export", include_burned_in="on"))
    result = response.context["result"]
    assert (result.n_images, result.left_out) == (4, [])
    event = AuditEvent.objects.get(action="dataset.export")
    assert event.detail["options"]["include_burned_in"] is True


def test_findings_choose_the_images(admin_client: Client, cases: list[Case]):
    response = admin_client.post(EXPORT_URL, {"findings": ["opacity"], "action": "count"})
    plan = response.context["plan"]
    assert [review.instance for review in plan.labels] == [cases[1].instance]
