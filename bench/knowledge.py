"""Knowledge benchmark (issue 15): indexing throughput, retrieval latency and recall per search store.

    .venv/bin/python bench/knowledge.py                  # 10k and 100k segments (~25 min on 2 busy cores)
    .venv/bin/python bench/knowledge.py --quick          # 2k and 10k segments (~3 min)
    .venv/bin/python bench/knowledge.py --sizes 10000 --dim 768 --queries 300 --stores exact,qdrant

Set-up: a temporary SQLite database (the ``knowledge.sqlite_vec`` engine, so sqlite-vec loads) under a
temporary VAR_DIR, or DATABASE_URL when set (PostgreSQL: exact, pgvector where installed, Qdrant); the
loopback fake model server (``tests.support.fake_llm``, in a child process) as the workspace's OpenAI embedding model, with
``--dim`` dimensions; ``qdrant`` is Qdrant Edge in this process (a directory under the temporary VAR_DIR),
or the server at QDRANT_URL; ``qdrant-client`` (not in the default list: about 2 s a search at 100k) is
the client's in-process local mode (``:memory:``).

Measured, per size:
  indexing   documents of 100 segments (random words, split on blank lines), created first (as an upload
             of many files; their creation time is printed apart: the API's work, not the worker's), then
             their queued tasks run in order as one worker would (``document_index_fairly``: split, embed
             through the provider runtime and the loopback model, embedding cache, index rows, store
             mirror; a task goes on with the next waiting document, see there); segments per second, and
             the share of the wall time during which no embedding request was with the model
             (ours: the model waiting on our writes; see ModelClock); and what the model alone serves
             when sent the same batches back to back (``model_alone``): the rate model-bound indexing
             would reach. Qdrant is
             then filled from the node table by ``reindex_dataset`` (its nodes per second).
  Qdrant Edge two rows: as served right after the copy (plain segments: an exact SIMD scan), and
             ``qdrant (hnsw)`` after ``optimize()`` (what ``reindex_dataset`` runs at its end; its time in
             the "index seg/s" column).
  retrieval  ``search_dataset`` (what hit testing, apps and the workflow node call) for vector, full-text
             and hybrid search, top_k 10, query vectors already in the query cache; p50/p95/p99 in ms;
             and vector search restricted to every tenth document (what a metadata filter resolves to).
             ``vec0`` is the sqlite-vec store without its in-memory matrices (vec0's own KNN scan), the
             dataset copied into vec0 first (``catch_up``: indexing writes vec0 only for datasets on their
             way past the matrix budget, see ``knowledge.index.vec0_mirror``).
  recall@10  each approximate store's vector top 10 against exact cosine on the same vectors.

Goals (issue 15): p95 < 50 ms at 100k segments in the scale-out store and in sqlite-vec, recall@10 >= 0.95,
indexing bound by the model (our overhead < 10% of the time with a loopback model).
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEGMENTS_PER_DOCUMENT = 100
BUDGET_SECONDS = 15.0  # per store, method and size; at least MIN_QUERIES queries are timed
MIN_QUERIES = 10
WORDS_PER_SEGMENT = 40
RULE = {
    "mode": "custom",
    "rules": {"pre_processing_rules": [], "segmentation": {"separator": "\\n\\n", "max_tokens": 1000}},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2k and 10k segments, fewer queries")
    parser.add_argument("--sizes", default="", help="segment counts, comma-separated (default 10000,100000)")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimensions (default 384)")
    parser.add_argument("--queries", type=int, default=0, help="queries per method and store (default 100)")
    parser.add_argument("--stores", default="", help="stores to measure (default: every one available)")
    return parser.parse_args()


def setup_django(var_dir: Path) -> None:
    os.environ.setdefault("VAR_DIR", str(var_dir))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["SSRF_ALLOWED_NETWORKS"] = "127.0.0.0/8,::1/128"  # the loopback model
    os.environ.setdefault("QDRANT_PATH", str(var_dir / "qdrant-edge"))
    os.environ["QDRANT_COLLECTION_PREFIX"] = f"bench{uuid.uuid4().hex[:8]}"
    # The sqlite-vec engine on SQLite (this Python's sqlite3 may not load extensions); as is on PostgreSQL.
    os.environ["DJANGO_SETTINGS_MODULE"] = (
        "dify_project.settings" if os.environ.get("DATABASE_URL") else "tests.knowledge.settings_sqlite_vec"
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


# --- data ----------------------------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 20000) -> list[str]:
    syllables = [
        "ka",
        "lo",
        "mi",
        "ne",
        "ru",
        "sa",
        "ti",
        "vo",
        "ze",
        "pa",
        "qu",
        "da",
        "fi",
        "go",
        "he",
        "jo",
    ]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def document_text(rng: random.Random, words: list[str]) -> str:
    return "\n\n".join(
        " ".join(rng.choices(words, k=WORDS_PER_SEGMENT)) + "." for _ in range(SEGMENTS_PER_DOCUMENT)
    )


MODEL_SERVER = """
import sys
from tests.support.fake_llm import FakeLLMServer
server = FakeLLMServer(port=int(sys.argv[1]))
server.embedding_dimensions = int(sys.argv[2])
server.serve_forever()
"""


class ModelServer:
    """The loopback fake model in a process of its own, so it does not share this process's GIL."""

    def __init__(self, dim: int) -> None:
        import socket
        import subprocess

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", MODEL_SERVER, str(self.port), str(dim)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{self.url}/v1/models", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the fake model server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def workspace(server: Any, dim: int) -> Any:
    from tests import factories
    from tests.providers_django.given import provider_credential, set_default

    tenant = factories.tenant_factory(name=f"bench-{uuid.uuid4().hex[:8]}")
    factories.member_factory(tenant=tenant, role="owner", email=f"{uuid.uuid4().hex}@bench.invalid")
    provider_credential(
        tenant=tenant, provider="openai", values={"openai_api_key": "sk-bench", "openai_api_base": server.url}
    )
    set_default(tenant=tenant, model_type="text-embedding", provider="openai", model="text-embedding-3-small")
    return tenant


# --- measuring -----------------------------------------------------------------------------------------


class ModelClock:
    """Time during which an embedding request was with the model: the provider runtime's call (HTTP,
    the model's answer and decoding it), not our resolution of credentials or metering around it; the
    union of the requests' intervals, since indexing keeps the next batch with the model while it writes
    the last one. The rest of the wall time is the model waiting on us."""

    def __init__(self) -> None:
        from providers.runtime.runtime import ModelRuntime

        self.intervals: list[tuple[float, float]] = []
        original = ModelRuntime.invoke_embedding

        async def timed(runtime: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(runtime, **kwargs)
            finally:
                self.intervals.append((started, time.perf_counter()))

        ModelRuntime.invoke_embedding = timed

    def reset(self) -> None:
        self.intervals = []

    @property
    def seconds(self) -> float:
        total, end = 0.0, float("-inf")
        for start, stop in sorted(self.intervals):
            if stop <= end:
                continue
            total += stop - max(start, end)
            end = stop
        return total


def index(
    tenant: Any, size: int, rng: random.Random, words: list[str], clock: ModelClock
) -> tuple[Any, dict]:
    from knowledge.models import IndexNode
    from knowledge.services.datasets import dataset_create
    from knowledge.services.documents import document_create
    from knowledge.services.indexing_queue import document_index_fairly

    dataset = dataset_create(
        tenant=tenant, account_id=None, name=f"bench {size}", indexing_technique="high_quality"
    )
    import knowledge.tasks

    queue: list[str] = []  # the indexing queue: one task per document, as document_create sends them
    knowledge.tasks.index_document.delay = lambda document_id, **k: queue.append(document_id)
    texts = [document_text(rng, words) for _ in range(max(1, size // SEGMENTS_PER_DOCUMENT))]
    started = time.perf_counter()
    for i, text in enumerate(texts):
        document_create(dataset=dataset, account_id=None, name=f"d{i}.txt", text=text, process_rule=RULE)
    created = time.perf_counter() - started
    clock.reset()
    started = time.perf_counter()
    for document_id in queue:  # one worker taking the tasks in order (what index_document runs)
        document_index_fairly(document_id=document_id)
    seconds = time.perf_counter() - started
    count = IndexNode.objects.filter(dataset=dataset).exclude(vector=None).count()
    return dataset, {
        "segments": count,
        "seconds": seconds,
        "model_seconds": clock.seconds,
        "created_seconds": created,
    }


def model_alone(dataset: Any, words: list[str], count: int = 3200) -> float:
    """Segments per second the loopback model serves this process when it is sent indexing's batches
    back to back, one at a time, with nothing else to do (the provider runtime and metering as in
    indexing, no database rows): the rate model-bound indexing would reach."""
    from knowledge.services.embeddings import _embed_batches, run_async

    rng = random.Random(16)  # its own: the queries drawn after indexing stay the same
    texts = [" ".join(rng.choices(words, k=WORDS_PER_SEGMENT)) + "." for _ in range(count)]
    started = time.perf_counter()
    run_async(
        _embed_batches,
        tenant_id=str(dataset.tenant_id),
        provider=dataset.embedding_model_provider,
        model=dataset.embedding_model,
        texts=texts,
        source=None,
    )
    return count / (time.perf_counter() - started)


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)

    def pick(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000

    return pick(0.50), pick(0.95), pick(0.99)


def latencies(
    store: Any, dataset: Any, queries: list[str], method: str, document_ids: list[str] | None = None
) -> tuple[tuple[float, float, float], int]:
    import asyncio

    from knowledge.index import chooser
    from knowledge.retrieval import Settings, search_dataset

    chooser._stores[__import__("django.db").db.connection.vendor] = store
    settings = Settings(search_method=method, top_k=10)
    # On an event loop of its own, as the ASGI server runs it: database calls go to the shared pool
    # (under async_to_sync they would all run in this thread, one after another).
    loop = asyncio.new_event_loop()

    def run(*args: Any, **kwargs: Any) -> Any:
        return loop.run_until_complete(search_dataset(*args, **kwargs))

    # warm: connections, the collection list, the in-memory matrix of the sqlite-vec store
    run(dataset, queries[0], settings, document_ids=document_ids)
    samples: list[float] = []
    budget = time.perf_counter() + BUDGET_SECONDS
    for query in queries:
        started = time.perf_counter()
        run(dataset, query, settings, document_ids=document_ids)
        samples.append(time.perf_counter() - started)
        if len(samples) >= MIN_QUERIES and started > budget:
            break  # a slow store at 100k: enough samples for p50/p95, the run stays bounded
    loop.close()
    return percentiles(samples), len(samples)


def warm_query_vectors(dataset: Any, queries: list[str]) -> dict[str, list[float]]:
    from asgiref.sync import async_to_sync

    from knowledge.services.embeddings import embed_query

    return {
        q: async_to_sync(embed_query)(
            tenant_id=str(dataset.tenant_id),
            provider=dataset.embedding_model_provider,
            model=dataset.embedding_model,
            query=q,
        )
        for q in queries
    }


def recall(store: Any, exact: Any, dataset: Any, vectors: list[list[float]]) -> float:
    found = wanted = 0
    budget = time.perf_counter() + BUDGET_SECONDS
    for i, vector in enumerate(vectors):
        if i >= MIN_QUERIES and time.perf_counter() > budget:
            break
        truth = {
            h.node_id
            for h in exact.search_vector(
                dataset_id=str(dataset.id), vector=vector, top_k=10, document_ids=None
            )
        }
        got = {
            h.node_id
            for h in store.search_vector(
                dataset_id=str(dataset.id), vector=vector, top_k=10, document_ids=None
            )
        }
        found += len(truth & got)
        wanted += len(truth)
    return found / wanted if wanted else 1.0


def measure(
    store: Any,
    exact: Any,
    dataset: Any,
    queries: list[str],
    vectors: list[list[float]],
    document_ids: list[str],
    name: str,
) -> list[str]:
    """The latency cells (vector, full text, hybrid, vector over 10% of documents) and recall@10."""
    from knowledge.retrieval import FULL_TEXT, HYBRID, SEMANTIC

    measured = [latencies(store, dataset, queries, m) for m in (SEMANTIC, FULL_TEXT, HYBRID)]
    measured.append(latencies(store, dataset, queries, SEMANTIC, document_ids))
    cells = []
    for figures, count in measured:
        cell = "/".join(f"{v:.1f}" for v in figures)
        cells.append(cell if count == len(queries) else f"{cell} (n={count})")
    r = "1.000 (is exact)" if name == "exact" else f"{recall(store, exact, dataset, vectors):.3f}"
    return [*cells, r]


def main() -> None:
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] or ([2000, 10000] if args.quick else [10000, 100000])
    n_queries = args.queries or (40 if args.quick else 100)
    var_dir = Path(tempfile.mkdtemp(prefix="bench-knowledge-"))
    setup_django(var_dir)

    from django.db import connection

    from knowledge.index.chooser import build_store
    from knowledge.services.reindex import dataset_reindex_to

    wanted = [s for s in args.stores.split(",") if s] or ["sqlite-vec", "vec0", "exact", "pgvector", "qdrant"]
    stores: dict[str, Any] = {}
    for name in wanted:
        try:
            if name == "vec0":  # sqlite-vec without its in-memory matrices: vec0's own KNN scan
                from knowledge.index.stores import SqliteVecVectors

                base = build_store("sqlite-vec")
                stores[name] = type(base)(vectors=SqliteVecVectors(matrices=False))
            elif name == "qdrant-client":  # the client's local mode, in memory (QDRANT_PATH is Edge's)
                from knowledge.index.qdrant import QdrantVectors

                base = build_store("exact")
                stores[name] = type(base)(vectors=QdrantVectors(path=":memory:"))
            else:
                stores[name] = build_store(name)
        except ValueError as exc:
            print(f"  ({name}: not measured: {exc})")
    exact = build_store("exact")
    # The pipeline writes through the embedded accelerated store when there is one (its mirror is part
    # of indexing); the others are filled from the node table afterwards.
    primary = next((n for n in ("sqlite-vec", "pgvector") if n in stores), "exact")

    rng = random.Random(15)
    words = vocabulary(rng)
    server = ModelServer(args.dim)
    clock = ModelClock()
    rows: list[list[str]] = []
    try:
        tenant = workspace(server, args.dim)
        for size in sizes:
            from knowledge.index import chooser

            chooser.reset_search_store()
            chooser._stores[connection.vendor] = stores.get(primary, exact)
            dataset, made = index(tenant, size, rng, words, clock)
            ours = made["seconds"] - made["model_seconds"]
            speed, alone = made["segments"] / made["seconds"], model_alone(dataset, words)
            print(
                f"indexed {made['segments']} segments via {primary} in {made['seconds']:.1f} s: "
                f"{speed:.0f} segments/s, model {made['model_seconds']:.1f} s, "
                f"ours {ours:.1f} s ({100 * ours / made['seconds']:.0f}%); "
                f"documents created beforehand in {made['created_seconds']:.1f} s; the model alone serves "
                f"{alone:.0f} segments/s (indexing at {100 * speed / alone:.0f}% of that)",
                flush=True,
            )
            queries = [" ".join(rng.choices(words, k=4)) for _ in range(n_queries)]
            vectors = list(warm_query_vectors(dataset, queries).values())
            # A metadata filter resolved to every tenth document: the store filters inside its search.
            document_ids = [str(i) for i in dataset.documents.order_by("id").values_list("id", flat=True)][
                ::10
            ]
            for name, store in stores.items():
                if name == primary:
                    rate = f"{made['segments'] / made['seconds']:.0f}"
                    share = f"{100 * ours / made['seconds']:.0f}%"
                elif name == "exact":
                    rate, share = "(same rows)", ""
                elif name == "vec0":  # a dataset this size is not mirrored into vec0 unless asked
                    started = time.perf_counter()
                    store.vectors.catch_up(str(dataset.id), args.dim)
                    rate, share = f"{made['segments'] / (time.perf_counter() - started):.0f} (copy)", ""
                else:
                    started = time.perf_counter()
                    copied = dataset_reindex_to(dataset=dataset, store=store)
                    rate, share = f"{copied / (time.perf_counter() - started):.0f} (copy)", ""
                rows.append(
                    [
                        f"{size:,}",
                        name,
                        rate,
                        share,
                        *measure(store, exact, dataset, queries, vectors, document_ids, name),
                    ]
                )
                print(f"  measured {name} at {size:,}", flush=True)
                optimize = getattr(store.vectors, "optimize", None)
                if optimize is not None:  # Qdrant Edge: HNSW, as reindex_dataset leaves it
                    rate = f"{optimize():.1f} s (optimize)"
                    cells = measure(store, exact, dataset, queries, vectors, document_ids, name)
                    rows.append([f"{size:,}", f"{name} (hnsw)", rate, "", *cells])
                    print(f"  measured {name} (hnsw) at {size:,}", flush=True)
    finally:
        server.stop()

    print()
    print("$ " + " ".join(shlex.quote(a) for a in [".venv/bin/python", "bench/knowledge.py", *sys.argv[1:]]))
    print(
        f"database: {connection.vendor}; {args.dim}-dimensional loopback embeddings; top_k 10; "
        f"{n_queries} queries per method; latency p50/p95/p99 ms through search_dataset"
    )
    header = [
        "segments",
        "store",
        "index seg/s",
        "ours",
        "vector",
        "full text",
        "hybrid",
        "vector, 10% of docs",
        "recall@10",
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
