# ruff: noqa: DJ001 - Dify's API tells null from "" for these columns (error, answer, models...)
"""Knowledge bases ("datasets"), their documents, segments and child chunks, shaped like Dify's tables.

Beside Dify's rows there is one table of our own, ``IndexNode``: what is searchable. Each row is one unit
of retrieval (a segment, or a child chunk in parent-child mode) with its text and its vector (float32
bytes). It is the source of truth for both runtime modes; the stores in ``knowledge/index/`` add what
each database needs to search it fast (FTS5 / a GIN index for full text, sqlite-vec / pgvector for
vectors where available). A document's rows go when the document goes (cascade), so the index can never
outlive what it indexes.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import TenantScopedModel, TimestampedModel
from dify_project.crypto import EncryptedTextField

DEFAULT_RETRIEVAL_MODEL: dict[str, Any] = {
    "search_method": "semantic_search",
    "reranking_enable": False,
    "reranking_model": {"reranking_provider_name": "", "reranking_model_name": ""},
    "top_k": 2,
    "score_threshold_enabled": False,
}


class DatasetPermission(models.TextChoices):
    ONLY_ME = "only_me"
    ALL_TEAM = "all_team_members"
    PARTIAL_TEAM = "partial_members"


class IndexingTechnique(models.TextChoices):
    HIGH_QUALITY = "high_quality"
    ECONOMY = "economy"


class Dataset(TenantScopedModel):
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    provider = models.CharField(max_length=32, default="vendor")
    permission = models.CharField(max_length=32, choices=DatasetPermission.choices, default="only_me")
    data_source_type = models.CharField(max_length=32, null=True, blank=True)
    indexing_technique = models.CharField(
        max_length=32, choices=IndexingTechnique.choices, null=True, blank=True
    )
    index_struct = models.JSONField(null=True, blank=True)
    embedding_model = models.CharField(max_length=255, null=True, blank=True)
    embedding_model_provider = models.CharField(max_length=255, null=True, blank=True)
    retrieval_model = models.JSONField(null=True, blank=True)
    built_in_field_enabled = models.BooleanField(default=False)
    icon_info = models.JSONField(null=True, blank=True)
    enable_api = models.BooleanField(default=True)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_dataset_name")]
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def retrieval_model_dict(self) -> dict[str, Any]:
        return self.retrieval_model or dict(DEFAULT_RETRIEVAL_MODEL)


class ProcessRuleMode(models.TextChoices):
    AUTOMATIC = "automatic"
    CUSTOM = "custom"
    HIERARCHICAL = "hierarchical"


class DatasetProcessRule(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="process_rules")
    mode = models.CharField(max_length=32, choices=ProcessRuleMode.choices, default="automatic")
    rules = models.JSONField(null=True, blank=True)
    created_by = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.mode} rule of {self.dataset_id}"


class IndexingStatus(models.TextChoices):
    WAITING = "waiting"
    PARSING = "parsing"
    CLEANING = "cleaning"
    SPLITTING = "splitting"
    INDEXING = "indexing"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"


class DocForm(models.TextChoices):
    TEXT = "text_model"
    QA = "qa_model"
    HIERARCHICAL = "hierarchical_model"


class Document(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="documents")
    position = models.IntegerField(default=1)
    data_source_type = models.CharField(max_length=32, default="upload_file")
    data_source_info = models.JSONField(null=True, blank=True)
    upload_file = models.ForeignKey(
        "files.UploadFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dataset_process_rule = models.ForeignKey(
        DatasetProcessRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=255)
    created_from = models.CharField(max_length=32, default="web")
    created_by = models.UUIDField(null=True, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    word_count = models.IntegerField(default=0)
    parsing_completed_at = models.DateTimeField(null=True, blank=True)
    cleaning_completed_at = models.DateTimeField(null=True, blank=True)
    splitting_completed_at = models.DateTimeField(null=True, blank=True)
    tokens = models.IntegerField(default=0)
    indexing_latency = models.FloatField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    is_paused = models.BooleanField(default=False)
    paused_by = models.UUIDField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    indexing_status = models.CharField(
        max_length=32, choices=IndexingStatus.choices, default=IndexingStatus.WAITING
    )
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.UUIDField(null=True, blank=True)
    archived = models.BooleanField(default=False)
    archived_reason = models.CharField(max_length=255, null=True, blank=True)
    archived_by = models.UUIDField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    doc_type = models.CharField(max_length=64, null=True, blank=True)
    doc_metadata = models.JSONField(null=True, blank=True)
    doc_form = models.CharField(max_length=32, choices=DocForm.choices, default=DocForm.TEXT)
    doc_language = models.CharField(max_length=64, null=True, blank=True)
    # Raw text for documents created from text: kept here, not as a fake upload, so re-indexing needs
    # nothing but this row.
    text = models.TextField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["dataset", "created_at"]), models.Index(fields=["dataset", "batch"])]

    def __str__(self) -> str:
        return self.name

    @property
    def display_status(self) -> str | None:
        """Dify's display status, derived from the indexing status and the enabled/archived flags."""
        status = self.indexing_status
        if status == IndexingStatus.WAITING:
            return "queuing"
        if status not in (IndexingStatus.COMPLETED, IndexingStatus.ERROR) and self.is_paused:
            return "paused"
        if status in (
            IndexingStatus.PARSING,
            IndexingStatus.CLEANING,
            IndexingStatus.SPLITTING,
            IndexingStatus.INDEXING,
        ):
            return "indexing"
        if status == IndexingStatus.ERROR:
            return "error"
        if status == IndexingStatus.COMPLETED:
            if self.archived:
                return "archived"
            return "available" if self.enabled else "disabled"
        return None


class SegmentStatus(models.TextChoices):
    WAITING = "waiting"
    INDEXING = "indexing"
    COMPLETED = "completed"
    ERROR = "error"
    PAUSED = "paused"
    RE_SEGMENT = "re_segment"


class DocumentSegment(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="segments")
    position = models.IntegerField()
    content = models.TextField()
    answer = models.TextField(null=True, blank=True)
    word_count = models.IntegerField(default=0)
    tokens = models.IntegerField(default=0)
    keywords = models.JSONField(null=True, blank=True)
    index_node_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    index_node_hash = models.CharField(max_length=64, null=True, blank=True)
    hit_count = models.IntegerField(default=0)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_by = models.UUIDField(null=True, blank=True)
    status = models.CharField(max_length=32, choices=SegmentStatus.choices, default=SegmentStatus.WAITING)
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    indexing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["document", "position"])]

    def __str__(self) -> str:
        return f"segment {self.position} of {self.document_id}"


class ChildChunk(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(DocumentSegment, on_delete=models.CASCADE, related_name="child_chunks")
    position = models.IntegerField()
    content = models.TextField()
    word_count = models.IntegerField(default=0)
    index_node_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    index_node_hash = models.CharField(max_length=64, null=True, blank=True)
    type = models.CharField(max_length=32, default="automatic")
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)
    indexing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["segment", "position"])]

    def __str__(self) -> str:
        return f"child chunk {self.position} of {self.segment_id}"


class Embedding(TimestampedModel):
    """The embedding cache: one vector per (workspace, provider, model, content hash).

    Per workspace, unlike Dify's global table: two workspaces may point the same provider and model
    name at different endpoints (custom models), so a vector is only reused where it was made.
    """

    # No indexes of their own on tenant and created_at: the unique constraint starts with the tenant
    # (lookups and a workspace's deletion use it) and nothing reads by age; each index is one more
    # b-tree every indexed segment writes.
    created_at = models.DateTimeField(auto_now_add=True)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    provider_name = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    hash = models.CharField(max_length=64)
    embedding = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider_name", "model_name", "hash"], name="unique_embedding"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider_name}/{self.model_name} {self.hash[:8]}"


class IndexNode(TenantScopedModel):
    """One searchable unit: a segment's (or a child chunk's) text and vector. See the module docstring."""

    # Every index here is written once per indexed segment, so only those a query or a cascade needs:
    # none of its own on created_at (nothing reads nodes by age), tenant (every query also names the
    # dataset; only a workspace's deletion, which is rare, filters by tenant alone) or dataset (the
    # (dataset, dimension) index starts with it).
    created_at = models.DateTimeField(auto_now_add=True)
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_index=False)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(DocumentSegment, on_delete=models.CASCADE, related_name="+")
    child_chunk = models.ForeignKey(
        ChildChunk, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    node_id = models.CharField(max_length=64, unique=True)
    content = models.TextField()
    # What full-text search indexes when it differs from `content`: Chinese split into words
    # (`knowledge.index.base.search_text`); null for text that needs no splitting.
    search_text = models.TextField(null=True, blank=True)
    vector = models.BinaryField(null=True, blank=True)  # float32, L2-normalised; null in economy mode
    dimension = models.IntegerField(default=0)
    # SQLite only: the rowid of this node's row in the FTS5 table (set by the insert trigger of migration
    # 0002), which also keys its sqlite-vec row. Stable, unlike the table's own implicit rowid.
    search_rowid = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["dataset", "dimension"])]  # the document FK has its own

    def __str__(self) -> str:
        return self.node_id


class DatasetQuery(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="queries")
    content = models.TextField()
    source = models.CharField(max_length=32)  # hit_testing | app
    source_app_id = models.UUIDField(null=True, blank=True)
    created_by_role = models.CharField(max_length=32, default="account")
    created_by = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return self.content[:50]


class AppDatasetJoin(TenantScopedModel):
    """Which apps use which datasets (Dify's app_dataset_joins): `app_count`, and delete protection."""

    app_id = models.UUIDField()
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="app_joins")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app_id", "dataset"], name="unique_app_dataset")]

    def __str__(self) -> str:
        return f"{self.app_id} uses {self.dataset_id}"


class MetadataType(models.TextChoices):
    STRING = "string"
    NUMBER = "number"
    TIME = "time"


class DatasetMetadata(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="metadata_fields")
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=MetadataType.choices)
    created_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="unique_dataset_metadata")]

    def __str__(self) -> str:
        return self.name


class DatasetMetadataBinding(TenantScopedModel):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    metadata = models.ForeignKey(DatasetMetadata, on_delete=models.CASCADE, related_name="bindings")
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["metadata", "document"], name="unique_metadata_binding")
        ]

    def __str__(self) -> str:
        return f"{self.metadata_id} on {self.document_id}"


class ExternalKnowledgeApi(TenantScopedModel):
    """A user's own retrieval endpoint (Dify's external knowledge API): ``POST {endpoint}/retrieval``
    with a bearer key. The key is encrypted at rest and masked in every answer."""

    name = models.CharField(max_length=255)
    description = models.CharField(max_length=255, blank=True, default="")
    endpoint = models.CharField(max_length=2048)
    api_key = EncryptedTextField()
    created_by = models.UUIDField(null=True, blank=True)
    updated_by = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return self.name


class ExternalKnowledgeBinding(TenantScopedModel):
    """Which external knowledge (an id the endpoint knows) a dataset with provider ``external`` reads."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="external_binding")
    external_knowledge_api = models.ForeignKey(
        ExternalKnowledgeApi, on_delete=models.CASCADE, related_name="bindings"
    )
    external_knowledge_id = models.CharField(max_length=512)
    created_by = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.dataset_id} reads {self.external_knowledge_id}"
