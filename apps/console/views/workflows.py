"""Model config (chat/completion/agent apps) and workflows (draft, variables, publish, versions, compare)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from apps import selectors
from apps.console import presenters
from apps.console import serializers as s
from apps.console.views.common import (
    APP_ID,
    MODEL_CONFIG_MODES,
    SUCCESS,
    WORKFLOW_MODES,
    AppApiView,
    SafeJSONParser,
)
from apps.services import apps_crud
from apps.services.model_config import model_config_update
from dify_project.api.errors import Forbidden
from dify_project.api.fields import ResultOut, timestamp
from workflows import selectors as workflow_selectors
from workflows.services import drafts, versions
from workflows.services.compare import workflow_compare
from workflows.services.errors import DraftWorkflowNotExist
from workflows.services.hashing import workflow_hash
from workflows.services.variables import environment_variables_masked

WORKFLOW_ID = OpenApiParameter("workflow_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class ModelConfigApi(AppApiView):
    app_modes = MODEL_CONFIG_MODES

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleModelConfigIn,
        responses=ResultOut,
        summary="Save the model configuration (a new version; the app points at it)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        if not isinstance(request.data, dict):
            self.validate(s.ConsoleModelConfigIn, request.data)  # raises Dify's invalid-JSON error
        model_config_update(app=app, account=request.user, config=request.data)
        return Response(SUCCESS)


class _WorkflowView(AppApiView):
    app_modes = WORKFLOW_MODES


def _draft_or_404(app: object) -> object:
    draft = workflow_selectors.draft_get(tenant_id=app.tenant_id, app_id=app.id)
    if draft is None:
        raise DraftWorkflowNotExist()
    return draft


class PlainTextJsonParser(SafeJSONParser):
    """Dify's editor saves the draft with ``navigator.sendBeacon`` on page unload: JSON sent as text/plain."""

    media_type = "text/plain"


class DraftWorkflowApi(_WorkflowView):
    parser_classes = [SafeJSONParser, PlainTextJsonParser]

    @extend_schema(
        parameters=[APP_ID], responses=s.ConsoleWorkflowOut, summary="The draft workflow (with its hash)"
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response(presenters.workflows([_draft_or_404(app)])[0])

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleDraftSyncIn,
        responses=s.ConsoleDraftSyncOut,
        summary="Save the draft; a stale hash answers 409 draft_workflow_not_sync",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleDraftSyncIn, request.data)
        extra = {}
        if data.get("environment_variables") is not None:
            extra["environment_variables"] = data["environment_variables"]
        if data.get("conversation_variables") is not None:
            extra["conversation_variables"] = data["conversation_variables"]
        draft = drafts.workflow_draft_sync(
            tenant_id=app.tenant_id,
            app_id=app.id,
            mode=app.mode,
            graph=data["graph"],
            features=data["features"],
            unique_hash=data.get("hash") or None,
            account_id=request.user.id,
            **extra,
        )
        return Response(
            {"result": "success", "hash": drafts.draft_hash(draft), "updated_at": timestamp(draft.updated_at)}
        )


class DraftEnvironmentVariablesApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID],
        responses=s.ConsoleVariableItemsOut,
        summary="Draft environment variables (secrets masked)",
    )
    def get(self, request: Request, app_id: str) -> Response:
        draft = _draft_or_404(self.get_app(request, app_id))
        return Response({"items": environment_variables_masked(draft.environment_variables or [])})

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleEnvironmentVariablesIn,
        responses=ResultOut,
        summary="Replace the draft's environment variables ([__HIDDEN__] keeps a secret)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleEnvironmentVariablesIn, request.data)
        drafts.workflow_draft_update_variables(
            tenant_id=app.tenant_id,
            app_id=app.id,
            account_id=request.user.id,
            environment_variables=data["environment_variables"],
        )
        return Response(SUCCESS)


class DraftConversationVariablesApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID], responses=s.ConsoleVariableItemsOut, summary="Draft conversation variables"
    )
    def get(self, request: Request, app_id: str) -> Response:
        draft = _draft_or_404(self.get_app(request, app_id))
        return Response({"items": draft.conversation_variables or []})

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleConversationVariablesIn,
        responses=ResultOut,
        summary="Replace the draft's conversation variables",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleConversationVariablesIn, request.data)
        drafts.workflow_draft_update_variables(
            tenant_id=app.tenant_id,
            app_id=app.id,
            account_id=request.user.id,
            conversation_variables=data["conversation_variables"],
        )
        return Response(SUCCESS)


class DraftFeaturesApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsoleFeaturesIn,
        responses=ResultOut,
        summary="Replace the draft's features",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleFeaturesIn, request.data)
        drafts.workflow_draft_update_features(
            tenant_id=app.tenant_id, app_id=app.id, account_id=request.user.id, features=data["features"]
        )
        return Response(SUCCESS)


class PublishWorkflowApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID], responses=s.ConsoleWorkflowOut, summary="The published workflow serving the app"
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        if app.workflow is None:
            return Response(None)
        return Response(presenters.workflows([app.workflow])[0])

    @extend_schema(
        parameters=[APP_ID],
        request=s.ConsolePublishIn,
        responses=s.ConsolePublishOut,
        summary="Publish the draft as a new numbered version (400 naming the problem if it does not validate)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsolePublishIn, request.data or {})
        workflow = apps_crud.app_publish_workflow(
            app=app,
            account=request.user,
            marked_name=data["marked_name"],
            marked_comment=data["marked_comment"],
        )
        return Response(
            {
                "result": "success",
                "created_at": timestamp(workflow.created_at),
                "id": str(workflow.id),
                "version": workflow.version,
                "number": workflow.number,
            }
        )


class WorkflowVersionListApi(_WorkflowView):
    @extend_schema(
        operation_id="console_api_apps_workflows_list",
        parameters=[APP_ID, s.ConsoleVersionListQuery],
        responses=s.ConsoleVersionPageOut,
        summary="Published versions, newest first",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleVersionListQuery, request)
        user_id = query.get("user_id")
        if user_id and str(user_id) != str(request.user.id):
            raise Forbidden()
        rows = workflow_selectors.published_versions(
            tenant_id=app.tenant_id, app_id=app.id, created_by=user_id, named_only=query["named_only"]
        )
        page, limit = query["page"], query["limit"]
        offset = (page - 1) * limit
        items = list(rows[offset : offset + limit + 1])
        return Response(
            {
                "items": presenters.workflows(items[:limit]),
                "page": page,
                "limit": limit,
                "has_more": len(items) > limit,
            }
        )


class WorkflowVersionApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID, WORKFLOW_ID], responses=s.ConsoleWorkflowOut, summary="One workflow version"
    )
    def get(self, request: Request, app_id: str, workflow_id: str) -> Response:
        app = self.get_app(request, app_id)
        row = workflow_selectors.version_get(tenant_id=app.tenant_id, app_id=app.id, workflow_id=workflow_id)
        return Response(presenters.workflows([row])[0])

    @extend_schema(
        parameters=[APP_ID, WORKFLOW_ID],
        request=s.ConsoleVersionUpdateIn,
        responses=s.ConsoleWorkflowOut,
        summary="Name or annotate a published version",
    )
    def patch(self, request: Request, app_id: str, workflow_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleVersionUpdateIn, request.data)
        row = versions.workflow_version_update(
            tenant_id=app.tenant_id,
            app_id=app.id,
            workflow_id=workflow_id,
            account_id=request.user.id,
            marked_name=data.get("marked_name"),
            marked_comment=data.get("marked_comment"),
        )
        return Response(presenters.workflows([row])[0])

    @extend_schema(
        parameters=[APP_ID, WORKFLOW_ID],
        request=None,
        responses={204: None},
        summary="Delete an unused version",
    )
    def delete(self, request: Request, app_id: str, workflow_id: str) -> Response:
        app = self.get_app(request, app_id)
        versions.workflow_version_delete(
            tenant_id=app.tenant_id, app_id=app.id, workflow_id=workflow_id, in_use_id=app.workflow_id
        )
        return Response(status=204)


class WorkflowRestoreApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID, WORKFLOW_ID],
        request=None,
        responses=s.ConsoleDraftSyncOut,
        summary="Restore a published version into the draft",
    )
    def post(self, request: Request, app_id: str, workflow_id: str) -> Response:
        app = self.get_app(request, app_id)
        draft = versions.workflow_restore(
            tenant_id=app.tenant_id, app_id=app.id, workflow_id=workflow_id, account_id=request.user.id
        )
        return Response(
            {
                "result": "success",
                "hash": workflow_hash(graph=draft.graph, features=draft.features),
                "updated_at": timestamp(draft.updated_at),
            }
        )


class WorkflowCompareApi(_WorkflowView):
    @extend_schema(
        parameters=[APP_ID, s.ConsoleCompareQuery],
        responses=s.ConsoleCompareOut,
        summary="Structural diff of two versions (nodes, edges, configs, variables)",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleCompareQuery, request)
        base = workflow_selectors.version_get(
            tenant_id=app.tenant_id, app_id=app.id, workflow_id=query["base"]
        )
        target = workflow_selectors.version_get(
            tenant_id=app.tenant_id, app_id=app.id, workflow_id=query["target"]
        )
        return Response(workflow_compare(base=base, target=target, include_layout=query["include_layout"]))


__all__ = ["selectors"]
