"""Logs (workflow runs, node executions, app logs, conversations, messages) and daily statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.models import Conversation, Message, MessageAnnotation, MessageFeedback
from tests.console.conftest import (
    app_log_factory,
    conversation_factory,
    end_user_factory,
    message_factory,
    node_execution_factory,
    published_workflow,
    run_factory,
)
from workflows.models import WorkflowRun


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, 0, tzinfo=UTC)


def test_workflow_runs_list_detail_and_node_executions(make_app, owner, owner_client):
    app = make_app("workflow")
    workflow = published_workflow(app, owner)
    user = end_user_factory(app=app, session_id="alice")
    runs = [run_factory(app=app, workflow=workflow, created_by=user.id) for _ in range(3)]
    debug = run_factory(
        app=app, workflow=workflow, created_by=owner.id, role="account", triggered_from="debugging"
    )
    for index, (node_id, node_type) in enumerate([("start", "start"), ("end", "end")], start=1):
        node_execution_factory(run=runs[0], index=index, node_id=node_id, node_type=node_type)
    # the list is Dify's infinite scroll, newest first
    page = owner_client.get(f"/console/api/apps/{app.id}/workflow-runs", {"limit": 2}).json()
    assert set(page) == {"limit", "has_more", "data"} and page["has_more"] is True
    assert page["data"][0]["id"] == str(debug.id)
    assert page["data"][0]["created_by_account"]["email"] == owner.email
    rest = owner_client.get(
        f"/console/api/apps/{app.id}/workflow-runs", {"last_id": page["data"][-1]["id"]}
    ).json()
    assert len(rest["data"]) == 2 and rest["has_more"] is False
    only_debug = owner_client.get(
        f"/console/api/apps/{app.id}/workflow-runs", {"triggered_from": "debugging"}
    ).json()
    assert [r["id"] for r in only_debug["data"]] == [str(debug.id)]
    # the detail has every node execution, in order
    detail = owner_client.get(f"/console/api/apps/{app.id}/workflow-runs/{runs[0].id}").json()
    assert detail["inputs"] == {"q": "hello"} and detail["created_by_end_user"]["session_id"] == "alice"
    assert [n["node_id"] for n in detail["node_executions"]] == ["start", "end"]
    nodes = owner_client.get(f"/console/api/apps/{app.id}/workflow-runs/{runs[0].id}/node-executions").json()
    assert [n["index"] for n in nodes["data"]] == [1, 2] and nodes["data"][0]["outputs"] == {"out": 1}
    # unknown and malformed ids are named 404s
    assert (
        owner_client.get(
            f"/console/api/apps/{app.id}/workflow-runs/00000000-0000-0000-0000-000000000000"
        ).status_code
        == 404
    )
    assert owner_client.get(f"/console/api/apps/{app.id}/workflow-runs/xyz").status_code == 404
    bad = owner_client.get(f"/console/api/apps/{app.id}/workflow-runs", {"status": "exploded"})
    assert bad.status_code == 400 and "status" in bad.json()["message"]


def test_a_run_of_another_app_is_not_found(make_app, owner, owner_client):
    app, other = make_app("workflow"), make_app("workflow")
    run = run_factory(
        app=other, workflow=published_workflow(other, owner), created_by=owner.id, role="account"
    )
    assert owner_client.get(f"/console/api/apps/{app.id}/workflow-runs/{run.id}").status_code == 404


def test_run_list_costs_a_fixed_number_of_queries(
    make_app, owner, owner_client, django_assert_max_num_queries
):
    app = make_app("advanced-chat")
    workflow = published_workflow(app, owner)
    for _ in range(2):
        run_factory(app=app, workflow=workflow, created_by=owner.id, role="account")
    with django_assert_max_num_queries(10) as small:
        owner_client.get(f"/console/api/apps/{app.id}/advanced-chat/workflow-runs")
    baseline = len(small)
    for _ in range(10):
        run_factory(app=app, workflow=workflow, created_by=owner.id, role="account")
    with django_assert_max_num_queries(baseline):
        assert (
            len(owner_client.get(f"/console/api/apps/{app.id}/advanced-chat/workflow-runs").json()["data"])
            == 12
        )


def test_workflow_app_logs(make_app, owner, owner_client, django_assert_max_num_queries):
    app = make_app("workflow")
    workflow = published_workflow(app, owner)
    alice, bob = end_user_factory(app=app, session_id="alice"), end_user_factory(app=app, session_id="bob")
    for user, status in ((alice, "succeeded"), (bob, "failed"), (alice, "succeeded")):
        app_log_factory(run=run_factory(app=app, workflow=workflow, created_by=user.id, status=status))
    with django_assert_max_num_queries(10) as queries:
        page = owner_client.get(f"/console/api/apps/{app.id}/workflow-app-logs").json()
    baseline = len(queries)
    assert set(page) == {"page", "limit", "total", "has_more", "data"} and page["total"] == 3
    assert page["data"][0]["workflow_run"]["status"] in ("succeeded", "failed")
    assert page["data"][0]["created_by_end_user"]["session_id"] in ("alice", "bob")
    failed = owner_client.get(f"/console/api/apps/{app.id}/workflow-app-logs", {"status": "failed"}).json()
    assert failed["total"] == 1 and failed["data"][0]["created_by_end_user"]["session_id"] == "bob"
    by_alice = owner_client.get(
        f"/console/api/apps/{app.id}/workflow-app-logs", {"created_by_end_user_session_id": "alice"}
    ).json()
    assert by_alice["total"] == 2
    for _ in range(8):
        app_log_factory(run=run_factory(app=app, workflow=workflow, created_by=bob.id))
    with django_assert_max_num_queries(baseline):
        assert len(owner_client.get(f"/console/api/apps/{app.id}/workflow-app-logs").json()["data"]) == 11


def test_chat_conversations_and_messages_with_feedback_and_annotations(make_app, owner, owner_client, tenant):
    app = make_app("chat")
    user = end_user_factory(app=app, session_id="carol")
    conversation = conversation_factory(app=app, end_user=user, name="About cats")
    first = message_factory(conversation=conversation, query="Do cats purr?", answer="Yes.")
    second = message_factory(conversation=conversation, query="Why?", answer="Contentment.")
    MessageFeedback.objects.create(
        tenant=tenant,
        app=app,
        conversation=conversation,
        message=first,
        rating="like",
        from_source="user",
        from_end_user=user,
    )
    conversation_factory(app=app, invoke_from="debugger")  # debugger conversations are not logs
    quiet = conversation_factory(app=app, end_user=user, name="Nothing said")
    # the console annotates the second message
    response = owner_client.post(
        f"/console/api/apps/{app.id}/annotations",
        {"message_id": str(second.id), "answer": "Because they are content."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["question"] == "Why?"
    # and rates the first as admin
    assert (
        owner_client.post(
            f"/console/api/apps/{app.id}/feedbacks",
            {"message_id": str(first.id), "rating": "dislike"},
            format="json",
        ).status_code
        == 200
    )
    listing = owner_client.get(f"/console/api/apps/{app.id}/chat-conversations").json()
    assert listing["total"] == 2
    item = next(c for c in listing["data"] if c["id"] == str(conversation.id))
    assert item["from_end_user_session_id"] == "carol" and item["message_count"] == 2
    assert item["user_feedback_stats"] == {"like": 1, "dislike": 0}
    assert item["admin_feedback_stats"] == {"like": 0, "dislike": 1}
    assert item["annotated"] is True and item["summary"] == "Do cats purr?"
    # filters
    annotated = owner_client.get(
        f"/console/api/apps/{app.id}/chat-conversations", {"annotation_status": "annotated"}
    ).json()
    assert [c["id"] for c in annotated["data"]] == [str(conversation.id)]
    found = owner_client.get(f"/console/api/apps/{app.id}/chat-conversations", {"keyword": "purr"}).json()
    assert [c["id"] for c in found["data"]] == [str(conversation.id)]
    busy = owner_client.get(f"/console/api/apps/{app.id}/chat-conversations", {"message_count_gte": 1}).json()
    assert str(quiet.id) not in [c["id"] for c in busy["data"]]
    # messages, oldest first, with feedback and annotation
    messages = owner_client.get(
        f"/console/api/apps/{app.id}/chat-messages", {"conversation_id": str(conversation.id), "limit": 1}
    ).json()
    assert messages["has_more"] is True and [m["query"] for m in messages["data"]] == ["Why?"]
    assert messages["data"][0]["annotation"]["content"] == "Because they are content."
    older = owner_client.get(
        f"/console/api/apps/{app.id}/chat-messages",
        {"conversation_id": str(conversation.id), "first_id": messages["data"][0]["id"]},
    ).json()
    assert [m["query"] for m in older["data"]] == ["Do cats purr?"]
    assert {f["from_source"] for f in older["data"][0]["feedbacks"]} == {"user", "admin"}
    detail = owner_client.get(f"/console/api/apps/{app.id}/chat-conversations/{conversation.id}").json()
    assert detail["message_count"] == 2 and detail["annotated"] is True
    # a missing conversation id is refused; deleting hides the conversation
    assert owner_client.get(f"/console/api/apps/{app.id}/chat-messages").status_code == 400
    assert (
        owner_client.delete(f"/console/api/apps/{app.id}/chat-conversations/{conversation.id}").status_code
        == 204
    )
    assert Conversation.objects.get(id=conversation.id).is_deleted is True
    assert (
        owner_client.get(f"/console/api/apps/{app.id}/chat-conversations/{conversation.id}").status_code
        == 404
    )


def test_completion_conversations(make_app, owner_client):
    app = make_app("completion")
    conversation = conversation_factory(app=app, from_source="console", invoke_from="web-app")
    message_factory(
        conversation=conversation, query="", inputs={"query": "Translate hello"}, answer="Bonjour"
    )
    page = owner_client.get(f"/console/api/apps/{app.id}/completion-conversations").json()
    assert page["total"] == 1
    assert page["data"][0]["message"]["answer"] == "Bonjour"
    assert page["data"][0]["message"]["inputs"] == {"query": "Translate hello"}
    detail = owner_client.get(f"/console/api/apps/{app.id}/completion-conversations/{conversation.id}").json()
    assert detail["message"]["answer"] == "Bonjour"
    # chat logs are for chat apps
    assert owner_client.get(f"/console/api/apps/{app.id}/chat-conversations").status_code == 400


def test_conversation_lists_cost_a_fixed_number_of_queries(
    make_app, owner_client, tenant, django_assert_max_num_queries
):
    app = make_app("chat")

    def add(n: int) -> None:
        for _ in range(n):
            conversation = conversation_factory(app=app, end_user=end_user_factory(app=app))
            message = message_factory(conversation=conversation)
            MessageFeedback.objects.create(
                tenant=tenant,
                app=app,
                conversation=conversation,
                message=message,
                rating="like",
                from_source="user",
            )
            MessageAnnotation.objects.create(
                tenant=tenant,
                app=app,
                conversation_id=conversation.id,
                message_id=message.id,
                question="q",
                content="a",
            )

    add(2)
    with django_assert_max_num_queries(20) as small:
        owner_client.get(f"/console/api/apps/{app.id}/chat-conversations")
    baseline = len(small)
    conversation = Conversation.objects.filter(app=app).first()
    with django_assert_max_num_queries(20) as few_messages:
        owner_client.get(
            f"/console/api/apps/{app.id}/chat-messages", {"conversation_id": str(conversation.id)}
        )
    message_baseline = len(few_messages)
    add(10)
    for _ in range(10):
        message_factory(conversation=conversation)
    with django_assert_max_num_queries(baseline):
        assert len(owner_client.get(f"/console/api/apps/{app.id}/chat-conversations").json()["data"]) == 12
    with django_assert_max_num_queries(message_baseline):
        response = owner_client.get(
            f"/console/api/apps/{app.id}/chat-messages", {"conversation_id": str(conversation.id)}
        )
        assert len(response.json()["data"]) == 11


# --- statistics -------------------------------------------------------------------------------------------


@pytest.fixture
def chat_traffic(make_app, tenant):
    """Two days of traffic: day 1 has 3 messages in 2 conversations by 2 users (one liked), day 2 has one."""
    app = make_app("chat")
    alice, bob = end_user_factory(app=app), end_user_factory(app=app)
    c1, c2 = conversation_factory(app=app, end_user=alice), conversation_factory(app=app, end_user=bob)
    c3 = conversation_factory(app=app, end_user=alice)
    Conversation.objects.filter(id__in=[c1.id, c2.id]).update(created_at=_at(1))
    Conversation.objects.filter(id=c3.id).update(created_at=_at(2))
    rows = [
        (c1, _at(1, 9), 10, 20, "0.001", 1.0),
        (c1, _at(1, 10), 10, 20, "0.001", 1.0),
        (c2, _at(1, 11), 5, 10, "0.0005", 0.5),
        (c3, _at(2, 9), 1, 2, "0.0001", 0.0),
    ]
    messages = []
    for conversation, at, prompt, answer, price, latency in rows:
        message = message_factory(
            conversation=conversation,
            message_tokens=prompt,
            answer_tokens=answer,
            total_price=Decimal(price),
            provider_response_latency=latency,
        )
        Message.objects.filter(id=message.id).update(created_at=at)
        messages.append(message)
    debug = conversation_factory(app=app, invoke_from="debugger")
    message_factory(conversation=debug)  # never counted
    MessageFeedback.objects.create(
        tenant=tenant, app=app, conversation=c1, message=messages[0], rating="like", from_source="user"
    )
    return app


def _stat(client, app, name, **params):
    response = client.get(f"/console/api/apps/{app.id}/statistics/{name}", params)
    assert response.status_code == 200, response.json()
    return response.json()["data"]


def test_message_statistics(chat_traffic, owner_client):
    app = chat_traffic
    assert _stat(owner_client, app, "daily-messages") == [
        {"date": "2025-03-01", "message_count": 3},
        {"date": "2025-03-02", "message_count": 1},
    ]
    assert _stat(owner_client, app, "daily-conversations")[0] == {
        "date": "2025-03-01",
        "conversation_count": 2,
    }
    assert _stat(owner_client, app, "daily-end-users")[0] == {"date": "2025-03-01", "terminal_count": 2}
    costs = _stat(owner_client, app, "token-costs")
    assert costs[0]["token_count"] == 75 and Decimal(costs[0]["total_price"]) == Decimal("0.0025")
    assert costs[0]["currency"] == "USD"
    assert _stat(owner_client, app, "average-session-interactions") == [
        {"date": "2025-03-01", "interactions": 1.5},
        {"date": "2025-03-02", "interactions": 1.0},
    ]
    assert _stat(owner_client, app, "user-satisfaction-rate")[0] == {"date": "2025-03-01", "rate": 333.33}
    assert _stat(owner_client, app, "tokens-per-second")[0] == {"date": "2025-03-01", "tps": 20.0}
    assert _stat(owner_client, app, "tokens-per-second")[1] == {"date": "2025-03-02", "tps": 0}


def test_statistics_use_the_account_time_zone_and_range(chat_traffic, owner, owner_client):
    app = chat_traffic
    owner.timezone = "Asia/Tokyo"  # UTC+9: 2025-03-01 09:00-11:00 UTC is 18:00-20:00 local, same day
    owner.save()
    assert [d["date"] for d in _stat(owner_client, app, "daily-messages")] == ["2025-03-01", "2025-03-02"]
    owner.timezone = "Pacific/Honolulu"  # UTC-10: 09:00 UTC on the 1st is 23:00 on Feb 28
    owner.save()
    assert _stat(owner_client, app, "daily-messages") == [
        {"date": "2025-02-28", "message_count": 1},
        {"date": "2025-03-01", "message_count": 3},
    ]
    # a window in local time: 2025-03-01 00:00-12:00 HST is 10:00-22:00 UTC on the 1st
    window = _stat(owner_client, app, "daily-messages", start="2025-03-01 00:00", end="2025-03-01 12:00")
    assert window == [{"date": "2025-03-01", "message_count": 2}]
    bad = owner_client.get(f"/console/api/apps/{app.id}/statistics/daily-messages", {"start": "yesterday"})
    assert bad.status_code == 400 and "start" in bad.json()["message"]


def test_completion_latency_and_mode_checks(make_app, owner_client):
    app = make_app("completion")
    conversation = conversation_factory(app=app)
    for latency in (0.2, 0.4):
        message = message_factory(conversation=conversation, provider_response_latency=latency)
        Message.objects.filter(id=message.id).update(created_at=_at(5))
    assert _stat(owner_client, app, "average-response-time") == [{"date": "2025-03-05", "latency": 300.0}]
    # average session interactions are for chat apps
    assert (
        owner_client.get(f"/console/api/apps/{app.id}/statistics/average-session-interactions").status_code
        == 400
    )


def test_workflow_statistics(make_app, owner, owner_client):
    app = make_app("workflow")
    workflow = published_workflow(app, owner)
    alice, bob = end_user_factory(app=app), end_user_factory(app=app)
    for user, tokens, day in ((alice, 10, 1), (alice, 20, 1), (bob, 5, 1), (bob, 1, 2)):
        run = run_factory(app=app, workflow=workflow, created_by=user.id, total_tokens=tokens)
        WorkflowRun.objects.filter(id=run.id).update(created_at=_at(day))
    run_factory(app=app, workflow=workflow, created_by=owner.id, role="account", triggered_from="debugging")

    def stat(name):
        response = owner_client.get(f"/console/api/apps/{app.id}/workflow/statistics/{name}")
        assert response.status_code == 200, response.json()
        return response.json()["data"]

    assert stat("daily-conversations") == [
        {"date": "2025-03-01", "runs": 3},
        {"date": "2025-03-02", "runs": 1},
    ]
    assert stat("daily-terminals")[0] == {"date": "2025-03-01", "terminal_count": 2}
    assert stat("token-costs") == [
        {"date": "2025-03-01", "token_count": 35},
        {"date": "2025-03-02", "token_count": 1},
    ]
    assert stat("average-app-interactions") == [
        {"date": "2025-03-01", "interactions": 1.5},
        {"date": "2025-03-02", "interactions": 1.0},
    ]


def test_statistics_of_another_workspace_are_not_found(make_app, owner_client, other_tenant):
    from accounts.models import TenantRole
    from tests import factories

    stranger = factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER)
    foreign = make_app("chat", in_tenant=other_tenant, by=stranger)
    assert owner_client.get(f"/console/api/apps/{foreign.id}/statistics/daily-messages").status_code == 404


def test_dates_window_edges(chat_traffic, owner_client):
    # end is exclusive, start inclusive
    start = _at(1, 10).strftime("%Y-%m-%d %H:%M")
    end = (_at(1, 11) + timedelta(minutes=0)).strftime("%Y-%m-%d %H:%M")
    assert _stat(owner_client, chat_traffic, "daily-messages", start=start, end=end) == [
        {"date": "2025-03-01", "message_count": 1}
    ]
