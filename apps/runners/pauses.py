"""Storing a human-input pause: the engine's paused state and one form (with its token) per waiting node."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.tokens import new_opaque_token
from dify_project.db import db_sync_to_async
from workflows import engine as wf
from workflows.models import HumanInputForm, WorkflowPause

if TYPE_CHECKING:  # the run being paused; its module imports this one
    from apps.runners.workflow_app import PreparedRun


def _form_timeout() -> timedelta:
    return timedelta(seconds=getattr(settings, "HUMAN_INPUT_GLOBAL_TIMEOUT_SECONDS", 604800))


async def record_pause(*, prepared: PreparedRun, final: wf.RunPaused) -> dict[str, Any]:
    """Store the engine state and one form per waiting node; return the events and ``workflow_paused`` data."""
    forms = await db_sync_to_async(_store)(prepared, final)
    identity = prepared.identity
    events = []
    reasons = []
    for reason, token, form in forms:
        required = {
            "form_id": str(form.id),
            "form_token": token,
            "node_id": reason.get("node_id"),
            "node_title": reason.get("node_title"),
            "form_content": reason.get("form_content", ""),
            "inputs": reason.get("inputs", []),
            "actions": reason.get("actions", []),
            "display_in_ui": True,
            "resolved_default_values": {},
            "expiration_time": int(form.expires_at.timestamp()),
        }
        events.append({**identity.envelope("human_input_required"), "data": required})
        reasons.append({"TYPE": "human_input_required", **required})
    data = {
        "workflow_run_id": identity.workflow_run_id,
        "paused_nodes": [reason.get("node_id") for reason, _, _ in forms],
        "outputs": final.outputs,
        "reasons": reasons,
        "status": "paused",
        "created_at": identity.created_at,
        "elapsed_time": round(time.time() - identity.created_at, 6),
        "total_tokens": 0,
        "total_steps": 0,
    }
    return {"events": events, "data": data}


def _store(prepared: PreparedRun, final: wf.RunPaused) -> list[tuple[dict[str, Any], str, HumanInputForm]]:
    identity = prepared.identity
    created = []
    with transaction.atomic():
        pause, _ = WorkflowPause.objects.update_or_create(
            workflow_run_id=identity.workflow_run_id,
            defaults={
                "tenant_id": prepared.rows.tenant_id,
                "state": final.state,
                "reasons": final.reasons,
                "resumed_at": None,
            },
        )
        for reason in final.reasons:
            token, digest = new_opaque_token()
            form = HumanInputForm.objects.create(
                tenant_id=prepared.rows.tenant_id,
                pause=pause,
                node_id=str(reason.get("node_id")),
                token_hash=digest,
                definition=reason,
                expires_at=timezone.now() + _form_timeout(),
            )
            created.append((reason, token, form))
    return created
