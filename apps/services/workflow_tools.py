"""Published workflow apps as workspace tools (Dify's `workflow` tool providers).

The console makes a workflow app a tool (`tool-provider/workflow/create|update|delete|get|tools`,
`tools/workflow`): its Start variables are the tool's parameters, described by the provider's
`parameter_configuration`. Tool nodes and agents call it through the workspace's tool port: the backend
below runs the app's published graph in process with the run's ports, one level deeper
(`call_depth + 1`; the engine refuses a run deeper than WORKFLOW_CALL_MAX_DEPTH), and answers the
outputs as a `json` message and as text. A workflow that is already running in the same call chain
(a workflow calling itself, directly or through others) fails at once with a message naming it.

Nested runs are not recorded as workflow runs of their own (the calling node records the call).
"""

from __future__ import annotations

import contextvars
import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Account, Tenant
from apps.models import App, AppMode, WorkflowToolProvider
from apps.parameters import start_variables
from dify_project.api.errors import InvalidParam, NotFound
from dify_project.db import db_sync_to_async
from providers.tools.entities import I18n, ParameterOption, ToolParameter, provider_dict
from providers.tools.exceptions import ToolInvokeError, ToolProviderNotFoundError
from providers.tools.port import TenantToolPort, function_parameters, merge_parameters
from workflows.engine.ports import ToolMessage, ToolRequest, ToolSpec

NAME = re.compile(r"^[a-zA-Z0-9_]+$")
_TYPES = {
    "text-input": "string",
    "paragraph": "string",
    "select": "select",
    "number": "number",
    "checkbox": "boolean",
    "file": "file",
    "file-list": "files",
    "json_object": "object",
}
# The workflow apps running in this call chain (outermost first), to refuse a workflow calling itself.
_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("workflow_tool_chain", default=())


class WorkflowToolRecursionError(ToolInvokeError):
    """The workflow tool would run a workflow that is already running in this call chain."""


# --- parameters ------------------------------------------------------------------------------------------


def tool_parameters(
    variables: list[Mapping[str, Any]], configuration: list[Any]
) -> tuple[ToolParameter, ...]:
    described = {str(item.get("name")): item for item in configuration or [] if isinstance(item, Mapping)}
    parameters = []
    for variable in variables:
        name = str(variable.get("variable") or "")
        if not name:
            continue
        config = described.get(name, {})
        kind = _TYPES.get(str(variable.get("type") or "text-input"), "string")
        description = str(config.get("description") or "")
        parameters.append(
            ToolParameter(
                name=name,
                label=I18n.plain(str(variable.get("label") or name)),
                type=kind,
                form=str(config.get("form") or "llm") if kind not in ("file", "files") else "llm",
                required=bool(variable.get("required")),
                default=variable.get("default"),
                human_description=I18n.plain(description),
                llm_description=description,
                options=tuple(
                    ParameterOption(value=str(o), label=I18n.plain(str(o)))
                    for o in variable.get("options") or []
                ),
            )
        )
    return tuple(parameters)


def _parameters_of(row: WorkflowToolProvider) -> tuple[ToolParameter, ...]:
    workflow = row.app.workflow
    variables = start_variables(workflow.graph) if workflow is not None else []
    return tool_parameters(variables, row.parameter_configuration)


# --- console ---------------------------------------------------------------------------------------------


def _workflow_app(tenant: Tenant, app_id: Any) -> App:
    try:
        app = App.objects.for_tenant(tenant).filter(id=uuid.UUID(str(app_id))).first()
    except ValueError:
        app = None
    if app is None:
        raise NotFound("App not found.")
    if app.mode != AppMode.WORKFLOW:
        raise InvalidParam("Only workflow apps can be published as tools.")
    if app.workflow is None:
        raise InvalidParam("Workflow not found: publish the workflow first.")
    return app


def _check(name: str, parameters: list[Any]) -> None:
    if not NAME.match(name or ""):
        raise InvalidParam("name must consist of letters, digits and underscores")
    for item in parameters:
        if not isinstance(item, Mapping) or not item.get("name"):
            raise InvalidParam("each parameter needs a name")
        if item.get("form", "llm") not in ("llm", "form"):
            raise InvalidParam(f"invalid form {item.get('form')} for parameter {item.get('name')}")


@transaction.atomic
def workflow_tool_create(
    *,
    tenant: Tenant,
    user: Account | None,
    workflow_app_id: Any,
    name: str,
    label: str,
    icon: Mapping[str, Any],
    description: str,
    parameters: list[Any],
    privacy_policy: str = "",
    labels: list[str] | None = None,
) -> WorkflowToolProvider:
    _check(name, parameters)
    app = _workflow_app(tenant, workflow_app_id)
    rows = WorkflowToolProvider.objects.for_tenant(tenant)
    if rows.filter(name=name).exists() or rows.filter(app=app).exists():
        raise InvalidParam(f"Tool with name {name} or app_id {app.id} already exists")
    try:
        with transaction.atomic():
            return WorkflowToolProvider.objects.create(
                tenant=tenant,
                user=user,
                app=app,
                name=name,
                label=label,
                icon=dict(icon),
                description=description,
                parameter_configuration=list(parameters),
                privacy_policy=privacy_policy or "",
                labels=list(labels or []),
                version=app.workflow.version,
            )
    except IntegrityError:
        raise InvalidParam(f"Tool with name {name} or app_id {app.id} already exists") from None


def workflow_tool_get(
    *, tenant: Tenant, workflow_tool_id: Any = None, workflow_app_id: Any = None
) -> WorkflowToolProvider:
    rows = WorkflowToolProvider.objects.for_tenant(tenant).select_related("app", "app__workflow", "user")
    try:
        if workflow_tool_id:
            row = rows.filter(id=uuid.UUID(str(workflow_tool_id))).first()
        elif workflow_app_id:
            row = rows.filter(app_id=uuid.UUID(str(workflow_app_id))).first()
        else:
            raise InvalidParam("incorrect workflow_tool_id or workflow_app_id")
    except ValueError:
        row = None
    if row is None:
        raise NotFound("Tool not found.")
    return row


@transaction.atomic
def workflow_tool_update(
    *,
    tenant: Tenant,
    workflow_tool_id: Any,
    name: str,
    label: str,
    icon: Mapping[str, Any],
    description: str,
    parameters: list[Any],
    privacy_policy: str = "",
    labels: list[str] | None = None,
) -> WorkflowToolProvider:
    _check(name, parameters)
    row = workflow_tool_get(tenant=tenant, workflow_tool_id=workflow_tool_id)
    if WorkflowToolProvider.objects.for_tenant(tenant).filter(name=name).exclude(pk=row.pk).exists():
        raise InvalidParam(f"Tool with name {name} already exists")
    row.name, row.label, row.icon, row.description = name, label, dict(icon), description
    row.parameter_configuration, row.privacy_policy = list(parameters), privacy_policy or ""
    if labels is not None:
        row.labels = list(labels)
    if row.app.workflow is not None:
        row.version = row.app.workflow.version
    row.save()
    return row


@transaction.atomic
def workflow_tool_delete(*, tenant: Tenant, workflow_tool_id: Any) -> None:
    workflow_tool_get(tenant=tenant, workflow_tool_id=workflow_tool_id).delete()


def _author(row: WorkflowToolProvider) -> str:
    return (row.user.name if row.user_id and row.user else "") or "Anonymous"


def workflow_tool_tools_out(row: WorkflowToolProvider) -> list[dict[str, Any]]:
    return [
        {
            "author": _author(row),
            "name": row.name,
            "label": I18n.plain(row.label).to_dict(),
            "description": I18n.plain(row.description).to_dict(),
            "parameters": [parameter.to_dict() for parameter in _parameters_of(row)],
            "labels": list(row.labels or []),
            "output_schema": {},
        }
    ]


def workflow_tool_provider_out(row: WorkflowToolProvider) -> dict[str, Any]:
    """Dify's ToolProviderApiEntity for a workflow tool provider."""
    return provider_dict(
        id=str(row.id),
        author=_author(row),
        name=row.name,
        label=I18n.plain(row.label),
        description=I18n.plain(row.description),
        icon=row.icon,
        type="workflow",
        is_team_authorization=True,
        tools=workflow_tool_tools_out(row),
        labels=list(row.labels or []),
    )


def workflow_tool_detail_out(row: WorkflowToolProvider) -> dict[str, Any]:
    """Dify's `tool-provider/workflow/get` body."""
    return {
        "name": row.name,
        "label": row.label,
        "workflow_tool_id": str(row.id),
        "workflow_app_id": str(row.app_id),
        "icon": row.icon,
        "description": row.description,
        "parameters": list(row.parameter_configuration or []),
        "tool": workflow_tool_tools_out(row)[0],
        "synced": bool(row.app.workflow and row.app.workflow.version == row.version),
        "privacy_policy": row.privacy_policy,
        "labels": list(row.labels or []),
    }


def workflow_tools_list(*, tenant: Tenant) -> list[dict[str, Any]]:
    rows = WorkflowToolProvider.objects.for_tenant(tenant).select_related("app", "app__workflow", "user")
    return [workflow_tool_provider_out(row) for row in rows.order_by("created_at")]


# --- the tool port's backend -----------------------------------------------------------------------------


def _load(tenant_id: str, provider_id: str) -> tuple[WorkflowToolProvider, tuple[ToolParameter, ...]]:
    rows = WorkflowToolProvider.objects.filter(tenant_id=tenant_id).select_related("app", "app__workflow")
    try:
        row = rows.filter(id=uuid.UUID(str(provider_id))).first()
    except ValueError:
        row = rows.filter(name=provider_id).first()
    if row is None or row.app.workflow is None:
        raise ToolProviderNotFoundError(f"workflow tool provider {provider_id} not found")
    return row, _parameters_of(row)


class AppWorkflowTools:
    """The `WorkflowToolBackend` the tool port calls (registered in `AppsConfig.ready`)."""

    async def tool_spec(self, *, tenant_id: str, provider_id: str, tool_name: str) -> ToolSpec:
        row, parameters = await db_sync_to_async(_load)(tenant_id, provider_id)
        return ToolSpec(
            name=row.name,
            description=row.description or row.label,
            parameters=function_parameters(parameters),
        )

    async def invoke(self, port: TenantToolPort, request: ToolRequest) -> AsyncIterator[ToolMessage]:
        from apps.runners.ports import ports_for_run
        from apps.runners.workflow_app import engine_limits, environment_of, graph_for
        from workflows.engine import Engine

        row, parameters = await db_sync_to_async(_load)(port.tenant_id, request.provider_id)
        app = row.app
        chain = _chain.get()
        if str(app.id) in chain:
            raise WorkflowToolRecursionError(
                f"Workflow tool {row.name} calls its own workflow (app {app.name}), which is already running "
                "in this call chain; a workflow cannot call itself."
            )
        workflow = app.workflow
        graph = await db_sync_to_async(graph_for)(workflow)
        environment = await db_sync_to_async(environment_of)(workflow)
        inputs = merge_parameters(parameters, request.parameters, request.configurations)
        user = request.user or port.user
        ports = ports_for_run(
            tenant_id=port.tenant_id,
            user_id="",
            user=user,
            conversation_id=None,
            source={"app_id": str(app.id), "source": "workflow_tool"},
        )
        token = _chain.set((*chain, str(app.id)))
        try:
            run = Engine(ports=ports, limits=engine_limits()).run(
                graph,
                inputs=inputs,
                system={"user_id": user, "app_id": str(app.id), "workflow_id": str(workflow.id), "files": []},
                environment=environment,
                call_depth=request.call_depth + 1,
            )
            outcome = await run.collect()
        except Exception as exc:  # the engine's input errors: the caller's arguments did not fit
            if isinstance(exc, ToolInvokeError):
                raise
            raise ToolInvokeError(f"Workflow tool {row.name}: {exc}") from None
        finally:
            _chain.reset(token)
        if outcome.status != "succeeded":
            raise ToolInvokeError(f"Workflow tool {row.name} failed: {outcome.error}")
        outputs = dict(outcome.outputs or {})
        yield ToolMessage(type="json", data=outputs)
        yield ToolMessage(type="text", text=json.dumps(outputs, ensure_ascii=False, default=str))
