"""Which waiting document an indexing task takes, and how long it goes on taking more.

Every waiting document has one ``knowledge.index_document`` task queued. A task indexes the document the
fair order picks (``fair_next_document``), then the next one it picks, and so on for up to
``CHAIN_SECONDS``: the next document is claimed and split while this one's batches are with the model
(``indexing.index_chain``). The tasks of the documents a chain took find them done.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from knowledge.models import Document, IndexingStatus
from knowledge.services.embeddings import run_async
from knowledge.services.indexing import Prepared, claim, index_chain, prepare

CHAIN_SECONDS = 60.0  # how long one indexing task goes on with further waiting documents
CHAIN_ATTEMPTS = 10  # documents a task may find claimed or failing before it stops looking for more


def fair_next_document(*, document_id: str) -> str | None:
    """Which waiting document a worker should index now, given that it was sent for `document_id`.

    Every waiting document has one task queued, so a task may index any waiting document and the count
    still comes out even. Tasks are served in the order they were sent, so a workspace that sent 1,000
    documents would hold the queue; instead each task serves the workspace that was served longest ago
    (the latest ``processing_started_at`` among its documents; never served comes first), preferring the
    task's own workspace on a tie; within a workspace the oldest waiting document goes first. None:
    nothing is waiting.
    """
    waiting = Document.objects.filter(indexing_status=IndexingStatus.WAITING, is_paused=False)
    own = waiting.filter(id=document_id).values_list("tenant_id", flat=True).first()
    tenants = list(waiting.order_by().values_list("tenant_id", flat=True).distinct()[:1000])
    if not tenants:
        return None
    served = dict(
        Document.objects.filter(tenant_id__in=tenants)
        .exclude(processing_started_at=None)
        .order_by()
        .values("tenant_id")
        .annotate(last=Max("processing_started_at"))
        .values_list("tenant_id", "last")
    )
    never = timezone.now() - timedelta(days=36500)
    oldest = min(served.get(t) or never for t in tenants)
    if own is not None and (served.get(own) or never) <= oldest:
        owed = [own]
    else:
        owed = [t for t in tenants if (served.get(t) or never) <= oldest]
    first = waiting.filter(tenant_id__in=owed).order_by("created_at", "position").values_list("id", flat=True)
    found = first.first()
    return str(found) if found is not None else None


def document_index_fairly(
    *, document_id: str, attempts: int = 5, chain_seconds: float = CHAIN_SECONDS
) -> None:
    """What the ``index_document`` task runs: index the document `fair_next_document` picks (usually
    this one; when another worker claimed it first, pick again), then go on with the next one it picks
    while documents are waiting, for up to `chain_seconds`: the next document is split and its first
    batch sent to the model while this one's last batch is written (``index_chain``), so the model is
    not left waiting between documents. The tasks of the documents a chain took find them done."""
    deadline = time.monotonic() + chain_seconds
    first: Document | None = None
    for _ in range(attempts):
        chosen = fair_next_document(document_id=document_id)
        # Nothing waiting: a retry of a failed document, or a stale run re-sent by recovery.
        first = claim(chosen or document_id)
        if first is not None or chosen is None or chosen == str(document_id):
            break
    if first is None:
        return

    def following() -> Prepared | None:
        for _ in range(CHAIN_ATTEMPTS):
            if time.monotonic() > deadline:
                return None
            chosen = fair_next_document(document_id=document_id)
            if chosen is None:
                return None
            document = claim(chosen)
            prepared = prepare(document) if document is not None else None
            if prepared is not None:
                return prepared
        return None

    prepared = prepare(first)
    if prepared is None:
        prepared = following()
    if prepared is not None:
        run_async(index_chain, prepared, following)
