"""Fixtures and factories for the console app-building endpoints."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Account, Tenant, TenantRole
from apps.models import (
    App,
    Conversation,
    EndUser,
    Message,
)
from apps.services.apps_crud import app_create
from tests import factories
from workflows.engine.conformance import DEFAULT_SHARED
from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun

_seq = itertools.count(1)
CONFORMANCE_DSL = DEFAULT_SHARED / "dsl"


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return factories.tenant_factory(name="Other workspace")


@pytest.fixture
def member_client(tenant: Tenant, client_for: Callable[[Account], APIClient]) -> Callable[[str], APIClient]:
    """A client for a new member of the workspace with the given role."""

    def make(role: str) -> APIClient:
        return client_for(factories.member_factory(tenant=tenant, role=role))

    return make


@pytest.fixture
def normal_client(member_client: Callable[[str], APIClient]) -> APIClient:
    return member_client(TenantRole.NORMAL)


@pytest.fixture
def editor_client(member_client: Callable[[str], APIClient]) -> APIClient:
    return member_client(TenantRole.EDITOR)


@pytest.fixture
def make_app(tenant: Tenant, owner: Account) -> Callable[..., App]:
    def make(
        mode: str = "chat",
        name: str | None = None,
        *,
        in_tenant: Tenant | None = None,
        by: Account | None = None,
    ) -> App:
        return app_create(
            tenant=in_tenant or tenant,
            account=by or owner,
            name=name or f"App {next(_seq)}",
            mode=mode,
        )

    return make


def end_user_factory(*, app: App, session_id: str | None = None) -> EndUser:
    session = session_id or f"user-{next(_seq)}"
    return EndUser.objects.create(tenant_id=app.tenant_id, app=app, session_id=session, name=session)


def conversation_factory(*, app: App, end_user: EndUser | None = None, **fields: Any) -> Conversation:
    defaults: dict[str, Any] = {
        "mode": app.mode,
        "name": f"Conversation {next(_seq)}",
        "invoke_from": "service-api",
        "from_source": "api",
        "app_model_config_id": app.app_model_config_id,
    }
    defaults.update(fields)
    return Conversation.objects.create(tenant_id=app.tenant_id, app=app, from_end_user=end_user, **defaults)


def message_factory(*, conversation: Conversation, **fields: Any) -> Message:
    defaults: dict[str, Any] = {
        "query": f"question {next(_seq)}",
        "answer": "an answer",
        "invoke_from": conversation.invoke_from,
        "from_source": conversation.from_source,
        "message_tokens": 10,
        "answer_tokens": 5,
        "provider_response_latency": 0.5,
        "app_mode": conversation.mode,
    }
    defaults.update(fields)
    return Message.objects.create(
        tenant_id=conversation.tenant_id,
        app_id=conversation.app_id,
        conversation=conversation,
        from_end_user=conversation.from_end_user,
        **defaults,
    )


def published_workflow(app: App, owner: Account) -> Workflow:
    from apps.services.apps_crud import app_publish_workflow

    return app_publish_workflow(app=app, account=owner)


def run_factory(
    *, app: App, workflow: Workflow, created_by: Any, role: str = "end_user", **fields: Any
) -> WorkflowRun:
    defaults: dict[str, Any] = {
        "type": workflow.type,
        "triggered_from": "app-run",
        "version": workflow.version,
        "graph": workflow.graph,
        "inputs": {"q": "hello"},
        "status": "succeeded",
        "outputs": {"answer": "hi"},
        "elapsed_time": 1.5,
        "total_tokens": 30,
        "total_steps": 2,
    }
    defaults.update(fields)
    return WorkflowRun.objects.create(
        tenant_id=app.tenant_id,
        app_id=app.id,
        workflow=workflow,
        created_by_role=role,
        created_by=created_by,
        **defaults,
    )


def node_execution_factory(
    *, run: WorkflowRun, index: int, node_id: str, node_type: str
) -> WorkflowNodeExecution:
    return WorkflowNodeExecution.objects.create(
        tenant_id=run.tenant_id,
        app_id=run.app_id,
        workflow_id=run.workflow_id,
        triggered_from="workflow-run",
        workflow_run=run,
        index=index,
        node_id=node_id,
        node_type=node_type,
        title=node_id.title(),
        inputs={"in": index},
        outputs={"out": index},
        status="succeeded",
        created_by_role=run.created_by_role,
        created_by=run.created_by,
    )


def app_log_factory(*, run: WorkflowRun) -> WorkflowAppLog:
    return WorkflowAppLog.objects.create(
        tenant_id=run.tenant_id,
        app_id=run.app_id,
        workflow_id=run.workflow_id,
        workflow_run=run,
        created_from="service-api",
        created_by_role=run.created_by_role,
        created_by=run.created_by,
    )
