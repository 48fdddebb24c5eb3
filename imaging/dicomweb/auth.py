"""Who may use DICOMweb, and the base view every DICOMweb endpoint builds on.

Machine clients send ``Authorization: Token <key>`` (DRF tokens, issued in the admin); a
signed-in browser session works too (with CSRF on writes). Anonymous requests get 401 with
``WWW-Authenticate: Token``; a signed-in user without the doctor role gets 403.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from medassist.roles import Role, user_roles
from medassist.services import client_ip

from .services import dicomweb_access_record


class IsDoctor(permissions.BasePermission):
    message = (
        "DICOMweb needs the doctor role. Ask an administrator to add this account (or the "
        "machine user its token belongs to) to the doctor group."
    )

    def has_permission(self, request: Request, view: APIView) -> bool:
        return Role.DOCTOR in user_roles(request.user)


class JsonErrorsOnly(BaseContentNegotiation):
    """DICOMweb views negotiate their own media types (multipart, images, DICOM JSON).

    DRF's negotiation would answer 406 to ``Accept: multipart/related; ...`` before the view
    runs; here it only picks the JSON renderer that DRF uses for its own error bodies.
    """

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class BrowserSessionAuthentication(SessionAuthentication):
    """A signed-in browser's session, with Django's CSRF check on the plain HttpRequest.

    DRF runs the check on its own Request, whose ``POST`` parses the body: a STOW-RS body
    (multipart/related) has no parser here, so every browser upload was answered 415. The
    plain request leaves such a body unread, and the token comes in ``X-CSRFToken``.
    """

    def enforce_csrf(self, request: Request) -> None:
        super().enforce_csrf(request._request)


class DicomWebView(APIView):
    """Token or session auth, doctors only, errors as JSON ``{"detail": ...}``.

    A successful GET is audited with ``audit_action`` (searches); retrieves of one study are
    recorded once per study and session by the access audit (medassist/access.py).
    """

    authentication_classes = [TokenAuthentication, BrowserSessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, IsDoctor]
    renderer_classes = [JSONRenderer]
    parser_classes: list[Any] = []
    content_negotiation_class = JsonErrorsOnly
    audit_action = ""

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            self.audit_action
            and request.method == "GET"
            and 200 <= response.status_code < 300
            and request.user.is_authenticated
        ):
            dicomweb_access_record(
                actor=request.user,
                action=self.audit_action,
                path=request.path,
                query=request.META.get("QUERY_STRING", ""),
                remote_addr=client_ip(request),
            )
        return response
