"""Runtime values: Dify's segment types, files, type inference and rendering.

The pool stores plain Python values (str, int, float, bool, dict, list, None, File), not wrapper
objects: wrapping every value costs time on the hot path and most nodes only need the value. The
segment *type* is inferred on demand, or taken from a declaration (conversation, environment and
loop variables carry a declared type so that `clear` and the assigner's support matrix behave as
in Dify even for an empty list).

Rendering follows Dify's segment properties exactly, because answers and HTTP bodies must match
byte for byte:

* `to_text` (HTTP bodies, conditions, prompts): str(value); None -> ""; object -> compact JSON;
  array[string] -> JSON; other arrays -> Python str(list); empty arrays -> ""; files -> "".
* `to_markdown` (Answer / End streaming): object -> JSON with indent=2; arrays -> "- item" lines;
  files -> markdown link or image; None -> "".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Segment type names, as Dify spells them in DSL files and variable declarations.
STRING = "string"
NUMBER = "number"
INTEGER = "integer"
FLOAT = "float"
BOOLEAN = "boolean"
OBJECT = "object"
SECRET = "secret"  # noqa: S105 - a type name, not a password
FILE = "file"
NONE = "none"
ARRAY_ANY = "array[any]"
ARRAY_STRING = "array[string]"
ARRAY_NUMBER = "array[number]"
ARRAY_OBJECT = "array[object]"
ARRAY_FILE = "array[file]"
ARRAY_BOOLEAN = "array[boolean]"

NUMBER_TYPES = frozenset({NUMBER, INTEGER, FLOAT})
ARRAY_TYPES = frozenset({ARRAY_ANY, ARRAY_STRING, ARRAY_NUMBER, ARRAY_OBJECT, ARRAY_FILE, ARRAY_BOOLEAN})
ALL_TYPES = frozenset({STRING, NUMBER, INTEGER, FLOAT, BOOLEAN, OBJECT, SECRET, FILE, NONE} | ARRAY_TYPES)

_ELEMENT_TO_ARRAY = {
    STRING: ARRAY_STRING,
    INTEGER: ARRAY_NUMBER,
    FLOAT: ARRAY_NUMBER,
    NUMBER: ARRAY_NUMBER,
    OBJECT: ARRAY_OBJECT,
    FILE: ARRAY_FILE,
    BOOLEAN: ARRAY_BOOLEAN,
    NONE: ARRAY_ANY,
}
ARRAY_ELEMENT = {
    ARRAY_STRING: STRING,
    ARRAY_NUMBER: NUMBER,
    ARRAY_OBJECT: OBJECT,
    ARRAY_FILE: FILE,
    ARRAY_BOOLEAN: BOOLEAN,
}

# Marker Dify puts in serialised file mappings; we accept it when files arrive as dicts.
FILE_MARKER_KEY = "dify_model_identity"
FILE_MARKER_VALUE = "__dify__file__"


@dataclass(frozen=True, slots=True)
class File:
    """A file reference as Dify's workflow sees it. Bytes are fetched through the files port."""

    type: str = "custom"  # image | document | audio | video | custom
    transfer_method: str = "local_file"  # local_file | remote_url | tool_file | datasource_file
    id: str | None = None
    tenant_id: str | None = None
    related_id: str | None = None  # upload or tool file id
    remote_url: str | None = None
    url: str | None = None  # a signed, fetchable URL when known
    filename: str | None = None
    extension: str | None = None  # with leading dot, e.g. ".pdf"
    mime_type: str | None = None
    size: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fetch_url(self) -> str:
        return self.url or self.remote_url or ""

    @property
    def markdown(self) -> str:
        url = self.fetch_url
        if self.type == "image":
            return f"![{self.filename or ''}]({url})"
        return f"[{self.filename or url}]({url})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data[FILE_MARKER_KEY] = FILE_MARKER_VALUE
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> File:
        known = set(cls.__dataclass_fields__)
        values = {key: value for key, value in data.items() if key in known}
        if "transfer_method" not in values and data.get("transfer_method") is None:
            values["transfer_method"] = "remote_url" if data.get("remote_url") else "local_file"
        if values.get("related_id") is None:
            values["related_id"] = data.get("upload_file_id") or data.get("tool_file_id")
        return cls(**values)

    def attribute(self, name: str) -> Any:
        """Dify's file attributes as addressed by selectors and list-operator keys."""
        if name == "name":
            return self.filename
        if name == "url":
            return self.remote_url if self.transfer_method == "remote_url" else self.fetch_url
        if name in ("type", "extension", "mime_type", "transfer_method", "size", "related_id"):
            return getattr(self, name)
        raise KeyError(name)


FILE_ATTRIBUTES = frozenset(
    {"name", "type", "extension", "mime_type", "transfer_method", "url", "size", "related_id"}
)


def is_file_mapping(value: Any) -> bool:
    return isinstance(value, dict) and value.get(FILE_MARKER_KEY) == FILE_MARKER_VALUE


def normalize(value: Any) -> Any:
    """Turn serialised file mappings into File objects (recursively inside lists)."""
    if isinstance(value, dict):
        if value.get(FILE_MARKER_KEY) == FILE_MARKER_VALUE:
            return File.from_dict(value)
        return value
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [File.from_dict(item) if is_file_mapping(item) else item for item in value]
    return value


def infer_type(value: Any) -> str:
    """Dify's inference: bool -> boolean, int -> integer, float -> float, mixed numbers -> array[number]."""
    if value is None:
        return NONE
    if isinstance(value, str):
        return STRING
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return FLOAT
    if isinstance(value, dict):
        return OBJECT
    if isinstance(value, File):
        return FILE
    if isinstance(value, list | tuple):
        if not value:
            return ARRAY_ANY
        element_types = {infer_type(item) for item in value}
        if len(element_types) == 1:
            (only,) = element_types
            if only.startswith("array["):
                return ARRAY_ANY
            return _ELEMENT_TO_ARRAY.get(only, ARRAY_ANY)
        if element_types <= NUMBER_TYPES:
            return ARRAY_NUMBER
        return ARRAY_ANY
    return ARRAY_ANY if hasattr(value, "__iter__") else STRING


def is_array_type(type_name: str) -> bool:
    return type_name in ARRAY_TYPES


def zero_value(type_name: str) -> Any:
    """Value used by `clear` in the variable assigners."""
    if type_name in ARRAY_TYPES:
        return []
    zeros = {OBJECT: {}, STRING: "", SECRET: "", INTEGER: 0, FLOAT: 0.0, NUMBER: 0, BOOLEAN: False}
    if type_name not in zeros:
        raise ValueError(f"unsupported variable type: {type_name}")
    return zeros[type_name]


def matches_type(type_name: str, value: Any) -> bool:
    """Whether `value` may be stored in a variable declared as `type_name`."""
    if type_name in (STRING, SECRET):
        return isinstance(value, str)
    if type_name in NUMBER_TYPES:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == BOOLEAN:
        return isinstance(value, bool)
    if type_name == OBJECT:
        return isinstance(value, dict)
    if type_name == FILE:
        return isinstance(value, File)
    if type_name == NONE:
        return value is None
    if type_name in ARRAY_TYPES:
        if not isinstance(value, list):
            return False
        element = ARRAY_ELEMENT.get(type_name)
        return element is None or all(matches_type(element, item) for item in value)
    return False


def coerce_declared(type_name: str, value: Any) -> Any:
    """Coerce a declared variable's stored value the way Dify's variable factory does."""
    if value is None:
        return zero_value(type_name) if type_name in ARRAY_TYPES else value
    if type_name in NUMBER_TYPES and isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if type_name == FLOAT and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type_name in (OBJECT, *ARRAY_TYPES) and isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else zero_value(type_name)
        except json.JSONDecodeError:
            return value
    return normalize(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, File):
        return value.to_dict()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_text(value: Any, type_name: str | None = None) -> str:
    """Dify's `Segment.text`."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, File):
        return ""
    if isinstance(value, list):
        if not value:
            return ""
        kind = type_name or infer_type(value)
        if kind == ARRAY_STRING:
            return json.dumps(value, ensure_ascii=False)
        if kind == ARRAY_FILE:
            return ""
        return str(value)
    return str(value)


def to_markdown(value: Any, type_name: str | None = None) -> str:
    """Dify's `Segment.markdown`, used by Answer and End nodes."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2, default=_json_default)
    if isinstance(value, File):
        return value.markdown
    if isinstance(value, list):
        if value and all(isinstance(item, File) for item in value):
            return "\n".join(item.markdown for item in value)
        return "\n".join(f"- {item}" for item in value)
    return str(value)


def mask_secret(value: str) -> str:
    """Dify's masking of secret environment variables in logs."""
    if len(value) <= 8:
        return "*" * 20
    return value[:6] + "*" * 12 + value[-2:]


def to_log(value: Any, type_name: str | None = None) -> str:
    """Like `to_text`, but secrets are masked and objects pretty-printed (Dify's `Segment.log`)."""
    if type_name == SECRET and isinstance(value, str):
        return mask_secret(value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, indent=2, default=_json_default)
    if isinstance(value, File) or (isinstance(value, list) and value and isinstance(value[0], File)):
        return ""
    return to_text(value, type_name)


def to_plain(value: Any) -> Any:
    """A JSON-serialisable copy of a value (files become marked mappings)."""
    if isinstance(value, File):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


def from_plain(value: Any) -> Any:
    """Inverse of `to_plain`."""
    if isinstance(value, dict):
        if value.get(FILE_MARKER_KEY) == FILE_MARKER_VALUE:
            return File.from_dict(value)
        return {key: from_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_plain(item) for item in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_plain(value), ensure_ascii=False)
