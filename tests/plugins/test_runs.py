"""Installed plugins at work: a workflow (plugin tool node + plugin LLM node), an agent calling a plugin
tool with the plugin's model, a reverse call to the workspace's model, and plugins that crash, hang or
print garbage, through the Service API of a live server; the model server is the loopback fake."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from apps.models import AppMode
from plugins import registry
from tests import factories
from tests.engine.helpers import chain, end, graph, node, start
from tests.plugins import builders
from tests.plugins.test_console import BASE, upload
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import FakeToolCall, Reply

PROVIDER = "tester/loopback/loopback"
TOOLS = "tester/texttools/texttools"
TROUBLE = "tester/trouble/trouble"


@pytest.fixture
def workspace(live_asgi, tenant, owner_client, install_now, fake_llm):
    """The three plugins uploaded and installed through the console, the plugin provider's credentials
    saved through the console (validated by the plugin itself), and OpenAI on the fake for reverse calls."""
    identifiers = [upload(owner_client, build()).json()["unique_identifier"] for build in builders.PLUGINS]
    response = owner_client.post(
        f"{BASE}/install/pkg", {"plugin_unique_identifiers": identifiers}, format="json"
    )
    assert response.status_code == 200, response.content
    install_now()
    statuses = {p["plugin_id"]: p["status"] for p in owner_client.get(f"{BASE}/list").json()["plugins"]}
    assert statuses == {
        "tester/loopback": "success",
        "tester/texttools": "success",
        "tester/trouble": "success",
    }
    saved = owner_client.post(
        f"/console/api/workspaces/current/model-providers/{PROVIDER}/credentials",
        {"credentials": {"api_key": "plugin-key", "base_url": fake_llm.openai_base_url}},
        format="json",
    )
    assert saved.status_code in (200, 201), saved.content
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    return tenant


def tool_node(node_id: str, provider: str, tool: str, text: str) -> dict:
    parameter = "question" if tool == "ask" else "text"
    return node(
        node_id,
        "tool",
        provider_type="builtin",
        provider_id=provider,
        provider_name=provider,
        tool_name=tool,
        tool_configurations={},
        tool_parameters={parameter: {"type": "mixed", "value": text}},
    )


def run_workflow(live_asgi, tenant, nodes: list[dict], inputs: dict, **outputs: list[str]) -> dict:
    ids = [n["id"] for n in nodes]
    app = factories.app_factory(
        tenant=tenant,
        mode=AppMode.WORKFLOW,
        graph=graph([start("q"), *nodes, end(**outputs)], chain("start", *ids, "end")),
    )
    key = factories.api_key_factory(app=app)
    with httpx.Client(base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}) as client:
        response = client.post(
            "/workflows/run", json={"inputs": inputs, "user": "u1", "response_mode": "blocking"}, timeout=60
        )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_workflow_runs_a_plugin_tool_then_the_plugins_model(live_asgi, workspace, fake_llm) -> None:
    # given a workflow: the plugin's shout tool, then an LLM node on the plugin's model provider
    llm = node(
        "llm",
        "llm",
        model={
            "provider": PROVIDER,
            "name": "loop-1",
            "mode": "chat",
            "completion_params": {"temperature": 0.1},
        },
        prompt_template=[{"role": "user", "text": "Say: {{#tool.text#}}"}],
        context={"enabled": False},
    )
    fake_llm.push(Reply(text="Loud and clear", route="chat"))
    # when it runs
    data = run_workflow(
        live_asgi,
        workspace,
        [tool_node("tool", TOOLS, "shout", "{{#start.q#}}"), llm],
        {"q": "hello plugins"},
        shout=["tool", "text"],
        answer=["llm", "text"],
    )
    # then the tool's answer came from the plugin and the model's from the fake, through the plugin
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"shout": "HELLO PLUGINS", "answer": "Loud and clear"}
    sent = fake_llm.requests_on("chat")[-1]
    assert sent.headers.get("authorization") == "Bearer plugin-key"
    assert sent.json["messages"][-1]["content"] == "Say: HELLO PLUGINS"
    assert sent.json["temperature"] == 0.1


def test_an_agent_calls_a_plugin_tool_with_the_plugins_model(live_asgi, workspace, fake_llm) -> None:
    # given an agent-chat app on the plugin's model with the plugin's shout tool
    config = {
        "model": {"provider": PROVIDER, "name": "loop-1", "mode": "chat", "completion_params": {}},
        "pre_prompt": "Use the tools.",
        "prompt_type": "simple",
        "user_input_form": [],
        "agent_mode": {
            "enabled": True,
            "strategy": "function_call",
            "max_iteration": 3,
            "tools": [
                {
                    "provider_type": "builtin",
                    "provider_id": TOOLS,
                    "provider_name": TOOLS,
                    "tool_name": "shout",
                    "tool_parameters": {},
                    "enabled": True,
                }
            ],
        },
    }
    app = factories.app_factory(tenant=workspace, mode=AppMode.AGENT_CHAT, config=config)
    key = factories.api_key_factory(app=app)
    fake_llm.push(
        Reply.tools(FakeToolCall("shout", {"text": "quiet"}, id="c1"), route="chat"),
        Reply(text="It shouted QUIET.", route="chat"),
    )
    # when a user asks
    with httpx.Client(base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}) as client:
        events = events_of(
            client.post(
                "/chat-messages",
                json={
                    "query": "shout quiet",
                    "inputs": {},
                    "user": "ann",
                    "response_mode": "streaming",
                    "auto_generate_name": False,
                },
                timeout=60,
            )
        )
    # then the model was offered the plugin tool's schema, and read the plugin's answer
    answer = "".join(e.get("answer") or "" for e in events if e["event"] in ("agent_message", "message"))
    assert answer == "It shouted QUIET.", events
    assert any(e["event"] == "message_end" for e in events)
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    function = first["tools"][0]["function"]
    assert function["name"] == "shout"
    assert function["parameters"]["properties"]["text"]["type"] == "string"
    tool_turn = second["messages"][-1]
    assert tool_turn["role"] == "tool" and tool_turn["tool_call_id"] == "c1"
    assert "QUIET" in tool_turn["content"]


def test_a_plugin_asks_the_platform_for_the_workspaces_model(live_asgi, workspace, fake_llm) -> None:
    # given the `ask` tool, which calls back into the platform for OpenAI's model
    fake_llm.push(Reply(text="forty-two", route="chat"))
    # when a workflow runs it
    data = run_workflow(
        live_asgi,
        workspace,
        [tool_node("tool", TOOLS, "ask", "{{#start.q#}}")],
        {"q": "answer?"},
        out=["tool", "text"],
    )
    # then the reverse call used the workspace's OpenAI credentials, and its answer came back
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"out": "platform says: forty-two"}
    sent = fake_llm.requests_on("chat")[-1]
    assert sent.json["messages"][-1]["content"] == "answer?"
    assert sent.json["model"] == "gpt-4o-mini"


def test_plugin_embeddings_through_the_runtime(workspace, fake_llm) -> None:
    from providers.services.invocation import embed

    result = asyncio.run(
        embed(tenant_id=str(workspace.id), provider=PROVIDER, model="loop-embed", texts=["a b", "c"])
    )
    assert len(result.embeddings) == 2 and len(result.embeddings[0]) == 8
    assert result.embeddings[0] != result.embeddings[1]
    assert result.usage.tokens == 3


def test_crashing_hanging_and_noisy_plugins_fail_clearly_and_the_platform_keeps_serving(
    live_asgi, workspace, settings
) -> None:
    run: Callable[[str], dict] = lambda tool: run_workflow(  # noqa: E731
        live_asgi,
        workspace,
        [tool_node("tool", TROUBLE, tool, "{{#start.q#}}")],
        {"q": "x"},
        out=["tool", "text"],
    )
    # a plugin that kills its own process: a failed run naming the crash
    crashed = run("crash")
    assert crashed["status"] == "failed"
    assert "PluginCrashedError" in crashed["error"] and "exited (code 3)" in crashed["error"]
    # the next call starts the plugin again and is served
    assert run("fine")["outputs"] == {"out": "fine: x"}
    # a plugin that never answers: cut at the call's time limit
    settings.PLUGIN_CALL_TIMEOUT = 3.0
    hung = run("hang")
    assert hung["status"] == "failed"
    assert "PluginTimeoutError" in hung["error"] and "did not answer within 3s" in hung["error"]
    # a plugin printing garbage on stdout: the garbage stays in its log, the protocol is intact
    noisy = run("garbage")
    assert noisy["status"] == "succeeded", noisy
    assert noisy["outputs"] == {"out": "still fine: x"}
    # and the platform still serves other plugins
    assert run("fine")["outputs"] == {"out": "fine: x"}


def test_the_plugin_validates_its_provider_credentials(workspace, owner_client, fake_llm) -> None:
    # when credentials the plugin refuses are saved for its provider
    response = owner_client.post(
        f"/console/api/workspaces/current/model-providers/{PROVIDER}/credentials",
        {"credentials": {"api_key": "wrong", "base_url": fake_llm.openai_base_url}, "name": "bad"},
        format="json",
    )
    # then the plugin's own refusal is the 400's message, and the provider's forms are the plugin's
    assert response.status_code == 400
    assert "the key is wrong" in response.json()["message"]
    providers = owner_client.get("/console/api/workspaces/current/model-providers").json()["data"]
    mine = next(p for p in providers if p["provider"] == PROVIDER)
    forms = mine["provider_credential_schema"]["credential_form_schemas"]
    assert [f["variable"] for f in forms] == ["api_key", "base_url"]


def test_a_plugin_sees_neither_the_platforms_files_nor_its_settings(live_asgi, workspace) -> None:
    from django.conf import settings as django_settings

    # given the platform's own code on this machine, and its secret key in the server's environment
    manage = str(django_settings.BASE_DIR / "manage.py")
    assert Path(manage).exists()
    # when a plugin looks for them
    data = run_workflow(
        live_asgi, workspace, [tool_node("tool", TROUBLE, "peek", manage)], {"q": "x"}, out=["tool", "text"]
    )
    # then the sandbox shows it neither
    assert data["outputs"] == {"out": "exists=False secret=None"}


@pytest.fixture
def loopback_http() -> Iterator[str]:
    """A web server on the host's loopback, standing for any platform peer there (an internal API)."""

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_plugin_reaches_the_network_only_through_the_guarded_proxy(
    live_asgi, workspace, loopback_http, settings
) -> None:
    # given PostgreSQL's and Redis's ports and a web server on the host's loopback, which the operator's
    # allow-list admits (the suite allows 127.0.0.0/8 for its fakes)
    targets = [
        "tcp 127.0.0.1:5432",
        "tcp 127.0.0.1:6379",
        f"tcp {loopback_http}",
        f"http http://{loopback_http}/",
    ]

    def reach() -> dict[str, str]:
        data = run_workflow(
            live_asgi,
            workspace,
            [tool_node("tool", TROUBLE, "reach", json.dumps(targets))],
            {"q": "x"},
            out=["tool", "text"],
        )
        assert data["status"] == "succeeded", data
        return json.loads(data["outputs"]["out"])

    # when a plugin connects to them directly, and asks for the web page over HTTP
    outcomes = reach()
    # then no direct connection gets anywhere (the plugin's loopback is its own), while HTTP goes out
    # through the egress proxy, which admits the allowed address
    assert outcomes == {
        "tcp 127.0.0.1:5432": "failed: ConnectionRefusedError",
        "tcp 127.0.0.1:6379": "failed: ConnectionRefusedError",
        f"tcp {loopback_http}": "failed: ConnectionRefusedError",
        f"http http://{loopback_http}/": "http 200: hello from the host",
    }
    # and once the operator's allow-list no longer admits loopback, the proxy refuses the page too
    settings.SSRF_ALLOWED_NETWORKS = []
    refused = reach()[f"http http://{loopback_http}/"]
    assert refused.startswith("http 403: destination not allowed"), refused
    # and with PLUGIN_EGRESS off a plugin (started again) has no network at all: no proxy, nothing direct
    settings.PLUGIN_EGRESS = False
    registry.pool.stop_all()
    offline = reach()
    assert set(offline.values()) == {"failed: ConnectionRefusedError", "failed: ConnectionError"}, offline
