"""Q&A segmentation (doc_form ``qa_model``): the loopback model writes question-answer pairs per chunk."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from knowledge.models import DocumentSegment
from knowledge.retrieval import MultiRequest, retrieve, workflow_source
from knowledge.services.qa import parse_pairs
from tests.providers_django.given import set_default
from tests.support.fake_llm import Reply

pytestmark = pytest.mark.django_db

RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
}


def test_pairs_are_parsed_from_difys_format():
    text = "Q1: What boils?\nA1: Water,\nat 100 C.\nQ2: Empty answer?\nA2:\nQ3: Why?  A3: Heat."
    assert parse_pairs(text) == [("What boils?", "Water,\nat 100 C."), ("Why?", "Heat.")]


def test_a_qa_document_becomes_question_segments_with_answers(workspace, make_dataset, index_text, fake_llm):
    # given a workspace whose default LLM is the loopback model, answering one reply per chunk
    set_default(tenant=workspace, model_type="llm", provider="openai", model="gpt-4o-mini")
    fake_llm.push(Reply(text="Q1: What do kettles do?\nA1: They boil water.", route="chat"))
    fake_llm.push(
        Reply(text="Q1: When do owls hunt?\nA1: At night.\nQ2: What do owls eat?\nA2: Mice.", route="chat")
    )
    dataset = make_dataset(workspace, name="FAQ")
    # when a two-chunk document is indexed in Q&A form
    document = index_text(
        dataset,
        "Kettles boil water.\n\nOwls hunt mice at night.",
        process_rule=RULE,
        doc_form="qa_model",
        doc_language="English",
    )
    # then each pair is a segment: the question as content, the answer kept beside it
    assert document.indexing_status == "completed", document.error
    segments = list(DocumentSegment.objects.filter(document=document).order_by("position"))
    assert [(s.content, s.answer) for s in segments] == [
        ("What do kettles do?", "They boil water."),
        ("When do owls hunt?", "At night."),
        ("What do owls eat?", "Mice."),
    ]
    prompts = fake_llm.requests_on("chat")
    assert [p.json["messages"][1]["content"] for p in prompts[-2:]] == [
        "Kettles boil water.",
        "Owls hunt mice at night.",
    ]
    assert "English" in prompts[-1].json["messages"][0]["content"]
    # and retrieval finds the question and gives Dify's question/answer content
    records = async_to_sync(retrieve)(
        tenant_id=str(workspace.id),
        request=MultiRequest(
            dataset_ids=[str(dataset.id)], query="What do owls eat?", top_k=1, reranking_enable=False
        ),
    )
    assert workflow_source(records[0])["content"] == "question:What do owls eat? \nanswer:Mice."


def test_a_model_that_writes_no_pairs_fails_the_document_with_the_reason(
    workspace, make_dataset, index_text, fake_llm
):
    fake_llm.push(Reply(text="Kettles are nice.", route="chat"))
    dataset = make_dataset(workspace, name="FAQ")
    document = index_text(dataset, "Kettles boil water.", doc_form="qa_model")
    assert document.indexing_status == "error" and "question-answer pairs" in document.error
    assert not DocumentSegment.objects.filter(document=document).exists()
