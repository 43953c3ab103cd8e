"""Console external knowledge (``/console/api/datasets/external*``, Dify's ``controllers/console/datasets/
external.py``): the workspace's external knowledge APIs, datasets bound to them, and their hit testing."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from knowledge import api, presenters, selectors
from knowledge import exceptions as errors
from knowledge import serializers as s
from knowledge.models import ExternalKnowledgeApi
from knowledge.retrieval.service import external_hit_test
from knowledge.services import external
from knowledge.services.embeddings import run_async
from knowledge.views import ConsoleDatasetApiView

OBJECT = OpenApiTypes.OBJECT
TAGS = ["Knowledge (console)"]


class ExternalApiIn(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=40)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=255)
    settings = serializers.DictField()


class ExternalDatasetIn(serializers.Serializer):
    external_knowledge_api_id = serializers.CharField()
    external_knowledge_id = serializers.CharField(max_length=512)
    name = serializers.CharField(min_length=1, max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=400)
    external_retrieval_model = s.ExternalRetrievalModelIn(required=False, allow_null=True)


class ExternalHitTestingIn(serializers.Serializer):
    query = serializers.CharField(max_length=250, trim_whitespace=False)
    external_retrieval_model = s.ExternalRetrievalModelIn(required=False, allow_null=True)
    metadata_filtering_conditions = s.MetadataFilteringIn(required=False, allow_null=True)


def _api_get(request: Request, api_id: Any) -> ExternalKnowledgeApi:
    parsed = selectors.parse_id(api_id, error=errors.ExternalKnowledgeApiNotFound)
    found = ExternalKnowledgeApi.objects.for_tenant(request.tenant).filter(id=parsed).first()
    if found is None:
        raise errors.ExternalKnowledgeApiNotFound()
    return found


class ExternalApiListApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, parameters=[s.ListQuery], responses=OBJECT, summary="External knowledge APIs")
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ListQuery, request)
        rows = ExternalKnowledgeApi.objects.for_tenant(request.tenant).order_by("-created_at")
        if query["keyword"]:
            rows = rows.filter(name__icontains=query["keyword"])
        total = rows.count()
        page, limit = query["page"], query["limit"]
        items = list(rows[(page - 1) * limit : page * limit])
        return Response(
            {
                "data": [external.external_api_out(a) for a in items],
                "has_more": len(items) == limit,
                "limit": limit,
                "total": total,
                "page": page,
            }
        )

    @extend_schema(tags=TAGS, request=ExternalApiIn, responses={201: OBJECT})
    def post(self, request: Request) -> Response:
        data = self.validate(ExternalApiIn, request.data)
        created = external.external_api_create(
            tenant=request.tenant,
            account_id=request.user.id,
            name=data["name"],
            description=data.get("description") or "",
            settings=data["settings"],
        )
        return Response(external.external_api_out(created), status=201)


class ExternalApiApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, responses=OBJECT)
    def get(self, request: Request, api_id: str) -> Response:
        return Response(external.external_api_out(_api_get(request, api_id)))

    @extend_schema(tags=TAGS, request=ExternalApiIn, responses=OBJECT)
    def patch(self, request: Request, api_id: str) -> Response:
        found = _api_get(request, api_id)
        data = self.validate(ExternalApiIn, request.data)
        updated = external.external_api_update(
            api=found,
            account_id=request.user.id,
            name=data["name"],
            description=data.get("description") or "",
            settings=data["settings"],
        )
        return Response(external.external_api_out(updated))

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request: Request, api_id: str) -> Response:
        external.external_api_delete(api=_api_get(request, api_id))
        return Response(status=204)


class ExternalApiUseCheckApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, responses=OBJECT)
    def get(self, request: Request, api_id: str) -> Response:
        count = external.external_api_use_count(api=_api_get(request, api_id))
        return Response({"is_using": count > 0, "count": count})


class ExternalDatasetCreateApi(ConsoleDatasetApiView):
    @extend_schema(tags=TAGS, request=ExternalDatasetIn, responses={201: OBJECT})
    def post(self, request: Request) -> Response:
        data = self.validate(ExternalDatasetIn, request.data)
        dataset = external.external_dataset_create(
            tenant=request.tenant,
            account_id=request.user.id,
            name=data["name"],
            description=data.get("description") or "",
            api=_api_get(request, data["external_knowledge_api_id"]),
            external_knowledge_id=data["external_knowledge_id"],
            retrieval_model=data.get("external_retrieval_model"),
        )
        return Response(presenters.dataset(dataset), status=201)


class ExternalHitTestingApi(ConsoleDatasetApiView):
    write_roles = None  # a read: every member who sees the dataset may test it

    @extend_schema(tags=TAGS, parameters=[api.DATASET_ID], request=ExternalHitTestingIn, responses=OBJECT)
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.dataset(request, dataset_id)
        data = self.validate(ExternalHitTestingIn, request.data)
        if dataset.provider != "external":
            return Response({"query": {"content": data["query"]}, "records": []})
        return Response(
            run_async(
                external_hit_test,
                dataset=dataset,
                query=data["query"],
                retrieval_model=data.get("external_retrieval_model"),
                metadata_filtering_conditions=data.get("metadata_filtering_conditions"),
                account_id=request.user.id,
            )
        )
