"""Parent-child indexing, economy datasets, pause/resume, single-dataset routing, console extras."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from knowledge.models import ChildChunk, DocumentSegment, IndexNode
from knowledge.retrieval import MultiRequest, retrieve
from knowledge.services.documents import document_create, document_pause, document_resume
from knowledge.services.indexing import document_index
from tests.support.fake_llm import FakeToolCall, Reply

pytestmark = pytest.mark.django_db(transaction=True)

HIERARCHICAL = {
    "mode": "hierarchical",
    "rules": {
        "pre_processing_rules": [],
        "parent_mode": "paragraph",
        "segmentation": {"separator": "\\n\\n", "max_tokens": 500},
        "subchunk_segmentation": {"separator": "\\n", "max_tokens": 100},
    },
}


def test_parent_child_documents_embed_children_and_return_parents(workspace, make_dataset, index_text):
    dataset = make_dataset(workspace, name="Guides")
    text = "Install the app.\nOpen settings.\n\nBackups run nightly.\nRestores take an hour."
    document = index_text(dataset, text, process_rule=HIERARCHICAL, doc_form="hierarchical_model")
    assert document.indexing_status == "completed", document.error
    assert DocumentSegment.objects.filter(document=document).count() == 2
    assert ChildChunk.objects.filter(document=document).count() == 4
    # only the children are embedded
    assert IndexNode.objects.filter(document=document, child_chunk__isnull=False).count() == 4
    assert not IndexNode.objects.filter(document=document, child_chunk__isnull=True).exists()
    # a child hit returns its parent, with the child that matched
    from knowledge.retrieval import hit_test

    result = async_to_sync(hit_test)(
        dataset=dataset,
        query="Restores take an hour.",
        account_id=None,
        retrieval_model={"search_method": "semantic_search", "top_k": 1, "reranking_enable": False},
    )
    record = result["records"][0]
    assert record["segment"]["content"] == "Backups run nightly.\nRestores take an hour."
    assert record["child_chunks"][0]["content"] == "Restores take an hour."
    assert record["score"] == pytest.approx(1.0, abs=1e-5)


def test_economy_datasets_index_text_without_a_model(workspace, make_dataset, index_text, fake_llm):
    dataset = make_dataset(workspace, name="Cheap", indexing_technique="economy")
    document = index_text(dataset, "Lighthouses guide ships at night.")
    assert document.indexing_status == "completed", document.error
    assert not fake_llm.requests_on("openai.embeddings")
    from knowledge.retrieval import hit_test

    result = async_to_sync(hit_test)(
        dataset=dataset, query="what guides ships", account_id=None, retrieval_model=None
    )
    assert result["records"][0]["segment"]["content"] == "Lighthouses guide ships at night."


def test_pause_stops_indexing_and_resume_completes_it(workspace, make_dataset, owner, eager_indexing):
    dataset = make_dataset(workspace, name="Paused")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("knowledge.tasks.index_document.delay", lambda *a, **k: None)  # not indexed yet
        document, _ = document_create(
            dataset=dataset, account_id=owner.id, name="p.txt", text="Pause me please."
        )
    document_pause(document=document, account_id=owner.id)
    document_index(document_id=str(document.id))
    document.refresh_from_db()
    assert (
        document.is_paused and document.indexing_status == "waiting" and document.display_status == "queuing"
    )
    document_resume(document=document)  # enqueued on commit; eager here
    document.refresh_from_db()
    assert not document.is_paused and document.indexing_status == "completed", document.error


def test_single_mode_lets_the_model_pick_a_dataset(workspace, make_dataset, index_text, fake_llm):
    cooking = make_dataset(workspace, name="Cooking", description="Recipes and kitchen tips")
    index_text(cooking, "Simmer the sauce for ten minutes.")
    travel = make_dataset(workspace, name="Travel", description="Trips and flights")
    index_text(travel, "Book flights early for lower fares.")
    fake_llm.push(Reply(tool_calls=[FakeToolCall(name=str(travel.id))], route="chat"))
    records = async_to_sync(retrieve)(
        tenant_id=str(workspace.id),
        request=MultiRequest(
            dataset_ids=[str(cooking.id), str(travel.id)],
            query="Book flights early for lower fares.",
            mode="single",
            single_model={"provider": "openai", "name": "gpt-4o-mini"},
        ),
    )
    assert [r.dataset.name for r in records] == ["Travel"]
    sent = fake_llm.requests_on("chat")[-1].json
    assert {t["function"]["name"] for t in sent["tools"]} == {str(cooking.id), str(travel.id)}


def test_console_segments_child_chunks_rename_and_rules(workspace, make_dataset, index_text, owner_client):
    dataset = make_dataset(workspace, name="Console extras", permission="all_team_members")
    document = index_text(
        dataset, "Line one.\nLine two.", process_rule=HIERARCHICAL, doc_form="hierarchical_model"
    )
    base = f"/console/api/datasets/{dataset.id}/documents/{document.id}"
    segment = DocumentSegment.objects.get(document=document)
    # child chunks: listed, added, edited, deleted
    listed = owner_client.get(f"{base}/segments/{segment.id}/child_chunks").json()
    assert listed["total"] == 2 and listed["total_pages"] == 1
    added = owner_client.post(
        f"{base}/segments/{segment.id}/child_chunks", {"content": "Line three."}, format="json"
    )
    chunk = added.json()["data"]
    assert chunk["type"] == "customized" and chunk["position"] == 3
    edited = owner_client.patch(
        f"{base}/segments/{segment.id}/child_chunks/{chunk['id']}", {"content": "Line 3."}, format="json"
    )
    assert edited.json()["data"]["content"] == "Line 3."
    assert owner_client.delete(f"{base}/segments/{segment.id}/child_chunks/{chunk['id']}").status_code == 204
    assert IndexNode.objects.filter(segment=segment).count() == 2
    # disable and enable a segment: it leaves the index and comes back (from the embedding cache)
    assert owner_client.patch(f"{base}/segment/disable?segment_id={segment.id}").status_code == 200
    assert not IndexNode.objects.filter(segment=segment).exists()
    owner_client.patch(f"{base}/segment/enable?segment_id={segment.id}")
    assert IndexNode.objects.filter(segment=segment).count() == 2
    # rename; the process rule the document used
    assert (
        owner_client.post(f"{base}/rename", {"name": "renamed.txt"}, format="json").json()["name"]
        == "renamed.txt"
    )
    rule = owner_client.get(f"/console/api/datasets/process-rule?document_id={document.id}").json()
    assert (
        rule["mode"] == "hierarchical" and rule["limits"]["indexing_max_segmentation_tokens_length"] == 4000
    )
    detail = owner_client.get(base, {"metadata": "without"}).json()
    assert detail["segment_count"] == 1 and "doc_metadata" not in detail
    assert owner_client.get(base, {"metadata": "bogus"}).json()["code"] == "invalid_metadata"


def test_indexing_estimate_previews_the_split(workspace, owner_client):
    import io

    from files.services import file_upload

    text = b"First part.\n\nSecond part.\n\nThird part."
    upload = file_upload(
        tenant=workspace,
        content=io.BytesIO(text),
        filename="e.txt",
        size=len(text),
        mime_type="text/plain",
        created_by_role="account",
        created_by=workspace.id,
    )
    body = {
        "info_list": {"data_source_type": "upload_file", "file_info_list": {"file_ids": [str(upload.id)]}},
        "process_rule": {
            "mode": "custom",
            "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
        },
        "doc_form": "text_model",
    }
    response = owner_client.post("/console/api/datasets/indexing-estimate", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["total_segments"] == 3
    assert [p["content"] for p in response.json()["preview"]] == [
        "First part.",
        "Second part.",
        "Third part.",
    ]
    body["process_rule"]["rules"]["segmentation"]["max_tokens"] = 1
    assert (
        owner_client.post("/console/api/datasets/indexing-estimate", body, format="json").status_code == 400
    )
