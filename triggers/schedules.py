"""Cron arithmetic of schedule triggers (croniter), and the beat crontab that wakes them.

croniter is the authority on when a schedule fires. Celery's crontab cannot say everything cron can
(``L``, ``?``, Sunday as 7, cron's "day of month OR day of week" when both are set), so the beat entry
may be wider than the schedule: each wake-up asks ``due_slot`` whether a fire time has just passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from croniter import croniter

CRONTAB_KEYS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _expanded(expression: str) -> str:
    expression = expression.strip()
    return NICKNAMES.get(expression.lower(), expression)


def cron_check(expression: str, timezone: str) -> None:
    """Raise ValueError naming the problem when croniter or the time zone refuses the schedule."""
    if len(_expanded(expression).split()) != 5 or not croniter.is_valid(_expanded(expression)):
        raise ValueError(f"cron expression {expression!r} is not valid")
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError):
        raise ValueError(f"time zone {timezone!r} is not known") from None


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    return croniter(_expanded(expression), local).get_next(datetime).astimezone(UTC)


def due_slot(expression: str, timezone: str, now: datetime, *, grace: timedelta) -> datetime | None:
    """The fire time a wake-up at ``now`` stands for: the latest one at or before ``now``, if it is at
    most ``grace`` old (a late worker still runs it; a wider beat entry's extra wake-ups do not)."""
    local = (now + timedelta(seconds=1)).astimezone(ZoneInfo(timezone))
    slot = croniter(_expanded(expression), local).get_prev(datetime).astimezone(UTC)
    return slot if timedelta(0) <= now - slot <= grace else None


def beat_crontab(expression: str) -> dict[str, str]:
    """CrontabSchedule fields that fire at least whenever ``expression`` does."""
    fields = dict(zip(CRONTAB_KEYS, _expanded(expression).split(), strict=True))
    if fields["day_of_month"] not in ("*", "?") and fields["day_of_week"] not in ("*", "?"):
        # cron fires when either matches; Celery only when both do.
        fields["day_of_month"] = fields["day_of_week"] = "*"
    for key, value in fields.items():
        try:
            crontab(**{key: value})
        except ValueError:
            fields[key] = "*"
    return fields
