"""Logs: workflow runs and their node executions, workflow app logs, chat and completion conversations,
messages with their feedback and annotations, and the console's own message feedback."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps import selectors
from apps.console import presenters
from apps.console import serializers as s
from apps.console.views.common import APP_ID, CHAT_MODES, SUCCESS, WORKFLOW_MODES, AppApiView
from apps.models import AppMode, Conversation, EndUser
from apps.services import annotations as annotation_services
from apps.services.statistics import account_timezone, parse_time_range
from dify_project.api.fields import ResultOut
from dify_project.api.pagination import paginate
from workflows import selectors as workflow_selectors

RUN_ID = OpenApiParameter("run_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
CONVERSATION_ID = OpenApiParameter("conversation_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
MESSAGE_ID = OpenApiParameter("message_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class WorkflowRunListApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        operation_id="console_api_apps_workflow_runs_list",
        parameters=[APP_ID, s.ConsoleRunListQuery],
        responses=s.ConsoleRunPageOut,
        summary="Workflow runs, newest first",
    )
    def get(self, request: Request, app_id: str) -> Response:
        return self._list(request, app_id)

    def _list(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleRunListQuery, request)
        rows, has_more = workflow_selectors.run_list(
            tenant_id=app.tenant_id,
            app_id=app.id,
            last_id=query.get("last_id") or None,
            limit=query["limit"],
            status=query.get("status"),
            triggered_from=query.get("triggered_from"),
        )
        data = presenters.workflow_runs(rows, tenant=request.tenant, chat=app.mode == AppMode.ADVANCED_CHAT)
        return Response({"limit": query["limit"], "has_more": has_more, "data": data})


class AdvancedChatWorkflowRunListApi(WorkflowRunListApi):
    app_modes = frozenset({AppMode.ADVANCED_CHAT})

    @extend_schema(
        operation_id="console_api_apps_advanced_chat_workflow_runs_list",
        parameters=[APP_ID, s.ConsoleRunListQuery],
        responses=s.ConsoleRunPageOut,
        summary="Chatflow runs, newest first, with their conversation and message",
    )
    def get(self, request: Request, app_id: str) -> Response:
        return self._list(request, app_id)


class WorkflowRunDetailApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        parameters=[APP_ID, RUN_ID],
        responses=s.ConsoleRunDetailWithNodesOut,
        summary="A workflow run with every node execution",
    )
    def get(self, request: Request, app_id: str, run_id: str) -> Response:
        app = self.get_app(request, app_id)
        run = workflow_selectors.run_get(tenant_id=app.tenant_id, app_id=app.id, run_id=run_id)
        body = presenters.workflow_run_detail(run, tenant=request.tenant)
        body["node_executions"] = presenters.node_executions(
            list(workflow_selectors.node_executions_of(run=run)), tenant=request.tenant
        )
        return Response(body)


class WorkflowRunNodeExecutionsApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        parameters=[APP_ID, RUN_ID],
        responses=s.ConsoleNodeExecutionListOut,
        summary="Node executions of a run",
    )
    def get(self, request: Request, app_id: str, run_id: str) -> Response:
        app = self.get_app(request, app_id)
        run = workflow_selectors.run_get(tenant_id=app.tenant_id, app_id=app.id, run_id=run_id)
        rows = list(workflow_selectors.node_executions_of(run=run))
        return Response({"data": presenters.node_executions(rows, tenant=request.tenant)})


class WorkflowAppLogListApi(AppApiView):
    app_modes = frozenset({AppMode.WORKFLOW})

    @extend_schema(
        parameters=[APP_ID, s.ConsoleAppLogQuery],
        responses=s.ConsoleAppLogPageOut,
        summary="Logs of published workflow runs",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleAppLogQuery, request)
        end_user_ids = None
        if query.get("created_by_end_user_session_id"):
            end_user_ids = list(
                EndUser.objects.for_tenant(request.tenant)
                .filter(app=app, session_id=query["created_by_end_user_session_id"])
                .values_list("id", flat=True)
            )
        account_ids = None
        if query.get("created_by_account"):
            from accounts.models import Account

            account_ids = list(
                Account.objects.filter(email=query["created_by_account"]).values_list("id", flat=True)
            )
        logs = workflow_selectors.app_log_list(
            tenant_id=app.tenant_id,
            app_id=app.id,
            status=query.get("status"),
            keyword=query.get("keyword") or None,
            created_at_before=query.get("created_at__before"),
            created_at_after=query.get("created_at__after"),
            created_by_end_user_ids=end_user_ids,
            created_by_account_ids=account_ids,
        )
        return Response(
            paginate(
                logs,
                page=query["page"],
                limit=query["limit"],
                render=lambda rows: presenters.workflow_app_logs(rows, tenant=request.tenant),
            )
        )


def _conversations(view: AppApiView, request: Request, app_id: str, *, chat: bool) -> Response:
    app = view.get_app(request, app_id)
    query = view.validate_query(s.ConsoleConversationListQuery, request)
    tz = account_timezone(request.user.timezone)
    start, end = parse_time_range(query.get("start"), query.get("end"), tz)
    conversations = selectors.conversation_list(
        app=app,
        keyword=query.get("keyword") or None,
        start=start,
        end=end,
        annotation_status=query["annotation_status"],
        message_count_gte=query.get("message_count_gte") if chat else None,
        sort_by=query["sort_by"] if chat else "-created_at",
    )
    return Response(
        paginate(
            conversations,
            page=query["page"],
            limit=query["limit"],
            render=lambda rows: presenters.conversations(rows, tenant=request.tenant, chat=chat),
        )
    )


class ChatConversationListApi(AppApiView):
    app_modes = CHAT_MODES

    @extend_schema(
        operation_id="console_api_apps_chat_conversations_list",
        parameters=[APP_ID, s.ConsoleConversationListQuery],
        responses=s.ConsoleChatConversationPageOut,
        summary="Chat conversations with summaries, feedback and annotation status",
    )
    def get(self, request: Request, app_id: str) -> Response:
        return _conversations(self, request, app_id, chat=True)


class CompletionConversationListApi(AppApiView):
    app_modes = frozenset({AppMode.COMPLETION})

    @extend_schema(
        operation_id="console_api_apps_completion_conversations_list",
        parameters=[APP_ID, s.ConsoleConversationListQuery],
        responses=s.ConsoleCompletionConversationPageOut,
        summary="Completion logs with their first message, feedback and annotation",
    )
    def get(self, request: Request, app_id: str) -> Response:
        return _conversations(self, request, app_id, chat=False)


class _ConversationDetail(AppApiView):
    chat = True

    def _get(self, request: Request, app_id: str, conversation_id: str) -> Response:
        app = self.get_app(request, app_id)
        conversation = selectors.conversation_get(app=app, conversation_id=conversation_id)
        if conversation.read_at is None:
            from django.utils import timezone

            Conversation.objects.filter(id=conversation.id).update(read_at=timezone.now())
        return Response(presenters.conversation_detail(conversation, tenant=request.tenant, chat=self.chat))

    def _delete(self, request: Request, app_id: str, conversation_id: str) -> Response:
        app = self.get_app(request, app_id)
        conversation = selectors.conversation_get(app=app, conversation_id=conversation_id)
        Conversation.objects.filter(id=conversation.id).update(is_deleted=True)
        return Response(status=204)


class ChatConversationDetailApi(_ConversationDetail):
    app_modes = CHAT_MODES
    chat = True

    @extend_schema(
        parameters=[APP_ID, CONVERSATION_ID],
        responses=s.ConsoleConversationDetailOut,
        summary="A chat conversation",
    )
    def get(self, request: Request, app_id: str, conversation_id: str) -> Response:
        return self._get(request, app_id, conversation_id)

    @extend_schema(
        parameters=[APP_ID, CONVERSATION_ID],
        request=None,
        responses={204: None},
        summary="Delete a conversation",
    )
    def delete(self, request: Request, app_id: str, conversation_id: str) -> Response:
        return self._delete(request, app_id, conversation_id)


class CompletionConversationDetailApi(_ConversationDetail):
    app_modes = frozenset({AppMode.COMPLETION})
    chat = False

    @extend_schema(
        parameters=[APP_ID, CONVERSATION_ID],
        responses=s.ConsoleConversationDetailOut,
        summary="A completion log",
    )
    def get(self, request: Request, app_id: str, conversation_id: str) -> Response:
        return self._get(request, app_id, conversation_id)

    @extend_schema(
        parameters=[APP_ID, CONVERSATION_ID],
        request=None,
        responses={204: None},
        summary="Delete a completion log",
    )
    def delete(self, request: Request, app_id: str, conversation_id: str) -> Response:
        return self._delete(request, app_id, conversation_id)


class ChatMessageListApi(AppApiView):
    app_modes = CHAT_MODES

    @extend_schema(
        parameters=[APP_ID, s.ConsoleMessageListQuery],
        responses=s.ConsoleMessagePageOut,
        summary="Messages of a conversation (oldest first), with feedback and annotations",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleMessageListQuery, request)
        conversation = selectors.conversation_get(app=app, conversation_id=query["conversation_id"])
        rows, has_more = selectors.message_list(
            app=app, conversation=conversation, first_id=query.get("first_id") or None, limit=query["limit"]
        )
        return Response(
            {
                "limit": query["limit"],
                "has_more": has_more,
                "data": presenters.messages(rows, tenant=request.tenant),
            }
        )


class MessageDetailApi(AppApiView):
    @extend_schema(parameters=[APP_ID, MESSAGE_ID], responses=s.ConsoleMessageOut, summary="One message")
    def get(self, request: Request, app_id: str, message_id: str) -> Response:
        app = self.get_app(request, app_id)
        message = selectors.message_get(app=app, message_id=message_id)
        return Response(presenters.messages([message], tenant=request.tenant)[0])


class MessageFeedbackApi(AppApiView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleFeedbackIn,
        responses=ResultOut,
        summary="Rate a message as the console",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleFeedbackIn, request.data)
        annotation_services.message_feedback_set(
            app=app,
            account=request.user,
            message_id=data["message_id"],
            rating=data.get("rating"),
            content=data.get("content") or "",
        )
        return Response(SUCCESS)
