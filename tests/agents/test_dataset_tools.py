"""Knowledge bases as agent tools: an agent app's datasets (``dataset_configs`` or Dify's older
``agent_mode.tools`` ``{"dataset": ...}`` entries) are offered to the model as ``dataset_<id>`` tools with a
``query`` parameter, searched when called, and listed as ``retriever_resources`` in the answer."""

from __future__ import annotations

import httpx
import pytest

from apps.models import Message
from tests import factories
from tests.service_api.test_chat_runs import events_of
from tests.support.fake_llm import FakeToolCall, Reply

pytestmark = pytest.mark.django_db(transaction=True)

RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
}
FACTS = "Pancakes need flour, eggs and milk.\n\nBread needs yeast.\n\nThe shop opens at nine."


def agent_config(*, dataset_configs: dict | None = None, tools: list | None = None) -> dict:
    return {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "Answer from the knowledge base.",
        "prompt_type": "simple",
        "user_input_form": [],
        "retriever_resource": {"enabled": True},
        "dataset_configs": dataset_configs or {"retrieval_model": "multiple", "datasets": {"datasets": []}},
        "agent_mode": {
            "enabled": True,
            "strategy": "function_call",
            "max_iteration": 3,
            "tools": tools or [],
        },
    }


def ask(app, live_asgi, query: str) -> list[dict]:
    key = factories.api_key_factory(app=app)
    with httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
    ) as c:
        response = c.post(
            "/chat-messages",
            json={
                "query": query,
                "inputs": {},
                "user": "u1",
                "response_mode": "streaming",
                "auto_generate_name": False,
            },
        )
        assert response.status_code == 200, response.text
        return events_of(response)


def test_the_agent_searches_a_dataset_through_its_tool(
    workspace, make_dataset, index_text, live_asgi, fake_llm
):
    # given an agent app whose dataset (named in dataset_configs) holds three facts
    dataset = make_dataset(workspace, name="Kitchen")
    index_text(dataset, FACTS, process_rule=RULE)
    configs = {
        "retrieval_model": "multiple",
        "top_k": 1,
        "reranking_enable": False,
        "datasets": {"datasets": [{"dataset": {"enabled": True, "id": str(dataset.id)}}]},
    }
    app = factories.app_factory(
        tenant=workspace, mode="agent-chat", config=agent_config(dataset_configs=configs)
    )
    name = f"dataset_{str(dataset.id).replace('-', '_')}"
    fake_llm.push(
        Reply.tools(FakeToolCall(name, {"query": "Bread needs yeast."}, id="k1"), route="chat"),
        Reply(text="With yeast.", route="chat"),
    )
    # when a user asks
    events = ask(app, live_asgi, "What does bread need?")
    # then the model was offered the dataset as a tool, not given it as context
    first, second = (r.json for r in fake_llm.requests_on("chat")[-2:])
    (function,) = [t["function"] for t in first["tools"]]
    assert function["name"] == name
    assert function["description"] == "useful for when you want to answer queries about the Kitchen"
    assert function["parameters"]["required"] == ["query"]
    assert "<context>" not in str(first["messages"])
    # the tool answered the best segment
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"] == "Bread needs yeast."
    # and the answer lists it as Dify's retriever resource, kept with the message
    end = events[-1]
    assert end["event"] == "message_end"
    (resource,) = end["metadata"]["retriever_resources"]
    assert resource["dataset_id"] == str(dataset.id) and resource["content"] == "Bread needs yeast."
    assert resource["position"] == 1 and resource["retriever_from"] == "api"
    message = Message.objects.get(id=end["message_id"])
    assert message.answer == "With yeast."
    assert message.message_metadata["retriever_resources"][0]["segment_id"] == resource["segment_id"]


def test_agent_mode_dataset_entries_are_tools_and_other_workspaces_are_not(
    workspace, other_workspace, make_dataset, index_text, live_asgi, fake_llm
):
    ours = make_dataset(workspace, name="Kitchen", description="Recipes and\nopening hours")
    index_text(ours, FACTS, process_rule=RULE)
    theirs = make_dataset(other_workspace, name="Secrets")
    tools = [
        {"dataset": {"enabled": True, "id": str(ours.id)}},
        {"dataset": {"enabled": True, "id": str(theirs.id)}},
        {"dataset": {"enabled": False, "id": str(ours.id).replace("a", "b")}},
    ]
    app = factories.app_factory(tenant=workspace, mode="agent-chat", config=agent_config(tools=tools))
    fake_llm.push(Reply(text="Ask me about recipes.", route="chat"))
    events = ask(app, live_asgi, "Hello")
    request = fake_llm.requests_on("chat")[-1].json
    (function,) = [t["function"] for t in request["tools"]]
    assert function["name"] == f"dataset_{str(ours.id).replace('-', '_')}"
    assert function["description"] == "Recipes andopening hours"  # Dify strips line breaks
    assert events[-1]["event"] == "message_end" and events[-1]["metadata"]["retriever_resources"] == []
