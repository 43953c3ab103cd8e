"""Trigger endpoints: the public webhook URL and the console's trigger pages (Dify's paths)."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console.views.common import APP_ID, AppApiView
from apps.models import AppMode
from dify_project.api.errors import ApiError, InvalidParam
from dify_project.api.views import AsyncApiView
from triggers import services
from triggers.models import AppTrigger, WebhookTrigger
from triggers.webhooks import WebhookAnswer, WebhookCall, webhook_accept, webhook_run
from workflows.engine.nodes.triggers import FORM_DATA, FORM_URLENCODED, media_type


def _call_of(request: Request) -> WebhookCall:
    django_request = request._request
    length = django_request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > settings.WEBHOOK_REQUEST_BODY_MAX_SIZE:
        raise ApiError("Webhook request too large.", code="request_entity_too_large", status=413)
    raw = django_request.body
    content_type = django_request.META.get("CONTENT_TYPE")
    kind = media_type(content_type)
    form: dict[str, str] = {}
    files: dict[str, Any] = {}
    # Parsed here for every method (Django parses forms of POST only).
    if kind == FORM_URLENCODED:
        form = QueryDict(raw, encoding=django_request.encoding).dict()
    elif kind == FORM_DATA:
        try:
            fields, uploads = MultiPartParser(
                django_request.META, io.BytesIO(raw), django_request.upload_handlers, django_request.encoding
            ).parse()
        except MultiPartParserError as exc:
            raise InvalidParam(f"Invalid multipart body: {exc}") from None
        form, files = fields.dict(), uploads.dict()
    return WebhookCall(
        method=django_request.method,
        content_type=content_type,
        headers=dict(django_request.headers),
        query=django_request.GET.dict(),
        raw=raw,
        form=form,
        files=files,
    )


class WebhookApi(AsyncApiView):
    """``/triggers/webhook/{webhook_id}``: no login; the id is the address, the optional signing secret the
    credential. Answers the node's configured response at once (async mode, the run queued on Celery's
    ``workflow`` queue) or after the run (sync mode)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes: list[Any] = []  # the raw body is signed: read it as it came

    def _prepare(self, request: Request, webhook_id: str) -> WebhookAnswer:
        return webhook_accept(webhook_id=webhook_id, call=_call_of(request))

    prepare_get = prepare_post = prepare_put = prepare_patch = prepare_delete = prepare_head = _prepare

    async def _answer(self, request: Request, webhook_id: str) -> HttpResponse:
        answer: WebhookAnswer = self.prepared
        if answer.run is not None:
            answer = await webhook_run(answer)
        return JsonResponse(answer.body, status=answer.status, safe=False)

    @extend_schema(
        request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT, summary="Call a webhook trigger"
    )
    async def post(self, request: Request, webhook_id: str) -> HttpResponse:
        return await self._answer(request, webhook_id)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Call a webhook trigger")
    async def get(self, request: Request, webhook_id: str) -> HttpResponse:
        return await self._answer(request, webhook_id)

    put = patch = delete = head = post


# -- console ---------------------------------------------------------------------------------------

NODE_ID = OpenApiParameter("node_id", OpenApiTypes.STR, OpenApiParameter.QUERY, required=True)


def base_url(request: Request) -> str:
    return (settings.TRIGGER_URL or request.build_absolute_uri("/")).rstrip("/")


def webhook_out(request: Request, row: WebhookTrigger) -> dict[str, Any]:
    base = base_url(request)
    return {
        "id": str(row.id),
        "webhook_id": row.webhook_id,
        "webhook_url": f"{base}/triggers/webhook/{row.webhook_id}",
        "webhook_debug_url": f"{base}/triggers/webhook-debug/{row.webhook_id}",
        "node_id": row.node_id,
        "triggered_by": str(row.created_by) if row.created_by else None,
        "signing_secret_set": bool(row.signing_secret),
        "created_at": row.created_at.isoformat(),
    }


def trigger_out(row: AppTrigger) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "trigger_type": row.trigger_type,
        "title": row.title,
        "node_id": row.node_id,
        "provider_name": row.provider_name,
        "icon": "",
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


class NodeIn(serializers.Serializer):
    node_id = serializers.CharField(max_length=64)


class EnableIn(serializers.Serializer):
    trigger_id = serializers.UUIDField()
    enable_trigger = serializers.BooleanField()


class _TriggerView(AppApiView):
    app_modes = frozenset({AppMode.WORKFLOW})


class WebhookTriggerApi(_TriggerView):
    @extend_schema(
        parameters=[APP_ID, NODE_ID], responses=OpenApiTypes.OBJECT, summary="A webhook node's URL"
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate_query(NodeIn, request)
        row = services.webhook_trigger_for_node(app=app, node_id=data["node_id"], account_id=request.user.id)
        return Response(webhook_out(request, row))


class WebhookSigningSecretApi(_TriggerView):
    @extend_schema(
        parameters=[APP_ID],
        request=NodeIn,
        responses=OpenApiTypes.OBJECT,
        summary="Set a new signing secret (shown once); calls must then be signed with it",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(NodeIn, request.data)
        row = services.webhook_trigger_for_node(app=app, node_id=data["node_id"], account_id=request.user.id)
        secret = services.webhook_secret_rotate(trigger=row)
        return Response({**webhook_out(request, row), "signing_secret": secret})

    @extend_schema(parameters=[APP_ID, NODE_ID], responses=OpenApiTypes.OBJECT, summary="Stop signing")
    def delete(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate_query(NodeIn, request)
        row = services.webhook_trigger_for_node(app=app, node_id=data["node_id"], account_id=request.user.id)
        services.webhook_secret_clear(trigger=row)
        return Response(webhook_out(request, row))


class AppTriggersApi(_TriggerView):
    @extend_schema(parameters=[APP_ID], responses=OpenApiTypes.OBJECT, summary="The published triggers")
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        rows = AppTrigger.objects.for_tenant(request.tenant).filter(app=app).order_by("-created_at", "-id")
        return Response({"data": [trigger_out(row) for row in rows]})


class AppTriggerEnableApi(_TriggerView):
    @extend_schema(
        parameters=[APP_ID], request=EnableIn, responses=OpenApiTypes.OBJECT, summary="Enable or disable"
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(EnableIn, request.data)
        row = services.app_trigger_set_enabled(
            app=app, trigger_id=data["trigger_id"], enabled=data["enable_trigger"]
        )
        return Response(trigger_out(row))
