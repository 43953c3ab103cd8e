"""The executor: readiness and skipping, answer streaming order, parallelism, error strategies, retries,
limits, stop, pause/resume, containers, mocking and single-node runs.

Long on purpose: one short, self-contained case per executor rule, read top to bottom like its spec."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from workflows.engine import (
    Engine,
    IterationNext,
    Limits,
    LoopNext,
    Mocks,
    NodeException,
    NodeFailed,
    NodeMock,
    NodePaused,
    NodeRetry,
    NodeStarted,
    NodeSucceeded,
    Ports,
    RunPaused,
    RunStarted,
    StreamChunk,
    ToolMessage,
    parse_graph,
)

from .helpers import (
    FakeModel,
    answer,
    chain,
    chunks,
    edge,
    end,
    graph,
    kinds,
    node,
    of_type,
    run,
    start,
    template,
)


class SlowTools:
    """A tool port that sleeps, to observe concurrency and cancellation."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.running = 0
        self.peak = 0
        self.cancelled = 0

    async def invoke(self, request):
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1
        yield ToolMessage(type="text", text=request.tool_name)


def tool(node_id, **data):
    return node(node_id, "tool", provider_id="p", tool_name=node_id, **data)


# -- readiness, joins and skips ----------------------------------------------------------------------------


async def test_a_join_waits_for_all_incoming_edges_and_runs_once():
    config = graph(
        [
            start(),
            template("a", "A"),
            template("b", "B"),
            template("join", "{{ a }}{{ b }}", a=["a", "output"], b=["b", "output"]),
            end(o=["join", "output"]),
        ],
        [edge("start", "a"), edge("start", "b"), edge("a", "join"), edge("b", "join"), edge("join", "end")],
    )
    outcome = await run(config)
    assert outcome.outputs == {"o": "AB"}
    assert [e.node_id for e in of_type(outcome, NodeStarted)].count("join") == 1


async def test_skips_propagate_and_a_join_with_one_taken_branch_still_runs():
    cases = [
        {
            "case_id": "yes",
            "conditions": [{"variable_selector": ["start", "q"], "comparison_operator": "is", "value": "y"}],
        }
    ]
    config = graph(
        [
            start("q"),
            node("if", "if-else", cases=cases),
            template("y1", "Y"),
            template("y2", "{{ v }}!", v=["y1", "output"]),
            template("n1", "N"),
            node("agg", "variable-aggregator", variables=[["y2", "output"], ["n1", "output"]]),
            end(o=["agg", "output"]),
        ],
        [
            edge("start", "if"),
            edge("if", "y1", "yes"),
            edge("y1", "y2"),
            edge("if", "n1", "false"),
            edge("y2", "agg"),
            edge("n1", "agg"),
            edge("agg", "end"),
        ],
    )
    yes = await run(config, inputs={"q": "y"})
    assert yes.outputs == {"o": "Y!"}
    no = await run(config, inputs={"q": "n"})
    assert no.outputs == {"o": "N"}
    ran = {e.node_id for e in of_type(no, NodeStarted)}
    assert ran.isdisjoint({"y1", "y2"})


# -- streaming order ----------------------------------------------------------------------------------------


async def test_answer_streams_in_template_order_not_completion_order():
    mocks = Mocks(
        nodes={
            "slow": NodeMock(outputs={"text": "first part"}, delay=0.15),
            "fast": NodeMock(outputs={"text": "second part"}, delay=0.01),
        }
    )
    config = graph(
        [
            start(),
            node("slow", "llm", model={"provider": "x", "name": "m"}),
            node("fast", "llm", model={"provider": "x", "name": "m"}),
            answer("ans", "<{{#slow.text#}}|{{#fast.text#}}>"),
        ],
        [edge("start", "slow"), edge("start", "fast"), edge("slow", "ans"), edge("fast", "ans")],
    )
    outcome = await run(config, mocks=mocks)
    assert "".join(chunks(outcome)) == "<first part|second part>"
    assert chunks(outcome)[0] == "<"
    finished = [e.node_id for e in of_type(outcome, NodeSucceeded) if e.node_id in ("slow", "fast")]
    assert finished == ["fast", "slow"]
    # fast finished first, yet its text was held back until slow's text had streamed
    first_fast_chunk = next(
        i for i, e in enumerate(outcome.events) if isinstance(e, StreamChunk) and e.node_id == "fast"
    )
    last_slow_chunk = max(
        i for i, e in enumerate(outcome.events) if isinstance(e, StreamChunk) and e.node_id == "slow"
    )
    assert last_slow_chunk < first_fast_chunk
    assert of_type(outcome, StreamChunk)[-1].is_final


async def test_static_answer_text_streams_before_the_producer_finishes():
    model = FakeModel("streamed words")
    config = graph(
        [
            start(),
            node("llm", "llm", model={"provider": "x", "name": "m"}, prompt_template=[]),
            answer("ans", "Hello {{#llm.text#}}"),
        ],
        chain("start", "llm", "ans"),
    )
    outcome = await run(config, ports=Ports(models=model))
    first_chunk = kinds(outcome).index("StreamChunk")
    llm_done = next(
        i for i, e in enumerate(outcome.events) if isinstance(e, NodeSucceeded) and e.node_id == "llm"
    )
    assert outcome.events[first_chunk].chunk == "Hello " and first_chunk < llm_done


async def test_a_conversation_variable_streams_only_after_its_assigner_wrote_it():
    config = graph(
        [
            start(),
            node(
                "as",
                "assigner",
                version="2",
                items=[
                    {
                        "variable_selector": ["conversation", "x"],
                        "operation": "over-write",
                        "input_type": "variable",
                        "value": ["sys", "query"],
                    }
                ],
            ),
            answer("ans", "{{#conversation.x#}}"),
        ],
        chain("start", "as", "ans"),
    )
    outcome = await run(
        config,
        system={"query": "fresh"},
        conversation=[{"name": "x", "value": "stale", "value_type": "string"}],
    )
    assert chunks(outcome) == ["fresh"]
    names = kinds(outcome)
    assert names.index("VariableUpdated") < names.index("StreamChunk") < names.index("NodeSucceeded", 3)


async def test_a_segment_from_a_skipped_branch_is_dropped_from_the_stream():
    cases = [
        {
            "case_id": "go",
            "conditions": [
                {"variable_selector": ["sys", "query"], "comparison_operator": "contains", "value": "hello"}
            ],
        }
    ]
    config = graph(
        [
            start(),
            node("if", "if-else", cases=cases),
            template("producer", "produced"),
            answer("ans", "{{#conversation.x#}} {{#producer.output#}}"),
        ],
        [edge("start", "if"), edge("if", "producer", "go"), edge("start", "ans")],
    )
    conversation = [{"name": "x", "value": "-", "value_type": "string"}]
    taken = await run(config, system={"query": "hello"}, conversation=conversation)
    assert "".join(chunks(taken)) == "- produced"
    skipped = await run(config, system={"query": "bye"}, conversation=conversation)
    assert "".join(chunks(skipped)) == "- "
    assert skipped.outputs["answer"] == "- producer.output"  # the rendered answer keeps Dify's dotted path


# -- parallelism -----------------------------------------------------------------------------------------------


async def test_parallel_branches_run_concurrently_and_are_bounded():
    config = graph(
        [
            start(),
            tool("t1"),
            tool("t2"),
            tool("t3"),
            end(a=["t1", "text"], b=["t2", "text"], c=["t3", "text"]),
        ],
        [
            edge("start", "t1"),
            edge("start", "t2"),
            edge("start", "t3"),
            edge("t1", "end"),
            edge("t2", "end"),
            edge("t3", "end"),
        ],
    )
    tools = SlowTools(0.2)
    outcome = await run(config, ports=Ports(tools=tools))
    assert tools.peak == 3  # all three branches were in flight together
    assert outcome.outputs == {"a": "t1", "b": "t2", "c": "t3"}
    serial = SlowTools(0.05)
    await run(config, ports=Ports(tools=serial), limits=Limits(max_parallel=1))
    assert serial.peak == 1


# -- error strategies and retries ---------------------------------------------------------------------------------


async def test_fail_branch_takes_the_fail_edge_and_exposes_the_error():
    config = graph(
        [
            start(),
            node("c", "code", code="x", outputs={}, error_strategy="fail-branch"),
            template("ok", "fine"),
            template("recover", "{{ e }}", e=["c", "error_message"]),
            end(ok=["ok", "output"], recover=["recover", "output"], kind=["c", "error_type"]),
        ],
        [
            edge("start", "c"),
            edge("c", "ok", "source"),
            edge("c", "recover", "fail-branch"),
            edge("ok", "end"),
            edge("recover", "end"),
        ],
    )
    outcome = await run(config, mocks=Mocks(nodes={"c": NodeMock(error="exploded")}))
    assert outcome.status == "partial-succeeded" and outcome.exceptions_count == 1
    assert outcome.outputs == {"ok": None, "recover": "exploded", "kind": "MockError"}
    assert of_type(outcome, NodeException)[0].strategy == "fail-branch"
    success = await run(config, mocks=Mocks(nodes={"c": NodeMock(outputs={"r": 1})}))
    assert (
        success.status == "succeeded"
        and success.outputs["ok"] == "fine"
        and success.outputs["recover"] is None
    )


async def test_default_value_strategy_continues_with_defaults():
    config = graph(
        [
            start(),
            node(
                "t",
                "tool",
                provider_id="p",
                tool_name="x",
                error_strategy="default-value",
                default_value=[
                    {"key": "text", "type": "string", "value": "n/a"},
                    {"key": "json", "type": "array[object]", "value": '[{"a": 1}]'},
                ],
            ),
            end(text=["t", "text"], json=["t", "json"], err=["t", "error_message"]),
        ],
        chain("start", "t", "end"),
    )
    outcome = await run(config, mocks=Mocks(nodes={"t": NodeMock(error="no")}))
    assert outcome.status == "partial-succeeded"
    assert outcome.outputs == {"text": "n/a", "json": [{"a": 1}], "err": "no"}


async def test_retries_wait_the_interval_emit_retry_events_then_fail():
    config = graph(
        [
            start(),
            node(
                "t",
                "tool",
                provider_id="p",
                tool_name="x",
                retry_config={"retry_enabled": True, "max_retries": 2, "retry_interval": 50},
            ),
            end(),
        ],
        chain("start", "t", "end"),
    )

    class Broken:
        calls = 0

        async def invoke(self, request):
            Broken.calls += 1
            raise RuntimeError(f"attempt {Broken.calls}")
            yield  # pragma: no cover

    began = time.perf_counter()
    outcome = await run(config, ports=Ports(tools=Broken()))
    assert time.perf_counter() - began >= 0.1
    assert Broken.calls == 3
    assert [e.retry_index for e in of_type(outcome, NodeRetry)] == [1, 2]
    assert outcome.status == "failed" and outcome.error == "attempt 3"
    assert len(of_type(outcome, NodeStarted)) == 2  # start + one started event for all attempts


async def test_retry_is_ignored_on_node_types_dify_does_not_retry():
    config = graph(
        [
            start(),
            node(
                "lo",
                "list-operator",
                variable=["start", "nope"],
                retry_config={"retry_enabled": True, "max_retries": 3},
            ),
            end(),
        ],
        chain("start", "lo", "end"),
    )
    outcome = await run(config)
    assert outcome.status == "failed" and of_type(outcome, NodeRetry) == []


# -- limits, stop ---------------------------------------------------------------------------------------------


async def test_max_steps_stops_the_run():
    config = graph([start(), template("a", "1"), template("b", "2"), end()], chain("start", "a", "b", "end"))
    outcome = await run(config, limits=Limits(max_steps=2))
    assert outcome.status == "stopped"
    assert outcome.error == "Maximum execution steps exceeded: 3 > 2"
    assert [e.node_id for e in of_type(outcome, NodeStarted)] == ["start", "a"]


async def test_max_time_stops_a_run_stuck_in_a_node():
    tools = SlowTools(5)
    config = graph([start(), tool("t"), end()], chain("start", "t", "end"))
    began = time.perf_counter()
    outcome = await run(config, ports=Ports(tools=tools), limits=Limits(max_time=0.2))
    assert time.perf_counter() - began < 2
    assert outcome.status == "stopped" and outcome.error.startswith("Maximum execution time exceeded")
    assert tools.cancelled == 1


async def test_max_depth_refuses_nested_calls_beyond_the_limit():
    parsed = parse_graph(graph([start(), end()], chain("start", "end")))
    outcome = await Engine(limits=Limits(max_depth=5)).run(parsed, call_depth=6).collect()
    assert outcome.status == "failed" and "call depth 5" in outcome.error
    assert of_type(outcome, NodeStarted) == []


async def test_stop_cancels_in_flight_nodes_and_starts_nothing_new():
    tools = SlowTools(5)
    parsed = parse_graph(
        graph([start(), tool("t"), template("after", "x"), end()], chain("start", "t", "after", "end"))
    )
    run_handle = Engine(ports=Ports(tools=tools)).run(parsed)
    events = []
    began = time.perf_counter()
    async for event in run_handle:
        events.append(event)
        if isinstance(event, NodeStarted) and event.node_id == "t":
            await asyncio.sleep(0.05)  # let the tool call get under way
            run_handle.stop("user pressed stop")
    assert time.perf_counter() - began < 1
    assert type(events[-1]).__name__ == "RunStopped" and events[-1].reason == "user pressed stop"
    assert tools.cancelled == 1 and tools.running == 0
    assert "t" not in {e.node_id for e in events if isinstance(e, NodeSucceeded)}
    assert "after" not in {e.node_id for e in events if isinstance(e, NodeStarted)}


async def test_a_raising_observer_does_not_break_the_run():
    def observer(event):
        raise RuntimeError("boom")

    config = graph([start("q"), end(q=["start", "q"])], chain("start", "end"))
    outcome = await run(config, inputs={"q": "x"}, observers=[observer])
    assert outcome.status == "succeeded" and outcome.outputs == {"q": "x"}


# -- pause / resume ---------------------------------------------------------------------------------------------


def approval_graph():
    return graph(
        [
            start("doc"),
            answer("intro", "Reviewing {{#start.doc#}}. "),
            node(
                "hi",
                "human-input",
                form_content="Approve {{#start.doc#}}? {{#$output.comment#}}",
                inputs=[{"type": "paragraph", "output_variable_name": "comment"}],
                user_actions=[{"id": "approve", "title": "Approve"}, {"id": "reject", "title": "Reject"}],
            ),
            template("yes", "approved: {{ c }}", c=["hi", "comment"]),
            template("no", "rejected"),
            node("agg", "variable-aggregator", variables=[["yes", "output"], ["no", "output"]]),
            answer("verdict", "{{#agg.output#}}"),
        ],
        [
            edge("start", "intro"),
            edge("intro", "hi"),
            edge("hi", "yes", "approve"),
            edge("hi", "no", "reject"),
            edge("yes", "agg"),
            edge("no", "agg"),
            edge("agg", "verdict"),
        ],
    )


async def test_human_input_pauses_with_a_json_state_and_resumes_with_the_decision():
    parsed = parse_graph(approval_graph())
    engine = Engine()
    first = await engine.run(parsed, inputs={"doc": "plan.pdf"}).collect()
    assert first.status == "paused"
    paused = of_type(first, RunPaused)[0]
    assert paused.reasons[0]["node_id"] == "hi" and paused.reasons[0]["form_content"].startswith(
        "Approve plan.pdf?"
    )
    assert "".join(chunks(first)) == "Reviewing plan.pdf. "
    assert of_type(first, NodePaused)[0].node_id == "hi"
    state = json.loads(json.dumps(first.state))  # survives storage as JSON
    second = await engine.resume(
        parsed, state, human_input={"hi": {"action": "approve", "inputs": {"comment": "LGTM"}}}
    ).collect()
    assert of_type(second, RunStarted)[0].reason == "resumption"
    assert second.status == "succeeded"
    assert second.outputs["answer"] == "Reviewing plan.pdf. approved: LGTM"
    assert "".join(chunks(second)) == "approved: LGTM"
    decided = next(e for e in of_type(second, NodeSucceeded) if e.node_id == "hi")
    assert decided.outputs["__action_id"] == "approve"
    assert decided.outputs["__rendered_content"] == "Approve plan.pdf? LGTM"
    assert "no" not in {e.node_id for e in of_type(second, NodeStarted)}


async def test_resume_refuses_a_changed_graph_and_rejects_unknown_actions():
    parsed = parse_graph(approval_graph())
    first = await Engine().run(parsed, inputs={"doc": "d"}).collect()
    changed = approval_graph()
    changed["nodes"][3]["data"]["template"] = "changed"
    from workflows.engine import GraphError

    with pytest.raises(GraphError):
        Engine().resume(parse_graph(changed), first.state, human_input={"hi": {"action": "approve"}})
    bad = await Engine().resume(parsed, first.state, human_input={"hi": {"action": "maybe"}}).collect()
    assert bad.status == "failed" and "unknown action" in bad.error


# -- iteration -----------------------------------------------------------------------------------------------------


def iteration_graph(
    items_selector=("conversation", "items"), *, parallel=False, mode="terminated", flatten=True, body=None
):
    body = body or [template("inner", "<{{ x }}:{{ i }}>", parent="it", x=["it", "item"], i=["it", "index"])]
    return graph(
        [
            start(),
            node(
                "it",
                "iteration",
                iterator_selector=list(items_selector),
                output_selector=["inner", "output"],
                start_node_id="is",
                is_parallel=parallel,
                parallel_nums=4,
                error_handle_mode=mode,
                flatten_output=flatten,
            ),
            node("is", "iteration-start", parent="it"),
            *body,
            end(out=["it", "output"], leak=["inner", "output"]),
        ],
        [edge("start", "it"), edge("is", "inner"), edge("it", "end")],
    )


async def test_iteration_runs_items_in_order_on_isolated_pools():
    outcome = await run(iteration_graph(), conversation={"items": ["a", "b", "c"]})
    assert outcome.outputs == {"out": ["<a:0>", "<b:1>", "<c:2>"], "leak": None}
    assert [e.index for e in of_type(outcome, IterationNext)] == [0, 1, 2]
    inner = [e for e in of_type(outcome, NodeSucceeded) if e.node_id == "inner"]
    assert [e.iteration_index for e in inner] == [0, 1, 2] and {e.in_iteration_id for e in inner} == {"it"}


async def test_parallel_iteration_keeps_item_order_and_overlaps_items():
    delays = {"a": 0.2, "b": 0.02, "c": 0.1, "d": 0.02}
    body = [
        node(
            "inner",
            "tool",
            parent="it",
            provider_id="p",
            tool_name="x",
            tool_parameters={"v": {"type": "variable", "value": ["it", "item"]}},
        )
    ]
    config = iteration_graph(parallel=True, body=body)

    class Timed:
        running = peak = 0

        async def invoke(self, request):
            Timed.running += 1
            Timed.peak = max(Timed.peak, Timed.running)
            await asyncio.sleep(delays[request.parameters["v"]])
            Timed.running -= 1
            yield ToolMessage(type="variable", name="output", data=request.parameters["v"].upper())

    outcome = await run(config, conversation={"items": list(delays)}, ports=Ports(tools=Timed()))
    assert Timed.peak == 4  # parallel_nums=4: every item was in flight at once
    assert outcome.outputs["out"] == ["A", "B", "C", "D"]  # yet the output keeps item order
    sequential = await run(
        iteration_graph(parallel=False, body=body),
        conversation={"items": list(delays)},
        ports=Ports(tools=Timed()),
    )
    assert sequential.outputs["out"] == ["A", "B", "C", "D"]


@pytest.mark.parametrize(
    ("mode", "status", "output"),
    [
        ("terminated", "failed", None),
        ("continue-on-error", "partial-succeeded", ["ok-a", None, "ok-c"]),
        ("remove-abnormal-output", "partial-succeeded", ["ok-a", "ok-c"]),
    ],
)
async def test_iteration_error_modes(mode, status, output):
    body = [node("inner", "code", parent="it", code="x", outputs={"output": {"type": "string"}})]

    def handler(ctx):
        item = ctx.pool.get(("it", "item"))
        if item == "b":
            raise ValueError("bad item b")
        return {"output": f"ok-{item}"}

    outcome = await run(
        iteration_graph(mode=mode, body=body),
        conversation={"items": ["a", "b", "c"]},
        mocks=Mocks(nodes={"inner": NodeMock(handler=handler)}),
    )
    assert outcome.status == status
    if output is not None:
        assert outcome.outputs["out"] == output
    else:
        assert outcome.error == "bad item b"
        assert of_type(outcome, NodeFailed)[-1].node_id == "it"


@pytest.mark.parametrize(("flatten", "expected"), [(True, [1, 2, 2, 4]), (False, [[1, 2], [2, 4]])])
async def test_iteration_flatten_output(flatten, expected):
    body = [node("inner", "code", parent="it", code="x", outputs={"output": {"type": "array[number]"}})]
    mocks = Mocks(
        nodes={
            "inner": NodeMock(
                handler=lambda ctx: {
                    "output": [ctx.pool.get(("it", "item")), ctx.pool.get(("it", "item")) * 2]
                }
            )
        }
    )
    outcome = await run(
        iteration_graph(flatten=flatten, body=body), conversation={"items": [1, 2]}, mocks=mocks
    )
    assert outcome.outputs["out"] == expected


async def test_iteration_over_nothing_and_over_a_non_list():
    empty = await run(iteration_graph(), conversation={"items": []})
    assert empty.outputs["out"] == [] and of_type(empty, IterationNext) == []
    wrong = await run(iteration_graph(), conversation={"items": "not a list"})
    assert wrong.status == "failed" and "please provide a list" in wrong.error


# -- loop ----------------------------------------------------------------------------------------------------------


def loop_graph(*, break_value="5", count=10, extra_body=None, extra_edges=None):
    return graph(
        [
            start(),
            node(
                "loop",
                "loop",
                start_node_id="ls",
                loop_count=count,
                logical_operator="and",
                break_conditions=[
                    {"variable_selector": ["loop", "num"], "comparison_operator": "≥", "value": break_value}
                ],
                loop_variables=[
                    {"label": "num", "var_type": "number", "value_type": "constant", "value": "1"},
                    {"label": "log", "var_type": "array[string]", "value_type": "constant", "value": "[]"},
                ],
            ),
            node("ls", "loop-start", parent="loop"),
            node(
                "inc",
                "assigner",
                parent="loop",
                version="2",
                items=[
                    {
                        "variable_selector": ["loop", "num"],
                        "operation": "+=",
                        "input_type": "constant",
                        "value": 1,
                    }
                ],
            ),
            *(extra_body or []),
            end(num=["loop", "num"], rounds=["loop", "loop_round"], log=["loop", "log"]),
        ],
        [edge("start", "loop"), edge("ls", "inc"), edge("loop", "end"), *(extra_edges or [])],
    )


async def test_loop_runs_until_the_break_condition_holds():
    outcome = await run(loop_graph())
    assert outcome.outputs == {"num": 5, "rounds": 4, "log": []}
    assert [e.index for e in of_type(outcome, LoopNext)] == [1, 2, 3]


async def test_loop_stops_at_loop_count():
    outcome = await run(loop_graph(break_value="100", count=3))
    assert outcome.outputs["num"] == 4 and outcome.outputs["rounds"] == 3


async def test_loop_break_before_the_first_round_runs_no_body():
    outcome = await run(loop_graph(break_value="0"))
    assert outcome.outputs == {"num": 1, "rounds": None, "log": []}
    assert "inc" not in {e.node_id for e in of_type(outcome, NodeStarted)}


async def test_loop_end_node_breaks_after_its_round():
    extra = [node("stop", "loop-end", parent="loop")]
    outcome = await run(loop_graph(break_value="100", extra_body=extra, extra_edges=[edge("inc", "stop")]))
    assert outcome.outputs["num"] == 2 and outcome.outputs["rounds"] == 1


async def test_loop_body_outputs_are_cleared_each_round():
    # The template reads its own node's previous output: it must be gone at the start of each round.
    extra = [
        template("t", "{{ prev }}|", parent="loop", prev=["t", "output"]),
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
                    "value": ["t", "output"],
                }
            ],
        ),
    ]
    outcome = await run(
        loop_graph(break_value="3", extra_body=extra, extra_edges=[edge("inc", "t"), edge("t", "keep")])
    )
    assert outcome.outputs["log"] == ["None|", "None|"]


async def test_loop_body_failure_fails_the_loop():
    extra = [node("lo", "list-operator", parent="loop", variable=["start", "nope"])]
    outcome = await run(loop_graph(extra_body=extra, extra_edges=[edge("inc", "lo")]))
    assert outcome.status == "failed"
    assert of_type(outcome, NodeFailed)[-1].node_id == "loop"


# -- mocking and single-node runs ------------------------------------------------------------------------------------


async def test_mocks_by_id_by_type_auto_defaults_and_delays():
    config = graph(
        [
            start(),
            node("llm", "llm", model={"provider": "x", "name": "m"}),
            node(
                "c",
                "code",
                code="x",
                outputs={"s": {"type": "string"}, "n": {"type": "number"}, "o": {"type": "array[object]"}},
            ),
            end(text=["llm", "text"], s=["c", "s"], n=["c", "n"], o=["c", "o"]),
        ],
        chain("start", "llm", "c", "end"),
    )
    auto = await run(config, mocks=Mocks(auto=True))
    assert auto.outputs == {
        "text": "Mocked LLM response",
        "s": "mocked_s",
        "n": 42,
        "o": [{"key": "value1"}, {"key": "value2"}],
    }
    typed = await run(config, mocks=Mocks(auto=True, types={"llm": NodeMock(outputs={"text": "by type"})}))
    assert typed.outputs["text"] == "by type"
    by_id = await run(
        config,
        mocks=Mocks(
            auto=True,
            types={"llm": NodeMock(outputs={"text": "by type"})},
            nodes={"llm": NodeMock(outputs={"text": "by id"}, delay=0.1)},
        ),
    )
    assert by_id.outputs["text"] == "by id"
    began = time.perf_counter()
    await run(config, mocks=Mocks(nodes={"llm": NodeMock(outputs={"text": "t"}, delay=0.1)}, auto=True))
    assert time.perf_counter() - began >= 0.1
    no_delay = time.perf_counter()
    await run(
        config,
        mocks=Mocks(
            nodes={"llm": NodeMock(outputs={"text": "t"}, delay=0.1)}, auto=True, simulate_delays=False
        ),
    )
    assert time.perf_counter() - no_delay < 0.1


async def test_run_node_runs_one_node_with_given_variables_and_raw_stream():
    parsed = parse_graph(
        graph(
            [
                start("q"),
                node(
                    "llm",
                    "llm",
                    model={"provider": "x", "name": "m"},
                    prompt_template=[{"role": "user", "text": "{{#start.q#}}"}],
                ),
                end(t=["llm", "text"]),
            ],
            chain("start", "llm", "end"),
        )
    )
    model = FakeModel("one two")
    result, events = await Engine(ports=Ports(models=model)).run_node(
        parsed, "llm", variables={"start.q": "hey"}
    )
    assert result is not None and result.outputs["text"] == "one two"
    assert model.requests[0].messages[0].content == "hey"
    assert [e.chunk for e in events if isinstance(e, StreamChunk)] == ["one", " two", ""]
    assert {e.node_id for e in events if isinstance(e, NodeStarted)} == {"llm"}


async def test_a_pause_lets_running_containers_finish_and_resume_keeps_their_results():
    config = graph(
        [
            start(),
            node("hi", "human-input", form_content="ok?", user_actions=[{"id": "go", "title": "Go"}]),
            template("after", "went"),
            node(
                "it",
                "iteration",
                iterator_selector=["conversation", "items"],
                output_selector=["inner", "text"],
                start_node_id="is",
                is_parallel=True,
                parallel_nums=2,
            ),
            node("is", "iteration-start", parent="it"),
            node("inner", "tool", parent="it", provider_id="p", tool_name="slow"),
            end(went=["after", "output"], items=["it", "output"]),
        ],
        [
            edge("start", "hi"),
            edge("hi", "after", "go"),
            edge("start", "it"),
            edge("is", "inner"),
            edge("after", "end"),
            edge("it", "end"),
        ],
    )
    parsed = parse_graph(config)
    engine = Engine(ports=Ports(tools=SlowTools(0.05)))
    first = await engine.run(parsed, conversation={"items": [1, 2, 3]}).collect()
    assert first.status == "paused"
    assert [e.node_id for e in of_type(first, NodeSucceeded) if e.node_id == "it"] == ["it"]
    resumed = await engine.resume(
        parsed, json.loads(json.dumps(first.state)), human_input={"hi": {"action": "go"}}
    ).collect()
    assert resumed.status == "succeeded"
    assert resumed.outputs == {"went": "went", "items": ["slow", "slow", "slow"]}
    assert "it" not in {e.node_id for e in of_type(resumed, NodeStarted)}  # not re-run after resume


async def test_execution_ids_are_unique_uuid_strings_shared_by_a_node_executions_events():
    import uuid

    config = graph(
        [start("q"), template("a", "{{ x }}", x=["start", "q"]), end(o=["a", "output"])],
        chain("start", "a", "end"),
    )
    first, second = await run(config, inputs={"q": "x"}), await run(config, inputs={"q": "x"})
    ids = [e.id for outcome in (first, second) for e in of_type(outcome, NodeStarted)]
    assert len(set(ids)) == len(ids) == 6
    assert all(str(uuid.UUID(value)) == value for value in ids)
    started = {e.node_id: e.id for e in of_type(first, NodeStarted)}
    assert all(e.id == started[e.node_id] for e in of_type(first, NodeSucceeded))


async def test_pause_command_and_variable_updates_between_nodes():
    config = graph(
        [
            start(),
            tool("t"),
            template("after", "{{ v }}", v=["conversation", "note"]),
            end(o=["after", "output"]),
        ],
        chain("start", "t", "after", "end"),
    )
    parsed = parse_graph(config)
    engine = Engine(ports=Ports(tools=SlowTools(0.05)))
    handle = engine.run(parsed, conversation={"note": "before"})
    events = []
    async for event in handle:
        events.append(event)
        if isinstance(event, NodeStarted) and event.node_id == "t":
            handle.pause("operator review")
            handle.update_variable(["conversation", "note"], "edited")
    paused = events[-1]
    assert isinstance(paused, RunPaused) and paused.reasons == [
        {"type": "requested", "reason": "operator review"}
    ]
    assert "after" not in {e.node_id for e in events if isinstance(e, NodeStarted)}  # t finished, nothing new
    assert "t" in {e.node_id for e in events if isinstance(e, NodeSucceeded)}
    resumed = await engine.resume(parsed, paused.state).collect()
    assert resumed.status == "succeeded" and resumed.outputs == {"o": "edited"}
