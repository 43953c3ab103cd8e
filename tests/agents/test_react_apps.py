"""ReAct in agent-chat apps: a model without tool calling (or ``agent_mode.strategy: react``) is prompted
in Dify's ReAct format and its Thought / Action / Final Answer text parsed, through the Service API
against a loopback model answering scripted text, malformed actions included."""

from __future__ import annotations

import json

from apps.models import Message, MessageAgentThought
from tests.agents.conftest import PLAIN_MODEL
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import Reply

MATHS = {
    "provider_type": "builtin",
    "provider_id": "maths",
    "provider_name": "maths",
    "tool_name": "eval_expression",
    "tool_parameters": {},
    "enabled": True,
}


def agent_config(
    *tools: dict, provider: str = "openai_api_compatible", model: str = PLAIN_MODEL, **mode
) -> dict:
    return {
        "model": {"provider": provider, "name": model, "mode": "chat", "completion_params": {}},
        "pre_prompt": "You are a careful calculator.",
        "prompt_type": "simple",
        "user_input_form": [],
        "agent_mode": {
            "enabled": True,
            "strategy": "function_call",
            "max_iteration": 5,
            "tools": list(tools),
            **mode,
        },
    }


def ask(client, query: str) -> list[dict]:
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


ACTION = 'Thought: I should compute it.\nAction:\n```json\n{"action": "eval_expression", "action_input": {"expression": "6*7"}}\n```'


def test_a_model_without_tool_calling_runs_the_react_loop(setup, fake_llm, plain_model):
    # given an agent app on a model whose features lack tool calling
    app, client = setup(mode="agent-chat", config=agent_config(MATHS))
    plain_model(app.tenant)
    fake_llm.push(
        Reply(text=ACTION, route="chat"),
        Reply(text="Thought: I know what to respond\nFinal Answer: It is 42.", route="chat"),
    )
    # when it is asked
    events = ask(client, "What is six times seven?")
    # then the model saw no functions but Dify's ReAct prompt naming the tool, and stops at Observation
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    assert not first.get("tools")
    system = first["messages"][0]["content"]
    assert first["messages"][0]["role"] == "system"
    assert "You are a careful calculator." in system and '"eval_expression"' in system
    assert 'Valid "action" values: "Final Answer" or "eval_expression"' in system
    assert "Observation" in first["stop"]
    assert first["messages"][-1] == {"role": "user", "content": "Question: What is six times seven?"}
    # the second round carries the scratchpad with the tool's observation, then "continue"
    assistant, cont = second["messages"][-2:]
    assert assistant["role"] == "assistant" and "Observation: " in assistant["content"]
    assert "is 42" in assistant["content"].split("Observation: ", 1)[1]
    assert cont == {"role": "user", "content": "continue"}
    # the events: thoughts with Dify's fields, the answer as agent_message, then message_end
    assert events[-1]["event"] == "message_end"
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "It is 42."
    thoughts = [e for e in events if e["event"] == "agent_thought"]
    called = next(t for t in thoughts if t["tool"])
    assert called["tool"] == "eval_expression" and called["thought"] == "I should compute it."
    assert json.loads(called["tool_input"]) == {"eval_expression": {"expression": "6*7"}}
    assert json.loads(called["observation"])["eval_expression"].endswith("is 42")
    assert called["tool_labels"]["eval_expression"]["en_US"]
    # and the rows: one thought per round, the answer on the message
    message = Message.objects.get(id=events[-1]["message_id"])
    assert message.answer == "It is 42." and message.status == "normal"
    rows = list(MessageAgentThought.objects.filter(message=message).order_by("position"))
    assert [r.position for r in rows] == [1, 2]
    assert rows[0].tool == "eval_expression" and "is 42" in json.loads(rows[0].observation)["eval_expression"]
    assert rows[1].tool == "" and rows[1].thought == "I know what to respond"


def test_malformed_actions_are_answered_and_the_loop_goes_on(setup, fake_llm, plain_model):
    app, client = setup(mode="agent-chat", config=agent_config(MATHS))
    plain_model(app.tenant)
    fake_llm.push(
        # a blob cut short: no JSON can be read
        Reply(
            text='Thought: let me try\nAction: {"action": "eval_expression", "action_input": {"expr',
            route="chat",
        ),
        # a tool that does not exist, with single quotes and a trailing comma
        Reply(text="Action:\n```\n{'action': 'launch_rockets', 'action_input': {},}\n```", route="chat"),
        # LangChain's line format, a bare value for the one parameter
        Reply(text='Thought: again\nAction: eval_expression\nAction Input: "2+3"', route="chat"),
        Reply(text="Final Answer: Five.", route="chat"),
    )
    events = ask(client, "Add two and three")
    assert events[-1]["event"] == "message_end", events[-1]
    requests = [r.json for r in fake_llm.requests_on("chat")[-4:]]
    pads = [r["messages"][-2]["content"] for r in requests[1:]]
    assert "Observation: could not read the action" in pads[0]
    assert "Observation: there is not a tool named launch_rockets" in pads[1]
    assert "is 5" in pads[2].rsplit("Observation: ", 1)[1]
    message = Message.objects.get(id=events[-1]["message_id"])
    assert message.answer == "Five."
    rows = list(MessageAgentThought.objects.filter(message=message).order_by("position"))
    assert [r.tool for r in rows] == ["", "launch_rockets", "eval_expression", ""]
    assert rows[0].observation.startswith("could not read the action")
    assert json.loads(rows[2].tool_input) == {"eval_expression": "2+3"}


def test_text_without_an_action_is_the_answer(setup, fake_llm, plain_model):
    app, client = setup(mode="agent-chat", config=agent_config(MATHS))
    plain_model(app.tenant)
    fake_llm.push(Reply(text="Hello! How can I help?", route="chat"))
    events = ask(client, "Hi")
    assert "".join(e["answer"] for e in events if e["event"] == "agent_message") == "Hello! How can I help?"
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "Hello! How can I help?"


def test_the_react_strategy_is_used_even_on_a_model_with_tool_calling(setup, fake_llm):
    _, client = setup(
        mode="agent-chat",
        config=agent_config(MATHS, provider="openai", model="gpt-4o-mini", strategy="react"),
    )
    fake_llm.push(
        Reply(
            text='```json\n{"action": "Final Answer", "action_input": "Nothing to compute."}\n```',
            route="chat",
        )
    )
    events = ask(client, "Hi")
    (request,) = [r.json for r in fake_llm.requests_on("chat")[-1:]]
    assert not request.get("tools") and "Final Answer" in request["messages"][0]["content"]
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "Nothing to compute."


def test_the_rounds_run_out_on_an_action(setup, fake_llm, plain_model):
    # given one tool round at most: the second (last) round describes no tools, and the model keeps acting
    app, client = setup(mode="agent-chat", config=agent_config(MATHS, max_iteration=1))
    plain_model(app.tenant)
    fake_llm.push(Reply(text=ACTION, route="chat"), Reply(text=ACTION, route="chat"))
    events = ask(client, "Compute")
    last = fake_llm.requests_on("chat")[-1].json
    assert '"eval_expression"' not in last["messages"][0]["content"]
    # then the run still ends, answering the model's last thought
    assert events[-1]["event"] == "message_end"
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "I should compute it."


def test_a_final_answer_line_streams_as_the_model_writes_it(setup, fake_llm, plain_model):
    app, client = setup(mode="agent-chat", config=agent_config(MATHS))
    plain_model(app.tenant)
    fake_llm.push(Reply(text="Thought: I know it.\nFinal Answer: It is forty two, for sure. ", route="chat"))
    events = ask(client, "What is six times seven?")
    pieces = [e["answer"] for e in events if e["event"] == "agent_message"]
    # word by word from the loopback model: several agent_message events, none of the thought in them
    assert len(pieces) > 3, pieces
    assert "".join(pieces) == "It is forty two, for sure."
    assert Message.objects.get(id=events[-1]["message_id"]).answer == "It is forty two, for sure."
