"""Real clients send ``Accept: text/event-stream`` (curl examples, ``fetch`` SSE helpers, SSE client
libraries) or a browser's ``Accept``; Dify ignores the header: streaming answers SSE, blocking answers
JSON (issue 11). Over a real socket, against the loopback model server."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.fake_llm import Reply

SSE = {"Accept": "text/event-stream"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def sse_events(response: httpx.Response) -> list[dict]:
    """Parse the stream as an SSE client does: frames split by a blank line, ``data:`` lines joined."""
    events, data = [], []
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append(json.loads("\n".join(data)))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        events.append(json.loads("\n".join(data)))
    return events


@pytest.mark.parametrize("accept", [SSE, BROWSER, {"Accept": "application/json"}])
def test_streaming_workflow_run_answers_sse_whatever_the_accept_header(setup, accept):
    _, client = setup(mode="workflow")
    with client.stream(
        "POST",
        "/workflows/run",
        headers=accept,
        json={"inputs": {"query": "hi"}, "user": "u1", "response_mode": "streaming"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [e["event"] for e in events]
    assert names[0] == "workflow_started" and names[-1] == "workflow_finished"
    assert "".join(e["data"]["text"] for e in events if e["event"] == "text_chunk") == "hi"
    assert events[-1]["data"]["status"] == "succeeded" and events[-1]["data"]["outputs"] == {"query": "hi"}


@pytest.mark.parametrize("accept", [SSE, BROWSER])
def test_streaming_chat_message_answers_sse_whatever_the_accept_header(setup, fake_llm, accept):
    _, client = setup()
    fake_llm.push(Reply(text="one two three", chunks=3))
    with client.stream(
        "POST",
        "/chat-messages",
        headers=accept,
        json={
            "inputs": {"company": "Acme"},
            "query": "count",
            "user": "bob",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert [e["event"] for e in events] == ["message", "message", "message", "message_end"]
    assert "".join(e["answer"] for e in events[:-1]) == "one two three"


def test_blocking_calls_answer_json_for_an_event_stream_accept_header(setup, fake_llm):
    _, chat = setup()
    fake_llm.push(Reply(text="Hello"))
    response = chat.post(
        "/chat-messages",
        headers=SSE,
        json={"inputs": {"company": "Acme"}, "query": "hi", "user": "bob", "auto_generate_name": False},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["answer"] == "Hello"
    _, flow = setup(mode="workflow")
    response = flow.post("/workflows/run", headers=SSE, json={"inputs": {"query": "hé"}, "user": "u1"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["data"]["outputs"] == {"query": "hé"}
    # an error answers Dify's JSON error body too, not 406
    response = flow.post("/workflows/run", headers=SSE, json={"inputs": {}, "user": "u1"})
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def test_agent_chat_which_only_streams_works_for_an_sse_client(setup, fake_llm):
    _, client = setup(mode="agent-chat")
    fake_llm.push(Reply(text="thinking done", chunks=2))
    with client.stream(
        "POST",
        "/chat-messages",
        headers=SSE,
        json={
            "inputs": {"company": "A"},
            "query": "hi",
            "user": "u",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert [e["event"] for e in events][-1] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "thinking done"
