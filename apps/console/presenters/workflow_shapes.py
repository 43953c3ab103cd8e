"""Console output shapes for workflows, their runs, node executions and app logs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from accounts.models import Account, Tenant
from apps import selectors
from apps.console.presenters.app_shapes import (
    simple_account,
    simple_end_user,
)
from apps.models import (
    EndUser,
    Message,
)
from dify_project.api.fields import timestamp
from workflows.models import Workflow, WorkflowAppLog, WorkflowNodeExecution, WorkflowRun
from workflows.services.hashing import workflow_hash
from workflows.services.variables import environment_variables_masked

# --- workflows ------------------------------------------------------------------------------------------


def workflow(row: Workflow, accounts: dict[str, Account]) -> dict[str, Any]:
    """Dify's ``workflow_fields`` (secret environment values masked)."""
    return {
        "id": str(row.id),
        "graph": row.graph,
        "features": row.features,
        "hash": workflow_hash(graph=row.graph, features=row.features),
        "version": row.version,
        "number": row.number,
        "marked_name": row.marked_name,
        "marked_comment": row.marked_comment,
        "created_by": simple_account(accounts.get(str(row.created_by))),
        "created_at": timestamp(row.created_at),
        "updated_by": simple_account(accounts.get(str(row.updated_by))),
        "updated_at": timestamp(row.updated_at),
        "tool_published": False,
        "environment_variables": environment_variables_masked(row.environment_variables or []),
        "conversation_variables": row.conversation_variables or [],
        "rag_pipeline_variables": [],
    }


def workflows(rows: Sequence[Workflow]) -> list[dict[str, Any]]:
    accounts = selectors.accounts_by_id([r.created_by for r in rows] + [r.updated_by for r in rows])
    return [workflow(r, accounts) for r in rows]


def _creators(rows: Iterable[Any], *, tenant: Tenant) -> tuple[dict[str, Account], dict[str, EndUser]]:
    rows = list(rows)
    accounts = selectors.accounts_by_id(r.created_by for r in rows if r.created_by_role == "account")
    end_users = selectors.end_users_by_id(
        tenant=tenant, ids=(r.created_by for r in rows if r.created_by_role == "end_user")
    )
    return accounts, end_users


def workflow_runs(rows: Sequence[WorkflowRun], *, tenant: Tenant, chat: bool = False) -> list[dict[str, Any]]:
    accounts, _ = _creators(rows, tenant=tenant)
    messages: dict[str, Message] = {}
    if chat:
        messages = {
            str(m.workflow_run_id): m
            for m in Message.objects.filter(workflow_run_id__in=[r.id for r in rows]).only(
                "id", "conversation_id", "workflow_run_id"
            )
        }
    result = []
    for run in rows:
        item = {
            "id": str(run.id),
            "version": run.version,
            "status": run.status,
            "elapsed_time": run.elapsed_time,
            "total_tokens": run.total_tokens,
            "total_steps": run.total_steps,
            "created_by_account": simple_account(accounts.get(str(run.created_by)))
            if run.created_by_role == "account"
            else None,
            "created_at": timestamp(run.created_at),
            "finished_at": timestamp(run.finished_at),
            "exceptions_count": run.exceptions_count,
            "triggered_from": run.triggered_from,
        }
        if chat:
            message = messages.get(str(run.id))
            item["conversation_id"] = str(message.conversation_id) if message else None
            item["message_id"] = str(message.id) if message else None
        result.append(item)
    return result


def workflow_run_detail(run: WorkflowRun, *, tenant: Tenant) -> dict[str, Any]:
    accounts, end_users = _creators([run], tenant=tenant)
    return {
        "id": str(run.id),
        "version": run.version,
        "graph": run.graph,
        "inputs": run.inputs,
        "status": run.status,
        "outputs": run.outputs,
        "error": run.error or None,
        "elapsed_time": run.elapsed_time,
        "total_tokens": run.total_tokens,
        "total_steps": run.total_steps,
        "created_by_role": run.created_by_role,
        "created_by_account": simple_account(accounts.get(str(run.created_by))),
        "created_by_end_user": simple_end_user(end_users.get(str(run.created_by))),
        "created_at": timestamp(run.created_at),
        "finished_at": timestamp(run.finished_at),
        "exceptions_count": run.exceptions_count,
        "triggered_from": run.triggered_from,
        "workflow_id": str(run.workflow_id),
    }


def node_executions(rows: Sequence[WorkflowNodeExecution], *, tenant: Tenant) -> list[dict[str, Any]]:
    accounts, end_users = _creators(rows, tenant=tenant)
    return [
        {
            "id": str(n.id),
            "index": n.index,
            "predecessor_node_id": n.predecessor_node_id or None,
            "node_id": n.node_id,
            "node_type": n.node_type,
            "title": n.title,
            "inputs": n.inputs,
            "process_data": n.process_data,
            "outputs": n.outputs,
            "status": n.status,
            "error": n.error or None,
            "elapsed_time": n.elapsed_time,
            "execution_metadata": n.execution_metadata,
            "extras": {},
            "created_at": timestamp(n.created_at),
            "created_by_role": n.created_by_role,
            "created_by_account": simple_account(accounts.get(str(n.created_by))),
            "created_by_end_user": simple_end_user(end_users.get(str(n.created_by))),
            "finished_at": timestamp(n.finished_at),
            "inputs_truncated": False,
            "outputs_truncated": False,
            "process_data_truncated": False,
        }
        for n in rows
    ]


def workflow_app_logs(rows: Sequence[WorkflowAppLog], *, tenant: Tenant) -> list[dict[str, Any]]:
    accounts, end_users = _creators(rows, tenant=tenant)
    result = []
    for log in rows:
        run = log.workflow_run
        result.append(
            {
                "id": str(log.id),
                "workflow_run": {
                    "id": str(run.id),
                    "version": run.version,
                    "status": run.status,
                    "triggered_from": run.triggered_from,
                    "error": run.error or None,
                    "elapsed_time": run.elapsed_time,
                    "total_tokens": run.total_tokens,
                    "total_steps": run.total_steps,
                    "created_at": timestamp(run.created_at),
                    "finished_at": timestamp(run.finished_at),
                    "exceptions_count": run.exceptions_count,
                }
                if run
                else None,
                "details": None,
                "created_from": log.created_from,
                "created_by_role": log.created_by_role,
                "created_by_account": simple_account(accounts.get(str(log.created_by))),
                "created_by_end_user": simple_end_user(end_users.get(str(log.created_by))),
                "created_at": timestamp(log.created_at),
            }
        )
    return result
