"""Dify's web-app API (``/api/...``): what a published site's page calls. The same runners, services and
shapes as the Service API; the app and end user come from the passport, runs are ``web-app`` runs."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.services import account_authenticate
from apps import exceptions as errors
from apps.models import App, AppMode, Site
from apps.parameters import app_parameters
from apps.runners.chat_app import ChatRequest, answer_chat_request, prepare_chat_request
from apps.runners.workflow_app import WorkflowRunRequest
from apps.runs import control
from apps.service_api import serializers as s
from apps.service_api.views import app_info, audio, conversations, files, generation
from apps.service_api.views.generation import (
    WorkflowRequest,
    answer_workflow_request,
    prepare_workflow_request,
)
from apps.services import conversations as conversation_service
from apps.services import web_app as service
from apps.web.authentication import APP_CODE_HEADER, bearer_token
from apps.web.base import AsyncWebApiView, AsyncWebCallerMixin, WebApiView, WebCallerMixin
from dify_project.api.errors import InvalidParam, Unauthorized
from dify_project.api.fields import ResultOut
from dify_project.api.views import ApiView

WEB_APP = "web-app"
AccessTokenOut = inline_serializer("WebAccessToken", {"access_token": serializers.CharField()})


# Passport, login and access mode (no passport yet) ----------------------------------------------------


class PassportApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[inline_serializer("PassportQuery", {"user_id": serializers.CharField(required=False)})],
        responses=AccessTokenOut,
        summary="A passport (end-user token) for the site named by the X-App-Code header",
    )
    def get(self, request: Request) -> Response:
        code = request.headers.get(APP_CODE_HEADER)
        if code is None:
            raise Unauthorized("X-App-Code header is missing.")
        token = service.passport_issue(
            code=code,
            user_id=(request.query_params.get("user_id") or "")[:255] or None,
            login_token=bearer_token(request),
        )
        return Response({"access_token": token})


class LoginIn(serializers.Serializer):
    email = serializers.EmailField(max_length=255)
    password = serializers.CharField(max_length=255, trim_whitespace=False)


class LoginApi(ApiView):
    """Sign-in for sites that are not public: the answer is exchanged for a passport at ``/passport``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=LoginIn, responses=OpenApiTypes.OBJECT, summary="Web-app sign-in (email, password)"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(LoginIn, request.data)
        account = account_authenticate(email=data["email"], password=data["password"])
        return Response(
            {"result": "success", "data": {"access_token": service.webapp_login(account=account)}}
        )


class AccessModeApi(ApiView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[
            inline_serializer(
                "AccessModeQuery",
                {
                    "appCode": serializers.CharField(required=False),
                    "appId": serializers.UUIDField(required=False),
                },
            )
        ],
        responses=inline_serializer("AccessMode", {"accessMode": serializers.CharField()}),
    )
    def get(self, request: Request) -> Response:
        code = request.query_params.get("appCode")
        app_id = request.query_params.get("appId")
        if not code and not app_id:
            raise InvalidParam("appCode or appId is required")
        if code:
            app = service.site_for_code(code=code).app
        else:
            try:
                app_id = str(uuid.UUID(app_id))
            except ValueError:
                raise errors.AppNotFound() from None
            site = Site.objects.select_related("app").filter(app_id=app_id).first()
            if site is None:
                raise errors.AppNotFound()
            app = site.app
        return Response({"accessMode": service.access_mode_of(app=app)})


# The site, its parameters and meta ----------------------------------------------------------------------


def site_info(app: App, site: Site, end_user_id: str) -> dict[str, Any]:
    """Dify's ``AppSiteInfo``: the site settings plus what the page needs to brand itself."""
    config = app.app_model_config.config if app.app_model_config else {}
    model_config = None
    if site.prompt_public and config:
        model_config = {
            "opening_statement": config.get("opening_statement") or "",
            "suggested_questions": config.get("suggested_questions") or [],
            "suggested_questions_after_answer": config.get("suggested_questions_after_answer")
            or {"enabled": False},
            "more_like_this": config.get("more_like_this") or {"enabled": False},
            "model": config.get("model") or {},
            "user_input_form": config.get("user_input_form") or [],
            "pre_prompt": config.get("pre_prompt") or "",
        }
    custom = app.tenant.custom_config or {}
    return {
        "app_id": str(app.id),
        "end_user_id": end_user_id,
        "enable_site": app.enable_site,
        "site": {**s.SiteOut(site).data, "prompt_public": site.prompt_public},
        "model_config": model_config,
        "plan": app.tenant.plan,
        "can_replace_logo": False,
        "custom_config": {
            "remove_webapp_brand": bool(custom.get("remove_webapp_brand", False)),
            "replace_webapp_logo": None,
        },
    }


class SiteApi(WebApiView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The app's site settings")
    def get(self, request: Request) -> Response:
        caller = request.user
        return Response(site_info(caller.app, caller.site, str(caller.end_user.id)))


class ParametersApi(WebApiView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Input form and features")
    def get(self, request: Request) -> Response:
        return Response(app_parameters(self.app(request)))


class MetaApi(WebCallerMixin, app_info.MetaApi):
    pass


# Runs ------------------------------------------------------------------------------------------------------


class ChatMessagesApi(AsyncWebApiView):
    def prepare_post(self, request: Request) -> WorkflowRequest | ChatRequest:
        app = self.app(request)
        self.require_chat(app)
        data = self.validate(s.ChatMessageIn, request.data)
        end_user = request.user.end_user
        streaming = data["response_mode"] == "streaming"
        if app.mode == AppMode.ADVANCED_CHAT:
            run_request = WorkflowRunRequest(
                app=app,
                inputs=data["inputs"],
                invoke_from=WEB_APP,
                end_user=end_user,
                query=data["query"],
                files=data.get("files"),
                conversation_id=data.get("conversation_id"),
                auto_generate_name=data["auto_generate_name"],
            )
            return prepare_workflow_request(run_request, streaming=streaming, chat=True)
        return prepare_chat_request(
            app=app, end_user=end_user, data=data, streaming=streaming, invoke_from=WEB_APP
        )

    @extend_schema(request=s.ChatMessageIn, responses={200: s.ChatBlockingOut}, summary="Send a chat message")
    async def post(self, request: Request) -> Response:
        if isinstance(self.prepared, WorkflowRequest):
            return await answer_workflow_request(self.prepared)
        return await answer_chat_request(self.prepared)


class CompletionMessagesApi(AsyncWebApiView):
    def prepare_post(self, request: Request) -> ChatRequest:
        app = self.app(request)
        if app.mode != AppMode.COMPLETION:
            raise errors.NotCompletionApp()
        data = self.validate(s.CompletionIn, request.data)
        return prepare_chat_request(
            app=app,
            end_user=request.user.end_user,
            data=data,
            streaming=data["response_mode"] == "streaming",
            invoke_from=WEB_APP,
        )

    @extend_schema(request=s.CompletionIn, responses={200: s.ChatBlockingOut}, summary="Run a completion app")
    async def post(self, request: Request) -> Response:
        return await answer_chat_request(self.prepared)


class WorkflowRunApi(AsyncWebApiView):
    def prepare_post(self, request: Request) -> WorkflowRequest:
        app = self.app(request)
        self.require_workflow(app)
        data = self.validate(s.WorkflowRunIn, request.data)
        run_request = WorkflowRunRequest(
            app=app,
            inputs=data["inputs"],
            invoke_from=WEB_APP,
            end_user=request.user.end_user,
            files=data.get("files"),
        )
        return prepare_workflow_request(
            run_request, streaming=data["response_mode"] == "streaming", chat=False
        )

    @extend_schema(
        request=s.WorkflowRunIn, responses={200: s.WorkflowRunBlockingOut}, summary="Run the workflow"
    )
    async def post(self, request: Request) -> Response:
        return await answer_workflow_request(self.prepared)


class StopApi(AsyncWebApiView):
    mode_check = "chat"

    @extend_schema(request=None, responses=ResultOut)
    async def post(self, request: Request, task_id: str) -> Response:
        app = self.app(request)
        if self.mode_check == "chat":
            self.require_chat(app)
        elif self.mode_check == "workflow":
            self.require_workflow(app)
        elif app.mode != AppMode.COMPLETION:
            raise errors.NotCompletionApp()
        # A task is stopped only by the end user who started it (Dify's stop check).
        await control.request_stop(
            str(task_id), app_id=str(app.id), user_key=request.user.end_user.session_id
        )
        return Response({"result": "success"})


class ChatStopApi(StopApi):
    mode_check = "chat"


class CompletionStopApi(StopApi):
    mode_check = "completion"


class WorkflowStopApi(StopApi):
    mode_check = "workflow"


# Conversations and messages ---------------------------------------------------------------------------------


class ConversationListQuery(s.ConversationListQuery):
    pinned = serializers.ChoiceField(choices=["true", "false"], required=False, allow_null=True)


class ConversationListApi(WebApiView):
    @extend_schema(parameters=[ConversationListQuery], responses=s.ConversationListOut)
    def get(self, request: Request) -> Response:
        app, end_user = self.app(request), self.end_user(request)
        self.require_chat(app)
        query = self.validate_query(ConversationListQuery, request)
        pins = service.pinned_ids(app=app, end_user=end_user)
        pinned = query.get("pinned")
        window = conversation_service.conversation_list(
            app=app,
            end_user=end_user,
            last_id=str(query["last_id"]) if query.get("last_id") else None,
            limit=query["limit"],
            sort_by=query["sort_by"],
            only_ids=pins if pinned == "true" else None,
            exclude_ids=pins if pinned == "false" else None,
        )
        return Response(
            {
                "limit": window.limit,
                "has_more": window.has_more,
                "data": s.SimpleConversationOut(window.data, many=True).data,
            }
        )


class ConversationApi(WebApiView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, conversation_id: str) -> Response:
        app, end_user = self.app(request), self.end_user(request)
        self.require_chat(app)
        conversation = conversation_service.conversation_get(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        conversation_service.conversation_delete(conversation=conversation)
        service.conversation_unpin(app=app, end_user=end_user, conversation_id=str(conversation_id))
        return Response(status=204)


class ConversationNameApi(AsyncWebApiView):
    @extend_schema(request=s.RenameIn, responses=s.SimpleConversationOut)
    async def post(self, request: Request, conversation_id: str) -> Response:
        from apps.runners.naming import conversation_auto_name
        from dify_project.db import db_sync_to_async

        app, end_user = self.app(request), request.user.end_user
        self.require_chat(app)
        data = self.validate(s.RenameIn, request.data)
        conversation = await db_sync_to_async(conversation_service.conversation_get)(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        if data.get("auto_generate"):
            conversation = await conversation_auto_name(conversation=conversation)
        else:
            conversation = await db_sync_to_async(conversation_service.conversation_rename)(
                conversation=conversation, name=data["name"].strip()
            )
        return Response(s.conversation_out(conversation))


class ConversationPinApi(WebApiView):
    pin = True

    @extend_schema(request=None, responses=ResultOut)
    def patch(self, request: Request, conversation_id: str) -> Response:
        app, end_user = self.app(request), self.end_user(request)
        self.require_chat(app)
        if self.pin:
            service.conversation_pin(app=app, end_user=end_user, conversation_id=str(conversation_id))
        else:
            service.conversation_unpin(app=app, end_user=end_user, conversation_id=str(conversation_id))
        return Response({"result": "success"})


class ConversationUnpinApi(ConversationPinApi):
    pin = False


class MessageListApi(WebCallerMixin, conversations.MessageListApi):
    pass


class MessageFeedbackApi(WebCallerMixin, conversations.MessageFeedbackApi):
    pass


class SuggestedQuestionsApi(AsyncWebCallerMixin, generation.SuggestedQuestionsApi):
    @extend_schema(responses={200: OpenApiResponse(description='{"data": [...]}')})
    async def get(self, request: Request, message_id: str) -> Response:
        response = await super().get(request, message_id)
        return Response({"data": response.data["data"]})  # the web app's shape has no "result"


# Saved messages (completion apps) ------------------------------------------------------------------------------


class SavedMessageListQuery(serializers.Serializer):
    last_id = serializers.UUIDField(required=False, allow_null=True)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


class SavedMessageIn(serializers.Serializer):
    message_id = serializers.UUIDField()


def saved_message_out(message: Any) -> dict[str, Any]:
    user_feedback = next((f for f in message.feedbacks.all() if f.from_source == "user"), None)
    return {
        "id": str(message.id),
        "inputs": message.inputs,
        "query": message.query,
        "answer": message.answer,
        "message_files": [s.message_file_out(f) for f in message.files.all()],
        "feedback": {"rating": user_feedback.rating} if user_feedback else None,
        "created_at": s.timestamp(message.created_at),
    }


class CompletionOnlyView(WebApiView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.app(request).mode != AppMode.COMPLETION:
            raise errors.NotCompletionApp()


class SavedMessageListApi(CompletionOnlyView):
    @extend_schema(parameters=[SavedMessageListQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        query = self.validate_query(SavedMessageListQuery, request)
        window = service.saved_message_list(
            app=self.app(request),
            end_user=self.end_user(request),
            last_id=str(query["last_id"]) if query.get("last_id") else None,
            limit=query["limit"],
        )
        return Response(
            {
                "limit": window.limit,
                "has_more": window.has_more,
                "data": [saved_message_out(m) for m in window.data],
            }
        )

    @extend_schema(request=SavedMessageIn, responses=ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(SavedMessageIn, request.data)
        service.saved_message_create(
            app=self.app(request), end_user=self.end_user(request), message_id=str(data["message_id"])
        )
        return Response({"result": "success"})


class SavedMessageApi(CompletionOnlyView):
    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, message_id: str) -> Response:
        service.saved_message_delete(
            app=self.app(request), end_user=self.end_user(request), message_id=str(message_id)
        )
        return Response(status=204)


# Files and speech ---------------------------------------------------------------------------------------------


class FileUploadApi(WebCallerMixin, files.FileUploadApi):
    pass


class AudioToTextApi(AsyncWebCallerMixin, audio.AudioToTextApi):
    pass


class TextToAudioApi(AsyncWebCallerMixin, audio.TextToAudioApi):
    pass
