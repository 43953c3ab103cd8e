"""Graph parsing and validation: bad graphs are refused before a run, naming the node at fault."""

from __future__ import annotations

import pytest

from workflows.engine import GraphError, GraphPolicy, canonical_digest, load_app, parse_graph
from workflows.engine.conformance import DEFAULT_SHARED

from .helpers import answer, chain, edge, end, graph, node, start, template

DSL = DEFAULT_SHARED / "dsl"


def issue_codes(error: GraphError) -> set[str]:
    return error.codes


def test_a_valid_graph_parses_with_precomputed_scopes():
    config = graph(
        [start("q"), template("t", "{{ x }}", x=["start", "q"]), end(out=["t", "output"])],
        chain("start", "t", "end"),
    )
    parsed = parse_graph(config)
    assert parsed.root_id == "start"
    assert set(parsed.root_scope.node_ids) == {"start", "t", "end"}
    assert parsed.root_scope.in_degree == {"start": 0, "t": 1, "end": 1}
    assert "end" in parsed.root_scope.response_plans


def test_unknown_node_type_is_refused_naming_the_node():
    config = graph([start(), node("weird", "no-such-type"), end()], chain("start", "weird", "end"))
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "UNKNOWN_NODE_TYPE" in caught.value.codes
    assert "weird" in caught.value.node_ids
    assert "no-such-type" in str(caught.value)


def test_missing_start_node_is_refused():
    with pytest.raises(GraphError) as caught:
        parse_graph(graph([end()], []))
    assert "MISSING_START" in caught.value.codes


def test_edge_to_a_missing_node_is_refused_naming_the_edge_and_node():
    config = graph([start(), end()], [edge("start", "end"), edge("start", "ghost")])
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "MISSING_NODE" in caught.value.codes
    assert "ghost" in str(caught.value)
    assert "start-source-ghost" in str(caught.value)


def test_a_cycle_outside_loop_containers_is_refused():
    config = graph(
        [start(), template("a", "x"), template("b", "y"), end()],
        [edge("start", "a"), edge("a", "b"), edge("b", "a"), edge("b", "end")],
    )
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "CYCLE" in caught.value.codes
    assert "a -> b -> a" in str(caught.value) or "b -> a -> b" in str(caught.value)


def test_a_cycle_inside_a_loop_body_is_refused_too():
    config = graph(
        [
            start(),
            node("loop", "loop", start_node_id="ls", loop_count=3),
            node("ls", "loop-start", parent="loop"),
            template("a", "x", parent="loop"),
            template("b", "y", parent="loop"),
            end(),
        ],
        [edge("start", "loop"), edge("loop", "end"), edge("ls", "a"), edge("a", "b"), edge("b", "a")],
    )
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "CYCLE" in caught.value.codes
    assert "container 'loop'" in str(caught.value)


def test_a_selector_to_a_node_that_does_not_exist_is_refused():
    config = graph([start(), end(out=["nowhere", "output"])], chain("start", "end"))
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "UNKNOWN_SELECTOR" in caught.value.codes
    assert caught.value.node_ids == {"end"}
    assert "nowhere" in str(caught.value)


def test_free_text_references_to_unknown_nodes_are_allowed_like_dify():
    # Dify renders an unresolvable {{#a.b#}} as "a.b"; real exports contain such text.
    config = graph([start(), answer("ans", "see {{#userinput.files#}}")], chain("start", "ans"))
    assert parse_graph(config).nodes["ans"].type == "answer"


@pytest.mark.parametrize(
    ("bad_node", "fragment"),
    [
        (
            node(
                "n",
                "if-else",
                cases=[
                    {
                        "case_id": "c",
                        "conditions": [
                            {
                                "variable_selector": ["start", "q"],
                                "comparison_operator": "looks like",
                                "value": "x",
                            }
                        ],
                    }
                ],
            ),
            "unknown comparison_operator",
        ),
        (node("n", "http-request", method="fetch", url="https://x", headers="", params=""), "method"),
        (
            node("n", "code", code="def main(): pass", outputs={"r": {"type": "array[array[number]]"}}),
            "not supported",
        ),
        (node("n", "template-transform", template="{% if %}", variables=[]), "invalid Jinja2 template"),
        (
            node("n", "template-transform", template="x", variables=[], error_strategy="retry-forever"),
            "error_strategy",
        ),
        (
            node(
                "n",
                "template-transform",
                template="x",
                variables=[],
                default_value=[{"key": "output", "type": "number", "value": "not a number"}],
            ),
            "default_value",
        ),
        (node("n", "iteration", iterator_selector=["start", "q"], start_node_id="nope"), "start_node_id"),
        (node("n", "loop", start_node_id="x", loop_count=0), "loop_count"),
        (
            node(
                "n",
                "assigner",
                version="2",
                items=[{"variable_selector": ["conversation", "x"], "operation": "explode", "value": 1}],
            ),
            "operation",
        ),
        (
            node(
                "n", "list-operator", variable=["start", "q"], order_by={"enabled": True, "value": "sideways"}
            ),
            "order_by",
        ),
    ],
)
def test_bad_config_values_are_refused_naming_the_node(bad_node, fragment):
    config = graph([start("q"), bad_node, end()], chain("start", "n", "end"))
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert caught.value.node_ids >= {"n"}
    assert fragment in str(caught.value)


def test_duplicate_node_ids_are_refused():
    with pytest.raises(GraphError) as caught:
        parse_graph(graph([start(), end(), end()], chain("start", "end")))
    assert "DUPLICATE_NODE_ID" in caught.value.codes


def test_edges_may_not_cross_container_boundaries():
    config = graph(
        [
            start("items"),
            node(
                "it",
                "iteration",
                iterator_selector=["start", "items"],
                output_selector=["inner", "output"],
                start_node_id="is",
            ),
            node("is", "iteration-start", parent="it"),
            template("inner", "x", parent="it"),
            end(),
        ],
        [edge("start", "it"), edge("is", "inner"), edge("inner", "end"), edge("it", "end")],
    )
    with pytest.raises(GraphError) as caught:
        parse_graph(config)
    assert "CROSS_SCOPE_EDGE" in caught.value.codes


def test_notes_are_ignored_and_extra_keys_survive_a_round_trip():
    config = graph([start(), end()], chain("start", "end"))
    config["nodes"].append({"id": "note", "type": "custom-note", "data": {"text": "hello"}})
    config["nodes"][0]["positionAbsolute"] = {"x": 1, "y": 2}
    config["viewport"] = {"x": 0, "y": 0, "zoom": 1}
    parsed = parse_graph(config)
    assert "note" not in parsed.nodes
    round_trip = parsed.to_dict()
    assert round_trip == config
    round_trip["nodes"].clear()
    assert parsed.to_dict() == config  # to_dict hands out copies; the graph stays immutable


def test_the_graph_is_immutable():
    parsed = parse_graph(graph([start(), end()], chain("start", "end")))
    with pytest.raises(TypeError):
        parsed.nodes["x"] = parsed.nodes["end"]  # type: ignore[index]


def test_legacy_container_membership_by_iteration_id_is_understood():
    config = graph(
        [
            start("items"),
            node(
                "it",
                "iteration",
                iterator_selector=["start", "items"],
                output_selector=["inner", "output"],
                start_node_id="is",
            ),
            {
                "id": "is",
                "type": "custom-iteration-start",
                "data": {"type": "iteration-start", "iteration_id": "it"},
            },
            {
                "id": "inner",
                "type": "custom",
                "data": {
                    "type": "template-transform",
                    "template": "x",
                    "variables": [],
                    "iteration_id": "it",
                },
            },
            end(),
        ],
        [edge("start", "it"), edge("is", "inner"), edge("it", "end")],
    )
    parsed = parse_graph(config)
    assert parsed.nodes["inner"].scope == "it"
    assert set(parsed.scopes["it"].node_ids) == {"is", "inner"}


def test_policy_refuses_denied_capabilities_before_the_run():
    config = graph(
        [start(), node("c", "code", code="def main(): return {}", outputs={}), end()],
        chain("start", "c", "end"),
    )
    with pytest.raises(GraphError) as caught:
        parse_graph(config, policy=GraphPolicy(denied_capabilities=frozenset({"code"})))
    assert "NODE_NOT_ADMITTED" in caught.value.codes
    assert "unsupported_node_implementation" in str(caught.value)


def test_policy_binding_refuses_a_graph_changed_after_admission():
    config = graph([start(), end()], chain("start", "end"))
    digest = canonical_digest(config)
    assert parse_graph(config, policy=GraphPolicy(expected_digest=digest)).digest == digest
    config["nodes"][1]["data"]["title"] = "changed"
    with pytest.raises(GraphError) as caught:
        parse_graph(config, policy=GraphPolicy(expected_digest=digest))
    assert "BINDING_MISMATCH" in caught.value.codes


def test_policy_plain_json_refuses_objects_with_an_equivalent_json_form():
    from enum import StrEnum

    class Strategy(StrEnum):
        DEFAULT = "default-value"

    config = graph([start(), end()], chain("start", "end"))
    config["nodes"][1]["data"]["error_strategy"] = Strategy.DEFAULT
    assert parse_graph(config).nodes["end"].error_strategy == "default-value"  # lenient by default
    with pytest.raises(GraphError) as caught:
        parse_graph(config, policy=GraphPolicy(require_plain_json=True))
    assert "INVALID_CANONICAL_JSON" in caught.value.codes


def test_dsl_loader_refuses_documents_that_are_not_apps():
    with pytest.raises(GraphError) as caught:
        load_app((DSL / "minimal_not_an_app.yml").read_text())
    assert "NOT_AN_APP" in caught.value.codes


def test_dsl_loader_refuses_unknown_node_types_in_real_fixtures():
    with pytest.raises(GraphError) as caught:
        load_app((DSL / "knowledge_retrieval_v2_workflow.yml").read_text())
    assert "knowledge-retrieval-v2" in str(caught.value)
    assert caught.value.node_ids == {"retrieval-v2"}


def test_dsl_loader_accepts_non_uuid_conversation_variable_ids():
    app = load_app((DSL / "minimal_non_uuid_conversation_variable.yml").read_text())
    assert app.mode == "advanced-chat"
    assert app.conversation_variables[0]["id"] == "opt-comp-prompt-var"


def test_every_app_fixture_with_known_nodes_parses():
    skipped = {"minimal_not_an_app.yml", "knowledge_retrieval_v2_workflow.yml"}
    parsed = [load_app(path.read_text()) for path in sorted(DSL.glob("*.yml")) if path.name not in skipped]
    assert len(parsed) >= 18
