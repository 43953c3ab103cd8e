"""The `json_process` and `maths` providers' tools, through the port."""

from __future__ import annotations

import json

import pytest

from providers.tools.builtin.maths import ExpressionError, evaluate
from providers.tools.exceptions import ToolNotFoundError
from providers.tools.port import TenantToolPort
from tests.tools.conftest import call_tool, texts

DOC = json.dumps({"name": "Zoë", "items": [{"id": 1, "price": 5}, {"id": 2, "price": 20}], "meta": {"v": 1}})


# --- parse ---------------------------------------------------------------------------------------------------


async def test_parse_outputs_the_document_as_json_and_the_filtered_value_as_text() -> None:
    messages = await call_tool("json_process", "parse", {"content": DOC, "json_filter": "$.items[1].price"})
    assert [m.type for m in messages] == ["json", "text"]
    assert messages[0].data["meta"] == {"v": 1}
    assert messages[1].text == "20"


async def test_parse_of_a_list_gives_one_json_message_per_item() -> None:
    messages = await call_tool(
        "langgenius/json_process/json_process", "parse", {"content": '[{"a": 1}, {"b": 2}]'}
    )
    assert [m.data for m in messages] == [{"a": 1}, {"b": 2}]


async def test_parse_filters_with_jsonpath_extensions_and_honours_ensure_ascii() -> None:
    # given a filter expression and ensure_ascii switched off in the node's configuration
    messages = await call_tool(
        "json_process",
        "parse",
        {"content": DOC, "json_filter": "$.items[?(@.price > 10)]"},
        configurations={"ensure_ascii": "false", "output_full_parsed_json": "false"},
    )
    assert [m.type for m in messages] == ["text"]
    assert json.loads(messages[0].text) == {"id": 2, "price": 20}
    name = await call_tool(
        "json_process",
        "parse",
        {"content": DOC, "json_filter": "$.meta"},
        configurations={"output_full_parsed_json": False},
    )
    assert texts(name) == '{"v": 1}'


async def test_parse_with_ensure_ascii_escapes() -> None:
    messages = await call_tool(
        "json_process",
        "parse",
        {"content": '{"x": {"n": "Zoë"}}', "json_filter": "$.x"},
        configurations={"output_full_parsed_json": False},
    )
    assert texts(messages) == '{"n": "Zo\\u00eb"}'


async def test_parse_answers_difys_messages_for_bad_input() -> None:
    assert texts(await call_tool("json_process", "parse", {"content": ""})) == "Invalid parameter content"
    assert (
        texts(await call_tool("json_process", "parse", {"content": "{nope"}))
        == "Failed to extract JSON content"
    )
    unmatched = await call_tool(
        "json_process",
        "parse",
        {"content": DOC, "json_filter": "$.missing"},
        configurations={"output_full_parsed_json": False},
    )
    assert texts(unmatched) == ""


# --- insert, replace, delete ------------------------------------------------------------------------------


async def test_insert_appends_to_a_list_and_merges_into_an_object() -> None:
    appended = await call_tool(
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.items", "new_value": '{"id": 3}'},
        configurations={"value_decode": True},
    )
    assert json.loads(texts(appended))["items"][-1] == {"id": 3}
    merged = await call_tool(
        "json_process",
        "json_insert",
        {"content": DOC, "query": "$.meta", "new_value": '{"w": 2}', "index": ""},
        configurations={"value_decode": "true"},
    )
    assert json.loads(texts(merged))["meta"] == {"v": 1, "w": 2}


async def test_insert_at_an_index_and_creating_a_missing_path() -> None:
    at_index = await call_tool(
        "json_process",
        "json_insert",
        {"content": '{"a": [1, 2]}', "query": "$.a", "new_value": "x", "index": "0"},
    )
    assert json.loads(texts(at_index)) == {"a": ["x", 1, 2]}
    # Dify's select sends "False"/"True": "False" must not create the path
    untouched = await call_tool(
        "json_process",
        "json_insert",
        {"content": "{}", "query": "$.b.c", "new_value": "v"},
        configurations={"create_path": "False"},
    )
    assert json.loads(texts(untouched)) == {}
    created = await call_tool(
        "json_process",
        "json_insert",
        {"content": "{}", "query": "$.b.c", "new_value": "v"},
        configurations={"create_path": "True"},
    )
    assert json.loads(texts(created)) == {"b": {"c": "v"}}


async def test_insert_refuses_a_non_object_into_an_object() -> None:
    answer = await call_tool(
        "json_process", "json_insert", {"content": DOC, "query": "$.meta", "new_value": "plain"}
    )
    assert texts(answer) == "Cannot insert non-dict value into dict"
    missing = await call_tool("json_process", "json_insert", {"content": DOC, "query": "$.meta"})
    assert texts(missing) == "Invalid parameter new_value"


async def test_replace_by_pattern_value_and_key() -> None:
    pattern = await call_tool(
        "json_process",
        "json_replace",
        {
            "content": '{"s": "hello world"}',
            "query": "$.s",
            "replace_pattern": "world",
            "replace_value": "dify",
        },
        configurations={"replace_model": "pattern"},
    )
    assert json.loads(texts(pattern)) == {"s": "hello dify"}
    value = await call_tool(
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.items[*].price", "replace_value": "0"},
        configurations={"replace_model": "value", "value_decode": True},
    )
    assert [item["price"] for item in json.loads(texts(value))["items"]] == [0, 0]
    key = await call_tool(
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.meta.v", "replace_value": "version"},
        configurations={"replace_model": "key"},
    )
    assert json.loads(texts(key))["meta"] == {"version": 1}


async def test_replace_pattern_needs_a_pattern() -> None:
    answer = await call_tool(
        "json_process",
        "json_replace",
        {"content": DOC, "query": "$.name", "replace_value": "x"},
        configurations={"replace_model": "pattern"},
    )
    assert texts(answer) == "Invalid parameter replace_pattern"


async def test_delete_keys_and_list_items() -> None:
    keys = await call_tool("json_process", "json_delete", {"content": DOC, "query": "meta"})
    assert "meta" not in json.loads(texts(keys))
    items = await call_tool(
        "json_process", "json_delete", {"content": '{"a": [1, 2, 1, 3]}', "query": "$.a[0,2]"}
    )
    assert json.loads(texts(items)) == {"a": [2, 3]}
    broken = await call_tool("json_process", "json_delete", {"content": "{x", "query": "$.a"})
    assert texts(broken).startswith("Failed to delete JSON content: Delete operation failed:")


# --- maths -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("1 + 2 * 3", "7"),
        ("7 / 2", "3.5"),
        ("2 ^ 10", "1024"),
        ("sqrt(16) + abs(-1)", "5.0"),
        ("round(pi, 3)", "3.142"),
        ("(3 > 2) and (1 < 0)", "False"),
        ("where(1 > 0, 10, 20)", "10"),
    ],
)
async def test_eval_expression(expression: str, result: str) -> None:
    messages = await call_tool("maths", "eval_expression", {"expression": expression})
    assert texts(messages) == f'The result of the expression "{expression}" is {result}'


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__",
        "open('/etc/passwd')",
        "[x for x in range(10)]",
        "lambda: 1",
        "9 ** 9 ** 9",
        "10 ** 100000",
        "1 / 0",
        "'a' * 3",
    ],
)
def test_the_evaluator_refuses_anything_but_arithmetic(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression)


async def test_eval_expression_reports_errors_as_dify_does() -> None:
    assert texts(await call_tool("maths", "eval_expression", {"expression": "  "})) == "Invalid expression"
    answer = texts(await call_tool("maths", "eval_expression", {"expression": "1 / 0"}))
    assert answer == "Invalid expression: 1 / 0, error: division by zero"


# --- function specs for agents -----------------------------------------------------------------------


async def test_tool_spec_gives_agents_the_llm_parameters_as_json_schema() -> None:
    port = TenantToolPort(tenant_id="t")
    spec = await port.tool_spec(provider_type="builtin", provider_id="json_process", tool_name="json_replace")
    assert spec.name == "json_replace"
    assert spec.description == "A tool for replacing JSON content"
    # form parameters (replace_model, ensure_ascii, ...) are the node's to configure, not the model's
    assert list(spec.parameters["properties"]) == ["content", "query", "replace_pattern", "replace_value"]
    assert spec.parameters["required"] == ["content", "query", "replace_value"]
    weekday = await port.tool_spec(
        provider_type="builtin", provider_id="langgenius/time/time", tool_name="weekday"
    )
    assert weekday.parameters["properties"]["year"]["type"] == "number"
    with pytest.raises(ToolNotFoundError):
        await port.tool_spec(provider_type="builtin", provider_id="time", tool_name="nope")
