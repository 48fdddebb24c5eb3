"""REST API for machine clients: upload one DICOM file (token or session auth).

A refusal answers ``{"detail": <sentence>, "code": <IngestError.code>}`` with the error's HTTP
status (see :class:`imaging.ingest.errors.IngestError` and docs/ingest.md).
"""

from __future__ import annotations

from rest_framework import permissions, status
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from medassist.roles import Role, user_roles

from .ingest.errors import IngestError
from .ingest.services import instance_ingest


class IsDoctor(permissions.BasePermission):
    message = "Uploading images needs the doctor role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return Role.DOCTOR in user_roles(request.user)


class InstanceUploadView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsDoctor]
    parser_classes = [MultiPartParser, FileUploadParser]

    def post(self, request: Request) -> Response:
        upload = request.data.get("file")
        if upload is None:
            return Response(
                {"detail": "Send the DICOM file in the 'file' field."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            result = instance_ingest(data=upload.read(), uploaded_by=request.user, source="api")
        except IngestError as exc:
            # ``code`` lets a machine client tell a conflict from a truncated file without
            # parsing the sentence meant for people.
            return Response({"detail": str(exc), "code": exc.code}, status=exc.status)
        instance = result.instance
        return Response(
            {
                "id": instance.pk,
                "sop_instance_uid": instance.sop_instance_uid,
                "sha256": instance.sha256,
                "created": result.created,
                "duplicate": result.duplicate,
            },
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
