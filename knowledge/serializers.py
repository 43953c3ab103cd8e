"""Input serializers shared by the Service API and the console (validation only; no logic here)."""

from __future__ import annotations

from rest_framework import serializers

PERMISSIONS = ("only_me", "all_team_members", "partial_members")
TECHNIQUES = ("high_quality", "economy")


class DatasetCreateIn(serializers.Serializer):
    name = serializers.CharField(
        max_length=40,
        trim_whitespace=False,
        error_messages={
            "max_length": "Name must be between 1 to 40 characters.",
            "blank": "Name must be between 1 to 40 characters.",
        },
    )
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=400, default=""
    )
    indexing_technique = serializers.ChoiceField(TECHNIQUES, required=False, allow_null=True)
    permission = serializers.ChoiceField(PERMISSIONS, required=False, allow_null=True)
    provider = serializers.CharField(required=False, allow_null=True, default="vendor")
    embedding_model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    embedding_model_provider = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    retrieval_model = serializers.DictField(required=False, allow_null=True)
    external_knowledge_api_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    external_knowledge_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class DatasetUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=40, required=False, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=400)
    indexing_technique = serializers.ChoiceField(TECHNIQUES, required=False, allow_null=True)
    permission = serializers.ChoiceField(PERMISSIONS, required=False, allow_null=True)
    embedding_model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    embedding_model_provider = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    retrieval_model = serializers.DictField(required=False, allow_null=True)
    partial_member_list = serializers.ListField(required=False, allow_null=True)


class DocumentSettingsIn(serializers.Serializer):
    """The settings a document is created with (JSON body, or the ``data`` field of a file upload)."""

    process_rule = serializers.DictField(required=False, allow_null=True)
    indexing_technique = serializers.ChoiceField(TECHNIQUES, required=False, allow_null=True)
    doc_form = serializers.CharField(required=False, default="text_model")
    doc_language = serializers.CharField(required=False, default="English", allow_blank=True)
    retrieval_model = serializers.DictField(required=False, allow_null=True)
    embedding_model = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    embedding_model_provider = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    original_document_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class DocumentByTextIn(DocumentSettingsIn):
    name = serializers.CharField(max_length=255)
    text = serializers.CharField(trim_whitespace=False)


class DocumentUpdateByTextIn(DocumentSettingsIn):
    name = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    text = serializers.CharField(required=False, allow_null=True, trim_whitespace=False)


class DocumentByFileIn(serializers.Serializer):
    file = serializers.FileField(required=False)
    data = serializers.CharField(required=False, help_text="The document settings, a JSON string")


class DocumentIdsIn(serializers.Serializer):
    document_ids = serializers.ListField(child=serializers.CharField(), allow_empty=True)


class SegmentItemIn(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False)
    answer = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    keywords = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)


class SegmentsCreateIn(serializers.Serializer):
    segments = SegmentItemIn(many=True)


class SegmentUpdateFieldsIn(serializers.Serializer):
    content = serializers.CharField(required=False, trim_whitespace=False)
    answer = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    keywords = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)
    enabled = serializers.BooleanField(required=False, allow_null=True, default=None)
    regenerate_child_chunks = serializers.BooleanField(required=False, default=False)


class SegmentUpdateIn(serializers.Serializer):
    segment = SegmentUpdateFieldsIn()


class ChildChunkIn(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False)


class HitTestingIn(serializers.Serializer):
    query = serializers.CharField(
        max_length=250,
        trim_whitespace=False,
        error_messages={
            "max_length": "Query cannot exceed 250 characters",
            "blank": "Query or attachment_ids is required",
        },
    )
    retrieval_model = serializers.DictField(required=False, allow_null=True)
    external_retrieval_model = serializers.DictField(required=False, allow_null=True)
    attachment_ids = serializers.ListField(required=False, allow_null=True)


class MetadataIn(serializers.Serializer):
    type = serializers.ChoiceField(("string", "number", "time"))
    name = serializers.CharField(max_length=255)


class MetadataRenameIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)


class DocumentsMetadataIn(serializers.Serializer):
    operation_data = serializers.ListField(child=serializers.DictField())


class ListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, default="")


class DocumentListQuery(ListQuery):
    status = serializers.CharField(required=False, allow_blank=True, default="")


class SegmentListQuery(ListQuery):
    enabled = serializers.CharField(required=False, default="all")
