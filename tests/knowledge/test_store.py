"""The search store's pieces: vector encoding, exact cosine with and without numpy, the store choice."""

from __future__ import annotations

import pytest
from django.db import connection

from knowledge.index import base
from knowledge.index.base import best_by_cosine, normalise, vector_from_bytes, vector_to_bytes
from knowledge.index.chooser import reset_search_store, search_store


def test_vectors_round_trip_as_float32_bytes():
    vector = [0.25, -1.5, 3.0]
    assert len(vector_to_bytes(vector)) == 12
    assert vector_from_bytes(vector_to_bytes(vector)) == vector
    assert normalise([3.0, 4.0]) == [0.6, 0.8]
    assert normalise([0.0, 0.0]) == [0.0, 0.0]


def test_exact_cosine_ranks_the_same_with_and_without_numpy(monkeypatch):
    stored = [vector_to_bytes(v) for v in ([1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0])]
    with_numpy = best_by_cosine(stored, [1.0, 1.0], 3)
    monkeypatch.setattr(base, "np", None)
    without = best_by_cosine(stored, [1.0, 1.0], 3)
    assert [i for i, _ in with_numpy] == [i for i, _ in without] == [1, 0, 2]
    assert [round(s, 5) for _, s in with_numpy] == [round(s, 5) for _, s in without]


@pytest.mark.django_db
def test_the_store_matches_the_database():
    reset_search_store()
    name = search_store().name
    if connection.vendor == "sqlite":
        assert name.startswith("sqlite-fts5+") and name.split("+")[1] in ("exact", "sqlite-vec")
    else:
        assert name.startswith("postgres-fts+") and name.split("+")[1] in ("exact", "pgvector")
