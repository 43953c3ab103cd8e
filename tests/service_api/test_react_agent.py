"""ReAct agent nodes (models without tool calling): Dify's ReAct prompt, the scripted loopback model's
Thought / Action / Final Answer text parsed, malformed actions answered back to the model, the tool run
through the real port; plus the parser on the shapes models actually write."""

from __future__ import annotations

import pytest

from apps.runners.react import FinalAnswerStream, parse
from tests.service_api.test_agent_node import agent_graph, run_flow  # noqa: F401 - the shared fixture
from tests.support.fake_llm import Reply

ACTION = 'Thought: I need the calculator.\nAction:\n```json\n{"action": "eval_expression", "action_input": {"expression": "12*12"}}\n```'
FINAL = 'Thought: I know what to respond\nAction:\n```\n{"action": "Final Answer", "action_input": "It is 144."}\n```'


def test_a_react_agent_node_acts_observes_and_answers(run_flow, fake_llm) -> None:  # noqa: F811
    fake_llm.push(
        Reply(text="Thought: hmm\nAction: ```{not json at all```", route="chat"),
        Reply(text=ACTION, route="chat"),
        Reply(text=FINAL, route="chat"),
    )
    data = run_flow(agent_graph("ReAct"), "What is twelve squared?")
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"answer": "It is 144."}
    first, second, third = (r.json for r in fake_llm.requests_on("chat")[-3:])
    # Dify's prompt: the tools described in the system message, no function calling, stop at Observation
    system = first["messages"][0]["content"]
    assert system.startswith("Respond to the human as helpfully and accurately as possible.")
    assert "Use the calculator." in system and '"name": "eval_expression"' in system
    assert 'Valid "action" values: "Final Answer" or "eval_expression"' in system
    assert "tools" not in first and "Observation" in first["stop"]
    assert first["messages"][1] == {"role": "user", "content": "Question: What is twelve squared?"}
    # the malformed action was answered back, then the tool's result
    assert "Observation: could not read the action" in second["messages"][-1]["content"]
    assert third["messages"][-1]["content"].rstrip().endswith("is 144")
    assert "\nObservation: The result" in third["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("text", "action", "action_input", "answer"),
    [
        (ACTION, "eval_expression", {"expression": "12*12"}, None),
        (FINAL, None, None, "It is 144."),
        ('Thought: x\nAction: {"action": "calc", "action_input": {"a": 1,},}', "calc", {"a": 1}, None),
        ("Thought: x\nAction: {'action': 'calc', 'action_input': {'a': 2}}", "calc", {"a": 2}, None),
        ('Sure! {"Action": "calc", "Action Input": "2+2"} hope that helps', "calc", "2+2", None),
        ('Thought: x\nAction: calc\nAction Input: {"a": 3}', "calc", {"a": 3}, None),
        ("Thought: done\nFinal Answer: forty-two", None, None, "forty-two"),
        ("Just a plain answer.", None, None, "Just a plain answer."),
        ('Thought: thinking {"not": "an action"}', None, None, 'thinking {"not": "an action"}'),
    ],
)
def test_the_parser_reads_what_models_write(text: str, action, action_input, answer) -> None:
    step = parse(text)
    assert step.error is None
    assert (step.action, step.action_input, step.answer) == (action, action_input, answer)


def test_an_unreadable_action_is_an_error_not_an_answer() -> None:
    step = parse("Thought: try\nAction: ```{oops```")
    assert step.error is not None and step.answer is None and step.thought == "try"


def _fed(reply: str, step: int = 3) -> list[str]:
    stream = FinalAnswerStream()
    return [piece for end in range(step, len(reply) + step, step) if (piece := stream.feed(reply[:end]))]


@pytest.mark.parametrize(
    ("reply", "streamed"),
    [
        ("Thought: done\nFinal Answer: forty-two  ", "forty-two"),
        # a blob or an action before the marker: the reply may be an action, so nothing goes early
        ('Thought: x\nAction: {"action": "calc"} Final Answer: no', ""),
        ("Action: calc\nFinal Answer: no", ""),
        # after the marker, a brace, a fence or an action stops the stream where it is
        ("Final Answer: here {json}", "here"),
        ("Final Answer: see\n```code```", "see"),
        ("Final Answer: wait\nAction: calc", "wait"),
        ("No marker at all.", ""),
    ],
)
def test_the_final_answer_stream_lets_out_only_a_prefix_of_the_answer(reply: str, streamed: str) -> None:
    assert "".join(_fed(reply)) == streamed
    answer = parse(reply).answer
    if streamed and parse(reply).action is None:
        assert answer is not None and answer.startswith(streamed)
