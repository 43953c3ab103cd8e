"""Turning a case's fields into engine inputs: mocks, expected-value placeholders, generated inputs."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from ..mocks import Mocks, NodeMock

# -- placeholder resolution --------------------------------------------------------------------------------

_ITEM_HANDLER = re.compile(r"<custom handler: \[item, item \* 2\] where item = (\w+)\.(\w+)>")


def _mock_from(spec: Mapping[str, Any]) -> NodeMock:
    outputs = dict(spec)
    chunks = outputs.pop("chunks", None)
    for key, value in list(outputs.items()):
        match = _ITEM_HANDLER.fullmatch(value) if isinstance(value, str) else None
        if match:
            node_id, name = match.groups()

            def handler(ctx: Any, _key: str = key, _sel: tuple[str, str] = (node_id, name)) -> dict[str, Any]:
                item = ctx.pool.get(_sel)
                return {_key: [item, item * 2]}

            return NodeMock(handler=handler)
    return NodeMock(outputs=outputs or None, chunks=list(chunks) if chunks else None)


def mocks_for(case: dict[str, Any], builder: bool) -> Mocks | None:
    nodes: dict[str, NodeMock] = {}
    types: dict[str, NodeMock] = {}
    for key, spec in (case.get("mock_node_outputs") or {}).items():
        if builder and key == "http":
            continue  # a recorded HTTP response, served through the HTTP port, not a mock
        if key == "<every llm node>":
            types["llm"] = _mock_from(spec)
        else:
            nodes[key] = _mock_from(spec)
    for node_id, message in (case.get("mock_node_errors") or {}).items():
        nodes.setdefault(node_id, NodeMock()).error = message
    for node_id, delay in (case.get("mock_delays") or {}).items():
        nodes.setdefault(node_id, NodeMock()).delay = float(delay)
    if not (case.get("use_auto_mock") or nodes or types):
        return None
    level = "config" if "MockConfig()" in case.get("notes", "") else "none"
    return Mocks(
        nodes=nodes,
        types=types,
        auto=bool(case.get("use_auto_mock")),
        level=level,
        llm_text=case.get("default_llm_text"),
    )


def resolve_expected(expected: Any, query: Any) -> Any:
    if isinstance(expected, str) and expected in ("<same as input>", "<input>"):
        return query
    if isinstance(expected, dict):
        resolved = {}
        for key, value in expected.items():
            if key == "<'true' if 'hello' in input else 'false'>":
                key = "true" if "hello" in query else "false"
            resolved[key] = resolve_expected(value, query)
        return resolved
    return expected


# -- property-based inputs -------------------------------------------------------------------------------

_ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    " \t\n\r!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "αβγδεζηθικλμνξοπρστυφχψω",
    "中文测试한국어日本語العربية",
    "🎉🌟💫⭐🔥💯🚀🎯",
    "\x00\x01\x07\x1b\x7f\u200b\u00a0\ufeff",
    "àéîõüçñß",
    "hello",
    "{{#}}[]",
]
_SPECIAL = [
    "",
    " " * 100,
    "\n\t\r\f\v",
    '{"json": "like", "data": [1, 2, 3]}',
    "SELECT * FROM users; DROP TABLE users;--",
    "<script>alert('xss')</script>",
    "../../etc/passwd",
    "🎉🌟💫⭐🔥💯🚀🎯",
    "中文测试한국어日本語العربية",
    "hello world",
    "goodbye world",
    "Hello",
    "HELLO",
    "hello" * 10,
    "say hello to everyone",
    "{{#1754154032319.query#}}",
]


def generate_texts(description: str, seed: str) -> list[str]:
    """Deterministic stand-in for the Hypothesis strategies named in `case_description`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    count_match = re.search(r"max_examples=(\d+)", description)
    count = int(count_match.group(1)) if count_match else 20
    low, high = 0, 40
    bounds = re.search(r"(\d+)\s*(?:\.\.|-)\s*(\d+)", description)
    if bounds:
        low, high = int(bounds.group(1)), int(bounds.group(2))
    one_of = description.startswith("one_of")
    texts: list[str] = list(_SPECIAL) if one_of else []
    target = len(texts) + count
    while len(texts) < target:
        size = rng.randint(low, high)
        alphabet = "".join(rng.sample(_ALPHABETS, k=rng.randint(1, 3)))
        texts.append("".join(rng.choice(alphabet) for _ in range(size)))
    if not one_of and low == 0:
        texts[0] = ""  # the empty string is the classic edge case; always include it
    return texts
