"""The indexing pipeline: extract -> clean -> split -> embed (cached) -> index, with Dify's statuses.

``document_index`` runs it for one document. The Celery task ``knowledge.index_document`` runs
``indexing_queue.document_index_fairly``, which serves the workspace served longest ago first and goes on
with further waiting documents (``index_chain``). Indexing is idempotent: a completed, paused or deleted
document is left alone, and a re-run replaces the document's segments and index nodes rather than adding
to them. Status per step (``waiting -> parsing -> cleaning -> splitting -> indexing -> completed``) with
Dify's timestamps; segments are embedded in batches and each batch is marked completed as it lands, which
is the progress `indexing-status` reports. A failure records the error (``error`` status,
``stopped_at``); retrying puts the document back to ``waiting``.

No transaction is held while a model is called: rows are written in short transactions between calls,
and the model works one batch ahead of those writes (``index_chain``), so a worker waits on the model
rather than the model on our writes, from one document to the next too (the next one's first batch goes
out while this one's last is written). Rows go in through ``insert_objects`` (one ``executemany`` per
table and batch) and vectors stay float32 bytes from the model's answer to the index row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from dify_project.bulk_insert import insert_objects
from dify_project.db import db_sync_to_async
from knowledge import split
from knowledge.extract import ExtractError, extract_pages
from knowledge.index import search_store
from knowledge.index.base import search_text
from knowledge.models import (
    ChildChunk,
    Dataset,
    DocForm,
    Document,
    DocumentSegment,
    IndexingStatus,
    IndexNode,
    SegmentStatus,
)
from knowledge.services import embeddings
from knowledge.services.embeddings import embed_documents, run_async
from knowledge.services.process_rules import validate_process_rule

logger = logging.getLogger(__name__)

EMBED_BATCH = 32  # segments per progress step
# A run that has shown no progress for this long is taken to have died with its worker: a redelivered
# task may claim the document again. Shorter-lived runs are never doubled up.
STALE_AFTER = timedelta(minutes=30)
RUNNING = (
    IndexingStatus.PARSING,
    IndexingStatus.CLEANING,
    IndexingStatus.SPLITTING,
    IndexingStatus.INDEXING,
)


class IndexingPaused(Exception):
    """The document was paused between two steps."""


def _set(document: Document, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(document, name, value)
    Document.objects.filter(id=document.id).update(**fields, updated_at=timezone.now())


def _check_paused(document: Document) -> None:
    if Document.objects.filter(id=document.id, is_paused=True).exists():
        raise IndexingPaused()


def document_pages(document: Document) -> list[str]:
    """The document's source as pages: its text, or its uploaded file extracted."""
    if document.text is not None:
        return [document.text]
    if document.data_source_type == "website_crawl":
        return url_pages(str((document.data_source_info or {}).get("url") or ""))
    if document.upload_file_id is None:
        raise ExtractError("The document has no content: its file is missing.")
    from files.services import file_read

    upload = document.upload_file
    return extract_pages(extension=upload.extension, content=file_read(upload))


def url_pages(url: str) -> list[str]:
    """A web page's text, fetched through the guarded client (a private address is refused unless an
    operator allows it; the size is capped by SSRF_MAX_RESPONSE_BYTES). HTML is reduced to its text."""
    import httpx

    from dify_project.outbound import DestinationBlocked, ResponseTooLarge, http_client

    try:
        with http_client(timeout=30.0, follow_redirects=True) as client:
            response = client.get(url, headers={"User-Agent": "Mozilla/5.0 (compatible; knowledge-import)"})
    except (DestinationBlocked, ResponseTooLarge) as exc:
        raise ExtractError(f"The URL cannot be fetched: {exc}") from None
    except httpx.HTTPError as exc:
        raise ExtractError(f"The URL cannot be fetched: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ExtractError(f"The URL answered HTTP {response.status_code}.")
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    extension = {"text/html": "html", "application/xhtml+xml": "html", "application/pdf": "pdf"}.get(
        kind, "txt"
    )
    if kind in ("text/markdown", "text/x-markdown"):
        extension = "md"
    return extract_pages(extension=extension, content=response.content)


def process_rule_of(document: Document) -> tuple[str, dict[str, Any] | None]:
    rule = document.dataset_process_rule
    if rule is None:
        return "automatic", None
    return rule.mode, rule.rules


def remove_nodes(rows: QuerySet[IndexNode]) -> None:
    """Drop index nodes and their mirrors in the store (sqlite-vec rows by rowid, Qdrant points by id)."""
    pairs = list(rows.values_list("search_rowid", "node_id"))
    if not pairs:
        return
    rows.delete()
    search_store().nodes_removed(
        [rowid for rowid, _ in pairs if rowid is not None], node_ids=[node_id for _, node_id in pairs]
    )


def remove_document_nodes(document_ids: Sequence[Any]) -> None:
    """Drop the index nodes of documents (and their mirrors in an accelerated store)."""
    remove_nodes(IndexNode.objects.filter(document_id__in=list(document_ids)))


def remove_segment_nodes(segment_ids: Sequence[Any]) -> None:
    remove_nodes(IndexNode.objects.filter(segment_id__in=list(segment_ids)))


def index_units(
    dataset: Dataset, units: Sequence[tuple[DocumentSegment, ChildChunk | None, str, str]]
) -> int:
    """Embed (high quality) and index (segment, child or None, node_id, text) units. Returns how many
    texts went to the model (cache misses)."""
    if not units:
        return 0
    vectors: list[bytes] | None = None
    sent = 0
    if dataset.indexing_technique == "high_quality":
        vectors, sent = embed_documents(
            tenant_id=str(dataset.tenant_id),
            provider=dataset.embedding_model_provider or "",
            model=dataset.embedding_model or "",
            texts=[text for _, _, _, text in units],
            source={"dataset_id": str(dataset.id)},
        )
    _write_nodes(dataset, units, vectors)
    return sent


def _write_nodes(
    dataset: Dataset,
    units: Sequence[tuple[DocumentSegment, ChildChunk | None, str, str]],
    vectors: Sequence[bytes] | None,
    *,
    fresh: bool = False,
) -> None:
    """Replace the units' index nodes (and their mirrors in the store) in one short transaction;
    `fresh`: the units have no nodes yet (their document's were removed when its segments were stored),
    so there is nothing to replace."""
    nodes = [
        IndexNode(
            tenant_id=dataset.tenant_id,
            dataset_id=dataset.id,
            document_id=segment.document_id,
            segment=segment,
            child_chunk=child,
            node_id=node_id,
            content=text,
            search_text=search_text(text),
            vector=vectors[i] if vectors is not None else None,
            dimension=len(vectors[i]) // 4 if vectors is not None else 0,  # float32
        )
        for i, (segment, child, node_id, text) in enumerate(units)
    ]
    with transaction.atomic(savepoint=False):  # in the caller's transaction when there is one
        if not fresh:
            IndexNode.objects.filter(node_id__in=[n.node_id for n in nodes]).delete()
        insert_objects(nodes)
        search_store().nodes_added(nodes)


def segment_units(
    segments: Sequence[DocumentSegment], children: dict[Any, list[ChildChunk]] | None = None
) -> list[tuple[DocumentSegment, ChildChunk | None, str, str]]:
    """What gets embedded: a segment's text (with its answer for QA), or its child chunks' texts."""
    units: list[tuple[DocumentSegment, ChildChunk | None, str, str]] = []
    for segment in segments:
        kids = (children or {}).get(segment.id)
        if kids:
            units.extend((segment, child, child.index_node_id, child.content) for child in kids)
        else:
            units.append((segment, None, segment.index_node_id, segment.content))
    return units


# Embedding requests kept out while the worker writes. One keeps the model busy as well as two did in
# bench/knowledge.py (two overlap each other and leave less of the time covered), and is gentler on a
# provider's rate limits.
REQUESTS_AHEAD = 1


@dataclass
class Prepared:
    """A claimed document, split, with its segments (not saved yet) and its batches looked up in the
    embedding cache: ready for its first batch to go to the model."""

    document: Document
    started: float
    segments: list[DocumentSegment]
    children: dict[Any, list[ChildChunk]]
    steps: list[list[tuple[DocumentSegment, ChildChunk | None, str, str]]]
    plans: list[embeddings.DocumentPlan] | None
    tokens: int = 0  # texts sent to the model so far
    stopped: bool = False  # failed or paused: its batches still in flight are dropped


def claim(document_id: str) -> Document | None:
    """Take the document for this run: None when it is gone, paused, completed or another run has it
    (a duplicate delivery finds it taken and leaves)."""
    document = (
        Document.objects.select_related("dataset", "dataset_process_rule", "upload_file")
        .filter(id=document_id)
        .first()
    )
    if document is None or document.is_paused or document.indexing_status == IndexingStatus.COMPLETED:
        return None
    now = timezone.now()
    claimable = Q(indexing_status__in=[IndexingStatus.WAITING, IndexingStatus.ERROR]) | Q(
        indexing_status__in=RUNNING, updated_at__lt=now - STALE_AFTER
    )
    claimed = Document.objects.filter(claimable, id=document.id, is_paused=False).update(
        indexing_status=IndexingStatus.PARSING,
        processing_started_at=now,
        error=None,
        stopped_at=None,
        updated_at=now,
    )
    if not claimed:
        logger.info("Document %s is being indexed by another run; skipped", document.id)
        return None
    document.indexing_status, document.processing_started_at = IndexingStatus.PARSING, now
    return document


def prepare(document: Document) -> Prepared | None:
    """Extract, clean and split a claimed document and plan its batches; None when that stopped it
    (paused, or failed: the error is recorded on the document)."""
    started = time.perf_counter()
    try:
        pages = document_pages(document)
        _set(
            document,
            indexing_status=IndexingStatus.CLEANING,
            parsing_completed_at=timezone.now(),
            word_count=sum(len(p) for p in pages),
        )
        _check_paused(document)
        mode, rules = process_rule_of(document)
        chunks = split.split_pages(pages, mode=mode, rules=rules, doc_form=document.doc_form)
        _set(document, indexing_status=IndexingStatus.SPLITTING, cleaning_completed_at=timezone.now())
        _check_paused(document)
        answers: list[str] | None = None
        if document.doc_form == DocForm.QA:  # a model turns each chunk into question-answer pairs
            from knowledge.services import qa

            pairs = qa.qa_chunks(
                tenant_id=str(document.tenant_id),
                texts=[c.content for c in chunks],
                language=document.doc_language or "English",
            )
            chunks, answers = qa.as_chunks(pairs), [answer for _, answer in pairs]
        segments, children = _new_segments(document, chunks, answers=answers)
        steps = [
            segment_units(segments[i : i + EMBED_BATCH], children)
            for i in range(0, len(segments), EMBED_BATCH)
        ]
        dataset = document.dataset
        plans = _plan_batches(dataset, steps) if dataset.indexing_technique == "high_quality" else None
    except Exception as exc:
        _stopped(document, exc)
        return None
    return Prepared(document, started, segments, children, steps, plans)


def _stopped(document: Document, exc: BaseException) -> None:
    """Record why a document's run stopped: paused (nothing to record), or failed."""
    if isinstance(exc, IndexingPaused):
        logger.info("Indexing of document %s paused", document.id)
        return
    from providers.services.invocation import api_error_for

    mapped = api_error_for(exc)
    message = mapped.message if mapped is not None else str(exc) or type(exc).__name__
    if mapped is None and not isinstance(exc, ExtractError | ValueError):
        logger.error("Indexing of document %s failed", document.id, exc_info=exc)
    _set(document, indexing_status=IndexingStatus.ERROR, error=message, stopped_at=timezone.now())


def _completed(prepared: Prepared) -> None:
    _set(
        prepared.document,
        indexing_status=IndexingStatus.COMPLETED,
        completed_at=timezone.now(),
        indexing_latency=time.perf_counter() - prepared.started,
        tokens=prepared.tokens,
        error=None,
    )


def document_index(*, document_id: str) -> bool:
    """Run the pipeline for one document (see the module docstring). False when this run did not claim
    it (gone, paused, completed, or another run has it)."""
    document = claim(document_id)
    if document is None:
        return False
    prepared = prepare(document)
    if prepared is not None:
        run_async(index_chain, prepared, None)
    return True


async def index_chain(first: Prepared, following: Callable[[], Prepared | None] | None) -> None:
    """Index prepared documents one after another with the model ahead of our writes: while this
    worker's thread writes a batch's rows (or a document's segments), the next ``REQUESTS_AHEAD``
    batches are with the model, so indexing waits on the model rather than on our own writes. The
    batches run on across documents: once a document's last batch is sent, `following` (sync: it
    claims and splits the next document; None: stop) is called and that document's first batches go
    out while this one's are still being written. Database work runs in the caller's thread
    (``db_sync_to_async`` under ``run_async``), one piece at a time; only the HTTP calls overlap it. A
    document that fails or is paused is recorded as such, its batches in flight are dropped, and the
    chain goes on."""
    db = db_sync_to_async
    # (document, batch index or -1 for a document with no segments, its request in flight or None)
    in_flight: deque[tuple[Prepared, int, asyncio.Future | None]] = deque()
    feeding: Prepared | None = first
    fed = 0  # batches of `feeding` sent so far
    dropped: list[asyncio.Future] = []

    def send(prepared: Prepared, k: int) -> None:
        plans = prepared.plans
        request = None
        if plans is not None and k >= 0:
            request = asyncio.ensure_future(embeddings.fetch_missing(plans[k]))
        in_flight.append((prepared, k, request))

    async def top_up() -> None:
        nonlocal feeding, fed
        while feeding is not None and len(in_flight) < REQUESTS_AHEAD:
            more = fed < len(feeding.steps) or (fed == 0 and not feeding.steps)
            if more and not feeding.stopped:
                send(feeding, fed if feeding.steps else -1)
                fed += 1
                continue
            feeding, fed = None, 0
            if following is not None:
                try:
                    feeding = await db(following)()
                except Exception:  # finding the next document is no document's failure: the chain ends
                    logger.exception("Looking for the next document to index failed")

    def drop(request: asyncio.Future | None) -> None:
        if request is not None:
            request.cancel()
            dropped.append(request)

    try:
        await top_up()
        while in_flight:
            prepared, k, request = in_flight.popleft()
            document = prepared.document
            if prepared.stopped:
                drop(request)
                await top_up()  # the chain goes on: the next document is fed when this one's ran out
                continue
            await top_up()
            try:
                if k <= 0:
                    if prepared.steps:  # the first batch is with the model already
                        now = timezone.now()
                        for segment in {u[0] for u in prepared.steps[0]}:
                            segment.status, segment.indexing_at = SegmentStatus.INDEXING, now
                    await db(_store_segments)(document, prepared.segments, prepared.children)
                if k >= 0:
                    units = prepared.steps[k]
                    after = prepared.steps[k + 1] if k + 1 < len(prepared.steps) else ()
                    fresh = await request if request is not None else {}
                    plan = prepared.plans[k] if prepared.plans is not None else None
                    prepared.tokens += await db(_write_batch)(document, units, plan, fresh, after)
                if k == len(prepared.steps) - 1 or k < 0:
                    await db(_completed)(prepared)
            except Exception as exc:  # the document's error, shown to its owner and retryable
                prepared.stopped = True
                drop(request)
                await db(_stopped)(document, exc)
    finally:
        for _, _, request in in_flight:  # the chain itself failed: nothing is left running
            drop(request)
        for request in dropped:
            with contextlib.suppress(BaseException):
                await request


def _new_segments(
    document: Document, chunks: Sequence[split.Chunk], *, answers: Sequence[str] | None = None
) -> tuple[list[DocumentSegment], dict[Any, list[ChildChunk]]]:
    """The document's segments (and child chunks) for these chunks, not saved yet (their ids and node
    ids are set, so the first batch can go to the model while they are written); `answers`, one per
    chunk, in Q&A mode."""
    segments = [
        DocumentSegment(
            tenant_id=document.tenant_id,
            dataset_id=document.dataset_id,
            document=document,
            position=position,
            content=chunk.content,
            answer=answers[position - 1] if answers is not None else None,
            word_count=len(chunk.content) + (len(answers[position - 1]) if answers is not None else 0),
            index_node_id=str(uuid.uuid4()),
            index_node_hash=split.text_hash(chunk.content),
            status=SegmentStatus.WAITING,
            created_by=document.created_by,
        )
        for position, chunk in enumerate(chunks, start=1)
    ]
    children: dict[Any, list[ChildChunk]] = {}
    if document.doc_form == DocForm.HIERARCHICAL:
        for segment, chunk in zip(segments, chunks, strict=True):
            children[segment.id] = [
                ChildChunk(
                    tenant_id=document.tenant_id,
                    dataset_id=document.dataset_id,
                    document=document,
                    segment=segment,
                    position=position,
                    content=text,
                    word_count=len(text),
                    index_node_id=str(uuid.uuid4()),
                    index_node_hash=split.text_hash(text),
                    type="automatic",
                    created_by=document.created_by,
                )
                for position, text in enumerate(chunk.children, start=1)
            ]
    return segments, children


@transaction.atomic
def _store_segments(
    document: Document, segments: Sequence[DocumentSegment], children: dict[Any, list[ChildChunk]]
) -> None:
    """Replace the document's segments with these (a re-run starts clean)."""
    remove_document_nodes([document.id])
    DocumentSegment.objects.filter(document=document).delete()
    insert_objects(segments)
    insert_objects([kid for kids in children.values() for kid in kids])
    _set(document, indexing_status=IndexingStatus.INDEXING, splitting_completed_at=timezone.now())


def _write_batch(
    document: Document,
    units: Sequence[tuple[DocumentSegment, ChildChunk | None, str, str]],
    plan: embeddings.DocumentPlan | None,
    fresh: dict[str, bytes],
    next_units: Sequence[tuple[DocumentSegment, Any, str, str]] = (),
) -> int:
    """Write one batch's vectors (cache and index nodes) and mark its segments completed, and the
    next batch's (`next_units`, already with the model) indexing: the progress `indexing-status` reports.
    Returns how many texts went to the model; IndexingPaused (after this batch is stored) when the
    document was paused meanwhile. One transaction: outside one, SQLite would commit each row of the
    cache's ``executemany`` on its own."""
    with transaction.atomic():
        vectors = embeddings.finish_documents(plan, fresh) if plan is not None else None
        # The document's nodes went with its old segments: these are fresh.
        _write_nodes(document.dataset, units, vectors, fresh=True)
        now = timezone.now()
        DocumentSegment.objects.filter(id__in={u[0].id for u in units}).update(
            status=SegmentStatus.COMPLETED, completed_at=now, enabled=True
        )
        paused = Document.objects.filter(id=document.id, is_paused=True).exists()
        if next_units and not paused:
            DocumentSegment.objects.filter(id__in={u[0].id for u in next_units}).update(
                status=SegmentStatus.INDEXING, indexing_at=now
            )
    if paused:
        raise IndexingPaused()
    return len(plan.missing) if plan is not None else 0


def _plan_batches(
    dataset: Dataset, steps: Sequence[Sequence[tuple[Any, Any, str, str]]]
) -> list[embeddings.DocumentPlan]:
    return [
        embeddings.plan_documents(
            tenant_id=str(dataset.tenant_id),
            provider=dataset.embedding_model_provider or "",
            model=dataset.embedding_model or "",
            texts=[text for _, _, _, text in units],
            source={"dataset_id": str(dataset.id)},
        )
        for units in steps
    ]


def document_nodes_rebuild(*, document_id: str) -> None:
    """Re-add an enabled document's enabled segments to the index (after enable / un-archive). Vectors
    come from the embedding cache, so this normally calls no model."""
    document = Document.objects.select_related("dataset").filter(id=document_id).first()
    if document is None or not document.enabled or document.archived:
        return
    if document.indexing_status != IndexingStatus.COMPLETED:
        return
    segments = list(DocumentSegment.objects.filter(document=document, enabled=True).order_by("position"))
    children: dict[Any, list[ChildChunk]] = {}
    for chunk in ChildChunk.objects.filter(segment__in=segments).order_by("position"):
        children.setdefault(chunk.segment_id, []).append(chunk)
    remove_document_nodes([document.id])
    for start in range(0, len(segments), EMBED_BATCH):
        index_units(document.dataset, segment_units(segments[start : start + EMBED_BATCH], children))


def indexing_estimate(*, pages: Sequence[str], process_rule: dict[str, Any], doc_form: str) -> dict[str, Any]:
    """Dify's indexing estimate: how a text would be split, without storing anything. The preview shows
    the first 10 segments (with their child chunks in parent-child mode)."""
    mode, rules = validate_process_rule(process_rule)
    chunks = split.split_pages(pages, mode=mode, rules=rules, doc_form=doc_form)
    preview = [
        {
            "content": chunk.content,
            "child_chunks": chunk.children if doc_form == DocForm.HIERARCHICAL else None,
        }
        for chunk in chunks[:10]
    ]
    return {"total_segments": len(chunks), "preview": preview, "qa_preview": None}
