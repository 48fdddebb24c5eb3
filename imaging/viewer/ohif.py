"""The OHIF Viewer, served by MedAssist to doctors and reading MedAssist's own DICOMweb.

OHIF ships as a built single-page app (the npm package ``@ohif/app``, its ``dist/``;
``make ohif`` fetches it). ``MEDASSIST_OHIF_DIR`` names that folder; MedAssist serves it
under ``/imaging/viewer/ohif/``, on the site's own origin and behind the same sign-in and
doctor role as every page, so OHIF's DICOMweb requests carry the session cookie and go
through the same roles, policy table and audit as any other read. Nothing else changes in
OHIF's files, except what serving them under a path prefix needs:

- ``app-config.js`` is generated here: one DICOMweb data source, this server's, and none of
  the shipped public demo servers.
- ``index.html`` gets the prefix in its links, loses its service worker (it would cache
  patient data in the browser and loads Workbox from a CDN) and its web manifest, and its
  inline scripts are allowed by hash in the page's content security policy.
- The bundles that hard-code webpack's public path ``"/"``, and the stylesheets whose fonts
  are ``url(/...)``, get the prefix instead; those copies are written once under
  ``VAR_DIR/ohif`` and kept while the original is unchanged.

OHIF pages get their own content security policy (:func:`medassist.security.ohif_csp`):
WebAssembly and blob workers for its image decoders, inline styles for its widgets, and eval
inside its decode workers only (the JPEG 2000 decoder needs it); the rest of the site keeps
its own, stricter one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import re
import uuid
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from medassist.roles import Role, role_required
from medassist.security import ohif_csp

# What the shipped bundles set webpack's public path to, and where chunks are then loaded.
_PUBLIC_PATH = b'__webpack_require__.p = "/";'
# Never served: the service worker (caches patient data in the browser; loads a CDN script).
_NOT_SERVED = frozenset({"sw.js", "init-service-worker.js", "app-config.js.map"})
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".html": "text/html; charset=utf-8",
}
# Hashed bundle names never change content: the browser keeps them for a day.
ASSET_CACHE_CONTROL = "private, max-age=86400"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def ohif_dir() -> Path | None:
    """OHIF's dist/ folder when MEDASSIST_OHIF_DIR names one holding index.html, else None."""
    configured = settings.MEDASSIST_OHIF_DIR
    if not configured:
        return None
    folder = Path(configured)
    return folder if (folder / "index.html").is_file() else None


def ohif_prefix() -> str:
    """The path OHIF is served under, with its trailing slash."""
    return reverse("imaging:viewer:ohif")


def ohif_study_url(study_instance_uid: str) -> str | None:
    """Where a study opens in OHIF, or None when OHIF is not installed."""
    if ohif_dir() is None:
        return None
    return f"{ohif_prefix()}viewer?StudyInstanceUIDs={study_instance_uid}"


def _config_js(request: HttpRequest) -> str:
    """OHIF's window.config: this server's DICOMweb as the one data source."""
    # The page's own origin: OHIF's requests stay same-origin and carry the session cookie.
    root = request.build_absolute_uri(reverse("imaging:dicomweb-studies").removesuffix("/studies"))
    prefix = ohif_prefix()
    login = f"{reverse('login')}?next="
    data_source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "medassist",
        "configuration": {
            "friendlyName": "MedAssist",
            "name": "medassist",
            "wadoUriRoot": root,
            "qidoRoot": root,
            "wadoRoot": root,
            "qidoSupportsIncludeField": True,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": True,
            "supportsWildcard": True,
            "staticWado": False,
            "singlepart": "bulkdata,video,pdf",
            "bulkDataURI": {"enabled": True},
            "omitQuotationForMultipartRequest": True,
        },
    }
    config = {
        "name": "medassist",
        "routerBasename": prefix.rstrip("/"),
        "extensions": [],
        "modes": [],
        "customizationService": {},
        "showStudyList": True,
        "maxNumberOfWebWorkers": 3,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": True,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "groupEnabledModesFirst": True,
        "maxNumRequests": {"interaction": 100, "thumbnail": 10, "prefetch": 25},
        "showErrorDetails": "dev",
        "defaultDataSourceName": "medassist",
        "dataSources": [data_source],
    }
    return (
        "/* Written by MedAssist (imaging/viewer/ohif.py): OHIF reads this server's DICOMweb "
        "only. */\n"
        f"window.config = {json.dumps(config, indent=2)};\n"
        "// Signed out (idle, or in another tab): back to the sign-in page, then here again.\n"
        "window.config.httpErrorHandler = function (error) {\n"
        "  if (error && error.status === 401) {\n"
        f"    window.location.assign({json.dumps(login)} + "
        "encodeURIComponent(window.location.pathname + window.location.search));\n"
        "  }\n"
        "};\n"
    )


def _index_html(folder: Path) -> tuple[str, list[str]]:
    """The shipped index.html under the prefix, and the hashes of its inline scripts."""
    prefix = ohif_prefix()
    html = (folder / "index.html").read_text(encoding="utf-8")
    html = html.replace('window.PUBLIC_URL="/"', f"window.PUBLIC_URL={json.dumps(prefix)}")
    # Links to the site root point under the prefix ("//host" ones are left as they are).
    html = re.sub(r'((?:href|src)=")/(?!/)', rf"\g<1>{prefix}", html)
    # No service worker, no web manifest (fetched without the session cookie).
    html = re.sub(r"<script[^>]*init-service-worker\.js[^>]*></script>", "", html)
    html = re.sub(r'<link rel="manifest"[^>]*>', "", html)
    hashes = [
        "'sha256-"
        + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]
    return html, hashes


def _patched(data: bytes, suffix: str, prefix: str) -> bytes:
    """``data`` with the site-root paths a bundle or stylesheet hard-codes under ``prefix``."""
    if suffix == ".js":
        return data.replace(_PUBLIC_PATH, f"__webpack_require__.p = {json.dumps(prefix)};".encode())
    if suffix == ".css":
        return re.sub(rb"url\(/(?!/)", b"url(" + prefix.encode(), data)
    return data


def _patched_copy(source: Path, relative: str) -> Path:
    """``source`` itself, or a copy with the site-root paths it hard-codes under the prefix
    (written once, next to a marker when there was nothing to change)."""
    if source.suffix not in {".js", ".css"}:
        return source
    stat = source.stat()
    prefix = ohif_prefix()
    key = hashlib.sha256(
        f"{source.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{prefix}".encode()
    ).hexdigest()[:24]
    target = Path(settings.VAR_DIR) / "ohif" / key / relative
    if target.exists():
        return target
    plain = target.with_name(f"{target.name}.unchanged")
    if plain.exists():
        return source
    data = source.read_bytes()
    patched = _patched(data, source.suffix, prefix)
    target.parent.mkdir(parents=True, exist_ok=True)
    if patched == data:
        plain.touch()  # nothing to change: remember, so the file is not read again
        return source
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(patched)
    os.replace(tmp, target)
    return target


def _not_installed() -> HttpResponse:
    configured = settings.MEDASSIST_OHIF_DIR
    message = (
        f"MEDASSIST_OHIF_DIR={configured} holds no index.html: it must name the dist/ folder "
        "of the OHIF Viewer (make ohif prints it)."
        if configured
        else "The OHIF Viewer is not installed here (MEDASSIST_OHIF_DIR is not set; an "
        "administrator runs make ohif and sets it)."
    )
    return HttpResponse(message, status=404, content_type="text/plain; charset=utf-8")


@role_required(Role.DOCTOR)
@require_GET
def ohif_app(request: HttpRequest) -> HttpResponse | FileResponse:
    """Any path under the prefix: a file of OHIF's dist/, the generated app-config.js, or
    (for OHIF's own routes, such as ``viewer?StudyInstanceUIDs=...``) its index.html."""
    folder = ohif_dir()
    if folder is None:
        return _not_installed()
    relative = request.path.removeprefix(ohif_prefix())
    if relative == "app-config.js":
        response = HttpResponse(_config_js(request), content_type="text/javascript")
        response._csp_config = ohif_csp()  # type: ignore[attr-defined]
        return response
    name = relative.rsplit("/", 1)[-1]
    if relative and relative != "index.html" and "." in name:
        return _file(folder, relative)
    html, hashes = _index_html(folder)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response._csp_config = ohif_csp(script_hashes=hashes)  # type: ignore[attr-defined]
    return response


def _file(folder: Path, relative: str) -> FileResponse:
    root = folder.resolve()
    source = (root / relative).resolve()
    name = source.name
    if (
        not source.is_relative_to(root)
        or not source.is_file()
        or name in _NOT_SERVED
        or any(part.startswith(".") for part in source.relative_to(root).parts)
    ):
        raise Http404(f"OHIF has no file {relative}.")
    served = _patched_copy(source, str(source.relative_to(root)))
    content_type = _TYPES.get(source.suffix) or (
        mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    response = FileResponse(served.open("rb"), content_type=content_type)
    response["Cache-Control"] = ASSET_CACHE_CONTROL
    # Applies where the file runs as a worker (its decoders need eval); a page that loads it
    # as a script keeps the page's own policy.
    response._csp_config = ohif_csp(  # type: ignore[attr-defined]
        worker_script=source.suffix in {".js", ".mjs"}
    )
    return response
