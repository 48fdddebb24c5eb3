"""The DICOMweb root that retrieve URLs and bulk data URIs start with.

``MEDASSIST_DICOMWEB_BASE_URL`` names it outright (the address clients reach MedAssist's
DICOMweb root at, e.g. behind a proxy). Without it the root is built from the request: its
scheme and Host header, and, when the Host header names no port (some clients and proxies
leave it out), the port the request arrived on, unless that is the scheme's default or the
request came through a proxy (which knows the public port: set the setting there).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

# Headers a forwarding proxy sets: the port the request arrived on is then the proxy's
# upstream port, not one a client can reach.
_PROXY_HEADERS = ("HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")


def _has_port(host: str) -> bool:
    if host.startswith("["):  # an IPv6 literal: [::1] or [::1]:8000
        return "]:" in host
    return ":" in host


def request_host(request: HttpRequest) -> str:
    """The request's host with its port (see the module docstring)."""
    host = request.get_host()
    if _has_port(host):
        return host
    meta = request.META
    if any(meta.get(h) for h in _PROXY_HEADERS) or getattr(
        settings, "SECURE_PROXY_SSL_HEADER", None
    ):
        return host
    port = str(meta.get("SERVER_PORT") or "")
    default = "443" if request.is_secure() else "80"
    if port.isdigit() and port != default:
        return f"{host}:{port}"
    return host


def dicomweb_path() -> str:
    """The DICOMweb root's path on this server: ``/imaging/dicomweb``."""
    return reverse("imaging:dicomweb-studies").removesuffix("/studies")


def dicomweb_root(request: HttpRequest) -> str:
    """The absolute DICOMweb root, without a trailing slash."""
    configured = getattr(settings, "MEDASSIST_DICOMWEB_BASE_URL", "")
    if configured:
        return configured.rstrip("/")
    return f"{request.scheme}://{request_host(request)}{dicomweb_path()}"
