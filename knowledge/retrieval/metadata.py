"""Metadata filtering: Dify's condition operators, evaluated by the database, then by the store.

A filter is Dify's ``{"logical_operator": "and"|"or", "conditions": [{"name", "comparison_operator",
"value"}]}`` over document metadata (and the built-in fields when a dataset enables them). It is compiled
to one SQL query over the datasets' documents (JSON key lookups; no document is loaded into Python), whose
ids then restrict the search inside the store (the sqlite-vec matrix's mask, vec0/FTS5 ``IN``, pgvector
``ANY``, Qdrant's payload filter), before ``top_k`` is taken, as Dify passes ``document_ids_filter``.

Operators (Dify's): contains, not contains, start with, end with, is, is not, empty, not empty, in,
not in (strings); =, ≠, >, <, ≥, ≤ (numbers); before, after (times, as Unix timestamps). A value that is
missing or empty matches only "empty", "not empty" (negated), "not contains", "is not", "≠" and "not in",
as before. Numbers compare numerically: a stored "12" equals 12; a stored "n/a" never compares.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db.models import Case, F, FloatField, Q, TextField, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from knowledge.models import Dataset, Document, IndexingStatus

STRING_OPERATORS = ("contains", "not contains", "start with", "end with", "is", "is not")
NUMBER_OPERATORS = {
    "=": "exact",
    "≠": "ne",
    "!=": "ne",
    ">": "gt",
    "<": "lt",
    "≥": "gte",
    ">=": "gte",
    "≤": "lte",
    "<=": "lte",
    "before": "lt",
    "after": "gt",
}
NEGATED = ("not contains", "is not", "≠", "!=", "not in")
OPERATORS = (*STRING_OPERATORS, "empty", "not empty", "in", "not in", *NUMBER_OPERATORS)
_NUMERIC = r"^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$"
# Built-in fields (when a dataset enables them) and the document columns they read.
BUILT_IN_COLUMNS = {
    "document_name": "name",
    "uploader": "created_by",
    "upload_date": "created_at",
    "last_update_date": "updated_at",
    "source": "data_source_type",
}


def _as_number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(name: str) -> Any:
    # CAST to text: SQLite's JSON_EXTRACT gives a stored 2019 back as an integer, never equal to '2019'.
    return Cast(KeyTextTransform(name, "doc_metadata"), TextField())


def _empty(field: str) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{field: ""}) | Q(**{field: "[]"})


def _value_condition(field: str, operator: str, expected: Any, *, number_field: str) -> Q:
    """The condition on one annotated text value (`field`) and its numeric twin (`number_field`)."""
    empty = _empty(field)
    if operator == "empty":
        return empty
    if operator == "not empty":
        return ~empty
    if operator in STRING_OPERATORS:
        wanted = "" if expected is None else str(expected)
        lookup = {
            "contains": "contains",
            "not contains": "contains",
            "start with": "startswith",
            "end with": "endswith",
            "is": "exact",
            "is not": "exact",
        }[operator]
        matched = Q(**{f"{field}__{lookup}": wanted})
        return empty | ~matched if operator in NEGATED else ~empty & matched
    if operator in ("in", "not in"):
        options = (
            expected if isinstance(expected, list) else [v.strip() for v in str(expected or "").split(",")]
        )
        matched = Q(**{f"{field}__in": [str(o) for o in options]})
        return empty | ~matched if operator == "not in" else ~empty & matched
    lookup = NUMBER_OPERATORS.get(operator)
    wanted_number = _as_number(expected)
    if lookup is None or wanted_number is None:
        return Q(pk__in=[])  # an unknown operator or a value that is not a number matches nothing
    numeric = Q(**{f"{number_field}__isnull": False})
    if lookup == "ne":
        return empty | (numeric & ~Q(**{number_field: wanted_number}))
    return ~empty & numeric & Q(**{f"{number_field}__{lookup}": wanted_number})


def _built_in_condition(name: str, operator: str, expected: Any) -> Q:
    """A condition on a built-in field, on the document's own column."""
    column = BUILT_IN_COLUMNS[name]
    if column in ("created_at", "updated_at"):
        if operator == "empty":
            return Q(pk__in=[])
        if operator == "not empty":
            return Q()
        lookup, seconds = NUMBER_OPERATORS.get(operator), _as_number(expected)
        if lookup is None or seconds is None:
            return Q(pk__in=[])
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        if lookup == "exact":  # timestamps are whole seconds; a row has microseconds
            return Q(**{f"{column}__gte": moment, f"{column}__lt": moment + dt.timedelta(seconds=1)})
        if lookup == "ne":
            return ~Q(**{f"{column}__gte": moment, f"{column}__lt": moment + dt.timedelta(seconds=1)})
        return Q(**{f"{column}__{lookup}": moment})
    if column == "created_by":
        import uuid

        if operator in ("empty", "not empty"):
            return Q(created_by__isnull=operator == "empty")
        try:
            account = uuid.UUID(str(expected))
        except ValueError:
            return Q() if operator in NEGATED else Q(pk__in=[])
        if operator in ("is", "=", "contains", "start with", "end with"):
            return Q(created_by=account)
        return Q(created_by__isnull=True) | ~Q(created_by=account)
    return _value_condition(column, operator, expected, number_field=column)


def _condition(
    index: int, condition: dict[str, Any], built_in_datasets: list[Any]
) -> tuple[dict[str, Any], Q]:
    """(annotations, Q) for one condition; built-in names read their column in datasets that enable them
    (unless the document's metadata has a value of that name, which wins)."""
    name = str(condition["name"])
    operator = str(condition.get("comparison_operator") or "is")
    expected = condition.get("value")
    text, number = f"_m{index}", f"_m{index}n"
    annotations = {
        text: _text(name),
        number: Case(
            When(**{f"{text}__regex": _NUMERIC}, then=Cast(F(text), FloatField())),
            default=Value(None, output_field=FloatField()),
        ),
    }
    if operator not in OPERATORS:
        return annotations, Q(pk__in=[])
    on_metadata = _value_condition(text, operator, expected, number_field=number)
    if name not in BUILT_IN_COLUMNS or not built_in_datasets:
        return annotations, on_metadata
    built_in = Q(dataset_id__in=built_in_datasets) & Q(**{f"{text}__isnull": True})
    return annotations, (built_in & _built_in_condition(name, operator, expected)) | (~built_in & on_metadata)


def filter_q(
    datasets: Sequence[Dataset], filtering: dict[str, Any] | None
) -> tuple[dict[str, Any], Q] | None:
    """The annotations and the Q that select the documents a filter keeps; None when not filtering."""
    if not filtering:
        return None
    conditions = [c for c in filtering.get("conditions") or [] if isinstance(c, dict) and c.get("name")]
    if not conditions:
        return None
    combine_or = str(filtering.get("logical_operator", "and")).lower() == "or"
    built_in = [d.id for d in datasets if d.built_in_field_enabled]
    annotations: dict[str, Any] = {}
    combined: Q | None = None
    for index, condition in enumerate(conditions):
        more, q = _condition(index, condition, built_in)
        annotations.update(more)
        combined = q if combined is None else (combined | q if combine_or else combined & q)
    return annotations, combined or Q()


def documents_matching(
    datasets: Sequence[Dataset], filtering: dict[str, Any] | None
) -> dict[str, list[str]] | None:
    """Per dataset, the ids of available documents (completed, enabled, not archived) whose metadata
    meet the conditions, found by one SQL query; None when not filtering."""
    compiled = filter_q(datasets, filtering)
    if compiled is None:
        return None
    annotations, q = compiled
    matched: dict[str, list[str]] = {str(d.id): [] for d in datasets}
    rows = (
        Document.objects.filter(
            dataset_id__in=[d.id for d in datasets],
            indexing_status=IndexingStatus.COMPLETED,
            enabled=True,
            archived=False,
        )
        .annotate(**annotations)
        .filter(q)
        .values_list("dataset_id", "id")
    )
    for dataset_id, document_id in rows:
        matched[str(dataset_id)].append(str(document_id))
    return matched


_AUTOMATIC_PROMPT = (
    "You turn a question into filters over document metadata. The metadata fields are: {fields}. "
    "Answer with JSON only, no prose: "
    '{{"metadata_map": [{{"metadata_field_name": "<a field above>", "metadata_field_value": "<value>", '
    '"comparison_operator": "<one of: {operators}>"}}]}}. '
    "Use only fields the question is clearly about; none applies: an empty list."
)


def _metadata_field_names(datasets: Sequence[Dataset]) -> list[str]:
    from knowledge.models import DatasetMetadata

    names = DatasetMetadata.objects.filter(dataset__in=list(datasets)).values_list("name", flat=True)
    return sorted(set(names))


def _json_object(text: str) -> Any:
    """The first JSON object in a model's answer (which may wrap it in a Markdown fence or prose)."""
    import json

    start = text.find("{")
    while start != -1:
        try:
            return json.JSONDecoder().raw_decode(text[start:])[0]
        except ValueError:
            start = text.find("{", start + 1)
    return None


async def automatic_conditions(
    *, tenant_id: str, datasets: Sequence[Dataset], query: str, model: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Dify's automatic metadata filtering: the model (``{"provider", "name", "completion_params"}``)
    reads the query and the datasets' metadata field names and answers ``{"metadata_map": [...]}``;
    conditions on fields the datasets have, OR-ed (Dify's default). A model that fails or answers no
    usable condition: no filter (the search runs unfiltered, as in Dify)."""
    import logging

    from dify_project.db import db_sync_to_async

    if not model or not model.get("provider") or not model.get("name"):
        return None
    fields = await db_sync_to_async(_metadata_field_names)([d for d in datasets if d.provider != "external"])
    if not fields:
        return None
    from providers.services.invocation import llm_invoke

    prompt = _AUTOMATIC_PROMPT.format(fields=", ".join(fields), operators=", ".join(OPERATORS))
    try:
        result = await llm_invoke(
            tenant_id=tenant_id,
            provider=str(model["provider"]),
            model=str(model["name"]),
            messages=[{"role": "system", "content": prompt}, {"role": "user", "content": query}],
            parameters=dict(model.get("completion_params") or {}),
        )
    except Exception:
        logging.getLogger(__name__).warning("Automatic metadata filtering failed; unfiltered", exc_info=True)
        return None
    answer = _json_object(getattr(result, "text", "") or "")
    items = answer.get("metadata_map") if isinstance(answer, dict) else None
    conditions = [
        {
            "name": item["metadata_field_name"],
            "comparison_operator": item.get("comparison_operator") or "is",
            "value": item.get("metadata_field_value"),
        }
        for item in items or []
        if isinstance(item, dict) and item.get("metadata_field_name") in fields
    ]
    return {"logical_operator": "or", "conditions": conditions} if conditions else None
