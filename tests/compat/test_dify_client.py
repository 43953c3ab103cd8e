"""Dify's own Python SDK (`dify-client`) against the live server, every payload checked field by field
against ``../shared/contract/service-api.md`` (the key sets live in ``tests/compat/shapes.py``).

Every request goes through the SDK (release 0.1.10, plus the calls of later releases replayed on its
transport: see ``tests/compat/sdk.py``); responses are read as the SDK's users read them (``.json()``,
and the README's line loop for streams). Where our server differs from Dify the test carries
an ``xfail(strict=True)`` naming the mismatch while the server is not fixed (none now).

Long on purpose: one test per SDK call, in the SDK's own order, so coverage of the client reads at a glance.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from apps.models import Conversation, Message
from tests.compat import shapes
from tests.compat.sdk import (
    ChatClient,
    CompletionClient,
    DifyClient,
    WorkflowClient,
    iter_readme_events,
    readme_events,
)
from tests.engine.helpers import answer, chain, end, graph, node, start
from tests.support.fake_llm import FakeLLMServer, Reply
from workflows.models import WorkflowRun

MODEL = {
    "provider": "openai",
    "name": "gpt-4o-mini",
    "mode": "chat",
    "completion_params": {"max_tokens": 256},
}
USER_INPUT_FORM = [
    {"text-input": {"label": "Name", "variable": "name", "required": True, "max_length": 40, "default": ""}},
    {
        "select": {
            "label": "Tone",
            "variable": "tone",
            "required": False,
            "options": ["dry", "warm"],
            "default": "",
        }
    },
]
IMAGE_UPLOAD = {
    "image": {
        "enabled": True,
        "number_limits": 3,
        "detail": "high",
        "transfer_methods": ["remote_url", "local_file"],
    }
}


def chat_config(*, suggestions: bool = True) -> dict[str, Any]:
    return {
        "model": MODEL,
        "prompt_type": "simple",
        "pre_prompt": "You help {{name}}.",
        "user_input_form": USER_INPUT_FORM,
        "opening_statement": "Hi {{name}}!",
        "suggested_questions": ["What can you do?"],
        "suggested_questions_after_answer": {"enabled": suggestions},
        "file_upload": IMAGE_UPLOAD,
    }


COMPLETION_CONFIG = {
    "model": MODEL,
    "prompt_type": "simple",
    "pre_prompt": "Translate to French: {{query}}",
    "user_input_form": [
        {
            "paragraph": {
                "label": "Query",
                "variable": "query",
                "required": True,
                "max_length": 500,
                "default": "",
            }
        }
    ],
}
# Start -> LLM -> End: a workflow whose run lasts as long as the model streams (for stop).
LLM_WORKFLOW = graph(
    [
        start("q"),
        node(
            "llm",
            "llm",
            model=MODEL,
            prompt_template=[{"role": "user", "text": "{{#start.q#}}"}],
        ),
        end(text=["llm", "text"]),
    ],
    chain("start", "llm", "end"),
)
# A chatflow reading a conversation variable: Start -> Answer.
TOPIC = {
    "id": "2f1c4c34-0d4e-4d1e-9a51-2e0f3c1b7a10",
    "name": "topic",
    "value_type": "string",
    "value": "cats",
    "description": "what we talk about",
    "selector": ["conversation", "topic"],
}
CHATFLOW = graph(
    [start(), answer("answer", "{{#conversation.topic#}}: {{#sys.query#}}")],
    chain("start", "answer"),
)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.url}: {response.text}"
    return response.json() if response.content else None


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def model_idle(fake_llm: FakeLLMServer, requests: int) -> Callable[[], bool]:
    """The fake model has answered ``requests`` requests in all (e.g. a chat turn and its title)."""
    return lambda: len(fake_llm.requests) >= requests and all(r.done.is_set() for r in fake_llm.requests)


def assert_usage(usage: dict[str, Any], where: str) -> None:
    shapes.assert_has(usage, shapes.USAGE, where)
    for key in shapes.USAGE_PRICES:
        assert isinstance(usage[key], str), f"{where}.{key} must be a decimal string: {usage[key]!r}"
        Decimal(usage[key])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@pytest.fixture
def chat(workspace) -> tuple[Any, ChatClient]:
    app = workspace.app("chat", config=chat_config())
    return app, workspace.client(ChatClient, app)


def first_turn(client: ChatClient, query: str = "Hello there", user: str = "ada") -> dict[str, Any]:
    return ok(client.create_chat_message(inputs={"name": "Ada"}, query=query, user=user))


# --- chat: blocking and streaming --------------------------------------------------------------------


def test_blocking_chat_has_difys_blocking_shape(chat):
    _, client = chat
    # 0.1.10 sends `files: null` and no conversation_id on a first turn
    body = first_turn(client, "Héllo, wörld")
    shapes.assert_has(body, shapes.CHAT_BLOCKING, "chat blocking")
    assert (body["event"], body["mode"]) == ("message", "chat")
    assert body["answer"] == "You said: Héllo, wörld"
    assert body["id"] == body["message_id"]
    uuid.UUID(body["conversation_id"])
    assert isinstance(body["created_at"], int)
    shapes.assert_has(body["metadata"], shapes.MESSAGE_METADATA, "chat blocking metadata")
    assert body["metadata"]["retriever_resources"] == []
    assert_usage(body["metadata"]["usage"], "chat blocking metadata.usage")


def test_streaming_chat_parsed_like_the_sdk_readme(chat, fake_llm):
    _, client = chat
    fake_llm.push(Reply(text="Grüße aus dem Modell, Ada", chunks=4))
    response = client.create_chat_message(
        inputs={"name": "Ada"}, query="Stream please", user="ada", response_mode="streaming"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = readme_events(response)
    names = [e["event"] for e in events]
    assert names == ["message"] * 4 + ["message_end"]
    for event in events:
        shapes.assert_event(event, shapes.CHAT_ENVELOPE, "chat stream")
    assert "".join(e["answer"] for e in events[:-1]) == "Grüße aus dem Modell, Ada"
    first, last = events[0], events[-1]
    assert {e["task_id"] for e in events} == {first["task_id"]}
    assert {e["conversation_id"] for e in events} == {first["conversation_id"]}
    assert {e["message_id"] for e in events} == {first["message_id"]} == {e["id"] for e in events}
    shapes.assert_has(last["metadata"], shapes.MESSAGE_METADATA, "message_end.metadata")
    assert_usage(last["metadata"]["usage"], "message_end.metadata.usage")
    # the SDK passes conversation_id only when set: the next turn continues the same conversation
    second = ok(
        client.create_chat_message(
            inputs={"name": "Ada"}, query="Again", user="ada", conversation_id=first["conversation_id"]
        )
    )
    assert second["conversation_id"] == first["conversation_id"]


def test_stop_a_streaming_chat(chat, fake_llm):
    _, client = chat
    words = " ".join(f"w{i}" for i in range(60))
    fake_llm.push(Reply(text=words, chunk_delay=0.1))
    response = client.create_chat_message(
        inputs={"name": "Ada"}, query="Talk a lot", user="ada", response_mode="streaming"
    )
    stream = iter_readme_events(response)
    first = next(stream)
    shapes.assert_event(first, shapes.CHAT_ENVELOPE, "chat stream")
    assert ok(client.stop_message(first["task_id"], "ada")) == shapes.RESULT_SUCCESS
    rest = list(stream)
    assert rest[-1]["event"] == "message_end"
    shapes.assert_event(rest[-1], shapes.CHAT_ENVELOPE, "stopped chat stream")
    answer_text = first["answer"] + "".join(e.get("answer", "") for e in rest)
    assert len(answer_text.split()) < 60  # stopped early
    wait_until(lambda: Message.objects.get(id=first["message_id"]).answer == answer_text)


def test_a_model_error_mid_stream_is_an_error_event(chat, fake_llm):
    _, client = chat
    fake_llm.push(Reply(text="alpha beta", chunks=2, stream_error=("server_error", "upstream broke")))
    response = client.create_chat_message(
        inputs={"name": "Ada"}, query="break", user="ada", response_mode="streaming"
    )
    assert response.status_code == 200  # errors after the stream started are in-band
    events = readme_events(response)
    assert [e["event"] for e in events] == ["message", "message", "error"]
    for event in events:
        shapes.assert_event(event, shapes.CHAT_ENVELOPE, "chat stream")
    error = events[-1]
    assert isinstance(error["status"], int) and error["code"] and "upstream broke" in error["message"]
    message = Message.objects.get(id=error["message_id"])
    assert (message.status, message.answer) == ("error", "alpha beta")


def test_agent_chat_streams_agent_events_and_refuses_blocking(workspace, fake_llm):
    app = workspace.app("agent-chat", config=chat_config())
    client = workspace.client(ChatClient, app)
    fake_llm.push(Reply(text="thinking done", chunks=2))
    events = readme_events(
        client.create_chat_message(inputs={"name": "Ada"}, query="go", user="ada", response_mode="streaming")
    )
    names = [e["event"] for e in events]
    assert names[-1] == "message_end" and {"agent_thought", "agent_message"} <= set(names)
    for event in events:
        shapes.assert_event(event, shapes.CHAT_ENVELOPE, "agent-chat stream")
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "thinking done"
    blocking = client.create_chat_message(inputs={"name": "Ada"}, query="go", user="ada")
    assert blocking.status_code == 400
    assert blocking.json() == {
        "code": "invalid_param",
        "message": "Agent Chat App does not support blocking mode",
        "status": 400,
    }


# --- completion ----------------------------------------------------------------------------------------


def test_completion_blocking_and_streaming(workspace, fake_llm):
    app = workspace.app("completion", config=COMPLETION_CONFIG)
    client = workspace.client(CompletionClient, app)
    body = ok(
        client.create_completion_message(
            inputs={"query": "good morning"}, response_mode="blocking", user="ada"
        )
    )
    shapes.assert_has(body, shapes.COMPLETION_BLOCKING, "completion blocking")
    assert (body["event"], body["mode"]) == ("message", "completion")
    assert "conversation_id" not in body
    assert body["answer"].rstrip() == "You said: Translate to French: good morning"
    assert_usage(body["metadata"]["usage"], "completion blocking metadata.usage")

    fake_llm.push(Reply(text="bonjour le monde", chunks=3))
    response = client.create_completion_message(
        inputs={"query": "hello world"}, response_mode="streaming", user="ada"
    )
    events = readme_events(response)
    assert [e["event"] for e in events] == ["message"] * 3 + ["message_end"]
    for event in events:
        shapes.assert_event(event, shapes.COMPLETION_ENVELOPE, "completion stream")
    assert "".join(e["answer"] for e in events[:-1]) == "bonjour le monde"


def test_completion_routes_refuse_a_chat_app_with_difys_error_body(chat):
    _, chat_client = chat
    wrong = CompletionClient(chat_client.api_key, chat_client.base_url)  # a chat app's key
    response = wrong.create_completion_message(inputs={"query": "x"}, response_mode="blocking", user="ada")
    assert response.status_code == 400
    shapes.assert_has(response.json(), shapes.ERROR, "error body")
    assert (response.json()["code"], response.json()["status"]) == ("app_unavailable", 400)


# --- workflow --------------------------------------------------------------------------------------------


@pytest.fixture
def flow(workspace) -> tuple[Any, WorkflowClient]:
    app = workspace.app("workflow")  # Start(query) -> End(query)
    return app, workspace.client(WorkflowClient, app)


def test_workflow_blocking_run_and_get_result(flow):
    app, client = flow
    body = ok(client.run({"query": "héllo"}, response_mode="blocking", user="ada"))
    shapes.assert_has(body, shapes.WORKFLOW_BLOCKING, "workflow blocking")
    shapes.assert_has(body["data"], shapes.WORKFLOW_BLOCKING_DATA, "workflow blocking data")
    assert body["data"]["status"] == "succeeded" and body["data"]["outputs"] == {"query": "héllo"}
    assert body["data"]["id"] == body["workflow_run_id"]
    detail = ok(client.get_result(body["workflow_run_id"]))
    shapes.assert_has(detail, shapes.RUN_DETAIL, "workflow run detail")
    assert (detail["status"], detail["inputs"], detail["outputs"]) == (
        "succeeded",
        {"query": "héllo"},
        {"query": "héllo"},
    )
    pinned = ok(client.run_specific_workflow(str(app.workflow_id), {"query": "pinned"}, "blocking", "ada"))
    assert pinned["data"]["workflow_id"] == str(app.workflow_id)


def test_workflow_logs(flow):
    _, client = flow
    for word in ("alpha", "beta"):
        ok(client.run({"query": word}, response_mode="blocking", user="ada"))
    logs = ok(client.get_workflow_logs(limit=1))
    shapes.assert_has(logs, shapes.WORKFLOW_LOGS_PAGE, "workflow logs")
    assert (logs["total"], logs["has_more"], len(logs["data"])) == (2, True, 1)
    entry = logs["data"][0]
    shapes.assert_has(entry, shapes.WORKFLOW_LOG, "workflow log")
    shapes.assert_has(entry["workflow_run"], shapes.WORKFLOW_LOG_RUN, "workflow log.workflow_run")
    assert entry["created_from"] == "service-api" and entry["created_by_role"] == "end_user"
    assert ok(client.get_workflow_logs(keyword="alpha", status="succeeded"))["total"] == 1


def test_workflow_streaming_run_events(flow):
    _, client = flow
    response = client.run({"query": "stream me"}, user="ada")  # the SDK's default mode is streaming
    assert response.headers["content-type"].startswith("text/event-stream")
    events = readme_events(response)
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert {"node_started", "node_finished", "text_chunk"} <= set(names)
    for event in events:
        shapes.assert_event(event, shapes.WORKFLOW_ENVELOPE, "workflow stream")
    run_id = events[0]["workflow_run_id"]
    assert {e["workflow_run_id"] for e in events} == {run_id}
    assert "".join(e["data"]["text"] for e in events if e["event"] == "text_chunk") == "stream me"
    finished = events[-1]["data"]
    assert finished["status"] == "succeeded" and finished["outputs"] == {"query": "stream me"}
    assert ok(client.get_result(run_id))["status"] == "succeeded"


def test_stop_a_streaming_workflow(workspace, fake_llm):
    app = workspace.app("workflow", graph=LLM_WORKFLOW)
    client = workspace.client(WorkflowClient, app)
    fake_llm.push(Reply(text=" ".join(f"w{i}" for i in range(60)), chunk_delay=0.1))
    # run_specific_workflow is the SDK call that streams the response as it comes
    response = client.run_specific_workflow(str(app.workflow_id), {"q": "talk"}, "streaming", "ada")
    stream = iter_readme_events(response)
    started = next(stream)
    assert started["event"] == "workflow_started"
    wait_until(lambda: any(r.chunks_sent for r in fake_llm.requests_on("chat")))
    assert ok(client.stop(started["task_id"], "ada")) == shapes.RESULT_SUCCESS
    rest = list(stream)
    for event in rest:
        shapes.assert_event(event, shapes.WORKFLOW_ENVELOPE, "stopped workflow stream")
    assert rest[-1]["event"] == "workflow_finished" and rest[-1]["data"]["status"] == "stopped"
    detail = ok(client.get_result(started["workflow_run_id"]))
    assert detail["status"] == "stopped"
    assert WorkflowRun.objects.get(id=started["workflow_run_id"]).status == "stopped"


# --- conversations and messages -------------------------------------------------------------------------


def test_conversations_list_rename_and_delete(chat, fake_llm):
    _, client = chat
    turns = [first_turn(client, f"Question {i}") for i in range(3)]
    wait_until(model_idle(fake_llm, 6))  # three turns, three auto-generated titles
    # 0.1.10 sends user, and `pinned` when given (web-only: ignored); None values are dropped
    listed = ok(client.get_conversations(user="ada", limit=2, pinned=False))
    shapes.assert_has(listed, shapes.PAGE, "conversations page")
    assert listed["limit"] == 2 and listed["has_more"] is True
    for item in listed["data"]:
        shapes.assert_has(item, shapes.SIMPLE_CONVERSATION, "SimpleConversation")
    assert [c["id"] for c in listed["data"]] == [turns[2]["conversation_id"], turns[1]["conversation_id"]]
    assert listed["data"][0]["introduction"] == "Hi Ada!" and listed["data"][0]["inputs"]["name"] == "Ada"
    rest = ok(client.get_conversations(user="ada", last_id=listed["data"][-1]["id"]))
    assert [c["id"] for c in rest["data"]] == [turns[0]["conversation_id"]] and rest["has_more"] is False
    assert ok(client.get_conversations(user="bob"))["data"] == []

    target = turns[0]["conversation_id"]
    renamed = ok(client.rename_conversation(target, "Renamed by 0.1.10", "ada"))  # {name, user}
    shapes.assert_has(renamed, shapes.SIMPLE_CONVERSATION, "rename")
    assert renamed["name"] == "Renamed by 0.1.10" and renamed["id"] == target
    fake_llm.push(Reply(text="A Title From The Model"))
    auto = ok(client.rename_conversation_v012(target, None, True, "ada"))  # {name: null, auto_generate}
    shapes.assert_has(auto, shapes.SIMPLE_CONVERSATION, "auto rename")
    assert auto["name"] == "A Title From The Model"

    deleted = client.delete_conversation(target, "ada")  # JSON body on DELETE
    assert deleted.status_code == 204 and not deleted.content
    remaining = ok(client.get_conversations(user="ada"))
    assert target not in [c["id"] for c in remaining["data"]] and len(remaining["data"]) == 2
    gone = client.get_conversation_messages(user="ada", conversation_id=target)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    shapes.assert_has(gone.json(), shapes.ERROR, "404 body")


def test_message_history_pagination_and_feedback(chat, fake_llm):
    _, client = chat
    opening = first_turn(client, "one")
    conversation_id = opening["conversation_id"]
    for query in ("two", "three"):
        ok(
            client.create_chat_message(
                inputs={"name": "Ada"}, query=query, user="ada", conversation_id=conversation_id
            )
        )
    history = ok(client.get_conversation_messages(user="ada", conversation_id=conversation_id, limit=2))
    shapes.assert_has(history, shapes.PAGE, "messages page")
    assert history["limit"] == 2 and history["has_more"] is True
    assert [m["query"] for m in history["data"]] == ["two", "three"]  # oldest first within the page
    for item in history["data"]:
        shapes.assert_has(item, shapes.MESSAGE_LIST_ITEM, "MessageListItem")
        shapes.assert_has(item, shapes.MESSAGE_LIST_ITEM_NEWER, "MessageListItem (newer fields)")
        assert item["conversation_id"] == conversation_id and item["feedback"] is None
        assert item["status"] == "normal" and item["error"] is None
        assert item["message_files"] == [] and item["agent_thoughts"] == []
    assert history["data"][1]["answer"] == "You said: three"
    older = ok(
        client.get_conversation_messages(
            user="ada", conversation_id=conversation_id, first_id=history["data"][0]["id"], limit=2
        )
    )
    assert [m["query"] for m in older["data"]] == ["one"] and older["has_more"] is False

    message_id = opening["message_id"]
    assert ok(client.message_feedback(message_id, "like", "ada")) == shapes.RESULT_SUCCESS
    rated = ok(
        client.get_conversation_messages(
            user="ada", conversation_id=conversation_id, first_id=history["data"][0]["id"]
        )
    )
    assert rated["data"][0]["feedback"] == {"rating": "like"}
    assert ok(client.message_feedback(message_id, None, "ada")) == shapes.RESULT_SUCCESS  # revoke
    revoked = ok(
        client.get_conversation_messages(
            user="ada", conversation_id=conversation_id, first_id=history["data"][0]["id"]
        )
    )
    assert revoked["data"][0]["feedback"] is None
    stranger = client.message_feedback(message_id, "dislike", "mallory")
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"


def test_a_later_turn_may_send_empty_inputs(chat):
    _, client = chat
    opening = first_turn(client)
    later = client.create_chat_message(
        inputs={}, query="and then?", user="ada", conversation_id=opening["conversation_id"]
    )
    body = ok(later)
    assert body["conversation_id"] == opening["conversation_id"]


def test_a_later_chatflow_turn_may_send_empty_inputs(workspace):
    named = graph(
        [start("name"), answer("answer", "{{#start.name#}}: {{#sys.query#}}")], chain("start", "answer")
    )
    named["nodes"][0]["data"]["variables"][0]["required"] = True
    client = workspace.client(ChatClient, workspace.app("advanced-chat", graph=named))
    opening = ok(client.create_chat_message(inputs={"name": "Ada"}, query="hi", user="ada"))
    assert opening["answer"] == "Ada: hi"
    later = ok(
        client.create_chat_message(
            inputs={}, query="again", user="ada", conversation_id=opening["conversation_id"]
        )
    )
    assert later["answer"] == "Ada: again"


def test_message_list_items_carry_extra_contents(chat):
    _, client = chat
    opening = first_turn(client)
    history = ok(client.get_conversation_messages(user="ada", conversation_id=opening["conversation_id"]))
    shapes.assert_has(history["data"][0], shapes.MESSAGE_LIST_ITEM_EXTRA_CONTENTS, "MessageListItem")
    assert history["data"][0]["extra_contents"] == []


def test_conversation_variables_list_and_update(workspace):
    app = workspace.app("advanced-chat", graph=CHATFLOW, conversation_variables=[TOPIC])
    client = workspace.client(ChatClient, app)
    response = client.create_chat_message(inputs={}, query="hi", user="ada", response_mode="streaming")
    events = readme_events(response)
    for event in events:
        shapes.assert_event(event, shapes.CHATFLOW_ENVELOPE, "chatflow stream")
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and "message_end" in names and "workflow_finished" in names
    assert "".join(e["answer"] for e in events if e["event"] == "message") == "cats: hi"
    conversation_id = events[0]["conversation_id"]

    listed = ok(client.get_conversation_variables(conversation_id, "ada"))
    shapes.assert_has(listed, shapes.PAGE, "variables page")
    assert len(listed["data"]) == 1
    variable = listed["data"][0]
    shapes.assert_has(variable, shapes.CONVERSATION_VARIABLE, "conversation variable")
    assert (variable["name"], variable["value_type"], variable["value"]) == ("topic", "string", "cats")
    paged = ok(client.list_conversation_variables_with_pagination(conversation_id, "ada", page=1, limit=5))
    assert [v["id"] for v in paged["data"]] == [variable["id"]]  # `page` ignored

    for method, value in (("PATCH", "dogs"), ("PUT", "birds")):  # 0.1.11 and 0.1.12
        updated = ok(
            client.update_conversation_variable(conversation_id, variable["id"], value, "ada", method=method)
        )
        shapes.assert_has(updated, shapes.CONVERSATION_VARIABLE, f"{method} variable")
        assert updated["value"] == value
    again = ok(
        client.create_chat_message(inputs={}, query="and now?", user="ada", conversation_id=conversation_id)
    )
    shapes.assert_has(again, shapes.CHAT_BLOCKING, "chatflow blocking")
    assert again["mode"] == "advanced-chat" and again["answer"] == "birds: and now?"
    wrong_type = client.update_conversation_variable(conversation_id, variable["id"], 42, "ada")
    assert wrong_type.status_code == 400 and wrong_type.json()["code"] == "bad_request"


# --- files -------------------------------------------------------------------------------------------------


def upload_png(client: DifyClient, user: str = "ada") -> dict[str, Any]:
    return ok(client.file_upload(user, {"file": ("panda.png", PNG, "image/png")}), status=201)


def test_file_upload_is_201_and_the_file_reaches_the_model(chat, fake_llm):
    app, client = chat
    upload = upload_png(client)
    shapes.assert_has(upload, shapes.UPLOAD, "upload")
    assert (upload["name"], upload["size"], upload["extension"], upload["mime_type"]) == (
        "panda.png",
        len(PNG),
        "png",
        "image/png",
    )
    assert isinstance(upload["created_at"], int)
    files = [{"type": "image", "transfer_method": "local_file", "upload_file_id": upload["id"]}]
    body = ok(
        client.create_chat_message(inputs={"name": "Ada"}, query="What is this?", user="ada", files=files)
    )
    assert body["answer"] == "You said: What is this?"
    sent = next(r.json for r in fake_llm.requests_on("chat") if "What is this?" in str(r.json["messages"]))
    content = sent["messages"][-1]["content"]
    assert isinstance(content, list) and [part["type"] for part in content] == ["text", "image_url"]
    unknown = [{"type": "image", "transfer_method": "local_file", "upload_file_id": str(uuid.uuid4())}]
    refused = client.create_chat_message(inputs={"name": "Ada"}, query="?", user="ada", files=unknown)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_param"
    assert app.mode == "chat"


def test_a_file_sent_with_a_message_is_listed_in_its_history(chat):
    _, client = chat
    upload = upload_png(client)
    files = [{"type": "image", "transfer_method": "local_file", "upload_file_id": upload["id"]}]
    body = ok(client.create_chat_message(inputs={"name": "Ada"}, query="Look", user="ada", files=files))
    history = ok(client.get_conversation_messages(user="ada", conversation_id=body["conversation_id"]))
    message_files = history["data"][0]["message_files"]
    assert len(message_files) == 1
    shapes.assert_has(message_files[0], shapes.MESSAGE_FILE, "message_files[]")
    assert (message_files[0]["belongs_to"], message_files[0]["upload_file_id"]) == ("user", upload["id"])
    preview = client.get_file_preview(upload["id"])
    assert preview.status_code == 200 and preview.content == PNG


# --- app-level reads ------------------------------------------------------------------------------------------


def assert_parameters(body: dict[str, Any], where: str) -> None:
    shapes.assert_has(body, shapes.PARAMETERS, where)
    for switch in shapes.PARAMETER_SWITCHES:
        shapes.assert_has(body[switch], shapes.SWITCH, f"{where}.{switch}")
    shapes.assert_has(body["file_upload"]["image"], shapes.FILE_UPLOAD_IMAGE, f"{where}.file_upload.image")
    shapes.assert_has(body["system_parameters"], shapes.SYSTEM_PARAMETERS, f"{where}.system_parameters")
    for entry in body["user_input_form"]:
        assert isinstance(entry, dict) and len(entry) == 1, f"{where}: form entries are one-key objects"
        ((control, fields),) = entry.items()
        assert control in shapes.FORM_CONTROLS, f"{where}: unknown control {control!r}"
        shapes.assert_has(fields, shapes.FORM_ENTRY, f"{where}.user_input_form.{control}")


def test_parameters_meta_info_and_site(chat, workspace):
    app, client = chat
    parameters = ok(client.get_application_parameters(user="ada"))  # `user` sent, ignored
    assert_parameters(parameters, "chat parameters")
    assert parameters["opening_statement"] == "Hi {{name}}!"
    assert parameters["suggested_questions"] == ["What can you do?"]
    assert parameters["suggested_questions_after_answer"] == {"enabled": True}
    assert [next(iter(e)) for e in parameters["user_input_form"]] == ["text-input", "select"]
    assert parameters["user_input_form"][1]["select"]["options"] == ["dry", "warm"]
    assert parameters["file_upload"]["image"]["enabled"] is True

    flow = workspace.app("workflow")
    flow_parameters = ok(workspace.client(DifyClient, flow).get_application_parameters(user="ada"))
    assert_parameters(flow_parameters, "workflow parameters")
    assert flow_parameters["user_input_form"][0]["text-input"]["variable"] == "query"

    meta = ok(client.get_meta(user="ada"))
    shapes.assert_has(meta, shapes.META, "meta")
    assert meta["tool_icons"] == {}
    info = ok(client.get_app_info())
    shapes.assert_has(info, shapes.INFO, "info")
    assert (info["name"], info["mode"], info["tags"], info["author_name"]) == (
        app.name,
        "chat",
        [],
        "Ada Owner",
    )
    site = ok(client.get_app_site_info())
    shapes.assert_has(site, shapes.SITE, "site")
    assert site["title"] == app.name


def test_suggested_questions_with_the_feature_on_and_off(workspace, fake_llm):
    on_app = workspace.app("chat", config=chat_config(suggestions=True))
    client = workspace.client(ChatClient, on_app)
    body = first_turn(client)
    wait_until(model_idle(fake_llm, 2))  # the turn and its title
    fake_llm.push(Reply(text='["What next?", "Why?", "How much?"]'))
    suggested = ok(client.get_suggested(body["message_id"], "ada"))
    shapes.assert_has(suggested, shapes.SUGGESTED, "suggested")
    assert suggested == {"result": "success", "data": ["What next?", "Why?", "How much?"]}

    off_app = workspace.app("chat", config=chat_config(suggestions=False))
    off = workspace.client(ChatClient, off_app)
    message_id = first_turn(off)["message_id"]
    refused = off.get_suggested(message_id, "ada")
    assert refused.status_code == 403
    shapes.assert_has(refused.json(), shapes.ERROR, "403 body")
    assert refused.json()["code"] == "app_suggested_questions_after_answer_disabled"


def test_conversation_rows_match_what_the_sdk_saw(chat, fake_llm):
    """The records behind the payloads: one conversation per first turn, per end user."""
    app, client = chat
    first_turn(client, user="ada")
    first_turn(client, user="bob")
    wait_until(model_idle(fake_llm, 4))
    rows = Conversation.objects.filter(app=app).order_by("created_at")
    assert [r.from_end_user.session_id for r in rows] == ["ada", "bob"]
    assert all(r.from_source == "api" and r.invoke_from == "service-api" for r in rows)
