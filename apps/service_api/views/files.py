"""File upload for later use in `files`/`inputs`, and preview of files used in the app's messages."""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps.models import MessageFile
from apps.service_api import serializers as s
from apps.service_api.base import ServiceApiView
from files import exceptions as file_errors
from files.models import UploadFile
from files.services import file_chunks, file_open, file_upload


def upload_out(upload: UploadFile) -> dict:
    out = s.FileUploadOut(upload).data
    out["preview_url"] = None
    return out


class FileUploadApi(ServiceApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}, "user": {"type": "string"}},
            }
        },
        responses={201: s.FileUploadOut},
    )
    def post(self, request: Request) -> Response:
        uploaded = request.FILES.getlist("file")
        if not uploaded:
            raise file_errors.NoFileUploaded()
        if len(request.FILES) > 1 or len(uploaded) > 1:
            raise file_errors.TooManyFiles()
        end_user = self.end_user(request, request.data.get("user"), required=False)
        item = uploaded[0]
        upload = file_upload(
            tenant=self.app(request).tenant,
            content=item.file,
            filename=item.name,
            size=item.size,
            mime_type=item.content_type,
            created_by_role="end_user",
            created_by=end_user.id,
        )
        return Response(upload_out(upload), status=201)


class FilePreviewApi(ServiceApiView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, file_id: str) -> FileResponse:
        app = self.app(request)
        upload = UploadFile.objects.for_tenant(app.tenant_id).filter(id=file_id).first()
        if upload is None:
            raise file_errors.FileNotFound()
        # Only files that took part in this app's messages are served; others exist but are not ours to show.
        if not MessageFile.objects.filter(upload_file=upload, message__app=app).exists():
            raise file_errors.FileAccessDenied()
        as_attachment = request.query_params.get("as_attachment", "").lower() in ("1", "true", "yes")
        handle = file_open(upload)
        response = FileResponse(
            handle, content_type=upload.mime_type, as_attachment=as_attachment, filename=upload.name
        )
        if isinstance(request._request, ASGIRequest):
            response.streaming_content = file_chunks(handle)  # headers above still come from the file
        response["Cache-Control"] = "max-age=3600"
        return response
