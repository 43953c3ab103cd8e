"""Documents: create from text or file, update, delete, status actions, pause/resume/retry.

Creating or re-indexing a document writes its row (``waiting``) and enqueues ``knowledge.index_document``
on the ``indexing`` queue once the transaction commits.
"""

from __future__ import annotations

import random
import time
from typing import IO, Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from knowledge import exceptions as errors
from knowledge import split
from knowledge.extract import SUPPORTED_EXTENSIONS
from knowledge.models import (
    DEFAULT_RETRIEVAL_MODEL,
    Dataset,
    DatasetProcessRule,
    DocForm,
    Document,
    IndexingStatus,
)
from knowledge.services.datasets import resolve_embedding_model, validate_retrieval_model
from knowledge.services.indexing import RUNNING, remove_document_nodes
from knowledge.services.process_rules import validate_process_rule

DOC_FORMS = (DocForm.TEXT, DocForm.HIERARCHICAL, DocForm.QA)


def new_batch() -> str:
    """Dify's batch id: a timestamp and six random digits."""
    return time.strftime("%Y%m%d%H%M%S") + str(random.randint(100000, 999999))  # noqa: S311 - not a secret


def _enqueue_index(document_id: Any) -> None:
    from knowledge.tasks import index_document

    transaction.on_commit(lambda: index_document.delay(str(document_id)))


def _prepare_dataset(
    dataset: Dataset,
    *,
    indexing_technique: str | None,
    embedding_model: str | None,
    embedding_model_provider: str | None,
    retrieval_model: dict[str, Any] | None,
) -> None:
    """The first document settles a dataset created empty: technique, embedding model, retrieval."""
    if dataset.indexing_technique is None:
        if indexing_technique not in ("high_quality", "economy"):
            raise errors.InvalidParam("indexing_technique is required.", params="indexing_technique")
        dataset.indexing_technique = indexing_technique
    if dataset.indexing_technique == "high_quality" and not dataset.embedding_model:
        dataset.embedding_model_provider, dataset.embedding_model = resolve_embedding_model(
            tenant_id=str(dataset.tenant_id), provider=embedding_model_provider, model=embedding_model
        )
    if retrieval_model is not None:
        dataset.retrieval_model = validate_retrieval_model(retrieval_model)
    elif dataset.retrieval_model is None:
        dataset.retrieval_model = dict(DEFAULT_RETRIEVAL_MODEL)
    if dataset.data_source_type is None:
        dataset.data_source_type = "upload_file"
    dataset.save()


def _rule_for(dataset: Dataset, process_rule: dict[str, Any] | None, account_id: Any) -> DatasetProcessRule:
    if process_rule is not None:
        mode, rules = validate_process_rule(process_rule)
        return DatasetProcessRule.objects.create(
            tenant_id=dataset.tenant_id, dataset=dataset, mode=mode, rules=rules, created_by=account_id
        )
    latest = DatasetProcessRule.objects.filter(dataset=dataset).order_by("-created_at").first()
    if latest is not None:
        return latest
    return DatasetProcessRule.objects.create(
        tenant_id=dataset.tenant_id,
        dataset=dataset,
        mode="automatic",
        rules=dict(split.AUTOMATIC_RULES),
        created_by=account_id,
    )


def upload_for_dataset(
    *, dataset: Dataset, content: IO[bytes], filename: str, size: int, mime_type: str | None, account_id: Any
) -> Any:
    """Store an uploaded file for a document: Dify's limits (413), only extractable types (415)."""
    from files.services import file_upload

    return file_upload(
        tenant=dataset.tenant,
        content=content,
        filename=filename,
        size=size,
        mime_type=mime_type,
        created_by_role="account",
        created_by=account_id,
        allowed_extensions=SUPPORTED_EXTENSIONS,
    )


def _check_doc_form(dataset: Dataset, doc_form: str) -> None:
    if doc_form not in DOC_FORMS:
        raise errors.InvalidParam(
            f"doc_form {doc_form} is not supported (text_model, hierarchical_model or qa_model).",
            params="doc_form",
        )
    existing = Document.objects.filter(dataset=dataset).values_list("doc_form", flat=True).first()
    if existing and existing != doc_form:
        raise errors.InvalidParam("doc_form is different from the dataset doc_form.", params="doc_form")


@transaction.atomic
def document_create(
    *,
    dataset: Dataset,
    account_id: Any,
    name: str,
    text: str | None = None,
    upload_file: Any = None,
    process_rule: dict[str, Any] | None = None,
    indexing_technique: str | None = None,
    doc_form: str = DocForm.TEXT,
    doc_language: str = "English",
    retrieval_model: dict[str, Any] | None = None,
    embedding_model: str | None = None,
    embedding_model_provider: str | None = None,
    created_from: str = "api",
    url: str | None = None,
) -> tuple[Document, str]:
    """A new document (``waiting``) and its batch id; indexing starts when the transaction commits.
    `url`: a web page, fetched by the indexing run through the guarded client (Dify's ``website_crawl``
    source)."""
    if text is None and upload_file is None and not url:
        raise errors.InvalidParam("Both 'text' and 'name' must be non-null values.")
    if url:
        from urllib.parse import urlparse

        if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
            raise errors.InvalidParam("The URL must start with http:// or https://.", params="url")
    dataset = Dataset.objects.select_for_update().get(id=dataset.id)
    _check_doc_form(dataset, doc_form)
    _prepare_dataset(
        dataset,
        indexing_technique=indexing_technique,
        embedding_model=embedding_model,
        embedding_model_provider=embedding_model_provider,
        retrieval_model=retrieval_model,
    )
    rule = _rule_for(dataset, process_rule, account_id)
    position = (Document.objects.filter(dataset=dataset).aggregate(m=Max("position"))["m"] or 0) + 1
    info = {"upload_file_id": str(upload_file.id)} if upload_file is not None else None
    if url:
        info = {"url": url, "provider": "url", "job_id": None, "only_main_content": True, "mode": "single"}
    batch = new_batch()
    document = Document.objects.create(
        tenant_id=dataset.tenant_id,
        dataset=dataset,
        position=position,
        data_source_type="website_crawl" if url else "upload_file",
        data_source_info=info,
        upload_file=upload_file,
        dataset_process_rule=rule,
        batch=batch,
        name=name[:255],
        created_from=created_from,
        created_by=account_id,
        doc_form=doc_form,
        doc_language=doc_language,
        text=text,
    )
    _enqueue_index(document.id)
    return document, batch


@transaction.atomic
def document_update(
    *,
    document: Document,
    account_id: Any,
    name: str | None = None,
    text: str | None = None,
    upload_file: Any = None,
    process_rule: dict[str, Any] | None = None,
    retrieval_model: dict[str, Any] | None = None,
) -> Document:
    """Rename and/or replace the content or rule of a document; new content or rule re-indexes it."""
    if document.archived:
        raise errors.ArchivedDocumentImmutable()
    if document.display_status not in ("available", "disabled", "error"):
        raise errors.InvalidParam("Document is not available")
    dataset = document.dataset
    if retrieval_model is not None:
        dataset.retrieval_model = validate_retrieval_model(retrieval_model)
        dataset.save(update_fields=["retrieval_model", "updated_at"])
    if name:
        document.name = name[:255]
    reindex = False
    if text is not None:
        document.text, document.upload_file = text, None
        document.data_source_info = None
        reindex = True
    elif upload_file is not None:
        document.text, document.upload_file = None, upload_file
        document.data_source_info = {"upload_file_id": str(upload_file.id)}
        reindex = True
    if process_rule is not None:
        document.dataset_process_rule = _rule_for(dataset, process_rule, account_id)
        reindex = True
    if reindex:
        document.indexing_status = IndexingStatus.WAITING
        document.error = None
        document.stopped_at = document.completed_at = None
        document.processing_started_at = document.parsing_completed_at = None
        document.cleaning_completed_at = document.splitting_completed_at = None
        _enqueue_index(document.id)
    document.save()
    return document


def document_rename(*, document: Document, name: str) -> Document:
    if document.archived:
        raise errors.ArchivedDocumentImmutable()
    document.name = name[:255]
    document.save(update_fields=["name", "updated_at"])
    return document


@transaction.atomic
def document_delete(*, document: Document) -> None:
    """Delete a document, its segments and its index nodes. 403 if archived, 400 while it indexes."""
    if document.archived:
        raise errors.ArchivedDocumentImmutable()
    if document.indexing_status in RUNNING and not document.is_paused:
        raise errors.DocumentIndexing("Cannot delete document during indexing.")
    remove_document_nodes([document.id])
    document.delete()


def document_status_batch(*, dataset: Dataset, document_ids: list[Any], action: str, account_id: Any) -> None:
    """Dify's batch status actions: enable, disable, archive, un_archive."""
    if action not in ("enable", "disable", "archive", "un_archive"):
        raise errors.InvalidAction(f"Invalid action: {action}")
    if not isinstance(document_ids, list):
        raise errors.InvalidParam("document_ids must be a list.", params="document_ids")
    from knowledge.selectors import document_get
    from knowledge.tasks import rebuild_document_nodes

    documents = [document_get(dataset=dataset, document_id=d) for d in document_ids]
    now = timezone.now()
    with transaction.atomic():
        for document in documents:
            if action == "enable" and not document.enabled:
                document.enabled, document.disabled_at, document.disabled_by = True, None, None
                document.save()
                if not document.archived:
                    transaction.on_commit(lambda d=document.id: rebuild_document_nodes.delay(str(d)))
            elif action == "disable" and document.enabled:
                if document.indexing_status != IndexingStatus.COMPLETED:
                    raise errors.InvalidAction(f"Document: {document.name} is not completed.")
                document.enabled, document.disabled_at, document.disabled_by = False, now, account_id
                document.save()
                remove_document_nodes([document.id])
            elif action == "archive" and not document.archived:
                document.archived, document.archived_at, document.archived_by = True, now, account_id
                document.archived_reason = "rule_modified"
                document.save()
                remove_document_nodes([document.id])
            elif action == "un_archive" and document.archived:
                document.archived, document.archived_at, document.archived_by = False, None, None
                document.save()
                if document.enabled:
                    transaction.on_commit(lambda d=document.id: rebuild_document_nodes.delay(str(d)))


def document_pause(*, document: Document, account_id: Any) -> None:
    if document.indexing_status not in (IndexingStatus.WAITING, *RUNNING):
        raise errors.InvalidAction("Document is not indexing.")
    Document.objects.filter(id=document.id).update(
        is_paused=True, paused_by=account_id, paused_at=timezone.now()
    )


def document_resume(*, document: Document) -> None:
    """Resume a paused document: it is indexed again from the start (segments are replaced)."""
    Document.objects.filter(id=document.id).update(
        is_paused=False, paused_by=None, paused_at=None, indexing_status=IndexingStatus.WAITING
    )
    transaction.on_commit(lambda: _enqueue_now(document.id))


def document_retry(*, documents: list[Document]) -> None:
    """Retry documents whose indexing failed (or stalled)."""
    for document in documents:
        if document.indexing_status == IndexingStatus.COMPLETED:
            continue
        Document.objects.filter(id=document.id).update(
            indexing_status=IndexingStatus.WAITING, error=None, stopped_at=None, is_paused=False
        )
        _enqueue_index(document.id)


def _enqueue_now(document_id: Any) -> None:
    from knowledge.tasks import index_document

    index_document.delay(str(document_id))
