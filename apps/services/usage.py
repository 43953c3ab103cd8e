"""Daily usage roll-ups: per app, per calendar day of a time zone, the figures the statistics endpoints
show (messages, conversations, end users, tokens, cost, latency; published runs, their users and tokens).

A workspace is rolled up once per time zone its members use (plus UTC), because the statistics are days
of the reader's time zone and a day of one zone is not a sum of days of another. Each pass recomputes the
last ``lookback_days`` closed days (late writes: a stream that ended after midnight, tokens filled in at
the end) up to yesterday, and moves the workspace's watermark; the first pass starts at the oldest row.
Rows older than the retention window stay, so statistics outlive the history they were made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone as dj_timezone

from accounts.models import TenantAccountJoin
from apps.models import AppDailyUsage, DailyUsageWatermark, InvokeFrom, Message
from workflows.models import TriggeredFrom, WorkflowRun

ROLLUP_FIELDS = (
    "message_count",
    "conversation_count",
    "end_user_count",
    "message_tokens",
    "answer_tokens",
    "total_price",
    "latency_sum",
    "run_count",
    "run_user_count",
    "run_tokens",
)


def midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def usage_timezones(*, tenant_id: UUID) -> list[str]:
    """UTC and every valid time zone of the workspace's members, sorted."""
    names = {"UTC"}
    for name in TenantAccountJoin.objects.filter(tenant_id=tenant_id).values_list(
        "account__timezone", flat=True
    ):
        try:
            names.add(ZoneInfo(name).key if name else "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return sorted(names)


def _messages(tenant_id: UUID) -> Any:
    return Message.objects.filter(tenant_id=tenant_id).exclude(invoke_from=InvokeFrom.DEBUGGER)


def _runs(tenant_id: UUID) -> Any:
    return WorkflowRun.objects.filter(tenant_id=tenant_id, triggered_from=TriggeredFrom.APP_RUN)


def _oldest_day(tenant_id: UUID, tz: tzinfo) -> date | None:
    oldest = [qs.aggregate(at=Min("created_at"))["at"] for qs in (_messages(tenant_id), _runs(tenant_id))]
    found = [at for at in oldest if at is not None]
    return min(found).astimezone(tz).date() if found else None


def daily_usage_roll_up(
    *, tenant_id: UUID, tz_name: str, lookback_days: int = 2, now: datetime | None = None
) -> int:
    """Recompute the closed days since the watermark (minus ``lookback_days``) for every app of the
    workspace and move the watermark to yesterday. Idempotent; returns the number of days recomputed."""
    tz = ZoneInfo(tz_name)
    yesterday = (now or dj_timezone.now()).astimezone(tz).date() - timedelta(days=1)
    mark = DailyUsageWatermark.objects.filter(tenant_id=tenant_id, timezone=tz_name).first()
    if mark is not None:
        first = mark.through_day + timedelta(days=1) - timedelta(days=max(lookback_days, 0))
    else:
        first = _oldest_day(tenant_id, tz) or yesterday + timedelta(days=1)
    first = min(first, yesterday + timedelta(days=1))
    window = Q(created_at__gte=midnight(first, tz), created_at__lt=midnight(yesterday + timedelta(1), tz))
    rows: dict[tuple[UUID, date], dict[str, Any]] = {}
    if first <= yesterday:
        messages = (
            _messages(tenant_id)
            .filter(window)
            .annotate(date=TruncDate("created_at", tzinfo=tz))
            .values("app_id", "date")
            .annotate(
                message_count=Count("id"),
                conversation_count=Count("conversation_id", distinct=True),
                end_user_count=Count("from_end_user_id", distinct=True),
                message_tokens=Coalesce(Sum("message_tokens"), 0),
                answer_tokens=Coalesce(Sum("answer_tokens"), 0),
                total_price=Sum("total_price"),
                latency_sum=Sum("provider_response_latency"),
            )
            .order_by()
        )
        runs = (
            _runs(tenant_id)
            .filter(window)
            .annotate(date=TruncDate("created_at", tzinfo=tz))
            .values("app_id", "date")
            .annotate(
                run_count=Count("id"),
                run_user_count=Count("created_by", distinct=True),
                run_tokens=Coalesce(Sum("total_tokens"), 0),
            )
            .order_by()
        )
        for group in (*messages, *runs):
            figures = rows.setdefault((group.pop("app_id"), group.pop("date")), {})
            figures.update({key: value for key, value in group.items() if value is not None})
    with transaction.atomic():
        AppDailyUsage.objects.filter(tenant_id=tenant_id, timezone=tz_name, day__gte=first).delete()
        AppDailyUsage.objects.bulk_create(
            [
                AppDailyUsage(tenant_id=tenant_id, app_id=app_id, timezone=tz_name, day=day, **figures)
                for (app_id, day), figures in rows.items()
            ],
            batch_size=500,
        )
        DailyUsageWatermark.objects.update_or_create(
            tenant_id=tenant_id, timezone=tz_name, defaults={"through_day": yesterday}
        )
    return max((yesterday - first).days + 1, 0)


# --- reading: which days come from roll-ups, which from raw rows -------------------------------------------


@dataclass(frozen=True)
class UsagePlan:
    """The days of a statistics window served by roll-ups, and the raw-row windows for the rest."""

    rolled: list[AppDailyUsage]
    raw: Q | None  # a filter on created_at; None: no raw rows needed


def span(start: datetime | None, end: datetime | None) -> Q:
    q = Q()
    if start is not None:
        q &= Q(created_at__gte=start)
    if end is not None:
        q &= Q(created_at__lt=end)
    return q


def usage_plan(*, app: Any, start: datetime | None, end: datetime | None, tz: tzinfo) -> UsagePlan:
    """Whole days inside ``[start, end)`` that are at or before the workspace's watermark for ``tz`` come
    from roll-ups; the rest of the window (today, partial first and last days, days never rolled up)
    from raw rows. A day is never served by both, so distinct counts stay exact."""
    key = getattr(tz, "key", None)
    mark = DailyUsageWatermark.objects.filter(tenant_id=app.tenant_id, timezone=key).first() if key else None
    if mark is None:
        return UsagePlan(rolled=[], raw=span(start, end))
    first: date | None = None
    if start is not None:
        local = start.astimezone(tz)
        first = local.date() if midnight(local.date(), tz) == local else local.date() + timedelta(1)
    last = mark.through_day
    if end is not None:
        last = min(last, end.astimezone(tz).date() - timedelta(1))
    if first is not None and first > last:
        return UsagePlan(rolled=[], raw=span(start, end))
    rolled = AppDailyUsage.objects.filter(app=app, tenant_id=app.tenant_id, timezone=key, day__lte=last)
    if first is not None:
        rolled = rolled.filter(day__gte=first)
    covered_from = midnight(first, tz) if first is not None else None
    covered_to = midnight(last + timedelta(1), tz)
    raw: Q | None = None
    if start is not None and covered_from is not None and start < covered_from:
        raw = span(start, covered_from)
    if end is None or covered_to < end:
        after = span(covered_to, end)
        raw = after if raw is None else raw | after
    return UsagePlan(rolled=list(rolled.order_by("day")), raw=raw)
