"""Every comparison operator with Dify's exact semantics, including the error paths."""

from __future__ import annotations

import pytest

from workflows.engine import File, VariablePool
from workflows.engine.conditions import ConditionError, evaluate_all, parse_condition


def check(actual, operator, expected=None, *, declared=None, extra=None):
    pool = VariablePool()
    pool.set("n", "v", actual, declared)
    for key, value in (extra or {}).items():
        pool.set("n", key, value)
    condition = parse_condition(
        {"variable_selector": ["n", "v"], "comparison_operator": operator, "value": expected}, "test"
    )
    result, _, _ = evaluate_all(pool, [condition], "and")
    return result


@pytest.mark.parametrize(
    ("actual", "operator", "expected", "result"),
    [
        ("hello world", "contains", "hello", True),
        ("Hello world", "contains", "hello", False),
        ("", "contains", "x", False),
        (None, "contains", "x", False),
        (["a", "b"], "contains", "a", True),
        ("", "not contains", "x", True),
        ("abc", "not contains", "b", False),
        (["a"], "not contains", "b", True),
        ("hello", "start with", "he", True),
        ("", "start with", "he", False),
        ("hello", "end with", "lo", True),
        ("hello", "is", "hello", True),
        (None, "is", "hello", False),
        ("hello", "is not", "hello", False),
        (None, "is not", "x", False),
        ("", "empty", None, True),
        ([], "empty", None, True),
        (0, "empty", None, True),
        ("x", "not empty", None, True),
        (3, "=", "3", True),
        (3.5, "=", "3.5", True),
        (3, "≠", "4", True),
        (None, "=", "1", False),
        (5, ">", "4.5", True),
        (5, "<", "5", False),
        (5, "≥", "5", True),
        (5.0, "≤", "5", True),
        (None, ">", "1", False),
        ("b", "in", ["a", "b"], True),
        (None, "in", ["a"], False),
        ("c", "not in", ["a", "b"], True),
        (None, "not in", ["a"], True),
        (None, "null", None, True),
        (0, "not null", None, True),
        (None, "exists", None, False),
        ("", "exists", None, True),
        (None, "not exists", None, True),
        (["a", "b", "c"], "all of", ["a", "c"], True),
        (["a"], "all of", ["a", "z"], False),
        ("abc", "all of", ["a", "c"], True),
        ([], "all of", ["a"], False),
        (True, "is", "true", True),
        (False, "=", "1", False),
        (True, "=", "1", True),
    ],
)
def test_operator(actual, operator, expected, result):
    assert check(actual, operator, expected) is result


@pytest.mark.parametrize(
    ("actual", "operator", "expected", "message"),
    [
        (3, "=", "1.5", "invalid literal"),  # int("1.5") fails the node, as in Dify
        ("text", "=", "1", "number or boolean"),
        (3, "is", "3", "string or boolean"),
        ("x", ">", "1", "number"),
        (3, ">", "abc", "Cannot convert"),
        ("a", "in", "a", "array"),
        (3, "start with", "3", "string"),
        ({"a": 1}, "contains", "a", "string or array"),
        (True, "is", "maybe", "unexpected value"),
    ],
)
def test_operator_errors_fail_the_node(actual, operator, expected, message):
    with pytest.raises(ConditionError) as caught:
        check(actual, operator, expected)
    assert message in str(caught.value)


def test_missing_variable_fails():
    pool = VariablePool()
    condition = parse_condition({"variable_selector": ["n", "v"], "comparison_operator": "empty"}, "test")
    with pytest.raises(ConditionError, match="not found"):
        evaluate_all(pool, [condition], "and")


def test_expected_value_is_rendered_from_the_pool():
    assert check("hello bob", "contains", "{{#n.name#}}", extra={"name": "bob"}) is True
    assert check(7, "=", "{{#n.limit#}}", extra={"limit": 7}) is True


def test_and_or_short_circuit():
    pool = VariablePool()
    pool.set("n", "a", "x")
    conditions = [
        parse_condition({"variable_selector": ["n", "a"], "comparison_operator": "is", "value": "x"}, "c1"),
        parse_condition({"variable_selector": ["n", "missing"], "comparison_operator": "empty"}, "c2"),
    ]
    # "or" stops at the first true condition, so the missing variable is never read.
    assert evaluate_all(pool, conditions, "or")[0] is True
    with pytest.raises(ConditionError):
        evaluate_all(pool, conditions, "and")


def test_file_sub_conditions_match_any_or_all_for_negations():
    files = [
        File(type="image", filename="a.png", extension=".png"),
        File(type="document", filename="b.pdf", extension="pdf"),
    ]
    pool = VariablePool()
    pool.set("n", "files", files)

    def run(operator, key, sub_operator, value):
        condition = parse_condition(
            {
                "variable_selector": ["n", "files"],
                "comparison_operator": operator,
                "sub_variable_condition": {
                    "logical_operator": "and",
                    "conditions": [{"key": key, "comparison_operator": sub_operator, "value": value}],
                },
            },
            "test",
        )
        return evaluate_all(pool, [condition], "and")[0]

    assert run("contains", "extension", "is", "pdf") is True  # dot-normalised
    assert run("contains", "type", "is", "audio") is False
    assert run("not contains", "type", "is not", "video") is True  # all files are not videos
    assert run("not contains", "type", "is not", "image") is False
