"""Workflow app logs as the Service API lists them (published runs only; debug runs are not logged)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from accounts.models import Account
from apps.models import App, EndUser
from dify_project.api.fields import timestamp
from dify_project.api.pagination import paginate
from workflows.models import WorkflowAppLog


def workflow_logs_page(
    *,
    app: App,
    page: int,
    limit: int,
    keyword: str | None = None,
    status: str | None = None,
    created_at__before: datetime | None = None,
    created_at__after: datetime | None = None,
    created_by_end_user_session_id: str | None = None,
    created_by_account: str | None = None,
) -> dict[str, Any]:
    logs = (
        WorkflowAppLog.objects.for_tenant(app.tenant_id).filter(app_id=app.id).select_related("workflow_run")
    )
    if status:
        logs = logs.filter(workflow_run__status=status)
    if created_at__before:
        logs = logs.filter(created_at__lte=created_at__before)
    if created_at__after:
        logs = logs.filter(created_at__gte=created_at__after)
    if created_by_end_user_session_id:
        ids = EndUser.objects.filter(app=app, session_id=created_by_end_user_session_id).values("id")
        logs = logs.filter(created_by_role="end_user", created_by__in=ids)
    if created_by_account:
        ids = Account.objects.filter(email=created_by_account).values("id")
        logs = logs.filter(created_by_role="account", created_by__in=ids)
    if keyword:
        # Inputs and outputs are JSON; a text search over their serialised form is what Dify does too.
        logs = logs.filter(
            Q(workflow_run__inputs__icontains=keyword) | Q(workflow_run__outputs__icontains=keyword)
        )
    return paginate(
        logs.order_by("-created_at"), page=page, limit=limit, render=lambda rows: _render(app, rows)
    )


def _render(app: App, rows: list[WorkflowAppLog]) -> list[dict[str, Any]]:
    end_user_ids = {r.created_by for r in rows if r.created_by_role == "end_user"}
    account_ids = {r.created_by for r in rows if r.created_by_role == "account"}
    end_users = {u.id: u for u in EndUser.objects.filter(id__in=end_user_ids)} if end_user_ids else {}
    accounts = {a.id: a for a in Account.objects.filter(id__in=account_ids)} if account_ids else {}
    out = []
    for log in rows:
        run = log.workflow_run
        end_user = end_users.get(log.created_by)
        account = accounts.get(log.created_by)
        out.append(
            {
                "id": str(log.id),
                "workflow_run": {
                    "id": str(run.id),
                    "version": run.version,
                    "status": run.status,
                    "error": run.error or None,
                    "elapsed_time": run.elapsed_time,
                    "total_tokens": run.total_tokens,
                    "total_steps": run.total_steps,
                    "created_at": timestamp(run.created_at),
                    "finished_at": timestamp(run.finished_at),
                    "exceptions_count": run.exceptions_count,
                    "triggered_from": run.triggered_from,
                },
                "created_from": log.created_from,
                "created_by_role": log.created_by_role,
                "created_by_account": {"id": str(account.id), "name": account.name, "email": account.email}
                if account
                else None,
                "created_by_end_user": {
                    "id": str(end_user.id),
                    "type": end_user.type,
                    "is_anonymous": end_user.is_anonymous,
                    "session_id": end_user.session_id,
                }
                if end_user
                else None,
                "created_at": timestamp(log.created_at),
            }
        )
    return out
