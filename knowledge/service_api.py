"""The Knowledge Service API (``/v1/datasets...``, ``Authorization: Bearer dataset-...``).

A dataset key belongs to a workspace and reaches every dataset of it whose ``enable_api`` is on; it acts
as the workspace owner (Dify's ``validate_dataset_token``). Paths and shapes follow Dify's
``controllers/service_api/dataset``, including the deprecated underscore aliases the SDK calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Tenant, TenantAccountJoin, TenantRole, TenantStatus
from dify_project.api.errors import Forbidden, Unauthorized
from dify_project.api.pagination import paginate
from dify_project.api.parsers import SafeJSONParser
from dify_project.api.views import ApiView
from knowledge import api, presenters, selectors
from knowledge import exceptions as errors
from knowledge import serializers as s
from knowledge.models import Dataset, DatasetMetadata, Document, DocumentSegment
from knowledge.retrieval import hit_test
from knowledge.services import datasets as dataset_services
from knowledge.services import documents as document_services
from knowledge.services import metadata as metadata_services
from knowledge.services import segments as segment_services
from knowledge.services.embeddings import run_async
from knowledge.services.metadata import BUILT_IN_FIELDS

OBJECT = OpenApiTypes.OBJECT
TAGS = ["Knowledge (Service API)"]


@dataclass
class DatasetCaller:
    """A dataset key: acts for the workspace, as its owner."""

    tenant: Tenant
    token_id: str
    account_id: Any
    is_authenticated: bool = True


def _presented_key(request: Request) -> str:
    header = request.headers.get("Authorization")
    if header is None or " " not in header.strip():
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, token = header.strip().split(None, 1)
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization scheme must be 'Bearer'")
    return token.strip()


class DatasetKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[DatasetCaller, str]:
        # API keys live in the apps domain (one table for app and dataset keys).
        from apps.services.api_keys import api_key_resolve

        resolved = api_key_resolve(plain=_presented_key(request), scope="dataset")
        tenant = Tenant.objects.filter(id=resolved.tenant_id).first()
        if tenant is None:
            raise Unauthorized("Access token is invalid")
        if tenant.status == TenantStatus.ARCHIVE:
            raise Forbidden("The workspace's status is archived.")
        owner = (
            TenantAccountJoin.objects.filter(tenant=tenant, role=TenantRole.OWNER)
            .values_list("account_id", flat=True)
            .first()
        )
        if owner is None:
            raise Unauthorized("Tenant owner account does not exist.")
        request.tenant = tenant
        return DatasetCaller(tenant=tenant, token_id=resolved.token_id, account_id=owner), resolved.token_id

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class DatasetKeyScheme(OpenApiAuthenticationExtension):
    target_class = DatasetKeyAuthentication
    name = "KnowledgeApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A dataset API key: `dataset-…`"}


class KnowledgeApiView(ApiView):
    authentication_classes = [DatasetKeyAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [SafeJSONParser, FormParser, MultiPartParser]

    @staticmethod
    def account_id(request: Request) -> Any:
        return request.user.account_id

    @staticmethod
    def dataset(request: Request, dataset_id: Any) -> Dataset:
        dataset = selectors.dataset_get(tenant=request.tenant, dataset_id=dataset_id)
        if not dataset.enable_api:
            raise errors.DatasetApiDisabled()
        return dataset

    def document(self, request: Request, dataset_id: Any, document_id: Any) -> tuple[Dataset, Document]:
        dataset = self.dataset(request, dataset_id)
        return dataset, selectors.document_get(dataset=dataset, document_id=document_id)

    def segment(
        self, request: Request, dataset_id: Any, document_id: Any, segment_id: Any
    ) -> tuple[Dataset, Document, DocumentSegment]:
        dataset, document = self.document(request, dataset_id, document_id)
        return dataset, document, selectors.segment_get(document=document, segment_id=segment_id)


# --- datasets -------------------------------------------------------------------------------------------


class DatasetListApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[s.ListQuery], responses=OBJECT, summary="List datasets")
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ListQuery, request)
        rows = selectors.dataset_list(tenant=request.tenant, keyword=query["keyword"] or None)
        return Response(
            paginate(
                rows, page=query["page"], limit=query["limit"], render=lambda page: presenters.datasets(page)
            )
        )

    @extend_schema(tags=TAGS, request=s.DatasetCreateIn, responses=OBJECT, summary="Create an empty dataset")
    def post(self, request: Request) -> Response:
        data = self.validate(s.DatasetCreateIn, request.data)
        dataset = dataset_services.dataset_create(
            tenant=request.tenant,
            account_id=self.account_id(request),
            name=data["name"],
            description=data.get("description") or "",
            indexing_technique=data.get("indexing_technique"),
            permission=data.get("permission"),
            provider=data.get("provider") or "vendor",
            embedding_model=data.get("embedding_model") or None,
            embedding_model_provider=data.get("embedding_model_provider") or None,
            retrieval_model=data.get("retrieval_model"),
        )
        return Response(presenters.dataset(dataset))


class DatasetApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], responses=OBJECT, summary="Get a dataset")
    def get(self, request: Request, dataset_id: str) -> Response:
        return Response(presenters.dataset(self.dataset(request, dataset_id)))

    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID], request=s.DatasetUpdateIn, responses=OBJECT, summary="Update"
    )
    def patch(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DatasetUpdateIn, request.data)
        dataset = dataset_services.dataset_update(
            dataset=dataset, account_id=self.account_id(request), data=data
        )
        return Response({**presenters.dataset(dataset), "partial_member_list": []})

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], responses={204: None}, summary="Delete a dataset")
    def delete(self, request: Request, dataset_id: str) -> Response:
        dataset_services.dataset_delete(dataset=self.dataset(request, dataset_id))
        return Response(status=204)


# --- documents ------------------------------------------------------------------------------------------


class DocumentCreateByTextApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID],
        request=s.DocumentByTextIn,
        responses=OBJECT,
        summary="Create a document from text",
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DocumentByTextIn, request.data)
        return Response(
            api.create_document(
                dataset=dataset,
                account_id=self.account_id(request),
                settings=data,
                name=data["name"],
                text=data["text"],
            )
        )


class DocumentCreateByFileApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID],
        request={"multipart/form-data": s.DocumentByFileIn},
        responses=OBJECT,
        summary="Create a document from a file",
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        settings = api.file_settings(request)
        upload = api.uploaded_file(request, required=True)
        with transaction.atomic():
            stored = api.store_upload(dataset, upload, self.account_id(request))
            body = api.create_document(
                dataset=dataset,
                account_id=self.account_id(request),
                settings=settings,
                name=stored.name,
                upload=stored,
            )
        return Response(body)


class DocumentUpdateByTextApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, api.DOCUMENT_ID],
        request=s.DocumentUpdateByTextIn,
        responses=OBJECT,
        summary="Update a document with text",
    )
    def post(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        data = self.validate(s.DocumentUpdateByTextIn, request.data)
        return Response(
            api.update_document(
                document=document,
                account_id=self.account_id(request),
                settings=data,
                name=data.get("name"),
                text=data.get("text"),
            )
        )


class DocumentUpdateByFileApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, api.DOCUMENT_ID],
        request={"multipart/form-data": s.DocumentByFileIn},
        responses=OBJECT,
        summary="Update a document with a file",
    )
    def post(self, request: Request, dataset_id: str, document_id: str) -> Response:
        return _update_by_file(self, request, dataset_id, document_id)

    patch = post


def _update_by_file(view: KnowledgeApiView, request: Request, dataset_id: str, document_id: str) -> Response:
    dataset, document = view.document(request, dataset_id, document_id)
    settings = api.file_settings(request)
    upload = api.uploaded_file(request, required=False)
    with transaction.atomic():
        stored = api.store_upload(dataset, upload, view.account_id(request)) if upload else None
        body = api.update_document(
            document=document,
            account_id=view.account_id(request),
            settings=settings,
            name=stored.name if stored else settings.get("name"),
            upload=stored,
        )
    return Response(body)


class DocumentListApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, s.DocumentListQuery],
        responses=OBJECT,
        summary="List documents",
    )
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        query = self.validate_query(s.DocumentListQuery, request)
        rows = selectors.document_list(
            dataset=dataset, keyword=query["keyword"] or None, status=query["status"] or None
        )
        return Response(paginate(rows, page=query["page"], limit=query["limit"], render=presenters.documents))


class DocumentApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], responses=OBJECT, summary="Get")
    def get(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        metadata = request.query_params.get("metadata", "all")
        if metadata not in ("all", "only", "without"):
            raise errors.InvalidMetadata(f"Invalid metadata value: {metadata}")
        return Response(presenters.document_detail(document, metadata))

    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.DOCUMENT_ID], responses={204: None}, summary="Delete"
    )
    def delete(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        document_services.document_delete(document=document)
        return Response(status=204)


class DocumentIndexingStatusApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.BATCH], responses=OBJECT, summary="Indexing status"
    )
    def get(self, request: Request, dataset_id: str, batch: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        documents = selectors.batch_documents(dataset=dataset, batch=batch)
        if not documents:
            raise errors.DocumentNotFound("Documents not found.")
        return Response({"data": presenters.indexing_status(documents)})


class DocumentStatusApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, api.ACTION],
        request=s.DocumentIdsIn,
        responses=OBJECT,
        summary="Enable, disable, archive or un-archive documents",
    )
    def patch(self, request: Request, dataset_id: str, action: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DocumentIdsIn, request.data)
        document_services.document_status_batch(
            dataset=dataset,
            document_ids=data["document_ids"],
            action=action,
            account_id=self.account_id(request),
        )
        return Response({"result": "success"})


# --- segments and child chunks --------------------------------------------------------------------------


def _page_query(request: Request) -> tuple[int, int]:
    query = ApiView.validate_query(s.ListQuery, request)
    return query["page"], query["limit"]


class SegmentListApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, api.DOCUMENT_ID, s.SegmentListQuery],
        responses=OBJECT,
        summary="List segments",
    )
    def get(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        query = self.validate_query(s.SegmentListQuery, request)
        rows = selectors.segment_list(
            document=document,
            keyword=query["keyword"] or None,
            statuses=request.query_params.getlist("status") or None,
        )
        page = paginate(rows, page=query["page"], limit=query["limit"], render=presenters.segments)
        return Response({**page, "doc_form": document.doc_form})

    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID, api.DOCUMENT_ID],
        request=s.SegmentsCreateIn,
        responses=OBJECT,
        summary="Add segments",
    )
    def post(self, request: Request, dataset_id: str, document_id: str) -> Response:
        _, document = self.document(request, dataset_id, document_id)
        data = self.validate(s.SegmentsCreateIn, request.data)
        segments = segment_services.segments_create(
            document=document, items=data["segments"], account_id=self.account_id(request)
        )
        return Response({"data": presenters.segments(segments), "doc_form": document.doc_form})


class SegmentApi(KnowledgeApiView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID]

    @extend_schema(tags=TAGS, parameters=PARAMS, responses=OBJECT, summary="Get a segment")
    def get(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, document, segment = self.segment(request, dataset_id, document_id, segment_id)
        return Response({"data": presenters.segment(segment), "doc_form": document.doc_form})

    @extend_schema(
        tags=TAGS, parameters=PARAMS, request=s.SegmentUpdateIn, responses=OBJECT, summary="Update"
    )
    def post(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, document, segment = self.segment(request, dataset_id, document_id, segment_id)
        data = self.validate(s.SegmentUpdateIn, request.data)
        fields = {k: v for k, v in data["segment"].items() if k in request.data.get("segment", {})}
        segment = segment_services.segment_update(
            segment=segment, data=fields, account_id=self.account_id(request)
        )
        return Response({"data": presenters.segment(segment), "doc_form": document.doc_form})

    patch = post

    @extend_schema(tags=TAGS, parameters=PARAMS, responses={204: None}, summary="Delete a segment")
    def delete(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, _, segment = self.segment(request, dataset_id, document_id, segment_id)
        segment_services.segment_delete(segment=segment)
        return Response(status=204)


class ChildChunkListApi(KnowledgeApiView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID]

    @extend_schema(
        tags=TAGS, parameters=[*PARAMS, s.ListQuery], responses=OBJECT, summary="List child chunks"
    )
    def get(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, _, segment = self.segment(request, dataset_id, document_id, segment_id)
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
        limit = query["limit"]
        return Response(
            {
                "data": page["data"],
                "total": page["total"],
                "total_pages": (page["total"] + limit - 1) // limit,
                "page": page["page"],
                "limit": limit,
            }
        )

    @extend_schema(
        tags=TAGS, parameters=PARAMS, request=s.ChildChunkIn, responses=OBJECT, summary="Add a child chunk"
    )
    def post(self, request: Request, dataset_id: str, document_id: str, segment_id: str) -> Response:
        _, _, segment = self.segment(request, dataset_id, document_id, segment_id)
        data = self.validate(s.ChildChunkIn, request.data)
        chunk = segment_services.child_chunk_create(
            segment=segment, content=data["content"], account_id=self.account_id(request)
        )
        return Response({"data": presenters.child_chunk(chunk)})


class ChildChunkApi(KnowledgeApiView):
    PARAMS = [api.DATASET_ID, api.DOCUMENT_ID, api.SEGMENT_ID, api.CHILD_CHUNK_ID]

    @extend_schema(tags=TAGS, parameters=PARAMS, request=s.ChildChunkIn, responses=OBJECT, summary="Edit")
    def patch(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str, child_chunk_id: str
    ) -> Response:
        _, _, segment = self.segment(request, dataset_id, document_id, segment_id)
        chunk = selectors.child_chunk_get(segment=segment, child_chunk_id=child_chunk_id)
        data = self.validate(s.ChildChunkIn, request.data)
        chunk = segment_services.child_chunk_update(
            chunk=chunk, content=data["content"], account_id=self.account_id(request)
        )
        return Response({"data": presenters.child_chunk(chunk)})

    @extend_schema(tags=TAGS, parameters=PARAMS, responses={204: None}, summary="Delete a child chunk")
    def delete(
        self, request: Request, dataset_id: str, document_id: str, segment_id: str, child_chunk_id: str
    ) -> Response:
        _, _, segment = self.segment(request, dataset_id, document_id, segment_id)
        segment_services.child_chunk_delete(
            chunk=selectors.child_chunk_get(segment=segment, child_chunk_id=child_chunk_id)
        )
        return Response(status=204)


# --- retrieval and metadata -----------------------------------------------------------------------------


class RetrieveApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS,
        parameters=[api.DATASET_ID],
        request=s.HitTestingIn,
        responses=OBJECT,
        summary="Retrieve chunks (hit testing)",
    )
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.HitTestingIn, request.data)
        if not data["query"].strip():
            raise errors.InvalidParam("Query or attachment_ids is required", params="query")
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
                account_id=self.account_id(request),
            )
        )


class MetadataListApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], responses=OBJECT, summary="List metadata fields")
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        fields = list(DatasetMetadata.objects.filter(dataset=dataset).order_by("created_at"))
        counts = {f.id: f.bindings.count() for f in fields}
        return Response(
            {
                "doc_metadata": [{**presenters.metadata_field(f), "count": counts[f.id]} for f in fields],
                "built_in_field_enabled": dataset.built_in_field_enabled,
            }
        )

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=s.MetadataIn, responses={201: OBJECT})
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.MetadataIn, request.data)
        field = metadata_services.metadata_create(
            dataset=dataset, name=data["name"], type=data["type"], account_id=self.account_id(request)
        )
        return Response(presenters.metadata_field(field), status=201)


class MetadataApi(KnowledgeApiView):
    def _field(self, request: Request, dataset_id: str, metadata_id: str) -> DatasetMetadata:
        dataset = self.dataset(request, dataset_id)
        pk = selectors.parse_id(metadata_id, error=errors.NotFound)
        field = DatasetMetadata.objects.filter(dataset=dataset, id=pk).first()
        if field is None:
            raise errors.NotFound("Metadata not found.")
        return field

    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID, api.METADATA_ID], request=s.MetadataRenameIn, responses=OBJECT
    )
    def patch(self, request: Request, dataset_id: str, metadata_id: str) -> Response:
        field = self._field(request, dataset_id, metadata_id)
        data = self.validate(s.MetadataRenameIn, request.data)
        return Response(
            presenters.metadata_field(metadata_services.metadata_rename(field=field, name=data["name"]))
        )

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.METADATA_ID], responses={204: None})
    def delete(self, request: Request, dataset_id: str, metadata_id: str) -> Response:
        metadata_services.metadata_delete(field=self._field(request, dataset_id, metadata_id))
        return Response(status=204)


class BuiltInMetadataApi(KnowledgeApiView):
    @extend_schema(
        tags=TAGS, parameters=[api.DATASET_ID], responses=OBJECT, summary="Built-in metadata fields"
    )
    def get(self, request: Request, dataset_id: str) -> Response:
        self.dataset(request, dataset_id)
        return Response({"fields": BUILT_IN_FIELDS})


class BuiltInMetadataActionApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID, api.ACTION], request=None, responses=OBJECT)
    def post(self, request: Request, dataset_id: str, action: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        if action not in ("enable", "disable"):
            raise errors.InvalidAction(f"Invalid action: {action}")
        metadata_services.built_in_toggle(dataset=dataset, enabled=action == "enable")
        return Response({"result": "success"})


class DocumentsMetadataApi(KnowledgeApiView):
    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=s.DocumentsMetadataIn, responses=OBJECT)
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(s.DocumentsMetadataIn, request.data)
        metadata_services.documents_metadata_update(dataset=dataset, operations=data["operation_data"])
        return Response({"result": "success"})
