"""The OpenAI-compatible endpoints (issue 16), driven by the official ``openai`` SDK against the live server:
chat, agent, workflow and chatflow apps, blocking and streaming, Chat Completions and Responses, the
documented mapping of messages to query/history/inputs/conversation, usage, and errors in OpenAI's shape."""

from __future__ import annotations

import httpx
import openai
import pytest

from apps.models import Conversation, Message
from tests.engine.helpers import answer, chain, end, graph, node, start, template
from tests.service_api.test_agent_tools import MATHS, agent_config
from tests.support.fake_llm import FakeToolCall, Reply
from workflows.models import WorkflowRun

MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}


def sdk(client: httpx.Client) -> openai.OpenAI:
    """The official SDK pointed at our server with the app's key (the key of the ``setup`` client)."""
    key = client.headers["Authorization"].split(" ", 1)[1]
    return openai.OpenAI(base_url=str(client.base_url), api_key=key, max_retries=0, timeout=15)


def model_requests(fake_llm) -> list[dict]:
    return [r.json for r in fake_llm.requests_on("chat")]


def chatflow_with_memory() -> dict:
    """Start -> LLM (memory on, the query as the user turn) -> Answer."""
    llm = node(
        "llm",
        "llm",
        model=MODEL,
        prompt_template=[{"role": "system", "text": "Be brief."}],
        memory={"window": {"enabled": False}, "query_prompt_template": "{{#sys.query#}}"},
        context={"enabled": False},
    )
    return graph([start(), llm, answer("answer", "{{#llm.text#}}")], chain("start", "llm", "answer"))


# --- models and errors --------------------------------------------------------------------------------------


def test_models_list_the_app_and_a_bad_key_or_model_answers_in_openais_shape(setup):
    app, client = setup()
    models = sdk(client).models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [(str(app.id), "model", "dify")]

    bad_key = openai.OpenAI(base_url=str(client.base_url), api_key="app-nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as denied:
        bad_key.chat.completions.create(model=str(app.id), messages=[{"role": "user", "content": "hi"}])
    assert denied.value.status_code == 401
    assert denied.value.code == "invalid_api_key" and denied.value.type == "invalid_request_error"

    with pytest.raises(openai.NotFoundError) as missing:
        sdk(client).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.code == "model_not_found" and missing.value.param == "model"
    assert str(app.id) in missing.value.message
    # nothing ran, and Dify's own paths keep Dify's error body
    assert not Message.objects.exists()
    dify = httpx.post(
        f"{client.base_url}chat-messages", json={}, headers={"Authorization": "Bearer app-nope"}
    )
    assert dify.status_code == 401 and set(dify.json()) == {"code", "message", "status"}


def test_bad_bodies_are_400_invalid_request_errors(setup):
    app, client = setup()
    cases = [
        {"model": str(app.id), "messages": []},
        {"model": str(app.id), "messages": [{"role": "assistant", "content": "I spoke last"}]},
        {"messages": [{"role": "user", "content": "no model"}]},
        {"model": str(app.id), "messages": [{"role": "user", "content": "x"}], "conversation_id": "nope"},
    ]
    for body in cases:
        response = client.post("/chat/completions", json=body)
        assert response.status_code == 400, body
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["message"]
    # Dify's own validation (a missing required input) comes back in OpenAI's shape too
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(client).chat.completions.create(model=str(app.id), messages=[{"role": "user", "content": "hi"}])
    assert refused.value.code == "invalid_param" and "company" in refused.value.message
    assert client.get("/chat/completions").json()["error"]["code"] == "method_not_allowed"


# --- chat apps ----------------------------------------------------------------------------------------------


def test_blocking_chat_maps_messages_to_query_history_and_inputs(setup, fake_llm):
    app, client = setup()
    fake_llm.push(Reply(text="Bonjour!", usage=(12, 4)))
    completion = sdk(client).chat.completions.create(
        model=str(app.id),
        messages=[
            {"role": "system", "content": "ignored: the app's own prompt applies"},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi, how can I help?"},
            {"role": "user", "content": [{"type": "text", "text": "Say it in French"}]},
        ],
        user="carol",
        metadata={"inputs": '{"company": "Acme"}'},
        extra_body={"auto_generate_name": False},
    )
    assert completion.object == "chat.completion" and completion.model == str(app.id)
    assert completion.choices[0].message.content == "Bonjour!"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 4)
    assert completion.usage.total_tokens == 16
    sent = model_requests(fake_llm)[-1]
    assert sent["messages"] == [
        {"role": "system", "content": "You are a helpful assistant for Acme.\n"},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi, how can I help?"},
        {"role": "user", "content": "Say it in French"},
    ]
    # the run is the Service API's: a message of end user `carol` in a new conversation
    extra = completion.model_extra
    message = Message.objects.get(id=extra["message_id"])
    assert (message.query, message.answer, message.from_end_user.session_id) == (
        "Say it in French",
        "Bonjour!",
        "carol",
    )
    assert str(message.conversation_id) == extra["conversation_id"] and completion.id.startswith("chatcmpl-")


def test_a_conversation_id_in_extra_body_continues_the_stored_conversation(setup, fake_llm):
    app, client = setup()
    api = sdk(client)
    first = api.chat.completions.create(
        model=app.name,  # the app's name names it too
        messages=[{"role": "user", "content": "My name is Ada"}],
        user="ada",
        extra_body={"inputs": {"company": "Acme"}, "auto_generate_name": False},
    )
    conversation_id = first.model_extra["conversation_id"]
    second = api.chat.completions.create(
        model=str(app.id),
        messages=[{"role": "user", "content": "What is my name?"}],
        user="ada",
        extra_body={"conversation_id": conversation_id},
    )
    assert second.model_extra["conversation_id"] == conversation_id
    assert [m["content"] for m in model_requests(fake_llm)[-1]["messages"][1:]] == [
        "My name is Ada",
        first.choices[0].message.content,
        "What is my name?",
    ]
    assert Conversation.objects.get(id=conversation_id).messages.count() == 2
    # another user cannot continue it
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(
            model=str(app.id),
            messages=[{"role": "user", "content": "hi"}],
            user="mallory",
            extra_body={"conversation_id": conversation_id},
        )


def test_streaming_chat_sends_openai_chunks_then_usage_then_done(setup, fake_llm):
    app, client = setup()
    fake_llm.push(Reply(text="one two three", chunks=3, usage=(7, 3)))
    stream = sdk(client).chat.completions.create(
        model=str(app.id),
        messages=[{"role": "user", "content": "count"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"inputs": {"company": "Acme"}, "auto_generate_name": False},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    assert chunks[-1].choices == [] and (chunks[-1].usage.prompt_tokens, chunks[-1].usage.total_tokens) == (
        7,
        10,
    )
    assert len({c.id for c in chunks}) == 1 and all(c.object == "chat.completion.chunk" for c in chunks)
    # on the wire: data frames only, the last one [DONE]
    fake_llm.push(Reply(text="again"))
    with client.stream(
        "POST",
        "/chat/completions",
        json={
            "model": str(app.id),
            "messages": [{"role": "user", "content": "again"}],
            "stream": True,
            "inputs": {"company": "Acme"},
        },
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [line for line in response.iter_lines() if line]
    assert frames[-1] == "data: [DONE]" and all(f.startswith(("data: ", ":")) for f in frames)


def test_a_model_failure_is_an_openai_error_blocking_and_inside_the_stream(setup, fake_llm):
    app, client = setup()
    api = sdk(client)
    fake_llm.push(Reply.error(400, "context too long", type="invalid_request_error", route="chat"))
    with pytest.raises(openai.APIStatusError) as failed:
        api.chat.completions.create(
            model=str(app.id),
            messages=[{"role": "user", "content": "x"}],
            extra_body={"inputs": {"company": "A"}},
        )
    assert failed.value.status_code == 400 and "context too long" in failed.value.message
    fake_llm.push(
        Reply(text="half an answer", stream_error=("server_error", "the model fell over"), route="chat")
    )
    stream = api.chat.completions.create(
        model=str(app.id),
        messages=[{"role": "user", "content": "y"}],
        stream=True,
        extra_body={"inputs": {"company": "A"}},
    )
    with pytest.raises(openai.APIError) as broken:
        list(stream)
    assert "fell over" in broken.value.message


# --- agents, workflows, chatflows -------------------------------------------------------------------------


def test_an_agent_app_runs_its_tool_and_answers_blocking_and_streaming(setup, fake_llm):
    app, client = setup(mode="agent-chat", config=agent_config(MATHS))
    api = sdk(client)
    for stream in (False, True):
        fake_llm.push(
            Reply.tools(FakeToolCall("eval_expression", {"expression": "6*7"}, id="call_1"), route="chat"),
            Reply(text="The answer is 42.", route="chat"),
        )
        if stream:
            chunks = list(
                api.chat.completions.create(
                    model=str(app.id),
                    messages=[{"role": "user", "content": "6 times 7?"}],
                    stream=True,
                    stream_options={"include_usage": True},
                    extra_body={"auto_generate_name": False},
                )
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            usage = chunks[-1].usage
        else:
            completion = api.chat.completions.create(
                model=str(app.id),
                messages=[{"role": "user", "content": "6 times 7?"}],
                extra_body={"auto_generate_name": False},
            )
            text, usage = completion.choices[0].message.content, completion.usage
        assert text == "The answer is 42."  # the tool call stays inside the app
        assert usage.total_tokens > 0
        assert model_requests(fake_llm)[-1]["messages"][-1]["role"] == "tool"


def test_a_workflow_app_takes_the_last_message_as_its_first_text_input(setup):
    app, client = setup(mode="workflow")
    api = sdk(client)
    completion = api.chat.completions.create(
        model=str(app.id), messages=[{"role": "user", "content": "héllo"}]
    )
    assert completion.choices[0].message.content == "héllo"
    run = WorkflowRun.objects.get(id=completion.model_extra["workflow_run_id"])
    assert (run.status, run.inputs["query"], run.triggered_from) == ("succeeded", "héllo", "app-run")
    # metadata.inputs wins over the message
    chunks = list(
        api.chat.completions.create(
            model=str(app.id),
            messages=[{"role": "user", "content": "ignored"}],
            metadata={"inputs": '{"query": "from inputs"}'},
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "from inputs"


def test_a_chatflow_gets_the_earlier_messages_as_memory(setup, fake_llm):
    app, client = setup(mode="advanced-chat")
    app.workflow.graph = chatflow_with_memory()
    app.workflow.save(update_fields=["graph"])
    fake_llm.push(Reply(text="You are Ada.", usage=(20, 4), route="chat"))
    completion = sdk(client).chat.completions.create(
        model=str(app.id),
        messages=[
            {"role": "user", "content": "I am Ada"},
            {"role": "assistant", "content": "Hello Ada"},
            {"role": "user", "content": "Who am I?"},
        ],
        extra_body={"auto_generate_name": False},
    )
    assert completion.choices[0].message.content == "You are Ada."
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (20, 4)
    sent = next(r for r in reversed(model_requests(fake_llm)) if r["messages"][-1]["content"] == "Who am I?")
    assert [(m["role"], m["content"]) for m in sent["messages"]] == [
        ("system", "Be brief."),
        ("user", "I am Ada"),
        ("assistant", "Hello Ada"),
        ("user", "Who am I?"),
    ]
    assert Message.objects.get(id=completion.model_extra["message_id"]).answer == "You are Ada."


# --- the Responses API ------------------------------------------------------------------------------------


def test_responses_blocking_then_previous_response_id_continues_the_conversation(setup, fake_llm):
    app, client = setup()
    api = sdk(client)
    fake_llm.push(Reply(text="Noted, Ada.", usage=(9, 3)))
    first = api.responses.create(
        model=str(app.id),
        input="My name is Ada",
        user="ada",
        extra_body={"inputs": {"company": "Acme"}, "auto_generate_name": False},
    )
    assert first.object == "response" and first.status == "completed" and first.id.startswith("resp_")
    assert first.output_text == "Noted, Ada."
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.total_tokens) == (9, 3, 12)
    second = api.responses.create(
        model=str(app.id),
        input=[{"role": "user", "content": [{"type": "input_text", "text": "My name?"}]}],
        previous_response_id=first.id,
        user="ada",
    )
    assert [m["content"] for m in model_requests(fake_llm)[-1]["messages"][1:]] == [
        "My name is Ada",
        "Noted, Ada.",
        "My name?",
    ]
    assert second.model_extra["conversation_id"] == first.model_extra["conversation_id"]
    with pytest.raises(openai.NotFoundError):
        api.responses.create(
            model=str(app.id), input="x", previous_response_id="resp_" + "0" * 32, user="ada"
        )


def test_responses_streaming_sends_typed_events_ending_with_completed(setup):
    app, client = setup(mode="workflow")
    events = list(sdk(client).responses.create(model=str(app.id), input="stream me", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "stream me"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "stream me"


def test_a_pinned_workflow_version_answers_through_the_openai_endpoint(setup):
    app, client = setup(mode="workflow")
    old = app.workflow
    old.pk = None
    old.version = "2025-01-01 00:00:00.000000"
    old.graph = graph(
        [
            {"id": "start", "data": app.workflow.graph["nodes"][0]["data"]},
            template("tpl", "v1: {{ q }}", q=["start", "query"]),
            end(query=["tpl", "output"]),
        ],
        chain("start", "tpl", "end"),
    )
    old.save()
    api = sdk(client)
    pinned = api.chat.completions.create(
        model=str(app.id),
        messages=[{"role": "user", "content": "x"}],
        extra_body={"workflow_id": str(old.id)},
    )
    latest = api.chat.completions.create(model=str(app.id), messages=[{"role": "user", "content": "x"}])
    assert (pinned.choices[0].message.content, latest.choices[0].message.content) == ("v1: x", "x")
    assert WorkflowRun.objects.get(id=pinned.model_extra["workflow_run_id"]).workflow_id == old.id
