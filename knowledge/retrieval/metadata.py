"""Metadata filtering: Dify's condition operators over document metadata and built-in fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dify_project.api.fields import timestamp
from knowledge.models import (
    Dataset,
    Document,
)

# --- metadata filtering ---------------------------------------------------------------------------------


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def condition_matches(actual: Any, operator: str, expected: Any) -> bool:
    """Dify's comparison operators on one metadata value."""
    empty = actual is None or actual == "" or actual == []
    if operator == "empty":
        return empty
    if operator == "not empty":
        return not empty
    if empty:
        return operator in ("not contains", "is not", "≠", "!=", "not in")
    if operator in ("contains", "not contains", "start with", "end with", "is", "is not"):
        text, wanted = str(actual), "" if expected is None else str(expected)
        return {
            "contains": wanted in text,
            "not contains": wanted not in text,
            "start with": text.startswith(wanted),
            "end with": text.endswith(wanted),
            "is": text == wanted,
            "is not": text != wanted,
        }[operator]
    if operator in ("in", "not in"):
        options = (
            expected if isinstance(expected, list) else [v.strip() for v in str(expected or "").split(",")]
        )
        found = str(actual) in [str(o) for o in options]
        return found if operator == "in" else not found
    a, b = _as_number(actual), _as_number(expected)
    if a is None or b is None:
        return False
    return {
        "=": a == b,
        "≠": a != b,
        "!=": a != b,
        ">": a > b,
        "<": a < b,
        "≥": a >= b,
        ">=": a >= b,
        "≤": a <= b,
        "<=": a <= b,
        "before": a < b,
        "after": a > b,
    }.get(operator, False)


def _built_ins(document: Document, dataset: Dataset) -> dict[str, Any]:
    return {
        "document_name": document.name,
        "uploader": str(document.created_by) if document.created_by else None,
        "upload_date": timestamp(document.created_at),
        "last_update_date": timestamp(document.updated_at),
        "source": document.data_source_type,
    }


def documents_matching(
    datasets: Sequence[Dataset], filtering: dict[str, Any] | None
) -> dict[str, list[str]] | None:
    """Per dataset, the ids of documents whose metadata meet manual conditions; None when not filtering.
    ``{"logical_operator": "and"|"or", "conditions": [{"name", "comparison_operator", "value"}]}``."""
    if not filtering:
        return None
    conditions = [c for c in filtering.get("conditions") or [] if isinstance(c, dict) and c.get("name")]
    if not conditions:
        return None
    combine = any if str(filtering.get("logical_operator", "and")).lower() == "or" else all
    by_id = {d.id: d for d in datasets}
    matched: dict[str, list[str]] = {str(d.id): [] for d in datasets}
    documents = Document.objects.filter(dataset_id__in=list(by_id)).only(
        "id",
        "dataset_id",
        "name",
        "doc_metadata",
        "created_by",
        "created_at",
        "updated_at",
        "data_source_type",
    )
    for document in documents:
        dataset = by_id[document.dataset_id]
        values = dict(document.doc_metadata or {})
        if dataset.built_in_field_enabled:
            values = {**_built_ins(document, dataset), **values}
        if combine(
            condition_matches(
                values.get(c["name"]), str(c.get("comparison_operator") or "is"), c.get("value")
            )
            for c in conditions
        ):
            matched[str(dataset.id)].append(str(document.id))
    return matched
