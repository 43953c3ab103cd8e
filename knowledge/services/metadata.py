"""Dataset metadata fields (string, number, time), their values on documents, and Dify's built-ins."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from knowledge import exceptions as errors
from knowledge.models import Dataset, DatasetMetadata, DatasetMetadataBinding, Document, MetadataType

BUILT_IN_FIELDS = [
    {"name": "document_name", "type": "string"},
    {"name": "uploader", "type": "string"},
    {"name": "upload_date", "type": "time"},
    {"name": "last_update_date", "type": "time"},
    {"name": "source", "type": "string"},
]
_BUILT_IN_NAMES = {f["name"] for f in BUILT_IN_FIELDS}


def _check_name(dataset: Dataset, name: Any, *, exclude: Any = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise errors.InvalidParam("Metadata name cannot be empty.", params="name")
    if len(name) > 255:
        raise errors.InvalidParam("Metadata name cannot exceed 255 characters.", params="name")
    if name in _BUILT_IN_NAMES:
        raise errors.InvalidParam("Metadata name already exists in Built-in fields.", params="name")
    clash = DatasetMetadata.objects.filter(dataset=dataset, name=name)
    if exclude is not None:
        clash = clash.exclude(id=exclude)
    if clash.exists():
        raise errors.InvalidParam("Metadata name already exists.", params="name")
    return name


def metadata_create(*, dataset: Dataset, name: str, type: str, account_id: Any) -> DatasetMetadata:
    if type not in MetadataType.values:
        raise errors.InvalidParam("Metadata type must be string, number or time.", params="type")
    name = _check_name(dataset, name)
    try:
        return DatasetMetadata.objects.create(
            tenant_id=dataset.tenant_id, dataset=dataset, name=name, type=type, created_by=account_id
        )
    except IntegrityError:
        raise errors.InvalidParam("Metadata name already exists.", params="name") from None


@transaction.atomic
def metadata_rename(*, field: DatasetMetadata, name: str) -> DatasetMetadata:
    old = field.name
    field.name = _check_name(field.dataset, name, exclude=field.id)
    field.save()
    for document in Document.objects.filter(id__in=field.bindings.values("document_id")).select_for_update():
        values = dict(document.doc_metadata or {})
        if old in values:
            values[name] = values.pop(old)
            document.doc_metadata = values
            document.save(update_fields=["doc_metadata", "updated_at"])
    return field


@transaction.atomic
def metadata_delete(*, field: DatasetMetadata) -> None:
    for document in Document.objects.filter(id__in=field.bindings.values("document_id")).select_for_update():
        values = dict(document.doc_metadata or {})
        if values.pop(field.name, None) is not None or field.name in (document.doc_metadata or {}):
            document.doc_metadata = values
            document.save(update_fields=["doc_metadata", "updated_at"])
    field.delete()


def built_in_toggle(*, dataset: Dataset, enabled: bool) -> None:
    dataset.built_in_field_enabled = enabled
    dataset.save(update_fields=["built_in_field_enabled", "updated_at"])


@transaction.atomic
def documents_metadata_update(*, dataset: Dataset, operations: Any) -> None:
    """``operation_data``: per document, the full list of values (or a partial update) to bind."""
    if not isinstance(operations, list):
        raise errors.InvalidParam("operation_data must be a list.", params="operation_data")
    from knowledge.selectors import document_get

    fields = {str(f.id): f for f in DatasetMetadata.objects.filter(dataset=dataset)}
    for operation in operations:
        if not isinstance(operation, dict):
            raise errors.InvalidParam("operation_data items must be objects.", params="operation_data")
        document = document_get(dataset=dataset, document_id=operation.get("document_id"))
        partial = bool(operation.get("partial_update"))
        values = dict(document.doc_metadata or {}) if partial else {}
        bound: list[DatasetMetadata] = []
        for item in operation.get("metadata_list") or []:
            field = fields.get(str(item.get("id"))) if isinstance(item, dict) else None
            if field is None:
                raise errors.InvalidMetadata("Metadata not found.")
            values[field.name] = item.get("value")
            bound.append(field)
        if not partial:
            DatasetMetadataBinding.objects.filter(document=document).delete()
        for field in bound:
            DatasetMetadataBinding.objects.get_or_create(
                tenant_id=dataset.tenant_id, dataset=dataset, metadata=field, document=document
            )
        document.doc_metadata = values
        document.save(update_fields=["doc_metadata", "updated_at"])
