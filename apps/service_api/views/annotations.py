"""Annotations through the Service API (the app key acts as the workspace owner, as in Dify)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import tenant_owner
from apps import selectors
from apps.models import MessageAnnotation
from apps.service_api.base import ServiceApiView
from apps.services import annotations as service
from dify_project.api.errors import InvalidParam, Unauthorized
from dify_project.api.fields import timestamp
from dify_project.api.pagination import paginate

JOB_KINDS = {"enable": "enable_app_annotation_job", "disable": "disable_app_annotation_job"}


class AnnotationOut(serializers.Serializer):
    id = serializers.UUIDField()
    question = serializers.CharField()
    answer = serializers.CharField()
    hit_count = serializers.IntegerField()
    created_at = serializers.IntegerField()


def annotation_out(annotation: MessageAnnotation) -> dict[str, Any]:
    return {
        "id": str(annotation.id),
        "question": annotation.question,
        "answer": annotation.content,
        "hit_count": annotation.hit_count,
        "created_at": timestamp(annotation.created_at),
    }


class AnnotationIn(serializers.Serializer):
    question = serializers.CharField(max_length=10_000)
    answer = serializers.CharField(max_length=100_000)


class AnnotationListQuery(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=99999)
    limit = serializers.IntegerField(required=False, default=20, min_value=1, max_value=100)
    keyword = serializers.CharField(required=False, allow_blank=True, max_length=255)


class ReplySettingIn(serializers.Serializer):
    embedding_provider_name = serializers.CharField(max_length=255)
    embedding_model_name = serializers.CharField(max_length=255)
    score_threshold = serializers.FloatField(min_value=0, max_value=1)


def _owner(app: Any) -> Any:
    owner = tenant_owner(tenant=app.tenant)
    if owner is None:
        raise Unauthorized("Tenant owner account not found or tenant is not active.")
    return owner


class AnnotationListApi(ServiceApiView):
    @extend_schema(parameters=[AnnotationListQuery], responses=AnnotationOut(many=True))
    def get(self, request: Request) -> Response:
        query = self.validate_query(AnnotationListQuery, request)
        annotations = selectors.annotation_list(app=self.app(request), keyword=query.get("keyword") or None)
        page = paginate(
            annotations,
            page=query["page"],
            limit=query["limit"],
            render=lambda rows: [annotation_out(a) for a in rows],
        )
        return Response(page)

    @extend_schema(request=AnnotationIn, responses={201: AnnotationOut})
    def post(self, request: Request) -> Response:
        app = self.app(request)
        data = self.validate(AnnotationIn, request.data)
        annotation = service.annotation_create(
            app=app, account=_owner(app), question=data["question"], answer=data["answer"]
        )
        return Response(annotation_out(annotation), status=201)


class AnnotationApi(ServiceApiView):
    @extend_schema(request=AnnotationIn, responses=AnnotationOut)
    def put(self, request: Request, annotation_id: str) -> Response:
        app = self.app(request)
        data = self.validate(AnnotationIn, request.data)
        annotation = selectors.annotation_get(app=app, annotation_id=annotation_id)
        annotation = service.annotation_update(
            annotation=annotation, account=_owner(app), question=data["question"], answer=data["answer"]
        )
        return Response(annotation_out(annotation))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, annotation_id: str) -> Response:
        annotation = selectors.annotation_get(app=self.app(request), annotation_id=annotation_id)
        service.annotation_delete(annotation=annotation)
        return Response(status=204)


def _kind(action: str) -> str:
    if action not in JOB_KINDS:
        raise InvalidParam("action must be 'enable' or 'disable'", params="action")
    return JOB_KINDS[action]


class AnnotationReplyApi(ServiceApiView):
    @extend_schema(
        request=ReplySettingIn,
        responses=inline_serializer(
            "AnnotationReplyJob", {"job_id": serializers.CharField(), "job_status": serializers.CharField()}
        ),
    )
    def post(self, request: Request, action: str) -> Response:
        _kind(action)
        app = self.app(request)
        if action == "enable":
            data = self.validate(ReplySettingIn, request.data)
            job = service.annotation_reply_enable(app=app, account=_owner(app), **data)
        else:
            job = service.annotation_reply_disable(app=app, account=_owner(app))
        return Response({"job_id": job["job_id"], "job_status": job["job_status"]})


class AnnotationReplyStatusApi(ServiceApiView):
    @extend_schema(
        responses=inline_serializer(
            "AnnotationReplyJobStatus",
            {
                "job_id": serializers.CharField(),
                "job_status": serializers.CharField(),
                "error_msg": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request, action: str, job_id: str) -> Response:
        status = service.job_status(kind=_kind(action), app=self.app(request), job_id=job_id)
        if status is None:
            raise InvalidParam("The job does not exist.")
        return Response(
            {
                "job_id": status["job_id"],
                "job_status": status["job_status"],
                "error_msg": status.get("error_msg", ""),
            }
        )
