"""Entities in Dify's JSON shapes, and the runtime's independence from Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from providers.runtime import (
    AssistantMessage,
    ImageContent,
    PromptMessage,
    TextContent,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    prompt_message_from_dict,
    prompt_messages_from_dicts,
    tool_from_dict,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_imports_no_django() -> None:
    # It is used by the workflow engine (through a port) and benchmarked on its own.
    code = "import sys, providers.runtime; print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'celery', 'channels'}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_messages_round_trip_through_difys_json() -> None:
    messages = [
        UserMessage([TextContent("Describe"), ImageContent(url="https://x/y.png", detail="high")]),
        AssistantMessage("Calling.", tool_calls=[ToolCall(id="c1", name="f", arguments='{"a": 1}')]),
        ToolMessage("42", tool_call_id="c1"),
    ]
    restored = prompt_messages_from_dicts([m.to_dict() for m in messages])
    assert restored == messages


def test_dify_prompt_message_json_is_read() -> None:
    message = prompt_message_from_dict(
        {
            "role": "user",
            "content": [
                {"type": "text", "data": "What is this?"},
                {
                    "type": "image",
                    "format": "jpeg",
                    "base64_data": "AAAA",
                    "mime_type": "image/jpeg",
                    "url": "",
                },
            ],
        }
    )
    assert message.text() == "What is this?"
    assert message.images() == [ImageContent(base64_data="AAAA", mime_type="image/jpeg")]


def test_openai_shaped_parts_and_tools_are_accepted_too() -> None:
    message = prompt_message_from_dict(
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}],
        }
    )
    assert message.images() == [ImageContent(base64_data="QUJD", mime_type="image/png")]
    tool = tool_from_dict(
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}
    )
    # an empty schema becomes the empty object schema the providers accept
    assert tool == Tool(name="f", description="d", parameters={"type": "object", "properties": {}})


def test_tool_call_arguments_given_as_an_object_become_json_text() -> None:
    message = prompt_message_from_dict(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": {"x": 2}}}],
        }
    )
    assert message.tool_calls[0].parsed_arguments() == {"x": 2}


@pytest.mark.parametrize(
    "bad",
    [
        {"role": "robot", "content": "x"},
        {"role": "user", "content": 42},
        {"role": "user", "content": [{"type": "video"}]},
    ],
)
def test_malformed_messages_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        prompt_message_from_dict(bad)


def test_bad_tool_call_arguments_are_reported() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        ToolCall(id="1", name="f", arguments="[1, 2]").parsed_arguments()
    assert ToolCall(id="1", name="f", arguments="").parsed_arguments() == {}
    assert PromptMessage(role="user", content=None).text() == ""
