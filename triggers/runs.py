"""Starting the runs triggers ask for, through the same runner as the Service API.

A trigger run is an ordinary workflow run of the published version, started from the trigger's root,
recorded with Dify's ``triggered_from`` (``webhook`` | ``schedule``) and ``invoke_from`` ``trigger``.
``run_and_wait`` runs it in this process (or on a worker with ``APP_RUN_EXECUTOR=celery``) and waits for
the end; ``run_enqueue`` hands it to a Celery worker (``apps.run_app`` on the ``workflow`` queue) and
returns at once; ``run_here`` is what a worker (the schedule task) calls to run it inline.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from django.conf import settings

from apps.models import App, EndUser
from apps.runners.workflow_app import execute_workflow_run, prepare_workflow_run
from apps.runs import remote
from apps.runs.bus import event_log
from apps.runs.ids import RunIds
from apps.runs.launch import launch
from apps.runs.payloads import RunResult, WorkflowRunRequest, workflow_payload
from apps.tasks import run_app
from dify_project.db import db_sync_to_async
from workflows.models import Workflow

INVOKE_FROM = "trigger"


def trigger_run_request(
    *,
    app: App,
    workflow: Workflow,
    root_node_id: str,
    triggered_from: str,
    inputs: dict[str, Any],
    end_user: EndUser | None = None,
    account_id: str | None = None,
) -> WorkflowRunRequest:
    return WorkflowRunRequest(
        app=app,
        inputs=inputs,
        invoke_from=INVOKE_FROM,
        end_user=end_user,
        account_id=account_id,
        workflow_id=str(workflow.id),
        triggered_from=triggered_from,
        root_node_id=root_node_id,
    )


async def run_and_wait(request: WorkflowRunRequest, *, wait: float) -> tuple[RunIds, RunResult | None]:
    """Run under the app's concurrency limit (429 when full) and wait for the end, at most ``wait``
    seconds: then None, and the run goes on (it is detached from the request). A failed run is a result
    with status ``failed``, never an exception."""
    ids = RunIds()
    prepared = await db_sync_to_async(prepare_workflow_run)(request, ids)
    prepared.open_early = False
    keys = [ids.task_id, ids.run_id]
    app = request.app
    in_worker = settings.APP_RUN_EXECUTOR == "celery"
    execute = (
        partial(remote.relay, workflow_payload(request, ids))
        if in_worker
        else partial(execute_workflow_run, prepared)
    )
    _, task = await launch(
        app_id=str(app.id),
        app_limit=app.max_active_requests,
        keys=keys,
        execute=execute,
        mirror=not in_worker,
    )
    try:
        result = await asyncio.wait_for(asyncio.shield(task), wait)
    except TimeoutError:
        return ids, None
    return ids, remote.workflow_result_from_events(result) if in_worker else result


def run_enqueue(request: WorkflowRunRequest) -> RunIds:
    """Queue the run for a Celery worker; its ids are known now (the run row appears when it starts)."""
    ids = RunIds()
    run_app.apply_async(args=[workflow_payload(request, ids)], queue="workflow")
    return ids


async def run_here(request: WorkflowRunRequest) -> tuple[RunIds, RunResult]:
    """Run inline (in a worker already): prepare, execute, record. Raises the runner's 4xx errors."""
    ids = RunIds()
    prepared = await db_sync_to_async(prepare_workflow_run)(request, ids)
    prepared.open_early = False
    writer = event_log().open([ids.task_id, ids.run_id])
    return ids, await execute_workflow_run(prepared, writer)
