"""Dify's parameter-rule templates (`use_template`): a rule names a template and overrides what it needs.

Values follow Dify's `PARAMETER_RULE_TEMPLATE`, so a model declared as `{name: max_tokens, use_template:
max_tokens, max: 16384}` means the same here as in Dify.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PARAMETER_TEMPLATES: Mapping[str, Mapping[str, Any]] = {
    "temperature": {
        "label": {"en_US": "Temperature", "zh_Hans": "温度"},
        "type": "float",
        "help": {
            "en_US": "Controls randomness. Lower temperature results in less random completions.",
        },
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_p": {
        "label": {"en_US": "Top P", "zh_Hans": "Top P"},
        "type": "float",
        "help": {"en_US": "Controls diversity via nucleus sampling."},
        "required": False,
        "default": 1.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "top_k": {
        "label": {"en_US": "Top K", "zh_Hans": "Top K"},
        "type": "int",
        "help": {"en_US": "Only sample from the K most likely tokens at each step."},
        "required": False,
        "default": 50,
        "min": 1,
        "max": 100,
        "precision": 0,
    },
    "presence_penalty": {
        "label": {"en_US": "Presence Penalty", "zh_Hans": "存在惩罚"},
        "type": "float",
        "help": {"en_US": "Applies a penalty to the log-probability of tokens already in the text."},
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "frequency_penalty": {
        "label": {"en_US": "Frequency Penalty", "zh_Hans": "频率惩罚"},
        "type": "float",
        "help": {"en_US": "Applies a penalty to the log-probability of tokens that appear in the text."},
        "required": False,
        "default": 0.0,
        "min": 0.0,
        "max": 1.0,
        "precision": 2,
    },
    "max_tokens": {
        "label": {"en_US": "Max Tokens", "zh_Hans": "最大 Token 数"},
        "type": "int",
        "help": {"en_US": "Specifies the upper limit on the length of generated results."},
        "required": False,
        "default": 64,
        "min": 1,
        "max": 2048,
        "precision": 0,
    },
    "response_format": {
        "label": {"en_US": "Response Format", "zh_Hans": "回复格式"},
        "type": "string",
        "help": {"en_US": "Set a response format, such as JSON."},
        "required": False,
        "options": ["JSON", "XML"],
    },
    "json_schema": {
        "label": {"en_US": "JSON Schema"},
        "type": "text",
        "help": {"en_US": "Set a response JSON schema the model will adhere to."},
        "required": False,
    },
}
