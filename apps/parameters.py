"""The ``/parameters`` object: the input form and feature switches of an app, as Dify builds it.

Workflow and chatflow apps take the features from the published workflow and the form from its Start
node; chat, agent-chat and completion apps take both from their model configuration.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from apps import exceptions as errors
from apps.models import App, AppMode

_DEFAULT_FILE_UPLOAD = {
    "image": {
        "enabled": False,
        "number_limits": 3,
        "detail": "high",
        "transfer_methods": ["remote_url", "local_file"],
    }
}
# Start-node variable keys that belong in a form entry (everything else in the node data is layout).
_FORM_KEYS = (
    "label",
    "variable",
    "required",
    "default",
    "max_length",
    "options",
    "hint",
    "placeholder",
    "allowed_file_types",
    "allowed_file_extensions",
    "allowed_file_upload_methods",
    "json_schema",
)


def start_variables(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """The variables declared by the graph's Start node (empty when there is none)."""
    for node in graph.get("nodes", []):
        data = node.get("data") or {}
        if data.get("type") == "start":
            return list(data.get("variables") or [])
    return []


def user_input_form_from_variables(variables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dify's "old structure": one single-key object per variable, keyed by the control type."""
    form = []
    for variable in variables:
        control = variable.get("type") or "text-input"
        entry = {key: variable[key] for key in _FORM_KEYS if key in variable}
        entry.setdefault("label", variable.get("variable", ""))
        entry.setdefault("required", False)
        entry.setdefault("default", "")
        if control == "select":
            entry.setdefault("options", [])
        entry["type"] = control
        form.append({control: entry})
    return form


def system_parameters() -> dict[str, int]:
    return {
        "image_file_size_limit": settings.UPLOAD_IMAGE_FILE_SIZE_LIMIT,
        "video_file_size_limit": settings.UPLOAD_VIDEO_FILE_SIZE_LIMIT,
        "audio_file_size_limit": settings.UPLOAD_AUDIO_FILE_SIZE_LIMIT,
        "file_size_limit": settings.UPLOAD_FILE_SIZE_LIMIT,
        "workflow_file_upload_limit": settings.WORKFLOW_FILE_UPLOAD_LIMIT,
    }


def parameters_from_features(
    features: dict[str, Any], user_input_form: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "opening_statement": features.get("opening_statement") or "",
        "suggested_questions": features.get("suggested_questions") or [],
        "suggested_questions_after_answer": features.get("suggested_questions_after_answer")
        or {"enabled": False},
        "speech_to_text": features.get("speech_to_text") or {"enabled": False},
        "text_to_speech": features.get("text_to_speech") or {"enabled": False},
        "retriever_resource": features.get("retriever_resource") or {"enabled": False},
        "annotation_reply": features.get("annotation_reply") or {"enabled": False},
        "more_like_this": features.get("more_like_this") or {"enabled": False},
        "user_input_form": user_input_form,
        "sensitive_word_avoidance": features.get("sensitive_word_avoidance")
        or {"enabled": False, "type": "", "configs": []},
        "file_upload": features.get("file_upload") or _DEFAULT_FILE_UPLOAD,
        "system_parameters": system_parameters(),
    }


def app_parameters(app: App) -> dict[str, Any]:
    """The parameters of the app as it is published; an app with nothing published is unavailable."""
    if app.mode in AppMode.workflow_modes():
        workflow = app.workflow
        if workflow is None:
            raise errors.AppUnavailable()
        form = user_input_form_from_variables(start_variables(workflow.graph))
        return parameters_from_features(workflow.features or {}, form)
    config = app.app_model_config
    if config is None:
        raise errors.AppUnavailable()
    return parameters_from_features(config.config, list(config.config.get("user_input_form") or []))
