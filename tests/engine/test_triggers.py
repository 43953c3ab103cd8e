"""Dify's trigger roots (webhook, schedule, plugin event): a graph may start from one, its inputs reach
the pool under the trigger's id, and a second root never runs."""

from __future__ import annotations

import pytest

from workflows.engine import parse_graph

from .helpers import edge, end, graph, node, run, start, template


def webhook(node_id: str = "hook") -> dict:
    return node(
        node_id,
        "trigger-webhook",
        method="POST",
        content_type="application/json",
        body=[{"name": "city", "type": "string", "required": True}],
        webhook_url="",
    )


async def test_a_webhook_trigger_is_the_root_and_outputs_its_inputs_and_the_system_variables():
    config = graph(
        [webhook(), template("t", "Weather in {{ city }}", city=["hook", "city"]), end(text=["t", "output"])],
        [edge("hook", "t"), edge("t", "end")],
    )
    outcome = await run(config, inputs={"city": "Lyon"}, system={"user_id": "u1"})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"text": "Weather in Lyon"}
    trigger = next(e for e in outcome.events if getattr(e, "node_id", "") == "hook" and hasattr(e, "outputs"))
    assert trigger.outputs["city"] == "Lyon" and trigger.outputs["sys.user_id"] == "u1"


@pytest.mark.parametrize("kind", ["trigger-schedule", "trigger-plugin"])
async def test_schedule_and_plugin_triggers_are_roots_too(kind):
    config = graph(
        [
            node("root", kind, mode="visual", frequency="daily"),
            template("t", "ran"),
            end(text=["t", "output"]),
        ],
        [edge("root", "t"), edge("t", "end")],
    )
    outcome = await run(config)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"text": "ran"}


async def test_the_first_root_in_list_order_runs_and_the_other_root_never_does():
    config = graph(
        [
            start("q"),
            webhook(),
            template("a", "from start {{ q }}", q=["start", "q"]),
            template("b", "from hook"),
            end(text=["a", "output"]),
        ],
        [edge("start", "a"), edge("hook", "b"), edge("a", "end")],
    )
    assert parse_graph(config).root_id == "start"
    outcome = await run(config, inputs={"q": "hi"})
    assert outcome.status == "succeeded", outcome.error
    assert outcome.outputs == {"text": "from start hi"}
    ran = {getattr(e, "node_id", None) for e in outcome.events}
    assert "hook" not in ran and "b" not in ran
