"""Celery tasks of the knowledge domain, routed to the ``indexing`` queue (``CELERY_TASK_ROUTES``). They
take ids and call a service; the services are idempotent, so a redelivered task (acks_late) does no
harm."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="knowledge.index_document", acks_late=True, ignore_result=True)
def index_document(document_id: str) -> None:
    from knowledge.services.indexing_queue import document_index_fairly

    # Fair across workspaces: this task may index another workspace's waiting document first.
    document_index_fairly(document_id=document_id)


@shared_task(name="knowledge.rebuild_document_nodes", acks_late=True, ignore_result=True)
def rebuild_document_nodes(document_id: str) -> None:
    from knowledge.services.indexing import document_nodes_rebuild

    document_nodes_rebuild(document_id=document_id)
