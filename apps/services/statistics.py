"""Per-app daily statistics, as Dify's ``/statistics/*`` and ``/workflow/statistics/*`` endpoints give them.

Days are calendar days in the account's time zone; ``start``/``end`` (``YYYY-MM-DD HH:MM``, in that time
zone) bound ``created_at`` (start inclusive, end exclusive). Debugger traffic is excluded, as in Dify, and
workflow statistics count published runs (``triggered_from = app-run``). Everything is aggregated by the
database with the ORM (``TruncDate`` with the time zone), so the same code runs on SQLite and PostgreSQL.

Whole days the beat task has rolled up (``apps.services.usage``) are read from ``AppDailyUsage``; today,
partial first and last days and days not rolled up yet are aggregated from raw rows. Likes and
interactions per conversation always come from raw rows: they change after their day has ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Avg, Count, F, FloatField, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate

from apps.models import App, AppDailyUsage, Conversation, InvokeFrom, Message
from apps.services.usage import span as usage_span
from apps.services.usage import usage_plan
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


def _span(start: datetime | None, end: datetime | None) -> Q:
    return usage_span(start, end)


def _messages(app: App, span: Q, tz: tzinfo) -> QuerySet:
    messages = Message.objects.filter(app=app, tenant_id=app.tenant_id).exclude(
        invoke_from=InvokeFrom.DEBUGGER
    )
    return messages.filter(span).annotate(date=TruncDate("created_at", tzinfo=tz)).values("date")


def _day(value: Any) -> str:
    return str(value)


Figures = dict[str, Any]


def _daily(
    app: App,
    start: datetime | None,
    end: datetime | None,
    tz: tzinfo,
    *,
    rolled: Callable[[AppDailyUsage], Figures | None],
    raw: Callable[[Q], Iterable[tuple[Any, Figures]]],
) -> list[dict[str, Any]]:
    """One object per day: rolled-up days from ``AppDailyUsage`` (``rolled`` gives None for a day without
    the traffic in question), the rest of the window from raw rows."""
    plan = usage_plan(app=app, start=start, end=end, tz=tz)
    days: dict[Any, Figures] = {}
    for row in plan.rolled:
        figures = rolled(row)
        if figures is not None:
            days[row.day] = figures
    if plan.raw is not None:
        days.update(raw(plan.raw))
    return [{"date": _day(day), **figures} for day, figures in sorted(days.items())]


def _if_messages(row: AppDailyUsage, figures: Figures) -> Figures | None:
    return figures if row.message_count else None


def daily_messages(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        for r in _messages(app, span, tz).annotate(n=Count("id")).order_by("date"):
            yield r["date"], {"message_count": r["n"]}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(row, {"message_count": row.message_count})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def daily_conversations(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = _messages(app, span, tz).annotate(n=Count("conversation_id", distinct=True)).order_by("date")
        for r in rows:
            yield r["date"], {"conversation_count": r["n"]}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(row, {"conversation_count": row.conversation_count})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def daily_end_users(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = _messages(app, span, tz).annotate(n=Count("from_end_user_id", distinct=True)).order_by("date")
        for r in rows:
            yield r["date"], {"terminal_count": r["n"]}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(row, {"terminal_count": row.end_user_count})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def _price(value: Decimal | None) -> str:
    return str((value or Decimal(0)).normalize())


def token_costs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = (
            _messages(app, span, tz)
            .annotate(
                token_count=Coalesce(Sum("message_tokens"), 0) + Coalesce(Sum("answer_tokens"), 0),
                total_price=Sum("total_price"),
            )
            .order_by("date")
        )
        for r in rows:
            yield (
                r["date"],
                {
                    "token_count": int(r["token_count"] or 0),
                    "total_price": _price(r["total_price"]),
                    "currency": "USD",
                },
            )

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(
            row,
            {
                "token_count": row.message_tokens + row.answer_tokens,
                "total_price": _price(row.total_price),
                "currency": "USD",
            },
        )

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def average_session_interactions(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """Average number of messages per conversation, by the day the conversation started. From raw rows
    always: a conversation's later messages change the figure of the day it started."""
    per_conversation = (
        Message.objects.filter(conversation_id=OuterRef("id"))
        .exclude(invoke_from=InvokeFrom.DEBUGGER)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    conversations = Conversation.objects.filter(app=app, tenant_id=app.tenant_id).filter(_span(start, end))
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
    """Likes per thousand messages, per day (Dify's ``rate``). From raw rows always: a like can come
    long after its day was rolled up."""
    rows = (
        _messages(app, _span(start, end), tz)
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
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = _messages(app, span, tz).annotate(latency=Avg("provider_response_latency")).order_by("date")
        for r in rows:
            yield r["date"], {"latency": round((r["latency"] or 0) * 1000, 4)}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(row, {"latency": round(row.latency_sum / row.message_count * 1000, 4)})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def _tps(tokens: int | None, seconds: float | None) -> float:
    return round((tokens or 0) / seconds, 4) if seconds else 0


def tokens_per_second(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = (
            _messages(app, span, tz)
            .annotate(tokens=Sum("answer_tokens"), seconds=Sum("provider_response_latency"))
            .order_by("date")
        )
        for r in rows:
            yield r["date"], {"tps": _tps(r["tokens"], r["seconds"])}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_messages(row, {"tps": _tps(row.answer_tokens, row.latency_sum)})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


# --- workflow apps ---------------------------------------------------------------------------------------


def _runs(app: App, span: Q, tz: tzinfo) -> QuerySet:
    runs = WorkflowRun.objects.filter(
        tenant_id=app.tenant_id, app_id=app.id, triggered_from=TriggeredFrom.APP_RUN
    )
    return runs.filter(span).annotate(date=TruncDate("created_at", tzinfo=tz)).values("date")


def _if_runs(row: AppDailyUsage, figures: Figures) -> Figures | None:
    return figures if row.run_count else None


def workflow_daily_runs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        for r in _runs(app, span, tz).annotate(runs=Count("id")).order_by("date"):
            yield r["date"], {"runs": r["runs"]}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_runs(row, {"runs": row.run_count})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def workflow_daily_terminals(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        for r in _runs(app, span, tz).annotate(n=Count("created_by", distinct=True)).order_by("date"):
            yield r["date"], {"terminal_count": r["n"]}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_runs(row, {"terminal_count": row.run_user_count})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def workflow_token_costs(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        for r in _runs(app, span, tz).annotate(token_count=Sum("total_tokens")).order_by("date"):
            yield r["date"], {"token_count": int(r["token_count"] or 0)}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_runs(row, {"token_count": row.run_tokens})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)


def workflow_average_interactions(
    *, app: App, start: datetime | None, end: datetime | None, tz: tzinfo
) -> list[dict[str, Any]]:
    """Average runs per user per day: runs over distinct users of the day."""

    def raw(span: Q) -> Iterable[tuple[Any, Figures]]:
        rows = _runs(app, span, tz).annotate(runs=Count("id"), users=Count("created_by", distinct=True))
        for r in rows.order_by("date"):
            yield r["date"], {"interactions": round(r["runs"] / r["users"], 2)}

    def rolled(row: AppDailyUsage) -> Figures | None:
        return _if_runs(row, {"interactions": round(row.run_count / row.run_user_count, 2)})

    return _daily(app, start, end, tz, rolled=rolled, raw=raw)
