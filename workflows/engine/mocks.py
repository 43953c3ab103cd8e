"""Node-output mocking: fixed outputs, errors or delays for chosen node ids or node types.

Used by the conformance runner and, later, by users' workflow test cases. A mocked node does not
call its port; the executor still stores its outputs, follows its edges and streams its text.

Resolution (Dify's mock factory): a mock for the node id wins over one for the node type; with
`auto=True` every node of a type Dify auto-mocks (llm, agent, tool, knowledge-retrieval,
http-request, question-classifier, parameter-extractor, document-extractor, code,
template-transform) gets the default mock. Containers and flow nodes always run for real.
Outputs: non-empty `outputs` replace the whole default dict; otherwise `handler(ctx)`; otherwise
Dify's defaults (two levels: "none" = test passed no MockConfig, "config" = `MockConfig()`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NodeError
from .nodes.base import CONTAINER, SUCCEEDED, NodeResult

if TYPE_CHECKING:
    from .nodes.base import Node, NodeContext

AUTO_MOCK_TYPES = frozenset(
    {
        "llm",
        "agent",
        "tool",
        "knowledge-retrieval",
        "http-request",
        "question-classifier",
        "parameter-extractor",
        "document-extractor",
        "code",
        "template-transform",
    }
)

_DEFAULTS = {
    "none": {
        "llm": "Mocked LLM response",
        "agent": "Mocked agent response",
        "retrieval": "Mocked retrieval content",
        "template": "mocked template output",
    },
    "config": {
        "llm": "This is a mocked LLM response",
        "agent": "This is a mocked agent response",
        "retrieval": "This is mocked retrieval content",
        "template": "This is mocked template transform output",
    },
}
MOCK_USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


@dataclass(slots=True)
class NodeMock:
    outputs: dict[str, Any] | None = None
    error: str | None = None
    delay: float = 0.0
    handler: Callable[[NodeContext], dict[str, Any]] | None = None
    chunks: list[str] | None = None  # exact text chunks to stream (the last one is final)
    handle: str | None = None  # edge handle for mocked branch nodes


@dataclass
class Mocks:
    nodes: Mapping[str, NodeMock] = field(default_factory=dict)
    types: Mapping[str, NodeMock] = field(default_factory=dict)
    auto: bool = False
    level: str = "none"  # "none" | "config"
    llm_text: str | None = None
    simulate_delays: bool = True

    def resolve(self, node: Node) -> NodeMock | None:
        if node.execution == CONTAINER or node.hidden:
            return None
        mock = self.nodes.get(node.id)
        if mock is None:
            mock = self.types.get(node.type)
        if mock is None and self.auto and node.type in AUTO_MOCK_TYPES:
            mock = _AUTO
        return mock

    def delay_of(self, mock: NodeMock) -> float:
        return mock.delay if self.simulate_delays else 0.0

    def run(self, node: Node, ctx: NodeContext, mock: NodeMock) -> NodeResult:
        """Produce the mocked result (synchronously; delays are awaited by the executor)."""
        if mock.error:
            return NodeResult.failed(mock.error, "MockError")
        if mock.outputs:
            outputs = dict(mock.outputs)
        elif mock.handler is not None:
            outputs = dict(mock.handler(ctx))
        else:
            default = self._default(node, ctx)
            if default.status != SUCCEEDED:
                return default
            outputs = default.outputs
        if node.type == "llm" and "text" in outputs:
            self._stream_text(ctx, node.id, str(outputs["text"]), mock.chunks)
        handle = mock.handle
        if handle is None and node.type == "question-classifier":
            handle = outputs.get("class_id") or outputs.get("class_name")
        elif handle is None and node.type == "if-else":
            handle = outputs.get("selected_case_id", "false")
        elif handle is None and node.type == "human-input":
            handle = outputs.get("__action_id")
        return NodeResult(outputs=outputs, handle=handle, metadata={"mocked": True})

    @staticmethod
    def _stream_text(ctx: NodeContext, node_id: str, text: str, chunks: list[str] | None) -> None:
        selector = (node_id, "text")
        if chunks:
            for index, chunk in enumerate(chunks):
                ctx.emit_chunk(selector, chunk, index == len(chunks) - 1)
            return
        words = text.split(" ")
        for index, word in enumerate(words):
            ctx.emit_chunk(selector, word if index == 0 else " " + word)
        ctx.emit_chunk(selector, "", True)

    def _default(self, node: Node, ctx: NodeContext) -> NodeResult:
        texts = _DEFAULTS.get(self.level, _DEFAULTS["none"])
        kind = node.type
        if kind == "llm":
            outputs = {
                "text": self.llm_text if self.llm_text is not None else texts["llm"],
                "usage": dict(MOCK_USAGE),
                "finish_reason": "stop",
            }
        elif kind == "agent":
            outputs = {"output": texts["agent"], "files": []}
        elif kind == "tool":
            outputs = {"result": "mocked tool output"}
        elif kind == "knowledge-retrieval":
            outputs = {
                "result": [
                    {"content": texts["retrieval"], "score": 0.95, "metadata": {"source": "mock_source"}}
                ]
            }
        elif kind == "http-request":
            outputs = {"status_code": 200, "body": "mocked response", "headers": {}}
        elif kind == "question-classifier":
            outputs = {"class_name": "class_1"}
        elif kind == "parameter-extractor":
            outputs = {"parameters": {"param1": "value1", "param2": "value2"}}
        elif kind == "document-extractor":
            outputs = {
                "text": "Mocked extracted document content",
                "metadata": {"pages": 1, "format": "mock"},
            }
        elif kind == "code":
            outputs = code_schema_defaults(getattr(node, "schema", None))
        elif kind == "template-transform":
            # Dify's mock renders templates for real and only falls back when rendering fails.
            try:
                result = node.run(ctx)
            except NodeError:
                result = NodeResult.failed("render failed")
            outputs = result.outputs if result.status == SUCCEEDED else {"output": texts["template"]}
        else:
            outputs = {}
        return NodeResult(outputs=outputs)


_AUTO = NodeMock()


def code_schema_defaults(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dify's MockCodeNode: values derived from the declared output types."""
    if not schema:
        return {"result": "mocked code execution result"}
    defaults = {
        "string": None,
        "number": 42,
        "object": {"key": "value"},
        "array[string]": ["item1", "item2"],
        "array[number]": [1, 2, 3],
        "array[object]": [{"key": "value1"}, {"key": "value2"}],
    }
    outputs: dict[str, Any] = {}
    for name, spec in schema.items():
        kind = spec.get("type")
        if kind == "string":
            outputs[name] = f"mocked_{name}"
        elif kind in defaults:
            outputs[name] = defaults[kind]
    return outputs
