"""Keeping an app's trigger rows in step with its published version, and the console's trigger actions.

``app_triggers_sync`` runs whenever ``App.workflow`` changes (publish; see ``receivers``): one AppTrigger
per trigger root of the published graph, one SchedulePlan with its beat entry per schedule root, and the
rows of roots that are gone deleted (a SchedulePlan takes its PeriodicTask with it). It is idempotent.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from apps.models import App
from dify_project import crypto
from dify_project.api.errors import InvalidParam, NotFound
from triggers import schedules
from triggers.models import AppTrigger, SchedulePlan, TriggerStatus, TriggerType, WebhookTrigger
from workflows import engine as wf
from workflows import selectors as workflow_selectors
from workflows.engine.nodes.base import Node
from workflows.engine.nodes.triggers import TriggerScheduleNode
from workflows.models import Workflow

TRIGGER_TYPES = frozenset(TriggerType.values)
FIRE_TASK = "triggers.fire_schedule"
WEBHOOK_ID_LENGTH = 24
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def beat_task_name(plan: SchedulePlan) -> str:
    return f"trigger schedule: app {plan.app_id} node {plan.node_id}"


def trigger_roots(workflow: Workflow | None) -> dict[str, Node]:
    """The top-level trigger nodes of a workflow version, by id, in graph order."""
    if workflow is None:
        return {}
    # Parsed here, not through the runner's per-version cache: publishing must not fill it (a test or an
    # operator's fix that rewrites a version's graph in place would then run the stale parse).
    graph = wf.parse_graph(workflow.graph)
    return {
        node_id: node
        for node_id, node in graph.nodes.items()
        if node.scope == "" and node.type in TRIGGER_TYPES
    }


@transaction.atomic
def app_triggers_sync(*, app: App) -> None:
    """Match the app's trigger rows to its published version (none when unpublished). Raises InvalidParam
    for a schedule croniter or the time zone database refuses (the publish is then refused too)."""
    roots = trigger_roots(app.workflow) if app.workflow_id else {}
    AppTrigger.objects.filter(app=app).exclude(node_id__in=list(roots)).delete()
    existing = {row.node_id: row for row in AppTrigger.objects.filter(app=app)}
    for node_id, node in roots.items():
        row = existing.get(node_id)
        if row is None:
            AppTrigger.objects.create(
                tenant_id=app.tenant_id,
                app=app,
                node_id=node_id,
                trigger_type=node.type,
                title=node.title,
                provider_name=str(node.data.get("provider_name") or node.data.get("provider_id") or ""),
            )
        elif (row.trigger_type, row.title) != (node.type, node.title):
            row.trigger_type, row.title = node.type, node.title
            row.save(update_fields=["trigger_type", "title", "updated_at"])
    for node_id, node in roots.items():
        if node.type == TriggerType.WEBHOOK:
            webhook_trigger_ensure(app=app, node_id=node_id, account_id=app.updated_by)
    schedule_roots = {nid: n for nid, n in roots.items() if isinstance(n, TriggerScheduleNode)}
    for plan in SchedulePlan.objects.filter(app=app).exclude(node_id__in=list(schedule_roots)):
        plan.delete()  # its PeriodicTask goes with it (receivers)
    enabled = {row.node_id: row.status == TriggerStatus.ENABLED for row in AppTrigger.objects.filter(app=app)}
    for node_id, node in schedule_roots.items():
        _schedule_plan_sync(app=app, node_id=node_id, node=node, enabled=enabled.get(node_id, True))


def _schedule_plan_sync(*, app: App, node_id: str, node: TriggerScheduleNode, enabled: bool) -> None:
    expression, zone = node.cron_expression(), node.timezone
    try:
        schedules.cron_check(expression, zone)
    except ValueError as exc:
        raise InvalidParam(f"Schedule trigger '{node.title or node_id}': {exc}") from None
    plan = SchedulePlan.objects.filter(app=app, node_id=node_id).select_related("periodic_task").first()
    if plan is None:
        plan = SchedulePlan(tenant_id=app.tenant_id, app=app, node_id=node_id)
    changed = (plan.cron_expression, plan.timezone) != (expression, zone)
    plan.cron_expression, plan.timezone = expression, zone
    if changed or plan.next_run_at is None:
        plan.next_run_at = schedules.next_fire(expression, zone, timezone.now())
    plan.save()
    crontab, _ = CrontabSchedule.objects.get_or_create(**schedules.beat_crontab(expression), timezone=zone)
    task = plan.periodic_task
    if task is None:
        task = PeriodicTask.objects.filter(name=beat_task_name(plan)).first() or PeriodicTask(
            name=beat_task_name(plan)
        )
    task.task = FIRE_TASK
    task.crontab, task.interval = crontab, None
    task.args = json.dumps([str(plan.id)])
    task.queue = "workflow"
    task.enabled = enabled
    task.description = f"Runs the published workflow of app {app.id} from its schedule root {node_id}."
    task.save()
    if plan.periodic_task_id != task.id:
        plan.periodic_task = task
        plan.save(update_fields=["periodic_task", "updated_at"])


def schedule_plan_beat_delete(*, plan: SchedulePlan) -> None:
    """A deleted plan's beat entry goes too (beat would otherwise keep waking a task with no plan)."""
    if plan.periodic_task_id:
        PeriodicTask.objects.filter(id=plan.periodic_task_id).delete()


# -- webhooks ---------------------------------------------------------------------------------------


def webhook_trigger_ensure(*, app: App, node_id: str, account_id: Any = None) -> WebhookTrigger:
    """The URL row of a webhook node, made on first use (a random 24-character id, as Dify's)."""
    row = WebhookTrigger.objects.filter(app=app, node_id=node_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return WebhookTrigger.objects.create(
                tenant_id=app.tenant_id,
                app=app,
                node_id=node_id,
                webhook_id=secrets.token_urlsafe(18)[:WEBHOOK_ID_LENGTH],
                created_by=account_id,
            )
    except IntegrityError:  # a concurrent first request made it
        return WebhookTrigger.objects.get(app=app, node_id=node_id)


def webhook_trigger_for_node(*, app: App, node_id: str, account_id: Any) -> WebhookTrigger:
    """The console's webhook of a node of the draft or the published version (404 for any other node)."""
    draft = workflow_selectors.draft_get(tenant_id=app.tenant_id, app_id=app.id)
    for workflow in (draft, app.workflow):
        if workflow is None:
            continue
        node = next(
            (
                n
                for n in (workflow.graph or {}).get("nodes") or []
                if isinstance(n, dict) and n.get("id") == node_id
            ),
            None,
        )
        if node is not None and (node.get("data") or {}).get("type") == TriggerType.WEBHOOK:
            return webhook_trigger_ensure(app=app, node_id=node_id, account_id=account_id)
    raise NotFound("Webhook trigger not found for this node")


def webhook_secret_rotate(*, trigger: WebhookTrigger) -> str:
    """A new signing secret (returned once, stored encrypted): calls must then carry its signature."""
    secret = SIGNING_SECRET_PREFIX + secrets.token_urlsafe(32)
    trigger.signing_secret = crypto.encrypt(secret)
    trigger.save(update_fields=["signing_secret", "updated_at"])
    return secret


def webhook_secret_clear(*, trigger: WebhookTrigger) -> None:
    trigger.signing_secret = ""
    trigger.save(update_fields=["signing_secret", "updated_at"])


def app_trigger_set_enabled(*, app: App, trigger_id: Any, enabled: bool) -> AppTrigger:
    """Dify's trigger-enable: a disabled webhook answers 404, a disabled schedule's beat entry is off."""
    row = AppTrigger.objects.filter(app=app, tenant_id=app.tenant_id, id=trigger_id).first()
    if row is None:
        raise NotFound("Trigger not found")
    row.status = TriggerStatus.ENABLED if enabled else TriggerStatus.DISABLED
    row.save(update_fields=["status", "updated_at"])
    plan = SchedulePlan.objects.filter(app=app, node_id=row.node_id).first()
    task = plan.periodic_task if plan is not None else None
    if task is not None:
        task.enabled = enabled
        task.save()  # save(), not update(): beat notices changes through PeriodicTask's save hooks
    return row


def fire_grace() -> timedelta:
    return timedelta(seconds=settings.SCHEDULE_TRIGGER_GRACE_SECONDS)
