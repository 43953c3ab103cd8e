"""Per-app daily statistics, as Dify's ``/statistics/*`` and ``/workflow/statistics/*`` endpoints give them.

Days are calendar days in the account's time zone; ``start``/``end`` (``YYYY-MM-DD HH:MM``, in that time
zone) bound ``created_at`` (start inclusive, end exclusive). Debugger traffic is excluded, as in Dify, and
workflow statistics count published runs (``triggered_from = app-run``). Everything is aggregated by the
database with the ORM (``TruncDate`` with the time zone), so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Avg, Count, F, FloatField, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from apps.models import App, Conversation, InvokeFrom, Message
from dify_project.api.errors import InvalidParam
from workflows.models import TriggeredFrom, WorkflowRun

TIME_FORMAT = "%Y-%m-%d %H:%M"


def account_timezone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time_range(
    start: str | None, end: str | None, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """Dify's ``parse_time_range``: local ``YYYY-MM-DD HH:MM`` strings to aware datetimes."""

    def parse(value: str | None, name: str) -> datetime | None:
        if not value:
            return None
        try:
            return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=tz)
        except ValueError:
            raise InvalidParam(f"{name}: must be a date and time as YYYY-MM-DD HH:MM.", params=name) from None

    start_at, end_at = parse(start, "start"), parse(end, "end")
    if start_at and end_at and start_at > end_at:
        raise InvalidParam("start: must not be after end.", params="start")
    return start_at, end_at


def _window(
    queryset: QuerySet, start: datetime | None, end: datetime | None, field: str = "created_at"
) -> QuerySet:
    if start:
        queryset = queryset.filter(**{f"{field}__gte": start})
    if end:
        queryset = queryset.filter(**{f"{field}__lt": end})
    return queryset


def _messages(app: App, start: datetime | None, end: datetime | None, tz: tzinfo) -> QuerySet:
    messages = Message.objects.filter(app=app, tenant_id=app.tenant_id).exclude(
        invoke_from=InvokeFrom.DEBUGGER
    )
    return _window(messages, start, end).annotate(date=TruncDate("created_at", tzinfo=tz)).values("date")


def _day(value: Any) -> str:
    return str(value)


def daily_messages(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _messages(app, start, end, tz).annotate(message_count=Count("id")).order_by("date")
    return [{"date": _day(r["date"]), "message_count": r["message_count"]} for r in rows]


def daily_conversations(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _messages(app, start, end, tz).annotate(n=Count("conversation_id", distinct=True)).order_by("date")
    return [{"date": _day(r["date"]), "conversation_count": r["n"]} for r in rows]


def daily_end_users(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = (
        _messages(app, start, end, tz).annotate(n=Count("from_end_user_id", distinct=True)).order_by("date")
    )
    return [{"date": _day(r["date"]), "terminal_count": r["n"]} for r in rows]


def token_costs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = (
        _messages(app, start, end, tz)
        .annotate(
            token_count=Coalesce(Sum("message_tokens"), 0) + Coalesce(Sum("answer_tokens"), 0),
            total_price=Sum("total_price"),
        )
        .order_by("date")
    )
    return [
        {
            "date": _day(r["date"]),
            "token_count": int(r["token_count"] or 0),
            "total_price": str((r["total_price"] or Decimal(0)).normalize()),
            "currency": "USD",
        }
        for r in rows
    ]


def average_session_interactions(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """Average number of messages per conversation, by the day the conversation started."""
    per_conversation = (
        Message.objects.filter(conversation_id=OuterRef("id"))
        .exclude(invoke_from=InvokeFrom.DEBUGGER)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    conversations = _window(Conversation.objects.filter(app=app, tenant_id=app.tenant_id), start, end)
    rows = (
        conversations.annotate(n=Subquery(per_conversation, output_field=IntegerField()))
        .filter(n__gt=0)
        .annotate(date=TruncDate("created_at", tzinfo=tz))
        .values("date")
        .annotate(interactions=Avg(F("n"), output_field=FloatField()))
        .order_by("date")
    )
    return [{"date": _day(r["date"]), "interactions": round(float(r["interactions"]), 2)} for r in rows]


def user_satisfaction_rate(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """Likes per thousand messages, per day (Dify's ``rate``)."""
    rows = (
        _messages(app, start, end, tz)
        .annotate(
            message_count=Count("id", distinct=True),
            feedback_count=Count("feedbacks", filter=Q(feedbacks__rating="like")),
        )
        .order_by("date")
    )
    return [
        {
            "date": _day(r["date"]),
            "rate": round(r["feedback_count"] * 1000 / r["message_count"], 2) if r["message_count"] else 0,
        }
        for r in rows
    ]


def average_response_time(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _messages(app, start, end, tz).annotate(latency=Avg("provider_response_latency")).order_by("date")
    return [{"date": _day(r["date"]), "latency": round((r["latency"] or 0) * 1000, 4)} for r in rows]


def tokens_per_second(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = (
        _messages(app, start, end, tz)
        .annotate(tokens=Sum("answer_tokens"), seconds=Sum("provider_response_latency"))
        .order_by("date")
    )
    return [
        {"date": _day(r["date"]), "tps": round((r["tokens"] or 0) / r["seconds"], 4) if r["seconds"] else 0}
        for r in rows
    ]


# --- workflow apps ---------------------------------------------------------------------------------------


def _runs(app: App, start: datetime | None, end: datetime | None, tz: tzinfo) -> QuerySet:
    runs = WorkflowRun.objects.filter(
        tenant_id=app.tenant_id, app_id=app.id, triggered_from=TriggeredFrom.APP_RUN
    )
    return _window(runs, start, end).annotate(date=TruncDate("created_at", tzinfo=tz)).values("date")


def workflow_daily_runs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _runs(app, start, end, tz).annotate(runs=Count("id")).order_by("date")
    return [{"date": _day(r["date"]), "runs": r["runs"]} for r in rows]


def workflow_daily_terminals(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _runs(app, start, end, tz).annotate(n=Count("created_by", distinct=True)).order_by("date")
    return [{"date": _day(r["date"]), "terminal_count": r["n"]} for r in rows]


def workflow_token_costs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    rows = _runs(app, start, end, tz).annotate(token_count=Sum("total_tokens")).order_by("date")
    return [{"date": _day(r["date"]), "token_count": int(r["token_count"] or 0)} for r in rows]


def workflow_average_interactions(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """Average runs per user per day: the database counts runs per (day, user), the average is per day."""
    per_user = (
        _runs(app, start, end, tz).values("date", "created_by").annotate(n=Count("id")).order_by("date")
    )
    totals: dict[Any, list[int]] = defaultdict(list)
    for row in per_user:
        totals[row["date"]].append(row["n"])
    return [
        {"date": _day(day), "interactions": round(sum(counts) / len(counts), 2)}
        for day, counts in sorted(totals.items())
    ]
