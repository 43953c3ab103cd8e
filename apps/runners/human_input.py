"""Human-input forms: reading and submitting them, and rebuilding the paused run to resume it.
(`pauses` stores a pause and its forms when a run stops at a human-input node.)"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.tokens import hash_token
from apps.runners.workflow_app import PreparedRun, WorkflowRunRequest, environment_of, graph_for
from dify_project.api.errors import ApiError, NotFound
from workflows.models import HumanInputForm, WorkflowPause


class FormSubmitted(ApiError):
    code = "human_input_form_submitted"
    status = 412
    message = "The form has already been submitted."


class FormExpired(ApiError):
    code = "human_input_form_expired"
    status = 412
    message = "The form has expired."


def form_get(*, token: str) -> HumanInputForm:
    form = (
        HumanInputForm.objects.select_related("pause__workflow_run")
        .filter(token_hash=hash_token(token))
        .first()
    )
    if form is None:
        raise NotFound("Form not found.")
    if form.submitted_at is not None:
        raise FormSubmitted()
    if form.expires_at <= timezone.now():
        raise FormExpired()
    return form


def form_submit(*, token: str, action: str, inputs: dict[str, Any]) -> HumanInputForm:
    """Mark the form submitted (once). The caller resumes the run."""
    with transaction.atomic():
        form = HumanInputForm.objects.select_for_update().filter(token_hash=hash_token(token)).first()
        if form is None:
            raise NotFound("Form not found.")
        if form.submitted_at is not None:
            raise FormSubmitted()
        if form.expires_at <= timezone.now():
            raise FormExpired()
        actions = {a.get("id") for a in form.definition.get("actions", [])}
        if actions and action not in actions:
            raise ApiError(f"Unknown action {action!r}.", code="invalid_param")
        form.submitted_at = timezone.now()
        form.action = action
        form.submitted_inputs = inputs
        form.save(update_fields=["submitted_at", "action", "submitted_inputs", "updated_at"])
    return form


def prepare_resume(*, form: HumanInputForm, app_id: str) -> PreparedRun:
    """Rebuild a paused run for ``Engine.resume`` with every form of its pause submitted so far."""
    from apps.models import App, EndUser, Message
    from apps.runs.ids import RunIds
    from apps.runs.recorder import RunRows
    from apps.runs.wire import RunIdentity
    from workflows.models import Workflow

    pause = form.pause
    run = pause.workflow_run
    if str(run.app_id) != str(app_id):
        raise NotFound("Form not found.")
    app = App.objects.select_related("tenant").get(id=run.app_id, tenant_id=run.tenant_id)
    workflow = Workflow.objects.get(id=run.workflow_id)
    submissions = {
        f.node_id: {"action": f.action, "inputs": f.submitted_inputs or {}}
        for f in pause.forms.filter(submitted_at__isnull=False)
    }
    message = Message.objects.filter(workflow_run_id=run.id).first()
    end_user = (
        EndUser.objects.filter(id=run.created_by).first() if run.created_by_role == "end_user" else None
    )
    user_key = end_user.session_id if end_user else str(run.created_by)
    ids = RunIds()
    identity = RunIdentity(
        task_id=ids.task_id,
        app_mode=app.mode,
        workflow_id=str(workflow.id),
        workflow_run_id=str(run.id),
        created_at=int(run.created_at.timestamp()),
        created_by={"id": str(run.created_by), "user": user_key} if end_user else {"id": str(run.created_by)},
        inputs=run.inputs,
        conversation_id=str(message.conversation_id) if message else None,
        message_id=str(message.id) if message else None,
    )
    rows = RunRows(
        tenant_id=str(run.tenant_id),
        app_id=str(app.id),
        workflow_id=str(workflow.id),
        workflow_type=workflow.type,
        workflow_version=workflow.version,
        triggered_from=run.triggered_from,
        run_id=str(run.id),
        inputs=run.inputs,
        created_by_role=run.created_by_role,
        created_by=str(run.created_by),
        log_created_from=None if run.triggered_from == "debugging" or message else "service-api",
        conversation_id=identity.conversation_id,
        message=message,
        existing=True,
    )
    definition = form.definition or {}
    action_text = next(
        (a.get("title", "") for a in definition.get("actions", []) if a.get("id") == form.action), ""
    )
    filled = {
        **identity.envelope("human_input_form_filled"),
        "data": {
            "node_id": form.node_id,
            "node_title": definition.get("node_title", ""),
            "rendered_content": definition.get("form_content", ""),
            "action_id": form.action,
            "action_text": action_text,
        },
    }
    WorkflowPause.objects.filter(id=pause.id).update(resumed_at=timezone.now())
    request = WorkflowRunRequest(
        app=app, inputs=run.inputs, invoke_from="service-api", end_user=end_user, auto_generate_name=False
    )
    return PreparedRun(
        request=request,
        workflow=workflow,
        graph=graph_for(workflow),
        identity=identity,
        rows=rows,
        system={},
        inputs={},
        environment=environment_of(workflow),
        conversation_vars=[],
        user_key=user_key,
        resume_state=pause.state,
        human_input=submissions,
        opening_events=[filled],
    )


def form_definition(form: HumanInputForm) -> dict[str, Any]:
    """The Service API's view of a waiting form."""
    definition = form.definition or {}
    return {
        "form_content": definition.get("form_content", ""),
        "inputs": definition.get("inputs", []),
        "resolved_default_values": {},
        "user_actions": definition.get("actions", []),
        "expiration_time": int(form.expires_at.timestamp()),
    }
