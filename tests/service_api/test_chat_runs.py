"""Chat, agent-chat and completion apps through the Service API, against a loopback OpenAI-compatible
model server: prompts, streaming events, usage, history, errors mid-stream, stop and limits."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from apps.models import Conversation, Message, MessageAgentThought
from tests.service_api.configs import CHAT_CONFIG as CONFIG
from tests.support.fake_llm import Reply


def sent_for(fake_llm, query: str) -> dict:
    """The chat request whose last message is ``query`` (title generation makes requests of its own)."""
    for request in reversed(fake_llm.requests):
        body = request.json
        messages = body.get("messages") or []
        if messages and messages[-1].get("content") == query:
            return body
    raise AssertionError(f"no model request ended with {query!r}")


def events_of(response: httpx.Response) -> list[dict]:
    return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_blocking_chat_sends_difys_prompt_and_records_the_message(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply(text="Hello from the model", usage=(12, 4)))
    response = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "Acme"},
            "query": "Hi there",
            "user": "alice",
            "response_mode": "blocking",
            "auto_generate_name": False,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["event"] == "message" and body["mode"] == "chat" and body["answer"] == "Hello from the model"
    usage = body["metadata"]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (12, 4, 16)
    sent = sent_for(fake_llm, "Hi there")
    assert sent["messages"] == [
        {"role": "system", "content": "You are a helpful assistant for Acme.\n"},
        {"role": "user", "content": "Hi there"},
    ]
    assert sent["temperature"] == 0.3 and sent["max_tokens"] == 256
    message = Message.objects.get(id=body["message_id"])
    assert (message.answer, message.message_tokens, message.answer_tokens) == ("Hello from the model", 12, 4)
    conversation = Conversation.objects.get(id=body["conversation_id"])
    assert conversation.introduction == "Welcome to Acme!" and conversation.dialogue_count == 1
    assert conversation.from_end_user.session_id == "alice"


def test_streaming_chat_events_and_history_on_the_next_turn(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply(text="one two three", chunks=3))
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "Acme"},
            "query": "count",
            "user": "bob",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = events_of(response)
    names = [e["event"] for e in events]
    assert names == ["message", "message", "message", "message_end"]
    assert "".join(e["answer"] for e in events[:-1]) == "one two three"
    first = events[0]
    assert {"task_id", "id", "message_id", "conversation_id", "created_at", "answer"} <= set(first)
    assert all(e["message_id"] == first["message_id"] for e in events)
    assert events[-1]["metadata"]["usage"]["total_tokens"] > 0
    # the second turn carries the first one as history
    fake_llm.push(Reply(text="four"))
    second = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "Acme"},
            "query": "more",
            "user": "bob",
            "conversation_id": first["conversation_id"],
        },
    )
    assert second.json()["conversation_id"] == first["conversation_id"]
    sent = sent_for(fake_llm, "more")["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"] == "count" and sent[2]["content"] == "one two three"
    history = client.get(
        "/messages", params={"user": "bob", "conversation_id": first["conversation_id"]}
    ).json()
    assert [m["answer"] for m in history["data"]] == ["one two three", "four"]
    assert Conversation.objects.get(id=first["conversation_id"]).dialogue_count == 2


def test_bad_input_is_refused_before_anything_is_stored(setup):
    _, client = setup()
    cases = [
        ({"inputs": {}, "query": "hi", "user": "u"}, "company is required in input form"),
        (
            {"inputs": {"company": "x" * 21}, "query": "hi", "user": "u"},
            "company in input form must be less than",
        ),
        ({"inputs": {"company": 42}, "query": "hi", "user": "u"}, "company in input form must be a string"),
        ({"inputs": {"company": "A"}, "query": "", "user": "u"}, "query"),
        (
            {"inputs": {"company": "A"}, "query": "hi", "user": "u", "conversation_id": "nope"},
            "conversation_id",
        ),
    ]
    for payload, message in cases:
        response = client.post("/chat-messages", json=payload)
        assert response.status_code == 400, payload
        assert response.json()["code"] == "invalid_param" and message in response.json()["message"]
    unknown = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "hi",
            "user": "u",
            "conversation_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert unknown.status_code == 404 and unknown.json()["message"] == "Conversation Not Exists."
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_another_users_conversation_is_not_found(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply(text="hi"))
    conversation_id = client.post(
        "/chat-messages",
        json={"inputs": {"company": "A"}, "query": "hi", "user": "alice", "auto_generate_name": False},
    ).json()["conversation_id"]
    response = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "hi",
            "user": "mallory",
            "conversation_id": conversation_id,
        },
    )
    assert response.status_code == 404
    assert Message.objects.filter(conversation_id=conversation_id).count() == 1


def test_model_error_mid_stream_is_an_error_event_and_the_message_keeps_its_state(setup, fake_llm):
    _, client = setup()
    fake_llm.push(
        Reply(text="alpha beta gamma delta", chunks=4, stream_error=("server_error", "upstream broke"))
    )
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "go",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        assert response.status_code == 200
        events = events_of(response)
    assert events[-1]["event"] == "error" and "task_id" not in events[-1]
    assert events[-1]["status"] >= 400 and events[-1]["message"]
    assert "message_end" not in [e["event"] for e in events]
    message = Message.objects.get(id=events[0]["message_id"])
    assert message.status == "error" and message.error
    assert message.answer == "".join(e.get("answer", "") for e in events if e["event"] == "message")


def test_a_model_that_refuses_the_key_gives_a_clear_blocking_error(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply.error(401, "Incorrect API key provided"))
    response = client.post(
        "/chat-messages",
        json={"inputs": {"company": "A"}, "query": "go", "user": "u", "auto_generate_name": False},
    )
    assert 400 <= response.status_code < 500
    assert response.json()["code"] and "sk-test" not in response.text


def test_stop_ends_the_stream_and_keeps_the_partial_answer(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply(text=" ".join(f"w{i}" for i in range(40)), chunks=40, chunk_delay=0.05))
    seen: list[dict] = []

    def stop_after_first_chunk() -> None:
        while not seen:
            time.sleep(0.01)
        client.post(f"/chat-messages/{seen[0]['task_id']}/stop", json={"user": "u"})

    stopper = threading.Thread(target=stop_after_first_chunk)
    stopper.start()
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "go",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
    stopper.join()
    assert seen[-1]["event"] == "message_end"
    streamed = "".join(e.get("answer", "") for e in seen if e["event"] == "message")
    assert 0 < len(streamed.split()) < 40
    assert Message.objects.get(id=seen[0]["message_id"]).answer == streamed


def test_completion_app(setup, fake_llm):
    config = {
        **CONFIG,
        "pre_prompt": "Translate to French: {{text}}",
        "user_input_form": [{"paragraph": {"label": "Text", "variable": "text", "required": True}}],
    }
    _, client = setup(mode="completion", config=config)
    fake_llm.push(Reply(text="Bonjour"))
    body = client.post("/completion-messages", json={"inputs": {"text": "Hello"}, "user": "u"}).json()
    assert body["answer"] == "Bonjour" and body["mode"] == "completion" and "conversation_id" not in body
    sent = fake_llm.requests[-1].json["messages"]
    assert sent == [{"role": "user", "content": "Translate to French: Hello\n"}]


def test_agent_chat_streams_agent_events_and_refuses_blocking(setup, fake_llm):
    app, client = setup(mode="agent-chat")
    blocking = client.post("/chat-messages", json={"inputs": {"company": "A"}, "query": "hi", "user": "u"})
    assert blocking.status_code == 400
    fake_llm.push(Reply(text="thinking done", chunks=2))
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "hi",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        events = events_of(response)
    names = [e["event"] for e in events]
    assert names == ["agent_thought", "agent_message", "agent_message", "agent_thought", "message_end"]
    assert events[3]["thought"] == "thinking done" and events[0]["id"] == events[3]["id"]
    assert MessageAgentThought.objects.get(message_id=events[-1]["message_id"]).thought == "thinking done"
    assert app.mode == "agent-chat"


def test_concurrency_limit_answers_429(setup, fake_llm):
    app, client = setup()
    app.max_active_requests = 1
    app.save()
    fake_llm.push(Reply(text="slow answer here", chunks=3, chunk_delay=0.3))
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "1",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as first:
        lines = first.iter_lines()
        next(line for line in lines if line.startswith("data: "))
        second = client.post(
            "/chat-messages",
            json={"inputs": {"company": "A"}, "query": "2", "user": "u", "auto_generate_name": False},
        )
        assert second.status_code == 429 and second.json()["code"] == "too_many_requests"
        list(lines)
    fake_llm.push(Reply(text="ok"))
    assert (
        client.post(
            "/chat-messages",
            json={"inputs": {"company": "A"}, "query": "3", "user": "u", "auto_generate_name": False},
        ).status_code
        == 200
    )


def test_conversation_gets_a_generated_title(setup, fake_llm):
    _, client = setup()
    fake_llm.push(Reply(text="an answer"), Reply(text="Greeting the assistant"))
    conversation_id = client.post(
        "/chat-messages", json={"inputs": {"company": "A"}, "query": "hello!", "user": "u"}
    ).json()["conversation_id"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        name = Conversation.objects.get(id=conversation_id).name
        if name != "New conversation":
            break
        time.sleep(0.05)
    assert name == "Greeting the assistant"


def test_annotation_reply_answers_without_the_model(setup, fake_llm, owner_of):
    from apps.models import AppAnnotationHitHistory, AppAnnotationSetting, MessageAnnotation

    app, client = setup()
    owner = owner_of(app)
    # served once before reply is on: the process now holds the app without a reply setting
    fake_llm.push(Reply(text="before", route="chat"))
    # no title generation: on Celery it would call the model after chats_before is counted
    question = {
        "inputs": {"company": "A"},
        "query": "What are your hours?",
        "user": "u",
        "auto_generate_name": False,
    }
    assert client.post("/chat-messages", json=question).json()["answer"] == "before"
    MessageAnnotation.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        question="What are your hours?",
        content="We are open 9 to 5.",
        account_id=owner.id,
    )
    AppAnnotationSetting.objects.create(
        tenant_id=app.tenant_id,
        app=app,
        enabled=True,
        score_threshold=0.99,
        embedding_provider_name="openai",
        embedding_model_name="text-embedding-3-small",
    )
    chats_before = len(fake_llm.requests_on("chat"))
    # the fake embeds identical texts identically: an exact question scores 1.0
    body = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "What are your hours?",
            "user": "u",
            "auto_generate_name": False,
        },
    ).json()
    assert body["answer"] == "We are open 9 to 5."
    assert body["metadata"]["annotation_reply"] == {
        "id": str(MessageAnnotation.objects.get().id),
        "account": {"id": str(owner.id), "name": owner.name},
    }
    assert len(fake_llm.requests_on("chat")) == chats_before  # no model call
    assert MessageAnnotation.objects.get().hit_count == 1
    assert AppAnnotationHitHistory.objects.get().score == pytest.approx(1.0)
    # a different question goes to the model
    fake_llm.push(Reply(text="model answer", route="chat"))
    other = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "Something else",
            "user": "u",
            "auto_generate_name": False,
        },
    ).json()
    assert other["answer"] == "model answer" and "annotation_reply" not in other["metadata"]
    # turned off (a bulk update, no model signal): the same question goes to the model again
    assert client.post("/apps/annotation-reply/disable", json={}).status_code == 200
    fake_llm.push(Reply(text="model again", route="chat"))
    again = client.post("/chat-messages", json=question).json()
    assert again["answer"] == "model again" and "annotation_reply" not in again["metadata"]


def test_keyword_moderation_on_input_and_output(setup, fake_llm):
    config = {
        **CONFIG,
        "sensitive_word_avoidance": {
            "enabled": True,
            "type": "keywords",
            "config": {
                "keywords": "forbidden\nsecret plan",
                "inputs_config": {"enabled": True, "preset_response": "I can't talk about that."},
                "outputs_config": {"enabled": True, "preset_response": "[redacted]"},
            },
        },
    }
    _, client = setup(config=config)
    blocked = client.post(
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "tell me the FORBIDDEN",
            "user": "u",
            "auto_generate_name": False,
        },
    ).json()
    assert blocked["answer"] == "I can't talk about that."
    fake_llm.push(Reply(text="here is the secret plan", chunks=2))
    with client.stream(
        "POST",
        "/chat-messages",
        json={
            "inputs": {"company": "A"},
            "query": "plans?",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        events = events_of(response)
    names = [e["event"] for e in events]
    assert names[-2:] == ["message_replace", "message_end"] and events[-2]["answer"] == "[redacted]"
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "[redacted]"


def test_openai_moderation_blocks_flagged_input(setup, fake_llm):
    config = {
        **CONFIG,
        "sensitive_word_avoidance": {
            "enabled": True,
            "type": "openai_moderation",
            "config": {
                "inputs_config": {"enabled": True, "preset_response": "Let's keep it friendly."},
                "outputs_config": {"enabled": False},
            },
        },
    }
    _, client = setup(config=config)
    fake_llm.moderation_words = {"nasty": "harassment"}
    try:
        blocked = client.post(
            "/chat-messages",
            json={
                "inputs": {"company": "A"},
                "query": "a nasty word",
                "user": "u",
                "auto_generate_name": False,
            },
        ).json()
        assert blocked["answer"] == "Let's keep it friendly."
        fake_llm.push(Reply(text="sure", route="chat"))
        fine = client.post(
            "/chat-messages",
            json={
                "inputs": {"company": "A"},
                "query": "a kind word",
                "user": "u",
                "auto_generate_name": False,
            },
        ).json()
        assert fine["answer"] == "sure"
        assert len(fake_llm.requests_on("moderations")) == 2
    finally:
        fake_llm.reset()
