"""Serving tool files at Dify's ``/files/tools/<id>.<ext>`` with a signed, expiring URL instead of a login
(an ``<img>`` tag in a chat sends no token). A missing parameter is 400, a bad or expired signature 403
(``Invalid request.``, as Dify says), an unknown file 404."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from dify_project.api.errors import Forbidden
from dify_project.api.views import ApiView
from files.exceptions import FileNotFound
from files.models import ToolFile
from files.services import file_chunks
from files.signing import verify_tool_file


class ToolFileQuery(serializers.Serializer):
    timestamp = serializers.CharField(max_length=20)
    nonce = serializers.CharField(max_length=64)
    sign = serializers.CharField(max_length=128)
    as_attachment = serializers.BooleanField(required=False, default=False)


class ToolFileApi(ApiView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[ToolFileQuery, OpenApiParameter("file_id", str, OpenApiParameter.PATH)],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, file_id: Any, extension: str) -> FileResponse:
        query = self.validate(ToolFileQuery, request.query_params)
        if not verify_tool_file(
            file_id=str(file_id), timestamp=query["timestamp"], nonce=query["nonce"], sign=query["sign"]
        ):
            raise Forbidden("Invalid request.")
        # The signature names the file: no workspace scope to apply, the id was signed by us for this file.
        tool_file = ToolFile.objects.filter(id=file_id).first()
        if tool_file is None or not default_storage.exists(tool_file.file_key):
            raise FileNotFound("file is not found")
        handle = default_storage.open(tool_file.file_key, "rb")
        response = FileResponse(handle, content_type=tool_file.mimetype or "application/octet-stream")
        if isinstance(request._request, ASGIRequest):
            response.streaming_content = file_chunks(handle)
        if tool_file.size > 0:
            response["Content-Length"] = str(tool_file.size)
        if query["as_attachment"]:
            response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(tool_file.name)}"
        return response
