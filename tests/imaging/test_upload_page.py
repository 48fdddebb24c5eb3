"""The bulk upload page: many files, a folder or a .zip; a summary of what became of each.

The Django test client covers the plain form (no JavaScript) and the JSON answers upload.js
asks for; one Playwright test drives the page in a real chromium, progress bar included.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from imaging.models import Instance, Study
from tests.conftest import sign_in
from tests.factories import file_without_pixels, synthetic_file, truncated_file

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _file(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return buf.getvalue()


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def _counts(response: Any) -> tuple[int, int, int]:
    page = response.content.decode()
    found = [
        int(re.search(rf'data-testid="{name}-count">(\d+)<', page).group(1))  # type: ignore[union-attr]
        for name in ("stored", "duplicate", "rejected")
    ]
    return found[0], found[1], found[2]


def _rejected_rows(response: Any) -> dict[str, str]:
    table = re.search(r'data-testid="rejected">(.*?)</table>', response.content.decode(), re.S)
    assert table is not None, "no table of rejected files"
    rows = re.findall(r"<tr><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", table.group(1), re.S)
    return {html.unescape(name): html.unescape(reason) for name, reason in rows}


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


@pytest.mark.django_db
def test_several_files_without_javascript_get_a_summary_with_each_rejection_explained(
    doctor_client: Client,
) -> None:
    good_a, good_b = synthetic_file(41), synthetic_file(42)
    doctor_client.post(reverse("imaging:upload"), {"file": _file("earlier.dcm", good_b)})

    response = doctor_client.post(
        reverse("imaging:upload"),
        {
            "file": [
                _file("a.dcm", good_a),
                _file("b-again.dcm", good_b),
                _file("notes.txt", b"not an image"),
                _file("cut.dcm", truncated_file(43)),
            ]
        },
    )

    assert response.status_code == 200
    assert _counts(response) == (1, 1, 2)
    rejected = _rejected_rows(response)
    assert set(rejected) == {"notes.txt", "cut.dcm"}
    assert "not a DICOM file" in rejected["notes.txt"]
    assert "truncated" in rejected["cut.dcm"]
    # The good file was not lost to its bad neighbours, and the studies are linked.
    assert Instance.objects.count() == 2
    for instance in Instance.objects.all():
        assert reverse("diagnosis:case", kwargs={"instance_id": instance.pk}) in _text(response)


@pytest.mark.django_db
def test_a_zip_with_good_bad_and_duplicate_members_is_unpacked_in_memory_and_summarised(
    doctor_client: Client,
) -> None:
    good = {f"study/series/img{i}.dcm": synthetic_file(50 + i) for i in range(3)}
    duplicate = good["study/series/img0.dcm"]
    archive = _zip(
        {
            **good,
            "study/": b"",
            "study/copy-of-img0.dcm": duplicate,
            "study/empty.dcm": file_without_pixels(),
            "study/README.txt": b"exported by a PACS",
            "__MACOSX/study/._img0.dcm": b"\0\5\26\7resource fork",
            "study/.DS_Store": b"\0\0\0\1Bud1",
            "../../escape.dcm": synthetic_file(60),
        }
    )

    response = doctor_client.post(reverse("imaging:upload"), {"file": _file("export.zip", archive)})

    assert response.status_code == 200
    assert _counts(response) == (4, 1, 2)
    rejected = _rejected_rows(response)
    assert set(rejected) == {"export.zip/study/empty.dcm", "export.zip/study/README.txt"}
    assert "no pixel data" in rejected["export.zip/study/empty.dcm"]
    assert "not a DICOM file" in rejected["export.zip/study/README.txt"]
    # Nothing was written by a member's name: only server-keyed files exist.
    media = [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert len(media) == 4
    assert all(re.fullmatch(r"[0-9a-f]{32}\.dcm", p.name) for p in media)
    assert not (Path(settings.MEDIA_ROOT).parent / "escape.dcm").exists()
    assert Study.objects.count() == 4


@pytest.mark.django_db
def test_a_zip_with_too_many_members_is_refused_whole(
    doctor_client: Client, settings: Settings
) -> None:
    settings.MEDASSIST_MAX_ZIP_MEMBERS = 3
    archive = _zip({f"{i}.dcm": synthetic_file(70 + i) for i in range(4)})

    response = doctor_client.post(reverse("imaging:upload"), {"file": _file("many.zip", archive)})

    assert _counts(response) == (0, 0, 1)
    assert "holds 4 files; the limit is 3" in _rejected_rows(response)["many.zip"]
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_a_zip_bomb_stops_at_the_uncompressed_limit_and_keeps_what_came_before(
    doctor_client: Client, settings: Settings
) -> None:
    settings.MEDASSIST_MAX_ZIP_UNCOMPRESSED_BYTES = 1_000_000
    first = synthetic_file(80)
    archive = _zip({"a.dcm": first, "bomb.dcm": b"\0" * 50_000_000, "z.dcm": synthetic_file(81)})
    assert len(archive) < 200_000

    response = doctor_client.post(reverse("imaging:upload"), {"file": _file("bomb.zip", archive)})

    assert _counts(response) == (1, 0, 2)
    rejected = _rejected_rows(response)
    assert "zip bomb" in rejected["bomb.zip/bomb.dcm"]
    # The member after the bomb is accounted for, not silently dropped.
    assert "Not unpacked" in rejected["bomb.zip/z.dcm"]
    assert Instance.objects.count() == 1


@pytest.mark.django_db
def test_javascript_batches_get_json_and_a_single_file_is_sent_to_its_case(
    doctor_client: Client,
) -> None:
    url = reverse("imaging:upload")
    batch = doctor_client.post(
        url,
        {"file": [_file("a.dcm", synthetic_file(90)), _file("bad.dcm", b"junk")]},
        headers={"Accept": "application/json"},
    )
    answer = batch.json()
    assert (answer["stored"], answer["duplicates"], answer["rejected"]) == (1, 0, 1)
    assert [i["name"] for i in answer["items"]] == ["a.dcm", "bad.dcm"]
    assert answer["items"][1]["code"] == "not_dicom"
    instance = Instance.objects.get()
    case = reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
    assert answer["studies"][0]["case_url"] == case
    assert "redirect" not in answer

    single = doctor_client.post(
        url, {"file": _file("a.dcm", synthetic_file(90))}, headers={"Accept": "application/json"}
    ).json()
    assert single["items"][0]["outcome"] == "stored"
    newest = Instance.objects.latest("pk")
    assert single["redirect"] == reverse("diagnosis:case", kwargs={"instance_id": newest.pk})


@pytest.mark.django_db
def test_an_upload_over_the_request_limit_is_refused_before_it_is_read(
    doctor_client: Client, settings: Settings
) -> None:
    settings.MEDASSIST_MAX_BULK_REQUEST_BYTES = 10_000
    response = doctor_client.post(
        reverse("imaging:upload"),
        {"file": [_file("a.dcm", synthetic_file(91)), _file("b.dcm", synthetic_file(92))]},
    )
    assert response.status_code == 413
    assert "one upload may be at most" in _text(response)
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_too_many_files_in_one_plain_form_post_is_explained(
    doctor_client: Client, settings: Settings
) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    response = doctor_client.post(
        reverse("imaging:upload"),
        {"file": [_file(f"{i}.dcm", synthetic_file(93 + i)) for i in range(3)]},
    )
    assert response.status_code == 413
    assert "more than 2 files at once" in _text(response)
    assert "Put them in a .zip" in _text(response)


@pytest.mark.django_db
def test_the_page_offers_many_files_and_a_folder_and_works_without_javascript(
    doctor_client: Client,
) -> None:
    page = doctor_client.get(reverse("imaging:upload")).content.decode()
    assert re.search(r'<input[^>]*name="file"[^>]*multiple', page)
    assert re.search(r'<input[^>]*name="folder"[^>]*webkitdirectory', page)
    assert 'enctype="multipart/form-data"' in page
    assert "/static/js/upload.js" in page


# --- In a real browser -------------------------------------------------------------------


@pytest.mark.browser
def test_a_doctor_uploads_several_files_sees_the_progress_finish_and_the_summary(
    live_server: LiveServer, doctor: User, page: Page, tmp_path: Path, settings: Settings
) -> None:
    from playwright.sync_api import expect

    # A small request limit makes upload.js split the five files into several batches.
    settings.MEDASSIST_MAX_BULK_REQUEST_BYTES = 25_000
    paths = []
    for i in range(4):
        path = tmp_path / f"image{i}.dcm"
        path.write_bytes(synthetic_file(100 + i))
        paths.append(str(path))
    bad = tmp_path / "scan-notes.txt"
    bad.write_bytes(b"this is not DICOM")
    paths.append(str(bad))

    sign_in(page, live_server, doctor.username)
    page.goto(f"{live_server.url}/imaging/upload/")
    page.set_input_files("#id_file", paths)
    page.get_by_role("button", name="Upload", exact=True).click()

    progress = page.locator("#upload-progress")
    expect(progress).to_have_attribute("data-state", "done", timeout=60_000)
    assert progress.evaluate("el => el.value") == 100
    expect(page.get_by_test_id("progress-text")).to_contain_text("5 files sent")
    expect(page.get_by_test_id("stored-count")).to_have_text("4")
    expect(page.get_by_test_id("duplicate-count")).to_have_text("0")
    expect(page.get_by_test_id("rejected-count")).to_have_text("1")
    rejected = page.get_by_test_id("rejected")
    expect(rejected).to_contain_text("scan-notes.txt")
    expect(rejected).to_contain_text("not a DICOM file")
    # Still on the upload page (no reload), with links to each new study's case page.
    assert page.url.endswith("/imaging/upload/")
    links = page.get_by_test_id("studies").locator("a")
    expect(links).to_have_count(4)
    first = Instance.objects.order_by("pk").first()
    assert first is not None
    hrefs = links.evaluate_all("els => els.map(a => a.getAttribute('href'))")
    assert reverse("diagnosis:case", kwargs={"instance_id": first.pk}) in hrefs


@pytest.mark.django_db
def test_a_dicom_file_whose_preamble_looks_like_a_zip_still_goes_to_its_case(
    doctor_client: Client,
) -> None:
    data = bytearray(synthetic_file(91))
    data[:4] = b"PK\x03\x04"  # the 128-byte preamble is free-form; the DICM marker follows
    response = doctor_client.post(reverse("imaging:upload"), {"file": _file("a.dcm", bytes(data))})
    instance = Instance.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("diagnosis:case", kwargs={"instance_id": instance.pk})
