"""Workflow test cases in the console (issue 16): CRUD on ``/apps/{id}/workflows/test-cases`` and a run
of the app's cases (draft by default) answering with one result per case. A single case is named by
``id`` in the body (PATCH) or the query (DELETE), so the routes carry no new path parameter."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.console.views.common import APP_ID, WORKFLOW_MODES, AppApiView
from apps.console.views.debug import AsyncAppApiView
from apps.services import workflow_tests as tests
from dify_project.api.errors import InvalidParam
from dify_project.db import db_sync_to_async

CASE = OpenApiResponse(
    description="a test case: {id, name, inputs, query, mocks, auto_mock, expect, last_result}"
)
CASE_ID = OpenApiParameter("id", str, OpenApiParameter.QUERY, description="The test case id")


class TestCaseIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    inputs = serializers.DictField(required=False, default=dict)
    query = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    mocks = serializers.ListField(child=serializers.JSONField(), required=False, default=list)
    auto_mock = serializers.BooleanField(required=False, default=False)
    expect = serializers.DictField(required=False, default=dict)


class TestCasePatchIn(TestCaseIn):
    id = serializers.UUIDField()
    name = serializers.CharField(max_length=255, required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # Only the fields given are changed: no defaults filled in.
        value = super().to_internal_value(data)
        return {key: value[key] for key in value if key in data or key == "id"}


class TestRunIn(serializers.Serializer):
    ids = serializers.ListField(child=serializers.UUIDField(), required=False, allow_empty=True)
    version = serializers.CharField(
        required=False, default="draft", help_text="draft, published or a workflow id"
    )


class TestCasesApi(AppApiView):
    app_modes = WORKFLOW_MODES

    @extend_schema(parameters=[APP_ID], responses={200: CASE}, summary="The app's workflow test cases")
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response({"data": [tests.test_case_to_dict(c) for c in tests.test_cases_list(app=app)]})

    @extend_schema(parameters=[APP_ID], request=TestCaseIn, responses={201: CASE}, summary="Add a test case")
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(TestCaseIn, request.data)
        case = tests.test_case_create(app=app, account_id=request.user.id, data=data)
        return Response(tests.test_case_to_dict(case), status=201)

    @extend_schema(
        parameters=[APP_ID], request=TestCasePatchIn, responses={200: CASE}, summary="Change a test case"
    )
    def patch(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(TestCasePatchIn, request.data)
        case = tests.test_case_get(app=app, test_case_id=data.pop("id"))
        case = tests.test_case_update(case=case, account_id=request.user.id, data=data)
        return Response(tests.test_case_to_dict(case))

    @extend_schema(parameters=[APP_ID, CASE_ID], responses={204: None}, summary="Delete a test case")
    def delete(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        case_id = request.query_params.get("id")
        if not case_id:
            raise InvalidParam("id is required", params="id")
        tests.test_case_delete(case=tests.test_case_get(app=app, test_case_id=case_id))
        return Response(status=204)


class TestCasesRunApi(AsyncAppApiView):
    """Run the app's cases (or the given ``ids``) against the draft, the published version or a version
    id; every result is recorded and returned."""

    app_modes = WORKFLOW_MODES

    def prepare_post(self, request: Request, app_id: str) -> Any:
        app = self.get_app(request, app_id)
        data = self.validate(TestRunIn, request.data or {})
        workflow, graph, cases = tests.prepare_test_run(
            app=app, test_case_ids=data.get("ids"), version=data["version"]
        )
        return app, workflow, graph, cases

    @extend_schema(
        parameters=[APP_ID],
        request=TestRunIn,
        responses={200: OpenApiResponse(description="{passed, failed, results: [...]}")},
        summary="Run the app's workflow test cases",
    )
    async def post(self, request: Request, app_id: str) -> Response:
        app, workflow, graph, cases = self.prepared
        results = await tests.test_cases_run(
            app=app, workflow=workflow, graph=graph, cases=cases, account_id=request.user.id
        )
        names = {str(c.id): c.name for c in cases}
        body = await db_sync_to_async(
            lambda: [{**tests.result_to_dict(r), "name": names[str(r.test_case_id)]} for r in results]
        )()
        passed = sum(1 for r in results if r.passed)
        return Response(
            {
                "workflow_id": str(workflow.id),
                "passed": passed,
                "failed": len(results) - passed,
                "results": body,
            }
        )
