"""The maintenance schedule as django-celery-beat PeriodicTasks, from settings.

``periodic_tasks_setup`` is idempotent: it creates each task once and afterwards changes a row only when
its setting changed (the settings a row was made from are kept in its description), so an operator's
edit in the admin (another time, disabling a task) stays until the setting itself is changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

MANAGED_MARK = "managed by setup_periodic_tasks; settings: "


@dataclass(frozen=True)
class Scheduled:
    name: str
    task: str
    enabled: bool
    crontab: str
    about: str

    def signature(self) -> str:
        return json.dumps(
            {"task": self.task, "enabled": self.enabled, "crontab": self.crontab}, sort_keys=True
        )


def scheduled_tasks() -> list[Scheduled]:
    return [
        Scheduled(
            "maintenance: history retention",
            "operations.purge_history",
            settings.RETENTION_ENABLED,
            settings.RETENTION_SCHEDULE,
            f"Delete runs, node executions, app logs, messages and conversations older than "
            f"{settings.RETENTION_DAYS} days (per-workspace override: custom_config.retention_days).",
        ),
        Scheduled(
            "maintenance: orphaned files",
            "operations.clean_orphan_files",
            settings.ORPHAN_FILES_CLEANUP_ENABLED,
            settings.ORPHAN_FILES_SCHEDULE,
            "Delete upload and tool files whose owner is gone.",
        ),
        Scheduled(
            "maintenance: stuck documents",
            "operations.recover_stuck_documents",
            settings.STUCK_DOCUMENTS_RECOVERY_ENABLED,
            settings.STUCK_DOCUMENTS_SCHEDULE,
            "Queue again (or fail with a reason) documents with no indexing progress.",
        ),
        Scheduled(
            "maintenance: run expiry",
            "operations.expire_runs",
            settings.RUN_EXPIRY_ENABLED,
            settings.RUN_EXPIRY_SCHEDULE,
            "Fail expired human-input pauses and abandoned runs; expire stale run event streams.",
        ),
        Scheduled(
            "maintenance: usage roll-up",
            "operations.roll_up_usage",
            settings.USAGE_ROLLUP_ENABLED,
            settings.USAGE_ROLLUP_SCHEDULE,
            "Roll up each app's daily usage (messages, runs, tokens, cost, end users) for the statistics.",
        ),
    ]


def parse_crontab(expression: str) -> dict[str, str]:
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"crontab {expression!r} needs 5 fields: minute hour day-of-month month day-of-week")
    keys = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    return dict(zip(keys, fields, strict=True))


@transaction.atomic
def periodic_tasks_setup(*, force: bool = False) -> dict[str, str]:
    """Create or update the maintenance PeriodicTasks; ``force`` re-applies settings over admin edits.
    Returns ``{name: "created" | "updated" | "unchanged"}``."""
    outcome = {}
    for item in scheduled_tasks():
        crontab, _ = CrontabSchedule.objects.get_or_create(
            **parse_crontab(item.crontab), timezone=settings.CELERY_TIMEZONE
        )
        description = f"{item.about}\n\n{MANAGED_MARK}{item.signature()}"
        row = PeriodicTask.objects.filter(name=item.name).first()
        if row is None:
            PeriodicTask.objects.create(
                name=item.name,
                task=item.task,
                crontab=crontab,
                enabled=item.enabled,
                description=description,
            )
            outcome[item.name] = "created"
            continue
        if not force and row.description.endswith(MANAGED_MARK + item.signature()):
            outcome[item.name] = "unchanged"
            continue
        row.task, row.crontab, row.interval, row.enabled = item.task, crontab, None, item.enabled
        row.description = description
        row.save()
        outcome[item.name] = "updated"
    return outcome
