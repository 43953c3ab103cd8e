"""Console endpoints for replay and cost budgets (issue 16, parts 3 and 4).

``POST /apps/{id}/workflow-runs/{run_id}/replay`` (body ``{"node_overrides": {node_id: {...data}}}``),
``POST /apps/{id}/workflow-runs/{run_id}/test-case`` (the run as a workflow test case),
``GET/PUT /apps/{id}/replay-settings``, ``GET/PUT /workspaces/current/budget`` and ``/apps/{id}/budget``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console.views.common import APP_ID, WORKFLOW_MODES, AppApiView, ConsoleApiView
from apps.console.views.debug import AsyncAppApiView
from apps.services import budgets, replay, workflow_tests

ADMINS = frozenset({"owner", "admin"})


class ReplayIn(serializers.Serializer):
    node_overrides = serializers.DictField(child=serializers.DictField(), required=False, default=dict)


class WorkflowRunReplayApi(AsyncAppApiView):
    """Re-run a recorded run with its recorded outside answers; per-node diff against the run."""

    app_modes = WORKFLOW_MODES

    def prepare_post(self, request: Request, app_id: str, run_id: str) -> Any:
        app = self.get_app(request, app_id)
        data = self.validate(ReplayIn, request.data or {})
        return replay.replay_prepare(app=app, run_id=run_id, node_overrides=data["node_overrides"])

    @extend_schema(
        parameters=[APP_ID],
        request=ReplayIn,
        responses={
            200: OpenApiResponse(description="{matched, outputs_match, status, outputs, nodes: [...]}")
        },
        summary="Replay a workflow run from its replay log",
    )
    async def post(self, request: Request, app_id: str, run_id: str) -> Response:
        return Response(await replay.replay_run(self.prepared))


class RunToTestCaseIn(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)


class WorkflowRunTestCaseApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        parameters=[APP_ID],
        request=RunToTestCaseIn,
        responses={201: OpenApiResponse(description="the new workflow test case")},
        summary="Turn a recorded run into a test case",
    )
    def post(self, request: Request, app_id: str, run_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(RunToTestCaseIn, request.data or {})
        case = replay.replay_to_test_case(
            app=app, run_id=run_id, account_id=request.user.id, name=data["name"]
        )
        return Response(workflow_tests.test_case_to_dict(case), status=201)


class ReplaySettingsIn(serializers.Serializer):
    replay_log_enabled = serializers.BooleanField()


class AppReplaySettingsApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(
        parameters=[APP_ID], responses={200: ReplaySettingsIn}, summary="Whether the app records replay logs"
    )
    def get(self, request: Request, app_id: str) -> Response:
        return Response({"replay_log_enabled": self.get_app(request, app_id).replay_log_enabled})

    @extend_schema(
        parameters=[APP_ID],
        request=ReplaySettingsIn,
        responses={200: ReplaySettingsIn},
        summary="Record replay logs or not",
    )
    def put(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(ReplaySettingsIn, request.data)
        app.replay_log_enabled = data["replay_log_enabled"]
        app.save(update_fields=["replay_log_enabled", "updated_at"])
        return Response({"replay_log_enabled": app.replay_log_enabled})


class BudgetIn(serializers.Serializer):
    period = serializers.ChoiceField(choices=["daily", "monthly"], default="monthly")
    amount = serializers.DecimalField(
        max_digits=20, decimal_places=6, min_value=0, required=False, allow_null=True
    )
    currency = serializers.CharField(max_length=8, required=False, default="USD")
    token_limit = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    alert_threshold = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.8)
    enabled = serializers.BooleanField(required=False, default=True)


BUDGET = OpenApiResponse(description="{enabled, period, amount, currency, token_limit, spent, tokens, ...}")


class WorkspaceBudgetApi(ConsoleApiView):
    write_roles = ADMINS

    @extend_schema(responses={200: BUDGET}, summary="The workspace's budget and this period's spend")
    def get(self, request: Request) -> Response:
        return Response(budgets.budget_out(budget=budgets.budget_get(tenant_id=request.tenant.id)))

    @extend_schema(request=BudgetIn, responses={200: BUDGET}, summary="Set the workspace's budget")
    def put(self, request: Request) -> Response:
        data = self.validate(BudgetIn, request.data)
        return Response(budgets.budget_out(budget=budgets.budget_put(tenant_id=request.tenant.id, data=data)))


class AppBudgetApi(AppApiView):
    @extend_schema(parameters=[APP_ID], responses={200: BUDGET}, summary="The app's budget and spend")
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response(budgets.budget_out(budget=budgets.budget_get(tenant_id=app.tenant_id, app_id=app.id)))

    @extend_schema(
        parameters=[APP_ID], request=BudgetIn, responses={200: BUDGET}, summary="Set the app's budget"
    )
    def put(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(BudgetIn, request.data)
        budget = budgets.budget_put(tenant_id=app.tenant_id, app_id=app.id, data=data)
        return Response(budgets.budget_out(budget=budget))
