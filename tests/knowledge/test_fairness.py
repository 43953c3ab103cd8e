"""Indexing under load: fairness across workspaces, a failing embedding model, progress while it runs."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from knowledge.models import Document, DocumentSegment
from knowledge.retrieval import hit_test
from knowledge.services.documents import document_create
from knowledge.tasks import index_document
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db(transaction=True)


def run_queue(enqueued: list[tuple[str, str]], order: list[str]) -> None:
    """A worker taking the indexing queue's tasks first in, first out; `order` records what completed,
    in the order it did (a task may go on with other waiting documents after its own)."""
    while enqueued:
        name, document_id = enqueued.pop(0)
        assert name == "knowledge.index_document"
        index_document.run(document_id)
    done = Document.objects.filter(indexing_status="completed").order_by("completed_at")
    order.extend(done.values_list("name", flat=True))


def test_one_workspace_many_documents_do_not_starve_another(
    workspace, other_workspace, make_dataset, owner, enqueued
):
    # given a workspace that queued 20 documents, then another workspace's single one
    busy = make_dataset(workspace, name="Busy")
    for i in range(20):
        document_create(dataset=busy, account_id=owner.id, name=f"busy-{i:02}", text=f"Busy text {i}.")
    quiet = make_dataset(other_workspace, name="Quiet")
    document_create(dataset=quiet, account_id=owner.id, name="quiet", text="The only quiet text.")
    assert len(enqueued) == 21 and enqueued[-1][1] == str(Document.objects.get(name="quiet").id)
    # when one worker takes the tasks in the order they were sent
    order: list[str] = []
    run_queue(enqueued, order)
    # then the quiet workspace's document was indexed second, not 21st; the busy one's kept their order
    assert order[:2] == ["busy-00", "quiet"]
    assert order[2:] == [f"busy-{i:02}" for i in range(1, 20)]
    assert Document.objects.filter(indexing_status="completed").count() == 21


def test_two_busy_workspaces_alternate(workspace, other_workspace, make_dataset, owner, enqueued):
    first, second = make_dataset(workspace, name="A"), make_dataset(other_workspace, name="B")
    for i in range(3):
        document_create(dataset=first, account_id=owner.id, name=f"a{i}", text=f"Alpha {i}.")
    for i in range(3):
        document_create(dataset=second, account_id=owner.id, name=f"b{i}", text=f"Beta {i}.")
    order: list[str] = []
    run_queue(enqueued, order)
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_task_for_a_paused_or_finished_document_indexes_nothing_else_twice(
    workspace, make_dataset, owner, enqueued, fake_llm
):
    dataset = make_dataset(workspace)
    document, _ = document_create(dataset=dataset, account_id=owner.id, name="once", text="Only once.")
    index_document.run(str(document.id))
    calls = len(fake_llm.requests_on("openai.embeddings"))
    index_document.run(str(document.id))  # redelivered
    assert len(fake_llm.requests_on("openai.embeddings")) == calls
    assert Document.objects.get(id=document.id).indexing_status == "completed"


def test_a_model_failing_mid_document_marks_it_and_leaves_the_dataset_searchable(
    workspace, make_dataset, index_text, owner, fake_llm
):
    # given a dataset with one indexed document
    dataset = make_dataset(workspace)
    index_text(dataset, "Lighthouses guide ships at night.", name="good.txt")
    # when a 100-segment document is indexed and the model fails on its third request (of four)
    rule = {
        "mode": "custom",
        "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
    }
    text = "\n\n".join(f"Paragraph number {i} about harbours." for i in range(100))
    fake_llm.push(
        Reply(route="embeddings"),
        Reply(route="embeddings"),
        Reply.error(401, "Incorrect API key provided", route="embeddings"),
    )
    failed = index_text(dataset, text, name="bad.txt", process_rule=rule)
    # then the document carries the model's error, with the progress it had made
    assert failed.indexing_status == "error" and "Incorrect API key" in failed.error
    segments = DocumentSegment.objects.filter(document=failed)
    assert segments.count() == 100 and segments.filter(status="completed").count() == 64
    # and the dataset still answers from the good document, never from the half-indexed one
    result = async_to_sync(hit_test)(
        dataset=dataset,
        query="Paragraph number 3 about harbours.",
        account_id=None,
        retrieval_model={"search_method": "hybrid_search", "top_k": 5, "reranking_enable": False},
    )
    assert [r["segment"]["document_id"] for r in result["records"]] == [
        str(Document.objects.get(name="good.txt").id)
    ] or result["records"] == []
    lighthouse = async_to_sync(hit_test)(
        dataset=dataset, query="Lighthouses guide ships at night.", account_id=None, retrieval_model=None
    )
    assert lighthouse["records"][0]["segment"]["content"] == "Lighthouses guide ships at night."


def lines_document(dataset, owner, *, name: str, lines: int) -> Document:
    """A document of `lines` one-line segments (split on blank lines), queued but not indexed yet."""
    rule = {
        "mode": "custom",
        "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
    }
    text = "\n\n".join(f"Line {i} of the {name} document." for i in range(lines))
    document, _ = document_create(
        dataset=dataset, account_id=owner.id, name=name, text=text, process_rule=rule
    )
    return document


def test_progress_is_visible_while_indexing_runs(workspace, make_dataset, owner, owner_client, monkeypatch):
    from knowledge.services import indexing

    dataset = make_dataset(workspace, permission="all_team_members")
    document = lines_document(dataset, owner, name="long", lines=130)
    seen: list[tuple[int, int]] = []
    real = indexing._write_batch

    def spy(*args, **kwargs):  # before each batch's rows are written
        body = owner_client.get(
            f"/console/api/datasets/{dataset.id}/documents/{document.id}/indexing-status"
        ).json()
        seen.append((body["completed_segments"], body["total_segments"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(indexing, "_write_batch", spy)
    indexing.document_index(document_id=str(document.id))
    step = indexing.EMBED_BATCH
    assert step < 130
    assert seen == [(done, 130) for done in range(0, 130, step)]


def test_every_embedding_request_of_a_document_is_metered(workspace, make_dataset, owner, fake_llm):
    # Indexing leaves each request's meter row to be written when the database is free (the next batch
    # goes to the model first): every row must still be there, with its tokens and the dataset.
    from knowledge.services import indexing
    from providers.models import ModelUsage

    dataset = make_dataset(workspace)
    document = lines_document(dataset, owner, name="metered", lines=100)
    before = len(fake_llm.requests_on("embeddings"))
    indexing.document_index(document_id=str(document.id))
    assert Document.objects.get(id=document.id).indexing_status == "completed"
    sent = len(fake_llm.requests_on("embeddings")) - before
    assert sent == 4  # 100 segments, 32 a request
    rows = ModelUsage.objects.filter(
        tenant=workspace, model_type="text-embedding", source__dataset_id=str(dataset.id)
    )
    assert rows.count() == sent
    assert all(row.status == "succeeded" and row.prompt_tokens > 0 for row in rows)


def test_a_task_goes_on_with_waiting_documents_and_their_tasks_find_them_done(
    workspace, other_workspace, make_dataset, owner, enqueued, fake_llm
):
    first, second = make_dataset(workspace, name="A"), make_dataset(other_workspace, name="B")
    for i in range(2):
        document_create(dataset=first, account_id=owner.id, name=f"a{i}", text=f"Alpha {i}.")
    document_create(dataset=second, account_id=owner.id, name="b0", text="Beta 0.")
    # when only the first task runs
    index_document.run(enqueued[0][1])
    # then it indexed every waiting document, in the fair order
    done = Document.objects.filter(indexing_status="completed").order_by("completed_at")
    assert list(done.values_list("name", flat=True)) == ["a0", "b0", "a1"]
    # and the other documents' tasks, delivered later, send nothing to the model
    calls = len(fake_llm.requests_on("embeddings"))
    for _, document_id in enqueued[1:]:
        index_document.run(document_id)
    assert len(fake_llm.requests_on("embeddings")) == calls == 3


def test_a_task_stops_going_on_after_its_time(workspace, make_dataset, owner, enqueued):
    from knowledge.services.indexing_queue import document_index_fairly

    dataset = make_dataset(workspace)
    for i in range(3):
        document_create(dataset=dataset, account_id=owner.id, name=f"d{i}", text=f"Delta {i}.")
    document_index_fairly(document_id=enqueued[0][1], chain_seconds=0)
    statuses = dict(Document.objects.values_list("name", "indexing_status"))
    assert statuses == {"d0": "completed", "d1": "waiting", "d2": "waiting"}


def test_the_next_documents_first_batch_goes_out_before_this_ones_last_is_written(
    workspace, make_dataset, owner, enqueued, monkeypatch
):
    # The model is not left waiting between documents: the next one is split and its first batch
    # sent while this one's batches are still with the model and being written.
    from knowledge.services import embeddings, indexing

    dataset = make_dataset(workspace)
    lines_document(dataset, owner, name="first", lines=40)  # two requests: 32 segments, then 8
    lines_document(dataset, owner, name="second", lines=40)
    events: list[str] = []
    real_fetch, real_write = embeddings.fetch_missing, indexing._write_batch

    def named(texts) -> str:
        return "first" if "first" in next(iter(texts)) else "second"

    def fetch(plan):  # recorded when the request is made, not when its task first runs (a race)
        events.append(f"send {named(plan.missing.values())}")
        return real_fetch(plan)

    def write(document, units, *args):
        events.append(f"write {named(u[3] for u in units)}")
        return real_write(document, units, *args)

    monkeypatch.setattr(embeddings, "fetch_missing", fetch)
    monkeypatch.setattr(indexing, "_write_batch", write)
    index_document.run(enqueued[0][1])
    assert events == [
        "send first",
        "send first",
        "write first",
        "send second",  # before the first document's last batch is written
        "write first",
        "send second",
        "write second",
        "write second",
    ]
    assert set(Document.objects.values_list("indexing_status", flat=True)) == {"completed"}
    assert DocumentSegment.objects.filter(status="completed").count() == 80


def test_a_document_failing_in_a_chain_leaves_the_next_one_indexed(
    workspace, make_dataset, owner, enqueued, fake_llm
):
    dataset = make_dataset(workspace)
    lines_document(dataset, owner, name="broken", lines=40)
    lines_document(dataset, owner, name="fine", lines=40)
    # the model refuses the broken document's last request, while the next document is already prepared
    fake_llm.push(
        Reply(route="embeddings"), Reply.error(401, "Incorrect API key provided", route="embeddings")
    )
    index_document.run(enqueued[0][1])
    statuses = dict(Document.objects.values_list("name", "indexing_status"))
    assert statuses == {"broken": "error", "fine": "completed"}
    assert DocumentSegment.objects.filter(document__name="fine", status="completed").count() == 40


def test_a_pause_mid_document_stops_after_the_batch_in_hand_and_resume_completes_it(
    workspace, make_dataset, owner, enqueued, fake_llm, monkeypatch
):
    from knowledge.services import indexing
    from knowledge.services.documents import document_pause, document_resume

    dataset = make_dataset(workspace)
    document = lines_document(dataset, owner, name="paused", lines=100)
    real = indexing._write_batch
    writes = []

    def pause_after_first(doc, *args):  # the owner pauses while the first batch is being written
        if not writes:
            document_pause(document=Document.objects.get(id=doc.id), account_id=owner.id)
        writes.append(doc.id)
        return real(doc, *args)

    monkeypatch.setattr(indexing, "_write_batch", pause_after_first)
    index_document.run(str(document.id))
    paused = Document.objects.get(id=document.id)
    assert paused.is_paused and paused.indexing_status == "indexing" and len(writes) == 1
    segments = DocumentSegment.objects.filter(document=document)
    assert segments.filter(status="completed").count() == indexing.EMBED_BATCH
    assert segments.filter(status="indexing").count() == 0  # the next batch was not started
    # when the owner resumes it, it is indexed again from the start and completes
    monkeypatch.setattr(indexing, "_write_batch", real)
    enqueued.clear()
    document_resume(document=paused)
    for _, document_id in enqueued:
        index_document.run(document_id)
    resumed = Document.objects.get(id=document.id)
    assert resumed.indexing_status == "completed" and not resumed.is_paused
    assert DocumentSegment.objects.filter(document=document, status="completed").count() == 100
