"""The OHIF Viewer served by MedAssist: a doctor opens a study in it from the case page and
OHIF draws its first image, reading MedAssist's DICOMweb with the doctor's own session.

The browser test needs OHIF's built files (``make ohif`` fetches the npm package
``@ohif/app`` into a cache outside the checkout and prints MEDASSIST_OHIF_DIR). Without
them it skips, saying so, except in CI (``CI=true``), where it fails: CI must prove it.
The other tests use a stand-in dist/ folder of a few files, so they always run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pydicom.data import get_testdata_file
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from imaging.ingest.services import instance_ingest
from imaging.models import Instance
from medassist.models import AuditEvent
from tests.conftest import IN_CI, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

OHIF = "/imaging/viewer/ohif/"

# The shipped index.html's shape, cut down: inline scripts, root links, the service worker.
FAKE_INDEX = (
    '<!doctype html><html><head><script>console.time("scriptToView"),window.PUBLIC_URL="/"'
    '</script><link rel="manifest" href="/manifest.json"><link rel="icon" '
    'href="/assets/favicon.ico"><script rel="preload" as="script" src="/app-config.js">'
    '</script><script rel="preload" as="script" type="module" src="/init-service-worker.js">'
    "</script><script>function browserImportFunction(n){return import(n)}"
    'window.PUBLIC_URL="/"</script><script defer src="/app.bundle.abc.js"></script></head>'
    '<body><div id="root"></div></body></html>'
)


@pytest.fixture
def fake_ohif(tmp_path: Path, settings: SettingsWrapper) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(FAKE_INDEX)
    (dist / "app-config.js").write_text("window.config = {dataSources: ['demo.example']};")
    (dist / "app.bundle.abc.js").write_text(
        '(() => {\n__webpack_require__.p = "/";\n})();\nconsole.log("app");\n'
    )
    (dist / "decoder.wasm").write_bytes(b"\0asm\1\0\0\0")
    (dist / "app.bundle.css").write_text("@font-face{src:url(/f.woff2)}")
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    (dist / "assets" / "favicon.ico").write_bytes(b"ico")
    settings.MEDASSIST_OHIF_DIR = str(dist)
    settings.VAR_DIR = tmp_path / "var"
    return dist


@pytest.fixture
def signed_in(doctor: User) -> Client:
    client = Client()
    client.force_login(doctor)
    return client


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


@pytest.mark.django_db
def test_ohif_is_served_under_its_prefix_with_medassist_s_config_and_no_service_worker(
    fake_ohif: Path, signed_in: Client
) -> None:
    page = signed_in.get(f"{OHIF}viewer?StudyInstanceUIDs=1.2.3")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'window.PUBLIC_URL="{OHIF}"' in html
    assert f'src="{OHIF}app-config.js"' in html and f'href="{OHIF}assets/favicon.ico"' in html
    assert "init-service-worker" not in html and "manifest" not in html

    config = signed_in.get(f"{OHIF}app-config.js")
    assert config["Content-Type"].startswith("text/javascript")
    text = config.content.decode()
    assert '"wadoRoot": "http://testserver/imaging/dicomweb"' in text
    assert '"routerBasename": "/imaging/viewer/ohif"' in text
    assert "demo.example" not in text and "cloudfront" not in text
    # Signed out meanwhile (idle): OHIF's 401 sends the doctor to sign in, then back.
    assert '"/accounts/login/?next="' in text and "error.status === 401" in text

    bundle = signed_in.get(f"{OHIF}app.bundle.abc.js")
    body = b"".join(bundle.streaming_content).decode()
    assert f'__webpack_require__.p = "{OHIF}";' in body
    assert bundle["Cache-Control"].startswith("private")
    css = signed_in.get(f"{OHIF}app.bundle.css")
    assert f"url({OHIF}f.woff2)" in b"".join(css.streaming_content).decode()
    wasm = signed_in.get(f"{OHIF}decoder.wasm")
    assert wasm["Content-Type"] == "application/wasm"
    assert signed_in.get(f"{OHIF}assets/favicon.ico").status_code == 200
    for refused in ("sw.js", "init-service-worker.js", "missing.js", "../../etc/passwd.js"):
        assert signed_in.get(f"{OHIF}{refused}").status_code == 404, refused


@pytest.mark.django_db
def test_ohif_pages_get_their_own_csp_and_the_rest_of_the_site_keeps_its_own(
    fake_ohif: Path, signed_in: Client
) -> None:
    ohif = _csp(signed_in.get(f"{OHIF}viewer"))
    assert "'wasm-unsafe-eval'" in ohif["script-src"]
    assert "'unsafe-eval'" not in ohif["script-src"]
    assert "'unsafe-inline'" not in ohif["script-src"]
    # The two inline scripts of index.html, by hash.
    assert sum(v.startswith("'sha256-") for v in ohif["script-src"]) == 2
    assert ohif["worker-src"] == ["'self'", "blob:"]
    assert ohif["frame-ancestors"] == ["'none'"]
    assert ohif["connect-src"][0] == "'self'"
    assert not any(v.startswith("http") for values in ohif.values() for v in values)

    # OHIF's decode workers (its script files, where they run as workers) may eval; its pages
    # and config may not.
    assert "'unsafe-eval'" in _csp(signed_in.get(f"{OHIF}app.bundle.abc.js"))["script-src"]
    assert "'unsafe-eval'" not in _csp(signed_in.get(f"{OHIF}app-config.js"))["script-src"]

    site = _csp(signed_in.get("/cases/"))
    assert site["script-src"] == ["'self'"]
    assert "worker-src" not in site and site["style-src"] == ["'self'"]


@pytest.mark.django_db
def test_only_doctors_open_ohif_and_the_link_shows_only_when_it_is_installed(
    fake_ohif: Path, signed_in: Client, nurse: User, doctor: User, settings: SettingsWrapper
) -> None:
    nurse_client = Client()
    nurse_client.force_login(nurse)
    assert nurse_client.get(f"{OHIF}viewer").status_code == 403
    assert nurse_client.get(f"{OHIF}app-config.js").status_code == 403
    anonymous = Client().get(f"{OHIF}viewer")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")

    ct = instance_ingest(
        data=Path(get_testdata_file("CT_small.dcm")).read_bytes(), uploaded_by=doctor
    ).instance
    assert ct is not None
    case = signed_in.get(reverse("diagnosis:case", kwargs={"instance_id": ct.pk})).content.decode()
    uid = ct.series.study.study_instance_uid
    assert f'href="{OHIF}viewer?StudyInstanceUIDs={uid}"' in case
    assert 'data-testid="open-in-ohif"' in case

    settings.MEDASSIST_OHIF_DIR = ""
    case = signed_in.get(reverse("diagnosis:case", kwargs={"instance_id": ct.pk})).content.decode()
    assert "open-in-ohif" not in case
    off = signed_in.get(f"{OHIF}viewer")
    assert off.status_code == 404
    assert "MEDASSIST_OHIF_DIR" in off.content.decode()


# --- In a real browser ------------------------------------------------------------------


@pytest.fixture
def ohif_dist() -> Path:
    """The fetched OHIF dist/, or skip (fail in CI) saying how to get it, before any browser
    or server starts."""
    configured = os.environ.get("MEDASSIST_OHIF_DIR", "")
    if configured and (Path(configured) / "index.html").is_file():
        return Path(configured)
    message = (
        "The OHIF Viewer is not fetched: run `make ohif` and set MEDASSIST_OHIF_DIR to the "
        f"path it prints (now {configured or 'unset'!s})."
    )
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# Non-background pixels of OHIF's first viewport canvas: cornerstone draws the image into
# a 2D canvas (class cornerstone-canvas), black around the image.
_DRAWN = """() => {
    const canvas = document.querySelector('.cornerstone-canvas')
        || document.querySelector('[data-viewport-uid] canvas');
    if (!canvas || !canvas.width || !canvas.height) return 0;
    const ctx = canvas.getContext('2d');
    if (!ctx) return 0;
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let lit = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i] > 16 || data[i + 1] > 16 || data[i + 2] > 16) lit++;
    }
    return lit;
}"""


def _wait_for_image(page: Page, *, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    lit = 0
    while time.monotonic() < deadline:
        lit = page.evaluate(_DRAWN)
        if lit > 500:
            return lit
        page.wait_for_timeout(250)
    return lit


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_doctor_opens_a_study_in_ohif_from_the_case_page_and_it_draws_the_image(
    ohif_dist: Path,
    live_server: LiveServer,
    doctor: User,
    page: Page,
    settings: SettingsWrapper,
    tmp_path: Path,
) -> None:
    settings.MEDASSIST_OHIF_DIR = str(ohif_dist)
    settings.VAR_DIR = tmp_path / "var"
    studies = {}
    # Uncompressed, RLE and JPEG 2000, the last two sent as stored and decoded by OHIF.
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm"):
        outcome = instance_ingest(
            data=Path(get_testdata_file(name)).read_bytes(), uploaded_by=doctor
        )
        assert outcome.instance is not None, outcome
        studies[name] = outcome.instance
    origin = live_server.url
    requests_seen: list[tuple[str, dict[str, str]]] = []
    problems: list[str] = []
    page.context.on("request", lambda r: requests_seen.append((r.url, r.headers)))
    sign_in(page, live_server, doctor.username)

    ct: Instance = studies["CT_small.dcm"]
    page.goto(f"{origin}{reverse('diagnosis:case', kwargs={'instance_id': ct.pk})}")
    with page.context.expect_page() as opened:
        page.get_by_test_id("open-in-ohif").click()
    ohif = opened.value
    ohif.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    ohif.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    started = time.monotonic()
    lit = _wait_for_image(ohif)
    drawn_after = time.monotonic() - started
    assert lit > 500, f"OHIF drew no image of the CT study ({lit} lit pixels); {problems}"
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems

    # The RLE and JPEG 2000 studies, opened by their address, draw too: their frames are
    # sent as stored, and OHIF decodes them in its workers (under their own CSP).
    for name in ("MR_small_RLE.dcm", "JPEG2000.dcm"):
        uid = studies[name].series.study.study_instance_uid
        ohif.goto(f"{origin}{OHIF}viewer?StudyInstanceUIDs={uid}")
        lit = _wait_for_image(ohif)
        assert lit > 500, f"OHIF drew no image of {name} ({lit} lit pixels); {problems}"
    assert not problems, problems

    # Everything came from MedAssist itself: no demo server, no CDN.
    foreign = {u for u, _ in requests_seen if not u.startswith((origin, "data:", "blob:"))}
    assert not foreign, foreign
    frames = [h for u, h in requests_seen if "/frames/1" in u]
    assert frames, "OHIF fetched no frames"
    assert "multipart/related" in frames[0].get("accept", "")
    assert "transfer-syntax=*" in frames[0].get("accept", "")

    # OHIF's reads went through the same audit as every other read: the studies opened in
    # OHIF alone are recorded once each as read by this doctor; the CT study was recorded by its
    # case page (which counts for the session, as the built-in viewer's frames do).
    read = AuditEvent.objects.filter(action="study.read", actor=doctor)
    assert sorted(e.object_id for e in read) == sorted(
        str(studies[name].series.study_id) for name in ("MR_small_RLE.dcm", "JPEG2000.dcm")
    )
    assert AuditEvent.objects.filter(action="case.view", actor=doctor).count() == 1
    assert AuditEvent.objects.filter(action="dicomweb.search", actor=doctor).exists()
    print(f"OHIF drew the CT image {drawn_after:.1f} s after opening")
