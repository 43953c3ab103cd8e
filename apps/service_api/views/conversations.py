"""Conversations, message history, feedback and conversation variables for one end user."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps.models import MessageFeedback
from apps.runners.naming import conversation_auto_name
from apps.service_api import serializers as s
from apps.service_api.base import ServiceApiView
from apps.services import conversations as service
from dify_project.api.pagination import paginate
from dify_project.api.views import AsyncApiView
from dify_project.db import db_sync_to_async


class ConversationListApi(ServiceApiView):
    @extend_schema(parameters=[s.ConversationListQuery], responses=s.ConversationListOut)
    def get(self, request: Request) -> Response:
        app = self.app(request)
        self.require_chat(app)
        query = self.validate_query(s.ConversationListQuery, request)
        end_user = self.end_user(request, query.get("user"), required=False)
        window = service.conversation_list(
            app=app,
            end_user=end_user,
            last_id=str(query["last_id"]) if query.get("last_id") else None,
            limit=query["limit"],
            sort_by=query["sort_by"],
        )
        return Response(
            {
                "limit": window.limit,
                "has_more": window.has_more,
                "data": s.SimpleConversationOut(window.data, many=True).data,
            }
        )


class ConversationApi(ServiceApiView):
    @extend_schema(request=s.UserBody, responses={204: None})
    def delete(self, request: Request, conversation_id: str) -> Response:
        app = self.app(request)
        self.require_chat(app)
        # Dify's SDK sends the user in a JSON body on DELETE; accept the query string too.
        user = (
            request.data.get("user") if hasattr(request.data, "get") else None
        ) or request.query_params.get("user")
        end_user = self.end_user(request, user, required=False)
        conversation = service.conversation_get(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        service.conversation_delete(conversation=conversation)
        return Response(status=204)


class ConversationNameApi(AsyncApiView):
    authentication_classes = ServiceApiView.authentication_classes
    permission_classes = ServiceApiView.permission_classes

    @extend_schema(request=s.RenameIn, responses=s.SimpleConversationOut)
    async def post(self, request: Request, conversation_id: str) -> Response:
        app = ServiceApiView.app(request)
        ServiceApiView.require_chat(app)
        data = self.validate(s.RenameIn, request.data)
        end_user = await db_sync_to_async(ServiceApiView.end_user)(request, data.get("user"), required=False)
        conversation = await db_sync_to_async(service.conversation_get)(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        if data.get("auto_generate"):
            conversation = await conversation_auto_name(conversation=conversation)
        else:
            conversation = await db_sync_to_async(service.conversation_rename)(
                conversation=conversation, name=data["name"].strip()
            )
        return Response(s.conversation_out(conversation))


class MessageListApi(ServiceApiView):
    @extend_schema(parameters=[s.MessageListQuery], responses=s.MessageListOut)
    def get(self, request: Request) -> Response:
        app = self.app(request)
        self.require_chat(app)
        query = self.validate_query(s.MessageListQuery, request)
        end_user = self.end_user(request, query.get("user"), required=False)
        conversation = service.conversation_get(
            app=app, end_user=end_user, conversation_id=str(query["conversation_id"])
        )
        window = service.message_history(
            conversation=conversation,
            first_id=str(query["first_id"]) if query.get("first_id") else None,
            limit=query["limit"],
        )
        return Response(
            {
                "limit": window.limit,
                "has_more": window.has_more,
                "data": [s.message_out(m) for m in window.data],
            }
        )


class MessageFeedbackApi(ServiceApiView):
    @extend_schema(request=s.FeedbackIn, responses=s.ResultOut)
    def post(self, request: Request, message_id: str) -> Response:
        app = self.app(request)
        data = self.validate(s.FeedbackIn, request.data)
        end_user = self.end_user(request, data.get("user"))
        message = service.message_get_for_user(app=app, end_user=end_user, message_id=str(message_id))
        service.feedback_set(
            message=message, end_user=end_user, rating=data.get("rating"), content=data.get("content")
        )
        return Response({"result": "success"})


class AppFeedbackListApi(ServiceApiView):
    @extend_schema(parameters=[s.FeedbackListQuery], responses=s.FeedbackOut(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.FeedbackListQuery, request)
        feedbacks = MessageFeedback.objects.filter(app=self.app(request)).order_by("-created_at")
        page = paginate(
            feedbacks,
            page=query["page"],
            limit=query["limit"],
            render=lambda rows: s.FeedbackOut(rows, many=True).data,
        )
        return Response({"data": page["data"]})


class ConversationVariablesApi(ServiceApiView):
    @extend_schema(parameters=[s.VariableListQuery], responses=s.VariableListOut)
    def get(self, request: Request, conversation_id: str) -> Response:
        app = self.app(request)
        self.require_chat(app)
        query = self.validate_query(s.VariableListQuery, request)
        end_user = self.end_user(request, query.get("user"), required=False)
        conversation = service.conversation_get(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        window = service.variables_list(
            conversation=conversation,
            last_id=query.get("last_id") or None,
            limit=query["limit"],
            variable_name=query.get("variable_name"),
        )
        return Response(
            {
                "limit": window.limit,
                "has_more": window.has_more,
                "data": s.ConversationVariableOut(window.data, many=True).data,
            }
        )


class ConversationVariableApi(ServiceApiView):
    @extend_schema(request=s.VariableUpdateIn, responses=s.ConversationVariableOut)
    def put(self, request: Request, conversation_id: str, variable_id: str) -> Response:
        app = self.app(request)
        self.require_chat(app)
        data = self.validate(s.VariableUpdateIn, request.data)
        end_user = self.end_user(request, data.get("user"), required=False)
        conversation = service.conversation_get(
            app=app, end_user=end_user, conversation_id=str(conversation_id)
        )
        variable = service.variable_update(
            conversation=conversation, variable_id=variable_id, value=data["value"]
        )
        return Response(s.ConversationVariableOut(variable).data)

    # The SDK before 0.1.12 used PATCH for the same call.
    patch = put
