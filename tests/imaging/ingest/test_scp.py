"""The C-STORE listener, driven by pynetdicom as a PACS would drive it, on real PostgreSQL.

The listener runs in background threads of this process and uses its own database
connections, so these tests use ``transactional_db``: a success status is only worth something
if the instance is visible to another connection, i.e. committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.association import Association
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from rest_framework.authtoken.models import Token

from imaging.ingest.scp import CONFLICT, ScpConfig, scp_config_from_settings, scp_start
from imaging.models import IngestConflict, Instance, NonImageInstance, Series, Study
from medassist.models import AuditEvent, Patient
from tests.conftest import ROOT
from tests.factories import file_without_pixels, synthetic_file
from tests.imaging.nonimage import NON_IMAGE_FILES

PACS = "TEST_PACS"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener(postgres: None) -> Iterator[Callable[..., int]]:
    """Start a listener with the given config overrides; returns its port. Stopped after."""
    servers = []

    def start(**overrides: object) -> int:
        config = ScpConfig(
            port=0, bind_address="127.0.0.1", allowed_calling_ae_titles=(PACS,)
        ).with_overrides(**overrides)
        server = scp_start(config=config)
        servers.append(server)
        return int(server.server_address[1])

    yield start
    for server in servers:
        ae = server.ae
        server.shutdown()
        # Associations end (and close their DB connections) before the test DB is flushed.
        deadline = time.monotonic() + 10
        while ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def port(listener: Callable[..., int]) -> int:
    return listener()


def _associate(
    port: int, datasets: list[Dataset], *, calling: str = PACS, called: str = "MEDASSIST"
) -> Association:
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    return ae.associate("127.0.0.1", port, ae_title=called)


def _rejection(assoc: Association) -> tuple[int, int, int]:
    """(result, source, reason) of the A-ASSOCIATE-RJ the requestor received."""
    assert assoc.is_rejected
    answer = assoc.acceptor.primitive
    return (answer.result, answer.result_source, answer.diagnostic)


def c_store(port: int, *datasets: Dataset) -> list[Dataset]:
    """Push ``datasets`` over one association the way a PACS does; the response of each."""
    assoc = _associate(port, list(datasets))
    assert assoc.is_established, "the listener refused the association"
    try:
        return [assoc.send_c_store(ds) for ds in datasets]
    finally:
        assoc.release()


def _read(data: bytes) -> Dataset:
    return pydicom.dcmread(pydicom.filebase.DicomBytesIO(data))


def _body(part10: bytes) -> bytes:
    """The data set of a Part 10 file, after the preamble, 'DICM' and the file meta group."""
    # (0002,0000) File Meta Information Group Length: tag, 'UL', length 4, then the value.
    (meta_length,) = struct.unpack("<I", part10[140:144])
    return part10[144 + meta_length :]


def _stored_bytes(instance: Instance) -> bytes:
    return (Path(settings.MEDIA_ROOT) / instance.storage_key).read_bytes()


def _stored_files() -> list[Path]:
    return [p for p in Path(settings.MEDIA_ROOT).rglob("*.dcm")]


# pydicom's own test files: one per transfer syntax family the listener accepts.
REAL_FILES = [
    "CT_small.dcm",  # Explicit VR Little Endian
    "MR_small.dcm",
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "image_dfl.dcm",  # Deflated Explicit VR Little Endian
    "MR_small_RLE.dcm",  # RLE Lossless
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG Baseline
    "JPGLosslessP14SV1_1s_1f_8b.dcm",  # JPEG Lossless SV1
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless
    "JPEG2000.dcm",  # JPEG 2000
    "emri_small.dcm",  # multi-frame
]


def _sources() -> list[tuple[str, Callable[[], bytes]]]:
    def real(name: str) -> Callable[[], bytes]:
        return lambda: Path(str(get_testdata_file(name))).read_bytes()

    return [
        *((name, real(name)) for name in REAL_FILES),
        ("synthetic-CR", lambda: synthetic_file(1)),
        ("synthetic-CT", lambda: synthetic_file(2, modality="CT")),
    ]


def test_c_echo_answers_success_to_an_allowed_sender(port: int) -> None:
    assoc = _associate(port, [])
    assert assoc.is_established
    try:
        assert assoc.send_c_echo().Status == 0x0000
    finally:
        assoc.release()


@pytest.mark.parametrize(("name", "build"), _sources(), ids=[s[0] for s in _sources()])
def test_a_pushed_image_is_stored_exactly_and_committed_before_success(
    port: int, name: str, build: Callable[[], bytes]
) -> None:
    original = build()
    sent = _read(original)

    (response,) = c_store(port, sent)

    assert response.Status == 0x0000, response.get("ErrorComment")
    # This test's own connection sees the row: it was committed before the success status.
    instance = Instance.objects.get(sop_instance_uid=sent.SOPInstanceUID)
    assert instance.source == "c-store"
    assert instance.uploaded_by is None
    stored = _stored_bytes(instance)
    assert hashlib.sha256(stored).hexdigest() == instance.sha256
    assert stored[:128] == b"\0" * 128
    received = _read(stored)
    assert received.file_meta.TransferSyntaxUID == sent.file_meta.TransferSyntaxUID
    if sent.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian:
        # The sender deflates again with its own zlib settings: compare what was deflated.
        assert received == sent
    else:
        # The data set arrived byte for byte, in the transfer syntax it was sent in.
        assert _body(stored) == _body(original)
    assert (received.pixel_array == sent.pixel_array).all()


def test_the_audit_names_the_sending_peer_and_its_calling_ae_title(port: int) -> None:
    sent = _read(synthetic_file(31))
    (response,) = c_store(port, sent)
    assert response.Status == 0x0000
    instance = Instance.objects.get(sop_instance_uid=sent.SOPInstanceUID)
    event = AuditEvent.objects.get(action="instance.ingest", object_id=str(instance.pk))
    assert event.remote_addr == "127.0.0.1"
    assert event.detail["calling_ae_title"] == PACS
    assert event.detail["source"] == "c-store"


def test_an_image_without_its_pixel_data_is_refused_and_nothing_is_stored(port: int) -> None:
    ds = _read(file_without_pixels())

    (response,) = c_store(port, ds)

    assert 0xC000 <= response.Status <= 0xCFFF  # Error: Cannot understand
    assert "no pixel data" in response.ErrorComment
    assert [m.objects.count() for m in (Patient, Study, Series, Instance)] == [0, 0, 0, 0]
    assert _stored_files() == []


def test_a_pacs_pushing_a_whole_study_with_its_reports_sees_only_successes(port: int) -> None:
    study_uid = generate_uid()
    images = [_read(synthetic_file(n, patient_id="PUSH-ALL", study_uid=study_uid)) for n in (1, 2)]
    others = [_read(build()) for _name, build, _cls, _mod in NON_IMAGE_FILES]
    # pydicom's own test objects belong to their own studies; file them in this one. Two of
    # them are versions of one report under one SOP Instance UID: make them two reports.
    seen: set[str] = set()
    for ds in others:
        ds.StudyInstanceUID = study_uid
        ds.PatientID = "PUSH-ALL"
        if ds.SOPInstanceUID in seen:
            ds.SOPInstanceUID = generate_uid()
        seen.add(ds.SOPInstanceUID)
    sent = [*images, *others]

    responses = c_store(port, *sent)

    assert [r.Status for r in responses] == [0x0000] * len(sent), [
        r.get("ErrorComment") for r in responses
    ]
    assert Instance.objects.count() == len(images)
    stored = NonImageInstance.objects.filter(series__study__study_instance_uid=study_uid)
    assert sorted(stored.values_list("sop_instance_uid", flat=True)) == sorted(
        ds.SOPInstanceUID for ds in others
    )
    assert {row.source for row in stored} == {"c-store"}
    # The same push again (a PACS retrying after a lost answer) succeeds and stores nothing.
    again = c_store(port, *others)
    assert [r.Status for r in again] == [0x0000] * len(others)
    assert NonImageInstance.objects.count() == len(others)


def test_a_data_set_over_the_limit_is_cut_off_as_it_arrives_and_leaves_no_file(
    port: int, settings, tmp_path: Path, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 1_000_000
    # pynetdicom spools received data sets to the temporary folder: watch that one.
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    big = _read(synthetic_file(41))
    big.DataSetTrailingPadding = b"\0" * 8_000_000
    assoc = _associate(port, [big])
    assert assoc.is_established

    with caplog.at_level(logging.WARNING, logger="imaging.ingest.scp"):
        answer = assoc.send_c_store(big)
        deadline = time.monotonic() + 10
        while not assoc.is_aborted and time.monotonic() < deadline:
            time.sleep(0.05)

    assert "Status" not in answer  # no C-STORE answer: the association was aborted
    assert assoc.is_aborted
    assert "passed the 1 MB limit (MEDASSIST_MAX_UPLOAD_BYTES)" in caplog.text
    assert caplog.text.count("passed the 1 MB limit") == 1
    assert not Instance.objects.exists()
    assert list(spool.iterdir()) == []
    # The listener goes on serving, and a data set within the limit is stored.
    small = _read(synthetic_file(42))
    (stored,) = c_store(port, small)
    assert stored.Status == 0x0000
    assert list(spool.iterdir()) == []


def test_the_size_limit_counts_the_data_set_not_the_file_meta_the_listener_adds(
    port: int, settings
) -> None:  # type: ignore[no-untyped-def]
    # Just within what the network check lets through (the file meta group is extra).
    ds = _read(synthetic_file(43))
    settings.MEDASSIST_MAX_UPLOAD_BYTES = len(_body(synthetic_file(43))) + 2_000
    ds.DataSetTrailingPadding = b"\0" * 1_500

    (response,) = c_store(port, ds)

    assert response.Status == 0x0000  # the limit counts the data set, not the listener's meta
    assert Instance.objects.count() == 1


def test_an_unknown_calling_ae_title_is_rejected_at_association(port: int) -> None:
    ds = _read(synthetic_file(3))

    assoc = _associate(port, [ds], calling="STRANGER")

    # Rejected-permanent, by the service user: calling AE title not recognised.
    assert _rejection(assoc) == (0x01, 0x01, 0x03)
    assert not Instance.objects.exists()


def test_an_association_calling_another_ae_title_is_rejected_and_the_log_says_why(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    ds = _read(synthetic_file(3))

    with caplog.at_level(logging.WARNING, logger="imaging.ingest.scp"):
        # An allowed sender that was given another node's AE title as its destination.
        assoc = _associate(port, [ds], called="OTHER_ARCHIVE")

    # Rejected-permanent, by the service user: called AE title not recognised.
    assert _rejection(assoc) == (0x01, 0x01, 0x07)
    assert not Instance.objects.exists()
    (record,) = [r for r in caplog.records if "Refused DICOM association" in r.getMessage()]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    assert f"from {PACS!r} at 127.0.0.1" in message
    assert "called AE title 'OTHER_ARCHIVE'" in message
    assert "this listener is 'MEDASSIST' (MEDASSIST_SCP_AE_TITLE)" in message


def test_a_wrong_called_ae_title_is_the_reason_given_even_for_an_unknown_sender(
    port: int,
) -> None:
    assoc = _associate(port, [], calling="STRANGER", called="OTHER_ARCHIVE")

    assert _rejection(assoc) == (0x01, 0x01, 0x07)


def test_the_listener_answers_to_the_ae_title_of_its_setting_only(
    listener: Callable[..., int], settings
) -> None:  # type: ignore[no-untyped-def]
    settings.MEDASSIST_SCP_AE_TITLE = "ARCHIVE_1"
    configured = scp_config_from_settings()
    port = listener(ae_title=configured.ae_title)
    ds = _read(synthetic_file(7))

    assert _rejection(_associate(port, [ds], called="MEDASSIST")) == (0x01, 0x01, 0x07)
    assoc = _associate(port, [ds], called="ARCHIVE_1")
    assert assoc.is_established
    try:
        assert assoc.send_c_store(ds).Status == 0x0000
    finally:
        assoc.release()
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


def test_with_no_allowed_ae_titles_every_sender_is_refused(
    listener: Callable[..., int],
) -> None:
    port = listener(allowed_calling_ae_titles=())

    assert _rejection(_associate(port, [], calling=PACS)) == (0x01, 0x01, 0x03)


def test_allow_any_lets_any_calling_ae_title_in(listener: Callable[..., int]) -> None:
    port = listener(allowed_calling_ae_titles=(), allow_any_calling_ae=True)

    assoc = _associate(port, [], calling="ANYONE")
    assert assoc.is_established
    assoc.release()


def test_an_identical_resend_is_a_success_and_stored_once(port: int) -> None:
    ds = _read(synthetic_file(4))

    first, again = c_store(port, ds, ds)
    (later,) = c_store(port, ds)  # a retry on a new association, as after a lost response

    assert [first.Status, again.Status, later.Status] == [0x0000, 0x0000, 0x0000]
    assert Instance.objects.count() == 1
    assert len(_stored_files()) == 1


def test_a_different_image_with_a_stored_uid_fails_and_the_original_is_untouched(
    port: int,
) -> None:
    # MR_small with one pixel changed, sent RLE-free in another syntax: another image.
    original = _read(Path(str(get_testdata_file("MR_small.dcm"))).read_bytes())
    impostor = _read(Path(str(get_testdata_file("MR_small_implicit.dcm"))).read_bytes())
    pixels = impostor.pixel_array.copy()
    pixels[0, 0] += 1
    impostor.PixelData = pixels.tobytes()
    assert original.SOPInstanceUID == impostor.SOPInstanceUID
    (stored,) = c_store(port, original)
    assert stored.Status == 0x0000
    before = Instance.objects.get()
    before_bytes = _stored_bytes(before)

    (response,) = c_store(port, impostor)

    assert response.Status == CONFLICT
    assert 0xA900 <= response.Status <= 0xA9FF
    assert "same SOP Instance UID" in response.ErrorComment
    after = Instance.objects.get()
    assert (after.pk, after.sha256, after.storage_key) == (
        before.pk,
        before.sha256,
        before.storage_key,
    )
    assert _stored_bytes(after) == before_bytes


# --- One image, one identity across paths ------------------------------------------------


def _stow(live_server, user: User, data: bytes) -> requests.Response:  # type: ignore[no-untyped-def]
    token = Token.objects.get_or_create(user=user)[0].key
    body = b"--b0und\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n--b0und--\r\n"
    return requests.post(
        f"{live_server.url}/imaging/dicomweb/studies",
        data=body,
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=b0und',
        },
        timeout=30,
    )


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_RLE.dcm"])
def test_an_image_stored_by_stow_then_pushed_by_c_store_is_a_success_stored_once(
    port: int, live_server, doctor: User, name: str
) -> None:  # type: ignore[no-untyped-def]
    original = Path(str(get_testdata_file(name))).read_bytes()
    first = _stow(live_server, doctor, original)
    assert first.status_code == 200, first.text
    kept = Instance.objects.get()

    # The listener writes its own file meta group around the data set it receives.
    (response,) = c_store(port, _read(original))

    assert response.Status == 0x0000, response.get("ErrorComment")
    assert Instance.objects.get().storage_key == kept.storage_key
    assert not IngestConflict.objects.exists()
    assert len(_stored_files()) == 1


def test_an_image_pushed_by_c_store_then_stored_by_stow_is_listed_as_already_stored(
    port: int, live_server, doctor: User
) -> None:  # type: ignore[no-untyped-def]
    original = Path(str(get_testdata_file("MR_small.dcm"))).read_bytes()
    (response,) = c_store(port, _read(original))
    assert response.Status == 0x0000
    kept = Instance.objects.get()

    # The same image, as another archive keeps it: RLE compressed.
    again = _stow(
        live_server, doctor, Path(str(get_testdata_file("MR_small_RLE.dcm"))).read_bytes()
    )

    assert again.status_code == 200, again.text
    (item,) = again.json()["00081199"]["Value"]
    assert item["00081155"]["Value"] == [kept.sop_instance_uid]
    assert "already stored" in item["00091001"]["Value"][0]
    assert "already stored" in again.headers["Warning"]
    assert "00081198" not in again.json() or not again.json()["00081198"].get("Value")
    assert Instance.objects.get().storage_key == kept.storage_key
    assert not IngestConflict.objects.exists()


def test_another_image_under_a_uid_stored_by_stow_is_refused_by_c_store_and_kept_aside(
    port: int, live_server, doctor: User
) -> None:  # type: ignore[no-untyped-def]
    assert _stow(live_server, doctor, synthetic_file(5)).status_code == 200
    kept = Instance.objects.get()
    impostor = _read(synthetic_file(6))
    impostor.SOPInstanceUID = kept.sop_instance_uid
    impostor.StudyInstanceUID = _read(_stored_bytes(kept)).StudyInstanceUID
    impostor.SeriesInstanceUID = _read(_stored_bytes(kept)).SeriesInstanceUID

    (response,) = c_store(port, impostor)

    assert response.Status == CONFLICT
    assert Instance.objects.get().sha256 == kept.sha256
    assert IngestConflict.objects.get().existing_instance == kept


def test_an_unexpected_error_is_a_failure_status_and_the_listener_keeps_serving(
    port: int, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good_media = settings.MEDIA_ROOT
    # A real storage fault, no mock: the media "directory" is a plain file.
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    settings.MEDIA_ROOT = blocked
    ds = _read(synthetic_file(5))

    (failed,) = c_store(port, ds)

    assert 0xC000 <= failed.Status <= 0xCFFF
    assert "retry" in failed.ErrorComment
    assert not Instance.objects.exists()

    settings.MEDIA_ROOT = good_media
    (retried,) = c_store(port, ds)
    assert retried.Status == 0x0000
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("processes", [1, 2])
def test_the_dicom_scp_command_answers_c_echo_and_stops_cleanly_on_ctrl_c(
    postgres: None, processes: int
) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "dicom_scp",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--allowed-ae-titles",
            PACS,
            "--processes",
            str(processes),
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assoc = _associate(port, [])
            if assoc.is_established:
                break
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.3)
        assert assoc.send_c_echo().Status == 0x0000
        assoc.release()
        # Every listener process sharing the port answers (the kernel spreads associations).
        for _ in range(4):
            again = _associate(port, [])
            assert again.is_established
            assert again.send_c_echo().Status == 0x0000
            again.release()

        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output.decode()
    assert output.count(b"DICOM listener stopped.") == processes
