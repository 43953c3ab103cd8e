"""Answer streaming inside loops and iterations next to a variable assigner (issue 11).

Dify's rule, in every generation: a response session opens when every blocking edge on a path to it is
taken; an assigner's edge blocks only when the assigner writes a variable the template reads. So text
that is already known streams at once, ahead of any assigner; a template reading what the assigner
writes streams as soon as the write lands, inside the assigner's execution (graphon: after its
NodeRunVariableUpdatedEvent, before its NodeRunSucceededEvent).
"""

from __future__ import annotations

from typing import Any

from tests.engine.helpers import FakeModel, edge, graph, node, run, start
from workflows.engine import Ports, StreamChunk

BODY_PARENT = "loop"
# the assigner succeeds, then the answer node runs (its text is already out)
ANSWER_AFTER = ["NodeSucceeded:inc", "NodeStarted:a", "NodeSucceeded:a"]


def increment(parent: str = BODY_PARENT, selector: tuple[str, ...] = ("loop", "num")) -> dict[str, Any]:
    return node(
        "inc",
        "assigner",
        parent=parent,
        version="2",
        items=[
            {"variable_selector": list(selector), "operation": "+=", "input_type": "constant", "value": 1}
        ],
    )


def inner_answer(text: str, parent: str = BODY_PARENT) -> dict[str, Any]:
    return node("a", "answer", parent=parent, answer=text)


def loop_graph(body: list[dict[str, Any]], body_edges: list[dict[str, Any]], rounds: int = 2) -> dict:
    return graph(
        [
            start(),
            node(
                "loop",
                "loop",
                start_node_id="ls",
                loop_count=rounds,
                logical_operator="and",
                break_conditions=[],
                loop_variables=[
                    {"label": "num", "var_type": "number", "value_type": "constant", "value": "1"}
                ],
            ),
            node("ls", "loop-start", parent="loop"),
            *body,
            node("fin", "answer", answer="done"),
        ],
        [edge("start", "loop"), *body_edges, edge("loop", "fin")],
    )


def trace(outcome) -> list[str]:
    """Compact event log of the body: `chunk:<text>`, `<Kind>:<node>` for the assigner and the answer."""
    out = []
    for event in outcome.events:
        kind = type(event).__name__
        if isinstance(event, StreamChunk):
            out.append(f"chunk:{event.chunk}")
        elif getattr(event, "node_id", None) in ("inc", "a", "llm") and kind in (
            "NodeStarted",
            "NodeSucceeded",
            "VariableUpdated",
        ):
            out.append(f"{kind}:{event.node_id}")
    return out


async def test_known_text_streams_ahead_of_an_assigner_on_its_path():
    # given a loop body: assigner (loop.num += 1) -> answer that does not read loop.num
    config = loop_graph(
        [increment(), inner_answer("hello {{#sys.query#}};")], [edge("ls", "inc"), edge("inc", "a")]
    )
    # when it runs two rounds
    outcome = await run(config, system={"query": "Q"})
    # then each round's text is out before the assigner even starts
    round_ = ["chunk:hello ", "chunk:Q", "chunk:;", "NodeStarted:inc", "VariableUpdated:inc"]
    round_ += ["NodeSucceeded:inc", "NodeStarted:a", "NodeSucceeded:a"]
    assert trace(outcome) == round_ + round_ + ["chunk:done"]
    assert outcome.outputs["answer"] == "hello Q;hello Q;done"


async def test_a_template_reading_the_assigned_loop_variable_streams_inside_the_assigner():
    # given a loop body: assigner (loop.num += 1) -> answer reading loop.num
    config = loop_graph(
        [increment(), inner_answer("n={{#loop.num#}};")], [edge("ls", "inc"), edge("inc", "a")]
    )
    outcome = await run(config)

    # then the chunks carry the new value, right after the update and before the assigner's success
    def round_(n: int) -> list[str]:
        return ["NodeStarted:inc", "VariableUpdated:inc", "chunk:n=", f"chunk:{n}", "chunk:;", *ANSWER_AFTER]

    assert trace(outcome) == round_(2) + round_(3) + ["chunk:done"]


async def test_model_text_streams_into_an_inner_answer_while_the_model_runs():
    # given a loop body: llm -> answer {{#llm.text#}} -> assigner
    llm = node(
        "llm",
        "llm",
        parent="loop",
        model={"provider": "p", "name": "m", "mode": "chat", "completion_params": {}},
        prompt_template=[{"role": "user", "text": "hi"}],
    )
    config = loop_graph(
        [llm, inner_answer("{{#llm.text#}}"), increment()],
        [edge("ls", "llm"), edge("llm", "a"), edge("a", "inc")],
        rounds=1,
    )
    outcome = await run(config, ports=Ports(models=FakeModel("x y")))
    # then the model's deltas are forwarded between the LLM's start and success, ahead of the assigner
    log = trace(outcome)
    assert log[: log.index("NodeSucceeded:llm")] == ["NodeStarted:llm", "chunk:x", "chunk: y", "chunk:"]
    assert log.index("NodeSucceeded:llm") < log.index("NodeStarted:inc")


async def test_an_iteration_assigning_a_conversation_variable_streams_its_new_value():
    # given an iteration over [a, b] whose body overwrites conversation.last with the item, then answers it
    config = graph(
        [
            start(),
            node(
                "it",
                "iteration",
                iterator_selector=["conversation", "items"],
                output_selector=["a", "answer"],
                start_node_id="is",
            ),
            node("is", "iteration-start", parent="it"),
            node(
                "inc",
                "assigner",
                parent="it",
                version="2",
                items=[
                    {
                        "variable_selector": ["conversation", "last"],
                        "operation": "over-write",
                        "input_type": "variable",
                        "value": ["it", "item"],
                    }
                ],
            ),
            inner_answer("<{{#conversation.last#}}>", parent="it"),
        ],
        [edge("start", "it"), edge("is", "inc"), edge("inc", "a")],
    )
    outcome = await run(
        config,
        conversation=[
            {"name": "items", "value": ["a", "b"], "value_type": "array[string]"},
            {"name": "last", "value": "old", "value_type": "string"},
        ],
    )

    # then each item's chunk comes with the assigner's write, never the stale value
    def round_(item: str) -> list[str]:
        return [
            "NodeStarted:inc",
            "VariableUpdated:inc",
            "chunk:<",
            f"chunk:{item}",
            "chunk:>",
            *ANSWER_AFTER,
        ]

    assert trace(outcome) == round_("a") + round_("b")
