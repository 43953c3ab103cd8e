"""Full-text search in Chinese: a clause has no spaces between its words, so without word segmentation
(jieba) FTS5 and PostgreSQL would index "机器学习是人工智能的一个分支" as one word and a query for
"人工智能" would find nothing. Runs on the suite's database (SQLite FTS5 or PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync

from knowledge.index import search_store
from knowledge.index.base import query_terms, search_text
from knowledge.models import IndexNode

pytestmark = pytest.mark.django_db(transaction=True)

PARAGRAPHS = [
    "机器学习是人工智能的一个分支。",
    "长城是中国古代的军事防御工程。",
    "熊猫主要以竹子为食。",
    "Cats purr when they are happy.",
]
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 200}},
}


def test_search_text_splits_chinese_and_leaves_other_text_alone():
    assert search_text("Cats purr when they are happy.") is None
    words = re.findall(r"\w+", search_text("熊猫主要以竹子为食。Pandas 2.0"))  # as a tokenizer sees it
    assert {"熊猫", "竹子"} <= set(words) and "Pandas" in words
    # one-character particles go when the query has longer words; a one-character query stays
    assert query_terms("熊猫吃什么？") == ["熊猫", "什么"]  # noqa: RUF001 - Chinese punctuation, as typed
    assert query_terms("猫") == ["猫"]
    assert query_terms("Why do cats purr?") == ["why", "do", "cats", "purr"]


@pytest.fixture
def mixed(workspace, make_dataset, index_text):
    dataset = make_dataset(workspace, name="Mixed", indexing_technique="economy")
    document = index_text(dataset, "\n\n".join(PARAGRAPHS), process_rule=RULE)
    assert document.indexing_status == "completed", document.error
    return dataset


def full_text(dataset, query: str) -> list[str]:
    hits = search_store().search_full_text(
        dataset_id=str(dataset.id), query=query, top_k=3, document_ids=None
    )
    content = dict(IndexNode.objects.filter(dataset=dataset).values_list("node_id", "content"))
    return [content[h.node_id] for h in hits]


def test_a_chinese_word_finds_its_passage(mixed):
    assert full_text(mixed, "人工智能") == ["机器学习是人工智能的一个分支。"]
    assert full_text(mixed, "熊猫吃什么？")[0] == "熊猫主要以竹子为食。"  # noqa: RUF001
    assert full_text(mixed, "长城在哪里")[0] == "长城是中国古代的军事防御工程。"
    assert full_text(mixed, "happy cats") == ["Cats purr when they are happy."]
    # what is shown stays the text as written
    assert IndexNode.objects.get(content="熊猫主要以竹子为食。").search_text.split()[0] == "熊猫"


def test_economy_hit_testing_answers_in_chinese(mixed):
    from knowledge.retrieval import hit_test

    result = async_to_sync(hit_test)(dataset=mixed, query="竹子", retrieval_model=None, account_id=None)
    assert [r["segment"]["content"] for r in result["records"]][:1] == ["熊猫主要以竹子为食。"]
