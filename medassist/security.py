"""Middleware that keeps patient data out of caches and malformed URLs out of the views,
and the content security policy of the OHIF Viewer's pages.

``ControlCharactersMiddleware`` answers 400 for a URL whose path or query parameters hold a
control character (PostgreSQL cannot store a NUL, so such a value would otherwise end as a
500 deep in a query). ``NoStoreWhenSignedInMiddleware`` marks every response to a signed-in
user as not to be stored, unless the view chose its own caching, which is then kept private.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from csp.constants import NONE, SELF
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.cache import add_never_cache_headers, patch_cache_control

# C0 controls and DEL, except tab, line feed and carriage return (text may hold those).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Handler = Callable[[HttpRequest], HttpResponse]


def _has_control_character(request: HttpRequest) -> bool:
    if _CONTROL.search(request.path):
        return True
    return any(
        _CONTROL.search(key) or any(_CONTROL.search(value) for value in values)
        for key, values in request.GET.lists()
    )


class ControlCharactersMiddleware:
    """Refuse, with 400 and one plain line, a URL holding a NUL or other control character.

    Only the URL is read: request bodies are left to the forms (Django's form fields already
    refuse a NUL, next to the field) and to the upload parsers, whose files hold any byte.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_control_character(request):
            return HttpResponseBadRequest(
                "Bad request: the address holds a control character (such as NUL).\n",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class NoStoreWhenSignedInMiddleware:
    """``Cache-Control: no-store, private`` (and friends) on every response to a signed-in user.

    A response whose view set its own Cache-Control keeps it (the frame and heatmap images
    are cached privately on purpose), with ``private`` added so no shared cache keeps it.
    Must come after AuthenticationMiddleware. Anonymous responses are left alone, so static
    files and the sign-in page keep their own caching.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return response
        if response.has_header("Cache-Control"):
            patch_cache_control(response, private=True)
        else:
            # no-store, no-cache, must-revalidate, private, max-age=0 and an Expires now.
            add_never_cache_headers(response)
        return response


def ohif_csp(
    *, script_hashes: list[str] | tuple[str, ...] = (), worker_script: bool = False
) -> dict[str, list[str]]:
    """The content security policy of the OHIF Viewer's pages (imaging/viewer/ohif.py).

    The site's own policy (settings.CONTENT_SECURITY_POLICY) stays as it is everywhere else.
    OHIF needs three things more: compiling WebAssembly (its image decoders:
    ``'wasm-unsafe-eval'``, which allows no JavaScript eval), workers started from blob: URLs,
    and inline styles (its widgets set style attributes). Its index.html's two inline
    scripts are allowed by their hashes only. Everything still comes from this origin alone:
    no CDN, no other server, no framing.

    ``worker_script``: the policy sent with OHIF's script files. A browser applies it only
    where such a file runs as a worker (a script a page loads runs under the page's policy):
    there the JPEG 2000 and HTJ2K decoders (Emscripten's embind) build functions from strings,
    so ``'unsafe-eval'`` is allowed inside OHIF's workers, never in its pages.
    """
    return {
        "default-src": [SELF],
        "script-src": [
            SELF,
            "'wasm-unsafe-eval'",
            *(["'unsafe-eval'"] if worker_script else []),
            *script_hashes,
        ],
        "worker-src": [SELF, "blob:"],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    }
