"""Model nodes (llm, question-classifier, parameter-extractor) against a fake model port."""

from __future__ import annotations

import pytest

from workflows.engine import (
    File,
    ModelDelta,
    NodeSucceeded,
    Ports,
    PromptMessage,
    ReasoningChunk,
    RetrieverResources,
    ToolCall,
    Usage,
)

from .helpers import (
    FailingModel,
    FakeModel,
    answer,
    chain,
    chunks,
    edge,
    end,
    graph,
    node,
    of_type,
    run,
    start,
    template,
)

MODEL = {
    "provider": "openai",
    "name": "gpt-4o",
    "mode": "chat",
    "completion_params": {"temperature": 0.2, "stop": ["###"]},
}


def llm(node_id="llm", **data):
    base = {
        "model": MODEL,
        "prompt_template": [
            {"role": "system", "text": "You are terse."},
            {"role": "user", "text": "{{#start.q#}}"},
        ],
    }
    base.update(data)
    return node(node_id, "llm", **base)


async def test_llm_builds_the_prompt_streams_text_and_reports_usage():
    model = FakeModel("Paris is the capital")
    config = graph([start("q"), llm(), answer("ans", "A: {{#llm.text#}}")], chain("start", "llm", "ans"))
    outcome = await run(config, inputs={"q": "Capital of France?"}, ports=Ports(models=model))
    request = model.requests[0]
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "You are terse."),
        ("user", "Capital of France?"),
    ]
    assert request.parameters == {"temperature": 0.2} and request.stop == ["###"]
    assert chunks(outcome) == ["A: ", "Paris", " is", " the", " capital", ""]
    assert of_type(outcome, type(outcome.events[-1]))  # sanity: events exist
    assert outcome.outputs["answer"] == "A: Paris is the capital"
    succeeded = next(e for e in of_type(outcome, NodeSucceeded) if e.node_id == "llm")
    assert succeeded.outputs["usage"]["total_tokens"] == 5
    assert succeeded.outputs["finish_reason"] == "stop"
    assert succeeded.metadata["total_tokens"] == 5


async def test_llm_context_jinja2_prompt_memory_and_vision():
    class Memory:
        async def history(self, *, conversation_id, max_messages):
            assert conversation_id == "conv-1" and max_messages == 2
            return [PromptMessage("user", "earlier"), PromptMessage("assistant", "reply")]

    image = File(type="image", remote_url="https://x/a.png", transfer_method="remote_url", filename="a.png")
    model = FakeModel("ok")
    config = graph(
        [
            start("q"),
            llm(
                prompt_template=[
                    {"role": "system", "text": "Use: {{#context#}}"},
                    {
                        "role": "user",
                        "edition_type": "jinja2",
                        "jinja2_text": "Q={{ q | upper }}",
                        "text": "",
                    },
                ],
                prompt_config={"jinja2_variables": [{"variable": "q", "value_selector": ["start", "q"]}]},
                context={"enabled": True, "variable_selector": ["conversation", "docs"]},
                memory={"window": {"enabled": True, "size": 2}, "query_prompt_template": "{{#sys.query#}}"},
                vision={"enabled": True, "configs": {"variable_selector": ["sys", "files"], "detail": "low"}},
            ),
            end(text=["llm", "text"]),
        ],
        chain("start", "llm", "end"),
    )
    outcome = await run(
        config,
        inputs={"q": "why"},
        system={"query": "why?", "conversation_id": "conv-1", "files": [image]},
        conversation={
            "docs": [
                {"content": "fact A", "metadata": {"document_id": "d1"}},
                {"content": "fact B", "metadata": {"document_id": "d2"}},
            ]
        },
        ports=Ports(models=model, memory=Memory()),
    )
    messages = model.requests[0].messages
    assert [(m.role, m.content) for m in messages] == [
        ("system", "Use: fact A\nfact B"),
        ("user", "Q=WHY"),
        ("user", "earlier"),
        ("assistant", "reply"),
        ("user", "why?"),
    ]
    assert messages[-1].parts[0].file == image and messages[-1].parts[0].detail == "low"
    assert [r["document_id"] for r in of_type(outcome, RetrieverResources)[0].resources] == ["d1", "d2"]


async def test_llm_structured_output_and_separated_reasoning():
    model = FakeModel([ModelDelta(text="<think>plan</think>"), ModelDelta(text='```json\n{"a": 1}\n```')])
    config = graph(
        [
            start(),
            llm(
                structured_output_switch_on=True,
                structured_output={"schema": {"type": "object"}},
                reasoning_format="separated",
            ),
            end(
                so=["llm", "structured_output"], reasoning=["llm", "reasoning_content"], text=["llm", "text"]
            ),
        ],
        chain("start", "llm", "end"),
    )
    outcome = await run(config, ports=Ports(models=model))
    assert outcome.outputs == {"so": {"a": 1}, "reasoning": "plan", "text": '```json\n{"a": 1}\n```'}
    assert model.requests[0].response_schema == {"type": "object"}


async def test_llm_reasoning_deltas_are_events():
    model = FakeModel([ModelDelta(reasoning="hmm"), ModelDelta(text="done", usage=Usage(total_tokens=1))])
    config = graph([start(), llm(), end(r=["llm", "reasoning_content"])], chain("start", "llm", "end"))
    outcome = await run(config, ports=Ports(models=model))
    assert [e.chunk for e in of_type(outcome, ReasoningChunk)] == ["hmm"]
    assert outcome.outputs == {"r": "hmm"}


async def test_llm_failure_without_strategy_fails_the_run():
    model = FailingModel("rate limited")
    config = graph([start(), llm(), end(text=["llm", "text"])], chain("start", "llm", "end"))
    outcome = await run(config, ports=Ports(models=model))
    assert outcome.status == "failed" and outcome.error == "rate limited"


async def test_llm_retries_then_succeeds():
    calls = {"n": 0}

    def flaky(request):
        calls["n"] += 1
        if calls["n"] < 3:
            raise TimeoutError("slow")
        return [ModelDelta(text="finally")]

    class Flaky:
        async def stream(self, request):
            for delta in flaky(request):
                yield delta

    config = graph(
        [
            start(),
            llm(retry_config={"retry_enabled": True, "max_retries": 3, "retry_interval": 10}),
            end(text=["llm", "text"]),
        ],
        chain("start", "llm", "end"),
    )
    outcome = await run(config, ports=Ports(models=Flaky()))
    assert outcome.status == "partial-succeeded"  # graphon counts retried failures as exceptions
    assert outcome.exceptions_count == 2
    assert outcome.outputs == {"text": "finally"}


# -- question classifier ------------------------------------------------------------------------------


def classifier_graph():
    classes = [
        {"id": "c1", "name": "billing"},
        {"id": "c2", "name": "tech {{#start.product#}}", "label": "Tech"},
    ]
    return graph(
        [
            start("q", "product"),
            node(
                "qc",
                "question-classifier",
                model=MODEL,
                query_variable_selector=["start", "q"],
                classes=classes,
                instruction="Be strict about {{#start.product#}}",
            ),
            template("bill", "billing path"),
            template("tech", "tech path"),
            end(
                bill=["bill", "output"],
                tech=["tech", "output"],
                name=["qc", "class_name"],
                label=["qc", "class_label"],
            ),
        ],
        [
            edge("start", "qc"),
            edge("qc", "bill", "c1"),
            edge("qc", "tech", "c2"),
            edge("bill", "end"),
            edge("tech", "end"),
        ],
    )


@pytest.mark.parametrize(
    ("reply", "branch", "name", "label"),
    [
        ('{"category_id": "c2", "category_name": "tech"}', "tech", "tech router", "Tech"),
        (
            'Sure! ```json\n{"category_id": "c1", "category_name": "billing"}\n```',
            "bill",
            "billing",
            "CLASS 1",
        ),
        ("no idea", "bill", "billing", "CLASS 1"),  # unparsable -> first class
        (
            '{"category_id": "c9", "category_name": "x"}',
            "bill",
            "billing",
            "CLASS 1",
        ),  # unknown -> first class
    ],
)
async def test_question_classifier_routes_by_class_id(reply, branch, name, label):
    model = FakeModel(reply)
    outcome = await run(
        classifier_graph(), inputs={"q": "my wifi broke", "product": "router"}, ports=Ports(models=model)
    )
    assert outcome.outputs[branch] == f"{'billing' if branch == 'bill' else 'tech'} path"
    other = "tech" if branch == "bill" else "bill"
    assert outcome.outputs[other] is None
    assert (outcome.outputs["name"], outcome.outputs["label"]) == (name, label)
    assert "Be strict about router" in model.requests[0].messages[0].content


# -- parameter extractor ------------------------------------------------------------------------------


def extractor_graph(mode="function_call"):
    parameters = [
        {"name": "city", "type": "string", "description": "city", "required": True},
        {"name": "days", "type": "number", "description": "days", "required": False},
        {"name": "unit", "type": "select", "options": ["c", "f"], "required": False},
        {"name": "flag", "type": "bool", "required": False},
    ]
    return graph(
        [
            start("q"),
            node(
                "pe",
                "parameter-extractor",
                model=MODEL,
                query=["start", "q"],
                parameters=parameters,
                reasoning_mode=mode,
            ),
            end(
                city=["pe", "city"],
                days=["pe", "days"],
                unit=["pe", "unit"],
                flag=["pe", "flag"],
                ok=["pe", "__is_success"],
                reason=["pe", "__reason"],
            ),
        ],
        chain("start", "pe", "end"),
    )


async def test_parameter_extractor_function_call_mode():
    model = FakeModel(
        [
            ModelDelta(
                tool_calls=[
                    ToolCall(
                        "1",
                        "extract_parameters",
                        '{"city": "Oslo", "days": "3", "unit": "c", "flag": "true"}',
                    )
                ]
            )
        ]
    )
    outcome = await run(extractor_graph(), inputs={"q": "Oslo for 3 days"}, ports=Ports(models=model))
    assert outcome.outputs == {"city": "Oslo", "days": 3, "unit": "c", "flag": True, "ok": 1, "reason": None}
    assert model.requests[0].tools[0].parameters["required"] == ["city"]


async def test_parameter_extractor_prompt_mode_and_validation_failure():
    model = FakeModel('{"days": 2}')
    outcome = await run(extractor_graph("prompt"), inputs={"q": "two days"}, ports=Ports(models=model))
    assert outcome.outputs["ok"] == 0
    assert outcome.outputs["reason"] == "Parameter city is required"
    assert outcome.outputs["city"] == "" and outcome.outputs["days"] == 0
    assert model.requests[0].tools == []


async def test_parameter_extractor_rejects_a_select_value_outside_the_options():
    model = FakeModel('{"city": "Rome", "unit": "kelvin"}')
    outcome = await run(extractor_graph("prompt"), inputs={"q": "x"}, ports=Ports(models=model))
    assert outcome.outputs["ok"] == 0
    assert "Invalid select value" in outcome.outputs["reason"]


async def test_llm_completion_mode_inserts_histories_with_role_prefixes():
    class Memory:
        async def history(self, *, conversation_id, max_messages):
            return [PromptMessage("user", "hi"), PromptMessage("assistant", "hello")]

    model = FakeModel("fine")
    config = graph(
        [
            start(),
            node(
                "llm",
                "llm",
                model={**MODEL, "mode": "completion"},
                prompt_template={"text": "Chat so far:\n#histories#\nNow: {{#sys.query#}}"},
                memory={"role_prefix": {"user": "U", "assistant": "A"}, "window": {"enabled": False}},
            ),
            end(t=["llm", "text"]),
        ],
        chain("start", "llm", "end"),
    )
    await run(
        config,
        system={"query": "and now?", "conversation_id": "c"},
        ports=Ports(models=model, memory=Memory()),
    )
    assert [(m.role, m.content) for m in model.requests[0].messages] == [
        ("user", "Chat so far:\nU: hi\nA: hello\nNow: and now?")
    ]
