"""Celery tasks of the apps domain. ``run_app`` executes a run on the ``workflow`` queue when
``APP_RUN_EXECUTOR=celery``: the same runner as in the web process, publishing the same events to the
run's Redis Stream, which the web process relays to the client (`apps.runs.remote`, which sends this task
by name).

Runs are at-most-once (``acks_late=False``): re-delivering a half-done run would duplicate its side effects.
"""

from __future__ import annotations

import asyncio
from typing import Any

from celery import shared_task

from apps.runners.chat_app import execute_chat_run
from apps.runners.chat_prepare import prepare_chat_run
from apps.runners.workflow_app import execute_workflow_run, prepare_workflow_run
from apps.runs.bus import event_log
from apps.runs.errors import stream_error_body
from apps.runs.ids import RunIds
from apps.runs.payloads import load_request
from dify_project.db import db_sync_to_async


@shared_task(name="apps.run_app", acks_late=False, ignore_result=True)
def run_app(payload: dict[str, Any]) -> None:
    asyncio.run(execute_payload(payload))


async def execute_payload(payload: dict[str, Any]) -> None:
    ids = RunIds.from_dict(payload["ids"])
    writer = event_log().open([ids.task_id, ids.run_id, ids.message_id])
    try:
        if payload["kind"] == "workflow":
            request = await db_sync_to_async(load_request)(payload)
            prepared = await db_sync_to_async(prepare_workflow_run)(request, ids)
            await execute_workflow_run(prepared, writer)
        else:
            kwargs = await db_sync_to_async(load_request)(payload)
            prepared = await db_sync_to_async(prepare_chat_run)(**kwargs, ids=ids)
            await execute_chat_run(prepared, writer)
    except Exception as exc:  # anything before the runner took over: tell the waiting client
        code, status, message = stream_error_body(exc)
        writer.publish({"event": "error", "code": code, "status": status, "message": message})
        await writer.close()
