"""Segment types, Dify's rendering rules, `{{#..#}}` templates and the variable pool."""

from __future__ import annotations

import json

import pytest

from workflows.engine import File, VariablePool
from workflows.engine.templates import compile_template
from workflows.engine.values import (
    coerce_declared,
    from_plain,
    infer_type,
    mask_secret,
    to_log,
    to_markdown,
    to_plain,
    to_text,
    zero_value,
)

IMAGE = File(
    type="image",
    transfer_method="remote_url",
    remote_url="https://x/cat.png",
    filename="cat.png",
    extension=".png",
    mime_type="image/png",
    size=10,
)
DOC = File(
    type="document", transfer_method="local_file", url="https://x/a.pdf", filename="a.pdf", extension=".pdf"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "none"),
        ("a", "string"),
        (True, "boolean"),
        (1, "integer"),
        (1.5, "float"),
        ({"a": 1}, "object"),
        (IMAGE, "file"),
        ([], "array[any]"),
        (["a", "b"], "array[string]"),
        ([1, 2.5], "array[number]"),
        ([{"a": 1}], "array[object]"),
        ([True], "array[boolean]"),
        ([IMAGE], "array[file]"),
        (["a", 1], "array[any]"),
        ([[1], [2]], "array[any]"),
    ],
)
def test_type_inference_follows_dify(value, expected):
    assert infer_type(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("héllo", "héllo"),
        (1.0, "1.0"),
        (True, "True"),
        ({"k": "ü", "n": 1}, '{"k": "ü", "n": 1}'),
        (["a", "ü"], '["a", "ü"]'),
        ([1, 2], "[1, 2]"),
        ([], ""),
        (IMAGE, ""),
        ([IMAGE], ""),
    ],
)
def test_text_rendering(value, text):
    assert to_text(value) == text


@pytest.mark.parametrize(
    ("value", "markdown"),
    [
        ({"type": "greeting"}, '{\n  "type": "greeting"\n}'),
        (["mocked search result", "mocked search result"], "- mocked search result\n- mocked search result"),
        ([1, 2], "- 1\n- 2"),
        ([{"a": 1}], "- {'a': 1}"),
        (None, ""),
        (IMAGE, "![cat.png](https://x/cat.png)"),
        ([DOC], "[a.pdf](https://x/a.pdf)"),
        (False, "False"),
    ],
)
def test_markdown_rendering(value, markdown):
    assert to_markdown(value) == markdown


def test_secrets_are_masked_in_logs_only():
    assert to_text("sk-abcdef123456", "secret") == "sk-abcdef123456"
    assert to_log("sk-abcdef123456", "secret") == "sk-abc************56"
    assert mask_secret("short") == "*" * 20


def test_zero_values_and_declared_coercion():
    assert zero_value("array[string]") == []
    assert zero_value("number") == 0
    assert zero_value("object") == {}
    with pytest.raises(ValueError):
        zero_value("file")
    assert coerce_declared("number", "3") == 3
    assert coerce_declared("number", "3.5") == 3.5
    assert coerce_declared("array[string]", '["a"]') == ["a"]
    assert coerce_declared("array[object]", None) == []


def test_files_survive_a_plain_json_round_trip():
    value = {"files": [IMAGE, DOC], "n": 1}
    plain = to_plain(value)
    assert json.loads(json.dumps(plain)) == plain
    assert from_plain(plain) == value


def test_template_renders_text_and_markdown_with_unresolved_paths_kept():
    pool = VariablePool()
    pool.set("llm", "structured_output", {"type": "greeting"})
    pool.set("sys", "query", "hi")
    template = compile_template(
        "Q: {{#sys.query#}} / {{#llm.structured_output#}} / {{#producer.output#}} {{#context#}}"
    )
    assert template.selectors == (("sys", "query"), ("llm", "structured_output"), ("producer", "output"))
    assert template.render_text(pool) == 'Q: hi / {"type": "greeting"} / producer.output {{#context#}}'
    assert template.render_markdown(pool).startswith('Q: hi / {\n  "type"')
    assert compile_template("same") is compile_template("same")  # compiled once, shared


def test_template_grammar_limits_part_lengths():
    too_long_first = "a" * 51
    assert compile_template("{{#" + too_long_first + ".x#}}").selectors == ()
    assert compile_template("{{#node.1bad#}}").selectors == ()
    assert compile_template("{{#n.a.b.c#}}").selectors == (("n", "a", "b", "c"),)


def test_pool_walks_objects_and_file_attributes():
    pool = VariablePool()
    pool.set("n", "obj", {"a": {"b": None}})
    pool.set("n", "file", IMAGE)
    assert pool.lookup(("n", "obj", "a", "b")) == (True, None)
    assert pool.lookup(("n", "obj", "a", "missing")) == (False, None)
    assert pool.get(("n", "file", "extension")) == ".png"
    assert pool.get(("n", "file", "name")) == "cat.png"
    assert pool.lookup(("n", "file", "not_an_attribute")) == (False, None)
    assert pool.lookup(("n",)) == (False, None)


def test_overlays_isolate_writes_but_conversation_variables_reach_the_root():
    root = VariablePool()
    root.set("conversation", "x", "old", "string")
    root.set("a", "v", 1)
    child = root.overlay()
    child.set("a", "v", 2)
    child.set("b", "w", 3)
    child.set("conversation", "x", "new")
    assert child.get(("a", "v")) == 2 and root.get(("a", "v")) == 1
    assert root.get(("b", "w")) is None
    assert root.get(("conversation", "x")) == "new"
    assert child.declared_type(("conversation", "x")) == "string"
    assert child.node_values("a") == {"v": 2}


def test_removing_a_node_in_an_overlay_hides_the_parent_values():
    root = VariablePool()
    root.set("body", "output", "stale")
    child = root.overlay()
    child.remove_node("body")
    assert child.has(("body", "output")) is False
    child.set("body", "output", "fresh")
    assert child.get(("body", "output")) == "fresh"
    assert root.get(("body", "output")) == "stale"


def test_pool_serialises_with_types_and_files():
    pool = VariablePool()
    pool.set("conversation", "files", [DOC], "array[file]")
    pool.set("start", "q", "hi")
    restored = VariablePool.from_dict(json.loads(json.dumps(pool.to_dict())))
    assert restored.get(("conversation", "files")) == [DOC]
    assert restored.declared_type(("conversation", "files")) == "array[file]"
    assert restored.flatten() == {"conversation.files": [DOC], "start.q": "hi"}
