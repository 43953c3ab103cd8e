"""A call to ``/triggers/webhook/{webhook_id}``: from the HTTP request to a run of the published workflow.

Checks, in order (each refusal in Dify's error body): the webhook exists, its node is a webhook root of
the app's published version and its trigger is enabled (404); the per-webhook rate
(``WEBHOOK_RATE_LIMIT_PER_MINUTE``, 429); the body size (413); the signature when the webhook has a
signing secret (401); then the node's own checks: method (405), content type (415), required headers,
query parameters and body fields and their types (400). The request becomes Dify's ``webhook_data``
input of the webhook root, which maps it to the root's variables.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from apps.models import App, EndUser
from apps.runners.files import build_files
from apps.runs.ids import RunIds
from apps.runs.payloads import RunResult, WorkflowRunRequest
from apps.services.end_users import end_user_get_or_create
from dify_project import crypto, ratelimit
from dify_project.api.errors import ApiError, NotFound, TooManyRequests, Unauthorized
from files.services import file_upload
from triggers.models import AppTrigger, TriggerStatus, WebhookTrigger
from triggers.runs import run_and_wait, run_enqueue, trigger_run_request
from triggers.services import trigger_roots
from workflows.engine.nodes.triggers import (
    BINARY,
    FORM_DATA,
    FORM_URLENCODED,
    JSON,
    TriggerWebhookNode,
    WebhookRequestError,
    media_type,
)
from workflows.models import Workflow

SIGNATURE_HEADER = "X-Webhook-Signature"
END_USER_TYPE = "trigger"


@dataclass
class WebhookCall:
    """The parts of an HTTP request a webhook reads (the view fills it in; Django parses forms)."""

    method: str
    content_type: str | None
    headers: dict[str, str]
    query: dict[str, str]
    raw: bytes
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, Any] = field(default_factory=dict)  # field name -> Django UploadedFile


@dataclass
class WebhookTarget:
    trigger: WebhookTrigger
    app: App
    workflow: Workflow
    node: TriggerWebhookNode


@dataclass
class WebhookAnswer:
    """What to answer: at once (``body`` set), or after the run (``run`` set: sync mode)."""

    status: int
    body: Any = None
    run: WorkflowRunRequest | None = None
    timeout: float = 30.0
    configured: tuple[int, Any] | None = None  # sync mode with a response_body: answered after the run


def webhook_target(*, webhook_id: str) -> WebhookTarget:
    trigger = (
        WebhookTrigger.objects.select_related("app", "app__workflow").filter(webhook_id=webhook_id).first()
    )
    if trigger is None or trigger.app.workflow is None:
        raise NotFound("Webhook not found.")
    node = trigger_roots(trigger.app.workflow).get(trigger.node_id)
    if not isinstance(node, TriggerWebhookNode):
        raise NotFound("Webhook not found.")
    if AppTrigger.objects.filter(
        app=trigger.app, node_id=trigger.node_id, status=TriggerStatus.DISABLED
    ).exists():
        raise NotFound("Webhook trigger is disabled.")
    return WebhookTarget(trigger=trigger, app=trigger.app, workflow=trigger.app.workflow, node=node)


def webhook_rate_check(*, webhook_id: str) -> None:
    decision = ratelimit.hit(f"webhook:{webhook_id}", limit=settings.WEBHOOK_RATE_LIMIT_PER_MINUTE)
    if not decision.allowed:
        error = TooManyRequests()
        error.retry_after = decision.retry_after
        raise error


def webhook_signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_signature_check(*, trigger: WebhookTrigger, raw: bytes, header: str | None) -> None:
    if not trigger.signing_secret:
        return
    expected = webhook_signature(crypto.decrypt(trigger.signing_secret), raw)
    if not header or not hmac.compare_digest(header.strip(), expected):
        raise Unauthorized(f"Invalid or missing {SIGNATURE_HEADER}.", code="invalid_signature")


def _refuse(exc: WebhookRequestError) -> ApiError:
    codes = {405: "method_not_allowed", 415: "unsupported_media_type"}
    params = {"params": exc.variable} if exc.variable else {}
    return ApiError(str(exc), code=codes.get(exc.status, "invalid_param"), status=exc.status, **params)


def _stored_file(*, app: App, end_user: EndUser, content: bytes, name: str, mime: str | None) -> dict:
    upload = file_upload(
        tenant=app.tenant,
        content=io.BytesIO(content),
        filename=name,
        size=len(content),
        mime_type=mime,
        created_by_role="end_user",
        created_by=end_user.id,
    )
    return build_files(
        [{"transfer_method": "local_file", "upload_file_id": str(upload.id)}], tenant_id=str(app.tenant_id)
    )[0]


def _parsed_body(target: WebhookTarget, call: WebhookCall, end_user: EndUser) -> tuple[dict, dict]:
    kind = media_type(call.content_type)
    if kind == JSON:
        if not call.raw.strip():
            return {}, {}
        try:
            body = json.loads(call.raw)
        except ValueError as exc:
            raise ApiError(f"Invalid JSON body: {exc}", code="invalid_param", status=400) from None
        if not isinstance(body, dict):
            raise ApiError("The JSON body must be an object.", code="invalid_param", status=400)
        return body, {}
    if kind in (FORM_URLENCODED, FORM_DATA):
        files = {
            name: _stored_file(
                app=target.app,
                end_user=end_user,
                content=upload.read(),
                name=upload.name,
                mime=upload.content_type,
            )
            for name, upload in call.files.items()
        }
        return dict(call.form), files
    if kind == BINARY:
        if not call.raw:
            return {"raw": None}, {}
        stored = _stored_file(
            app=target.app, end_user=end_user, content=call.raw, name="webhook-body.bin", mime=BINARY
        )
        return {"raw": stored}, {}
    return {"raw": call.raw.decode("utf-8", errors="replace")}, {}  # text/plain


def webhook_accept(*, webhook_id: str, call: WebhookCall) -> WebhookAnswer:
    """Check the call (raising Dify's errors) and either queue the run and answer at once (async mode)
    or hand back the run to wait for (sync mode)."""
    target = webhook_target(webhook_id=webhook_id)
    webhook_rate_check(webhook_id=webhook_id)
    if len(call.raw) > settings.WEBHOOK_REQUEST_BODY_MAX_SIZE:
        raise ApiError(
            f"Webhook request too large: more than {settings.WEBHOOK_REQUEST_BODY_MAX_SIZE} bytes.",
            code="request_entity_too_large",
            status=413,
        )
    webhook_signature_check(trigger=target.trigger, raw=call.raw, header=call.headers.get(SIGNATURE_HEADER))
    node = target.node
    received = media_type(call.content_type)
    try:
        # Method and content type first: the body is parsed only when it has the declared type.
        if call.method.lower() != node.method or received != node.content_type:
            node.prepare_request(
                method=call.method, content_type=call.content_type, headers={}, query={}, body={}
            )
        end_user = end_user_get_or_create(app=target.app, user=None, type=END_USER_TYPE)
        body, files = _parsed_body(target, call, end_user)
        data = node.prepare_request(
            method=call.method,
            content_type=call.content_type,
            headers=call.headers,
            query=call.query,
            body=body,
            files=files,
        )
    except WebhookRequestError as exc:
        raise _refuse(exc) from None
    request = trigger_run_request(
        app=target.app,
        workflow=target.workflow,
        root_node_id=target.trigger.node_id,
        triggered_from="webhook",
        inputs=webhook_inputs(data),
        end_user=end_user,
    )
    if node.async_mode:
        run_enqueue(request)
        status, answer = node.response()
        return WebhookAnswer(status=status, body=answer)
    return WebhookAnswer(
        status=node.status_code,
        run=request,
        timeout=float(node.timeout),
        configured=node.response() if node.response_body else None,
    )


def webhook_inputs(data: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs, as Dify's webhook service builds them."""
    return {
        "webhook_data": data,
        "webhook_headers": data.get("headers", {}),
        "webhook_query_params": data.get("query_params", {}),
        "webhook_body": data.get("body", {}),
    }


async def webhook_run(answer: WebhookAnswer) -> WebhookAnswer:
    """Sync mode: run and answer with the configured response, or the run's result without one. A run
    still going after the node's ``timeout`` answers 202 with its ids (it carries on)."""
    assert answer.run is not None
    ids, result = await run_and_wait(answer.run, wait=answer.timeout)
    if result is None:
        return WebhookAnswer(
            status=202,
            body={"task_id": ids.task_id, "workflow_run_id": ids.run_id, "data": {"status": "running"}},
        )
    if answer.configured is not None:
        return WebhookAnswer(status=answer.configured[0], body=answer.configured[1])
    return WebhookAnswer(status=answer.status, body=run_body(ids, result))


def run_body(ids: RunIds, result: RunResult) -> dict[str, Any]:
    """The Service API's blocking body of ``workflows/run``."""
    data = result.finished or {}
    keys = ("id", "workflow_id", "status", "outputs", "error", "elapsed_time", "total_tokens", "total_steps")
    body = {key: data.get(key) for key in keys}
    body.update(created_at=data.get("created_at"), finished_at=data.get("finished_at"))
    body["status"] = body["status"] or result.status
    return {"task_id": ids.task_id, "workflow_run_id": ids.run_id, "data": body}
