"""Console datasets API (``/console/api/datasets...``): the knowledge pages of the console.

Every member reads the datasets visible to them (``only_me`` and ``partial_members`` datasets: their
creator and the workspace owner); owners, admins, editors and dataset operators write. Another
workspace's dataset answers 404.

Long on purpose: one thin view per console knowledge endpoint, in the console's own order.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import TenantRole
from dify_project.api.errors import Forbidden, NotFound
from dify_project.api.pagination import paginate
from dify_project.api.parsers import SafeJSONParser
from dify_project.api.views import WorkspaceApiView
from knowledge import api, presenters, selectors
from knowledge import exceptions as errors
from knowledge import serializers as s
from knowledge.models import Dataset, DatasetQuery, Document, DocumentSegment
from knowledge.retrieval import hit_test
from knowledge.services import datasets as dataset_services
from knowledge.services import documents as document_services
from knowledge.services import segments as segment_services
from knowledge.services.embeddings import run_async

OBJECT = OpenApiTypes.OBJECT
TAGS = ["Knowledge (console)"]
DATASET_EDITORS = TenantRole.dataset_editing()
API_KEY_ID = OpenApiParameter("api_key_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class DataSourceFileInfo(serializers.Serializer):
    file_ids = serializers.ListField(child=serializers.CharField(), allow_empty=False)


class WebsiteInfo(serializers.Serializer):
    """Dify's ``website_info_list``: the pages are fetched by the indexing run itself (through the
    guarded client), whatever crawler ``provider`` names."""

    provider = serializers.CharField(required=False, allow_blank=True, default="url")
    job_id = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    urls = serializers.ListField(
        child=serializers.URLField(max_length=2048), allow_empty=False, max_length=100
    )
    only_main_content = serializers.BooleanField(required=False, default=True)


class DataSourceInfoList(serializers.Serializer):
    data_source_type = serializers.CharField(required=False, default="upload_file")
    file_info_list = DataSourceFileInfo(required=False)
    website_info_list = WebsiteInfo(required=False)


class DataSourceIn(serializers.Serializer):
    type = serializers.ChoiceField(["upload_file", "website_crawl"])
    info_list = DataSourceInfoList()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        wanted = "file_info_list" if attrs["type"] == "upload_file" else "website_info_list"
        if not attrs["info_list"].get(wanted):
            raise serializers.ValidationError({"info_list": f"{wanted} is required for {attrs['type']}."})
        return attrs


class ConsoleDocumentsCreateIn(s.DocumentSettingsIn):
    data_source = DataSourceIn()


class ConsoleSegmentIn(s.SegmentItemIn):
    pass


class ConsoleDatasetApiView(WorkspaceApiView):
    read_roles = None
    write_roles = DATASET_EDITORS
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

    @staticmethod
    def can_see(request: Request, dataset: Dataset) -> bool:
        if dataset.permission == "all_team_members" or request.membership.role == TenantRole.OWNER:
            return True
        return str(dataset.created_by) == str(request.user.id)

    def dataset(self, request: Request, dataset_id: Any) -> Dataset:
        dataset = selectors.dataset_get(tenant=request.tenant, dataset_id=dataset_id)
        if not self.can_see(request, dataset):
            raise Forbidden("You do not have permission to access this dataset.")
        return dataset

    def document(self, request: Request, dataset_id: Any, document_id: Any) -> tuple[Dataset, Document]:
        dataset = self.dataset(request, dataset_id)
        return dataset, selectors.document_get(dataset=dataset, document_id=document_id)


class DatasetListApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[s.ListQuery], responses=OBJECT, summary="List datasets")
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ListQuery, request)
        ids = request.query_params.getlist("ids") or None
        rows = [
            d
            for d in selectors.dataset_list(tenant=request.tenant, keyword=query["keyword"] or None, ids=ids)
            if self.can_see(request, d)
        ]
        return Response(paginate(rows, page=query["page"], limit=query["limit"], render=presenters.datasets))

    @extend_schema(tags=TAGS, request=s.DatasetCreateIn, responses={201: OBJECT}, summary="Create a dataset")
    def post(self, request: Request) -> Response:
        data = self.validate(s.DatasetCreateIn, request.data)
        dataset = dataset_services.dataset_create(
            tenant=request.tenant,
            account_id=request.user.id,
            name=data["name"],
            description=data.get("description") or "",
            indexing_technique=data.get("indexing_technique"),
            permission=data.get("permission"),
            embedding_model=data.get("embedding_model") or None,
            embedding_model_provider=data.get("embedding_model_provider") or None,
            retrieval_model=data.get("retrieval_model"),
        )
        return Response(presenters.dataset(dataset), status=201)


class DatasetApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], responses=OBJECT, summary="Get a dataset")
    def get(self, request: Request, dataset_id: str) -> Response:
        return Response(presenters.dataset(self.dataset(request, dataset_id)))

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=s.DatasetUpdateIn, responses=OBJECT)
    def patch(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DatasetUpdateIn, request.data)
        dataset = dataset_services.dataset_update(dataset=dataset, account_id=request.user.id, data=data)
        return Response(presenters.dataset(dataset))

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], responses={204: None}, summary="Delete a dataset")
    def delete(self, request: Request, dataset_id: str) -> Response:
        dataset_services.dataset_delete(dataset=self.dataset(request, dataset_id))
        return Response(status=204)


class DocumentListApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, s.DocumentListQuery], responses=OBJECT)
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        query = self.validate_query(s.DocumentListQuery, request)
        rows = selectors.document_list(
            dataset=dataset, keyword=query["keyword"] or None, status=query["status"] or None
        )
        return Response(paginate(rows, page=query["page"], limit=query["limit"], render=presenters.documents))

    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID],
        request=ConsoleDocumentsCreateIn,
        responses=OBJECT,
        summary="Create documents from uploaded files",
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        from files.models import UploadFile

        dataset = self.dataset(request, dataset_id)
        data = self.validate(ConsoleDocumentsCreateIn, request.data)
        settings = {
            "process_rule": data.get("process_rule"),
            "indexing_technique": data.get("indexing_technique"),
            "doc_form": data.get("doc_form") or "text_model",
            "doc_language": data.get("doc_language") or "English",
            "retrieval_model": data.get("retrieval_model"),
            "embedding_model": data.get("embedding_model") or None,
            "embedding_model_provider": data.get("embedding_model_provider") or None,
            "created_from": "web",
        }
        if data["data_source"]["type"] == "website_crawl":
            created, batch = [], None
            for url in data["data_source"]["info_list"]["website_info_list"]["urls"]:
                document, batch = document_services.document_create(
                    dataset=dataset, account_id=request.user.id, name=url, url=url, **settings
                )
                created.append(document)
            dataset.refresh_from_db()
            return Response(
                {
                    "dataset": presenters.dataset(dataset),
                    "documents": presenters.documents(created),
                    "batch": batch,
                }
            )
        file_ids = data["data_source"]["info_list"]["file_info_list"]["file_ids"]
        uploads = []
        for file_id in file_ids:
            upload = (
                UploadFile.objects.for_tenant(request.tenant)
                .filter(id=selectors.parse_id(file_id, error=NotFound))
                .first()
            )
            if upload is None:
                raise NotFound("File not found.")
            uploads.append(upload)
        created, batch = [], None
        for upload in uploads:
            document, batch = document_services.document_create(
                dataset=dataset,
                account_id=request.user.id,
                name=upload.name,
                upload_file=upload,
                process_rule=data.get("process_rule"),
                indexing_technique=data.get("indexing_technique"),
                doc_form=data.get("doc_form") or "text_model",
                doc_language=data.get("doc_language") or "English",
                retrieval_model=data.get("retrieval_model"),
                embedding_model=data.get("embedding_model") or None,
                embedding_model_provider=data.get("embedding_model_provider") or None,
                created_from="web",
            )
            created.append(document)
        dataset.refresh_from_db()
        return Response(
            {
                "dataset": presenters.dataset(dataset),
                "documents": presenters.documents(created),
                "batch": batch,
            }
        )


class DocumentApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], responses=OBJECT)
    def get(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        metadata = request.query_params.get("metadata", "all")
        if metadata not in ("all", "only", "without"):
            raise errors.InvalidMetadata(f"Invalid metadata value: {metadata}")
        return Response(presenters.document_detail(document, metadata))

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], responses={204: None})
    def delete(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        document_services.document_delete(document=document)
        return Response(status=204)


class BatchIndexingStatusApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.BATCH], responses=OBJECT)
    def get(self, request: Request, dataset_id: str, batch: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        documents = selectors.batch_documents(dataset=dataset, batch=batch)
        if not documents:
            raise errors.DocumentNotFound("Documents not found.")
        return Response({"data": presenters.indexing_status(documents)})


class DocumentIndexingStatusApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], responses=OBJECT)
    def get(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        return Response(presenters.indexing_status([document])[0])


class DocumentStatusBatchApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[
            api.DATASET_ID,
            api.ACTION,
            OpenApiParameter("document_id", OpenApiTypes.UUID, many=True),
        ],
        request=None,
        responses=OBJECT,
    )
    def patch(self, request: Request, dataset_id: str, action: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        document_services.document_status_batch(
            dataset=dataset,
            document_ids=request.query_params.getlist("document_id"),
            action=action,
            account_id=request.user.id,
        )
        return Response({"result": "success"})


class DocumentPauseApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], request=None, responses={204: None}
    )
    def patch(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        document_services.document_pause(document=document, account_id=request.user.id)
        return Response(status=204)


class DocumentResumeApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], request=None, responses={204: None}
    )
    def patch(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        document_services.document_resume(document=document)
        return Response(status=204)


class DocumentRetryApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=s.DocumentIdsIn, responses={204: None})
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DocumentIdsIn, request.data)
        documents = [selectors.document_get(dataset=dataset, document_id=d) for d in data["document_ids"]]
        document_services.document_retry(documents=documents)
        return Response(status=204)


class SegmentListApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID, s.SegmentListQuery], responses=OBJECT
    )
    def get(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        query = self.validate_query(s.SegmentListQuery, request)
        rows = selectors.segment_list(
            document=document,
            keyword=query["keyword"] or None,
            statuses=request.query_params.getlist("status") or None,
            enabled=query["enabled"],
        )
        return Response(paginate(rows, page=query["page"], limit=query["limit"], render=presenters.segments))


class SegmentCreateApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], request=ConsoleSegmentIn, responses=OBJECT
    )
    def post(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        data = self.validate(ConsoleSegmentIn, request.data)
        segment = segment_services.segments_create(
            document=document, items=[data], account_id=request.user.id
        )[0]
        return Response({"data": presenters.segment(segment), "doc_form": document.doc_form})


class SegmentApi(ConsoleDatasetApiView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID]

    def _segment(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str
    ) -> tuple[Document, DocumentSegment]:
        _, document = self.document(request, dataset_id, document_id)
        return document, selectors.segment_get(document=document, segment_id=segment_id)

    @extend_schema(tags=TAGS, parameters=PARAMS, request=s.SegmentUpdateFieldsIn, responses=OBJECT)
    def patch(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        document, segment = self._segment(request, dataset_id, document_id, segment_id)
        data = self.validate(s.SegmentUpdateFieldsIn, request.data)
        fields = {k: v for k, v in data.items() if k in request.data}
        segment = segment_services.segment_update(segment=segment, data=fields, account_id=request.user.id)
        return Response({"data": presenters.segment(segment), "doc_form": document.doc_form})

    @extend_schema(tags=TAGS, parameters=PARAMS, responses={204: None})
    def delete(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, segment = self._segment(request, dataset_id, document_id, segment_id)
        segment_services.segment_delete(segment=segment)
        return Response(status=204)


class HitTestingApi(ConsoleDatasetApiView):
    write_roles = None  # a read: every member who sees the dataset may test it

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=s.HitTestingIn, responses=OBJECT)
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.HitTestingIn, request.data)
        if dataset.indexing_technique is None and dataset.provider != "external":
            raise errors.DatasetNotInitialized()
        return Response(
            run_async(
                hit_test,
                dataset=dataset,
                query=data["query"],
                retrieval_model=data.get("retrieval_model"),
                external_retrieval_model=data.get("external_retrieval_model"),
                metadata_filtering_conditions=data.get("metadata_filtering_conditions"),
                account_id=request.user.id,
            )
        )


class DatasetQueriesApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, s.ListQuery], responses=OBJECT)
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        query = self.validate_query(s.ListQuery, request)
        rows = DatasetQuery.objects.filter(dataset=dataset).order_by("-created_at")

        def render(page: list[DatasetQuery]) -> list[dict[str, Any]]:
            from dify_project.api.fields import timestamp

            return [
                {
                    "id": str(q.id),
                    "content": q.content,
                    "source": q.source,
                    "source_app_id": str(q.source_app_id) if q.source_app_id else None,
                    "created_by_role": q.created_by_role,
                    "created_by": str(q.created_by) if q.created_by else None,
                    "created_at": timestamp(q.created_at),
                }
                for q in page
            ]

        return Response(paginate(rows, page=query["page"], limit=query["limit"], render=render))


class DatasetApiKeyListApi(WorkspaceApiView):
    """Dataset API keys of the workspace: listed by prefix to members, created by admins and owners."""

    read_roles = DATASET_EDITORS
    write_roles = TenantRole.privileged()

    @extend_schema(tags=TAGS, responses=OBJECT, summary="List dataset API keys (prefixes only)")
    def get(self, request: Request) -> Response:
        from apps.models import ApiToken

        tokens = ApiToken.objects.for_tenant(request.tenant).filter(type="dataset").order_by("created_at")
        return Response({"data": [_api_key(t) for t in tokens]})

    @extend_schema(tags=TAGS, request=None, responses={200: OBJECT}, summary="Create a dataset API key")
    def post(self, request: Request) -> Response:
        from apps.services.api_keys import api_key_create

        token, plain = api_key_create(tenant=request.tenant, type="dataset")
        return Response(_api_key(token, plain))


class DatasetApiKeyApi(WorkspaceApiView):
    write_roles = TenantRole.privileged()

    @extend_schema(
        tags=TAGS, parameters=[API_KEY_ID], responses={204: None}, summary="Revoke a dataset API key"
    )
    def delete(self, request: Request, api_key_id: str) -> Response:
        from apps.models import ApiToken
        from apps.services.api_keys import api_key_delete

        pk = selectors.parse_id(api_key_id, error=NotFound)
        token = ApiToken.objects.for_tenant(request.tenant).filter(type="dataset", id=pk).first()
        if token is None:
            raise NotFound("API key not found.")
        api_key_delete(token=token)
        return Response(status=204)


def _api_key(token: Any, plain: str | None = None) -> dict[str, Any]:
    from dify_project.api.fields import timestamp

    return {
        "id": str(token.id),
        "type": token.type,
        "token": plain if plain is not None else f"{token.prefix}…",
        "last_used_at": timestamp(token.last_used_at),
        "created_at": timestamp(token.created_at),
    }


class DocumentRenameIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)


class DocumentRenameApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], request=DocumentRenameIn, responses=OBJECT
    )
    def post(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        data = self.validate(DocumentRenameIn, request.data)
        document = document_services.document_rename(document=document, name=data["name"])
        return Response(presenters.document(document))


class SegmentStatusApi(ConsoleDatasetApiView):
    """Enable or disable segments: ``?segment_id=...`` repeated."""

    @extend_schema(
        tags=TAGS,
        parameters=[
            api.DATASET_ID,
            api.DOCUMENT_ID,
            api.ACTION,
            OpenApiParameter("segment_id", OpenApiTypes.UUID, many=True),
        ],
        request=None,
        responses=OBJECT,
    )
    def patch(self, request: Request, dataset_id: str, document_id: str, action: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        if action not in ("enable", "disable"):
            raise errors.InvalidAction(f"Invalid action: {action}")
        for segment_id in request.query_params.getlist("segment_id"):
            segment = selectors.segment_get(document=document, segment_id=segment_id)
            if segment.enabled != (action == "enable"):
                segment_services.segment_update(
                    segment=segment, data={"enabled": action == "enable"}, account_id=request.user.id
                )
        return Response({"result": "success"})


class ProcessRuleApi(ConsoleDatasetApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("document_id", OpenApiTypes.UUID, required=False)],
        responses=OBJECT,
    )
    def get(self, request: Request) -> Response:
        from knowledge import split
        from knowledge.models import DatasetProcessRule

        mode, rules = "automatic", split.AUTOMATIC_RULES
        document_id = request.query_params.get("document_id")
        if document_id:
            pk = selectors.parse_id(document_id, error=errors.DocumentNotFound)
            document = (
                Document.objects.for_tenant(request.tenant).filter(id=pk).select_related("dataset").first()
            )
            if document is None:
                raise errors.DocumentNotFound()
            self.dataset(request, document.dataset_id)
            rule = (
                document.dataset_process_rule
                or DatasetProcessRule.objects.filter(dataset_id=document.dataset_id)
                .order_by("-created_at")
                .first()
            )
            if rule is not None:
                mode, rules = rule.mode, rule.rules
        return Response(
            {
                "mode": mode,
                "rules": rules,
                "limits": {"indexing_max_segmentation_tokens_length": split.MAX_SEGMENTATION_LENGTH},
            }
        )


class _ChildChunkView(ConsoleDatasetApiView):
    def _segment(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str
    ) -> DocumentSegment:
        _, document = self.document(request, dataset_id, document_id)
        return selectors.segment_get(document=document, segment_id=segment_id)


class ConsoleChildChunkListApi(_ChildChunkView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID]

    @extend_schema(tags=TAGS, parameters=[*PARAMS, s.ListQuery], responses=OBJECT)
    def get(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        segment = self._segment(request, dataset_id, document_id, segment_id)
        query = self.validate_query(s.ListQuery, request)
        rows = segment.child_chunks.order_by("position")
        if query["keyword"]:
            rows = rows.filter(content__icontains=query["keyword"])
        page = paginate(
            rows,
            page=query["page"],
            limit=query["limit"],
            render=lambda r: [presenters.child_chunk(c) for c in r],
        )
        page["total_pages"] = (page["total"] + query["limit"] - 1) // query["limit"]
        return Response(page)

    @extend_schema(tags=TAGS, parameters=PARAMS, request=s.ChildChunkIn, responses=OBJECT)
    def post(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        segment = self._segment(request, dataset_id, document_id, segment_id)
        data = self.validate(s.ChildChunkIn, request.data)
        chunk = segment_services.child_chunk_create(
            segment=segment, content=data["content"], account_id=request.user.id
        )
        return Response({"data": presenters.child_chunk(chunk)})


class ConsoleChildChunkApi(_ChildChunkView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID, api.CHILD_CHUNK_ID]

    @extend_schema(tags=TAGS, parameters=PARAMS, request=s.ChildChunkIn, responses=OBJECT)
    def patch(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str, child_chunk_id: str
    ) -> Response:
        segment = self._segment(request, dataset_id, document_id, segment_id)
        chunk = selectors.child_chunk_get(segment=segment, child_chunk_id=child_chunk_id)
        data = self.validate(s.ChildChunkIn, request.data)
        chunk = segment_services.child_chunk_update(
            chunk=chunk, content=data["content"], account_id=request.user.id
        )
        return Response({"data": presenters.child_chunk(chunk)})

    @extend_schema(tags=TAGS, parameters=PARAMS, responses={204: None})
    def delete(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str, child_chunk_id: str
    ) -> Response:
        segment = self._segment(request, dataset_id, document_id, segment_id)
        segment_services.child_chunk_delete(
            chunk=selectors.child_chunk_get(segment=segment, child_chunk_id=child_chunk_id)
        )
        return Response(status=204)


class IndexingEstimateIn(serializers.Serializer):
    info_list = DataSourceInfoList()
    process_rule = serializers.DictField()
    doc_form = serializers.CharField(required=False, default="text_model")
    doc_language = serializers.CharField(required=False, default="English")
    dataset_id = serializers.CharField(required=False, allow_null=True)
    indexing_technique = serializers.CharField(required=False, allow_null=True)


class IndexingEstimateApi(ConsoleDatasetApiView):
    """Preview how uploaded files would be split, before creating documents."""

    @extend_schema(tags=TAGS, request=IndexingEstimateIn, responses=OBJECT)
    def post(self, request: Request) -> Response:
        from files.models import UploadFile
        from files.services import file_read
        from knowledge.extract import ExtractError, extract_pages
        from knowledge.services.indexing import indexing_estimate

        data = self.validate(IndexingEstimateIn, request.data)
        info = data["info_list"]
        if info["data_source_type"] != "upload_file":
            raise errors.InvalidParam(
                "The indexing estimate previews uploaded files (data_source_type upload_file).",
                params="info_list.data_source_type",
            )
        if not info.get("file_info_list"):
            raise errors.InvalidParam("file_info_list is required for upload_file.", params="info_list")
        pages: list[str] = []
        for file_id in info["file_info_list"]["file_ids"]:
            pk = selectors.parse_id(file_id, error=NotFound)
            upload = UploadFile.objects.for_tenant(request.tenant).filter(id=pk).first()
            if upload is None:
                raise NotFound("File not found.")
            try:
                pages.extend(extract_pages(extension=upload.extension, content=file_read(upload)))
            except ExtractError as exc:
                raise errors.InvalidParam(str(exc)) from None
        try:
            estimate = indexing_estimate(
                pages=pages, process_rule=data["process_rule"], doc_form=data["doc_form"]
            )
        except ValueError as exc:
            raise errors.InvalidParam(str(exc)) from None
        return Response(estimate)
