"""The retrieval port inside a real workflow run, and the console datasets API with its role checks."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from accounts.models import TenantRole
from knowledge.models import Dataset
from knowledge.retrieval_port import TenantRetrievalPort
from tests import factories
from workflows.engine import Engine, Limits, Ports, parse_graph

pytestmark = pytest.mark.django_db(transaction=True)

RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
}


def test_a_workflow_knowledge_retrieval_node_uses_the_port(workspace, make_dataset, index_text):
    # given a dataset and a workflow start -> knowledge-retrieval -> end
    dataset = make_dataset(workspace, name="Recipes")
    index_text(dataset, "Pancakes need flour, eggs and milk.\n\nBread needs yeast.", process_rule=RULE)
    graph = {
        "nodes": [
            {
                "id": "start",
                "data": {
                    "type": "start",
                    "title": "Start",
                    "variables": [{"variable": "q", "label": "q", "type": "text-input"}],
                },
            },
            {
                "id": "kr",
                "data": {
                    "type": "knowledge-retrieval",
                    "title": "Knowledge",
                    "query_variable_selector": ["start", "q"],
                    "dataset_ids": [str(dataset.id), "00000000-0000-0000-0000-000000000000"],
                    "retrieval_mode": "multiple",
                    "multiple_retrieval_config": {"top_k": 1, "reranking_enable": False},
                },
            },
            {
                "id": "end",
                "data": {
                    "type": "end",
                    "title": "End",
                    "outputs": [{"variable": "result", "value_selector": ["kr", "result"]}],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "kr", "sourceHandle": "source"},
            {"id": "e2", "source": "kr", "target": "end", "sourceHandle": "source"},
        ],
    }
    engine = Engine(ports=Ports(retrieval=TenantRetrievalPort(tenant_id=str(workspace.id))), limits=Limits())

    async def run():
        return await engine.run(parse_graph(graph), inputs={"q": "Bread needs yeast."}).collect()

    # when it runs
    outcome = async_to_sync(run)()
    # then the node's result is Dify's: one item with metadata, title and content; the missing dataset ignored
    assert outcome.status == "succeeded", outcome.error
    result = outcome.outputs["result"]
    assert len(result) == 1
    assert result[0]["content"] == "Bread needs yeast." and result[0]["title"] == "doc.txt"
    assert result[0]["metadata"]["dataset_id"] == str(dataset.id) and result[0]["metadata"]["position"] == 1
    assert result[0]["metadata"]["score"] == pytest.approx(1.0, abs=1e-5)


CONSOLE = "/console/api/datasets"


def test_console_dataset_crud_hit_testing_and_keys(workspace, owner_client, eager_indexing, client_for):
    created = owner_client.post(
        CONSOLE,
        {"name": "Console KB", "indexing_technique": "high_quality", "permission": "all_team_members"},
        format="json",
    )
    assert created.status_code == 201, created.content
    dataset_id = created.json()["id"]
    assert created.json()["embedding_model"] == "text-embedding-3-small"
    listed = owner_client.get(CONSOLE).json()
    assert listed["total"] == 1 and listed["data"][0]["id"] == dataset_id
    # a document from an uploaded file id
    import io

    from files.services import file_upload

    upload = file_upload(
        tenant=workspace,
        content=io.BytesIO(b"Kettles boil water."),
        filename="k.txt",
        size=19,
        mime_type="text/plain",
        created_by_role="account",
        created_by=workspace.id,
    )
    body = {
        "indexing_technique": "high_quality",
        "data_source": {
            "type": "upload_file",
            "info_list": {
                "data_source_type": "upload_file",
                "file_info_list": {"file_ids": [str(upload.id)]},
            },
        },
        "process_rule": {"mode": "automatic"},
    }
    response = owner_client.post(f"{CONSOLE}/{dataset_id}/documents", body, format="json")
    assert response.status_code == 200, response.content
    batch = response.json()["batch"]
    status = owner_client.get(f"{CONSOLE}/{dataset_id}/batch/{batch}/indexing-status").json()["data"][0]
    assert status["indexing_status"] == "completed"
    hits = owner_client.post(
        f"{CONSOLE}/{dataset_id}/hit-testing", {"query": "Kettles boil water."}, format="json"
    )
    assert (
        hits.status_code == 200 and hits.json()["records"][0]["segment"]["content"] == "Kettles boil water."
    )
    assert owner_client.get(f"{CONSOLE}/{dataset_id}/queries").json()["total"] == 1
    # dataset API keys: created once in full, then listed by prefix
    key = owner_client.post(f"{CONSOLE}/api-keys").json()
    assert key["token"].startswith("dataset-") and len(key["token"]) == 32
    assert owner_client.get(f"{CONSOLE}/api-keys").json()["data"][0]["token"].endswith("…")
    assert owner_client.delete(f"{CONSOLE}/api-keys/{key['id']}").status_code == 204
    # roles: a dataset operator edits datasets, a normal member may not
    operator = client_for(factories.member_factory(tenant=workspace, role=TenantRole.DATASET_OPERATOR))
    renamed = operator.patch(f"{CONSOLE}/{dataset_id}", {"name": "Renamed"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    normal = client_for(factories.member_factory(tenant=workspace, role=TenantRole.NORMAL))
    assert normal.patch(f"{CONSOLE}/{dataset_id}", {"name": "Nope"}, format="json").status_code == 403
    assert normal.post(f"{CONSOLE}/api-keys").status_code == 403
    # only_me: another member does not see the owner's private dataset
    private = owner_client.post(CONSOLE, {"name": "Private", "permission": "only_me"}, format="json").json()
    assert operator.get(f"{CONSOLE}/{private['id']}").status_code == 403
    assert [d["name"] for d in operator.get(CONSOLE).json()["data"]] == ["Renamed"]
    assert owner_client.delete(f"{CONSOLE}/{dataset_id}").status_code == 204
    assert not Dataset.objects.filter(id=dataset_id).exists()


def test_console_hides_another_workspaces_dataset(workspace, other_workspace, make_dataset, client_for):
    dataset = make_dataset(other_workspace, name="Theirs")
    stranger = client_for(factories.member_factory(tenant=workspace, role=TenantRole.OWNER))
    assert stranger.get(f"{CONSOLE}/{dataset.id}").status_code == 404
    assert stranger.get(f"{CONSOLE}/not-a-uuid").status_code == 404
    assert stranger.get(CONSOLE).json()["total"] == 0
