"""Workflows with agent nodes or trigger roots, run through the Service API.

Agent nodes (Dify's `langgenius/agent/agent` strategies, run in process): the model is offered the node's
tools, the tool runs with the node's fixed parameters, and the answer is the node's `text`; an unknown
strategy fails the node with a message naming it. A webhook-trigger root takes the run's inputs."""

from __future__ import annotations

import httpx
import pytest

from apps.models import AppMode
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.support.fake_llm import FakeToolCall, Reply
from workflows.models import WorkflowNodeExecution


def agent_graph(strategy: str = "function_calling", tools: list | None = None) -> dict:
    maths = {
        "enabled": True,
        "provider_name": "langgenius/maths/maths",
        "tool_name": "eval_expression",
        "type": "builtin",
        "parameters": {"expression": {"auto": 1, "value": None}},
        "settings": {},
    }
    return {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [
                        {"variable": "question", "label": "Q", "type": "text-input", "required": True}
                    ],
                },
            },
            {
                "id": "agent",
                "data": {
                    "type": "agent",
                    "title": "Agent",
                    "agent_strategy_provider_name": "langgenius/agent/agent",
                    "agent_strategy_name": strategy,
                    "agent_parameters": {
                        "model": {
                            "type": "constant",
                            "value": {
                                "provider": "langgenius/openai/openai",
                                "model": "gpt-4o-mini",
                                "model_type": "llm",
                                "mode": "chat",
                                "completion_params": {"temperature": 0},
                            },
                        },
                        "tools": {"type": "constant", "value": tools if tools is not None else [maths]},
                        "instruction": {"type": "constant", "value": "Use the calculator."},
                        "query": {"type": "constant", "value": "{{#start.question#}}"},
                        "maximum_iterations": {"type": "constant", "value": 3},
                    },
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "answer", "value_selector": ["agent", "text"]}],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "agent", "sourceHandle": "source"},
            {"id": "e2", "source": "agent", "target": "end", "sourceHandle": "source"},
        ],
    }


@pytest.fixture
def run_flow(live_asgi, fake_llm):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))

    def run(graph: dict, question: str, inputs: dict | None = None) -> dict:
        app = factories.app_factory(tenant=tenant, mode=AppMode.WORKFLOW, graph=graph)
        key = factories.api_key_factory(app=app)
        with httpx.Client(
            base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
        ) as client:
            response = client.post(
                "/workflows/run",
                json={
                    "inputs": inputs if inputs is not None else {"question": question},
                    "user": "u1",
                    "response_mode": "blocking",
                },
            )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    return run


def test_an_agent_node_calls_its_tool_and_answers(run_flow, fake_llm):
    fake_llm.push(
        Reply.tools(FakeToolCall("eval_expression", {"expression": "12*12"}, id="k1"), route="chat"),
        Reply(text="It is 144.", route="chat"),
    )
    data = run_flow(agent_graph(), "What is twelve squared?")
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"answer": "It is 144."}
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    assert first["messages"] == [
        {"role": "system", "content": "Use the calculator."},
        {"role": "user", "content": "What is twelve squared?"},
    ]
    assert [t["function"]["name"] for t in first["tools"]] == ["eval_expression"]
    assert first["temperature"] == 0
    tool_answer = second["messages"][-1]
    assert tool_answer["role"] == "tool" and tool_answer["content"].endswith("144")
    node = WorkflowNodeExecution.objects.get(workflow_run_id=data["id"], node_id="agent")
    assert node.status == "succeeded" and node.outputs["text"] == "It is 144."


def test_react_runs_too_and_fixed_parameters_are_not_offered(run_flow, fake_llm):
    fixed = {
        "enabled": True,
        "provider_name": "maths",
        "tool_name": "eval_expression",
        "type": "builtin",
        "parameters": {"expression": {"auto": 0, "value": "2**10"}},
    }
    # ReAct is prompt-based (tools described in the prompt, the action parsed from the text)
    fake_llm.push(
        Reply(text='Action: {"action": "eval_expression", "action_input": {}}', route="chat"),
        Reply(text='Action: {"action": "Final Answer", "action_input": "1024."}', route="chat"),
    )
    data = run_flow(agent_graph("ReAct", tools=[fixed]), "Power?")
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"answer": "1024."}
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    assert '"parameters": {"type": "object", "properties": {}' in first["messages"][0]["content"]
    assert second["messages"][-1]["content"].rstrip().endswith("1024")


def test_an_unknown_strategy_fails_the_node_naming_it(run_flow):
    data = run_flow(agent_graph("tree_of_thoughts"), "Hi")
    assert data["status"] == "failed"
    assert "tree_of_thoughts" in data["error"]


def test_a_workflow_started_by_a_webhook_trigger_runs_through_the_service_api(run_flow):
    graph = {
        "nodes": [
            {
                "id": "hook",
                "data": {
                    "type": "trigger-webhook",
                    "title": "Webhook",
                    "method": "POST",
                    "body": [{"name": "city", "type": "string", "required": True}],
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "where", "value_selector": ["hook", "city"]}],
                },
            },
        ],
        "edges": [{"id": "e1", "source": "hook", "target": "end", "sourceHandle": "source"}],
    }
    data = run_flow(graph, "unused", inputs={"city": "Lyon"})
    assert data["status"] == "succeeded", data
    assert data["outputs"] == {"where": "Lyon"}
