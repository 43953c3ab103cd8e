"""Dify's webhook and schedule trigger roots: their node data (what starts a run) and what they output.

A webhook root checks an incoming request against its data (``prepare_request``: method, content type,
required headers / query parameters / body fields, types) and, in the run, maps the request (Dify's
``webhook_data`` input: method, headers, query_params, body, files) to its output variables: each
configured header (``-`` becomes ``_``), query parameter and body field under its name, the whole request
as ``_webhook_raw``, and the ``sys.*`` values. A schedule root's data becomes a cron expression
(``cron_expression``); the run itself outputs the ``sys.*`` values only.

Both stay pure: HTTP parsing, storage and the clock belong to the caller.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigError, InputError
from .base import NodeContext, NodeResult, get_list
from .flow import TriggerNode

WEBHOOK_METHODS = frozenset({"get", "post", "head", "patch", "put", "delete"})
JSON = "application/json"
FORM_DATA = "multipart/form-data"
FORM_URLENCODED = "application/x-www-form-urlencoded"
TEXT = "text/plain"
BINARY = "application/octet-stream"
WEBHOOK_CONTENT_TYPES = frozenset({JSON, FORM_DATA, FORM_URLENCODED, TEXT, BINARY})
WEBHOOK_PARAMETER_TYPES = frozenset(
    {
        "string",
        "number",
        "boolean",
        "object",
        "array[string]",
        "array[number]",
        "array[boolean]",
        "array[object]",
        "file",
    }
)
RAW_VARIABLE = "_webhook_raw"


class WebhookRequestError(InputError):
    """A request the webhook root refuses; ``status`` is the HTTP answer (400, 405 or 415)."""

    def __init__(self, message: str, status: int = 400, variable: str | None = None) -> None:
        super().__init__(message, variable)
        self.status = status


@dataclass(frozen=True)
class WebhookParameter:
    name: str
    type: str = "string"
    required: bool = False


def _parameters(data: Mapping[str, Any], key: str) -> tuple[WebhookParameter, ...]:
    parameters = []
    for index, raw in enumerate(get_list(data, key)):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
            raise ConfigError(f"{key}[{index}] must be an object with a non-empty 'name'")
        kind = raw.get("type") or "string"
        if kind not in WEBHOOK_PARAMETER_TYPES:
            raise ConfigError(f"{key}[{index}] ({raw['name']}): unsupported webhook parameter type {kind!r}")
        parameters.append(WebhookParameter(raw["name"], kind, bool(raw.get("required", False))))
    return tuple(parameters)


def sanitize(name: str) -> str:
    """Header names become variable names as Dify makes them: ``X-Request-Id`` -> ``X_Request_Id``."""
    return name.replace("-", "_")


def media_type(content_type: str | None) -> str:
    """``multipart/form-data; boundary=x`` -> ``multipart/form-data``; no header reads as JSON (Dify)."""
    return (content_type or JSON).split(";")[0].strip().lower() or JSON


class TriggerWebhookNode(TriggerNode):
    type = "trigger-webhook"

    def configure(self, data: Mapping[str, Any]) -> None:
        method = data.get("method") or "get"
        if not isinstance(method, str) or method.lower() not in WEBHOOK_METHODS:
            raise ConfigError(f"method must be one of {sorted(m.upper() for m in WEBHOOK_METHODS)}")
        self.method = method.lower()
        content_type = data.get("content_type") or JSON
        if not isinstance(content_type, str) or content_type.lower() not in WEBHOOK_CONTENT_TYPES:
            raise ConfigError(f"content_type must be one of {sorted(WEBHOOK_CONTENT_TYPES)}")
        self.content_type = content_type.lower()
        self.headers = _parameters(data, "headers")
        self.params = _parameters(data, "params")
        self.body = _parameters(data, "body")
        # Dify's editor writes async_mode (default on); its server answers every call at once.
        self.async_mode = bool(data.get("async_mode", True))
        status = data.get("status_code", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError("status_code must be an HTTP status (100-599)")
        self.status_code = status
        body = data.get("response_body") or ""
        if not isinstance(body, str):
            raise ConfigError("response_body must be a string")
        self.response_body = body
        timeout = data.get("timeout", 30)
        self.timeout = timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else 30

    # -- the request ----------------------------------------------------------------------------
    def prepare_request(
        self,
        *,
        method: str,
        content_type: str | None,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        body: Mapping[str, Any],
        files: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check a request against the node and return Dify's ``webhook_data`` (values typed as declared).

        ``body`` is the parsed body: the JSON object, the form fields, or ``{"raw": ...}`` for text and
        binary bodies. Raises WebhookRequestError: 405 for another method, 415 for another content type,
        400 for a missing required value or one of the wrong type.
        """
        if method.lower() != self.method:
            raise WebhookRequestError(
                f"HTTP method mismatch. Expected {self.method.upper()}, got {method.upper()}", 405
            )
        received = media_type(content_type)
        if received != self.content_type:
            raise WebhookRequestError(
                f"Content-type mismatch. Expected {self.content_type}, got {received}", 415
            )
        lowered = {sanitize(k).lower(): v for k, v in headers.items()}
        for header in self.headers:
            if header.required and sanitize(header.name).lower() not in lowered:
                raise WebhookRequestError(f"Required header missing: {header.name}", variable=header.name)
        return {
            "method": method.upper(),
            "headers": dict(headers),
            "query_params": _typed(query, self.params, from_text=True, what="parameter"),
            "body": self._typed_body(body, files or {}),
            "files": dict(files or {}),
        }

    def _typed_body(self, body: Mapping[str, Any], files: Mapping[str, Any]) -> dict[str, Any]:
        if self.content_type in (TEXT, BINARY):
            if any(p.required for p in self.body) and not body.get("raw"):
                raise WebhookRequestError(f"Required body content missing for {self.content_type} request")
            return dict(body)
        declared = [p for p in self.body if not (p.type == "file" and self.content_type == FORM_DATA)]
        for parameter in self.body:
            if parameter.type == "file" and parameter.required and parameter.name not in files:
                raise WebhookRequestError(
                    f"Required body parameter missing: {parameter.name}", variable=parameter.name
                )
        from_text = self.content_type in (FORM_URLENCODED, FORM_DATA)
        return _typed(body, declared, from_text=from_text, what="body parameter", keep=body)

    # -- the run --------------------------------------------------------------------------------
    def run(self, ctx: NodeContext) -> NodeResult:
        node_inputs = ctx.pool.node_values(self.id)
        data = node_inputs.get("webhook_data")
        if not isinstance(data, Mapping):
            # Started with plain inputs (Service API, console): they are the variables, as for Start.
            return super().run(ctx)
        outputs = {name: value for name, value in ctx.pool.flatten().items() if name.startswith("sys.")}
        outputs.update(self.outputs_of(data))
        return NodeResult(outputs=outputs, inputs=node_inputs)

    def outputs_of(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The output variables of a request's ``webhook_data`` (missing optional values are None)."""
        outputs: dict[str, Any] = {}
        headers = data.get("headers") if isinstance(data.get("headers"), Mapping) else {}
        lowered = {sanitize(k).lower(): v for k, v in headers.items()}
        for header in self.headers:
            outputs[sanitize(header.name)] = lowered.get(sanitize(header.name).lower())
        query = data.get("query_params") if isinstance(data.get("query_params"), Mapping) else {}
        for param in self.params:
            outputs[param.name] = query.get(param.name)
        body = data.get("body") if isinstance(data.get("body"), Mapping) else {}
        files = data.get("files") if isinstance(data.get("files"), Mapping) else {}
        for parameter in self.body:
            if self.content_type == TEXT:
                outputs[parameter.name] = str(body.get("raw") or "")
            elif self.content_type == BINARY:
                outputs[parameter.name] = body.get("raw")
            elif parameter.type == "file":
                outputs[parameter.name] = files.get(parameter.name)
            else:
                outputs[parameter.name] = body.get(parameter.name)
        outputs[RAW_VARIABLE] = dict(data)
        return outputs

    def response(self) -> tuple[int, Any]:
        """The configured answer: Dify's default message, a JSON body, or ``{"message": text}``."""
        text = self.response_body
        if not text:
            return self.status_code, {"status": "success", "message": "Webhook processed successfully"}
        if text.strip().startswith(("{", "[")):
            try:
                return self.status_code, json.loads(text)
            except ValueError:
                pass
        return self.status_code, {"message": text}


def _typed(
    values: Mapping[str, Any],
    declared: Any,
    *,
    from_text: bool,
    what: str,
    keep: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Declared values checked (required) and typed (text converted, JSON checked); others kept as sent."""
    result = dict(values if keep is None else keep)
    for parameter in declared:
        if parameter.name not in values:
            if parameter.required:
                raise WebhookRequestError(
                    f"Required {what} missing: {parameter.name}", variable=parameter.name
                )
            continue
        value = values[parameter.name]
        try:
            result[parameter.name] = (
                _convert(value, parameter.type) if from_text else _check(value, parameter.type)
            )
        except ValueError as exc:
            raise WebhookRequestError(
                f"Parameter '{parameter.name}' validation failed: {exc}", variable=parameter.name
            ) from None
    return result


def _convert(value: Any, kind: str) -> Any:
    """Form and query values arrive as text."""
    text = str(value)
    if kind == "string":
        return text
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"Cannot convert '{text}' to number") from None
        if not math.isfinite(number):
            raise ValueError(f"Cannot convert '{text}' to number")
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        known = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
        if text.lower() not in known:
            raise ValueError(f"Cannot convert '{text}' to boolean")
        return known[text.lower()]
    raise ValueError(f"Unsupported type '{kind}' for form data")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array[string]": lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
    "array[number]": lambda v: isinstance(v, list) and all(_is_number(i) for i in v),
    "array[boolean]": lambda v: isinstance(v, list) and all(isinstance(i, bool) for i in v),
    "array[object]": lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
    "file": lambda v: isinstance(v, dict),
}


def _check(value: Any, kind: str) -> Any:
    """JSON values arrive typed: check them."""
    if not _CHECKS[kind](value):
        expected = kind.replace("array[", "array of ").rstrip("]")
        raise ValueError(f"Expected {expected}, got {type(value).__name__}")
    return value


# -- schedule -------------------------------------------------------------------------------------

WEEKDAYS = {"sun": "0", "mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6"}
FREQUENCIES = frozenset({"hourly", "daily", "weekly", "monthly"})


def twelve_hour_to_24(text: str) -> tuple[int, int]:
    """Dify's visual time, ``"2:30 PM"`` -> ``(14, 30)``; ``"12:00 AM"`` is midnight."""
    parts = str(text or "").strip().split()
    if len(parts) != 2 or parts[1].upper() not in ("AM", "PM"):
        raise ConfigError(f"visual_config.time {text!r} must look like '2:30 PM'")
    clock = parts[0].split(":")
    if len(clock) != 2 or not all(p.isdigit() for p in clock):
        raise ConfigError(f"visual_config.time {text!r} must look like '2:30 PM'")
    hour, minute = int(clock[0]), int(clock[1])
    if not 1 <= hour <= 12 or not 0 <= minute <= 59:
        raise ConfigError(f"visual_config.time {text!r} is not a time")
    if parts[1].upper() == "PM" and hour != 12:
        hour += 12
    elif parts[1].upper() == "AM" and hour == 12:
        hour = 0
    return hour, minute


class TriggerScheduleNode(TriggerNode):
    """``mode`` cron (``cron_expression``) or visual (``frequency`` + ``visual_config``), in ``timezone``."""

    type = "trigger-schedule"

    def configure(self, data: Mapping[str, Any]) -> None:
        self.mode = data.get("mode") or "visual"
        if self.mode not in ("cron", "visual"):
            raise ConfigError(f"mode must be 'cron' or 'visual', got {self.mode!r}")
        self.timezone = data.get("timezone") or "UTC"
        if not isinstance(self.timezone, str):
            raise ConfigError("timezone must be a string")
        self.frequency = data.get("frequency")
        self.cron = data.get("cron_expression") or ""
        visual = data.get("visual_config") or {}
        if not isinstance(visual, Mapping):
            raise ConfigError("visual_config must be an object")
        self.visual = dict(visual)
        try:
            ZoneInfo(self.timezone)
        except (ValueError, ZoneInfoNotFoundError):
            raise ConfigError(f"timezone {self.timezone!r} is not a known time zone") from None
        self.cron_expression()  # refuse a schedule that cannot fire when the graph is parsed

    def cron_expression(self) -> str:
        """The schedule as a 5-field cron expression (or an ``@daily``-style one). Raises ConfigError."""
        if self.mode == "cron":
            expression = str(self.cron).strip()
            if not expression:
                raise ConfigError("cron_expression is required in cron mode")
            if len(expression.split()) != 5 and not expression.startswith("@"):
                raise ConfigError(
                    f"cron_expression {expression!r} needs 5 fields (minute hour day month weekday)"
                )
            return expression
        frequency = self.frequency or "daily"
        if frequency not in FREQUENCIES:
            raise ConfigError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
        if frequency == "hourly":
            minute = self.visual.get("on_minute", 0)
            if isinstance(minute, bool) or not isinstance(minute, int) or not 0 <= minute <= 59:
                raise ConfigError("visual_config.on_minute must be 0-59")
            return f"{minute} * * * *"
        hour, minute = twelve_hour_to_24(self.visual.get("time") or "12:00 AM")
        if frequency == "daily":
            return f"{minute} {hour} * * *"
        if frequency == "weekly":
            days = self.visual.get("weekdays") or []
            if not days or any(day not in WEEKDAYS for day in days):
                raise ConfigError(f"visual_config.weekdays must name days among {sorted(WEEKDAYS)}")
            return f"{minute} {hour} * * {','.join(sorted(WEEKDAYS[day] for day in set(days)))}"
        days = self.visual.get("monthly_days") or []
        numbers = sorted({d for d in days if isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 31})
        last = "last" in days
        if not days or len(numbers) + int(last) != len(set(map(str, days))):
            raise ConfigError("visual_config.monthly_days must hold days 1-31 or 'last'")
        fields = [str(d) for d in numbers] + (["L"] if last else [])
        return f"{minute} {hour} {','.join(fields)} * *"
