"""Model configuration of chat, agent-chat and completion apps (Dify's ``AppModelConfig``).

Each save writes a new immutable ``AppModelConfig`` row and points the app at it; messages keep the id of
the row they ran with. ``AppModelConfig.config`` holds every Dify key; :func:`model_config_to_dict` gives
Dify's ``to_dict`` shape (defaults filled in), which is what the console returns, the DSL exports and the
runners should read.

Validation checks shapes and types key by key (``invalid_param`` naming the key). Model parameters
(``model.completion_params``) are checked against the model's parameter rules from the provider catalogue
(``providers.runtime``) when the catalogue knows the provider and the model; for providers or models it
does not list (plugins, custom models) only their shape is checked.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.models import Account
from apps.models import App, AppMode, AppModelConfig
from apps.services.app_datasets import dataset_ids_of_config
from dify_project.api.errors import InvalidParam
from knowledge.services.datasets import app_dataset_joins_sync

logger = logging.getLogger(__name__)

MODEL_CONFIG_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.COMPLETION})
DEFAULT_MODEL = {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}}
DEFAULT_FILE_UPLOAD = {
    "image": {
        "enabled": False,
        "number_limits": 3,
        "detail": "high",
        "transfer_methods": ["remote_url", "local_file"],
    }
}
FORM_TYPES = (
    "text-input",
    "select",
    "paragraph",
    "number",
    "checkbox",
    "json_object",
    "file",
    "file-list",
    "external_data_tool",
)
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_TOGGLES = ("suggested_questions_after_answer", "speech_to_text", "retriever_resource", "more_like_this")
AGENT_STRATEGIES = ("function_call", "react", "router", "react_router")
MAX_STOP_SEQUENCES = 4


def _defaults() -> dict[str, Any]:
    return {
        "opening_statement": "",
        "suggested_questions": [],
        "suggested_questions_after_answer": {"enabled": False},
        "speech_to_text": {"enabled": False},
        "text_to_speech": {"enabled": False, "voice": "", "language": ""},
        "retriever_resource": {"enabled": True},
        "annotation_reply": {"enabled": False},
        "more_like_this": {"enabled": False},
        "sensitive_word_avoidance": {"enabled": False, "type": "", "configs": []},
        "external_data_tools": [],
        "model": copy.deepcopy(DEFAULT_MODEL),
        "user_input_form": [],
        "dataset_query_variable": "",
        "pre_prompt": "",
        "agent_mode": {"enabled": False, "strategy": None, "tools": [], "prompt": None},
        "prompt_type": "simple",
        "chat_prompt_config": {},
        "completion_prompt_config": {},
        "dataset_configs": {
            "retrieval_model": "multiple",
            "datasets": {"strategy": "router", "datasets": []},
        },
        "file_upload": copy.deepcopy(DEFAULT_FILE_UPLOAD),
    }


MODEL_CONFIG_KEYS = tuple(_defaults())


def model_config_defaults(mode: str) -> dict[str, Any]:
    """The configuration of a blank app of this mode (Dify's ``default_app_templates``)."""
    config = _defaults()
    if mode == AppMode.COMPLETION:
        config["user_input_form"] = [
            {"paragraph": {"label": "Query", "variable": "query", "required": True, "default": ""}}
        ]
        config["pre_prompt"] = "{{query}}"
        config["dataset_query_variable"] = "query"
    if mode == AppMode.AGENT_CHAT:
        config["agent_mode"] = {
            "enabled": True,
            "strategy": "function_call",
            "tools": [],
            "prompt": None,
            "max_iteration": 5,
        }
    return config


def model_config_to_dict(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dify's ``AppModelConfig.to_dict()``: every key present, stored values over defaults."""
    result = _defaults()
    for key, value in (config or {}).items():
        result[key] = copy.deepcopy(value)
    return result


# --- validation ------------------------------------------------------------------------------------------


def _fail(key: str, message: str) -> None:
    raise InvalidParam(f"{key}: {message}", params=key)


def _bool_toggle(config: dict[str, Any], key: str) -> None:
    value = config.get(key)
    if value is None:
        return
    if not isinstance(value, Mapping):
        _fail(key, "must be an object with 'enabled'")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        _fail(f"{key}.enabled", "must be a boolean")


def _catalogue_rules(provider: str, name: str) -> Any:
    """The model's schema from the provider catalogue, or None when it is not listed there."""
    try:
        from providers.runtime import default_catalogue
    except ImportError:  # the runtime package is optional for this check
        return None
    try:
        return default_catalogue().model_schema(provider, "llm", name)
    except Exception:  # unknown provider/model, or a customizable model without credentials
        return None


def _validate_model(model: Any) -> dict[str, Any]:
    if not isinstance(model, Mapping):
        _fail("model", "must be an object with provider, name, mode and completion_params")
    provider, name = model.get("provider"), model.get("name")
    if not isinstance(provider, str) or not provider.strip():
        _fail("model.provider", "is required")
    if not isinstance(name, str) or not name.strip():
        _fail("model.name", "is required")
    params = model.get("completion_params", {})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        _fail("model.completion_params", "must be an object")
    params = dict(params)
    stop = params.get("stop")
    if stop is not None:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            _fail("model.completion_params.stop", "must be a list of strings")
        if len(stop) > MAX_STOP_SEQUENCES:
            _fail("model.completion_params.stop", f"at most {MAX_STOP_SEQUENCES} stop sequences are allowed")
    schema = _catalogue_rules(provider, name)
    mode = model.get("mode") or (schema.mode if schema is not None else "chat")
    if mode not in ("chat", "completion"):
        _fail("model.mode", "must be chat or completion")
    if schema is not None:
        from providers.runtime import ParameterError, validate_parameters

        try:
            checked = validate_parameters(schema, params)
        except ParameterError as error:
            _fail(f"model.completion_params.{error.parameter}", str(error))
        # Only the values the user set are kept (coerced): defaults stay implicit, unknown keys such as
        # `stop` are preserved.
        for key, value in checked.items():
            if key in params:
                params[key] = value
    return {**dict(model), "provider": provider, "name": name, "mode": mode, "completion_params": params}


def _validate_form(form: Any) -> list[dict[str, Any]]:
    if not isinstance(form, list):
        _fail("user_input_form", "must be a list")
    seen: set[str] = set()
    result = []
    for index, item in enumerate(form):
        where = f"user_input_form[{index}]"
        if not isinstance(item, Mapping) or len(item) != 1:
            _fail(where, f"must be an object with one key, the control type ({', '.join(FORM_TYPES)})")
        ((control, entry),) = item.items()
        if control not in FORM_TYPES:
            _fail(where, f"unknown control type {control!r}; expected one of {', '.join(FORM_TYPES)}")
        if not isinstance(entry, Mapping):
            _fail(f"{where}.{control}", "must be an object")
        variable = entry.get("variable")
        if not isinstance(variable, str) or not _VARIABLE.match(variable):
            _fail(
                f"{where}.variable",
                "must start with a letter or underscore and contain only letters, digits "
                "and underscores (at most 100)",
            )
        if variable in seen:
            _fail(f"{where}.variable", f"'{variable}' is used twice")
        seen.add(variable)
        label = entry.get("label", variable)
        if not isinstance(label, str):
            _fail(f"{where}.label", "must be a string")
        required = entry.get("required", False)
        if not isinstance(required, bool):
            _fail(f"{where}.required", "must be a boolean")
        max_length = entry.get("max_length")
        if max_length is not None and (
            not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 0
        ):
            _fail(f"{where}.max_length", "must be a non-negative integer")
        options = entry.get("options", [])
        if control == "select":
            if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
                _fail(f"{where}.options", "must be a list of strings")
            default = entry.get("default")
            if default not in (None, "") and default not in options:
                _fail(f"{where}.default", "must be one of the options")
        clean = {**dict(entry), "label": label, "variable": variable, "required": required}
        if control == "select":
            clean["options"] = options
        result.append({control: clean})
    return result


def _validate_dataset_configs(config: dict[str, Any], mode: str) -> None:
    datasets_config = config.get("dataset_configs")
    if datasets_config is None:
        return
    if not isinstance(datasets_config, Mapping):
        _fail("dataset_configs", "must be an object")
    retrieval = datasets_config.get("retrieval_model", "multiple")
    if retrieval not in ("single", "multiple"):
        _fail("dataset_configs.retrieval_model", "must be single or multiple")
    datasets = datasets_config.get("datasets") or {"datasets": []}
    if not isinstance(datasets, Mapping) or not isinstance(datasets.get("datasets", []), list):
        _fail("dataset_configs.datasets", "must be an object with a 'datasets' list")
    ids = []
    for index, item in enumerate(datasets.get("datasets") or []):
        dataset = item.get("dataset") if isinstance(item, Mapping) else None
        if not isinstance(dataset, Mapping):
            _fail(f"dataset_configs.datasets.datasets[{index}]", "must be {'dataset': {'enabled', 'id'}}")
        try:
            uuid.UUID(str(dataset.get("id")))
        except ValueError:
            _fail(f"dataset_configs.datasets.datasets[{index}].dataset.id", "must be a dataset id (UUID)")
        if dataset.get("enabled", True):
            ids.append(dataset["id"])
    for key in ("top_k",):
        value = datasets_config.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            _fail(f"dataset_configs.{key}", "must be a positive integer")
    threshold = datasets_config.get("score_threshold")
    if threshold is not None and (not isinstance(threshold, int | float) or not 0 <= threshold <= 1):
        _fail("dataset_configs.score_threshold", "must be a number between 0 and 1")
    if ids and mode == AppMode.COMPLETION and not config.get("dataset_query_variable"):
        _fail("dataset_query_variable", "is required when a completion app uses datasets")


def _validate_agent_mode(agent_mode: Any, mode: str) -> dict[str, Any]:
    if agent_mode is None:
        agent_mode = {}
    if not isinstance(agent_mode, Mapping):
        _fail("agent_mode", "must be an object")
    enabled = agent_mode.get("enabled", mode == AppMode.AGENT_CHAT)
    if not isinstance(enabled, bool):
        _fail("agent_mode.enabled", "must be a boolean")
    strategy = agent_mode.get("strategy")
    if strategy not in (None, "", *AGENT_STRATEGIES):
        _fail("agent_mode.strategy", f"must be one of {', '.join(AGENT_STRATEGIES)}")
    tools = agent_mode.get("tools", [])
    if not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools):
        _fail("agent_mode.tools", "must be a list of objects")
    iterations = agent_mode.get("max_iteration")
    if iterations is not None and (
        not isinstance(iterations, int) or isinstance(iterations, bool) or not 1 <= iterations <= 99
    ):
        _fail("agent_mode.max_iteration", "must be an integer from 1 to 99")
    return {**dict(agent_mode), "enabled": enabled, "strategy": strategy or None, "tools": list(tools)}


def model_config_validate(*, mode: str, config: Any) -> dict[str, Any]:
    """Check a configuration sent by the console and return it normalised (Dify's keys only, defaults
    filled). Raises ``InvalidParam`` naming the first bad key."""
    if mode not in MODEL_CONFIG_MODES:
        raise InvalidParam(f"App mode '{mode}' has no model configuration; use the workflow endpoints.")
    if not isinstance(config, Mapping):
        raise InvalidParam("The model configuration must be an object.")
    config = dict(config)
    result = _defaults()
    result["model"] = _validate_model(config.get("model"))
    if "user_input_form" in config and config["user_input_form"] is not None:
        result["user_input_form"] = _validate_form(config["user_input_form"])
    for key in ("opening_statement", "pre_prompt", "dataset_query_variable"):
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            _fail(key, "must be a string")
        if value is not None:
            result[key] = value
    questions = config.get("suggested_questions")
    if questions is not None:
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            _fail("suggested_questions", "must be a list of strings")
        result["suggested_questions"] = questions
    for key in _TOGGLES:
        _bool_toggle(config, key)
        if config.get(key) is not None:
            result[key] = dict(config[key])
    tts = config.get("text_to_speech")
    if tts is not None:
        _bool_toggle(config, "text_to_speech")
        for sub in ("voice", "language"):
            if tts.get(sub) is not None and not isinstance(tts.get(sub), str):
                _fail(f"text_to_speech.{sub}", "must be a string")
        result["text_to_speech"] = dict(tts)
    moderation = config.get("sensitive_word_avoidance")
    if moderation is not None:
        _bool_toggle(config, "sensitive_word_avoidance")
        if moderation.get("enabled") and not isinstance(moderation.get("type"), str):
            _fail("sensitive_word_avoidance.type", "is required when moderation is enabled")
        result["sensitive_word_avoidance"] = dict(moderation)
    prompt_type = config.get("prompt_type", "simple")
    if prompt_type not in ("simple", "advanced"):
        _fail("prompt_type", "must be simple or advanced")
    result["prompt_type"] = prompt_type
    for key in ("chat_prompt_config", "completion_prompt_config", "file_upload"):
        value = config.get(key)
        if value is not None and not isinstance(value, Mapping):
            _fail(key, "must be an object")
        if value is not None:
            result[key] = dict(value)
    if prompt_type == "advanced":
        if result["model"]["mode"] == "chat" and not isinstance(
            result["chat_prompt_config"].get("prompt"), list
        ):
            _fail("chat_prompt_config.prompt", "must be a list of messages for an advanced chat prompt")
        if result["model"]["mode"] == "completion" and not isinstance(
            result["completion_prompt_config"].get("prompt"), Mapping
        ):
            _fail("completion_prompt_config.prompt", "must be an object for an advanced completion prompt")
    tools = config.get("external_data_tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(isinstance(t, Mapping) for t in tools):
            _fail("external_data_tools", "must be a list of objects")
        result["external_data_tools"] = [dict(t) for t in tools]
    result["agent_mode"] = _validate_agent_mode(config.get("agent_mode"), mode)
    if config.get("dataset_configs") is not None:
        result["dataset_configs"] = dict(config["dataset_configs"])
    _validate_dataset_configs(result, mode)
    return result


# --- writes ----------------------------------------------------------------------------------------------


@transaction.atomic
def model_config_save(*, app: App, account: Account | None, config: Mapping[str, Any]) -> AppModelConfig:
    """Store a (validated) configuration as a new row and point the app at it."""
    model = config.get("model") or {}
    row = AppModelConfig.objects.create(
        app=app,
        provider=str(model.get("provider") or "")[:255],
        model_id=str(model.get("name") or "")[:255],
        config=copy.deepcopy(dict(config)),
        created_by=account.id if account else None,
    )
    app.app_model_config = row
    app.updated_by = account.id if account else app.updated_by
    app.save(update_fields=["app_model_config", "updated_by", "updated_at"])
    app_dataset_joins_sync(
        tenant_id=app.tenant_id, app_id=app.id, dataset_ids=dataset_ids_of_config(row.config)
    )
    return row


def model_config_update(*, app: App, account: Account, config: Any) -> AppModelConfig:
    """Validate and save a configuration from the console (``POST /apps/{id}/model-config``)."""
    return model_config_save(
        app=app, account=account, config=model_config_validate(mode=app.mode, config=config)
    )
