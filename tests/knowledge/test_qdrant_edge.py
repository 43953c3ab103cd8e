"""What is specific to Qdrant Edge, the in-process engine of ``VECTOR_STORE=qdrant`` (the store suite runs
the shared behaviour): data kept across a close and reopen, one process per directory, the chooser's
pick of server, Edge or the client's local mode, and ``reindex_dataset`` moving a dataset into Edge."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from knowledge.index import chooser, qdrant, qdrant_edge
from knowledge.index.base import normalise
from knowledge.index.qdrant import QdrantVectors
from knowledge.index.qdrant_edge import QdrantEdgeVectors
from knowledge.models import DocumentSegment, IndexNode
from tests.support.fake_llm import fake_vector

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not qdrant_edge.edge_available(), reason="qdrant-edge-py is not installed"),
]

TEXT = "Cats purr when they are happy.\n\nDogs bark at strangers.\n\nParrots can mimic human speech."
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 100}},
}
ROOT = Path(__file__).resolve().parents[2]


def nearest(vectors: QdrantEdgeVectors, dataset, text: str, *, k: int = 1) -> list[tuple[str, float]]:
    hits = vectors.search(
        dataset_id=str(dataset.id), vector=normalise(fake_vector(text, 8)), top_k=k, document_ids=None
    )
    return [(h.node_id, round(h.score, 4)) for h in hits]


@pytest.fixture
def edge_store(tmp_path):
    """A store on Edge at a fresh directory, installed as the process's choice; its shards closed after."""
    vectors = QdrantEdgeVectors(path=str(tmp_path / "edge"), prefix="t")
    store = type(chooser.build_store("exact"))(vectors=vectors)
    chooser.reset_search_store()
    chooser._stores[connection.vendor] = store
    yield store
    chooser.reset_search_store()
    vectors.close()


def test_points_survive_closing_and_reopening_the_shard(edge_store, workspace, make_dataset, index_text):
    # given a dataset indexed into Edge
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE)
    dogs = DocumentSegment.objects.get(dataset=dataset, content="Dogs bark at strangers.")
    node = IndexNode.objects.get(segment=dogs, child_chunk=None).node_id
    # when its shards are closed and a new store opens the same directory
    edge_store.vectors.close()
    assert not [d for d in qdrant_edge._shards if d.startswith(edge_store.vectors.path)]
    reopened = QdrantEdgeVectors(path=edge_store.vectors.path, prefix="t")
    # then the points are there, searchable and removable
    assert reopened.count(dataset_id=str(dataset.id)) == 3
    assert nearest(reopened, dataset, "Dogs bark at strangers.") == [(node, 1.0)]
    reopened.nodes_removed([], node_ids=[node])
    assert reopened.count(dataset_id=str(dataset.id)) == 2
    # and optimizing (HNSW) keeps the answers
    assert reopened.optimize() >= 0
    assert nearest(reopened, dataset, "Parrots can mimic human speech.")[0][1] == 1.0
    reopened.close()


def test_a_read_creates_no_shard(tmp_path, workspace, make_dataset):
    vectors = QdrantEdgeVectors(path=str(tmp_path / "edge"), prefix="t")
    dataset = make_dataset(workspace)
    assert nearest(vectors, dataset, "anything") == []
    assert vectors.count(dataset_id=str(dataset.id)) == 0
    assert not (tmp_path / "edge").exists()


def test_a_second_process_is_refused_the_directory_naming_the_limit(
    edge_store, workspace, make_dataset, index_text
):
    # given a shard open in this process
    index_text(make_dataset(workspace), TEXT, process_rule=RULE)
    (shard_dir,) = list(Path(edge_store.vectors.path).iterdir())
    # when another process opens it
    script = (
        "import sys\n"
        "from knowledge.index.qdrant_edge import _open\n"
        "try:\n"
        "    _open(sys.argv[1], None)\n"
        "except RuntimeError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "dify_project.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(shard_dir)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    # then it is refused, with what to do about it
    assert "open in another process" in result.stdout, result.stderr
    assert "QDRANT_URL" in result.stdout


def test_the_chooser_picks_server_edge_or_client_from_the_settings(settings, tmp_path, monkeypatch, caplog):
    settings.QDRANT_PATH, settings.QDRANT_URL = str(tmp_path / "q"), ""
    # qdrant-client's clients are not built: no server to reach here, no local-mode files to leave open
    monkeypatch.setattr(qdrant, "qdrant_client_for", lambda **_: None)
    # no URL, engine edge (the default): Edge at QDRANT_PATH
    settings.QDRANT_LOCAL_ENGINE = "edge"
    edge = chooser.build_store("qdrant").vectors
    assert isinstance(edge, QdrantEdgeVectors) and edge.path == str(tmp_path / "q")
    # engine client, or the store forced by name: the client's local mode
    settings.QDRANT_LOCAL_ENGINE = "client"
    assert isinstance(chooser.build_store("qdrant").vectors, QdrantVectors)
    assert isinstance(chooser.build_store("qdrant-edge").vectors, QdrantEdgeVectors)
    settings.QDRANT_LOCAL_ENGINE = "edge"
    client = chooser.build_store("qdrant-client").vectors
    assert isinstance(client, QdrantVectors) and not client.url
    # a URL: the server, whatever the local engine
    settings.QDRANT_URL = "http://127.0.0.1:9"
    server = chooser.build_store("qdrant").vectors
    assert isinstance(server, QdrantVectors) and server.url == "http://127.0.0.1:9"
    # VECTOR_STORE=qdrant goes through the same rule
    settings.QDRANT_URL, settings.VECTOR_STORE = "", "qdrant"
    chooser.reset_search_store()
    try:
        assert chooser.search_store().name.endswith("+qdrant-edge")
    finally:
        chooser.reset_search_store()
    # Edge not installed: the client's local mode, said in the log; forcing Edge is refused
    monkeypatch.setattr(qdrant_edge, "edge_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="knowledge.index.chooser"):
        assert isinstance(chooser.build_store("qdrant").vectors, QdrantVectors)
    assert "qdrant-edge-py is not installed" in caplog.text
    with pytest.raises(ValueError, match="qdrant-edge-py"):
        chooser.build_store("qdrant-edge")


def test_reindex_dataset_moves_a_dataset_into_edge_and_optimizes(
    settings, tmp_path, workspace, make_dataset, index_text
):
    # given a dataset indexed in the embedded store
    chooser.reset_search_store()
    dataset = make_dataset(workspace)
    index_text(dataset, TEXT, process_rule=RULE)
    cats = DocumentSegment.objects.get(dataset=dataset, content="Cats purr when they are happy.")
    settings.QDRANT_URL, settings.QDRANT_LOCAL_ENGINE = "", "edge"
    settings.QDRANT_PATH, settings.QDRANT_COLLECTION_PREFIX = str(tmp_path / "edge"), "r"
    # when it is moved to qdrant
    out = StringIO()
    call_command(
        "reindex_dataset", str(dataset.id), "--to", "qdrant", "--batch", "2", "--optimize", stdout=out
    )
    # then it went into Edge, was optimized at the end, and Edge answers there
    assert f"dataset {dataset.id} ({dataset.name}) -> " in out.getvalue() and "+qdrant-edge" in out.getvalue()
    assert "3/3 nodes" in out.getvalue() and "optimized in" in out.getvalue()
    vectors = chooser.build_store("qdrant").vectors
    assert isinstance(vectors, QdrantEdgeVectors)
    assert vectors.count(dataset_id=str(dataset.id)) == 3
    node = IndexNode.objects.get(segment=cats, child_chunk=None).node_id
    assert nearest(vectors, dataset, "Cats purr when they are happy.") == [(node, 1.0)]
    assert any(p.name.startswith("r_") for p in (tmp_path / "edge").iterdir())
    out = StringIO()
    call_command("reindex_dataset", "--all", "--to", "qdrant", stdout=out)  # exact search: no index build
    assert "optimiz" not in out.getvalue() and vectors.count(dataset_id=str(dataset.id)) == 3
    vectors.close()
