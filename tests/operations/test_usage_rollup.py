"""Daily usage roll-ups: the statistics endpoints give the same figures from roll-ups as from raw rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.models import AppDailyUsage, DailyUsageWatermark, Message, MessageFeedback
from apps.services.apps_crud import app_create
from operations.services import usage_roll_up
from tests.console.conftest import (
    conversation_factory,
    end_user_factory,
    message_factory,
    published_workflow,
    run_factory,
)
from workflows.models import WorkflowRun

MESSAGE_STATS = (
    "daily-messages",
    "daily-conversations",
    "daily-end-users",
    "token-costs",
    "average-session-interactions",
    "user-satisfaction-rate",
    "tokens-per-second",
)
WORKFLOW_STATS = ("daily-conversations", "daily-terminals", "token-costs", "average-app-interactions")
RANGES = (
    {},  # all time
    {"start": "2025-03-02 00:00", "end": "2025-03-04 00:00"},  # whole days
    {"start": "2025-03-01 12:00", "end": "2025-03-03 06:30"},  # partial first and last days
    {"start": "2025-03-02 00:00"},  # open end: up to today
)


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def traffic(tenant: Any, owner: Any) -> dict[str, Any]:
    """Four days of chat and workflow traffic around midnight UTC (so each time zone cuts it differently),
    a debugger message, a like, and some traffic today."""
    chat = app_create(tenant=tenant, account=owner, name="Chat", mode="chat")
    users = [end_user_factory(app=chat) for _ in range(3)]
    timeline = [
        (0, _at(1, 9), 10, 20, "0.001", 1.0),
        (0, _at(1, 23, 40), 10, 20, "0.001", 1.0),
        (1, _at(2, 0, 10), 5, 10, "0.0005", 0.5),
        (2, _at(2, 18), 7, 3, "0.0002", 0.25),
        (1, _at(3, 3), 1, 2, "0.0001", 0.0),
        (2, _at(3, 22), 4, 4, "0.0004", 2.0),
        (0, _at(4, 1), 9, 9, "0.0009", 1.5),
    ]
    conversations = {}
    for user_index, at, prompt, answer, price, latency in timeline:
        user = users[user_index]
        conversation = conversations.get((user_index, at.day))
        if conversation is None:
            conversation = conversations[(user_index, at.day)] = conversation_factory(app=chat, end_user=user)
            type(conversation).objects.filter(id=conversation.id).update(created_at=at)
        message = message_factory(
            conversation=conversation,
            message_tokens=prompt,
            answer_tokens=answer,
            total_price=Decimal(price),
            provider_response_latency=latency,
        )
        Message.objects.filter(id=message.id).update(created_at=at)
    first = Message.objects.filter(app=chat).order_by("created_at").first()
    MessageFeedback.objects.create(
        tenant=tenant,
        app=chat,
        conversation=first.conversation,
        message=first,
        rating="like",
        from_source="user",
    )
    message_factory(conversation=conversation_factory(app=chat, invoke_from="debugger"))  # never counted
    message_factory(conversation=conversation_factory(app=chat, end_user=users[0]))  # today

    flow = app_create(tenant=tenant, account=owner, name="Flow", mode="workflow")
    workflow = published_workflow(flow, owner)
    alice, bob = end_user_factory(app=flow), end_user_factory(app=flow)
    for user, tokens, at in (
        (alice, 10, _at(1, 23, 50)),
        (alice, 20, _at(2, 1)),
        (bob, 5, _at(2, 2)),
        (bob, 1, _at(3, 12)),
        (alice, 3, _at(4, 0, 5)),
    ):
        run = run_factory(app=flow, workflow=workflow, created_by=user.id, total_tokens=tokens)
        WorkflowRun.objects.filter(id=run.id).update(created_at=at)
    run_factory(app=flow, workflow=workflow, created_by=bob.id, total_tokens=7)  # today
    run_factory(app=flow, workflow=workflow, created_by=owner.id, role="account", triggered_from="debugging")

    completion = app_create(tenant=tenant, account=owner, name="Completion", mode="completion")
    conversation = conversation_factory(app=completion)
    for at, latency in ((_at(1, 23, 59), 0.2), (_at(2, 0, 1), 0.4), (_at(2, 8), 0.3), (_at(3, 8), 1.1)):
        message = message_factory(conversation=conversation, provider_response_latency=latency)
        Message.objects.filter(id=message.id).update(created_at=at)
    return {"chat": chat, "flow": flow, "completion": completion}


def owner_get(client: Any, url: str, params: dict[str, str]) -> Any:
    response = client.get(url, params)
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def _figures(client: Any, apps: dict[str, Any]) -> dict[tuple[str, str, int], Any]:
    out = {}
    for index, params in enumerate(RANGES):
        for name in MESSAGE_STATS:
            response = client.get(f"/console/api/apps/{apps['chat'].id}/statistics/{name}", params)
            assert response.status_code == 200, response.json()
            out[("chat", name, index)] = response.json()["data"]
        for name in WORKFLOW_STATS:
            response = client.get(f"/console/api/apps/{apps['flow'].id}/workflow/statistics/{name}", params)
            assert response.status_code == 200, response.json()
            out[("flow", name, index)] = response.json()["data"]
        url = f"/console/api/apps/{apps['completion'].id}/statistics/average-response-time"
        out[("completion", "average-response-time", index)] = owner_get(client, url, params)
    return out


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
def test_statistics_from_roll_ups_equal_the_raw_figures(traffic, tenant, owner, owner_client, zone):
    # given four days of traffic, read by an account in a time zone (half an hour off UTC for Kolkata)
    owner.timezone = zone
    owner.save()
    raw = _figures(owner_client, traffic)
    assert any(raw[("chat", "daily-messages", 0)]) and any(raw[("flow", "daily-conversations", 0)])
    # when the beat task rolls the closed days up
    counts = usage_roll_up()
    # then the workspace has a watermark at yesterday for UTC and the member's zone, rows per app and day
    yesterday = timezone.now().astimezone(ZoneInfo(zone)).date() - timedelta(days=1)
    marks = dict(DailyUsageWatermark.objects.filter(tenant=tenant).values_list("timezone", "through_day"))
    assert set(marks) == {"UTC", zone} and marks[zone] == yesterday
    assert counts["workspaces"] >= 1
    assert AppDailyUsage.objects.filter(tenant=tenant, timezone=zone, app=traffic["chat"]).count() >= 3
    # and every statistic, over every range, is what the raw rows gave
    assert _figures(owner_client, traffic) == raw


def test_rolled_up_days_are_read_from_roll_ups_and_today_from_raw_rows(traffic, owner_client):
    chat = traffic["chat"]
    url = f"/console/api/apps/{chat.id}/statistics/daily-messages"
    usage_roll_up()
    # given the raw messages of March 2nd gone (retention), after the roll-up
    Message.objects.filter(app=chat, created_at__gte=_at(2, 0), created_at__lt=_at(3, 0)).delete()
    # then the day still counts its two messages: it is read from the roll-up
    whole_days = owner_client.get(url, RANGES[1]).json()["data"]
    assert whole_days == [
        {"date": "2025-03-02", "message_count": 2},
        {"date": "2025-03-03", "message_count": 2},
    ]
    # and a message written today counts at once (today is never rolled up)
    before = owner_client.get(url).json()["data"][-1]
    message_factory(conversation=conversation_factory(app=chat))
    after = owner_client.get(url).json()["data"][-1]
    assert after["date"] == before["date"] == str(timezone.now().date())
    assert after["message_count"] == before["message_count"] + 1


def test_roll_up_is_idempotent_and_catches_late_writes_within_the_lookback(traffic, tenant):
    chat = traffic["chat"]
    now = _at(5, 12)
    usage_roll_up(now=now)
    rows = {
        (r.app_id, r.timezone, r.day): r.message_count for r in AppDailyUsage.objects.filter(tenant=tenant)
    }
    # when it runs again: the same rows
    usage_roll_up(now=now)
    again = {
        (r.app_id, r.timezone, r.day): r.message_count for r in AppDailyUsage.objects.filter(tenant=tenant)
    }
    assert again == rows
    # given a message of yesterday written after the pass (a stream that ended late)
    late = message_factory(conversation=conversation_factory(app=chat))
    Message.objects.filter(id=late.id).update(created_at=_at(4, 23, 59))
    # when the next pass runs, an hour later: yesterday is recomputed
    usage_roll_up(now=now + timedelta(hours=1))
    day = AppDailyUsage.objects.get(app=chat, timezone="UTC", day=_at(4, 0).date())
    assert day.message_count == 2
