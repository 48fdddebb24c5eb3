"""REST API for machine clients: upload one DICOM file (token or session auth).

``POST /imaging/api/instances/`` takes the file either as a multipart form (field ``file``),
or as the raw request body with ``Content-Type: application/dicom`` (no filename needed: a
DICOM object carries its own identity). A refusal answers ``{"detail": <sentence>, "code":
<IngestError.code>}`` with the error's HTTP status (see
:class:`imaging.ingest.errors.IngestError` and docs/ingest.md).
"""

from __future__ import annotations

from typing import Any

from django.db.models import F
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.parsers import BaseParser, FileUploadParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from medassist.roles import Role, user_roles, user_roles_remember

from .ingest.errors import IngestError
from .ingest.limits import max_upload_bytes
from .ingest.parsing import read_bounded, refuse_declared_size
from .ingest.services import instance_ingest
from .models import NonImageInstance

# Room for the multipart framing (boundaries, part headers, other small fields) around the
# file itself when a request's declared length is checked against the file size limit.
MULTIPART_OVERHEAD = 64 * 1024


class IsDoctor(permissions.BasePermission):
    message = "Uploading images needs the doctor role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return Role.DOCTOR in user_roles(request.user)


class TokenWithRolesAuthentication(TokenAuthentication):
    """DRF's token check, which reads the user's groups (its roles) in the same query: the
    role check that follows costs no round trip of its own."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        model = self.get_model()
        # One row per group of the user (one row, with no name, for a user in none).
        rows = list(
            model.objects.select_related("user")
            .filter(key=key)
            .annotate(group_name=F("user__groups__name"))
        )
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = rows[0]
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        user_roles_remember(token.user, (row.group_name for row in rows if row.group_name))
        return (token.user, token)


class IngestRefused(APIException):
    """An :class:`IngestError` raised while the request body is read, as an API answer."""

    def __init__(self, error: IngestError) -> None:
        super().__init__(detail={"detail": str(error), "code": error.code})
        self.status_code = error.status


class DicomBodyParser(BaseParser):
    """A raw ``application/dicom`` body, read into memory up to the file size limit.

    Returns ``{"file": bytes}``. A declared ``Content-Length`` over the limit is refused
    before a byte is read; a body without one is read to one byte past the limit at most.
    """

    media_type = "application/dicom"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> dict[str, bytes]:
        if stream is None:
            return {}
        try:
            return {"file": read_bounded(stream, limit=max_upload_bytes())}
        except IngestError as exc:
            raise IngestRefused(exc) from exc


class InstanceUploadView(APIView):
    # The project's token and session authentication, in that order (settings.REST_FRAMEWORK).
    authentication_classes = [TokenWithRolesAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated, IsDoctor]
    # The raw DICOM body first; FileUploadParser still takes any other type that names a
    # filename in Content-Disposition, as before.
    parser_classes = [MultiPartParser, DicomBodyParser, FileUploadParser]

    def post(self, request: Request) -> Response:
        try:
            # A body larger than any file could be is refused before anything reads it.
            refuse_declared_size(
                request.META.get("CONTENT_LENGTH"),
                limit=max_upload_bytes(),
                slack=MULTIPART_OVERHEAD,
            )
            data = self._file_bytes(request)
            if data is None:
                return Response(
                    {
                        "detail": "Send the DICOM file in the 'file' field of a multipart "
                        "form, or as the request body with Content-Type: application/dicom."
                    },
                    status=status.HTTP_400_BAD_REQUEST,
                )
            result = instance_ingest(data=data, uploaded_by=request.user, source="api")
        except IngestError as exc:
            # ``code`` lets a machine client tell a conflict from a truncated file without
            # parsing the sentence meant for people.
            return Response({"detail": str(exc), "code": exc.code}, status=exc.status)
        stored = result.instance
        body: dict[str, Any] = {
            "id": stored.pk,
            "sop_instance_uid": stored.sop_instance_uid,
            "sha256": stored.sha256,
            "created": result.created,
            "duplicate": result.duplicate,
            "kind": "image",
        }
        if isinstance(stored, NonImageInstance):
            # Stored with its study and never sent to the AI. Its ``id`` numbers non-image
            # objects, not images.
            body["kind"] = "non-image"
            body["sop_class"] = stored.sop_class_name
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )

    @staticmethod
    def _file_bytes(request: Request) -> bytes | None:
        upload = request.data.get("file")
        if upload is None or isinstance(upload, bytes):
            return upload
        # A multipart upload: its size is known before it is read.
        refuse_declared_size(upload.size, limit=max_upload_bytes())
        return read_bounded(upload, limit=max_upload_bytes())
