"""Pagination in Dify's shapes: page-based ``{page, limit, total, has_more, data}`` and cursor-style lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)


def paginate(
    queryset: QuerySet | Sequence[Any],
    *,
    page: int,
    limit: int,
    render: Callable[[list[Any]], list[Any]],
) -> dict[str, Any]:
    """Slice one page and describe it the way Dify's list endpoints do.

    ``render`` turns the page's rows into output dicts; it gets the whole page at once so it can batch
    related lookups (a fixed number of queries whatever the page size).
    """
    total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
    offset = (page - 1) * limit
    # A page past the end is empty without asking the database: an offset beyond its integer range (a
    # query parameter with no upper bound) would otherwise fail there as a 500.
    rows = list(queryset[offset : offset + limit]) if offset < total else []
    return {
        "page": page,
        "limit": limit,
        "total": total,
        "has_more": offset + len(rows) < total,
        "data": render(rows),
    }
