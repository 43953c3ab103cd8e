"""Shared view plumbing of the knowledge APIs (Service API with dataset keys, console): loading the
document settings of a request, the uploaded file, and the create/update calls both APIs make."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from knowledge import exceptions as errors
from knowledge import presenters, selectors
from knowledge.models import Dataset, Document
from knowledge.serializers import DocumentSettingsIn
from knowledge.services import documents as document_services

DATASET_ID = OpenApiParameter("dataset_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
DOCUMENT_ID = OpenApiParameter("document_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
SEGMENT_ID = OpenApiParameter("segment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
CHILD_CHUNK_ID = OpenApiParameter("child_chunk_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
METADATA_ID = OpenApiParameter("metadata_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
BATCH = OpenApiParameter("batch", OpenApiTypes.STR, OpenApiParameter.PATH)
ACTION = OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH)


def file_settings(request: Request) -> dict[str, Any]:
    """The ``data`` form field of a file upload: a JSON object of document settings."""
    raw = request.data.get("data") if hasattr(request.data, "get") else None
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise errors.InvalidParam("data must be a JSON object.", params="data") from None
    if not isinstance(value, dict):
        raise errors.InvalidParam("data must be a JSON object.", params="data")
    serializer = DocumentSettingsIn(data=value)
    serializer.is_valid(raise_exception=True)
    return {**value, **serializer.validated_data}


def uploaded_file(request: Request, *, required: bool) -> Any:
    files = request.FILES
    if len(files) > 1 or len(files.getlist("file")) > 1:
        raise errors.TooManyFiles()
    upload = files.get("file")
    if upload is None and required:
        raise errors.NoFileUploaded()
    return upload


def store_upload(dataset: Dataset, upload: Any, account_id: Any) -> Any:
    return document_services.upload_for_dataset(
        dataset=dataset,
        content=upload,
        filename=upload.name or "",
        size=upload.size,
        mime_type=upload.content_type,
        account_id=account_id,
    )


def create_document(
    *,
    dataset: Dataset,
    account_id: Any,
    settings: dict[str, Any],
    name: str,
    text: str | None = None,
    upload: Any = None,
    created_from: str = "api",
) -> dict[str, Any]:
    """Create (or, with ``original_document_id``, update) a document; Dify's ``{document, batch}``."""
    original = settings.get("original_document_id")
    if original:
        document = selectors.document_get(dataset=dataset, document_id=original)
        document = document_services.document_update(
            document=document,
            account_id=account_id,
            name=name,
            text=text,
            upload_file=upload,
            process_rule=settings.get("process_rule"),
            retrieval_model=settings.get("retrieval_model"),
        )
        return {"document": presenters.document(document), "batch": document.batch}
    document, batch = document_services.document_create(
        dataset=dataset,
        account_id=account_id,
        name=name,
        text=text,
        upload_file=upload,
        process_rule=settings.get("process_rule"),
        indexing_technique=settings.get("indexing_technique"),
        doc_form=settings.get("doc_form") or "text_model",
        doc_language=settings.get("doc_language") or "English",
        retrieval_model=settings.get("retrieval_model"),
        embedding_model=settings.get("embedding_model"),
        embedding_model_provider=settings.get("embedding_model_provider"),
        created_from=created_from,
    )
    return {"document": presenters.document(document), "batch": batch}


def update_document(
    *,
    document: Document,
    account_id: Any,
    settings: dict[str, Any],
    name: str | None,
    text: str | None = None,
    upload: Any = None,
) -> dict[str, Any]:
    document = document_services.document_update(
        document=document,
        account_id=account_id,
        name=name,
        text=text,
        upload_file=upload,
        process_rule=settings.get("process_rule"),
        retrieval_model=settings.get("retrieval_model"),
    )
    return {"document": presenters.document(document), "batch": document.batch}
