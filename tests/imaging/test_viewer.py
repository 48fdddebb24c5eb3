"""The doctor's study viewer: its endpoints on real DICOM files, and the page in a real browser."""

from __future__ import annotations

import gzip
import io
import os
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pydicom
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.uid import generate_uid
from pytest_django.live_server_helper import LiveServer

from imaging.ingest.services import instance_ingest
from imaging.models import Instance, Study
from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
from tests.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.django_db

SIZE = 64
KNOWN_ROW, KNOWN_COLUMN, KNOWN_STORED = 3, 5, 1500


# ------------------------------------------------------------------------------ DICOM builders


def ct_slice(
    seed: int,
    *,
    study_uid: str,
    series_uid: str,
    number: int | None,
    location: float,
    slope: float = 1.0,
    intercept: float = -1024.0,
    monochrome1: bool = False,
    known_pixel: bool = True,
) -> pydicom.Dataset:
    """A small synthetic CT slice; with ``known_pixel``, pixel (3, 5) holds stored value 1500."""
    ds = synthetic_dicom(
        finding="normal",
        patient_id="VIEWER-1",
        patient_name="Synthetic^Viewer",
        study_uid=study_uid,
        series_uid=series_uid,
        size=SIZE,
        rng=np.random.default_rng(seed),
        modality="CT",
        monochrome1=monochrome1,
    )
    if known_pixel:
        pixels = ds.pixel_array.copy()
        pixels[KNOWN_ROW, KNOWN_COLUMN] = KNOWN_STORED
        ds.PixelData = pixels.astype("<u2").tobytes()
    if number is None:
        del ds.InstanceNumber
    else:
        ds.InstanceNumber = number
    ds.SliceLocation = location
    ds.ImagePositionPatient = [0.0, 0.0, location]
    ds.SliceThickness = 2.5
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    return ds


def ingest(ds: pydicom.Dataset, by: User | None = None) -> Instance:
    return instance_ingest(data=dicom_bytes(ds), uploaded_by=by).instance


def ct_series(
    slices: list[tuple[int | None, float]], *, by: User | None = None
) -> tuple[Study, dict[tuple[int | None, float], Instance]]:
    """Ingest one CT series of ``(instance number, slice location)`` slices, in shuffled order."""
    study_uid, series_uid = generate_uid(), generate_uid()
    order = list(enumerate(slices))
    random.Random(7).shuffle(order)
    made = {
        key: ingest(
            ct_slice(
                seed, study_uid=study_uid, series_uid=series_uid, number=key[0], location=key[1]
            ),
            by,
        )
        for seed, key in order
    }
    return next(iter(made.values())).series.study, made


def pydicom_test_file(name: str) -> bytes:
    path = get_testdata_file(name)
    if path is None:
        # pydicom fetches a few of its test files on demand; the pydicom-data package ships them.
        pytest.skip(f"pydicom's {name} is not available offline (pip install pydicom-data).")
    return Path(path).read_bytes()


@pytest.fixture
def doctor_client(client: Client, doctor: User) -> Client:
    client.force_login(doctor)
    return client


def _urls(instance: Instance) -> list[str]:
    study_id = instance.series.study_id
    ids = {"instance_id": instance.pk}
    return [
        reverse("imaging:viewer:study", kwargs={"study_id": study_id}),
        reverse("imaging:viewer:manifest", kwargs={"study_id": study_id}),
        reverse("imaging:viewer:frame-raw", kwargs={**ids, "frame": 0}),
        reverse("imaging:viewer:frame-png", kwargs={**ids, "frame": 0}),
        reverse("imaging:viewer:thumbnail", kwargs=ids),
    ]


def _manifest(client: Client, study: Study) -> dict[str, Any]:
    response = client.get(reverse("imaging:viewer:manifest", kwargs={"study_id": study.pk}))
    assert response.status_code == 200, response.content
    return response.json()


def _raw(client: Client, url: str, *, gzip_ok: bool = True) -> tuple[np.ndarray, Any]:
    """Fetch a frame the way the browser does and decode it by its headers."""
    headers = {"HTTP_ACCEPT_ENCODING": "gzip, deflate"} if gzip_ok else {}
    response = client.get(url, **headers)
    assert response.status_code == 200, response.content
    body = response.content
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    dtype = {
        "uint8": "<u1",
        "int16": "<i2",
        "uint16": "<u2",
        "float32": "<f4",
        "rgb8": "<u1",
    }[response["X-Pixel-Type"]]
    rows, columns = int(response["X-Rows"]), int(response["X-Columns"])
    shape = (rows, columns, 3) if response["X-Pixel-Type"] == "rgb8" else (rows, columns)
    return np.frombuffer(body, dtype=dtype).reshape(shape), response


def _png(client: Client, url: str, **params: Any) -> np.ndarray:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


# ------------------------------------------------------------------------------ roles


def test_only_doctors_reach_the_viewer_and_its_image_data(
    client: Client, doctor: User, nurse: User, ml_admin: User
) -> None:
    _, made = ct_series([(1, 0.0)], by=doctor)
    urls = _urls(next(iter(made.values())))

    for url in urls:
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"], url
    for user in (nurse, ml_admin):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [403] * len(urls)
    client.force_login(doctor)
    assert [client.get(url).status_code for url in urls] == [200] * len(urls)


# ------------------------------------------------------------------------------ manifest


def test_the_manifest_orders_a_series_by_instance_number_then_slice_location(
    doctor_client: Client,
) -> None:
    study, made = ct_series([(2, 10.0), (1, 20.0), (3, 0.0), (1, 5.0), (None, -5.0)])

    manifest = _manifest(doctor_client, study)

    assert manifest["study"]["is_synthetic"] is True
    [series] = manifest["series"]
    order = [(i["instance_number"], i["attributes"]["slice_location"]) for i in series["instances"]]
    assert order == [(1, 5.0), (1, 20.0), (2, 10.0), (3, 0.0), (None, -5.0)]
    assert series["images"] == 5
    assert [i["id"] for i in series["instances"]][:2] == [made[(1, 5.0)].pk, made[(1, 20.0)].pk]
    first = series["instances"][0]
    attributes = first["attributes"]
    assert attributes["modality"] == "CT"
    assert attributes["patient_name"] == "Synthetic Viewer"
    assert (attributes["rows"], attributes["columns"]) == (SIZE, SIZE)
    assert attributes["pixel_spacing"] == pytest.approx([350.0 / SIZE] * 2, abs=1e-3)
    assert attributes["slice_thickness"] == 2.5
    assert (attributes["window_center"], attributes["window_width"]) == (-400.0, 1600.0)
    assert attributes["transfer_syntax"] == "Explicit VR Little Endian"
    assert first["overlay_url"] is None
    # Every URL the viewer will follow really answers.
    assert doctor_client.get(first["frame_url_template"].format(frame=0)).status_code == 200
    thumbnail = doctor_client.get(series["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 96
    assert [p["key"] for p in manifest["presets"]] == [
        "lung",
        "mediastinum",
        "bone",
        "brain",
        "abdomen",
    ]
    bone = next(p for p in manifest["presets"] if p["key"] == "bone")
    assert (bone["center"], bone["width"]) == (400, 1800)


# ------------------------------------------------------------------------------ frame data


@pytest.mark.parametrize(
    ("slope", "intercept", "pixel_type"),
    [(1.0, -1024.0, "int16"), (2.0, -1024.0, "int16"), (0.5, -1024.25, "float32")],
    ids=["ct-hu", "slope-2", "fractional-rescale"],
)
def test_a_known_pixel_value_comes_back_through_the_frame_endpoint_with_rescale_applied(
    doctor_client: Client, slope: float, intercept: float, pixel_type: str
) -> None:
    ds = ct_slice(
        1,
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        number=1,
        location=0.0,
        slope=slope,
        intercept=intercept,
    )
    instance = ingest(ds)
    url = reverse("imaging:viewer:frame-raw", kwargs={"instance_id": instance.pk, "frame": 0})

    values, response = _raw(doctor_client, url)

    assert response["X-Pixel-Type"] == pixel_type
    assert response["Content-Encoding"] == "gzip"
    assert values[KNOWN_ROW, KNOWN_COLUMN] == KNOWN_STORED * slope + intercept
    expected = apply_modality_lut(pydicom.dcmread(io.BytesIO(dicom_bytes(ds))).pixel_array, ds)
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-3)
    # A client that does not accept gzip gets the same values uncompressed.
    plain, plain_response = _raw(doctor_client, url, gzip_ok=False)
    assert "Content-Encoding" not in plain_response
    np.testing.assert_array_equal(plain, values)


def test_a_monochrome1_image_keeps_its_values_and_is_shown_with_dense_as_bright(
    doctor_client: Client,
) -> None:
    def both(monochrome1: bool) -> Instance:
        return ingest(
            ct_slice(
                4,
                study_uid=generate_uid(),
                series_uid=generate_uid(),
                number=1,
                location=0.0,
                monochrome1=monochrome1,
                known_pixel=False,
            )
        )

    mono2, mono1 = both(False), both(True)
    raw2, _ = _raw(doctor_client, reverse("imaging:viewer:frame-raw", args=[mono2.pk, 0]))
    raw1, _ = _raw(doctor_client, reverse("imaging:viewer:frame-raw", args=[mono1.pk, 0]))
    png2 = _png(doctor_client, reverse("imaging:viewer:frame-png", args=[mono2.pk, 0]))
    png1 = _png(doctor_client, reverse("imaging:viewer:frame-png", args=[mono1.pk, 0]))

    # The frame endpoint sends modality values untouched (2047 - HU for this phantom) ...
    np.testing.assert_array_equal(raw1.astype(int), 2047 - raw2.astype(int))
    manifest = _manifest(doctor_client, mono1.series.study)
    assert manifest["series"][0]["instances"][0]["attributes"]["photometric"] == "MONOCHROME1"
    # ... and a rendered picture shows it the same way round as its MONOCHROME2 twin.
    assert np.abs(png1.astype(int) - png2.astype(int)).max() <= 1
    assert png2[32, 32] > png2[32, 8]  # mediastinum brighter than the lung, in both
    inverted = _png(
        doctor_client, reverse("imaging:viewer:frame-png", args=[mono1.pk, 0]), invert=1
    )
    assert np.abs(inverted.astype(int) - (255 - png1.astype(int))).max() <= 1


@pytest.mark.parametrize(
    "name", ["emri_small.dcm", "rtdose.dcm", "SC_rgb_rle_2frame.dcm"], ids=lambda n: n[:-4]
)
def test_a_multi_frame_file_shows_every_frame_and_serves_each_one(
    doctor_client: Client, name: str
) -> None:
    data = pydicom_test_file(name)
    ds = pydicom.dcmread(io.BytesIO(data))
    instance = instance_ingest(data=data).instance
    n_frames = int(ds.NumberOfFrames)

    manifest = _manifest(doctor_client, instance.series.study)

    [entry] = manifest["series"][0]["instances"]
    assert entry["frames"] == n_frames
    assert manifest["series"][0]["images"] == n_frames
    last = n_frames - 1
    values, response = _raw(doctor_client, entry["frame_url_template"].format(frame=last))
    expected = ds.pixel_array[last]
    if response["X-Pixel-Type"] != "rgb8":
        expected = apply_modality_lut(expected, ds)
    np.testing.assert_array_equal(values, expected)
    beyond = doctor_client.get(entry["frame_url_template"].format(frame=n_frames))
    assert beyond.status_code == 404
    assert f"has {n_frames} frame(s)" in beyond.content.decode()


# ------------------------------------------------------------------------------ caching


def test_a_cached_frame_is_the_same_bytes_and_needs_no_second_read_of_the_file(
    doctor_client: Client,
) -> None:
    _, made = ct_series([(1, 0.0)])
    instance = next(iter(made.values()))
    raw_url = reverse("imaging:viewer:frame-raw", args=[instance.pk, 0])
    png_url = reverse("imaging:viewer:frame-png", args=[instance.pk, 0])
    bone = {"wc": 400, "ww": 1800}
    headers = {"HTTP_ACCEPT_ENCODING": "gzip"}

    cold_raw = doctor_client.get(raw_url, **headers).content
    cold_png = doctor_client.get(png_url, bone).content
    # Without the DICOM file only the cache can answer: the same bytes prove a cache hit.
    (Path(settings.MEDIA_ROOT) / instance.storage_key).unlink()

    assert doctor_client.get(raw_url, **headers).content == cold_raw
    assert doctor_client.get(png_url, bone).content == cold_png
    # A window never asked for before needs the file, and says clearly that it is gone.
    missing = doctor_client.get(png_url, {"wc": 40, "ww": 400})
    assert missing.status_code == 500
    assert "Ask IT to restore it" in missing.content.decode()


def test_the_server_rendered_png_applies_the_requested_window_and_refuses_a_bad_one(
    doctor_client: Client,
) -> None:
    _, made = ct_series([(1, 0.0)])
    url = reverse("imaging:viewer:frame-png", args=[next(iter(made.values())).pk, 0])

    lung = _png(doctor_client, url, wc=-600, ww=1500)
    bone = _png(doctor_client, url, wc=400, ww=1800)
    small = _png(doctor_client, url, size=32)

    assert lung.shape == bone.shape == (SIZE, SIZE)
    assert lung.mean() > bone.mean()  # a bone window shows soft tissue and lung darker
    assert small.shape == (32, 32)
    bad = doctor_client.get(url, {"wc": 40, "ww": 0})
    assert bad.status_code == 400
    assert "window width" in bad.content.decode()
    assert doctor_client.get(url, {"wc": "forty", "ww": 400}).status_code == 400
    assert "whole number" in doctor_client.get(url, {"size": "big"}).content.decode()


def test_a_damaged_stored_file_is_reported_instead_of_shown(doctor_client: Client) -> None:
    study, made = ct_series([(1, 0.0)])
    instance = next(iter(made.values()))
    path = Path(settings.MEDIA_ROOT) / instance.storage_key
    path.write_bytes(path.read_bytes()[:-10] + b"\0" * 10)

    frame = doctor_client.get(reverse("imaging:viewer:frame-raw", args=[instance.pk, 0]))
    manifest = doctor_client.get(reverse("imaging:viewer:manifest", args=[study.pk]))

    assert frame.status_code == 500
    assert "does not match its checksum" in frame.content.decode()
    assert manifest.status_code == 500
    assert "does not match its checksum" in manifest.json()["error"]


# ------------------------------------------------------------------------------ pages


def test_the_viewer_page_and_the_case_page_embed_the_viewer_with_a_fallback_image(
    doctor_client: Client,
) -> None:
    study, made = ct_series([(1, 0.0), (2, 2.5)])
    second = made[(2, 2.5)]

    page = doctor_client.get(
        reverse("imaging:viewer:study", args=[study.pk]), {"instance": second.pk}
    )
    case = doctor_client.get(reverse("diagnosis:case", args=[second.pk]))

    for response in (page, case):
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="viewer"' in body
        assert f'data-initial-instance="{second.pk}"' in body
        assert f'data-manifest-url="{reverse("imaging:viewer:manifest", args=[study.pk])}"' in body
        assert f'<img id="frame" src="{reverse("imaging:frame", args=[second.pk])}"' in body
        assert 'title="no overlay for this image yet"' in body
    assert "SYNTHETIC" in page.content.decode()


def test_a_page_that_has_an_overlay_hands_its_url_to_the_viewer() -> None:
    from django.template.loader import render_to_string

    _, made = ct_series([(1, 0.0)])
    instance = next(iter(made.values()))
    html = render_to_string(
        "imaging/_viewer.html",
        {
            "viewer_study": instance.series.study,
            "viewer_instance": instance,
            "viewer_overlays": {instance.pk: "/heatmaps/1.png"},
        },
    )
    assert f'{{"{instance.pk}": "/heatmaps/1.png"}}' in html


# ------------------------------------------------------------------------------ browser


def _canvas_sum(page: Page) -> int:
    return page.evaluate(
        """() => {
            const c = document.querySelector('#viewer .vw-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i];
            return s;
        }"""
    )


def _state(page: Page) -> dict[str, str]:
    return page.evaluate("() => ({...document.getElementById('viewer').dataset})")


@pytest.mark.browser
@pytest.mark.integration
def test_a_doctor_scrolls_windows_inverts_and_resets_a_series_in_the_browser(
    live_server: LiveServer, doctor: User, page: Page
) -> None:
    from playwright.sync_api import expect

    study, _ = ct_series([(n, 2.5 * n) for n in range(1, 6)], by=doctor)
    sign_in(page, live_server, doctor.username)
    page.wait_for_load_state()
    page.goto(f"{live_server.url}{reverse('imaging:viewer:study', args=[study.pk])}")

    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-state", "ready")
    expect(viewer).to_have_attribute("data-instance-number", "1")
    expect(viewer).to_have_attribute("data-wc", "-400")
    expect(viewer).to_have_attribute("data-ww", "1600")
    expect(page.locator(".vw-series button")).to_have_count(1)
    expect(page.locator(".vw-attrs")).to_contain_text("Explicit VR Little Endian")
    overlay = page.get_by_role("button", name="AI overlay")
    expect(overlay).to_be_disabled()
    expect(overlay).to_have_attribute("title", "no overlay for this image yet")

    stage = page.locator(".vw-stage")
    stage.focus()
    page.keyboard.press("ArrowDown")
    expect(viewer).to_have_attribute("data-instance-number", "2")
    box = stage.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, 100)
    expect(viewer).to_have_attribute("data-instance-number", "3")
    expect(page.get_by_test_id("position")).to_contain_text("3/5")

    before = _canvas_sum(page)
    page.get_by_role("button", name="Bone").click()
    expect(viewer).to_have_attribute("data-wc", "400")
    expect(viewer).to_have_attribute("data-ww", "1800")
    expect(page.get_by_test_id("wc")).to_have_text("400")
    assert _canvas_sum(page) != before

    # Window/level by dragging with the right button: width follows x, level follows y.
    page.mouse.move(cx, cy)
    page.mouse.down(button="right")
    page.mouse.move(cx + 60, cy + 40, steps=4)
    page.mouse.up(button="right")
    state = _state(page)
    assert float(state["ww"]) > 1800
    assert float(state["wc"]) > 400
    # ... and with the left button, the default tool.
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - 30, cy - 30, steps=3)
    page.mouse.up()
    after_left = _state(page)
    assert float(after_left["ww"]) < float(state["ww"])

    if os.environ.get("VIEWER_SCREENSHOT"):  # for a developer to look at
        page.screenshot(path=os.environ["VIEWER_SCREENSHOT"], full_page=True)
    windowed = _canvas_sum(page)
    page.get_by_role("button", name="Invert").click()
    expect(viewer).to_have_attribute("data-invert", "true")
    assert _canvas_sum(page) != windowed
    page.get_by_role("button", name="Zoom in").click()
    expect(viewer).to_have_attribute("data-zoom", "1.25")

    page.get_by_role("button", name="Reset").click()
    expect(viewer).to_have_attribute("data-wc", "-400")
    expect(viewer).to_have_attribute("data-ww", "1600")
    expect(viewer).to_have_attribute("data-invert", "false")
    expect(viewer).to_have_attribute("data-zoom", "1")
    expect(viewer).to_have_attribute("data-instance-number", "3")

    # Cine: playing walks through the series on its own, pausing stops it.
    page.get_by_role("button", name="Play").click()
    expect(viewer).not_to_have_attribute("data-instance-number", "3")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()

    # The case page embeds the same viewer, opened on the case's own image.
    instance = Instance.objects.get(series__study=study, instance_number=4)
    page.goto(f"{live_server.url}{reverse('diagnosis:case', args=[instance.pk])}")
    expect(viewer).to_have_attribute("data-state", "ready")
    expect(viewer).to_have_attribute("data-instance-number", "4")
    page.wait_for_function(
        "() => { const img = document.getElementById('frame');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    if os.environ.get("VIEWER_SCREENSHOT"):
        page.screenshot(path=os.environ["VIEWER_SCREENSHOT"].replace(".png", "-case.png"))


@pytest.mark.browser
@pytest.mark.integration
def test_a_study_with_a_report_lists_it_in_the_series_and_still_opens_on_its_images(
    live_server: LiveServer, doctor: User, page: Page
) -> None:
    from playwright.sync_api import expect

    from tests.imaging.nonimage import StudyIds, basic_text_sr, encapsulated_pdf

    study_uid, series_uid = generate_uid(), generate_uid()
    ids = StudyIds(study_uid=study_uid, patient_id="VIEWER-1")
    # The reports arrive first: theirs are the study's first series, yet the viewer opens on
    # the CT.
    for data in (basic_text_sr(ids), encapsulated_pdf(ids)):
        instance_ingest(data=data, uploaded_by=doctor)
    for n in (1, 2):
        ingest(ct_slice(n, study_uid=study_uid, series_uid=series_uid, number=n, location=n))
    study = Study.objects.get(study_instance_uid=study_uid)
    sign_in(page, live_server, doctor.username)
    page.wait_for_load_state()
    page.goto(f"{live_server.url}{reverse('imaging:viewer:study', args=[study.pk])}")

    viewer = page.locator("#viewer")
    expect(viewer).to_have_attribute("data-state", "ready")
    expect(viewer).to_have_attribute("data-instance-number", "1")
    entries = page.locator(".vw-series button")
    expect(entries).to_have_count(3)
    report = page.locator(".vw-series button.vw-non-image", has_text="Basic Text SR Storage")
    expect(report).to_be_disabled()
    expect(report).to_contain_text("SR Basic Text SR Storage · not an image: no AI")
    expect(page.locator(".vw-series button.vw-non-image")).to_have_count(2)
    expect(page.get_by_test_id("non-images")).to_contain_text("DOC · Encapsulated PDF Storage")
