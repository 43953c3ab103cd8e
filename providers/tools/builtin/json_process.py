"""Dify's `json_process` provider (now the `langgenius/json_process` plugin): parse with a JSONPath filter,
insert, replace and delete, on JSON text, with jsonpath-ng (its `ext` parser: filters such as
`$.items[?(@.price > 10)]` work too).

Like Dify's tools, a bad input answers a text message (`Invalid parameter content`, the parser's error)
instead of failing the node; the results are JSON text (`ensure_ascii` as configured).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from jsonpath_ng import DatumInContext, Fields, Index
from jsonpath_ng.ext import parse as jsonpath

from providers.tools.builtin.base import (
    BuiltinProvider,
    BuiltinTool,
    ToolContext,
    json_message,
    text_message,
)
from providers.tools.entities import I18n, ParameterOption, ToolParameter, ToolSpec
from workflows.engine.ports import ToolMessage


def _label(en: str, zh: str) -> I18n:
    return I18n(en_US=en, zh_Hans=zh, pt_BR=en)


def _content(description: str = "JSON content to be processed") -> ToolParameter:
    return ToolParameter(
        name="content",
        label=_label("JSON content", "JSON 内容"),
        required=True,
        human_description=_label("JSON content", "JSON 内容"),
        llm_description=description,
    )


def _query(description: str) -> ToolParameter:
    return ToolParameter(
        name="query",
        label=_label("Query", "查询"),
        required=True,
        human_description=_label(description, "查询"),
        llm_description=description,
    )


ENSURE_ASCII = ToolParameter(
    name="ensure_ascii",
    label=_label("Ensure ASCII", "确保 ASCII"),
    type="boolean",
    form="form",
    default=True,
    human_description=_label("Ensure the JSON output is ASCII encoded", "确保输出的 JSON 是 ASCII 编码"),
)
VALUE_DECODE = ToolParameter(
    name="value_decode",
    label=_label("Decode Value", "解码值"),
    type="boolean",
    form="form",
    default=False,
    human_description=_label("Whether to decode the value to a JSON object", "是否将值解码为 JSON 对象"),
)


def _flag(value: Any, default: bool) -> bool:
    """Booleans and Dify's "True"/"False" select values alike (Dify read a "False" string as true)."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "y", "1")
    return bool(value)


def _dump(data: Any, ensure_ascii: bool) -> str:
    return json.dumps(data, ensure_ascii=ensure_ascii)


class JsonParseTool(BuiltinTool):
    spec = ToolSpec(
        name="parse",
        author="Mingwei Zhang",
        label=_label("JSON Parse", "JSON 解析"),
        description=_label("A tool for extracting JSON objects", "一个解析JSON对象的工具"),
        llm_description="A tool for extracting JSON objects",
        parameters=(
            ToolParameter(
                name="content",
                label=_label("JSON data", "JSON数据"),
                required=True,
                human_description=_label("JSON data", "JSON数据"),
                llm_description="JSON data to be processed",
            ),
            ToolParameter(
                name="json_filter",
                label=_label("JSON filter", "JSON解析对象"),
                human_description=_label("JSON fields to be parsed", "需要解析的 JSON 字段"),
                llm_description="JSON fields to be parsed",
            ),
            ENSURE_ASCII,
            ToolParameter(
                name="output_full_parsed_json",
                label=_label("Output Full Parsed JSON", "输出完整解析的 JSON"),
                type="boolean",
                form="form",
                default=True,
                human_description=_label(
                    "The full parsed JSON is also outputted", "完整解析的 JSON 也已输出"
                ),
            ),
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        content = parameters.get("content") or ""
        json_filter = parameters.get("json_filter") or ""
        ensure_ascii = _flag(parameters.get("ensure_ascii"), True)
        if not content:
            yield text_message("Invalid parameter content")
            return
        messages: list[ToolMessage] = []
        try:
            if _flag(parameters.get("output_full_parsed_json"), True):
                data = json.loads(content)
                items = data if isinstance(data, list) else [data]
                messages.extend(json_message(item) for item in items)
            if json_filter:
                messages.append(text_message(self._extract(content, json_filter, ensure_ascii)))
        except ValueError:
            yield text_message("Failed to extract JSON content")
            return
        for message in messages:
            yield message

    @staticmethod
    def _extract(content: str, json_filter: str, ensure_ascii: bool) -> str:
        try:
            found = [match.value for match in jsonpath(json_filter).find(json.loads(content))]
        except Exception as exc:  # jsonpath-ng raises bare Exceptions for bad expressions
            return str(exc)
        if not found:
            return ""
        result = found[0] if len(found) == 1 else found
        if isinstance(result, dict | list):
            return _dump(result, ensure_ascii)
        return str(result)


class JsonInsertTool(BuiltinTool):
    spec = ToolSpec(
        name="json_insert",
        author="Mingwei Zhang",
        label=_label("JSON Insert", "JSON 插入"),
        description=_label("A tool for inserting JSON content", "一个插入 JSON 内容的工具"),
        llm_description="A tool for inserting JSON content",
        parameters=(
            _content(),
            _query("JSONPath query to locate the element to insert"),
            ToolParameter(
                name="new_value",
                label=_label("New Value", "新值"),
                required=True,
                human_description=_label("New Value", "新值"),
                llm_description="New Value to insert",
            ),
            ToolParameter(
                name="index",
                label=_label("Index", "索引"),
                type="number",
                human_description=_label("The position to insert at, for arrays", "数组中的插入位置"),
                llm_description="The position to insert at when the target is an array",
            ),
            ToolParameter(
                name="create_path",
                label=_label("Whether to create a path", "是否创建路径"),
                type="select",
                form="form",
                required=True,
                default="False",
                human_description=_label(
                    "Whether to create a path when the path does not exist", "查询路径不存在时是否创建路径"
                ),
                options=(
                    ParameterOption(value="True", label=_label("Yes", "是")),
                    ParameterOption(value="False", label=_label("No", "否")),
                ),
            ),
            VALUE_DECODE,
            ENSURE_ASCII,
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        for name in ("content", "query", "new_value"):
            if not parameters.get(name):
                yield text_message(f"Invalid parameter {name}")
                return
        try:
            result = self._insert(
                parameters["content"],
                parameters["query"],
                parameters["new_value"],
                index=parameters.get("index"),
                create_path=_flag(parameters.get("create_path"), False),
                value_decode=_flag(parameters.get("value_decode"), False),
                ensure_ascii=_flag(parameters.get("ensure_ascii"), True),
            )
        except Exception:
            yield text_message("Failed to insert JSON content")
            return
        yield text_message(result)

    @staticmethod
    def _insert(
        content: str,
        query: str,
        new_value: Any,
        *,
        index: Any,
        create_path: bool,
        value_decode: bool,
        ensure_ascii: bool,
    ) -> str:
        try:
            data = json.loads(content)
            if value_decode:
                try:
                    new_value = json.loads(new_value)
                except ValueError:
                    return "Cannot decode new value to json object"
            matches = jsonpath(query).find(data)
            if not matches and create_path:
                _create_path(data, query, new_value)
            for match in matches:
                if isinstance(match.value, dict):
                    if not isinstance(new_value, dict):
                        raise ValueError("Cannot insert non-dict value into dict")
                    match.value.update(new_value)
                elif isinstance(match.value, list):
                    if index is None or index == "":
                        match.value.append(new_value)
                    else:
                        match.value.insert(int(index), new_value)
                else:
                    match.full_path.update(data, new_value)
            return _dump(data, ensure_ascii)
        except Exception as exc:
            return str(exc)


def _create_path(data: Any, query: str, value: Any) -> None:
    """Dify's simple path creation: `$.a.b[2].c` makes missing objects and pads arrays with `{}`."""
    parts = [part for part in query.strip().lstrip("$").strip(".").split(".") if part]
    current = data
    for position, part in enumerate(parts):
        last = position == len(parts) - 1
        if "[" in part and part.endswith("]"):
            name, _, raw_index = part.partition("[")
            slot = int(raw_index.rstrip("]"))
            array = current.setdefault(name, [])
            while len(array) <= slot:
                array.append({})
            if last:
                array[slot] = value
            current = array[slot]
        elif last:
            current[part] = value
        else:
            current = current.setdefault(part, {})


class JsonReplaceTool(BuiltinTool):
    spec = ToolSpec(
        name="json_replace",
        author="Mingwei Zhang",
        label=_label("JSON Replace", "JSON 替换"),
        description=_label("A tool for replacing JSON content", "一个替换 JSON 内容的工具"),
        llm_description="A tool for replacing JSON content",
        parameters=(
            _content(),
            _query("JSONPath query to locate the element to replace"),
            ToolParameter(
                name="replace_pattern",
                label=_label("String to be replaced", "待替换字符串"),
                human_description=_label("String to be replaced", "待替换字符串"),
                llm_description="String to be replaced",
            ),
            ToolParameter(
                name="replace_value",
                label=_label("Replace Value", "替换值"),
                required=True,
                human_description=_label("New Value", "New Value"),
                llm_description="New Value to replace",
            ),
            ToolParameter(
                name="replace_model",
                label=_label("Replace Model", "替换模式"),
                type="select",
                form="form",
                required=True,
                default="pattern",
                human_description=_label("Replace Model", "替换模式"),
                options=(
                    ParameterOption(value="key", label=_label("replace key", "键替换")),
                    ParameterOption(value="value", label=_label("replace value", "值替换")),
                    ParameterOption(value="pattern", label=_label("replace string", "字符串替换")),
                ),
            ),
            VALUE_DECODE,
            ENSURE_ASCII,
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        for name in ("content", "query", "replace_value", "replace_model"):
            if not parameters.get(name):
                yield text_message(f"Invalid parameter {name}")
                return
        content, query = parameters["content"], parameters["query"]
        value, model = parameters["replace_value"], parameters["replace_model"]
        ensure_ascii = _flag(parameters.get("ensure_ascii"), True)
        value_decode = _flag(parameters.get("value_decode"), False)
        try:
            if model == "pattern":
                pattern = parameters.get("replace_pattern") or ""
                if not pattern:
                    yield text_message("Invalid parameter replace_pattern")
                    return
                result = self._replace_pattern(content, query, pattern, value, ensure_ascii, value_decode)
            elif model == "key":
                result = self._replace_key(content, query, value, ensure_ascii)
            elif model == "value":
                result = self._replace_value(content, query, value, ensure_ascii, value_decode)
            else:
                yield text_message(f"Invalid replace_model: {model}")
                return
        except Exception:
            yield text_message("Failed to replace JSON content")
            return
        yield text_message(result)

    @staticmethod
    def _replace_pattern(
        content: str, query: str, pattern: str, value: str, ensure_ascii: bool, value_decode: bool
    ) -> str:
        try:
            data = json.loads(content)
            for match in jsonpath(query).find(data):
                replaced: Any = str(match.value).replace(pattern, value)
                if value_decode:
                    try:
                        replaced = json.loads(replaced)
                    except ValueError:
                        return "Cannot decode replace value to json object"
                match.full_path.update(data, replaced)
            return _dump(data, ensure_ascii)
        except Exception as exc:
            return str(exc)

    @staticmethod
    def _replace_key(content: str, query: str, new_key: str, ensure_ascii: bool) -> str:
        try:
            data = json.loads(content)
            for match in jsonpath(query).find(data):
                parent = match.context.value if match.context else None
                fields = getattr(match.path, "fields", None)
                old_key = fields[0] if fields else None
                if isinstance(parent, dict) and old_key in parent:
                    parent[new_key] = parent.pop(old_key)
            return _dump(data, ensure_ascii)
        except Exception as exc:
            return str(exc)

    @staticmethod
    def _replace_value(content: str, query: str, value: Any, ensure_ascii: bool, value_decode: bool) -> str:
        try:
            data = json.loads(content)
            if value_decode:
                try:
                    value = json.loads(value)
                except ValueError:
                    return "Cannot decode replace value to json object"
            for match in jsonpath(query).find(data):
                match.full_path.update(data, value)
            return _dump(data, ensure_ascii)
        except Exception as exc:
            return str(exc)


class JsonDeleteTool(BuiltinTool):
    spec = ToolSpec(
        name="json_delete",
        author="Dify",
        label=_label("JSON Delete", "JSON 删除"),
        description=_label("A tool for deleting JSON content", "一个删除 JSON 内容的工具"),
        llm_description="A tool for deleting JSON content",
        parameters=(
            _content(),
            _query("JSONPath query to locate the element to delete"),
            ENSURE_ASCII,
        ),
    )

    async def invoke(self, parameters: Mapping[str, Any], ctx: ToolContext) -> AsyncIterator[ToolMessage]:
        for name in ("content", "query"):
            if not parameters.get(name):
                yield text_message(f"Invalid parameter {name}")
                return
        try:
            result = self._delete(
                parameters["content"], parameters["query"], _flag(parameters.get("ensure_ascii"), True)
            )
        except Exception as exc:
            yield text_message(f"Failed to delete JSON content: {exc}")
            return
        yield text_message(result)

    @staticmethod
    def _delete(content: str, query: str, ensure_ascii: bool) -> str:
        try:
            data = json.loads(content)
            query = query.strip()
            matches: list[DatumInContext] = jsonpath(query if query.startswith("$") else f"$.{query}").find(
                data
            )
            # Remove list items from the highest index down, so earlier removals never shift later ones.
            removals: list[tuple[Any, Any]] = []
            for match in matches:
                parent = match.context.value if match.context else None
                if isinstance(parent, dict) and isinstance(match.path, Fields):
                    removals.extend((parent, key) for key in match.path.fields if key in parent)
                elif isinstance(parent, list) and isinstance(match.path, Index):
                    removals.extend((parent, index) for index in match.path.indices)
            for parent, key in sorted(
                removals, key=lambda item: item[1] if isinstance(item[1], int) else -1, reverse=True
            ):
                del parent[key]
            return _dump(data, ensure_ascii)
        except Exception as exc:
            raise ValueError(f"Delete operation failed: {exc}") from exc


PROVIDER = BuiltinProvider(
    name="json_process",
    author="Mingwei Zhang",
    label=_label("JSON Process", "JSON 处理"),
    description=_label(
        "Tools for processing JSON content using jsonpath_ng", "利用 jsonpath_ng 处理 JSON 内容的工具"
    ),
    icon="json_process.svg",
    tags=("utilities",),
    tools=(JsonParseTool(), JsonInsertTool(), JsonReplaceTool(), JsonDeleteTool()),
    aliases={
        "insert": "json_insert",
        "replace": "json_replace",
        "delete": "json_delete",
        "json_parse": "parse",
    },
)
