"""Budgets checked at run start (every Service API run path, the OpenAI-compatible ones included, refuses
before anything runs), two calls racing near the limit, and the cached budget definitions never hiding
spending done elsewhere."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from apps.models import Conversation, Message
from tests import factories
from tests.engine.helpers import chain, end, graph, node, start
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.configs import CHAT_CONFIG
from tests.support.fake_llm import Reply
from workflows.models import WorkflowRun


@pytest.fixture
def workspace(live_asgi, fake_llm, client_for):
    """A workspace with the loopback model; ``make(mode)`` adds an app and answers it with a key client."""
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    clients: list[httpx.Client] = []

    def make(mode: str = "chat", workflow_graph: dict | None = None):
        config = CHAT_CONFIG if mode == "chat" else None
        app = factories.app_factory(tenant=tenant, mode=mode, config=config, graph=workflow_graph)
        key = factories.api_key_factory(app=app)
        client = httpx.Client(
            base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
        )
        clients.append(client)
        return app, client

    yield make, client_for(owner)
    for client in clients:
        client.close()


def ask(client: httpx.Client, mode: str = "blocking") -> httpx.Response:
    body = {"inputs": {"company": "Acme"}, "query": "hi", "user": "u1", "response_mode": mode}
    body["auto_generate_name"] = False  # no title call: the model calls counted are the answers
    return client.post("/chat-messages", json=body)


def assert_quota_exceeded(response: httpx.Response, *, openai_shape: bool = False) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    if openai_shape:
        assert body["error"]["code"] == "quota_exceeded" and "used up" in body["error"]["message"]
    else:
        assert set(body) == {"code", "message", "status"} and body["code"] == "quota_exceeded"


def test_every_run_path_is_refused_before_the_run_when_the_budget_is_spent(workspace, fake_llm):
    make, console = workspace
    chat, chat_client = make("chat")
    _, completion_client = make("completion")
    _, workflow_client = make("workflow")
    # given a workspace budget of 10 tokens, spent by one chat call
    put = console.put("/console/api/workspaces/current/budget", {"token_limit": 10}, format="json")
    assert put.status_code == 200
    fake_llm.push(Reply(text="Hello!", usage=(7, 3)))
    assert ask(chat_client).status_code == 200
    calls, messages, runs = len(fake_llm.requests), Message.objects.count(), WorkflowRun.objects.count()
    conversations = Conversation.objects.count()
    # when any app of the workspace is run, on any path, blocking or streaming
    assert_quota_exceeded(ask(chat_client))
    assert_quota_exceeded(ask(chat_client, "streaming"))  # a JSON 400, not a stream: nothing started
    for mode in ("blocking", "streaming"):
        completion = completion_client.post(
            "/completion-messages", json={"inputs": {"query": "hi"}, "user": "u1", "response_mode": mode}
        )
        assert_quota_exceeded(completion)
        run = workflow_client.post("/workflows/run", json={"inputs": {}, "user": "u1", "response_mode": mode})
        assert_quota_exceeded(run)
    for stream in (False, True):
        body = {"model": str(chat.id), "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        assert_quota_exceeded(chat_client.post("/chat/completions", json=body), openai_shape=True)
    response = chat_client.post("/responses", json={"model": str(chat.id), "input": "hi"})
    assert_quota_exceeded(response, openai_shape=True)
    # then nothing ran: no model call, no message, conversation or workflow run
    assert len(fake_llm.requests) == calls
    assert (Message.objects.count(), WorkflowRun.objects.count()) == (messages, runs)
    assert Conversation.objects.count() == conversations
    # and raising the limit lets runs start again
    console.put("/console/api/workspaces/current/budget", {"token_limit": 1000}, format="json")
    fake_llm.push(Reply(text="Back!", usage=(7, 3)))
    assert ask(chat_client).json()["answer"] == "Back!"


def test_two_calls_racing_near_the_limit_spend_it_once(workspace, fake_llm):
    make, console = workspace
    app, client = make("chat")
    # given an app budget of 100 tokens, none spent, and two calls of 110 tokens each, slow to answer
    console.put(f"/console/api/apps/{app.id}/budget", {"token_limit": 100}, format="json")
    fake_llm.push(
        Reply(text="first", usage=(60, 50), delay=0.5), Reply(text="second", usage=(60, 50), delay=0.5)
    )
    # when both are sent at once (both pass the run-start check: nothing is spent yet)
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda _: ask(client), range(2)))
    # then the first reservation (256 tokens of max_tokens) refuses the other's model call
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 400], [r.text for r in responses]
    assert_quota_exceeded(next(r for r in responses if r.status_code == 400))
    assert len(fake_llm.requests_on("chat")) == 1
    shown = console.get(f"/console/api/apps/{app.id}/budget").json()
    assert shown["tokens"] == 110  # the reservation replaced by the real usage, the refused one released


def test_spending_elsewhere_is_seen_although_the_definitions_are_cached(workspace, fake_llm):
    make, console = workspace
    _, first = make("chat")
    _, second = make("chat")
    console.put("/console/api/workspaces/current/budget", {"token_limit": 100}, format="json")
    # given the first app's call has cached the workspace's budget definitions (and spent 20 of 100)
    fake_llm.push(Reply(text="one", usage=(10, 10)))
    assert ask(first).status_code == 200
    # when the other app spends the rest
    fake_llm.push(Reply(text="two", usage=(50, 50)))
    assert ask(second).status_code == 200
    # then the first app is refused: counters are never served from the cache
    assert_quota_exceeded(ask(first))
    assert_quota_exceeded(ask(first, "streaming"))
    # and a limit changed in the console applies to the next call, not after the cache expires
    console.put("/console/api/workspaces/current/budget", {"token_limit": 1000}, format="json")
    fake_llm.push(Reply(text="three", usage=(10, 10)))
    assert ask(first).status_code == 200
    console.put("/console/api/workspaces/current/budget", {"token_limit": 130}, format="json")
    refused = ask(first)
    assert_quota_exceeded(refused)
    assert "140 of 130 tokens" in refused.json()["message"]


def two_model_calls() -> dict:
    """Start -> LLM -> LLM -> End: the first model call can spend what the second needs."""
    model = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}

    def llm(node_id: str):
        prompt = [{"role": "user", "text": "say something"}]
        return node(node_id, "llm", model=model, prompt_template=prompt, context={"enabled": False})

    nodes = [start(), llm("first"), llm("second"), end(text=["second", "text"])]
    return graph(nodes, chain("start", "first", "second", "end"))


def test_a_budget_spent_during_a_streamed_run_fails_its_next_model_call(workspace, fake_llm):
    make, console = workspace
    app, client = make("workflow", workflow_graph=two_model_calls())
    console.put(f"/console/api/apps/{app.id}/budget", {"token_limit": 100}, format="json")
    # given a run whose first model call spends the whole budget (the run-start check passed)
    fake_llm.push(Reply(text="expensive", usage=(60, 50)))
    body = {"inputs": {}, "user": "u1", "response_mode": "streaming"}
    with client.stream("POST", "/workflows/run", json=body) as streamed:
        assert streamed.status_code == 200
        events = [json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: ")]
    # then the second call is refused inside the stream: that node and the run end failed, naming the budget
    assert len(fake_llm.requests_on("chat")) == 1
    finished = next(e for e in events if e["event"] == "workflow_finished")
    assert finished["data"]["status"] == "failed" and "budget" in finished["data"]["error"]
    failed = [e for e in events if e["event"] == "node_finished" and e["data"]["status"] == "failed"]
    assert [e["data"]["node_id"] for e in failed] == ["second"]
    assert "110 of 100 tokens" in failed[0]["data"]["error"]
