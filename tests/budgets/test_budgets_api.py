"""Cost budgets through the HTTP API: set in the console, spent by real model calls on the live server,
refused with quota_exceeded (400 blocking, an error event streaming), the alert metric counted once."""

from __future__ import annotations

import httpx
import pytest

from dify_project import metrics
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.configs import CHAT_CONFIG
from tests.support.fake_llm import Reply


@pytest.fixture
def chat(live_asgi, fake_llm, client_for):
    tenant = factories.tenant_factory()
    owner = factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    app = factories.app_factory(tenant=tenant, mode="chat", config=CHAT_CONFIG)
    key = factories.api_key_factory(app=app)
    client = httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
    )
    yield app, client, client_for(owner)
    client.close()


def ask(client: httpx.Client, mode: str = "blocking") -> httpx.Response:
    # No title: its detached call to the model could land after a test counted the calls.
    body = {
        "inputs": {"company": "Acme"},
        "query": "hi",
        "user": "u1",
        "response_mode": mode,
        "auto_generate_name": False,
    }
    return client.post("/chat-messages", json=body)


def alerts(scope: str) -> float:
    return metrics.BUDGET_ALERTS.labels(scope)._value.get()


def test_an_app_token_budget_is_spent_then_refuses_with_quota_exceeded(chat, fake_llm):
    app, client, console = chat
    # given an app budget of 10 tokens a day, alerting at 80%
    put = console.put(
        f"/console/api/apps/{app.id}/budget",
        {"period": "daily", "token_limit": 10, "alert_threshold": 0.8},
        format="json",
    )
    assert put.status_code == 200 and put.json()["tokens"] == 0
    before = alerts("app")
    # when a call uses 10 tokens
    fake_llm.push(Reply(text="Hello!", usage=(7, 3)))
    assert ask(client).status_code == 200
    # then the console shows it (the 256-token reservation replaced by the real usage) and the alert fired
    shown = console.get(f"/console/api/apps/{app.id}/budget").json()
    assert (shown["tokens"], shown["token_limit"], shown["tokens_ratio"]) == (10, 10, 1.0)
    assert alerts("app") == before + 1
    # and the next calls are refused before the run starts: a 400 blocking or streaming (the error event
    # of a budget spent mid-stream is in test_budget_run_start)
    calls = len(fake_llm.requests_on("chat"))
    refused = ask(client)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "quota_exceeded" and "10 of 10 tokens" in refused.json()["message"]
    streamed = ask(client, "streaming")
    assert streamed.status_code == 400 and streamed.json()["code"] == "quota_exceeded"
    assert len(fake_llm.requests_on("chat")) == calls
    assert alerts("app") == before + 1  # once per period


def test_a_workspace_money_budget_and_bad_input(chat, fake_llm):
    _, client, console = chat
    bad = console.put("/console/api/workspaces/current/budget", {"alert_threshold": 3}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_param"
    put = console.put("/console/api/workspaces/current/budget", {"amount": "0.000001"}, format="json")
    assert put.status_code == 200 and put.json()["amount"] == 0.000001
    fake_llm.push(Reply(text="Hello!", usage=(700, 300)))
    assert ask(client).status_code == 200
    shown = console.get("/console/api/workspaces/current/budget").json()
    assert shown["spent"] > 0.000001 and shown["period"] == "monthly"
    refused = ask(client)
    assert refused.status_code == 400 and refused.json()["code"] == "quota_exceeded"
    assert "workspace budget" in refused.json()["message"]
