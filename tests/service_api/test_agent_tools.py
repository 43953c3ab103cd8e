"""Agent-chat apps with tools, through the Service API against a loopback model that calls them: the
function-calling loop, Dify's agent_thought / agent_message events, thoughts recorded per round, tool
errors answered back to the model, and the round limit."""

from __future__ import annotations

import json

from apps.models import Message, MessageAgentThought
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import FakeToolCall, Reply

MATHS = {
    "provider_type": "builtin",
    "provider_id": "maths",
    "provider_name": "maths",
    "tool_name": "eval_expression",
    "tool_parameters": {},
    "enabled": True,
}


def agent_config(*tools: dict, max_iteration: int = 5) -> dict:
    return {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "You are a careful calculator.",
        "prompt_type": "simple",
        "user_input_form": [],
        "agent_mode": {
            "enabled": True,
            "strategy": "function_call",
            "max_iteration": max_iteration,
            "tools": list(tools),
        },
    }


def ask(client, query: str):
    response = client.post(
        "/chat-messages",
        json={
            "query": query,
            "inputs": {},
            "user": "ann",
            "response_mode": "streaming",
            "auto_generate_name": False,
        },
    )
    assert response.status_code == 200, response.text
    return events_of(response)


def test_the_agent_calls_a_tool_and_answers_with_its_result(setup, fake_llm):
    _, client = setup(mode="agent-chat", config=agent_config(MATHS))
    fake_llm.push(
        Reply.tools(FakeToolCall("eval_expression", {"expression": "6*7"}, id="call_1"), route="chat"),
        Reply(text="The answer is 42.", route="chat"),
    )
    events = ask(client, "What is six times seven?")
    names = [e["event"] for e in events]
    # round 1: an empty thought, the thought with the tool call, then with its observation;
    # round 2: an empty thought, the answer streamed, the thought with the answer; then message_end
    assert names[:3] == ["agent_thought"] * 3
    assert names[3] == "agent_thought" and names[-2:] == ["agent_thought", "message_end"]
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "The answer is 42."
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    called = thoughts[1]
    assert called["position"] == 1 and called["tool"] == "eval_expression"
    assert json.loads(called["tool_input"]) == {"eval_expression": {"expression": "6*7"}}
    assert called["tool_labels"]["eval_expression"]["en_US"]
    observed = thoughts[2]
    observation = json.loads(observed["observation"])["eval_expression"]
    assert observed["id"] == called["id"] and observation.endswith("is 42")
    assert thoughts[-1]["position"] == 2 and thoughts[-1]["thought"] == "The answer is 42."
    # the model saw the function (fixed parameters aside), then the tool's answer as a tool message
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    (function,) = first["tools"]
    assert function["function"]["name"] == "eval_expression"
    assert "expression" in function["function"]["parameters"]["properties"]
    assert second["messages"][-2]["tool_calls"][0]["id"] == "call_1"
    tool_message = second["messages"][-1]
    assert (tool_message["role"], tool_message["content"], tool_message["tool_call_id"]) == (
        "tool",
        observation,
        "call_1",
    )
    # and the message keeps the answer, two thoughts and the summed usage
    end = events[-1]
    message = Message.objects.get(id=end["message_id"])
    assert message.answer == "The answer is 42." and message.status == "normal"
    rows = list(MessageAgentThought.objects.filter(message=message).order_by("position"))
    assert [r.position for r in rows] == [1, 2]
    assert rows[0].tool == "eval_expression" and json.loads(rows[0].observation) == {
        "eval_expression": observation
    }
    assert end["metadata"]["usage"]["total_tokens"] == sum(r.tokens for r in rows) > 0


def test_a_failing_or_unknown_tool_answers_the_model_with_the_error(setup, fake_llm):
    _, client = setup(mode="agent-chat", config=agent_config(MATHS))
    fake_llm.push(
        Reply.tools(
            FakeToolCall("eval_expression", {"expression": "1/0"}, id="c1"),
            FakeToolCall("launch_rockets", {}, id="c2"),
            route="chat",
        ),
        Reply(text="I could not do that.", route="chat"),
    )
    events = ask(client, "Divide one by zero and launch rockets")
    assert events[-1]["event"] == "message_end"
    observation = json.loads([e for e in events if e["event"] == "agent_thought"][2]["observation"])
    assert observation["launch_rockets"] == "there is not a tool named launch_rockets"
    sent = fake_llm.requests_on("chat")[-1].json["messages"]
    tool_answers = {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}
    assert set(tool_answers) == {"c1", "c2"}
    assert tool_answers["c2"] == "there is not a tool named launch_rockets"
    assert tool_answers["c1"]  # the maths tool's own message for a bad expression
    message = Message.objects.get(id=events[-1]["message_id"])
    assert message.answer == "I could not do that."


def test_the_last_round_offers_no_tools(setup, fake_llm):
    _, client = setup(mode="agent-chat", config=agent_config(MATHS, max_iteration=1))
    fake_llm.push(
        Reply.tools(FakeToolCall("eval_expression", {"expression": "2+2"}, id="c1"), route="chat"),
        Reply(text="Four.", route="chat"),
    )
    events = ask(client, "2+2?")
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    assert first.get("tools") and not second.get("tools")
    assert [e["event"] for e in events][-1] == "message_end"
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "Four."


def test_a_disabled_or_missing_tool_is_not_offered(setup, fake_llm):
    missing = {**MATHS, "provider_id": "nowhere", "tool_name": "nothing"}
    disabled = {**MATHS, "enabled": False}
    _, client = setup(mode="agent-chat", config=agent_config(missing, disabled))
    fake_llm.push(Reply(text="Plain answer.", route="chat"))
    events = ask(client, "Hello")
    assert "tools" not in fake_llm.requests_on("chat")[-1].json
    assert [e["event"] for e in events] == [
        "agent_thought",
        "agent_message",
        "agent_message",
        "agent_thought",
        "message_end",
    ]


def test_blocking_mode_is_still_refused_for_agents(setup):
    _, client = setup(mode="agent-chat", config=agent_config(MATHS))
    response = client.post("/chat-messages", json={"query": "x", "user": "u", "response_mode": "blocking"})
    assert response.status_code == 400
