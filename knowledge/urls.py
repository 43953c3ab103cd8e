"""Console datasets routes, mounted under /console/api/ (Dify's paths)."""

from django.urls import path

from knowledge import external_views as x
from knowledge import views as v

D = "datasets/<str:dataset_id>"
DOC = f"{D}/documents/<str:document_id>"

urlpatterns = [
    path("datasets", v.DatasetListApi.as_view()),
    path("datasets/api-keys", v.DatasetApiKeyListApi.as_view()),
    path("datasets/api-keys/<str:api_key_id>", v.DatasetApiKeyApi.as_view()),
    path("datasets/process-rule", v.ProcessRuleApi.as_view()),
    path("datasets/indexing-estimate", v.IndexingEstimateApi.as_view()),
    path("datasets/external-knowledge-api", x.ExternalApiListApi.as_view()),
    path("datasets/external-knowledge-api/<str:api_id>", x.ExternalApiApi.as_view()),
    path("datasets/external-knowledge-api/<str:api_id>/use-check", x.ExternalApiUseCheckApi.as_view()),
    path("datasets/external", x.ExternalDatasetCreateApi.as_view()),
    path(D, v.DatasetApi.as_view()),
    path(f"{D}/external-hit-testing", x.ExternalHitTestingApi.as_view()),
    path(f"{D}/documents", v.DocumentListApi.as_view()),
    path(f"{D}/documents/status/<str:action>/batch", v.DocumentStatusBatchApi.as_view()),
    path(f"{D}/batch/<str:batch>/indexing-status", v.BatchIndexingStatusApi.as_view()),
    path(f"{D}/retry", v.DocumentRetryApi.as_view()),
    path(f"{D}/hit-testing", v.HitTestingApi.as_view()),
    path(f"{D}/queries", v.DatasetQueriesApi.as_view()),
    path(DOC, v.DocumentApi.as_view()),
    path(f"{DOC}/indexing-status", v.DocumentIndexingStatusApi.as_view()),
    path(f"{DOC}/processing/pause", v.DocumentPauseApi.as_view()),
    path(f"{DOC}/processing/resume", v.DocumentResumeApi.as_view()),
    path(f"{DOC}/segments", v.SegmentListApi.as_view()),
    path(f"{DOC}/segment", v.SegmentCreateApi.as_view()),
    path(f"{DOC}/segments/<str:segment_id>", v.SegmentApi.as_view()),
    path(f"{DOC}/segment/<str:action>", v.SegmentStatusApi.as_view()),
    path(f"{DOC}/rename", v.DocumentRenameApi.as_view()),
    path(f"{DOC}/segments/<str:segment_id>/child_chunks", v.ConsoleChildChunkListApi.as_view()),
    path(
        f"{DOC}/segments/<str:segment_id>/child_chunks/<str:child_chunk_id>", v.ConsoleChildChunkApi.as_view()
    ),
]
