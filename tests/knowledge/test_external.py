"""Dify's external knowledge API against a loopback endpoint speaking its protocol (``POST /retrieval``),
the retrieve endpoint's options, and automatic metadata filtering."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from apps.services.api_keys import api_key_create
from knowledge.models import Dataset, ExternalKnowledgeApi
from knowledge.retrieval import MultiRequest, retrieve, workflow_source
from knowledge.services.metadata import documents_metadata_update, metadata_create
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db

KEY = "ext-secret-key-123"
RECORDS = [
    {"content": "Lighthouses warn ships.", "score": 0.92, "title": "lights.md", "metadata": {"page": 1}},
    {"content": "Buoys mark channels.", "score": 0.41, "title": "buoys.md", "metadata": {}},
]


class Endpoint:
    """A user's knowledge endpoint: checks the bearer key, records requests, answers RECORDS."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                endpoint.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._send(403, {"error_code": 1002, "error_msg": "Authorization failed"})
                if self.path != "/kb/retrieval":
                    return self._send(404, {})
                if endpoint.status != 200:
                    return self._send(endpoint.status, {})
                if body is None:  # Dify's check on save posts no body
                    return self._send(200, {"records": []})
                top_k = body["retrieval_setting"]["top_k"]
                return self._send(200, {"records": RECORDS[:top_k]})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kb"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.server.shutdown()


def create_api(owner_client, endpoint: Endpoint, key: str = KEY):
    return owner_client.post(
        "/console/api/datasets/external-knowledge-api",
        {"name": "Harbour KB", "settings": {"endpoint": endpoint.url, "api_key": key}},
        format="json",
    )


@pytest.fixture
def external_dataset(workspace, owner_client, endpoint) -> Dataset:
    api = create_api(owner_client, endpoint).json()
    created = owner_client.post(
        "/console/api/datasets/external",
        {
            "external_knowledge_api_id": api["id"],
            "external_knowledge_id": "harbour-1",
            "name": "Harbour",
            "external_retrieval_model": {"top_k": 2, "score_threshold": 0.5, "score_threshold_enabled": True},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return Dataset.objects.get(id=created.json()["id"])


def test_an_external_api_is_checked_saved_encrypted_and_masked(workspace, owner_client, endpoint):
    # a wrong key: the endpoint's 403 refuses the save
    refused = create_api(owner_client, endpoint, key="wrong")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_param"
    assert not ExternalKnowledgeApi.objects.exists()
    # the right key: saved, its key masked in the answer and encrypted in the row
    created = create_api(owner_client, endpoint)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["settings"]["endpoint"] == endpoint.url and body["settings"]["api_key"] != KEY
    assert KEY not in json.dumps(owner_client.get("/console/api/datasets/external-knowledge-api").json())
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM knowledge_externalknowledgeapi")
        assert KEY not in cursor.fetchone()[0]
    # an update sending the masked key back keeps the stored one
    updated = owner_client.patch(
        f"/console/api/datasets/external-knowledge-api/{body['id']}",
        {"name": "Renamed", "settings": {"endpoint": endpoint.url, "api_key": "[__HIDDEN__]"}},
        format="json",
    )
    assert updated.status_code == 200 and ExternalKnowledgeApi.objects.get().api_key == KEY
    assert updated.json()["name"] == "Renamed"


def test_an_unsafe_endpoint_is_refused_by_the_guard(workspace, owner_client, settings):
    settings.SSRF_ALLOWED_NETWORKS = []
    response = owner_client.post(
        "/console/api/datasets/external-knowledge-api",
        {"name": "Inside", "settings": {"endpoint": "http://127.0.0.1:9/kb", "api_key": KEY}},
        format="json",
    )
    assert response.status_code == 400 and "failed to connect" in response.json()["message"]


def test_external_hit_testing_and_use_check(owner_client, external_dataset, endpoint):
    detail = owner_client.get(f"/console/api/datasets/{external_dataset.id}").json()
    assert detail["provider"] == "external"
    assert detail["external_knowledge_info"]["external_knowledge_id"] == "harbour-1"
    assert detail["external_retrieval_model"] == {
        "top_k": 2,
        "score_threshold": 0.5,
        "score_threshold_enabled": True,
    }
    conditions = {
        "logical_operator": "and",
        "conditions": [{"name": "page", "comparison_operator": "=", "value": 1}],
    }
    response = owner_client.post(
        f"/console/api/datasets/{external_dataset.id}/external-hit-testing",
        {"query": "ships", "metadata_filtering_conditions": conditions},
        format="json",
    )
    assert response.status_code == 200, response.content
    # the threshold (0.5) drops the second record; Dify's request body reached the endpoint
    assert response.json()["records"] == [
        {"content": "Lighthouses warn ships.", "title": "lights.md", "score": 0.92, "metadata": {"page": 1}}
    ]
    sent = endpoint.requests[-1]
    assert sent["path"] == "/kb/retrieval" and sent["auth"] == f"Bearer {KEY}"
    assert sent["body"]["knowledge_id"] == "harbour-1" and sent["body"]["query"] == "ships"
    assert sent["body"]["retrieval_setting"] == {"top_k": 2, "score_threshold": 0.5}
    assert sent["body"]["metadata_condition"]["conditions"][0]["name"] == "page"
    api_id = str(ExternalKnowledgeApi.objects.get().id)
    check = owner_client.get(f"/console/api/datasets/external-knowledge-api/{api_id}/use-check").json()
    assert check == {"is_using": True, "count": 1}
    # a failing endpoint is an error body, not a 500
    endpoint.status = 500
    failed = owner_client.post(
        f"/console/api/datasets/{external_dataset.id}/external-hit-testing", {"query": "ships"}, format="json"
    )
    assert failed.status_code == 400 and failed.json()["code"] == "external_knowledge_api_error"


def test_apps_and_workflows_retrieve_from_an_external_dataset_beside_a_local_one(
    workspace, external_dataset, make_dataset, index_text
):
    local = make_dataset(workspace, name="Local")
    index_text(local, "Lighthouses warn ships.")
    records = async_to_sync(retrieve)(
        tenant_id=str(workspace.id),
        request=MultiRequest(
            dataset_ids=[str(external_dataset.id), str(local.id)],
            query="Lighthouses warn ships.",
            top_k=4,
            reranking_enable=False,
        ),
    )
    sources = [workflow_source(r) for r in records]
    external = [s for s in sources if s["metadata"]["data_source_type"] == "external"]
    assert [s["content"] for s in external] == ["Lighthouses warn ships."]
    assert external[0]["title"] == "lights.md" and external[0]["metadata"]["dataset_name"] == "Harbour"
    assert any(s["metadata"]["dataset_id"] == str(local.id) for s in sources)


def retrieve_api(dataset, body):
    _, key = api_key_create(tenant=dataset.tenant, type="dataset")
    return Client().post(
        f"/v1/datasets/{dataset.id}/retrieve",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


@pytest.fixture
def manuals(workspace, make_dataset, index_text, owner):
    dataset = make_dataset(workspace, name="Manuals")
    old = index_text(dataset, "Reset the router by holding the button.", name="old.txt")
    new = index_text(dataset, "Reset the router from the web console.", name="new.txt")
    field = metadata_create(dataset=dataset, name="year", type="number", account_id=owner.id)
    documents_metadata_update(
        dataset=dataset,
        operations=[
            {"document_id": str(d.id), "metadata_list": [{"id": str(field.id), "name": "year", "value": y}]}
            for d, y in ((old, 2019), (new, 2024))
        ],
    )
    return dataset


@pytest.mark.parametrize("method", ["semantic_search", "full_text_search", "hybrid_search", "keyword_search"])
def test_retrieve_with_each_search_method_top_k_and_a_filter(manuals, method):
    body = {
        "query": "Reset the router from the web console.",
        "retrieval_model": {
            "search_method": method,
            "top_k": 1,
            "reranking_enable": False,
            "score_threshold_enabled": False,
            "metadata_filtering_conditions": {
                "logical_operator": "and",
                "conditions": [{"name": "year", "comparison_operator": "≥", "value": 2020}],
            },
        },
    }
    response = retrieve_api(manuals, body)
    assert response.status_code == 200, response.content
    records = response.json()["records"]
    assert [r["segment"]["content"] for r in records] == ["Reset the router from the web console."]
    assert records[0]["child_chunks"] == [] and records[0]["files"] == []


def test_retrieve_threshold_weights_and_rerank_options(manuals):
    query = "Reset the router from the web console."
    strict = {
        "search_method": "semantic_search",
        "top_k": 4,
        "score_threshold_enabled": True,
        "score_threshold": 0.999,
    }
    records = retrieve_api(manuals, {"query": query, "retrieval_model": strict}).json()["records"]
    assert [r["segment"]["content"] for r in records] == [query]  # only the exact vector reaches 0.999
    weighted = {
        "search_method": "hybrid_search",
        "top_k": 2,
        "reranking_enable": True,
        "reranking_mode": "weighted_score",
        "weights": {
            "weight_type": "customized",
            "vector_setting": {"vector_weight": 0.0},
            "keyword_setting": {"keyword_weight": 1.0},
        },
    }
    records = retrieve_api(manuals, {"query": "holding the button", "retrieval_model": weighted}).json()[
        "records"
    ]
    assert records[0]["segment"]["content"] == "Reset the router by holding the button."
    reranked = {
        "search_method": "semantic_search",
        "top_k": 1,
        "reranking_enable": True,
        "reranking_mode": "reranking_model",
        "reranking_model": {
            "reranking_provider_name": "openai_api_compatible",
            "reranking_model_name": "fake-rerank",
        },
    }
    records = retrieve_api(manuals, {"query": "web console", "retrieval_model": reranked}).json()["records"]
    assert [r["segment"]["content"] for r in records] == [query]


@pytest.mark.parametrize(
    "retrieval_model",
    [
        {"search_method": "vector_magic"},
        {"top_k": 0},
        {"score_threshold": "high"},
        {"metadata_filtering_conditions": {"conditions": [{"name": "year", "comparison_operator": "≈"}]}},
        {"reranking_mode": "coin_flip"},
    ],
)
def test_retrieve_refuses_a_bad_retrieval_model(manuals, retrieval_model):
    response = retrieve_api(manuals, {"query": "router", "retrieval_model": retrieval_model})
    assert response.status_code == 400 and response.json()["code"] == "invalid_param"


def test_retrieve_on_an_external_dataset_asks_its_endpoint(external_dataset, endpoint):
    response = retrieve_api(external_dataset, {"query": "ships", "external_retrieval_model": {"top_k": 1}})
    assert response.status_code == 200, response.content
    assert [r["content"] for r in response.json()["records"]] == ["Lighthouses warn ships."]
    assert endpoint.requests[-1]["body"]["retrieval_setting"]["top_k"] == 1


def test_automatic_metadata_filtering_uses_the_models_conditions(workspace, manuals, fake_llm):
    answer = {
        "metadata_map": [
            {"metadata_field_name": "year", "metadata_field_value": "2020", "comparison_operator": "<"},
            {"metadata_field_name": "unknown", "metadata_field_value": "x", "comparison_operator": "is"},
        ]
    }
    fake_llm.push(Reply(text="```json\n" + json.dumps(answer) + "\n```", route="chat"))
    records = async_to_sync(retrieve)(
        tenant_id=str(workspace.id),
        request=MultiRequest(
            dataset_ids=[str(manuals.id)],
            query="Reset the router (the 2019 manual)",
            top_k=4,
            reranking_enable=False,
            metadata_filtering_mode="automatic",
            metadata_model={"provider": "openai", "name": "gpt-4o-mini"},
        ),
    )
    assert [r.segment.content for r in records] == ["Reset the router by holding the button."]
    prompt = fake_llm.requests_on("chat")[-1].json["messages"][0]["content"]
    assert "year" in prompt and "metadata_map" in prompt
