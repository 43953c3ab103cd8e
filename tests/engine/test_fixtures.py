"""Fixtures of the conformance folder that have no case of their own, run with real nodes."""

from __future__ import annotations

import pytest
import yaml

from workflows.engine import Engine, Ports, SandboxCodePort, load_app, parse_graph
from workflows.engine.conformance import DEFAULT_SHARED

from .helpers import chunks

DSL = DEFAULT_SHARED / "dsl"

CODE_PORT = SandboxCodePort(timeout=10)


@pytest.mark.parametrize(
    ("switch", "expected"),
    [(1, {"1": "Code 1", "2": "Code 2", "3": None}), (2, {"1": None, "2": "Code 2", "3": "Code 3"})],
)
async def test_conditional_parallel_code_execution_matches_its_description(switch, expected):
    app = load_app((DSL / "conditional_parallel_code_execution_workflow.yml").read_text())
    engine = Engine(ports=Ports(code=CODE_PORT))
    outcome = await engine.run(app.graph, inputs={"switch": switch}).collect()
    assert outcome.status == "succeeded"
    assert outcome.outputs == expected


@pytest.mark.parametrize(
    ("fixture", "inputs", "expected"),
    [
        ("code_increment.yml", {"n": 41}, {"out": 42}),
        ("template_greeting.yml", {"name": "Ada"}, {"out": "Hello, Ada!"}),
    ],
)
async def test_builder_fixtures_outside_the_restricted_mode(fixture, inputs, expected):
    graph = parse_graph(yaml.safe_load((DSL / "builder_restricted" / fixture).read_text()))
    engine = Engine(ports=Ports(code=CODE_PORT))
    outcome = await engine.run(graph, inputs=inputs).collect()
    assert outcome.outputs == expected


# The Answer hangs off Start directly, so it renders before the producer runs (Dify: "producer.output");
# its stream, by contrast, waits for the producer's value or drops the segment once the branch is skipped.
@pytest.mark.parametrize(
    ("query", "streamed", "answer"),
    [("hello there", "- produced", "- producer.output"), ("bye", "- ", "- producer.output")],
)
async def test_minimal_non_uuid_conversation_variable_streams_and_skips(query, streamed, answer):
    app = load_app((DSL / "minimal_non_uuid_conversation_variable.yml").read_text())
    outcome = (
        await Engine()
        .run(app.graph, system={"query": query}, conversation=app.conversation_variables)
        .collect()
    )
    assert outcome.status == "succeeded"
    assert "".join(chunks(outcome)) == streamed
    assert outcome.outputs["answer"] == answer
