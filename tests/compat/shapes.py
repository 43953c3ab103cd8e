"""The payload shapes of ``../shared/contract/service-api.md``, written once as data.

Each set lists the keys a Dify client may read; a response must have all of them (extra keys are
allowed: Dify adds fields over time and clients ignore what they do not know). Section numbers refer
to the contract document.
"""

from __future__ import annotations

from typing import Any

# --- 2. errors ---------------------------------------------------------------------------------------

ERROR = {"code", "message", "status"}

# --- 3a. object shapes -------------------------------------------------------------------------------

PAGE = {"limit", "has_more", "data"}
SIMPLE_CONVERSATION = {"id", "name", "inputs", "status", "introduction", "created_at", "updated_at"}
MESSAGE_LIST_ITEM = {
    "id",
    "conversation_id",
    "parent_message_id",
    "inputs",
    "query",
    "answer",
    "status",
    "error",
    "created_at",
    "message_files",
    "feedback",
    "retriever_resources",
    "agent_thoughts",
}
# Marked [newer] in the contract; current Dify sends all of them.
MESSAGE_LIST_ITEM_NEWER = {
    "message_tokens",
    "answer_tokens",
    "total_tokens",
    "total_price",
    "currency",
    "provider_response_latency",
}
MESSAGE_LIST_ITEM_EXTRA_CONTENTS = {"extra_contents"}
MESSAGE_FILE = {
    "id",
    "filename",
    "type",
    "url",
    "mime_type",
    "size",
    "transfer_method",
    "belongs_to",
    "upload_file_id",
}
CONVERSATION_VARIABLE = {"id", "name", "value_type", "value", "description", "created_at", "updated_at"}
UPLOAD = {
    "id",
    "name",
    "size",
    "extension",
    "mime_type",
    "created_by",
    "created_at",
    "preview_url",
    "source_url",
}
RESULT_SUCCESS = {"result": "success"}
SUGGESTED = {"result", "data"}
META = {"tool_icons"}
INFO = {"name", "description", "tags", "mode", "author_name"}
SITE = {
    "title",
    "chat_color_theme",
    "chat_color_theme_inverted",
    "icon_type",
    "icon",
    "icon_background",
    "icon_url",
    "description",
    "copyright",
    "privacy_policy",
    "custom_disclaimer",
    "default_language",
    "show_workflow_steps",
    "use_icon_as_answer_icon",
}
PARAMETERS = {
    "opening_statement",
    "suggested_questions",
    "suggested_questions_after_answer",
    "speech_to_text",
    "text_to_speech",
    "retriever_resource",
    "annotation_reply",
    "more_like_this",
    "user_input_form",
    "sensitive_word_avoidance",
    "file_upload",
    "system_parameters",
}
SWITCH = {"enabled"}  # every feature switch of the parameters object
PARAMETER_SWITCHES = (
    "suggested_questions_after_answer",
    "speech_to_text",
    "text_to_speech",
    "retriever_resource",
    "annotation_reply",
    "more_like_this",
    "sensitive_word_avoidance",
)
FILE_UPLOAD_IMAGE = {"enabled", "number_limits", "detail", "transfer_methods"}
SYSTEM_PARAMETERS = {
    "file_size_limit",
    "image_file_size_limit",
    "audio_file_size_limit",
    "video_file_size_limit",
    "workflow_file_upload_limit",
}
FORM_CONTROLS = {
    "text-input",
    "paragraph",
    "select",
    "number",
    "file",
    "file-list",
    "checkbox",
    "json_object",
}
FORM_ENTRY = {"label", "variable", "required", "default"}
RUN_DETAIL = {
    "id",
    "workflow_id",
    "status",
    "inputs",
    "outputs",
    "error",
    "total_steps",
    "total_tokens",
    "created_at",
    "finished_at",
    "elapsed_time",
}
USAGE = {
    "prompt_tokens",
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_tokens",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_tokens",
    "total_price",
    "currency",
    "latency",
}
USAGE_PRICES = (
    "prompt_unit_price",
    "prompt_price_unit",
    "prompt_price",
    "completion_unit_price",
    "completion_price_unit",
    "completion_price",
    "total_price",
)  # decimal strings
MESSAGE_METADATA = {"usage", "retriever_resources"}

WORKFLOW_LOGS_PAGE = {"page", "limit", "total", "has_more", "data"}
WORKFLOW_LOG = {
    "id",
    "workflow_run",
    "created_from",
    "created_by_role",
    "created_by_account",
    "created_by_end_user",
    "created_at",
}
WORKFLOW_LOG_RUN = {
    "id",
    "version",
    "status",
    "error",
    "elapsed_time",
    "total_tokens",
    "total_steps",
    "created_at",
    "finished_at",
    "exceptions_count",
    "triggered_from",
}

# --- 4. blocking responses ---------------------------------------------------------------------------

COMPLETION_BLOCKING = {"event", "task_id", "id", "message_id", "mode", "answer", "metadata", "created_at"}
CHAT_BLOCKING = COMPLETION_BLOCKING | {"conversation_id"}
WORKFLOW_BLOCKING = {"task_id", "workflow_run_id", "data"}
WORKFLOW_BLOCKING_DATA = {
    "id",
    "workflow_id",
    "status",
    "outputs",
    "error",
    "elapsed_time",
    "total_tokens",
    "total_steps",
    "created_at",
    "finished_at",
}

# --- 4. SSE envelopes and events ----------------------------------------------------------------------

CHAT_ENVELOPE = {"event", "conversation_id", "message_id", "created_at", "task_id"}
COMPLETION_ENVELOPE = {"event", "message_id", "created_at", "task_id"}
WORKFLOW_ENVELOPE = {"event", "workflow_run_id", "task_id"}
CHATFLOW_ENVELOPE = CHAT_ENVELOPE | {"workflow_run_id"}

# Message-level events: their own top-level fields (merged into the envelope).
MESSAGE_EVENT_FIELDS: dict[str, set[str]] = {
    "message": {"id", "answer"},
    "agent_message": {"id", "answer"},
    "agent_thought": {
        "id",
        "position",
        "thought",
        "observation",
        "tool",
        "tool_labels",
        "tool_input",
        "message_files",
    },
    "message_file": {"id", "type", "belongs_to", "url"},
    "message_replace": {"answer", "reason"},
    "message_end": {"id", "metadata"},
    "error": {"code", "status", "message"},
}

# Workflow and node events: the fields of their nested `data`.
_NODE_STARTED = {
    "id",
    "node_id",
    "node_type",
    "title",
    "index",
    "predecessor_node_id",
    "inputs",
    "inputs_truncated",
    "created_at",
    "extras",
    "iteration_id",
    "loop_id",
    "agent_strategy",
}
# "as node_started plus ...": Dify's NodeFinishStreamResponse.Data has no `agent_strategy` (a start-only
# field), so it is not required here.
_NODE_FINISHED = (_NODE_STARTED - {"agent_strategy"}) | {
    "process_data",
    "process_data_truncated",
    "outputs",
    "outputs_truncated",
    "status",
    "error",
    "elapsed_time",
    "execution_metadata",
    "finished_at",
    "files",
}
WORKFLOW_EVENT_DATA: dict[str, set[str]] = {
    "workflow_started": {"id", "workflow_id", "inputs", "created_at", "reason"},
    "node_started": _NODE_STARTED,
    "node_finished": _NODE_FINISHED,
    "node_retry": _NODE_FINISHED | {"retry_index"},
    "text_chunk": {"text", "from_variable_selector"},
    "text_replace": {"text"},
    "workflow_finished": {
        "id",
        "workflow_id",
        "status",
        "outputs",
        "error",
        "elapsed_time",
        "total_tokens",
        "total_steps",
        "created_by",
        "created_at",
        "finished_at",
        "exceptions_count",
        "files",
    },
}


def missing(payload: Any, keys: set[str]) -> list[str]:
    """The expected keys a payload lacks (all of them when it is not an object)."""
    if not isinstance(payload, dict):
        return sorted(keys)
    return sorted(keys - set(payload))


def assert_has(payload: Any, keys: set[str], where: str) -> None:
    gaps = missing(payload, keys)
    assert not gaps, (
        f"{where}: missing {gaps} (got {sorted(payload) if isinstance(payload, dict) else payload!r})"
    )


def assert_event(event: dict[str, Any], envelope: set[str], where: str) -> None:
    """One SSE event against its envelope and its own fields (top level or in `data`)."""
    name = event.get("event")
    required = set(envelope)
    if name == "error":
        required.discard("task_id")  # Dify's error events carry no task_id
    assert_has(event, required, f"{where} {name} envelope")
    if name in MESSAGE_EVENT_FIELDS:
        assert_has(event, MESSAGE_EVENT_FIELDS[name], f"{where} {name}")
    elif name in WORKFLOW_EVENT_DATA:
        assert_has(event, {"data"}, f"{where} {name}")
        assert_has(event["data"], WORKFLOW_EVENT_DATA[name], f"{where} {name}.data")
    else:
        raise AssertionError(f"{where}: an event this suite has no shape for: {name!r}")
