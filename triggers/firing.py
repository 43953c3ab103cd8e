"""A schedule root firing: what the beat task (``triggers.fire_schedule``) does each time beat wakes it.

Safe to deliver twice (two beat processes, a retried message): the fire time is claimed with a
conditional UPDATE under a named lock, so only one delivery per fire time starts a run.
"""

from __future__ import annotations

import logging
from datetime import datetime

from asgiref.sync import async_to_sync
from django.db.models import Q
from django.utils import timezone

from accounts.models import TenantAccountJoin, TenantRole
from dify_project.locks import named_lock
from triggers import schedules
from triggers.models import AppTrigger, SchedulePlan, TriggerStatus
from triggers.runs import run_here, trigger_run_request
from triggers.services import fire_grace, trigger_roots

logger = logging.getLogger(__name__)


def _run_as(tenant_id: object) -> str | None:
    """Scheduled runs act for the workspace's owner (an admin when it has none), as in Dify."""
    for role in (TenantRole.OWNER, TenantRole.ADMIN):
        join = TenantAccountJoin.objects.filter(tenant_id=tenant_id, role=role).order_by("created_at").first()
        if join is not None:
            return str(join.account_id)
    return None


def schedule_fire(*, plan_id: str, now: datetime | None = None) -> str:
    """Run the plan's workflow if a fire time has just passed and nobody ran it yet.

    Returns what happened: ``ran``, ``not_due``, ``taken`` (another delivery claimed this fire time),
    ``busy`` (another delivery is claiming it right now), ``disabled`` or ``gone`` (no plan, app not
    published, or the schedule root no longer in the published version).
    """
    now = now or timezone.now()
    plan = SchedulePlan.objects.select_related("app", "app__workflow").filter(id=plan_id).first()
    if plan is None or plan.app.workflow is None:
        return "gone"
    app, workflow = plan.app, plan.app.workflow
    if plan.node_id not in trigger_roots(workflow):
        return "gone"
    if AppTrigger.objects.filter(app=app, node_id=plan.node_id, status=TriggerStatus.DISABLED).exists():
        return "disabled"
    slot = schedules.due_slot(plan.cron_expression, plan.timezone, now, grace=fire_grace())
    if slot is None:
        return "not_due"
    with named_lock(f"trigger-schedule-{plan.id}", timeout=60) as held:
        if not held:
            return "busy"
        claimed = (
            SchedulePlan.objects.filter(id=plan.id)
            .filter(Q(last_fired_at__isnull=True) | Q(last_fired_at__lt=slot))
            .update(
                last_fired_at=slot,
                next_run_at=schedules.next_fire(plan.cron_expression, plan.timezone, now),
            )
        )
    if not claimed:
        return "taken"
    request = trigger_run_request(
        app=app,
        workflow=workflow,
        root_node_id=plan.node_id,
        triggered_from="schedule",
        inputs={},
        account_id=_run_as(app.tenant_id),
    )
    ids, result = async_to_sync(run_here)(request)
    logger.info("schedule %s fired for %s: run %s %s", plan.id, slot.isoformat(), ids.run_id, result.status)
    return "ran"
