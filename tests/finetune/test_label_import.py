"""Bringing existing labels: the CSV, the dry run, the import, the command and the page."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest
from django.contrib.auth.models import User
from django.core.files import File
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from diagnosis.registry.models import Finding
from diagnosis.review.models import ReadingState, Review
from diagnosis.review.selectors import current_label_reviews
from diagnosis.review.services import review_submit
from finetune import services
from finetune.label_import import (
    FolderFiles,
    LabelImportRefused,
    LabelImportReport,
    Outcome,
    label_import,
)
from finetune.models import TestSetCase as FrozenCase
from imaging.ingest.services import instance_ingest
from imaging.models import IngestConflict, Instance
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent
from tests.factories import ingested_instance, synthetic_dataset

pytestmark = pytest.mark.django_db

URL = "/models/labels/import/"


@dataclass
class Dicom:
    data: bytes
    sop: str
    study: str


def dicom(seed: int, *, study: str | None = None) -> Dicom:
    """A small synthetic DICOM file; ``study`` puts it in a given study."""
    ds = synthetic_dataset(seed, patient_id=f"IMP-{seed if study is None else 'S'}")
    if study is not None:
        ds.StudyInstanceUID = study
    return Dicom(dicom_bytes(ds), str(ds.SOPInstanceUID), str(ds.StudyInstanceUID))


def csv_of(header: str, *rows: str) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return out.getvalue()


def zip_of(members: dict[str, bytes], name: str = "images.zip") -> File:
    """A .zip as the ingest is handed one (a file with a name and a size)."""
    return File(io.BytesIO(zip_bytes(members)), name=name)


def run(csv: bytes, *uploads: File, dry_run: bool, name: str = "labels.csv", **kw):  # type: ignore[no-untyped-def]
    for upload in uploads:
        upload.seek(0)
    return label_import(
        csv_data=csv, csv_name=name, uploads=list(uploads), actor=None, dry_run=dry_run, **kw
    )


def written(media_root: Path) -> tuple[int, int, int, int, int]:
    """Everything an import could write: instances, reviews, audit events, conflicts, files."""
    files = sum(1 for p in media_root.rglob("*") if p.is_file())
    return (
        Instance.objects.count(),
        Review.objects.count(),
        AuditEvent.objects.count(),
        IngestConflict.objects.count(),
        files,
    )


def statuses(report: LabelImportReport) -> dict[int, str]:
    return {row.number: row.status for row in report.rows}


def imported(sop: str) -> Review:
    return Review.objects.get(instance__sop_instance_uid=sop, source=Review.Source.IMPORT)


# --- Dry run, then the import ----------------------------------------------------------------


def clashing(instance: Instance) -> bytes:
    """A different image under the SOP Instance UID of a stored one."""
    ds = synthetic_dataset(99, patient_id="IMP-CLASH")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = instance.sop_instance_uid
    return dicom_bytes(ds)


def test_a_dry_run_writes_nothing_then_the_import_stores_the_files_and_labels_them(
    media_root: Path,
) -> None:
    a, b = dicom(1), dicom(2)
    stored = ingested_instance(27)
    images = zip_of({"scans/a.dcm": a.data, "scans/b.dcm": b.data, "c.dcm": clashing(stored)})
    labels = csv_of("file,finding,comment", "a.dcm,nodule,RUL nodule", "scans/b.dcm,Opacity,")
    before = written(media_root)

    plan = run(labels, images, dry_run=True)

    assert written(media_root) == before, "a dry run writes no row, no audit event, no file"
    assert statuses(plan) == {2: Outcome.IMPORT, 3: Outcome.IMPORT}
    assert plan.labels == 2 and plan.files_stored == 2 and plan.batch is None
    # Even the file the real run keeps aside as a conflict is only reported.
    [clash] = plan.rejected_files
    assert clash.name == "images.zip/c.dcm" and "kept aside" in clash.reason
    assert "Will store the file and import Nodule (nodule)" in plan.rows[0].message

    report = run(labels, images, dry_run=False)

    assert report.labels == 2 and statuses(report) == {2: Outcome.IMPORT, 3: Outcome.IMPORT}
    assert Instance.objects.filter(source="import").count() == 2
    assert IngestConflict.objects.count() == 1, "the real run keeps the clash aside, as ingest does"
    review = imported(a.sop)
    assert (review.reviewer, review.finding.code, review.comment) == (None, "nodule", "RUL nodule")
    assert review.imported_from == f"labels.csv row 2 (import {report.batch})"
    assert imported(b.sop).imported_from == f"labels.csv row 3 (import {report.batch})"
    # An imported label is the image's label: training and the test set read it as such.
    assert set(current_label_reviews().values_list("instance__sop_instance_uid", flat=True)) == {
        a.sop,
        b.sop,
    }
    [event] = AuditEvent.objects.filter(action="labels.import")
    assert event.detail["labels"] == 2 and event.detail["files_stored"] == 2
    assert event.detail["batch"] == str(report.batch)
    assert a.sop not in str(event.detail) and "a.dcm" not in str(event.detail), "counts only"
    # Every event the import wrote carries its batch: the images' and the reviews' too.
    batch_events = AuditEvent.objects.filter(detail__label_import=str(report.batch))
    assert {"instance.ingest", "review.submit", "labels.import"} <= set(
        batch_events.values_list("action", flat=True)
    )


def test_rows_name_images_by_sop_uid_or_study_uid_and_a_study_row_labels_all_its_images(
    tmp_path: Path,
) -> None:
    study = "1.2.826.0.1.3680043.10.999.1"
    first, second, other = dicom(3, study=study), dicom(4, study=study), dicom(5)
    folder = tmp_path / "export"
    (folder / "series").mkdir(parents=True)
    for n, item in enumerate((first, second, other)):
        (folder / "series" / f"{n}.dcm").write_bytes(item.data)
    labels = csv_of(
        "study_instance_uid;sop_instance_uid;finding",
        f"{study};;normal",
        f";{other.sop};NODULE",  # a code in any case
    )

    plan = label_import(
        csv_data=labels, csv_name="l.csv", uploads=FolderFiles(folder), actor=None, dry_run=True
    )
    assert [(r.status, r.images) for r in plan.rows] == [(Outcome.IMPORT, 2), (Outcome.IMPORT, 1)]
    assert plan.rows[0].message.startswith("All 2 images of this study: Will store the file")

    label_import(
        csv_data=labels, csv_name="l.csv", uploads=FolderFiles(folder), actor=None, dry_run=False
    )
    assert {r.instance.sop_instance_uid: r.finding.code for r in Review.objects.all()} == {
        first.sop: "normal",
        second.sop: "normal",
        other.sop: "nodule",
    }


def test_labels_for_images_already_stored_need_only_the_csv(media_root: Path) -> None:
    instance = ingested_instance(6)
    labels = csv_of("sop_instance_uid,finding", f"{instance.sop_instance_uid},No finding")

    first = run(labels, dry_run=False)
    again = run(labels, dry_run=False)

    assert first.labels == 1 and imported(instance.sop_instance_uid).finding.code == "normal"
    assert statuses(again) == {2: Outcome.SAME} and again.labels == 0
    assert "by an earlier import" in again.rows[0].message
    assert Review.objects.filter(instance=instance).count() == 1, "nothing superseded, no twin"
    assert ReadingState.objects.get(instance=instance).status == ReadingState.Status.REVIEWED


# --- What is never changed -------------------------------------------------------------------


@pytest.mark.parametrize("double_reading", [False, True])
def test_a_clinician_s_label_is_never_overwritten(
    doctor: User, settings, double_reading: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_DOUBLE_READING = double_reading
    agreed, disagreed = ingested_instance(7), ingested_instance(8)
    for instance in (agreed, disagreed):
        review_submit(
            instance=instance, reviewer=doctor, finding=Finding.objects.get(code="opacity")
        )
    labels = csv_of(
        "sop_instance_uid,finding",
        f"{agreed.sop_instance_uid},opacity",
        f"{disagreed.sop_instance_uid},nodule",
    )

    report = run(labels, dry_run=False)

    assert statuses(report) == {2: Outcome.SAME, 3: Outcome.CONFLICT}
    assert "by a clinician" in report.rows[0].message
    assert "a clinician's label is never overwritten" in report.rows[1].message
    assert report.labels == 0 and not Review.objects.filter(source=Review.Source.IMPORT).exists()
    current = Review.objects.get(instance=disagreed, superseded_by__isnull=True)
    assert (current.reviewer, current.finding.code) == (doctor, "opacity")


def test_an_existing_imported_label_is_not_replaced_either() -> None:
    instance = ingested_instance(9)
    run(csv_of("sop_instance_uid,finding", f"{instance.sop_instance_uid},nodule"), dry_run=False)

    report = run(
        csv_of("sop_instance_uid,finding", f"{instance.sop_instance_uid},opacity"), dry_run=False
    )

    assert statuses(report) == {2: Outcome.CONFLICT}
    assert "an import never replaces a label" in report.rows[0].message
    assert imported(instance.sop_instance_uid).finding.code == "nodule"


def test_a_frozen_test_case_keeps_its_label_and_gets_no_second_one() -> None:
    same, other = ingested_instance(10), ingested_instance(11)
    for instance in (same, other):
        services.test_set_freeze(instance=instance, finding=Finding.objects.get(code="opacity"))
    labels = csv_of(
        "sop_instance_uid,finding",
        f"{same.sop_instance_uid},opacity",
        f"{other.sop_instance_uid},nodule",
    )

    report = run(labels, dry_run=False)

    assert statuses(report) == {2: Outcome.FROZEN, 3: Outcome.FROZEN}
    assert "nothing to import" in report.rows[0].message
    assert "its label never changes" in report.rows[1].message
    assert not Review.objects.exists()
    assert FrozenCase.objects.get(instance=other).finding.code == "opacity"


# --- Rows that cannot be imported ------------------------------------------------------------


def test_every_kind_of_bad_row_is_reported_and_the_good_rows_still_import() -> None:
    Finding.objects.create(
        code="old-thing", name="Old thing", is_active=False, retired_at=timezone.now()
    )
    stored = ingested_instance(12)
    twin_a, twin_b, fine, repeated, disputed = (dicom(s) for s in (13, 14, 15, 16, 17))
    images = zip_of(
        {
            "left/x.dcm": twin_a.data,
            "right/x.dcm": twin_b.data,
            "fine.dcm": fine.data,
            "notes.txt": b"not an image",
            "rep.dcm": repeated.data,
            "dis.dcm": disputed.data,
        }
    )
    labels = csv_of(
        "file,sop_instance_uid,finding",
        f",{stored.sop_instance_uid},tumour",  # 2: unknown finding
        f",{stored.sop_instance_uid},Old thing",  # 3: retired finding, by name
        ",1.2.3.4.5.6.7.8.9,nodule",  # 4: no such image
        "x.dcm,,nodule",  # 5: two files end so
        "left/x.dcm,,nodule",  # 6: the path settles it
        "notes.txt,,normal",  # 7: the ingest refuses the file
        "fine.dcm,,",  # 8: no finding
        ",not-a-uid,nodule",  # 9: not a UID
        "rep.dcm,,nodule",  # 10
        f",{repeated.sop},nodule",  # 11: the same image and finding again
        "dis.dcm,,nodule",  # 12
        f",{disputed.sop},opacity",  # 13: the same image, another finding
        "",  # a blank row is skipped, and still counted as a spreadsheet counts
        "fine.dcm,,normal",  # 15
    )

    report = run(labels, images, dry_run=False)

    assert statuses(report) == {
        2: Outcome.UNKNOWN_FINDING,
        3: Outcome.RETIRED_FINDING,
        4: Outcome.NO_IMAGE,
        5: Outcome.AMBIGUOUS,
        6: Outcome.IMPORT,
        7: Outcome.FILE_REFUSED,
        8: Outcome.INVALID,
        9: Outcome.INVALID,
        10: Outcome.IMPORT,
        11: Outcome.DUPLICATE,
        12: Outcome.CONTRADICTS,
        13: Outcome.CONTRADICTS,
        15: Outcome.IMPORT,
    }
    messages = {row.number: row.message for row in report.rows}
    assert "“tumour” is neither the code nor the name of a finding" in messages[2]
    assert "the offered codes are" in messages[2] and "nodule" in messages[2]
    assert "is retired" in messages[3]
    assert "No image with this SOP Instance UID is stored" in messages[4]
    assert "matches 2 files (images.zip/left/x.dcm, images.zip/right/x.dcm)" in messages[5]
    assert "not a DICOM file" in messages[7]
    assert "Repeats row 10" in messages[11]
    assert "different findings" in messages[12] and "none of them is imported" in messages[13]
    assert report.labels == 3
    assert {r.instance.sop_instance_uid for r in Review.objects.all()} == {
        twin_a.sop,
        repeated.sop,
        fine.sop,
    }
    # The files left without a label are stored all the same, waiting for a review.
    assert report.unlabelled_files == 2 and report.files_with("rejected") == 1  # x, dis
    assert not ReadingState.objects.filter(instance__sop_instance_uid=twin_b.sop).exists()


def test_with_several_findings_per_image_rows_for_one_image_make_one_label(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_MULTI_LABEL = True
    instance = ingested_instance(18)
    sop = instance.sop_instance_uid
    labels = csv_of("sop_instance_uid,finding", f"{sop},nodule", f"{sop},opacity")

    report = run(labels, dry_run=False)

    assert statuses(report) == {2: Outcome.IMPORT, 3: Outcome.IMPORT} and report.labels == 1
    review = imported(sop)
    assert {f.code for f in review.findings.all()} == {"nodule", "opacity"}
    assert review.imported_from.startswith("labels.csv rows 2, 3 (import ")


# --- CSV files that cannot be read -----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("sop_instance_uid,finding\n1.2.3,Opacité\n".encode("latin-1"), "is not UTF-8 text"),
        (b"", "is empty"),
        (b"image,finding\nx.dcm,nodule\n", "has no column naming the image"),
        (b"file,label\nx.dcm,nodule\n", "has no finding column"),
        (b"file,finding,file\nx,y,z\n", "has the column file twice"),
        (b"file,finding\n\n", "has a header row but no label under it"),
        (b"file,finding\na,nodule\nb,nodule\nc,nodule\n", "has more than 2 rows"),
    ],
)
def test_a_bad_csv_is_refused_whole_with_its_reason_and_nothing_is_stored(
    settings, media_root: Path, data: bytes, expected: str
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_LABEL_IMPORT_MAX_ROWS = 2
    before = written(media_root)

    with pytest.raises(LabelImportRefused, match=re.escape(expected)):
        run(data, zip_of({"x.dcm": dicom(19).data}), dry_run=False, name="bad.csv")

    assert written(media_root) == before


def test_rows_naming_more_stored_images_than_the_limit_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_LABEL_IMPORT_MAX_ROWS = 2
    study = "1.2.826.0.1.3680043.10.999.2"
    for seed in (20, 21, 22):
        instance_ingest(data=dicom(seed, study=study).data)
    with pytest.raises(LabelImportRefused, match="name 3 stored images"):
        run(csv_of("study_instance_uid,finding", f"{study},normal"), dry_run=True)


# --- The command -----------------------------------------------------------------------------


def test_the_command_prints_the_dry_run_then_imports(tmp_path: Path, media_root: Path) -> None:
    item = dicom(23)
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "one.dcm").write_bytes(item.data)
    archive = tmp_path / "images.zip"
    archive.write_bytes(zip_bytes({"one.dcm": item.data}))
    labels = tmp_path / "labels.csv"
    labels.write_bytes(csv_of("file,finding", "one.dcm,nodule", "two.dcm,nodule"))
    before = written(media_root)

    out = io.StringIO()
    call_command(
        "label_import", str(labels), files=str(tmp_path / "images"), dry_run=True, stdout=out
    )

    assert written(media_root) == before
    text = out.getvalue()
    assert "Dry run, nothing written: would label 1 images from 2 rows" in text
    assert "No file “two.dcm” among the files given" in text

    out = io.StringIO()
    call_command("label_import", str(labels), files=str(archive), stdout=out)
    assert "Labelled 1 images" in out.getvalue()
    assert imported(item.sop).imported_from.startswith("labels.csv row 2 (import ")

    (tmp_path / "bad.csv").write_bytes(b"file\nx\n")
    with pytest.raises(CommandError, match="has no finding column"):
        call_command("label_import", str(tmp_path / "bad.csv"))


# --- The page --------------------------------------------------------------------------------


def _post(client: Client, labels: bytes, images: bytes | None, **data: str):  # type: ignore[no-untyped-def]
    payload: dict[str, object] = {"labels": _named(labels, "labels.csv"), **data}
    if images is not None:
        payload["images"] = _named(images, "images.zip")
    return client.post(URL, payload)


def _named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_the_page_shows_the_dry_run_then_imports_what_it_showed(
    ml_admin: User, media_root: Path
) -> None:
    assert reverse("finetune:label-import") == URL
    client = Client()
    client.force_login(ml_admin)
    a, b = dicom(24), dicom(25)
    images = zip_bytes({"a.dcm": a.data, "b.dcm": b.data})
    labels = csv_of("file,finding", "a.dcm,nodule", "b.dcm,opacity", "c.dcm,nodule")
    assert client.get(URL).status_code == 200
    before = written(media_root)

    page = _post(client, labels, images, action="plan")

    assert page.status_code == 200
    html = page.content.decode()
    assert written(media_root) == before
    assert "Import 2 labels" in html and "No file “c.dcm” among the files given" in html
    fingerprint = re.search(r'name="fingerprint" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]

    # Other files than the dry run's are not imported: they get their own dry run.
    other = _post(client, labels, None, action="import", fingerprint=fingerprint)
    assert "not the files of the dry run you confirmed" in other.content.decode()
    assert written(media_root) == before

    done = _post(client, labels, images, action="import", fingerprint=fingerprint)

    assert done.status_code == 200
    assert "Imported from labels.csv" in done.content.decode()
    assert Review.objects.filter(source=Review.Source.IMPORT).count() == 2
    event = AuditEvent.objects.get(action="labels.import")
    assert event.actor == ml_admin and event.detail["labels"] == 2
    assert Instance.objects.filter(uploaded_by=ml_admin, source="import").count() == 2


def test_the_page_answers_htmx_with_the_report_alone_and_shows_a_bad_csv_s_reason(
    ml_admin: User,
) -> None:
    client = Client()
    client.force_login(ml_admin)
    upload = _named(b"\xff\xfe not text", "labels.csv")

    response = client.post(
        URL, {"labels": upload, "action": "plan"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert response.status_code == 200, "htmx swaps only 2xx answers"
    assert 'id="import-report"' in html and "<h1>" not in html
    assert "is not UTF-8 text" in html
    # Without htmx the whole page comes back, the reason next to the field, as a 400.
    upload.seek(0)
    page = client.post(URL, {"labels": upload, "action": "plan"})
    assert page.status_code == 400 and "<h1>Bring existing labels</h1>" in page.content.decode()


def test_the_page_is_for_ml_admins_only(doctor: User) -> None:
    client = Client()
    client.force_login(doctor)
    assert client.get(URL).status_code == 403
    labels = _named(csv_of("file,finding", "a.dcm,nodule"), "labels.csv")
    assert client.post(URL, {"labels": labels, "action": "import"}).status_code == 403
    assert not AuditEvent.objects.filter(action="labels.import").exists()


def test_imported_files_are_the_ingest_s_own_records(media_root: Path) -> None:
    """The import stores images exactly as the ingest does: hash, preamble, one copy."""
    item = dicom(26)
    run(csv_of("file,finding", "a.dcm,nodule"), zip_of({"a.dcm": item.data}), dry_run=False)
    instance = Instance.objects.get(sop_instance_uid=item.sop)
    stored = pydicom.dcmread(media_root / instance.storage_key)
    assert str(stored.SOPInstanceUID) == item.sop
    assert (media_root / instance.storage_key).read_bytes()[:128] == b"\0" * 128
