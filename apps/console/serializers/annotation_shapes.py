"""Console annotations: CRUD, replies, settings, hits, export and import jobs."""

from __future__ import annotations

from rest_framework import serializers

from apps.console.serializers.shared import (
    ConsolePageOut,
    TimestampOut,
    _json,
)

# --- annotations ----------------------------------------------------------------------------------------------


class ConsoleAnnotationIn(serializers.Serializer):
    question = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=65535)
    answer = serializers.CharField(max_length=65535, trim_whitespace=False)
    message_id = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)


class ConsoleAnnotationUpdateIn(serializers.Serializer):
    question = serializers.CharField(max_length=65535)
    answer = serializers.CharField(max_length=65535, trim_whitespace=False)


class ConsoleAnnotationOut(serializers.Serializer):
    id = serializers.UUIDField()
    question = serializers.CharField(allow_blank=True)
    answer = serializers.CharField()
    hit_count = serializers.IntegerField()
    created_at = TimestampOut()


class ConsoleAnnotationListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ConsoleAnnotationPageOut(ConsolePageOut):
    data = ConsoleAnnotationOut(many=True)


class ConsoleAnnotationExportOut(serializers.Serializer):
    data = ConsoleAnnotationOut(many=True)


class ConsoleAnnotationHitOut(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.CharField()
    score = serializers.FloatField()
    question = serializers.CharField(allow_blank=True)
    created_at = TimestampOut()
    match = serializers.CharField(allow_blank=True)
    response = serializers.CharField(allow_blank=True)


class ConsoleAnnotationHitPageOut(ConsolePageOut):
    data = ConsoleAnnotationHitOut(many=True)


class ConsoleAnnotationReplyIn(serializers.Serializer):
    score_threshold = serializers.FloatField(min_value=0, max_value=1)
    embedding_provider_name = serializers.CharField(max_length=255)
    embedding_model_name = serializers.CharField(max_length=255)


class ConsoleAnnotationSettingIn(serializers.Serializer):
    score_threshold = serializers.FloatField(min_value=0, max_value=1)


class ConsoleJobOut(serializers.Serializer):
    job_id = serializers.UUIDField()
    job_status = serializers.CharField()
    error_msg = serializers.CharField(required=False, allow_blank=True)
    record_count = serializers.IntegerField(required=False)


class ConsoleAnnotationSettingOut(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    enabled = serializers.BooleanField()
    score_threshold = serializers.FloatField(required=False)
    embedding_model = _json(required=False)


class ConsoleAnnotationCountOut(serializers.Serializer):
    count = serializers.IntegerField()


class ConsoleAnnotationUploadIn(serializers.Serializer):
    file = serializers.FileField(help_text="CSV: a header row, then question,answer rows (UTF-8).")
