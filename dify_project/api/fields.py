"""Small output helpers shared by serializers: Dify's field conventions."""

from __future__ import annotations

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


def timestamp(value: datetime | None) -> int | None:
    """Dify's TimestampField: Unix seconds, or None."""
    return int(value.timestamp()) if value else None


@extend_schema_field(OpenApiTypes.INT)
class TimestampField(serializers.Field):
    """A read-only datetime rendered as Unix seconds, as Dify's APIs do."""

    def __init__(self, **kwargs: object) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: datetime | None) -> int | None:
        return timestamp(value)


class ResultOut(serializers.Serializer):
    """Dify's ``{"result": "success"}`` body."""

    result = serializers.CharField(default="success")
