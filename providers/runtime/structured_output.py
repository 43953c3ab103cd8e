"""Dify's `json_schema` model parameter, read into a JSON Schema for providers' structured output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from providers.runtime.errors import ParameterError


def parse_json_schema_parameter(value: Any) -> tuple[str, dict[str, Any], bool | None]:
    """(name, schema, strict) from the `json_schema` parameter, which holds either `{"name", "schema",
    "strict"?}` (what Dify's LLM node sends) or a bare JSON Schema, as text or as an object."""
    try:
        data = json.loads(value) if isinstance(value, str) else value
    except ValueError as exc:
        raise ParameterError("json_schema", f"must be valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise ParameterError("json_schema", "must be a JSON object")
    if isinstance(data.get("schema"), Mapping):
        strict = bool(data["strict"]) if "strict" in data else None
        return str(data.get("name") or "response"), dict(data["schema"]), strict
    return "response", dict(data), None
