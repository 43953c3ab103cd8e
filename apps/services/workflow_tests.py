"""Workflow test cases of an app (issue 16): stored per app, run against its draft or a published version
with the workspace's real ports for every node a case does not mock, results recorded.

The case format, the mocking and the judging are in ``workflows.testcases`` (no database there).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction

from apps import exceptions as errors
from apps.models import App, AppMode
from apps.runners.ports import offline_ports, ports_for_run
from apps.runners.workflow_app import engine_limits, environment_of, graph_for
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from dify_project.db import db_sync_to_async
from workflows import engine as wf
from workflows.models import DRAFT, Workflow, WorkflowTestCase, WorkflowTestResult
from workflows.testcases import CaseError, CaseOutcome, CaseSpec, case_from_dict, run_case


def _require_workflow_app(app: App) -> None:
    if app.mode not in AppMode.workflow_modes():
        raise errors.AppUnavailable("Test cases are for workflow and chatflow apps.")


def spec_of(case: WorkflowTestCase) -> CaseSpec:
    return CaseSpec(
        name=case.name,
        description=case.description,
        inputs=case.inputs or {},
        query=case.query,
        mocks=case.mocks or [],
        auto_mock=case.auto_mock,
        expect=case.expect or {},
    )


def test_case_to_dict(case: WorkflowTestCase) -> dict[str, Any]:
    last = case.results.order_by("-created_at").first()
    return {
        "id": str(case.id),
        **spec_of(case).to_dict(),
        "description": case.description,
        "created_at": int(case.created_at.timestamp()),
        "updated_at": int(case.updated_at.timestamp()),
        "last_result": result_to_dict(last) if last else None,
    }


def result_to_dict(result: WorkflowTestResult) -> dict[str, Any]:
    return {
        "id": str(result.id),
        "test_case_id": str(result.test_case_id),
        "workflow_id": str(result.workflow_id) if result.workflow_id else None,
        "passed": result.passed,
        "status": result.status,
        "outputs": result.outputs,
        "answer": result.answer,
        "error": result.error,
        "failures": result.failures,
        "elapsed_time": result.elapsed_time,
        "created_at": int(result.created_at.timestamp()),
    }


def _spec(data: Any) -> CaseSpec:
    try:
        return case_from_dict(data)
    except CaseError as exc:
        raise InvalidParam(str(exc)) from None


def test_cases_list(*, app: App) -> list[WorkflowTestCase]:
    return list(WorkflowTestCase.objects.for_tenant(app.tenant).filter(app_id=app.id))


def test_case_get(*, app: App, test_case_id: Any) -> WorkflowTestCase:
    try:
        pk = uuid.UUID(str(test_case_id))
    except ValueError:
        raise NotFound("Test case not found.") from None
    case = WorkflowTestCase.objects.for_tenant(app.tenant).filter(app_id=app.id, id=pk).first()
    if case is None:
        raise NotFound("Test case not found.")
    return case


def _save(case: WorkflowTestCase, spec: CaseSpec) -> WorkflowTestCase:
    case.name, case.description, case.inputs, case.query = (
        spec.name,
        spec.description,
        spec.inputs,
        spec.query,
    )
    case.mocks, case.auto_mock, case.expect = spec.mocks, spec.auto_mock, spec.expect
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:
        raise ApiError(
            f"A test case named {spec.name!r} exists already.", code="conflict", status=409
        ) from None
    return case


def test_case_create(*, app: App, account_id: Any, data: Any) -> WorkflowTestCase:
    """A new case of the app (400 naming a bad field, 409 for a name the app has)."""
    _require_workflow_app(app)
    case = WorkflowTestCase(
        tenant_id=app.tenant_id, app_id=app.id, created_by=account_id, updated_by=account_id
    )
    return _save(case, _spec(data))


def test_case_update(*, case: WorkflowTestCase, account_id: Any, data: Any) -> WorkflowTestCase:
    """Replace the given fields of a case (the others are kept)."""
    merged = {**spec_of(case).to_dict(), "description": case.description, **(data or {})}
    merged.pop("id", None)
    case.updated_by = account_id
    return _save(case, _spec(merged))


def test_case_delete(*, case: WorkflowTestCase) -> None:
    case.delete()


@transaction.atomic
def test_cases_import(*, app: App, account_id: Any, cases: Any) -> int:
    """The cases of a DSL file (``x-test-cases``) into the app: a case of the same name is replaced."""
    if cases in (None, []):
        return 0
    if not isinstance(cases, list):
        raise InvalidParam("x-test-cases must be a list of test cases.")
    specs = [_spec(entry) for entry in cases]
    for spec in specs:
        case = WorkflowTestCase.objects.filter(app_id=app.id, name=spec.name).first() or WorkflowTestCase(
            tenant_id=app.tenant_id, app_id=app.id, created_by=account_id
        )
        case.updated_by = account_id
        _save(case, spec)
    return len(specs)


def test_cases_export(*, app: App) -> list[dict[str, Any]]:
    return [spec_of(case).to_dict() for case in test_cases_list(app=app)]


# --- running -------------------------------------------------------------------------------------------


def _target_workflow(app: App, version: str | None) -> Workflow:
    if version in (None, "", DRAFT):
        workflow = Workflow.objects.filter(tenant_id=app.tenant_id, app_id=app.id, version=DRAFT).first()
        if workflow is None:
            raise NotFound("The app has no draft workflow.")
        return workflow
    if version == "published":
        if app.workflow is None:
            raise errors.AppUnavailable("The app has no published version.")
        return app.workflow
    try:
        pk = uuid.UUID(str(version))
    except ValueError:
        raise InvalidParam("version must be draft, published or a workflow id.", params="version") from None
    workflow = Workflow.objects.filter(tenant_id=app.tenant_id, app_id=app.id, id=pk).first()
    if workflow is None:
        raise NotFound("Workflow not found.")
    return workflow


def prepare_test_run(
    *, app: App, test_case_ids: list[Any] | None = None, version: str | None = None
) -> tuple[Workflow, wf.Graph, list[WorkflowTestCase]]:
    """Everything a run of the app's cases reads (raises 4xx before anything runs)."""
    _require_workflow_app(app)
    workflow = _target_workflow(app, version)
    cases = test_cases_list(app=app)
    if test_case_ids:
        wanted = {str(i) for i in test_case_ids}
        cases = [c for c in cases if str(c.id) in wanted]
        if len(cases) != len(wanted):
            raise NotFound("Test case not found.")
    return workflow, graph_for(workflow), cases


async def run_specs(
    specs: list[CaseSpec],
    *,
    graph: wf.Graph,
    workflow: Workflow | None,
    ports: wf.Ports,
    app_id: str | None = None,
) -> list[CaseOutcome]:
    """Run cases one after the other (a case's delays and model calls do not overlap another's)."""
    system = {"app_id": app_id, "workflow_id": str(workflow.id) if workflow else None}
    environment = environment_of(workflow) if workflow is not None else None
    conversation = (workflow.conversation_variables or None) if workflow is not None else None
    return [
        await run_case(
            spec,
            graph=graph,
            ports=ports,
            limits=engine_limits(),
            system=system,
            environment=environment,
            conversation=conversation,
        )
        for spec in specs
    ]


def _record(
    *,
    app: App,
    workflow: Workflow,
    cases: list[WorkflowTestCase],
    outcomes: list[CaseOutcome],
    account_id: Any,
) -> list[WorkflowTestResult]:
    rows = [
        WorkflowTestResult(
            tenant_id=app.tenant_id,
            test_case=case,
            app_id=app.id,
            workflow_id=workflow.id,
            passed=outcome.passed,
            status=outcome.status,
            outputs=outcome.outputs,
            answer=outcome.answer,
            error=outcome.error,
            failures=outcome.failures,
            elapsed_time=round(outcome.elapsed, 6),
            created_by=account_id,
        )
        for case, outcome in zip(cases, outcomes, strict=True)
    ]
    return WorkflowTestResult.objects.bulk_create(rows)


async def test_cases_run(
    *, app: App, workflow: Workflow, graph: wf.Graph, cases: list[WorkflowTestCase], account_id: Any
) -> list[WorkflowTestResult]:
    """Run prepared cases with the workspace's ports (what a case does not mock runs for real) and record
    one result per case."""
    ports = ports_for_run(
        tenant_id=str(app.tenant_id),
        user_id=str(account_id),
        user=str(account_id),
        conversation_id=None,
        source={"app_id": str(app.id), "workflow_run_id": None, "test": True},
    )
    outcomes = await run_specs(
        [spec_of(c) for c in cases], graph=graph, workflow=workflow, ports=ports, app_id=str(app.id)
    )
    return await db_sync_to_async(_record)(
        app=app, workflow=workflow, cases=cases, outcomes=outcomes, account_id=account_id
    )


async def dsl_cases_run(*, graph: dict[str, Any], cases: list[Any]) -> list[CaseOutcome]:
    """Cases of a DSL file run with no workspace: only the code and HTTP ports (mock the rest)."""
    try:
        parsed = wf.parse_graph(graph)
    except wf.GraphError as exc:
        raise InvalidParam(f"The workflow does not validate: {exc}") from exc
    return await run_specs([_spec(c) for c in cases], graph=parsed, workflow=None, ports=offline_ports())
