"""`POST /mcp/server/<server_code>/mcp`: MCP's streamable-HTTP transport, stateless JSON answers.

No login: the server code in the path is the credential, as in Dify. A body that is not JSON answers a
JSON-RPC parse error; a notification 202 with no body; everything else one JSON-RPC response (errors
included, with HTTP 200 as Dify answers them). GET (the optional server-to-client event stream) and
DELETE (session end) answer 405: this server keeps no sessions.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from apps.services.mcp_server import error_response, mcp_server_handle
from dify_project.api.views import AsyncApiView

PARSE_ERROR = -32700
MAX_BODY = 1024 * 1024


class McpServerApi(AsyncApiView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: list[Any] = []  # the body is read raw: JSON-RPC errors, not DRF's, for bad JSON

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, summary="MCP (streamable HTTP)"
    )
    async def post(self, request: Request, server_code: str) -> HttpResponse:
        raw = request._request.body
        if len(raw) > MAX_BODY:
            return JsonResponse(error_response(None, -32600, "Request too large"), status=413)
        try:
            message = json.loads(raw)
        except ValueError:
            return JsonResponse(error_response(None, PARSE_ERROR, "Parse error"), status=400)
        answer = await mcp_server_handle(server_code=server_code, message=message)
        if answer is None:
            return HttpResponse(status=202)
        return JsonResponse(answer)

    async def get(self, request: Request, server_code: str) -> HttpResponse:
        return HttpResponse(status=405, headers={"Allow": "POST"})

    async def delete(self, request: Request, server_code: str) -> HttpResponse:
        return HttpResponse(status=405, headers={"Allow": "POST"})
