"""Celery tasks of triggers: ``fire_schedule``, which each schedule's beat entry sends (a thin interface
over ``firing.schedule_fire``, safe to deliver twice). Webhook runs in async mode go to ``apps.run_app``."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

logger = logging.getLogger(__name__)


# Sent to the `workflow` queue: its beat entry (services._schedule_plan_sync) names the queue.
@shared_task(name="triggers.fire_schedule", acks_late=False, ignore_result=True)
def fire_schedule(plan_id: str, now: str | None = None) -> str:
    """``now`` (ISO 8601): the wake-up time to judge by, for tests and replays; beat sends none."""
    from triggers.firing import schedule_fire

    outcome = schedule_fire(plan_id=plan_id, now=datetime.fromisoformat(now) if now else None)
    logger.info("schedule trigger %s: %s", plan_id, outcome)
    return outcome
