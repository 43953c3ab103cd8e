"""Chat and completion apps that use knowledge bases: the retrieved context reaches the model's prompt,
``message_end`` carries Dify's ``retriever_resources`` (when the app shows its sources), and the app's
dataset joins follow its model config (a dataset in use cannot be deleted; deleting the app frees it)."""

from __future__ import annotations

import httpx
import pytest

from knowledge.models import AppDatasetJoin
from tests import factories
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)

RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
}
FACTS = "Pancakes need flour, eggs and milk.\n\nBread needs yeast.\n\nThe shop opens at nine."


def app_config(dataset_id: str, **extra) -> dict:
    return {
        "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat", "completion_params": {}},
        "pre_prompt": "Answer briefly.",
        "prompt_type": "simple",
        "user_input_form": [],
        "retriever_resource": {"enabled": True},
        "dataset_configs": {
            "retrieval_model": "multiple",
            "top_k": 1,
            "reranking_enable": False,
            "datasets": {"datasets": [{"dataset": {"enabled": True, "id": dataset_id}}]},
        },
        **extra,
    }


def client_of(app, live_asgi) -> httpx.Client:
    key = factories.api_key_factory(app=app)
    return httpx.Client(
        base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
    )


def prompt_of(fake_llm, last_message: str) -> list[dict]:
    """The messages of the chat request that ended with ``last_message``."""
    for request in reversed(fake_llm.requests_on("chat")):
        messages = request.json.get("messages") or []
        if messages and last_message in str(messages[-1].get("content")):
            return messages
    raise AssertionError(f"no chat request ended with {last_message!r}")


def test_a_chat_app_answers_from_its_dataset(workspace, make_dataset, index_text, live_asgi, fake_llm):
    # given a chat app whose config names a dataset holding three facts
    dataset = make_dataset(workspace, name="Kitchen")
    index_text(dataset, FACTS, process_rule=RULE)
    app = factories.app_factory(tenant=workspace, mode="chat", config=app_config(str(dataset.id)))
    fake_llm.push(Reply(text="With yeast.", route="chat"))
    # when a user asks about bread
    with client_of(app, live_asgi) as client:
        response = client.post(
            "/chat-messages",
            json={
                "query": "Bread needs yeast.",
                "inputs": {},
                "user": "u1",
                "response_mode": "blocking",
                "auto_generate_name": False,
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        history = client.get(
            "/messages", params={"conversation_id": body["conversation_id"], "user": "u1"}
        ).json()
    # then the best segment is in the system prompt inside Dify's context block, and only that one
    system = prompt_of(fake_llm, "Bread needs yeast.")[0]
    assert system["role"] == "system"
    assert "<context>\nBread needs yeast.\n</context>" in system["content"]
    assert "Pancakes" not in system["content"] and system["content"].endswith("Answer briefly.\n")
    # and the answer's metadata lists it as Dify's retriever resource, also kept with the message
    assert body["answer"] == "With yeast."
    (resource,) = body["metadata"]["retriever_resources"]
    assert resource["dataset_id"] == str(dataset.id) and resource["dataset_name"] == "Kitchen"
    assert resource["content"] == "Bread needs yeast." and resource["position"] == 1
    assert history["data"][0]["retriever_resources"][0]["segment_id"] == resource["segment_id"]


def test_sources_are_hidden_when_the_app_does_not_show_them(
    workspace, make_dataset, index_text, live_asgi, fake_llm
):
    dataset = make_dataset(workspace, name="Kitchen")
    index_text(dataset, FACTS, process_rule=RULE)
    config = app_config(str(dataset.id), retriever_resource={"enabled": False})
    app = factories.app_factory(tenant=workspace, mode="chat", config=config)
    with client_of(app, live_asgi) as client:
        body = client.post(
            "/chat-messages",
            json={
                "query": "The shop opens at nine.",
                "auto_generate_name": False,
                "user": "u1",
                "response_mode": "blocking",
                "inputs": {},
            },
        ).json()
    # the context still reaches the model; the sources are not shown
    assert (
        "<context>\nThe shop opens at nine.\n</context>"
        in prompt_of(fake_llm, "The shop opens at nine.")[0]["content"]
    )
    assert body["metadata"]["retriever_resources"] == []


def test_a_completion_app_searches_with_its_dataset_query_variable(
    workspace, make_dataset, index_text, live_asgi, fake_llm
):
    dataset = make_dataset(workspace, name="Kitchen")
    index_text(dataset, FACTS, process_rule=RULE)
    config = app_config(
        str(dataset.id),
        pre_prompt="Topic: {{topic}}",
        dataset_query_variable="topic",
        user_input_form=[{"text-input": {"label": "Topic", "variable": "topic", "required": True}}],
    )
    app = factories.app_factory(tenant=workspace, mode="completion", config=config)
    with client_of(app, live_asgi) as client:
        response = client.post(
            "/completion-messages",
            json={
                "inputs": {"topic": "Pancakes need flour, eggs and milk."},
                "user": "u1",
                "response_mode": "blocking",
            },
        )
    assert response.status_code == 200, response.text
    prompt = prompt_of(fake_llm, "Topic: Pancakes")
    text = " ".join(str(m["content"]) for m in prompt)
    assert "Pancakes need flour, eggs and milk." in text and "Bread" not in text
    assert response.json()["metadata"]["retriever_resources"][0]["content"].startswith("Pancakes")


def test_a_dataset_with_no_match_leaves_the_prompt_without_context(
    workspace, make_dataset, live_asgi, fake_llm
):
    dataset = make_dataset(workspace, name="Empty")
    app = factories.app_factory(tenant=workspace, mode="chat", config=app_config(str(dataset.id)))
    with client_of(app, live_asgi) as client:
        body = client.post(
            "/chat-messages",
            json={
                "query": "Anything?",
                "user": "u1",
                "response_mode": "blocking",
                "inputs": {},
                "auto_generate_name": False,
            },
        ).json()
    assert prompt_of(fake_llm, "Anything?")[0] == {"role": "system", "content": "Answer briefly.\n"}
    assert body["metadata"]["retriever_resources"] == []


def test_model_config_joins_datasets_and_app_delete_frees_them(workspace, make_dataset, owner_client):
    dataset = make_dataset(workspace, name="Kitchen")
    created = owner_client.post("/console/api/apps", {"name": "Helper", "mode": "chat"}, format="json")
    assert created.status_code == 201, created.content
    app_id = created.json()["id"]
    # saving a model config that names the dataset records the join: the dataset is in use
    saved = owner_client.post(
        f"/console/api/apps/{app_id}/model-config", app_config(str(dataset.id)), format="json"
    )
    assert saved.status_code == 200, saved.content
    assert list(AppDatasetJoin.objects.filter(app_id=app_id).values_list("dataset_id", flat=True)) == [
        dataset.id
    ]
    refused = owner_client.delete(f"/console/api/datasets/{dataset.id}")
    assert refused.status_code == 409 and refused.json()["code"] == "dataset_in_use"
    # dropping the dataset from the config drops the join; deleting the app removes any left
    config = app_config(str(dataset.id))
    config["dataset_configs"]["datasets"]["datasets"] = []
    owner_client.post(f"/console/api/apps/{app_id}/model-config", config, format="json")
    assert not AppDatasetJoin.objects.filter(app_id=app_id).exists()
    owner_client.post(f"/console/api/apps/{app_id}/model-config", app_config(str(dataset.id)), format="json")
    assert owner_client.delete(f"/console/api/apps/{app_id}").status_code == 204
    assert not AppDatasetJoin.objects.filter(app_id=app_id).exists()
    assert owner_client.delete(f"/console/api/datasets/{dataset.id}").status_code == 204
