"""Results back to the PACS: a doctor's final review is stored in a real DICOM archive (a
pynetdicom Storage SCP in a thread) as an SR that pydicom and highdicom read back."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pydicom.sr.codedict import codes
from pydicom.uid import ComprehensiveSRStorage, SecondaryCaptureImageStorage

from diagnosis.pacs import services, tasks
from diagnosis.pacs.documents import model_device_uid
from diagnosis.pacs.models import PacsExport
from diagnosis.registry.models import Finding, ModelVersion
from diagnosis.review.services import review_record
from medassist.models import AuditEvent
from tests.conftest import make_user
from tests.diagnosis.pacs.conftest import Archive, review_case, stored_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def wake_ups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """The wake-ups the services send (no broker: the tests run the task themselves)."""
    sent: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, **kwargs: Any) -> bool:
        sent.append((name, kwargs))
        return True

    monkeypatch.setattr(services, "job_enqueue", record)
    monkeypatch.setattr(services, "job_enqueue_on_commit", record)
    return sent


@pytest.fixture
def doctor_named(doctor: User) -> User:
    doctor.first_name, doctor.last_name = "Ada", "Lovelace"
    doctor.save()
    return doctor


def _send_all(wake_ups: list[tuple[str, dict[str, Any]]]) -> list[PacsExport | None]:
    """Run the task of every wake-up sent so far, as a worker would (and forget them)."""
    todo = [kw for name, kw in wake_ups if name == services.PACS_EXPORT_SEND]
    wake_ups.clear()
    done: list[PacsExport | None] = []
    for kw in todo:
        tasks.pacs_export_send(export_id=kw["export_id"])
        done.append(PacsExport.objects.filter(pk=kw["export_id"]).first())
    return done


def _codes(items: list[Any]) -> list[str]:
    return [item.value.meaning for item in items]


def test_a_final_review_is_stored_in_the_pacs_as_an_sr_that_highdicom_reads_back(
    archive: Archive, wake_ups: list[Any], doctor_named: User, version: ModelVersion
) -> None:
    instances = review_case(version, images=2)
    reviewed = instances[0]
    review = review_record(instance=reviewed, reviewer=doctor_named, decision="accept")

    export = PacsExport.objects.get(review=review)
    assert export.status == PacsExport.Status.QUEUED and export.trigger == "auto"
    assert wake_ups == [(services.PACS_EXPORT_SEND, {"export_id": export.pk})]
    [done] = _send_all(wake_ups)
    assert done is not None and done.status == PacsExport.Status.SENT and done.sent_at
    assert archive.calling == ["MEDASSIST"]

    [path] = archive.received
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == ComprehensiveSRStorage
    assert ds.SOPInstanceUID == export.sr_sop_instance_uid
    source = pydicom.dcmread(io.BytesIO(stored_bytes(reviewed)))
    # Patient and study identity are the source image's.
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "AccessionNumber"):
        assert ds.get(keyword) == source.get(keyword), keyword
    assert ds.CompletionFlag == "COMPLETE" and ds.PreliminaryFlag == "FINAL"
    assert ds.VerificationFlag == "VERIFIED"
    assert ds.VerifyingObserverSequence[0].VerifyingObserverName == "Lovelace^Ada"
    assert "PredecessorDocumentsSequence" not in ds

    sr = hd.sr.srread(path)
    # Every image of the study is evidence; the reviewed one is what the findings are about.
    evidence = {(sop, cls) for _, _, sop, cls in sr.get_evidence()}
    assert evidence == {(i.sop_instance_uid, i.sop_class_uid) for i in instances}
    report = sr.content
    assert isinstance(report, hd.sr.MeasurementReport)
    [person] = report.get_observer_contexts(observer_type=codes.DCM.Person)
    assert str(person.observer_identifying_attributes.name) == "Lovelace^Ada"
    assert person.observer_identifying_attributes.login_name == doctor_named.username
    [device] = report.get_observer_contexts(observer_type=codes.DCM.Device)
    attributes = device.observer_identifying_attributes
    assert attributes.uid == model_device_uid(version)
    assert attributes.name == "MedAssist image model v7"

    groups = report.get_image_measurement_groups(
        referenced_sop_instance_uid=reviewed.sop_instance_uid
    )
    by_name = {g.tracking_identifier.split(" (")[0]: g for g in groups}
    assert set(by_name) == {"Doctor's review", "AI suggestion"}
    doctors = by_name["Doctor's review"]
    assert [s.referenced_sop_instance_uid for s in doctors.source_images] == [
        reviewed.sop_instance_uid
    ]
    nodule = Finding.objects.get(code="nodule")
    assert doctors.finding_type.meaning == nodule.name
    assert _codes(doctors.get_qualitative_evaluations()) == ["Accepted the AI suggestion"]
    ai = by_name["AI suggestion"]
    assert ai.finding_type.meaning == nodule.name
    algorithm = {
        item.name.meaning: item.value
        for item in hd.sr.utils.find_content_items(ai[0], value_type=hd.sr.ValueTypeValues.TEXT)
    }
    assert algorithm["Algorithm Name"] == "MedAssist image model"
    assert algorithm["Algorithm Version"] == "v7"
    [probability] = ai.get_measurements()
    assert float(probability.value) == pytest.approx(0.87)

    events = AuditEvent.objects.filter(object_id=str(export.pk), object_type="diagnosis.PacsExport")
    assert list(events.order_by("pk").values_list("action", "detail__result")) == [
        ("pacs.export.queue", None),
        ("pacs.export.send", "sent"),
    ]
    assert events.get(action="pacs.export.queue").actor == doctor_named


def test_an_amended_review_sends_a_new_sr_naming_the_one_it_replaces(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion
) -> None:
    [image] = review_case(version)
    first = review_record(instance=image, reviewer=doctor, decision="accept")
    _send_all(wake_ups)
    amended = review_record(
        instance=image,
        reviewer=doctor,
        decision="correct",
        findings=[Finding.objects.get(code="normal")],
    )
    _send_all(wake_ups)

    old, new = PacsExport.objects.get(review=first), PacsExport.objects.get(review=amended)
    assert new.replaces == old and new.status == PacsExport.Status.SENT
    assert len(archive.received) == 2
    ds = pydicom.dcmread(archive.received[1])
    assert ds.SOPInstanceUID == new.sr_sop_instance_uid
    [study] = ds.PredecessorDocumentsSequence
    assert study.StudyInstanceUID == ds.StudyInstanceUID
    [series] = study.ReferencedSeriesSequence
    [ref] = series.ReferencedSOPSequence
    assert (ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID) == (
        ComprehensiveSRStorage,
        old.sr_sop_instance_uid,
    )
    # Both SRs sit in the study's one MedAssist SR series.
    assert series.SeriesInstanceUID == ds.SeriesInstanceUID
    doctors = hd.sr.srread(archive.received[1]).content.get_image_measurement_groups()[0]
    assert doctors.finding_type.meaning == Finding.objects.get(code="normal").name
    assert _codes(doctors.get_qualitative_evaluations()) == ["Corrected the AI suggestion"]


def test_an_export_still_waiting_when_the_review_is_amended_is_never_sent(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion
) -> None:
    [image] = review_case(version)
    first = review_record(instance=image, reviewer=doctor, decision="accept")
    amended = review_record(instance=image, reviewer=doctor, decision="reject")
    _send_all(wake_ups)

    waiting = PacsExport.objects.get(review=first)
    assert waiting.status == PacsExport.Status.REPLACED and waiting.attempts == 0
    new = PacsExport.objects.get(review=amended)
    # Nothing of the first reached the archive, so the new SR names no predecessor.
    assert new.replaces is None and new.status == PacsExport.Status.SENT
    [path] = archive.received
    assert "PredecessorDocumentsSequence" not in pydicom.dcmread(path)


def test_with_the_archive_down_the_export_fails_with_a_retry_and_is_sent_later(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion
) -> None:
    archive.stop()
    [image] = review_case(version)
    review = review_record(instance=image, reviewer=doctor, decision="accept")
    [failed] = _send_all(wake_ups)

    assert failed is not None and failed.status == PacsExport.Status.FAILED
    assert failed.attempts == 1 and "Could not connect" in failed.last_error
    assert failed.next_attempt_at is not None
    assert failed.next_attempt_at - timezone.now() > timedelta(seconds=50)
    # The retry's wake-up is on its way with the backoff; until it is due, nothing happens.
    assert wake_ups == [(services.PACS_EXPORT_SEND, {"countdown": 60, "export_id": failed.pk})]
    assert services.pacs_export_send(export_id=failed.pk) is None
    wake_ups.clear()

    # The wake-up is lost; once the retry is due the sweep sends it again.
    later = failed.next_attempt_at + timedelta(minutes=2)
    assert services.pacs_export_sweep(now=later) == {"woken": 1, "stuck": 0}
    archive.start()
    [woken] = [kw for _, kw in wake_ups]
    sent = services.pacs_export_send(export_id=woken["export_id"], now=later)
    assert sent is not None and sent.status == PacsExport.Status.SENT and sent.attempts == 2
    assert sent.last_error == ""
    assert [d.SOPInstanceUID for d in archive.datasets()] == [sent.sr_sop_instance_uid]
    results = AuditEvent.objects.filter(action="pacs.export.send", object_id=str(sent.pk))
    assert list(results.order_by("pk").values_list("detail__result", "detail__attempt")) == [
        ("failed", 1),
        ("sent", 2),
    ]
    assert PacsExport.objects.get(review=review) == sent


def test_a_refusing_archive_is_retried_then_given_up_with_the_reason(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion, settings: Any
) -> None:
    archive.answer = 0xA700  # out of resources
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    [export] = _send_all(wake_ups)
    assert export is not None
    for _ in range(settings.MEDASSIST_PACS_MAX_ATTEMPTS - 1):
        assert export is not None and export.next_attempt_at is not None
        export = services.pacs_export_send(export_id=export.pk, now=export.next_attempt_at)
    assert export is not None and export.status == PacsExport.Status.FAILED
    assert export.attempts == 3 and export.next_attempt_at is None
    assert "status 0xA700" in export.last_error
    assert not archive.received
    # Given up: the sweep leaves it alone (the doctor's button retries it).
    assert services.pacs_export_sweep(now=timezone.now() + timedelta(hours=2)) == {
        "woken": 0,
        "stuck": 0,
    }


def test_a_send_whose_worker_died_is_taken_back_by_the_sweep(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion
) -> None:
    [image] = review_case(version)
    review = review_record(instance=image, reviewer=doctor, decision="accept")
    export = PacsExport.objects.get(review=review)
    PacsExport.objects.filter(pk=export.pk).update(
        status=PacsExport.Status.SENDING, attempts=1, claimed_at=timezone.now()
    )
    wake_ups.clear()
    now = timezone.now() + timedelta(minutes=10)
    assert services.pacs_export_sweep(now=now)["stuck"] == 1
    export.refresh_from_db()
    assert export.status == PacsExport.Status.FAILED and "worker stopped" in export.last_error
    assert services.pacs_export_send(export_id=export.pk, now=export.next_attempt_at).status == (
        PacsExport.Status.SENT
    )


def test_the_heatmap_goes_as_a_labelled_secondary_capture_when_enabled(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion, settings: Any
) -> None:
    settings.MEDASSIST_PACS_SECONDARY_CAPTURE = True
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    [export] = _send_all(wake_ups)
    assert export is not None and export.status == PacsExport.Status.SENT
    assert export.sc_sop_instance_uid

    sr, sc = archive.datasets()
    assert sr.SOPClassUID == ComprehensiveSRStorage
    assert sc.SOPClassUID == SecondaryCaptureImageStorage
    assert sc.SOPInstanceUID == export.sc_sop_instance_uid
    assert sc.StudyInstanceUID == sr.StudyInstanceUID and sc.PatientID == sr.PatientID
    assert "AI saliency" in sc.SeriesDescription and "decision support" in sc.SeriesDescription
    assert sc.BurnedInAnnotation == "YES"
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == image.sop_instance_uid
    pixels = sc.pixel_array
    assert pixels.shape == (image.rows, image.columns, 3) and pixels.dtype == np.uint8
    # The heatmap (red) is on the image, and the image's own grey is there too.
    assert pixels[16, 16, 0] > pixels[16, 16, 2] + 60
    assert np.ptp(pixels[40:, 40:, 1]) > 0


def test_manual_mode_waits_for_the_doctors_button_and_shows_the_status(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion, settings: Any
) -> None:
    settings.MEDASSIST_PACS_SEND = "manual"
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    assert not PacsExport.objects.exists() and not wake_ups

    client = Client()
    client.force_login(doctor)
    case_url = reverse("diagnosis:case", kwargs={"instance_id": image.pk})
    page = client.get(case_url).content.decode()
    assert 'data-testid="pacs-send"' in page and "Send to PACS" in page

    send_url = reverse("diagnosis:pacs-send", kwargs={"instance_id": image.pk})
    assert client.post(send_url)["Location"] == case_url
    export = PacsExport.objects.get()
    assert export.trigger == "manual" and export.requested_by == doctor
    _send_all(wake_ups)
    page = client.get(case_url).content.decode()
    assert 'data-status="sent"' in page and 'data-testid="pacs-send"' not in page
    assert len(archive.received) == 1
    # A second press sends nothing again.
    client.post(send_url)
    assert PacsExport.objects.count() == 1 and not wake_ups

    # The polled panel is the fragment alone, and stops polling once nothing moves.
    status_url = reverse("diagnosis:pacs-status", kwargs={"instance_id": image.pk})
    fragment = client.get(status_url, headers={"HX-Request": "true"})
    assert fragment.status_code == 286
    assert b'id="pacs"' in fragment.content and b"<html" not in fragment.content


def test_a_failed_export_is_shown_with_its_reason_and_the_doctor_can_retry_it_now(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion
) -> None:
    archive.stop()
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    [failed] = _send_all(wake_ups)
    wake_ups.clear()
    client = Client()
    client.force_login(doctor)
    page = client.get(reverse("diagnosis:case", kwargs={"instance_id": image.pk})).content
    assert b'data-status="failed"' in page and b"Could not connect" in page
    assert b"next try at" in page and b"Retry sending to PACS now" in page

    archive.start()
    client.post(reverse("diagnosis:pacs-send", kwargs={"instance_id": image.pk}))
    [sent] = _send_all(wake_ups)
    assert sent is not None and sent.pk == failed.pk and sent.status == PacsExport.Status.SENT
    assert AuditEvent.objects.filter(action="pacs.export.retry", actor=doctor).count() == 1


def test_a_nurse_cannot_send_to_the_pacs(
    archive: Archive,
    wake_ups: list[Any],
    doctor: User,
    nurse: User,
    version: ModelVersion,
    settings: Any,
) -> None:
    settings.MEDASSIST_PACS_SEND = "manual"
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    client = Client()
    client.force_login(nurse)
    response = client.post(reverse("diagnosis:pacs-send", kwargs={"instance_id": image.pk}))
    assert response.status_code == 403
    assert not PacsExport.objects.exists()


def test_an_image_without_a_final_review_is_not_sent(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion, settings: Any
) -> None:
    settings.MEDASSIST_PACS_SEND = "manual"
    [image] = review_case(version)
    client = Client()
    client.force_login(doctor)
    client.post(reverse("diagnosis:pacs-send", kwargs={"instance_id": image.pk}))
    assert not PacsExport.objects.exists()
    # With sending off, the case page shows no PACS panel at all.
    settings.MEDASSIST_PACS_SEND = "off"
    page = client.get(reverse("diagnosis:case", kwargs={"instance_id": image.pk})).content
    assert b'data-testid="pacs"' not in page


def test_with_double_reading_only_the_agreed_read_goes_to_the_pacs(
    archive: Archive, wake_ups: list[Any], doctor: User, version: ModelVersion, settings: Any
) -> None:
    settings.MEDASSIST_DOUBLE_READING = True
    second = make_user("dr-second", "doctor")
    [image] = review_case(version)
    review_record(instance=image, reviewer=doctor, decision="accept")
    assert not PacsExport.objects.exists()  # one read of two: not final yet

    agreed = review_record(instance=image, reviewer=second, decision="accept")
    [sent] = _send_all(wake_ups)
    assert sent is not None and sent.review == agreed and sent.status == PacsExport.Status.SENT
    [person] = hd.sr.srread(archive.received[0]).content.get_observer_contexts(
        observer_type=codes.DCM.Person
    )
    assert person.observer_identifying_attributes.login_name == "dr-second"
