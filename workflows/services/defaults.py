"""The graph and features a new blank workflow or chatflow starts with (what Dify's editor draws).

Workflow: Start -> End. Chatflow (advanced-chat): Start -> LLM -> Answer, the answer streaming the LLM's
text. Both validate with the engine, so a blank app can be published as it is.
"""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}


def _node(node_id: str, data: dict[str, Any], x: int) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "custom",
        "data": {"desc": "", "selected": False, **data},
        "position": {"x": x, "y": 282},
        "positionAbsolute": {"x": x, "y": 282},
        "sourcePosition": "right",
        "targetPosition": "left",
        "width": 244,
        "height": 90,
        "selected": False,
    }


def _edge(source: str, source_type: str, target: str, target_type: str) -> dict[str, Any]:
    return {
        "id": f"{source}-source-{target}-target",
        "type": "custom",
        "source": source,
        "sourceHandle": "source",
        "target": target,
        "targetHandle": "target",
        "zIndex": 0,
        "data": {
            "sourceType": source_type,
            "targetType": target_type,
            "isInIteration": False,
            "isInLoop": False,
        },
    }


_START = {"type": "start", "title": "Start", "variables": []}

_WORKFLOW_GRAPH: dict[str, Any] = {
    "nodes": [
        _node("start", _START, 80),
        _node("end", {"type": "end", "title": "End", "outputs": []}, 384),
    ],
    "edges": [_edge("start", "start", "end", "end")],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}

_CHATFLOW_GRAPH: dict[str, Any] = {
    "nodes": [
        _node("start", _START, 80),
        _node(
            "llm",
            {
                "type": "llm",
                "title": "LLM",
                "model": DEFAULT_MODEL,
                "prompt_template": [{"role": "system", "text": ""}],
                "memory": {
                    "window": {"enabled": False, "size": 10},
                    "query_prompt_template": "{{#sys.query#}}",
                    "role_prefix": {"user": "", "assistant": ""},
                },
                "context": {"enabled": False, "variable_selector": []},
                "vision": {"enabled": False},
                "variables": [],
            },
            384,
        ),
        _node(
            "answer", {"type": "answer", "title": "Answer", "answer": "{{#llm.text#}}", "variables": []}, 688
        ),
    ],
    "edges": [_edge("start", "start", "llm", "llm"), _edge("llm", "llm", "answer", "answer")],
    "viewport": {"x": 0, "y": 0, "zoom": 1},
}

_FEATURES: dict[str, Any] = {
    "opening_statement": "",
    "suggested_questions": [],
    "suggested_questions_after_answer": {"enabled": False},
    "text_to_speech": {"enabled": False, "language": "", "voice": ""},
    "speech_to_text": {"enabled": False},
    "retriever_resource": {"enabled": True},
    "sensitive_word_avoidance": {"enabled": False},
    "file_upload": {
        "enabled": False,
        "allowed_file_types": ["image"],
        "allowed_file_extensions": [".JPG", ".JPEG", ".PNG", ".GIF", ".WEBP", ".SVG"],
        "allowed_file_upload_methods": ["local_file", "remote_url"],
        "number_limits": 3,
        "image": {"enabled": False, "number_limits": 3, "transfer_methods": ["local_file", "remote_url"]},
    },
}


def default_graph(mode: str) -> dict[str, Any]:
    """A fresh copy of the starting graph for ``workflow`` or ``advanced-chat``."""
    return copy.deepcopy(_CHATFLOW_GRAPH if mode == "advanced-chat" else _WORKFLOW_GRAPH)


def default_features() -> dict[str, Any]:
    return copy.deepcopy(_FEATURES)
