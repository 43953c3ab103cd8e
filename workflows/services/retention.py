"""Retention of run history: workflow runs with their node executions, app logs and pauses; node
executions of single-step debug runs; runs abandoned by a process that died.

Deletes go in bounded batches, each its own short transaction, so no table is locked for long and the
API keeps answering while millions of rows go. Every function is idempotent: a second call (or one
running beside it) finds nothing left, or deletes what the first has not reached yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from workflows.models import (
    HumanInputForm,
    WorkflowAppLog,
    WorkflowNodeExecution,
    WorkflowPause,
    WorkflowRun,
    WorkflowRunStatus,
)

# Runs still under way are never removed by age: the expiry of pauses and of abandoned runs ends them first.
_OPEN = (WorkflowRunStatus.RUNNING, WorkflowRunStatus.PAUSED, WorkflowRunStatus.SCHEDULED)


def delete_in_batches(queryset: QuerySet, *, batch_size: int) -> dict[str, int]:
    """Delete the rows of ``queryset`` ``batch_size`` primary keys at a time; rows deleted per model label.

    Each batch is selected by key and deleted in its own transaction (Django's collector removes what
    cascades from it with set-based deletes), so a lock never covers more than one batch.
    """
    totals: dict[str, int] = {}
    model = queryset.model
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return totals
        with transaction.atomic():
            _, per_model = model._base_manager.filter(pk__in=ids).delete()
        for label, count in per_model.items():
            totals[label] = totals.get(label, 0) + count
        if len(ids) < batch_size:
            return totals


def _old_runs(*, cutoff: datetime, scope: Q) -> QuerySet[WorkflowRun]:
    return WorkflowRun.objects.filter(scope, created_at__lt=cutoff).exclude(status__in=_OPEN)


def _old_debug_steps(*, cutoff: datetime, scope: Q) -> QuerySet[WorkflowNodeExecution]:
    return WorkflowNodeExecution.objects.filter(scope, workflow_run__isnull=True, created_at__lt=cutoff)


def workflow_history_count(*, cutoff: datetime, scope: Q) -> dict[str, int]:
    """What ``workflow_history_purge`` would delete, per table (for ``--dry-run``)."""
    runs = _old_runs(cutoff=cutoff, scope=scope)
    run_ids = runs.values("id")
    return {
        "workflow_runs": runs.count(),
        "workflow_node_executions": WorkflowNodeExecution.objects.filter(workflow_run__in=run_ids).count()
        + _old_debug_steps(cutoff=cutoff, scope=scope).count(),
        "workflow_app_logs": WorkflowAppLog.objects.filter(workflow_run__in=run_ids).count(),
        "workflow_pauses": WorkflowPause.objects.filter(workflow_run__in=run_ids).count(),
    }


def workflow_history_purge(*, cutoff: datetime, scope: Q, batch_size: int) -> dict[str, int]:
    """Delete finished runs created before ``cutoff`` (with their node executions, app logs, pauses and
    forms) and single-step node executions before it, within ``scope`` (a filter on ``tenant_id``).

    Node executions go first, in their own batches: a run can have thousands, and one run's cascade must
    not become one huge delete.
    """
    runs = _old_runs(cutoff=cutoff, scope=scope)
    counts = {
        "workflow_runs": 0,
        "workflow_node_executions": 0,
        "workflow_app_logs": 0,
        "workflow_pauses": 0,
    }
    steps = delete_in_batches(
        WorkflowNodeExecution.objects.filter(workflow_run__in=runs.values("id")), batch_size=batch_size
    )
    steps_debug = delete_in_batches(_old_debug_steps(cutoff=cutoff, scope=scope), batch_size=batch_size)
    rest = delete_in_batches(runs, batch_size=batch_size)
    label = WorkflowNodeExecution._meta.label
    counts["workflow_node_executions"] = steps.get(label, 0) + steps_debug.get(label, 0) + rest.get(label, 0)
    counts["workflow_runs"] = rest.get(WorkflowRun._meta.label, 0)
    counts["workflow_app_logs"] = rest.get(WorkflowAppLog._meta.label, 0)
    counts["workflow_pauses"] = rest.get(WorkflowPause._meta.label, 0)
    return counts


def workflow_runs_abandoned_fail(*, started_before: datetime) -> list[Any]:
    """End runs still marked ``running`` that started before ``started_before``: the process running them
    died (a run never outlives its time limit). They fail with a reason instead of running forever.
    Returns the ids of the runs ended; a run that finished meanwhile is left as it is."""
    ids = list(
        WorkflowRun.objects.filter(status=WorkflowRunStatus.RUNNING, created_at__lt=started_before)
        .values_list("id", flat=True)
        .order_by("created_at")[:1000]
    )
    if not ids:
        return []
    now = timezone.now()
    reason = "The run was abandoned: the process running it stopped before it finished."
    WorkflowRun.objects.filter(id__in=ids, status=WorkflowRunStatus.RUNNING).update(
        status=WorkflowRunStatus.FAILED, error=reason, finished_at=now, updated_at=now
    )
    return _ended(ids, reason=reason, now=now)


def _ended(ids: list[Any], *, reason: str, now: datetime) -> list[Any]:
    """The runs among ``ids`` this call ended (not those another process finished in the meantime)."""
    return list(
        WorkflowRun.objects.filter(
            id__in=ids, status=WorkflowRunStatus.FAILED, error=reason, finished_at=now
        ).values_list("id", flat=True)
    )


def workflow_pauses_expire(*, now: datetime, reason: str) -> list[Any]:
    """Fail paused runs whose every open human-input form has expired. Returns the runs' ids.

    The update is conditional on the run still being paused, so a resume racing this leaves its run alone.
    """
    open_forms = HumanInputForm.objects.filter(submitted_at__isnull=True)
    expired = (
        WorkflowPause.objects.filter(resumed_at__isnull=True, workflow_run__status=WorkflowRunStatus.PAUSED)
        .filter(forms__in=open_forms.filter(expires_at__lte=now))
        .exclude(forms__in=open_forms.filter(expires_at__gt=now))
        .values_list("workflow_run_id", flat=True)
        .distinct()
    )
    ids = list(expired[:1000])
    if not ids:
        return []
    WorkflowRun.objects.filter(id__in=ids, status=WorkflowRunStatus.PAUSED).update(
        status=WorkflowRunStatus.FAILED, error=reason, finished_at=now, updated_at=now
    )
    return _ended(ids, reason=reason, now=now)
