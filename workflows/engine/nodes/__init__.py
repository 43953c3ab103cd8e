"""Node registry: `(data.type, data.version)` -> node class.

Versioned types pick their class by `version` (Dify: assigner v1 has no version, v2 has
`version: '2'`); unknown versions fall back to the latest class, as Dify's registry does.
`variable-assigner` is the legacy type name of the variable aggregator.
"""

from __future__ import annotations

from .assigner import VariableAssignerV1Node, VariableAssignerV2Node
from .base import Node, NodeContext, NodeResult
from .containers import IterationNode, LoopNode
from .external import AgentNode, DocumentExtractorNode, HumanInputNode, KnowledgeRetrievalNode, ToolNode
from .flow import (
    AnswerNode,
    EndNode,
    IterationStartNode,
    LoopEndNode,
    LoopStartNode,
    StartNode,
    TriggerPluginNode,
)
from .http import HttpRequestNode
from .llm import LLMNode, ParameterExtractorNode, QuestionClassifierNode
from .logic import IfElseNode, ListOperatorNode, VariableAggregatorNode
from .transform import CodeNode, TemplateTransformNode
from .triggers import TriggerScheduleNode, TriggerWebhookNode

_SIMPLE: dict[str, type[Node]] = {
    cls.type: cls
    for cls in (
        StartNode,
        TriggerWebhookNode,
        TriggerScheduleNode,
        TriggerPluginNode,
        EndNode,
        AnswerNode,
        IfElseNode,
        TemplateTransformNode,
        VariableAggregatorNode,
        ListOperatorNode,
        IterationNode,
        IterationStartNode,
        LoopNode,
        LoopStartNode,
        LoopEndNode,
        CodeNode,
        HttpRequestNode,
        LLMNode,
        QuestionClassifierNode,
        ParameterExtractorNode,
        KnowledgeRetrievalNode,
        ToolNode,
        DocumentExtractorNode,
        AgentNode,
        HumanInputNode,
    )
}
_SIMPLE["variable-assigner"] = VariableAggregatorNode

_VERSIONED: dict[str, dict[str, type[Node]]] = {
    "assigner": {"1": VariableAssignerV1Node, "2": VariableAssignerV2Node},
}

NODE_TYPES: frozenset[str] = frozenset(_SIMPLE) | frozenset(_VERSIONED)


def resolve_node_class(node_type: str, version: str | None) -> type[Node] | None:
    versions = _VERSIONED.get(node_type)
    if versions is not None:
        return versions.get(str(version or "1")) or versions[max(versions, key=int)]
    return _SIMPLE.get(node_type)


__all__ = ["NODE_TYPES", "Node", "NodeContext", "NodeResult", "resolve_node_class"]
