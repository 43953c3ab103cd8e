"""The tool node's output shape, in and out of containers, as Dify's ToolNode builds it (issue 11):
`text`, `files`, `json` (never empty: `[{"data": []}]` without a JSON message, empty objects skipped)
plus the variables the tool declares; streamed variables stream once and are closed."""

from __future__ import annotations

from tests.engine.helpers import FakeTools, chain, chunks, edge, end, graph, node, run, start
from workflows.engine import NodeSucceeded, Ports, ToolMessage


def tool(node_id: str = "tool", parent: str | None = None) -> dict:
    return node(node_id, "tool", parent=parent, provider_type="builtin", provider_id="p", tool_name="t")


async def test_a_tool_without_json_messages_answers_difys_json_placeholder():
    tools = FakeTools(ToolMessage(type="text", text="hello"), ToolMessage(type="json", data={}))
    config = graph(
        [start(), tool(), end(text=["tool", "text"], json=["tool", "json"])], chain("start", "tool", "end")
    )
    outcome = await run(config, ports=Ports(tools=tools))
    assert outcome.outputs == {"text": "hello", "json": [{"data": []}]}
    succeeded = next(e for e in outcome.events if isinstance(e, NodeSucceeded) and e.node_id == "tool")
    assert set(succeeded.outputs) == {"text", "files", "json"} and succeeded.outputs["files"] == []


async def test_a_streamed_tool_variable_streams_once_into_an_answer():
    tools = FakeTools(
        ToolMessage(type="variable", name="story", text="once ", stream=True),
        ToolMessage(type="variable", name="story", text="upon", stream=True),
        ToolMessage(type="variable", name="score", data=3),
    )
    config = graph(
        [start(), tool(), node("ans", "answer", answer="{{#tool.story#}}|{{#tool.score#}}")],
        chain("start", "tool", "ans"),
    )
    outcome = await run(config, ports=Ports(tools=tools))
    assert "".join(chunks(outcome)) == "once upon|3"
    assert outcome.outputs["answer"] == "once upon|3"


async def test_a_tool_inside_a_loop_feeds_an_assigner_with_its_text():
    # given a loop whose body appends the tool's text to a loop variable, twice
    tools = FakeTools(ToolMessage(type="text", text="tick"))
    config = graph(
        [
            start(),
            node(
                "loop",
                "loop",
                start_node_id="ls",
                loop_count=2,
                logical_operator="and",
                break_conditions=[],
                loop_variables=[
                    {"label": "log", "var_type": "array[string]", "value_type": "constant", "value": "[]"}
                ],
            ),
            node("ls", "loop-start", parent="loop"),
            tool(parent="loop"),
            node(
                "keep",
                "assigner",
                parent="loop",
                version="2",
                items=[
                    {
                        "variable_selector": ["loop", "log"],
                        "operation": "append",
                        "input_type": "variable",
                        "value": ["tool", "text"],
                    }
                ],
            ),
            end(log=["loop", "log"]),
        ],
        [edge("start", "loop"), edge("ls", "tool"), edge("tool", "keep"), edge("loop", "end")],
    )
    outcome = await run(config, ports=Ports(tools=tools))
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"log": ["tick", "tick"]}
