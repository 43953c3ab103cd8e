"""The OpenAI-compatible face of every app: request mapping and answer shapes (no HTTP, no database).

``POST /v1/chat/completions`` and ``POST /v1/responses`` take OpenAI's bodies; this module turns one into
the Dify request the app's runner already understands, and turns the run's Dify events back into OpenAI's
objects and stream chunks. The mapping (README, "Beyond Dify"):

* the last ``user`` message is the query; ``system``/``developer`` messages and sampling parameters are
  ignored (the app's own prompt and model settings apply);
* earlier ``user``/``assistant`` turns are the history, unless ``conversation_id`` (top level, i.e. the
  SDK's ``extra_body``, or in ``metadata``) continues a stored conversation, whose own turns are used;
  ``previous_response_id`` does the same on ``/responses``;
* ``user`` is Dify's ``user`` (default ``openai``); ``inputs`` (top level or ``metadata.inputs``, a JSON
  string accepted since OpenAI's metadata values are strings) are Dify's ``inputs``;
* workflow and completion apps put the last user message into their first text input unless ``inputs``
  sets it; the answer is the streamed text, else the single output, else the outputs as JSON;
* ``workflow_id`` (top level or ``metadata``) pins a published version of a workflow or chatflow;
* ``model`` must name the app: its id or its name (``GET /v1/models`` lists it).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_USER = "openai"
_TEXT_CONTROLS = ("text-input", "paragraph")


class OpenAIError(Exception):
    """An error in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.type, self.code, self.param = message, status, type, code, param

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


_TYPES = {401: "invalid_request_error", 403: "permission_error", 429: "rate_limit_error"}


def openai_error(message: str, *, status: int, code: str | None, param: str | None = None) -> OpenAIError:
    """OpenAI's error for one of ours (a Dify ``code`` kept as the ``code``)."""
    if code == "quota_exceeded":
        kind = "insufficient_quota"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = _TYPES.get(status, "invalid_request_error")
    if status == 401:
        code = "invalid_api_key"
    return OpenAIError(message, status=status, type=kind, code=code, param=param)


# --- requests -------------------------------------------------------------------------------------------


@dataclass
class AppCall:
    """One OpenAI request, as the app's runner takes it."""

    model: str
    query: str
    history: list[list[str]] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    inputs_given: bool = False
    user: str = DEFAULT_USER
    conversation_id: str | None = None
    previous_response_id: str | None = None
    workflow_id: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False


def _mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):  # OpenAI's metadata values are strings: accept JSON there
        try:
            value = json.loads(value)
        except ValueError:
            raise OpenAIError(f"'{name}' must be a JSON object.", param=name) from None
    if not isinstance(value, dict):
        raise OpenAIError(f"'{name}' must be an object.", param=name)
    return value


def _uuid(value: Any, name: str) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise OpenAIError(f"'{name}' must be a valid UUID.", param=name) from None


def _text_of(content: Any, param: str, files: list[dict[str, Any]] | None = None) -> str:
    """A message's text: a string, or the text parts of a list (image parts become Dify files)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise OpenAIError("Message content must be a string or a list of parts.", param=param)
    texts = []
    for part in content:
        if not isinstance(part, dict):
            raise OpenAIError("Each content part must be an object.", param=param)
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            texts.append(str(part.get("text") or ""))
        elif kind in ("image_url", "input_image") and files is not None:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                files.append({"type": "image", "transfer_method": "remote_url", "url": url})
    return "\n".join(t for t in texts if t)


def _split_turns(messages: list[Any], param: str) -> tuple[str, list[list[str]], list[dict[str, Any]]]:
    """(query, history pairs, files) from OpenAI-style messages; the last one must come from the user."""
    turns: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise OpenAIError("Each message must be an object.", param=f"{param}[{index}]")
        role = message.get("role") or ("user" if message.get("type") in (None, "message") else None)
        if role in ("user", "assistant"):
            turns.append((role, message.get("content")))  # type: ignore[arg-type]
    if not turns or turns[-1][0] != "user":
        raise OpenAIError("The last message must be a user message: it is the app's query.", param=param)
    files: list[dict[str, Any]] = []
    query = _text_of(turns[-1][1], f"{param}[-1].content", files)
    if not query.strip():
        raise OpenAIError("The last user message has no text.", param=param)
    history: list[list[str]] = []
    pending: str | None = None
    for role, content in turns[:-1]:
        text = _text_of(content, param)
        if role == "user":
            if pending is not None:  # two user turns in a row: keep both, the first unanswered
                history.append([pending, ""])
            pending = text
        else:
            history.append([pending or "", text])
            pending = None
    if pending is not None:
        history.append([pending, ""])
    return query, [pair for pair in history if pair[0] or pair[1]], files


def _common(body: dict[str, Any], call: AppCall) -> AppCall:
    metadata = _mapping(body.get("metadata"), "metadata")
    inputs_value = body.get("inputs", metadata.get("inputs"))
    call.inputs = _mapping(inputs_value, "inputs")
    call.inputs_given = inputs_value is not None
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise OpenAIError("'user' must be a string.", param="user")
    call.user = (user or metadata.get("user") or DEFAULT_USER)[:255]
    call.conversation_id = _uuid(
        body.get("conversation_id") or metadata.get("conversation_id"), "conversation_id"
    )
    call.workflow_id = _uuid(body.get("workflow_id") or metadata.get("workflow_id"), "workflow_id")
    if call.conversation_id:
        call.history = []  # the stored conversation brings its own turns
    return call


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise OpenAIError("'model' is required: the app's id (see GET /v1/models).", param="model")
    return model


def _body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise OpenAIError("The request body must be a JSON object.")
    return data


def chat_completion_call(data: Any) -> AppCall:
    """The app call of a ``/chat/completions`` body."""
    body = _body(data)
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAIError("'messages' must be a non-empty list.", param="messages")
    query, history, files = _split_turns(messages, "messages")
    options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
    call = AppCall(
        model=model,
        query=query,
        history=history,
        files=files,
        stream=bool(body.get("stream")),
        include_usage=bool(options.get("include_usage")),
    )
    return _common(body, call)


def response_call(data: Any) -> AppCall:
    """The app call of a ``/responses`` body (``input`` a string or a list of message items)."""
    body = _body(data)
    model = _model(body)
    given = body.get("input")
    if isinstance(given, str):
        if not given.strip():
            raise OpenAIError("'input' has no text.", param="input")
        query, history, files = given, [], []
    elif isinstance(given, list) and given:
        query, history, files = _split_turns(given, "input")
    else:
        raise OpenAIError("'input' must be a string or a non-empty list of messages.", param="input")
    call = AppCall(model=model, query=query, history=history, files=files, stream=bool(body.get("stream")))
    call = _common(body, call)
    previous = body.get("previous_response_id")
    if previous is not None:
        if not isinstance(previous, str) or not previous.startswith("resp_"):
            raise OpenAIError("'previous_response_id' is not a response id.", param="previous_response_id")
        call.previous_response_id = _uuid(previous[len("resp_") :], "previous_response_id")
        call.history = []
    return call


def first_text_input(form: list[dict[str, Any]]) -> str | None:
    """The variable of the first text (or paragraph) field of an input form, Dify's "old structure"."""
    for entry in form:
        for control, spec in entry.items():
            if control in _TEXT_CONTROLS and isinstance(spec, dict) and spec.get("variable"):
                return str(spec["variable"])
    return None


# --- answers --------------------------------------------------------------------------------------------


def _outputs_text(outputs: Any) -> str:
    if not outputs:
        return ""
    if isinstance(outputs, dict) and len(outputs) == 1:
        (value,) = outputs.values()
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(outputs, ensure_ascii=False)


@dataclass
class RunTranscript:
    """What a run's Dify events amount to, fed one at a time; ``feed`` returns the new answer text."""

    text: list[str] = field(default_factory=list)
    message_id: str | None = None
    conversation_id: str | None = None
    workflow_run_id: str | None = None
    task_id: str | None = None
    outputs: Any = None
    status: str = "succeeded"
    error: OpenAIError | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    chat_usage: bool = False
    ended: bool = False

    def feed(self, event: dict[str, Any]) -> str:
        name = event.get("event")
        self.task_id = self.task_id or event.get("task_id")
        self.message_id = self.message_id or event.get("message_id")
        self.conversation_id = self.conversation_id or event.get("conversation_id")
        self.workflow_run_id = self.workflow_run_id or event.get("workflow_run_id")
        delta = ""
        if name in ("message", "agent_message"):
            delta = str(event.get("answer") or "")
        elif name == "text_chunk":
            delta = str((event.get("data") or {}).get("text") or "")
        elif name == "message_replace":  # moderation replaced the answer: the stream cannot take it back
            self.text = [str(event.get("answer") or "")]
        elif name == "node_finished" and not self.chat_usage:
            data = event.get("data") or {}
            outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
            usage = (data.get("execution_metadata") or {}).get("usage") or outputs.get("usage") or {}
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += int(usage.get("completion_tokens") or 0)
        elif name == "message_end":
            usage = (event.get("metadata") or {}).get("usage") or {}
            if usage:
                self.chat_usage = True
                self.prompt_tokens = int(usage.get("prompt_tokens") or 0)
                self.completion_tokens = int(usage.get("completion_tokens") or 0)
                self.total_tokens = int(usage.get("total_tokens") or 0)
        elif name == "workflow_finished":
            data = event.get("data") or {}
            self.outputs = data.get("outputs")
            self.status = str(data.get("status") or "succeeded")
            if not self.chat_usage:
                self.total_tokens = int(data.get("total_tokens") or 0)
            if self.status == "failed" and self.error is None:
                self.error = OpenAIError(
                    str(data.get("error") or "The run failed."), status=500, type="server_error"
                )
        elif name == "error":
            self.error = openai_error(
                str(event.get("message") or "The run failed."),
                status=int(event.get("status") or 500),
                code=event.get("code"),
            )
        if delta:
            self.text.append(delta)
        return delta

    @property
    def answer(self) -> str:
        return "".join(self.text) or _outputs_text(self.outputs)

    def usage(self) -> dict[str, int]:
        total = max(self.total_tokens, self.prompt_tokens + self.completion_tokens)
        completion = self.completion_tokens or max(total - self.prompt_tokens, 0)
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": completion, "total_tokens": total}

    def dify_ids(self) -> dict[str, Any]:
        """Dify's identifiers, sent beside OpenAI's fields (a client continues with ``conversation_id``)."""
        ids = {
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "workflow_run_id": self.workflow_run_id,
        }
        return {key: value for key, value in ids.items() if value}

    def object_id(self) -> str:
        return (self.message_id or self.workflow_run_id or self.task_id or uuid.uuid4().hex).replace("-", "")


class ChatCompletionShape:
    """``chat.completion`` objects and ``chat.completion.chunk`` frames of one run."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.created = int(time.time())
        self.id = ""

    def completion(self, transcript: RunTranscript) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{transcript.object_id()}",
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": transcript.answer, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": transcript.usage(),
            **transcript.dify_ids(),
        }

    def chunk(
        self, transcript: RunTranscript, delta: dict[str, Any], finish: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        self.id = self.id or f"chatcmpl-{transcript.object_id()}"
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **transcript.dify_ids(),
            **extra,
        }

    def usage_chunk(self, transcript: RunTranscript) -> dict[str, Any]:
        return {
            "id": self.id or f"chatcmpl-{transcript.object_id()}",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": transcript.usage(),
            **transcript.dify_ids(),
        }


class ResponseShape:
    """``response`` objects and the Responses API's typed stream events of one run."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.created = int(time.time())
        self.sequence = 0
        self.id = ""
        self.item_id = f"msg_{uuid.uuid4().hex}"

    def response_id(self, transcript: RunTranscript) -> str:
        # A chat app's response id carries its message id: previous_response_id finds the conversation.
        self.id = self.id or f"resp_{transcript.object_id()}"
        return self.id

    def message_item(self, text: str, status: str = "completed") -> dict[str, Any]:
        content = [{"type": "output_text", "text": text, "annotations": []}] if status == "completed" else []
        return {
            "type": "message",
            "id": self.item_id,
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def response(self, transcript: RunTranscript, status: str = "completed") -> dict[str, Any]:
        usage = transcript.usage()
        done = status == "completed"
        return {
            "id": self.response_id(transcript),
            "object": "response",
            "created_at": self.created,
            "status": status,
            "model": self.model,
            "output": [self.message_item(transcript.answer)] if done else [],
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": False,
            "temperature": None,
            "top_p": None,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": usage["prompt_tokens"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage["completion_tokens"],
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage["total_tokens"],
            }
            if done
            else None,
            **transcript.dify_ids(),
        }

    def event(self, kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        self.sequence += 1
        return kind, {"type": kind, "sequence_number": self.sequence - 1, **fields}
