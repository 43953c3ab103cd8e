"""Files that tools return to an agent: a ``message_file`` event (Dify's ``id``, ``type``, ``belongs_to``,
``url``), the id in the round's ``message_files``, a ``MessageFile`` row, and the file served at
``/files/tools/<id>.<ext>`` behind a signed, expiring URL (curl-shaped requests: a tampered, expired or
missing signature is refused)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from apps.models import MessageFile
from files.models import ToolFile
from files.signing import sign_tool_file
from providers.tools.models import ApiToolProvider
from providers.tools.openapi import parse_schema
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import FakeToolCall, Reply
from tests.tools.conftest import Reply as PeerReply
from tests.tools.schemas import echo_api

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def agent_config() -> dict:
    tool = {
        "provider_type": "api",
        "provider_id": "echo",
        "provider_name": "echo",
        "tool_name": "getReport",
        "tool_parameters": {},
        "enabled": True,
    }
    return {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "",
        "prompt_type": "simple",
        "user_input_form": [],
        "agent_mode": {"enabled": True, "strategy": "function_call", "max_iteration": 3, "tools": [tool]},
    }


@pytest.fixture
def report_run(setup, fake_llm, http_server, allow_private, live_asgi):
    """An agent run whose API tool answered a PNG attachment: its events."""
    app, client = setup(mode="agent-chat", config=agent_config())
    schema = echo_api(http_server.url)
    row = ApiToolProvider(
        tenant=app.tenant,
        name="echo",
        schema=schema,
        tools=[b.to_dict() for b in parse_schema(schema).bundles],
    )
    row.credentials = {"auth_type": "none"}
    row.save()
    http_server.route(
        "GET",
        "/report",
        PeerReply(
            200, PNG, {"Content-Type": "image/png", "Content-Disposition": 'attachment; filename="r.png"'}
        ),
    )
    fake_llm.push(
        Reply.tools(FakeToolCall("getReport", {}, id="f1"), route="chat"),
        Reply(text="Here is your chart.", route="chat"),
    )
    response = client.post(
        "/chat-messages",
        json={
            "query": "Chart?",
            "inputs": {},
            "user": "ann",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    )
    assert response.status_code == 200, response.text
    return events_of(response)


def report_run_client(live_asgi, app) -> httpx.Client:
    from tests import factories

    key = factories.api_key_factory(app=app)
    return httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
    )


def test_a_tool_file_is_announced_recorded_and_served(report_run, live_asgi):
    events = report_run
    # then a message_file event in Dify's shape came before the answer
    (announced,) = [e for e in events if e["event"] == "message_file"]
    assert announced["type"] == "image" and announced["belongs_to"] == "assistant"
    assert announced["conversation_id"] and announced["message_id"] == events[-1]["message_id"]
    url = urlsplit(announced["url"])
    assert url.path.startswith("/files/tools/") and url.path.endswith(".png")
    assert set(parse_qs(url.query)) == {"timestamp", "nonce", "sign"}
    # the round that called the tool lists it
    thoughts = [e for e in events if e["event"] == "agent_thought" and e["tool"] == "getReport"]
    assert announced["id"] in thoughts[-1]["message_files"]
    # a MessageFile row points at the stored tool file
    row = MessageFile.objects.get(id=announced["id"])
    assert (row.belongs_to, row.transfer_method, row.type) == ("assistant", "tool_file", "image")
    tool_file_id = url.path.rsplit("/", 1)[1].split(".")[0]
    assert row.url == f"/files/tools/{tool_file_id}.png"
    assert ToolFile.objects.get(id=tool_file_id).mimetype == "image/png"
    # and the signed URL serves the bytes, without a login
    served = httpx.get(f"{live_asgi.url}{announced['url']}")
    assert served.status_code == 200
    assert served.content == PNG and served.headers["content-type"] == "image/png"
    # the conversation's messages list the file with a freshly signed URL that serves it too
    key_client = report_run_client(live_asgi, row.message.app)
    listed = key_client.get(
        "/messages", params={"conversation_id": announced["conversation_id"], "user": "ann"}
    )
    (listed_file,) = listed.json()["data"][0]["message_files"]
    assert listed_file["id"] == announced["id"] and listed_file["belongs_to"] == "assistant"
    assert httpx.get(f"{live_asgi.url}{listed_file['url']}").content == PNG
    attached = httpx.get(f"{live_asgi.url}{announced['url']}&as_attachment=true")
    assert attached.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")


def test_a_bad_expired_or_missing_signature_is_refused(report_run, live_asgi, settings):
    (announced,) = [e for e in report_run if e["event"] == "message_file"]
    url = urlsplit(announced["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{live_asgi.url}{url.path}"
    # a tampered signature
    bad = httpx.get(base, params={**query, "sign": query["sign"][:-4] + "AAAA"})
    assert bad.status_code == 403
    assert bad.json() == {"code": "forbidden", "message": "Invalid request.", "status": 403}
    # the signature of another file
    other = httpx.get(f"{live_asgi.url}/files/tools/{uuid.uuid4()}.png", params=query)
    assert other.status_code == 403
    # a signature older than FILES_ACCESS_TIMEOUT
    tool_file_id = url.path.rsplit("/", 1)[1].split(".")[0]
    old = sign_tool_file(tool_file_id=tool_file_id, extension=".png", now=time.time() - 301)
    assert httpx.get(f"{live_asgi.url}{old}").status_code == 403
    settings.FILES_ACCESS_TIMEOUT = 600
    assert httpx.get(f"{live_asgi.url}{old}").status_code == 200
    # no signature at all
    missing = httpx.get(base)
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_param"
    # a valid signature for a file that does not exist
    ghost = sign_tool_file(tool_file_id=str(uuid.uuid4()), extension=".png")
    gone = httpx.get(f"{live_asgi.url}{ghost}")
    assert gone.status_code == 404 and gone.json()["status"] == 404
