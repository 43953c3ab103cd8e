"""Removing everything the workflows domain holds for an app (used when the app is deleted)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from workflows.models import (
    ConversationVariable,
    HumanInputForm,
    Workflow,
    WorkflowAppLog,
    WorkflowNodeExecution,
    WorkflowPause,
    WorkflowRun,
    WorkflowTestCase,
    WorkflowTestResult,
)


@transaction.atomic
def workflows_delete_for_app(*, tenant_id: Any, app_id: Any) -> dict[str, int]:
    """Delete the app's workflows, runs, node executions, logs, pauses and conversation variables.

    Leaves first, so each table goes with set-based DELETEs (Django's fast delete) rather than a per-row
    cascade walk: run tables grow large. Returns the number of rows deleted per table.
    """
    scope = {"tenant_id": tenant_id, "app_id": app_id}
    runs = WorkflowRun.objects.filter(**scope).values("id")
    counts: dict[str, int] = {}
    counts["human_input_forms"] = HumanInputForm.objects.filter(pause__workflow_run__in=runs).delete()[0]
    counts["workflow_pauses"] = WorkflowPause.objects.filter(workflow_run__in=runs).delete()[0]
    counts["workflow_node_executions"] = WorkflowNodeExecution.objects.filter(**scope).delete()[0]
    counts["workflow_app_logs"] = WorkflowAppLog.objects.filter(**scope).delete()[0]
    counts["workflow_runs"] = WorkflowRun.objects.filter(**scope).delete()[0]
    counts["conversation_variables"] = ConversationVariable.objects.filter(**scope).delete()[0]
    counts["workflow_test_results"] = WorkflowTestResult.objects.filter(**scope).delete()[0]
    counts["workflow_test_cases"] = WorkflowTestCase.objects.filter(**scope).delete()[0]
    counts["workflows"] = Workflow.objects.filter(**scope).delete()[0]
    return counts
