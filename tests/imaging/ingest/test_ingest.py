"""The one ingest service: nothing lost, nothing dangerous kept.

Real DICOM files from pydicom's own test data cover the transfer syntaxes; generated files
(tests.factories) cover the rules. Everything runs on the real database and writes real
files under a temporary MEDIA_ROOT.
"""

from __future__ import annotations

import hashlib
import io
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import MPEG4HP41, DeflatedExplicitVRLittleEndian
from pytest_django.fixtures import Settings

from imaging.ingest import parsing
from imaging.ingest.errors import IngestError
from imaging.ingest.services import instance_ingest
from imaging.models import IngestConflict, Instance, Series, Study
from imaging.selectors import StoredFileError, instance_read_bytes, instance_read_dataset
from medassist.ml.synthetic import dicom_bytes
from medassist.models import AuditEvent, Patient
from tests.factories import (
    file_without_pixels,
    synthetic_dataset,
    synthetic_file,
    truncated_file,
)

pytestmark = pytest.mark.django_db


def pydicom_file(name: str) -> bytes:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom's test file {name} is missing"
    return Path(str(path)).read_bytes()


def media_files() -> list[Path]:
    """Every file under MEDIA_ROOT, stored, kept aside or temporary."""
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def row_counts() -> list[int]:
    return [m.objects.count() for m in (Patient, Study, Series, Instance, IngestConflict)]


def _with_dataset(data: bytes, **changes: Any) -> bytes:
    ds = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


# --- Transfer syntaxes -------------------------------------------------------------------

# (pydicom test file, transfer syntax UID, frames): the table docs/ingest.md reproduces.
DECODES: list[tuple[str, str, int]] = [
    ("MR_small_implicit.dcm", "1.2.840.10008.1.2", 1),
    ("CT_small.dcm", "1.2.840.10008.1.2.1", 1),
    ("MR_small_bigendian.dcm", "1.2.840.10008.1.2.2", 1),
    ("image_dfl.dcm", "1.2.840.10008.1.2.1.99", 1),
    ("MR_small_RLE.dcm", "1.2.840.10008.1.2.5", 1),
    ("SC_rgb_jpeg_dcmtk.dcm", "1.2.840.10008.1.2.4.50", 1),
    ("JPGExtended.dcm", "1.2.840.10008.1.2.4.51", 1),
    ("SC_rgb_jpeg_gdcm.dcm", "1.2.840.10008.1.2.4.70", 1),
    ("MR_small_jpeg_ls_lossless.dcm", "1.2.840.10008.1.2.4.80", 1),
    ("MR_small_jp2klossless.dcm", "1.2.840.10008.1.2.4.90", 1),
    ("JPEG2000.dcm", "1.2.840.10008.1.2.4.91", 1),
    ("rtdose.dcm", "1.2.840.10008.1.2", 15),
    ("SC_rgb_rle_2frame.dcm", "1.2.840.10008.1.2.5", 2),
    ("examples_ybr_color.dcm", "1.2.840.10008.1.2.4.50", 30),
]


@pytest.mark.parametrize(("name", "syntax", "frames"), DECODES, ids=[d[0] for d in DECODES])
def test_each_supported_transfer_syntax_is_stored_and_reads_back_intact(
    name: str, syntax: str, frames: int, doctor: User
) -> None:
    data = pydicom_file(name)
    original = pydicom.dcmread(io.BytesIO(data))
    assert original.file_meta.TransferSyntaxUID == syntax

    result = instance_ingest(data=data, uploaded_by=doctor)

    instance = result.instance
    assert result.created and not result.duplicate
    assert (instance.rows, instance.columns, instance.frames) == (
        original.Rows,
        original.Columns,
        frames,
    )
    stored = instance_read_bytes(instance=instance)  # verifies the SHA-256
    assert stored[128:] == data[128:]  # only the preamble may differ
    again = instance_read_dataset(instance=instance)
    assert again.pixel_array.shape == original.pixel_array.shape


def test_a_transfer_syntax_with_no_decoder_is_refused_naming_the_syntax() -> None:
    ds = pydicom.dcmread(io.BytesIO(pydicom_file("MR_small.dcm")))
    ds.PixelData = encapsulate([b"\0\0\0\x01not really an H.264 stream"])
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=buf.getvalue())

    assert refused.value.code == "unsupported_transfer_syntax"
    assert refused.value.status == 415
    assert "MPEG-4 AVC/H.264 High Profile" in str(refused.value)
    assert MPEG4HP41 in str(refused.value)
    assert row_counts() == [0, 0, 0, 0, 0]
    assert media_files() == []


def test_a_jpeg_no_installed_decoder_reads_is_refused_as_undecodable_naming_its_syntax() -> None:
    # pydicom's JPEG-lossy.dcm: a 12-bit JPEG Extended stream with a misplaced marker segment
    # that libjpeg rejects and Pillow cannot read at 12 bits (JPGExtended.dcm decodes).
    with pytest.raises(IngestError) as refused:
        instance_ingest(data=pydicom_file("JPEG-lossy.dcm"))

    assert refused.value.code == "undecodable"
    assert "JPEG Extended" in str(refused.value)
    assert media_files() == []


# --- Refusals, each with its code --------------------------------------------------------


def _no_sop_uid() -> bytes:
    ds = synthetic_dataset(3)
    del ds.SOPInstanceUID
    return dicom_bytes(ds)


def _bad_uid() -> bytes:
    ds = synthetic_dataset(3)
    ds.StudyInstanceUID = "1.2.3/../../etc/passwd"
    return dicom_bytes(ds)


REFUSALS = [
    ("not-dicom", lambda: b"hello", "not_dicom", "not a DICOM file"),
    ("truncated-pixels", lambda: truncated_file(2), "truncated", "truncated"),
    ("truncated-header", lambda: synthetic_file(2)[:400], "truncated", "truncated"),
    ("no-pixel-data", file_without_pixels, "no_pixel_data", "no pixel data"),
    ("missing-uid", _no_sop_uid, "missing_uid", "no SOPInstanceUID"),
    ("invalid-uid", _bad_uid, "invalid_uid", "not a valid UID"),
]


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize(
    ("build", "code", "words"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_a_bad_file_is_refused_with_its_code_and_a_reason_and_stores_nothing(
    build: Any, code: str, words: str
) -> None:
    with pytest.raises(IngestError) as refused:
        instance_ingest(data=build())

    assert refused.value.code == code
    assert 400 <= refused.value.status < 500
    assert words in str(refused.value)
    assert row_counts() == [0, 0, 0, 0, 0]
    assert media_files() == []


def test_a_multiframe_file_missing_frames_is_refused_as_truncated() -> None:
    # Two RLE fragments, but the header promises three frames: each fragment decodes, and
    # only counting them shows a frame is missing (the viewer would fail on it later).
    data = _with_dataset(pydicom_file("SC_rgb_rle_2frame.dcm"), NumberOfFrames=3)

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=data)

    assert refused.value.code == "truncated"
    assert "3 frame(s) but holds 2" in str(refused.value)
    assert media_files() == []


# --- Limits ------------------------------------------------------------------------------


def test_an_image_over_the_pixel_limit_is_refused_before_any_decoding(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.MEDASSIST_MAX_PIXELS = 64 * 64 - 1  # the synthetic image is 64 x 64
    decoded: list[object] = []
    monkeypatch.setattr(parsing, "iter_pixels", lambda ds: decoded.append(ds) or iter(()))

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=synthetic_file(4))

    assert (refused.value.code, refused.value.status) == ("too_large", 413)
    assert "64 x 64 pixels x 1 frame(s)" in str(refused.value)
    assert "4,095" in str(refused.value)
    assert decoded == []  # spy: the decoders were never reached
    assert media_files() == []


def test_huge_rows_and_columns_in_the_header_are_refused_without_decoding() -> None:
    # 65535 x 65535 x 3 frames would be 25 GB of pixels if anyone tried to decode it.
    data = _with_dataset(synthetic_file(5), Rows=65535, Columns=65535, NumberOfFrames=3)

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=data)

    assert refused.value.code == "too_large"
    assert "65535 x 65535 pixels x 3 frame(s)" in str(refused.value)


def deflated_file(seed: int, *, padding: int) -> bytes:
    """A Deflated Explicit VR Little Endian file whose dataset is followed by ``padding``
    zero bytes: a few kilobytes on the wire that inflate to ``padding`` bytes."""
    ds = synthetic_dataset(seed)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    _, offset = parsing._read_meta(data)
    plain = zlib.decompress(data[offset:], -zlib.MAX_WBITS)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [packer.compress(plain)]
    zeros = b"\0" * (1 << 20)
    for _ in range(padding // len(zeros)):
        body.append(packer.compress(zeros))
    body.append(packer.flush())
    return data[:offset] + b"".join(body)


def test_a_valid_deflated_file_is_stored() -> None:
    result = instance_ingest(data=deflated_file(6, padding=0))
    assert result.created
    assert instance_read_dataset(instance=result.instance).pixel_array.shape == (64, 64)


def test_a_deflate_bomb_is_refused_without_inflating_it(settings: Settings) -> None:
    settings.MEDASSIST_MAX_INFLATED_BYTES = 2 * 1024 * 1024
    bomb = deflated_file(7, padding=64 * 1024 * 1024)
    assert len(bomb) < 200_000  # 64 MB of zeros in under 200 kB

    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as refused:
            instance_ingest(data=bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (refused.value.code, refused.value.status) == ("bomb", 413)
    assert "decompression bomb" in str(refused.value)
    # Inflating it all would have taken 64 MB; the check stops one 1 MB chunk past 2 MB.
    assert peak < 8 * 1024 * 1024
    assert media_files() == []


def test_a_file_over_the_size_limit_is_refused_with_code_too_large(settings: Settings) -> None:
    settings.MEDASSIST_MAX_UPLOAD_BYTES = 5_000
    with pytest.raises(IngestError) as refused:
        instance_ingest(data=synthetic_file(8))
    assert (refused.value.code, refused.value.status) == ("too_large", 413)


# --- Preamble ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("magic", "kind"),
    [(b"MZ\x90\x00", "Windows PE"), (b"\x7fELF\x02\x01", "ELF"), (b"\xcf\xfa\xed\xfe", "Mach-O")],
    ids=["pe", "elf", "mach-o"],
)
def test_an_executable_preamble_is_zeroed_audited_and_the_image_still_stored(
    magic: bytes, kind: str, doctor: User
) -> None:
    clean = synthetic_file(9)
    polyglot = magic + b"\x41" * (128 - len(magic)) + clean[128:]

    result = instance_ingest(data=polyglot, uploaded_by=doctor)

    stored = instance_read_bytes(instance=result.instance)
    assert stored[:128] == b"\0" * 128
    assert stored[128:] == clean[128:]
    assert result.preamble_executable == kind
    alert = AuditEvent.objects.get(action="ingest.preamble_executable")
    assert alert.detail["kind"] == kind
    assert alert.actor == doctor
    assert alert.object_id == str(result.instance.pk)


def test_an_ordinary_preamble_raises_no_alert() -> None:
    instance_ingest(data=synthetic_file(10))
    assert not AuditEvent.objects.filter(action="ingest.preamble_executable").exists()


# --- Storage -----------------------------------------------------------------------------


def test_the_stored_file_is_verified_by_its_sha256_on_read() -> None:
    instance = instance_ingest(data=synthetic_file(11)).instance
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    assert hashlib.sha256(path.read_bytes()).hexdigest() == instance.sha256
    assert instance.storage_key.startswith("dicom/")
    assert [p.name for p in media_files()] == [path.name]  # no temporary file left behind

    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    with pytest.raises(StoredFileError, match="does not match its checksum"):
        instance_read_bytes(instance=instance)


def _fail(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("disk or database failed midway (injected)")


@pytest.mark.parametrize(
    "target",
    [
        "django.db.models.query.QuerySet.bulk_create",
        "imaging.ingest.services.audit_record_many",
        "os.replace",
        "os.fsync",
    ],
    ids=["instance-row", "audit-row", "rename", "flush"],
)
def test_a_failure_midway_leaves_no_orphan_file_and_no_half_written_rows(
    target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: the real thing cannot be made to fail on cue.
    monkeypatch.setattr(target, _fail)

    with pytest.raises(RuntimeError, match="injected"):
        instance_ingest(data=synthetic_file(12))

    assert row_counts() == [0, 0, 0, 0, 0]
    assert media_files() == []


# --- Duplicates and conflicts ------------------------------------------------------------


def test_the_same_bytes_twice_are_one_instance_and_a_duplicate() -> None:
    data = synthetic_file(13)
    first = instance_ingest(data=data)
    second = instance_ingest(data=data)

    assert (first.created, first.duplicate) == (True, False)
    assert (second.created, second.duplicate) == (False, True)
    assert second.instance.pk == first.instance.pk
    assert len(media_files()) == 1


def test_different_bytes_with_a_stored_uid_are_kept_aside_for_an_administrator(
    doctor: User,
) -> None:
    existing = instance_ingest(data=synthetic_file(14)).instance
    impostor = synthetic_dataset(15, finding="opacity")
    impostor.SOPInstanceUID = existing.sop_instance_uid
    impostor.file_meta.MediaStorageSOPInstanceUID = existing.sop_instance_uid
    data = dicom_bytes(impostor)

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=data, uploaded_by=doctor, source="stow")

    assert (refused.value.code, refused.value.status) == ("conflict", 409)
    assert "kept aside for an administrator" in str(refused.value)
    conflict = IngestConflict.objects.get()
    assert conflict.existing_instance == existing
    assert conflict.sop_instance_uid == existing.sop_instance_uid
    assert (conflict.source, conflict.received_by, conflict.resolved_at) == ("stow", doctor, None)
    assert conflict.storage_key.startswith("conflicts/")
    kept = (Path(settings.MEDIA_ROOT) / conflict.storage_key).read_bytes()
    assert kept[128:] == data[128:]
    assert hashlib.sha256(kept).hexdigest() == conflict.sha256 != existing.sha256
    assert conflict.size_bytes == len(kept)
    # The stored instance is untouched.
    assert instance_read_bytes(instance=Instance.objects.get()) == instance_read_bytes(
        instance=existing
    )
    audit = AuditEvent.objects.get(action="ingest.conflict")
    assert audit.detail["existing_instance_id"] == existing.pk
    assert audit.actor == doctor

    # The same conflicting bytes again are refused the same way and kept only once.
    with pytest.raises(IngestError):
        instance_ingest(data=data, uploaded_by=doctor)
    assert IngestConflict.objects.count() == 1
    assert len(media_files()) == 2


# --- One image, one identity -------------------------------------------------------------
# MR_small.dcm and its siblings carry one SOP Instance UID in several transfer syntaxes.
LOSSLESS_COPIES = [
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
]


def _rewrapped(data: bytes) -> bytes:
    """The same data set in another file meta group and preamble, as another path writes it."""
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.file_meta.ImplementationClassUID = "1.2.826.0.1.3680043.9.7777.1"
    ds.file_meta.ImplementationVersionName = "OTHER_ROUTER"
    ds.file_meta.SourceApplicationEntityTitle = "ROUTER"
    ds.preamble = b"\x01" * 128
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _implicit_copy(name: str, *, pixel_delta: int = 0, **changes: Any) -> bytes:
    """``name`` re-encoded as Implicit VR Little Endian, with the changes given."""
    ds = pydicom.dcmread(get_testdata_file(name))
    if pixel_delta:
        pixels = ds.pixel_array.copy()
        pixels[0, 0] += pixel_delta
        ds.PixelData = pixels.tobytes()
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, implicit_vr=True, little_endian=True, enforce_file_format=True)
    return buf.getvalue()


def test_the_same_data_set_in_another_file_meta_and_preamble_is_a_duplicate() -> None:
    data = synthetic_file(18)
    kept = instance_ingest(data=data, source="stow-rs").instance
    other = _rewrapped(data)
    assert hashlib.sha256(other).hexdigest() != kept.sha256  # another file...

    again = instance_ingest(data=other, source="c-store")

    assert (again.created, again.duplicate, again.instance.pk) == (False, True, kept.pk)
    assert Instance.objects.count() == 1
    assert IngestConflict.objects.count() == 0
    assert len(media_files()) == 1


def test_a_row_stored_before_the_data_set_hash_existed_gets_it_when_a_copy_arrives() -> None:
    data = synthetic_file(19)
    kept = instance_ingest(data=data).instance
    recorded = kept.dataset_sha256
    assert len(recorded) == 64
    Instance.objects.filter(pk=kept.pk).update(dataset_sha256="")  # as after the migration

    again = instance_ingest(data=_rewrapped(data))

    assert again.duplicate and again.instance.pk == kept.pk
    assert Instance.objects.get().dataset_sha256 == recorded


@pytest.mark.parametrize("copy", LOSSLESS_COPIES)
def test_the_same_image_resent_losslessly_in_another_syntax_is_a_duplicate(copy: str) -> None:
    kept = instance_ingest(data=pydicom_file("MR_small.dcm")).instance

    again = instance_ingest(data=pydicom_file(copy), source="c-store")

    assert (again.created, again.duplicate, again.instance.pk) == (False, True, kept.pk)
    stored = Instance.objects.get()
    assert (stored.sha256, stored.storage_key) == (kept.sha256, kept.storage_key)
    assert IngestConflict.objects.count() == 0


@pytest.mark.parametrize(
    "changes",
    [{"pixel_delta": 1}, {"PatientID": "SOMEONE-ELSE"}],
    ids=["one-pixel-differs", "patient-id-differs"],
)
def test_another_image_under_a_stored_uid_in_another_syntax_is_still_a_conflict(
    changes: dict[str, Any],
) -> None:
    kept = instance_ingest(data=pydicom_file("MR_small.dcm")).instance

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=_implicit_copy("MR_small.dcm", **changes))

    assert (refused.value.code, refused.value.status) == ("conflict", 409)
    assert Instance.objects.get().sha256 == kept.sha256
    assert IngestConflict.objects.get().existing_instance == kept


def test_a_changed_attribute_in_the_same_syntax_is_still_a_conflict() -> None:
    # Same pixels, same transfer syntax, a corrected header: an administrator decides.
    data = synthetic_file(20)
    kept = instance_ingest(data=data).instance
    with pytest.raises(IngestError) as refused:
        instance_ingest(data=_with_dataset(data, BodyPartExamined="ABDOMEN"))
    assert refused.value.code == "conflict"
    assert IngestConflict.objects.get().existing_instance == kept


def test_an_admin_sees_open_conflicts_and_cannot_edit_stored_images(
    client: Client, admin_user: User
) -> None:
    existing = instance_ingest(data=synthetic_file(16)).instance
    impostor = synthetic_dataset(17)
    impostor.SOPInstanceUID = existing.sop_instance_uid
    with pytest.raises(IngestError):
        instance_ingest(data=dicom_bytes(impostor))
    conflict = IngestConflict.objects.get()
    client.force_login(admin_user)

    listing = client.get(reverse("admin:imaging_ingestconflict_changelist"))
    assert listing.status_code == 200
    assert existing.sop_instance_uid in listing.content.decode()
    detail = client.get(reverse("admin:imaging_ingestconflict_change", args=[conflict.pk]))
    assert conflict.sha256 in detail.content.decode()
    assert existing.sha256 in detail.content.decode()

    assert client.get(reverse("admin:imaging_instance_add")).status_code == 403
    view = client.get(reverse("admin:imaging_instance_change", args=[existing.pk]))
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()  # view only


# --- Bounded reading: what a file claims never decides what it costs ----------------------


def test_a_codestream_claiming_a_bigger_image_than_its_header_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    from tests.imaging.bombs import codestream_bomb

    bomb = codestream_bomb(tmp_path, side=14000).read_bytes()

    tracemalloc.start()
    try:
        with pytest.raises(IngestError) as refused:
            instance_ingest(data=bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (refused.value.code, refused.value.status) == ("bomb", 413)
    assert "14000 x 14000" in str(refused.value)
    assert "64 x 64" in str(refused.value)
    # Decoding it would have taken 1.5 GB (measured with OpenJPEG); nothing was decoded.
    assert peak < 8 * 1024 * 1024
    assert media_files() == []


def test_a_jpeg_frame_of_another_size_than_its_header_is_refused_as_undecodable() -> None:
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    ds.Rows = ds.Rows + 10  # the header now claims more rows than the JPEG frame holds

    with pytest.raises(IngestError) as refused:
        instance_ingest(data=dicom_bytes(ds))

    assert refused.value.code == "undecodable"
    assert "cannot be decoded as this image" in str(refused.value)


def test_a_deflated_file_inflating_just_under_its_limit_is_parsed_without_holding_it(
    settings: Settings,
) -> None:
    settings.MEDASSIST_MAX_INFLATED_BYTES = 48 * 1024 * 1024
    # The padding is an element at the end of the data set, as an attacker would place it.
    ds = synthetic_dataset(10)
    ds.DataSetTrailingPadding = b"\0" * (40 * 1024 * 1024)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    data = dicom_bytes(ds)
    del ds
    assert len(data) < 200_000

    tracemalloc.start()
    try:
        result = instance_ingest(data=data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.created
    # pydicom alone would hold the 40 MB inflated data set, then its 40 MB padding value.
    assert peak < 12 * 1024 * 1024
    stored = instance_read_dataset(instance=result.instance)
    assert len(stored.DataSetTrailingPadding) == 40 * 1024 * 1024
