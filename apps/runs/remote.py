"""Runs executed by a Celery worker (``APP_RUN_EXECUTOR=celery``): the request travels as JSON
(`payloads`), the events come back through the run's Redis Stream and are relayed into this process's
channel, so the SSE response, the blocking answer and the concurrency slot work exactly as for in-process
runs."""

from __future__ import annotations

import asyncio
from typing import Any

from apps.runs.bus import RunWriter, event_log
from apps.runs.payloads import (
    chat_payload,
    chat_result_from_events,
    workflow_payload,
    workflow_result_from_events,
)
from dify_project.celery import app as celery_app

WORKER_START_TIMEOUT = 30.0
RUN_TASK = "apps.run_app"  # `apps.tasks.run_app`, sent by name: the task module imports the runners

__all__ = [
    "chat_payload",
    "chat_result_from_events",
    "relay",
    "workflow_payload",
    "workflow_result_from_events",
]


async def relay(payload: dict[str, Any], writer: RunWriter) -> list[dict[str, Any]]:
    """Enqueue the run and copy its events from Redis into ``writer`` until it ends; returns them all."""
    await asyncio.to_thread(celery_app.send_task, RUN_TASK, args=[payload], queue="workflow")
    key = payload["ids"]["task_id"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WORKER_START_TIMEOUT
    source = None
    while source is None:
        source = await event_log().follow(key, remote_only=True)
        if source is None:
            if loop.time() > deadline:
                event = {
                    "event": "error",
                    "code": "internal_server_error",
                    "status": 500,
                    "message": "No worker picked up the run. Is a Celery worker consuming the 'workflow' queue?",
                }
                writer.publish(event)
                await writer.close()
                return [event]
            await asyncio.sleep(0.02)
    events = []
    async for _, event in source:
        events.append(event)
        writer.publish(event)
    await writer.close()
    return events
