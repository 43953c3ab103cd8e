"""Input serializers shared by the Service API and the console (validation only; no logic here)."""

from __future__ import annotations

from rest_framework import serializers

from knowledge.retrieval.metadata import OPERATORS

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


SEARCH_METHODS = ("semantic_search", "full_text_search", "hybrid_search", "keyword_search")


class RerankingModelIn(serializers.Serializer):
    reranking_provider_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    reranking_model_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class VectorSettingIn(serializers.Serializer):
    vector_weight = serializers.FloatField(min_value=0, max_value=1)
    embedding_provider_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    embedding_model_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class KeywordSettingIn(serializers.Serializer):
    keyword_weight = serializers.FloatField(min_value=0, max_value=1)


class WeightsIn(serializers.Serializer):
    """Dify's WeightModel: the weighted-score reranker's two halves."""

    weight_type = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    vector_setting = VectorSettingIn(required=False, allow_null=True)
    keyword_setting = KeywordSettingIn(required=False, allow_null=True)


class ConditionIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    comparison_operator = serializers.ChoiceField(OPERATORS)
    value = serializers.JSONField(required=False, allow_null=True)


class MetadataFilteringIn(serializers.Serializer):
    logical_operator = serializers.ChoiceField(("and", "or"), required=False, default="and")
    conditions = ConditionIn(many=True, required=False, allow_null=True)


class RetrievalModelIn(serializers.Serializer):
    """Dify's RetrievalModel (a dataset's ``retrieval_model``, or a retrieve request's)."""

    search_method = serializers.ChoiceField(SEARCH_METHODS, required=False, default="semantic_search")
    reranking_enable = serializers.BooleanField(required=False, default=False)
    reranking_mode = serializers.ChoiceField(
        ("reranking_model", "weighted_score"), required=False, allow_null=True, allow_blank=True
    )
    reranking_model = RerankingModelIn(required=False, allow_null=True)
    weights = WeightsIn(required=False, allow_null=True)
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=100)
    score_threshold_enabled = serializers.BooleanField(required=False, default=False)
    score_threshold = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    metadata_filtering_conditions = MetadataFilteringIn(required=False, allow_null=True)


class ExternalRetrievalModelIn(serializers.Serializer):
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=100, default=2)
    score_threshold = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    score_threshold_enabled = serializers.BooleanField(required=False, default=False)


class HitTestingIn(serializers.Serializer):
    query = serializers.CharField(
        max_length=250,
        trim_whitespace=False,
        error_messages={
            "max_length": "Query cannot exceed 250 characters",
            "blank": "Query or attachment_ids is required",
        },
    )
    retrieval_model = RetrievalModelIn(required=False, allow_null=True)
    external_retrieval_model = ExternalRetrievalModelIn(required=False, allow_null=True)
    attachment_ids = serializers.ListField(required=False, allow_null=True)
    # The console's external-hit-testing (and a retrieve on an external dataset) take them here.
    metadata_filtering_conditions = MetadataFilteringIn(required=False, allow_null=True)


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
