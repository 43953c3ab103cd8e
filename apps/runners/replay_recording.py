"""Recording a run's outside I/O for replay (issue 16): the part the workflow runner calls, kept below
``apps.services.replay`` (which re-runs recorded runs and imports the runner) so the two never import
each other."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from apps.models import RunReplayLog
from dify_project.db import db_sync_to_async
from workflows import engine as wf
from workflows.engine.replay import RecordingPorts

if TYPE_CHECKING:
    from apps.runners.workflow_app import PreparedRun


def replay_recording_for(prepared: PreparedRun, ports: wf.Ports) -> RecordingPorts | None:
    """The recording wrapper when the app or the request asked for a replay log, else None (no cost)."""
    request = prepared.request
    if not (request.app.replay_log_enabled or getattr(request, "replay_log", False)):
        return None
    secrets = [
        str(item.get("value"))
        for item in prepared.environment
        if item.get("value_type") == "secret" and item.get("value")
    ]
    return RecordingPorts(ports, secrets=secrets)


def json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.to_dict() if hasattr(v, "to_dict") else str(v)))


async def replay_log_save(prepared: PreparedRun, recording: RecordingPorts) -> None:
    """Store the run's log (after its rows: the run row exists when the log is read back)."""
    system = {k: v for k, v in prepared.system.items() if k != "files"}
    row = RunReplayLog(
        tenant_id=prepared.rows.tenant_id,
        app_id=prepared.rows.app_id,
        workflow_run_id=prepared.identity.workflow_run_id,
        workflow_id=prepared.rows.workflow_id,
        inputs=json_safe(prepared.rows.inputs),
        system=json_safe(system),
        conversation=json_safe(prepared.conversation_vars),
        log=recording.log.to_dict(),
    )
    await db_sync_to_async(row.save)()
