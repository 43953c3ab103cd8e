"""Reads of the workflows domain, always scoped by workspace and app.

Apps depend on workflows, not the reverse: these take ids (``tenant_id``, ``app_id``) rather than App rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from dify_project.api.errors import NotFound
from workflows.models import (
    DRAFT,
    Workflow,
    WorkflowAppLog,
    WorkflowNodeExecution,
    WorkflowRun,
)


class WorkflowNotFound(NotFound):
    message = "Workflow not found."


class WorkflowRunNotFound(NotFound):
    message = "Workflow run not found."


def _uuid(value: Any, what: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"{what} not found: {str(value)[:64]!r} is not a valid id.") from None


def draft_get(*, tenant_id: Any, app_id: Any) -> Workflow | None:
    """The draft of an app's workflow, or None when nothing was saved yet."""
    return Workflow.objects.filter(tenant_id=tenant_id, app_id=app_id, version=DRAFT).first()


def version_get(*, tenant_id: Any, app_id: Any, workflow_id: Any) -> Workflow:
    """A workflow row (draft or published) of this app, or 404 naming the id."""
    if str(workflow_id) == DRAFT:
        draft = draft_get(tenant_id=tenant_id, app_id=app_id)
        if draft is None:
            raise WorkflowNotFound("The app has no draft workflow.")
        return draft
    pk = _uuid(workflow_id, "Workflow version")
    workflow = Workflow.objects.filter(tenant_id=tenant_id, app_id=app_id, id=pk).first()
    if workflow is None:
        raise WorkflowNotFound(f"Workflow version {workflow_id} not found.")
    return workflow


def published_versions(
    *, tenant_id: Any, app_id: Any, created_by: Any = None, named_only: bool = False
) -> QuerySet[Workflow]:
    versions = (
        Workflow.objects.filter(tenant_id=tenant_id, app_id=app_id)
        .exclude(version=DRAFT)
        .order_by("-number", "-created_at")
    )
    if created_by:
        versions = versions.filter(created_by=created_by)
    if named_only:
        versions = versions.exclude(marked_name="")
    return versions


# --- runs and logs -----------------------------------------------------------------------------------


def run_list(
    *,
    tenant_id: Any,
    app_id: Any,
    last_id: Any = None,
    limit: int = 20,
    status: str | None = None,
    triggered_from: str | None = None,
) -> tuple[list[WorkflowRun], bool]:
    """Dify's infinite-scroll run list: newest first, the page after ``last_id``, and has_more."""
    runs = WorkflowRun.objects.filter(tenant_id=tenant_id, app_id=app_id).defer("graph", "inputs", "outputs")
    if triggered_from:
        runs = runs.filter(triggered_from=triggered_from)
    if status:
        runs = runs.filter(status=status)
    runs = runs.order_by("-created_at", "-id")
    if last_id:
        pk = _uuid(last_id, "Last workflow run")
        last = WorkflowRun.objects.filter(tenant_id=tenant_id, app_id=app_id, id=pk).first()
        if last is None:
            raise WorkflowRunNotFound("Last workflow run not exists.")
        runs = runs.filter(Q(created_at__lt=last.created_at) | Q(created_at=last.created_at, id__lt=last.id))
    rows = list(runs[: limit + 1])
    return rows[:limit], len(rows) > limit


def run_get(*, tenant_id: Any, app_id: Any, run_id: Any) -> WorkflowRun:
    pk = _uuid(run_id, "Workflow run")
    run = WorkflowRun.objects.filter(tenant_id=tenant_id, app_id=app_id, id=pk).first()
    if run is None:
        raise WorkflowRunNotFound()
    return run


def node_executions_of(*, run: WorkflowRun) -> QuerySet[WorkflowNodeExecution]:
    return WorkflowNodeExecution.objects.filter(tenant_id=run.tenant_id, workflow_run=run).order_by(
        "index", "created_at"
    )


def run_status_by_id(run_ids: Iterable[Any]) -> dict[str, str]:
    ids = {str(r) for r in run_ids if r}
    if not ids:
        return {}
    return {
        str(pk): status for pk, status in WorkflowRun.objects.filter(id__in=ids).values_list("id", "status")
    }


def app_log_list(
    *,
    tenant_id: Any,
    app_id: Any,
    status: str | None = None,
    keyword: str | None = None,
    created_at_before: datetime | None = None,
    created_at_after: datetime | None = None,
    created_by_end_user_ids: Iterable[Any] | None = None,
    created_by_account_ids: Iterable[Any] | None = None,
) -> QuerySet[WorkflowAppLog]:
    logs = (
        WorkflowAppLog.objects.filter(tenant_id=tenant_id, app_id=app_id)
        .select_related("workflow_run")
        .defer("workflow_run__graph", "workflow_run__inputs", "workflow_run__outputs")
        .order_by("-created_at", "-id")
    )
    if status:
        logs = logs.filter(workflow_run__status=status)
    if keyword:
        keyword = keyword[:255]
        logs = logs.filter(
            Q(workflow_run__inputs__icontains=keyword)
            | Q(workflow_run__outputs__icontains=keyword)
            | Q(workflow_run__error__icontains=keyword)
        )
    if created_at_before:
        logs = logs.filter(created_at__lte=created_at_before)
    if created_at_after:
        logs = logs.filter(created_at__gte=created_at_after)
    if created_by_end_user_ids is not None:
        logs = logs.filter(created_by_role="end_user", created_by__in=list(created_by_end_user_ids))
    if created_by_account_ids is not None:
        logs = logs.filter(created_by_role="account", created_by__in=list(created_by_account_ids))
    return logs
