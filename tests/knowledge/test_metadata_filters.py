"""Dify's metadata filter operators, evaluated by the database (``documents_matching``), on SQLite and
PostgreSQL alike; and automatic filtering, where a model writes the conditions."""

from __future__ import annotations

import time

import pytest

from knowledge.models import Document
from knowledge.retrieval import documents_matching
from knowledge.services.metadata import built_in_toggle, documents_metadata_update, metadata_create

pytestmark = pytest.mark.django_db

VALUES = {
    "a.txt": {"author": "Alice Smith", "year": 2019, "rating": "4.5"},
    "b.txt": {"author": "Bob", "year": 2024, "rating": "n/a"},
    "c.txt": {},
}


@pytest.fixture
def library(workspace, make_dataset, index_text, owner):
    dataset = make_dataset(workspace, name="Library")
    fields = {
        name: metadata_create(dataset=dataset, name=name, type=kind, account_id=owner.id)
        for name, kind in (("author", "string"), ("year", "number"), ("rating", "string"))
    }
    documents = {}
    for name, values in VALUES.items():
        documents[name] = index_text(dataset, f"Text of {name}.", name=name)
        documents_metadata_update(
            dataset=dataset,
            operations=[
                {
                    "document_id": str(documents[name].id),
                    "metadata_list": [
                        {"id": str(fields[k].id), "name": k, "value": v} for k, v in values.items()
                    ],
                }
            ],
        )
    return dataset, documents


def names(dataset, documents, filtering) -> set[str]:
    matched = documents_matching([dataset], filtering)[str(dataset.id)]
    by_id = {str(d.id): name for name, d in documents.items()}
    return {by_id[i] for i in matched}


def one(name: str, operator: str, value=None) -> dict:
    return {
        "logical_operator": "and",
        "conditions": [{"name": name, "comparison_operator": operator, "value": value}],
    }


@pytest.mark.parametrize(
    ("name", "operator", "value", "expected"),
    [
        ("author", "contains", "Smith", {"a.txt"}),
        ("author", "not contains", "Smith", {"b.txt", "c.txt"}),
        ("author", "start with", "Al", {"a.txt"}),
        ("author", "end with", "ob", {"b.txt"}),
        ("author", "is", "Bob", {"b.txt"}),
        ("author", "is not", "Bob", {"a.txt", "c.txt"}),
        ("author", "empty", None, {"c.txt"}),
        ("author", "not empty", None, {"a.txt", "b.txt"}),
        ("author", "in", "Bob, Carol", {"b.txt"}),
        ("author", "not in", ["Bob"], {"a.txt", "c.txt"}),
        ("year", "=", 2024, {"b.txt"}),
        ("year", "≠", 2024, {"a.txt", "c.txt"}),
        ("year", ">", 2020, {"b.txt"}),
        ("year", "<", "2020", {"a.txt"}),
        ("year", "≥", 2019, {"a.txt", "b.txt"}),
        ("year", "≤", 2019, {"a.txt"}),
        ("year", "before", 2020, {"a.txt"}),
        ("year", "after", 2020, {"b.txt"}),
        ("year", "is", "2019", {"a.txt"}),  # a stored number compares as text too
        ("rating", "=", 4.5, {"a.txt"}),  # a stored "4.5" compares as a number; "n/a" never does
        ("rating", ">", 1, {"a.txt"}),
        ("year", ">", "soon", set()),  # not a number: nothing
        ("year", "bogus operator", 1, set()),
        ("missing", "empty", None, {"a.txt", "b.txt", "c.txt"}),
    ],
)
def test_each_operator(library, name, operator, value, expected):
    dataset, documents = library
    assert names(dataset, documents, one(name, operator, value)) == expected


def test_and_or_and_no_conditions(library):
    dataset, documents = library
    both = [
        {"name": "author", "comparison_operator": "is", "value": "Bob"},
        {"name": "year", "comparison_operator": "<", "value": 2020},
    ]
    assert names(dataset, documents, {"logical_operator": "or", "conditions": both}) == {"a.txt", "b.txt"}
    assert names(dataset, documents, {"logical_operator": "and", "conditions": both}) == set()
    assert documents_matching([dataset], {"conditions": []}) is None
    assert documents_matching([dataset], None) is None


def test_built_in_fields_read_the_documents_columns(library):
    dataset, documents = library
    # off: no document has a "document_name" value
    assert names(dataset, documents, one("document_name", "is", "c.txt")) == set()
    built_in_toggle(dataset=dataset, enabled=True)
    dataset.refresh_from_db()
    assert names(dataset, documents, one("document_name", "is", "c.txt")) == {"c.txt"}
    assert names(dataset, documents, one("document_name", "end with", ".txt")) == set(VALUES)
    assert names(dataset, documents, one("source", "is", "upload_file")) == set(VALUES)
    hour_ago = time.time() - 3600
    assert names(dataset, documents, one("upload_date", "after", hour_ago)) == set(VALUES)
    assert names(dataset, documents, one("last_update_date", "before", hour_ago)) == set()


def test_unavailable_documents_are_never_matched(library):
    dataset, documents = library
    Document.objects.filter(id=documents["b.txt"].id).update(enabled=False)
    assert names(dataset, documents, one("author", "not empty")) == {"a.txt"}
