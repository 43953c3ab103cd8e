"""Knowledge Service API routes, mounted under /v1/ (Dify's paths, with the SDK's underscore aliases).

Ids are captured as strings and parsed in the views, so a malformed id answers 404 in Dify's body."""

from django.urls import path

from knowledge import service_api as v

D = "datasets/<str:dataset_id>"
DOC = f"{D}/documents/<str:document_id>"
SEG = f"{DOC}/segments/<str:segment_id>"

urlpatterns = [
    path("datasets", v.DatasetListApi.as_view()),
    path(D, v.DatasetApi.as_view()),
    path(f"{D}/document/create-by-text", v.DocumentCreateByTextApi.as_view()),
    path(f"{D}/document/create_by_text", v.DocumentCreateByTextApi.as_view()),
    path(f"{D}/document/create-by-file", v.DocumentCreateByFileApi.as_view()),
    path(f"{D}/document/create_by_file", v.DocumentCreateByFileApi.as_view()),
    path(f"{D}/documents", v.DocumentListApi.as_view()),
    path(f"{D}/documents/status/<str:action>", v.DocumentStatusApi.as_view()),
    path(f"{D}/documents/metadata", v.DocumentsMetadataApi.as_view()),
    path(f"{D}/documents/<str:batch>/indexing-status", v.DocumentIndexingStatusApi.as_view()),
    path(DOC, v.DocumentApi.as_view()),
    path(f"{DOC}/update-by-text", v.DocumentUpdateByTextApi.as_view()),
    path(f"{DOC}/update_by_text", v.DocumentUpdateByTextApi.as_view()),
    path(f"{DOC}/update-by-file", v.DocumentUpdateByFileApi.as_view()),
    path(f"{DOC}/update_by_file", v.DocumentUpdateByFileApi.as_view()),
    path(f"{DOC}/segments", v.SegmentListApi.as_view()),
    path(SEG, v.SegmentApi.as_view()),
    path(f"{SEG}/child_chunks", v.ChildChunkListApi.as_view()),
    path(f"{SEG}/child_chunks/<str:child_chunk_id>", v.ChildChunkApi.as_view()),
    path(f"{D}/retrieve", v.RetrieveApi.as_view()),
    path(f"{D}/hit-testing", v.RetrieveApi.as_view()),
    path(f"{D}/metadata", v.MetadataListApi.as_view()),
    path(f"{D}/metadata/built-in", v.BuiltInMetadataApi.as_view()),
    path(f"{D}/metadata/built-in/<str:action>", v.BuiltInMetadataActionApi.as_view()),
    path(f"{D}/metadata/<str:metadata_id>", v.MetadataApi.as_view()),
]
