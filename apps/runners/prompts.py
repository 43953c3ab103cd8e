"""Prompt building for chat, agent-chat and completion apps, with Dify's rules (simple and advanced).

Simple mode composes Dify's fixed template: the dataset context block, the app's ``pre_prompt`` with
``{{variable}}`` filled from the inputs, then (chat models) the history and the query as separate
messages, or (completion models) one text with ``Human:``/``Assistant:`` turns and stop words.
Advanced mode takes the app's own message templates with ``{{#context#}}``, ``{{#query#}}`` and
``{{#histories#}}`` placeholders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Dify's template variables: {{name}} for inputs, {{#context#}}/{{#query#}}/{{#histories#}} specials.
_VARIABLE = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]{0,29}|#histories#|#query#|#context#)\}\}")

CONTEXT_PROMPT = (
    "Use the following context as your learned knowledge, inside <context></context> XML tags.\n\n"
    "<context>\n{{#context#}}\n</context>\n\n"
    "When answer to user:\n"
    "- If you don't know, just say that you don't know.\n"
    "- If you don't know when you are not sure, ask for clarification.\n"
    "Avoid mentioning that you obtained the information from the context.\n"
    "And answer according to the language of the user's question.\n\n"
)
HISTORIES_PROMPT = (
    "Here is the chat histories between human and assistant, inside <histories></histories> XML tags.\n\n"
    "<histories>\n{{#histories#}}\n</histories>\n\n"
)
CHAT_QUERY_PROMPT = "\n\nHuman: {{#query#}}\n\nAssistant: "
CHAT_STOPS = ["\nHuman:", "</histories>"]


def render(template: str, values: dict[str, Any]) -> str:
    """Fill ``{{name}}`` placeholders; unknown ones stay as written. Values cannot inject placeholders."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        text = value if isinstance(value, str) else ("" if value is None else str(value))
        # A value that itself contains {{x}} must not be expanded later (Dify strips the braces too).
        return _VARIABLE.sub(lambda m: "{" + m.group(1) + "}", text)

    return _VARIABLE.sub(replace, template)


@dataclass
class Prompt:
    messages: list[dict[str, Any]]
    stop: list[str] | None = None
    inputs_used: dict[str, str] = field(default_factory=dict)


def _user_message(text: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    images = [f for f in files if f.get("type") == "image" and (f.get("url") or f.get("remote_url"))]
    if not images:
        return {"role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "text", "data": text}]
    parts.extend(
        {"type": "image", "data": f.get("url") or f.get("remote_url"), "detail": "high"} for f in images
    )
    return {"role": "user", "content": parts}


def simple_prompt(
    *,
    app_mode: str,
    model_mode: str,
    pre_prompt: str,
    inputs: dict[str, Any],
    query: str,
    context: str | None,
    history: list[tuple[str, str]],
    files: list[dict[str, Any]],
) -> Prompt:
    values = {key: "" if value is None else str(value) for key, value in inputs.items()}
    system = ""
    if context is not None:
        system += render(CONTEXT_PROMPT, {"#context#": context})
    if pre_prompt:
        system += render(pre_prompt, values) + "\n"
    if model_mode == "chat":
        messages: list[dict[str, Any]] = []
        if system and query:
            messages.append({"role": "system", "content": system})
        for user_text, answer in history:
            messages.append({"role": "user", "content": user_text})
            messages.append({"role": "assistant", "content": answer})
        messages.append(_user_message(query or system, files))
        return Prompt(messages=messages)
    # Completion models: one text. Chat apps get Human/Assistant turns and Dify's stop words.
    chat_app = app_mode != "completion"
    text = system
    if chat_app and history:
        lines = "\n".join(f"Human: {q}\nAssistant: {a}" for q, a in history)
        text += render(HISTORIES_PROMPT, {"#histories#": lines})
    text += render(CHAT_QUERY_PROMPT if chat_app else "{{#query#}}", {"#query#": query})
    return Prompt(messages=[_user_message(text, files)], stop=CHAT_STOPS if chat_app else None)


def advanced_prompt(
    *,
    model_mode: str,
    config: dict[str, Any],
    inputs: dict[str, Any],
    query: str,
    context: str | None,
    history: list[tuple[str, str]],
    files: list[dict[str, Any]],
) -> Prompt:
    values: dict[str, Any] = {key: "" if value is None else str(value) for key, value in inputs.items()}
    values["#context#"] = context or ""
    values["#query#"] = query
    if model_mode == "chat":
        templates = ((config.get("chat_prompt_config") or {}).get("prompt")) or []
        messages = [
            {"role": item.get("role") or "user", "content": render(item.get("text") or "", values)}
            for item in templates
            if isinstance(item, dict)
        ]
        for user_text, answer in history:
            messages.append({"role": "user", "content": user_text})
            messages.append({"role": "assistant", "content": answer})
        if query:
            messages.append(_user_message(query, files))
        elif files and messages:
            messages[-1] = _user_message(str(messages[-1]["content"]), files)
        return Prompt(messages=messages)
    completion = config.get("completion_prompt_config") or {}
    text_template = ((completion.get("prompt") or {}).get("text")) or ""
    roles = completion.get("conversation_histories_role") or {}
    user_prefix = roles.get("user_prefix") or "Human"
    assistant_prefix = roles.get("assistant_prefix") or "Assistant"
    values["#histories#"] = "\n".join(f"{user_prefix}: {q}\n{assistant_prefix}: {a}" for q, a in history)
    return Prompt(messages=[_user_message(render(text_template, values), files)])


def build_prompt(
    *,
    app_mode: str,
    config: dict[str, Any],
    inputs: dict[str, Any],
    query: str,
    context: str | None,
    history: list[tuple[str, str]],
    files: list[dict[str, Any]],
) -> Prompt:
    model = config.get("model") or {}
    model_mode = model.get("mode") or "chat"
    if (config.get("prompt_type") or "simple") == "advanced":
        return advanced_prompt(
            model_mode=model_mode,
            config=config,
            inputs=inputs,
            query=query,
            context=context,
            history=history,
            files=files,
        )
    return simple_prompt(
        app_mode=app_mode,
        model_mode=model_mode,
        pre_prompt=config.get("pre_prompt") or "",
        inputs=inputs,
        query=query,
        context=context,
        history=history,
        files=files,
    )
