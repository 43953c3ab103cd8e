"""Checking ``inputs`` against a chat/completion app's user input form, with Dify's messages."""

from __future__ import annotations

from typing import Any

from dify_project.api.errors import InvalidParam

TEXT_CONTROLS = {"text-input", "paragraph", "select"}


def form_variables(user_input_form: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(control type, settings) for each entry of Dify's one-key-per-entry form list."""
    variables = []
    for entry in user_input_form or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        control, settings = next(iter(entry.items()))
        if isinstance(settings, dict) and settings.get("variable"):
            variables.append((control, settings))
    return variables


def validate_inputs(user_input_form: list[dict[str, Any]], inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs the run may use: declared variables only, checked and cleaned; raises 400 otherwise."""
    cleaned: dict[str, Any] = {}
    for control, settings in form_variables(user_input_form):
        name = settings["variable"]
        value = inputs.get(name)
        if value in (None, "") and settings.get("default") not in (None, ""):
            value = settings["default"]
        if value is None or value == "":
            if settings.get("required"):
                raise InvalidParam(f"{name} is required in input form", params=name)
            cleaned[name] = "" if control in TEXT_CONTROLS else None
            continue
        if control in TEXT_CONTROLS:
            if not isinstance(value, str):
                raise InvalidParam(f"{name} in input form must be a string", params=name)
            value = value.replace("\x00", "")
            max_length = settings.get("max_length")
            if (
                control != "select"
                and isinstance(max_length, int)
                and max_length > 0
                and len(value) > max_length
            ):
                raise InvalidParam(
                    f"{name} in input form must be less than {max_length} characters", params=name
                )
            options = settings.get("options") or []
            if control == "select" and options and value not in options:
                raise InvalidParam(
                    f"{name} in input form must be one of the following: {options}", params=name
                )
        elif control == "number":
            value = _number(name, value)
        elif control == "checkbox" and not isinstance(value, bool):
            raise InvalidParam(f"{name} in input form must be a boolean", params=name)
        elif control == "json_object" and not isinstance(value, dict):
            raise InvalidParam(f"{name} in input form must be an object", params=name)
        cleaned[name] = value
    return cleaned


def _number(name: str, value: Any) -> int | float:
    """Numbers may come as JSON numbers or numeric strings (form posts), as Dify accepts."""
    if isinstance(value, bool):
        raise InvalidParam(f"{name} in input form must be a valid number", params=name)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    raise InvalidParam(f"{name} in input form must be a valid number", params=name)
