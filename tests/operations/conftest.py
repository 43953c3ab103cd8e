"""Builders of history rows at a given age, for the maintenance tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.models import EndUser, Message
from tests import factories
from workflows.models import WorkflowAppLog, WorkflowNodeExecution, WorkflowRun


def aged(row: Any, *, days: float, field: str = "created_at", also_updated: bool = True) -> Any:
    """Move a row's timestamps ``days`` into the past (auto_now fields cannot be set on create)."""
    when = timezone.now() - timedelta(days=days)
    values = {field: when}
    if also_updated and hasattr(row, "updated_at"):
        values["updated_at"] = when
    type(row).objects.filter(pk=row.pk).update(**values)
    return row


class History:
    """One chat app and one workflow app of a workspace, with runs and messages made to order."""

    def __init__(self, tenant: Any) -> None:
        self.tenant = tenant
        self.chat = factories.app_factory(tenant=tenant, mode="chat")
        self.workflow_app = factories.app_factory(tenant=tenant, mode="workflow")
        self.end_user = EndUser.objects.create(
            tenant=tenant, app=self.chat, session_id=f"s-{tenant.id}", external_user_id="u1"
        )

    def run(self, *, days: float, status: str = "succeeded", nodes: int = 3) -> WorkflowRun:
        run = WorkflowRun.objects.create(
            tenant=self.tenant,
            app_id=self.workflow_app.id,
            workflow=self.workflow_app.workflow,
            type="workflow",
            triggered_from="app-run",
            version="v1",
            status=status,
            created_by_role="end_user",
            created_by=self.end_user.id,
        )
        for index in range(nodes):
            step = WorkflowNodeExecution.objects.create(
                tenant=self.tenant,
                app_id=self.workflow_app.id,
                workflow_id=self.workflow_app.workflow_id,
                triggered_from="workflow-run",
                workflow_run=run,
                index=index + 1,
                node_id=f"n{index}",
                node_type="llm",
                status="succeeded",
                created_by_role="end_user",
                created_by=self.end_user.id,
            )
            aged(step, days=days)
        log = WorkflowAppLog.objects.create(
            tenant=self.tenant,
            app_id=self.workflow_app.id,
            workflow_id=self.workflow_app.workflow_id,
            workflow_run=run,
            created_from="service-api",
            created_by_role="end_user",
            created_by=self.end_user.id,
        )
        aged(log, days=days)
        return aged(run, days=days)

    def conversation(self, *, days: float, messages: int = 2) -> Any:
        conversation = factories.conversation_factory(app=self.chat, end_user=self.end_user)
        for _ in range(messages):
            aged(factories.message_factory(conversation=conversation), days=days)
        return aged(conversation, days=days)

    def message(self, conversation: Any, *, days: float) -> Message:
        return aged(factories.message_factory(conversation=conversation), days=days)


@pytest.fixture
def history(tenant: Any) -> History:
    return History(tenant)


@pytest.fixture
def other_history(db: None) -> History:
    return History(factories.tenant_factory(name="Other"))
