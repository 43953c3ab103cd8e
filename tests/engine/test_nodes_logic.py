"""Flow and logic nodes: start, end, answer, if-else, aggregator, list-operator, template, assigners.

Long on purpose: one short case per node behaviour, grouped by node, so a node's contract reads in one place."""

from __future__ import annotations

import pytest

from workflows.engine import (
    Engine,
    File,
    InputError,
    NodeFailed,
    NodeSucceeded,
    VariableUpdated,
    parse_graph,
)

from .helpers import answer, chain, chunks, edge, end, graph, node, of_type, run, start, template

# -- start / end / answer ---------------------------------------------------------------------------


async def test_start_outputs_inputs_plus_flattened_pool():
    config = graph([start("q"), end(q=["start", "q"], query=["start", "sys.query"])], chain("start", "end"))
    outcome = await run(config, inputs={"q": "hi"}, system={"query": "the query"}, environment={"KEY": "v"})
    started = of_type(outcome, NodeSucceeded)[0]
    assert started.outputs["q"] == "hi"
    assert started.outputs["sys.query"] == "the query"
    assert started.outputs["env.KEY"] == "v"
    assert outcome.outputs == {"q": "hi", "query": "the query"}


@pytest.mark.parametrize(
    ("variables", "inputs", "message"),
    [
        ([{"variable": "q", "type": "text-input", "required": True}], {}, "q is required in input form"),
        ([{"variable": "q", "type": "text-input", "max_length": 3}], {"q": "four"}, "less than 3 characters"),
        ([{"variable": "n", "type": "number"}], {"n": "abc"}, "valid number"),
        ([{"variable": "s", "type": "select", "options": ["a", "b"]}], {"s": "c"}, "one of the following"),
        ([{"variable": "q", "type": "paragraph"}], {"q": 5}, "must be a string"),
        ([{"variable": "f", "type": "file"}], {"f": "not a file"}, "must be a file"),
    ],
)
def test_start_inputs_are_validated_before_the_run(variables, inputs, message):
    parsed = parse_graph(graph([node("start", "start", variables=variables), end()], chain("start", "end")))
    with pytest.raises(InputError, match=message):
        Engine().run(parsed, inputs=inputs)


async def test_start_inputs_are_coerced_like_difys_app_generator():
    variables = [
        {"variable": "n", "type": "number"},
        {"variable": "x", "type": "number"},
        {"variable": "c", "type": "checkbox"},
        {"variable": "d", "type": "text-input", "default": "fallback"},
        {"variable": "f", "type": "file"},
    ]
    config = graph(
        [
            node("start", "start", variables=variables),
            end(n=["start", "n"], x=["start", "x"], c=["start", "c"], d=["start", "d"], f=["start", "f"]),
        ],
        chain("start", "end"),
    )
    outcome = await run(
        config,
        inputs={
            "n": "42",
            "x": "2.5",
            "c": "true",
            "f": {"type": "document", "filename": "a.txt", "upload_file_id": "u1"},
        },
    )
    assert outcome.outputs["n"] == 42 and outcome.outputs["x"] == 2.5
    assert outcome.outputs["c"] is True and outcome.outputs["d"] == "fallback"
    assert isinstance(outcome.outputs["f"], File) and outcome.outputs["f"].related_id == "u1"


async def test_start_validates_json_object_inputs_against_their_schema():
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    variables = [{"variable": "profile", "type": "json_object", "json_schema": schema}]
    config = graph(
        [node("start", "start", variables=variables), end(p=["start", "profile"])], chain("start", "end")
    )
    good = await run(config, inputs={"profile": {"age": 3}})
    assert good.status == "succeeded"
    bad = await run(config, inputs={"profile": {"age": "old"}})
    assert bad.status == "failed"
    assert "does not match schema" in bad.error


async def test_end_outputs_null_for_missing_values_and_streams_them_with_newlines():
    config = graph(
        [start("a"), end(a=["start", "a"], missing=["start", "nope"], b=["start", "a"])],
        chain("start", "end"),
    )
    outcome = await run(config, inputs={"a": "x"})
    assert outcome.outputs == {"a": "x", "missing": None, "b": "x"}
    # Streaming waits at a selector that never gets a value, as Dify's coordinator does.
    assert chunks(outcome) == ["x", "\n"]
    assert of_type(outcome, NodeSucceeded)[-1].inputs == outcome.outputs


async def test_answer_renders_markdown_collects_files_and_concatenates():
    image = File(type="image", remote_url="https://x/a.png", filename="a.png", transfer_method="remote_url")
    config = graph(
        [
            start(),
            answer("a1", "list:\n{{#conversation.items#}}\n"),
            answer("a2", "obj {{#conversation.obj#}} {{#conversation.pic#}}"),
        ],
        chain("start", "a1", "a2"),
    )
    outcome = await run(config, conversation={"items": ["x", "y"], "obj": {"k": 1}, "pic": image})
    assert outcome.outputs["answer"] == 'list:\n- x\n- y\nobj {\n  "k": 1\n} ![a.png](https://x/a.png)'
    assert outcome.outputs["files"] == [image]
    assert "".join(chunks(outcome)) == outcome.outputs["answer"]


# -- if-else -----------------------------------------------------------------------------------------------


def branching(cases, legacy=None):
    data = {"cases": cases} if legacy is None else legacy
    return graph(
        [
            start("q", n="number"),
            node("if", "if-else", **data),
            template("yes", "A"),
            template("alt", "B"),
            template("no", "C"),
            end(yes=["yes", "output"], alt=["alt", "output"], no=["no", "output"]),
        ],
        [
            edge("start", "if"),
            edge("if", "yes", "c1"),
            edge("if", "alt", "c2"),
            edge("if", "no", "false"),
            edge("yes", "end"),
            edge("alt", "end"),
            edge("no", "end"),
        ],
    )


def cond(selector, operator, value=None):
    return {"variable_selector": selector, "comparison_operator": operator, "value": value}


CASES = [
    {
        "case_id": "c1",
        "logical_operator": "and",
        "conditions": [cond(["start", "q"], "contains", "a"), cond(["start", "n"], ">", "10")],
    },
    {
        "case_id": "c2",
        "logical_operator": "or",
        "conditions": [cond(["start", "q"], "is", "b"), cond(["start", "n"], "=", "0")],
    },
]


@pytest.mark.parametrize(
    ("q", "n", "branch"),
    [("cat", 11, "yes"), ("cat", 3, "no"), ("b", 3, "alt"), ("zzz", 0, "alt"), ("dog", 100, "no")],
)
async def test_if_else_picks_the_first_true_case_and_skips_the_rest(q, n, branch):
    outcome = await run(branching(CASES), inputs={"q": q, "n": n})
    assert outcome.status == "succeeded"
    assert {key for key, value in outcome.outputs.items() if value is not None} == {branch}
    ran = {event.node_id for event in of_type(outcome, NodeSucceeded)}
    assert ran & {"yes", "alt", "no"} == {branch}
    decision = next(e for e in of_type(outcome, NodeSucceeded) if e.node_id == "if")
    assert decision.outputs["selected_case_id"] == {"yes": "c1", "alt": "c2", "no": "false"}[branch]
    assert decision.outputs["result"] is (branch != "no")


async def test_legacy_if_else_uses_handle_true():
    legacy = {"logical_operator": "and", "conditions": [cond(["start", "q"], "not empty")]}
    config = graph(
        [
            start("q"),
            node("if", "if-else", **legacy),
            template("t", "yes"),
            template("f", "no"),
            end(t=["t", "output"], f=["f", "output"]),
        ],
        [
            edge("start", "if"),
            edge("if", "t", "true"),
            edge("if", "f", "false"),
            edge("t", "end"),
            edge("f", "end"),
        ],
    )
    assert (await run(config, inputs={"q": "x"})).outputs == {"t": "yes", "f": None}
    assert (await run(config, inputs={"q": ""})).outputs == {"t": None, "f": "no"}


async def test_if_else_fails_on_a_bad_comparison():
    cases = [{"case_id": "c1", "conditions": [cond(["start", "n"], "=", "1.5")]}]
    outcome = await run(branching(cases), inputs={"q": "x", "n": 3})
    assert outcome.status == "failed"
    assert of_type(outcome, NodeFailed)[0].node_id == "if"


# -- variable aggregator -------------------------------------------------------------------------------------


async def test_aggregator_outputs_the_first_branch_that_ran():
    config = graph(
        [
            start("q"),
            node("if", "if-else", cases=[{"case_id": "a", "conditions": [cond(["start", "q"], "is", "a")]}]),
            template("ta", "from a"),
            template("tb", "from b"),
            node("agg", "variable-aggregator", variables=[["ta", "output"], ["tb", "output"]]),
            end(out=["agg", "output"]),
        ],
        [
            edge("start", "if"),
            edge("if", "ta", "a"),
            edge("if", "tb", "false"),
            edge("ta", "agg"),
            edge("tb", "agg"),
            edge("agg", "end"),
        ],
    )
    assert (await run(config, inputs={"q": "a"})).outputs == {"out": "from a"}
    assert (await run(config, inputs={"q": "b"})).outputs == {"out": "from b"}


async def test_aggregator_groups_output_an_object_per_group():
    settings = {
        "group_enabled": True,
        "groups": [
            {
                "groupId": "1",
                "group_name": "Group1",
                "output_type": "string",
                "variables": [["x", "output"], ["start", "q"]],
            },
            {"groupId": "2", "group_name": "Group2", "output_type": "string", "variables": [["start", "q"]]},
        ],
    }
    config = graph(
        [
            start("q"),
            template("x", "X"),
            node("agg", "variable-aggregator", advanced_settings=settings),
            end(g1=["agg", "Group1", "output"], g2=["agg", "Group2", "output"]),
        ],
        chain("start", "x", "agg", "end"),
    )
    assert (await run(config, inputs={"q": "qq"})).outputs == {"g1": "X", "g2": "qq"}


# -- list operator ---------------------------------------------------------------------------------------------


def list_graph(**settings):
    data = {
        "variable": ["conversation", "items"],
        "filter_by": {"enabled": False, "conditions": []},
        "order_by": {"enabled": False, "key": "", "value": "asc"},
        "limit": {"enabled": False, "size": -1},
        "extract_by": {"enabled": False, "serial": "1"},
    }
    data.update(settings)
    return graph(
        [
            start(),
            node("lo", "list-operator", **data),
            end(result=["lo", "result"], first=["lo", "first_record"], last=["lo", "last_record"]),
        ],
        chain("start", "lo", "end"),
    )


@pytest.mark.parametrize(
    ("items", "settings", "result"),
    [
        (
            ["apple", "banana", "cherry"],
            {
                "filter_by": {
                    "enabled": True,
                    "conditions": [{"key": "", "comparison_operator": "contains", "value": "an"}],
                }
            },
            ["banana"],
        ),
        (
            ["apple", "banana", "cherry"],
            {
                "filter_by": {
                    "enabled": True,
                    "conditions": [{"comparison_operator": "not in", "value": "apple,cherry"}],
                }
            },
            ["banana"],
        ),
        (
            [5, 1, 4],
            {
                "filter_by": {"enabled": True, "conditions": [{"comparison_operator": "≥", "value": "4"}]},
                "order_by": {"enabled": True, "value": "desc"},
            },
            [5, 4],
        ),
        (
            [5, 1, 4],
            {"order_by": {"enabled": True, "value": "asc"}, "limit": {"enabled": True, "size": 2}},
            [1, 4],
        ),
        (["a", "b", "c"], {"extract_by": {"enabled": True, "serial": "2"}}, ["b"]),
        (
            [True, False, True],
            {"filter_by": {"enabled": True, "conditions": [{"comparison_operator": "is", "value": True}]}},
            [True, True],
        ),
        (
            ["a", "", "b"],
            {
                "filter_by": {
                    "enabled": True,
                    "conditions": [{"comparison_operator": "not empty", "value": ""}],
                }
            },
            ["a", "b"],
        ),
        ([], {"limit": {"enabled": True, "size": 1}}, []),
    ],
)
async def test_list_operator_filter_extract_order_limit(items, settings, result):
    outcome = await run(list_graph(**settings), conversation={"items": items})
    assert outcome.status == "succeeded"
    assert outcome.outputs["result"] == result
    assert outcome.outputs["first"] == (result[0] if result else None)
    assert outcome.outputs["last"] == (result[-1] if result else None)


async def test_list_operator_filters_and_orders_files_by_attribute():
    files = [
        File(type="document", filename="b.pdf", extension=".pdf", size=30),
        File(type="image", filename="a.png", extension=".png", size=10),
        File(type="document", filename="c.txt", extension=".txt", size=20),
    ]
    settings = {
        "filter_by": {
            "enabled": True,
            "conditions": [{"key": "type", "comparison_operator": "in", "value": ["document"]}],
        },
        "order_by": {"enabled": True, "key": "size", "value": "asc"},
    }
    outcome = await run(list_graph(**settings), conversation={"items": files})
    assert [f.filename for f in outcome.outputs["result"]] == ["c.txt", "b.pdf"]


@pytest.mark.parametrize(
    ("items", "settings", "message"),
    [
        ([{"a": 1}], {}, "not an array type"),
        (["a"], {"extract_by": {"enabled": True, "serial": "3"}}, "must be <= 1"),
        (["a"], {"extract_by": {"enabled": True, "serial": "0"}}, "must be >= 1"),
        (
            [1, 2],
            {
                "filter_by": {
                    "enabled": True,
                    "conditions": [{"comparison_operator": "contains", "value": "1"}],
                }
            },
            "Invalid condition",
        ),
    ],
)
async def test_list_operator_errors(items, settings, message):
    outcome = await run(list_graph(**settings), conversation={"items": items})
    assert outcome.status == "failed"
    assert message in outcome.error


async def test_list_operator_fails_on_a_missing_variable():
    config = graph(
        [start(), node("lo", "list-operator", variable=["start", "nope"]), end()], chain("start", "lo", "end")
    )
    outcome = await run(config)
    assert outcome.status == "failed" and "not found" in outcome.error


# -- template transform --------------------------------------------------------------------------------


async def test_template_transform_renders_jinja_with_plain_values():
    config = graph(
        [
            start("name"),
            template(
                "t",
                "Hello, {{ name }}! {{ items | join(',') }}{% if flag %}!{% endif %}\n",
                name=["start", "name"],
                items=["conversation", "items"],
                flag=["conversation", "flag"],
            ),
            end(out=["t", "output"]),
        ],
        chain("start", "t", "end"),
    )
    outcome = await run(config, inputs={"name": "Ada"}, conversation={"items": ["a", "b"], "flag": True})
    assert outcome.outputs == {"out": "Hello, Ada! a,b!"}  # trailing newline dropped, as jinja2.Template does


async def test_template_transform_sandbox_blocks_unsafe_attributes():
    config = graph(
        [start(), template("t", "{{ ''.__class__.__mro__[1].__subclasses__() }}"), end(out=["t", "output"])],
        chain("start", "t", "end"),
    )
    outcome = await run(config)
    assert outcome.status == "failed"
    assert of_type(outcome, NodeFailed)[0].error_type == "TemplateRenderError"


async def test_template_transform_output_length_is_capped():
    from workflows.engine import Limits

    config = graph(
        [start(), template("t", "{{ 'x' * 50 }}"), end(out=["t", "output"])], chain("start", "t", "end")
    )
    outcome = await run(config, limits=Limits(template_max_length=10))
    assert outcome.status == "failed" and "exceeds 10 characters" in outcome.error


# -- assigners -------------------------------------------------------------------------------------------------


def assigner_graph(items, *, version="2"):
    data = {"items": items} if version == "2" else items
    return graph(
        [
            start("q"),
            node("as", "assigner", version=version, **data),
            end(
                s=["conversation", "s"],
                n=["conversation", "n"],
                arr=["conversation", "arr"],
                obj=["conversation", "obj"],
                flag=["conversation", "flag"],
            ),
        ],
        chain("start", "as", "end"),
    )


CONVERSATION = [
    {"name": "s", "value": "old", "value_type": "string"},
    {"name": "n", "value": 10, "value_type": "number"},
    {"name": "arr", "value": [1, 2, 3], "value_type": "array[number]"},
    {"name": "obj", "value": {"a": 1}, "value_type": "object"},
    {"name": "flag", "value": False, "value_type": "boolean"},
]


def item(target, operation, value=None, input_type="constant"):
    return {
        "variable_selector": ["conversation", target],
        "operation": operation,
        "input_type": input_type,
        "value": value,
    }


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([item("s", "over-write", ["start", "q"], "variable")], {"s": "new"}),
        ([item("s", "set", "const")], {"s": "const"}),
        ([item("s", "clear", input_type="variable")], {"s": ""}),
        ([item("n", "+=", 5)], {"n": 15}),
        ([item("n", "-=", 5)], {"n": 5}),
        ([item("n", "*=", 2)], {"n": 20}),
        ([item("n", "/=", 4)], {"n": 2.5}),
        ([item("n", "+=", 1), item("n", "*=", 3)], {"n": 33}),  # read-after-write within the node
        ([item("arr", "append", 4, "variable")], None),  # append with a variable selector: see next test
        ([item("arr", "remove-first", input_type="variable")], {"arr": [2, 3]}),
        ([item("arr", "remove-last", input_type="variable")], {"arr": [1, 2]}),
        ([item("arr", "clear", input_type="variable")], {"arr": []}),
        ([item("obj", "set", '{"b": 2}')], {"obj": {"b": 2}}),
        ([item("flag", "over-write", True)], {"flag": True}),
    ],
)
async def test_assigner_v2_operations(items, expected):
    if expected is None:
        return
    outcome = await run(assigner_graph(items), inputs={"q": "new"}, conversation=CONVERSATION)
    assert outcome.status == "succeeded", outcome.error
    for key, value in expected.items():
        assert outcome.outputs[key] == value
    updates = of_type(outcome, VariableUpdated)
    assert {u.selector for u in updates} == {("conversation", key) for key in expected}


async def test_assigner_v2_append_and_extend_take_variable_inputs():
    config = graph(
        [
            start(),
            template("t", "x"),
            node(
                "as",
                "assigner",
                version="2",
                items=[
                    item("names", "append", ["t", "output"], "variable"),
                    item("names", "extend", ["conversation", "more"], "variable"),
                ],
            ),
            end(names=["conversation", "names"]),
        ],
        chain("start", "t", "as", "end"),
    )
    conversation = [
        {"name": "names", "value": ["a"], "value_type": "array[string]"},
        {"name": "more", "value": ["y", "z"], "value_type": "array[string]"},
    ]
    outcome = await run(config, conversation=conversation)
    assert outcome.outputs == {"names": ["a", "x", "y", "z"]}


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([item("s", "+=", 1)], "not supported for type string"),
        ([item("n", "/=", 0)], "Invalid input value"),
        ([item("n", "+=", ["start", "q"], "variable")], "Input type variable is not supported"),
        ([item("arr", "append", 4)], "Input type constant is not supported"),
        ([item("s", "over-write", 5)], "Invalid input value"),
        ([item("ghost", "clear", input_type="variable")], "not found"),
        ([item("obj", "set", "{not json")], "Invalid input value"),
    ],
)
async def test_assigner_v2_errors(items, message):
    outcome = await run(assigner_graph(items), inputs={"q": "x"}, conversation=CONVERSATION)
    assert outcome.status == "failed"
    assert message in outcome.error
    assert of_type(outcome, VariableUpdated) == []


async def test_assigner_v2_skips_an_item_whose_input_is_none():
    config = assigner_graph([item("s", "over-write", ["conversation", "nothing"], "variable")])
    outcome = await run(
        config, conversation=[*CONVERSATION, {"name": "nothing", "value": None, "value_type": "string"}]
    )
    assert outcome.status == "succeeded"
    assert outcome.outputs["s"] == "old"


@pytest.mark.parametrize(
    ("data", "expected_status", "s"),
    [
        (
            {
                "assigned_variable_selector": ["conversation", "s"],
                "input_variable_selector": ["start", "q"],
                "write_mode": "over-write",
            },
            "succeeded",
            "new",
        ),
        (
            {
                "assigned_variable_selector": ["conversation", "s"],
                "input_variable_selector": [],
                "write_mode": "clear",
            },
            "succeeded",
            "",
        ),
        (
            {
                "assigned_variable_selector": ["conversation", "s"],
                "input_variable_selector": ["start", "q"],
                "write_mode": "append",
            },
            "failed",
            None,
        ),
        (
            {
                "assigned_variable_selector": ["conversation", "s"],
                "input_variable_selector": ["start", "nope"],
                "write_mode": "over-write",
            },
            "failed",
            None,
        ),
    ],
)
async def test_assigner_v1_modes(data, expected_status, s):
    outcome = await run(assigner_graph(data, version="1"), inputs={"q": "new"}, conversation=CONVERSATION)
    assert outcome.status == expected_status
    if s is not None:
        assert outcome.outputs["s"] == s


async def test_assigner_v1_appends_to_arrays():
    data = {
        "assigned_variable_selector": ["conversation", "arr"],
        "input_variable_selector": ["conversation", "n"],
        "write_mode": "append",
    }
    outcome = await run(assigner_graph(data, version="1"), inputs={"q": "x"}, conversation=CONVERSATION)
    assert outcome.outputs["arr"] == [1, 2, 3, 10]
