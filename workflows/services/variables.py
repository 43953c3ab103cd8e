"""Environment and conversation variables of a workflow: validation, encryption at rest, masking.

Stored shape (``Workflow.environment_variables`` / ``conversation_variables``) is Dify's DSL shape, a list
of ``{id, name, value, value_type, description, selector}``. Secret environment values are stored
encrypted with ``dify_project.crypto`` (prefix ``enc:v1:``), returned masked, blanked on export unless
asked for, and decrypted only by :func:`environment_values` for a run.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from dify_project import crypto
from workflows.services.errors import VariableInvalid

HIDDEN_VALUE = "[__HIDDEN__]"
ENVIRONMENT_TYPES = ("string", "number", "secret")
CONVERSATION_TYPES = (
    "string",
    "number",
    "integer",
    "float",
    "object",
    "boolean",
    "secret",
    "array[any]",
    "array[string]",
    "array[number]",
    "array[object]",
    "array[boolean]",
    "array[file]",
    "file",
)
# Dify's MAX_VARIABLE_SIZE (200 KB) bounds each value.
MAX_VARIABLE_SIZE = 200 * 1024
# Selector parts after the first follow Dify's template syntax: a letter or underscore, then word chars.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def _check_name(name: Any, kind: str, index: int) -> str:
    if not isinstance(name, str) or not name:
        raise VariableInvalid(f"{kind} variable at index {index}: name is required.")
    if not _NAME.match(name):
        raise VariableInvalid(
            f"{kind} variable '{name}': the name must start with a letter or underscore and contain only "
            "letters, digits and underscores."
        )
    return name


def _size_ok(name: str, kind: str, value: Any) -> None:
    size = len(value.encode()) if isinstance(value, str) else len(json.dumps(value, default=str).encode())
    if size > MAX_VARIABLE_SIZE:
        raise VariableInvalid(f"{kind} variable '{name}' is too large ({size} bytes; the limit is 200 KB).")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(name: str, kind: str, value_type: str, value: Any) -> Any:
    """Check (and lightly coerce, as Dify's variable factory does) a value against its declared type."""
    problem = f"{kind} variable '{name}': value does not match type '{value_type}'"
    if value is None:
        return value
    if value_type in ("string", "secret"):
        if _is_number(value):
            return str(value)
        if not isinstance(value, str):
            raise VariableInvalid(problem)
    elif value_type in ("number", "float", "integer"):
        if isinstance(value, str) and value.strip():
            try:
                value = float(value) if "." in value or "e" in value.lower() else int(value)
            except ValueError:
                raise VariableInvalid(problem) from None
        if not _is_number(value):
            raise VariableInvalid(problem)
        if value_type == "integer" and value != int(value):
            raise VariableInvalid(problem)
    elif value_type == "boolean":
        if not isinstance(value, bool):
            raise VariableInvalid(problem)
    elif value_type == "object":
        if not isinstance(value, dict):
            raise VariableInvalid(problem)
    elif value_type.startswith("array["):
        if not isinstance(value, list):
            raise VariableInvalid(problem)
        element = value_type[len("array[") : -1]
        checks = {
            "string": lambda v: isinstance(v, str),
            "number": _is_number,
            "object": lambda v: isinstance(v, dict),
            "boolean": lambda v: isinstance(v, bool),
        }
        check = checks.get(element)
        if check and not all(check(v) for v in value):
            raise VariableInvalid(f"{problem}: every element must be of type {element}")
    return value


def _common(raw: Any, kind: str, index: int, allowed_types: Sequence[str], prefix: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise VariableInvalid(f"{kind} variable at index {index} must be an object.")
    name = _check_name(raw.get("name"), kind, index)
    value_type = raw.get("value_type")
    if isinstance(value_type, str):
        value_type = value_type.lower()
    if value_type not in allowed_types:
        raise VariableInvalid(
            f"{kind} variable '{name}': value_type {raw.get('value_type')!r} is not supported; "
            f"expected one of {', '.join(allowed_types)}."
        )
    variable = dict(raw)  # unknown keys are kept: they round-trip through the DSL
    variable_id = raw.get("id")
    variable["id"] = str(variable_id) if variable_id not in (None, "") else str(uuid.uuid4())
    variable["name"] = name
    variable["value_type"] = value_type
    variable["description"] = raw.get("description") or ""
    variable["selector"] = [prefix, name]
    return variable


def _unique(variables: list[dict[str, Any]], kind: str) -> None:
    seen: set[str] = set()
    for variable in variables:
        if variable["name"] in seen:
            raise VariableInvalid(f"{kind} variable name '{variable['name']}' is used twice.")
        seen.add(variable["name"])


def environment_variables_prepare(
    raw_variables: Any, *, previous: Sequence[Mapping[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Validate environment variables for storage; secret values get encrypted.

    A secret sent back as ``[__HIDDEN__]`` (or as its own mask) keeps the stored value of the variable with
    the same id (or, failing that, the same name), as Dify does.
    """
    if raw_variables is None:
        return []
    if not isinstance(raw_variables, list):
        raise VariableInvalid("environment_variables must be a list.")
    old_by_id = {str(v.get("id")): v for v in previous}
    old_by_name = {v.get("name"): v for v in previous}
    prepared: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_variables):
        variable = _common(raw, "Environment", index, ENVIRONMENT_TYPES, "env")
        value = variable.get("value")
        if variable["value_type"] == "secret":
            old = old_by_id.get(variable["id"]) or old_by_name.get(variable["name"])
            old_value = old.get("value") if old and old.get("value_type") == "secret" else None
            if value == HIDDEN_VALUE or (
                old_value and isinstance(value, str) and value == crypto.mask(_decrypt(old_value))
            ):
                if old_value is None:
                    raise VariableInvalid(
                        f"Environment variable '{variable['name']}': there is no stored secret to keep."
                    )
                variable["value"] = old_value
            else:
                value = (
                    "" if value is None else _check_value(variable["name"], "Environment", "secret", value)
                )
                _size_ok(variable["name"], "Environment", value)
                variable["value"] = crypto.encrypt(value) if value else ""
        else:
            if value is None:
                value = "" if variable["value_type"] == "string" else 0
            variable["value"] = _check_value(variable["name"], "Environment", variable["value_type"], value)
            _size_ok(variable["name"], "Environment", variable["value"])
        prepared.append(variable)
    _unique(prepared, "Environment")
    return prepared


def conversation_variables_prepare(raw_variables: Any) -> list[dict[str, Any]]:
    """Validate conversation variables (ids need not be UUIDs, as in Dify's fixtures)."""
    if raw_variables is None:
        return []
    if not isinstance(raw_variables, list):
        raise VariableInvalid("conversation_variables must be a list.")
    prepared = []
    for index, raw in enumerate(raw_variables):
        variable = _common(raw, "Conversation", index, CONVERSATION_TYPES, "conversation")
        variable["value"] = _check_value(
            variable["name"], "Conversation", variable["value_type"], variable.get("value")
        )
        _size_ok(variable["name"], "Conversation", variable["value"])
        prepared.append(variable)
    _unique(prepared, "Conversation")
    return prepared


def _decrypt(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    if not value.startswith(crypto.PREFIX):
        return value
    try:
        return crypto.decrypt(value)
    except crypto.SecretDecryptionError:
        return ""


def environment_variables_masked(variables: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For console responses: secret values masked (``abcdef************yz``), never plain."""
    result = []
    for variable in variables:
        item = dict(variable)
        if item.get("value_type") == "secret":
            item["value"] = crypto.mask(_decrypt(item.get("value"))) or ""
        result.append(item)
    return result


def environment_variables_for_export(
    variables: Sequence[Mapping[str, Any]], *, include_secret: bool
) -> list[dict[str, Any]]:
    """For the DSL: secret values blanked, or decrypted when the caller asked for secrets."""
    result = []
    for variable in variables:
        item = dict(variable)
        if item.get("value_type") == "secret":
            item["value"] = _decrypt(item.get("value")) if include_secret else ""
        result.append(item)
    return result


def environment_values(variables: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{name: value}`` with secrets decrypted: what a run puts under ``env.*``. Never log the result."""
    return {
        v["name"]: (_decrypt(v.get("value")) if v.get("value_type") == "secret" else v.get("value"))
        for v in variables
        if v.get("name")
    }
