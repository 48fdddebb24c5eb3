"""Frame latency of the study viewer: client-side windowing vs server-rendered PNGs.

Generates a synthetic 512x512 CT series (50 slices by default), ingests it through the ordinary
service into a throw-away SQLite database and media folder, and times the viewer's endpoints
through Django's test client (in-process: no network, so add the wire time of the byte counts
printed for a real link). Prints p50/p95 in milliseconds:

- manifest: the JSON the viewer loads first (cold: attributes read from each file);
- raw frame, cold / cached: modality values, gzip (what the browser windows on a canvas);
- PNG, file window, cold / cached: the server-rendered 8-bit fallback and thumbnails;
- PNG, new window each request: what every window/level drag step would cost if the server
  applied the window (never cached, by construction).

The time the browser takes to apply a window to a frame is not measured on the server: with
``--browser`` the script also times the viewer's LUT loop on a 512x512 int16 frame in headless
chromium (the same algorithm as static/js/viewer.js, run standalone).

    .venv/bin/python bench/viewer_latency.py [--slices 50] [--size 512] [--browser]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(work: Path) -> None:
    """Point Django at a scratch database and media folder before it is imported."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "medassist.settings",
            "MEDASSIST_VAR_DIR": str(work / "var"),
            "MEDIA_ROOT": str(work / "media"),
            "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-only-not-secret",
            "ALLOWED_HOSTS": "testserver",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    os.environ.pop("REDIS_URL", None)
    # Kombu's filesystem transport writes its "control" folder relative to the working
    # directory: keep it in the scratch folder, not in the repository.
    os.chdir(work)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   (n={len(ms)})"


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _browser_window_timing(size: int, repeats: int = 50) -> str:
    executable = shutil.which("chromium")
    if executable is None:
        return "chromium not found: JS windowing not measured"
    from playwright.sync_api import sync_playwright

    script = """([size, repeats]) => {
        const n = size * size, data = new Int16Array(n);
        for (let i = 0; i < n; i++) data[i] = (Math.random() * 4096 - 1024) | 0;
        const c = document.createElement('canvas'); c.width = c.height = size;
        const ctx = c.getContext('2d'); const out = ctx.createImageData(size, size);
        const px = new Uint32Array(out.data.buffer); const times = [];
        for (let r = 0; r < repeats; r++) {
            const t0 = performance.now();
            const wc = -600 + r * 7, ww = 1500;
            const lower = wc - 0.5 - (ww - 1) / 2, scale = 255 / (ww - 1);
            const lut = new Uint32Array(65536);
            for (let v = 0; v < 65536; v++) {
                let g = (v - 32768 - lower) * scale;
                g = g <= 0 ? 0 : g >= 255 ? 255 : Math.round(g);
                lut[v] = 0xff000000 | (g << 16) | (g << 8) | g;
            }
            for (let i = 0; i < n; i++) px[i] = lut[data[i] + 32768];
            ctx.putImageData(out, 0, 0);
            times.push(performance.now() - t0);
        }
        return times;
    }"""
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=args)
        try:
            times = browser.new_page().evaluate(script, [size, repeats])
        finally:
            browser.close()
    return _percentiles([t / 1000 for t in times[5:]]) + " (after 5 warm-up runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=50)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--browser", action="store_true", help="also time JS windowing")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="viewer-bench-"))
    try:
        _setup(work)
        _run(args.slices, args.size)
        if args.browser:
            print(f"JS window, {args.size}x{args.size} int16 (browser):  ", end="", flush=True)
            print(_browser_window_timing(args.size))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(n_slices: int, size: int) -> None:
    import numpy as np
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from pydicom.uid import generate_uid

    from imaging.ingest.services import instance_ingest
    from medassist.ml.synthetic import dicom_bytes, synthetic_dicom
    from medassist.roles import Role

    call_command("migrate", verbosity=0)
    doctor = User.objects.create_user("bench-doctor")
    doctor.groups.add(Group.objects.get(name=Role.DOCTOR))

    started = time.perf_counter()
    study_uid, series_uid = generate_uid(), generate_uid()
    instances = []
    for k in range(n_slices):
        ds = synthetic_dicom(
            finding="nodule" if k % 7 == 0 else "normal",
            patient_id="BENCH-1",
            patient_name="Synthetic^Bench",
            study_uid=study_uid,
            series_uid=series_uid,
            size=size,
            rng=np.random.default_rng(k),
            modality="CT",
        )
        ds.InstanceNumber = k + 1
        ds.SliceLocation = 2.5 * k
        instances.append(instance_ingest(data=dicom_bytes(ds)).instance)
    file_mb = sum(i.size_bytes for i in instances) / n_slices / 1e6
    print(
        f"{n_slices} CT slices of {size}x{size} ingested in {time.perf_counter() - started:.1f} s"
        f" ({file_mb:.2f} MB per file)\n"
    )

    client = Client()
    client.force_login(doctor)
    gz = {"HTTP_ACCEPT_ENCODING": "gzip"}
    study_id = instances[0].series.study_id
    manifest = reverse("imaging:viewer:manifest", kwargs={"study_id": study_id})

    def raw_url(i: int) -> str:
        return reverse("imaging:viewer:frame-raw", kwargs={"instance_id": i, "frame": 0})

    def png_url(i: int) -> str:
        return reverse("imaging:viewer:frame-png", kwargs={"instance_id": i, "frame": 0})

    rows: list[tuple[str, list[float]]] = []
    rows.append(("manifest, cold", [_timed(lambda: client.get(manifest))]))
    rows.append(("manifest, cached", [_timed(lambda: client.get(manifest)) for _ in range(10)]))

    raw_sizes: list[int] = []

    def get_raw(i: int) -> None:
        response = client.get(raw_url(i), **gz)
        assert response.status_code == 200, response.content
        raw_sizes.append(len(response.content))

    rows.append(
        ("raw frame, cold (decode+gzip)", [_timed(lambda i=i: get_raw(i.pk)) for i in instances])
    )
    rows.append(("raw frame, cached", [_timed(lambda i=i: get_raw(i.pk)) for i in instances]))

    png_sizes: list[int] = []

    def get_png(i: int, **params: object) -> None:
        response = client.get(png_url(i), params)
        assert response.status_code == 200, response.content
        png_sizes.append(len(response.content))

    rows.append(("PNG, file window, cold", [_timed(lambda i=i: get_png(i.pk)) for i in instances]))
    rows.append(
        ("PNG, file window, cached", [_timed(lambda i=i: get_png(i.pk)) for i in instances])
    )
    # One image, a new window each time: a window/level drag if the server did the windowing.
    one = instances[n_slices // 2].pk
    rows.append(
        (
            "PNG, new window per request",
            [_timed(lambda k=k: get_png(one, wc=-600 + 7 * k, ww=1500)) for k in range(n_slices)],
        )
    )

    width = max(len(name) for name, _ in rows)
    for name, samples in rows:
        print(f"{name:<{width}}  {_percentiles(samples)}")
    raw_bytes = size * size * 2
    gz_mean = statistics.mean(raw_sizes)
    print(
        f"\nbytes per frame: raw int16 {raw_bytes / 1024:.0f} KiB, gzip {gz_mean / 1024:.0f} KiB"
        f" ({gz_mean / raw_bytes:.0%}); 8-bit PNG {statistics.mean(png_sizes) / 1024:.0f} KiB"
    )
    print(
        "client-side windowing: a window change re-maps the cached frame in the browser; no"
        " request is made, so its cost is not in the server figures above."
    )


if __name__ == "__main__":
    main()
