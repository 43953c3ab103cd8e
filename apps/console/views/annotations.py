"""Annotations of an app from the console, the annotation-reply setting, and tags."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from apps import selectors
from apps.console import presenters
from apps.console import serializers as s
from apps.console.views.common import APP_ID, EDITORS, SUCCESS, AppApiView, ConsoleApiView, SafeJSONParser
from apps.models import MessageAnnotation
from apps.services import annotations as services
from apps.services import tags as tag_services
from dify_project.api.errors import ApiError, InvalidParam, NotFound
from dify_project.api.fields import ResultOut
from dify_project.api.pagination import paginate

ANNOTATION_ID = OpenApiParameter("annotation_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
JOB_ID = OpenApiParameter("job_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
ACTION = OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["enable", "disable"])
TAG_ID = OpenApiParameter("tag_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class _AnnotationView(AppApiView):
    """Annotations of one app of your workspace; as in Dify they are an editor's tool, to read too."""

    read_roles = EDITORS


class AnnotationListApi(_AnnotationView):
    @extend_schema(
        operation_id="console_api_apps_annotations_list",
        parameters=[APP_ID, s.ConsoleAnnotationListQuery],
        responses=s.ConsoleAnnotationPageOut,
        summary="Annotations of the app",
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        query = self.validate_query(s.ConsoleAnnotationListQuery, request)
        rows = selectors.annotation_list(app=app, keyword=query.get("keyword") or None)
        return Response(
            paginate(
                rows,
                page=query["page"],
                limit=query["limit"],
                render=lambda p: [presenters.annotation(a) for a in p],
            )
        )

    @extend_schema(
        operation_id="console_api_apps_annotations_add",
        parameters=[APP_ID],
        request=s.ConsoleAnnotationIn,
        responses=s.ConsoleAnnotationOut,
        summary="Add an annotation (from a message with message_id: created or replaced)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        data = self.validate(s.ConsoleAnnotationIn, request.data)
        annotation = services.annotation_create(
            app=app,
            account=request.user,
            question=data.get("question") or None,
            answer=data["answer"],
            message_id=data.get("message_id") or None,
        )
        return Response(presenters.annotation(annotation))

    @extend_schema(
        operation_id="console_api_apps_annotations_bulk_destroy",
        parameters=[APP_ID, OpenApiParameter("annotation_id", OpenApiTypes.UUID, many=True)],
        request=None,
        responses={204: None},
        summary="Delete the given annotations (all when none given)",
    )
    def delete(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        services.annotations_delete(
            app=app, annotation_ids=request.query_params.getlist("annotation_id") or None
        )
        return Response(status=204)


class AnnotationCountApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID], responses=s.ConsoleAnnotationCountOut, summary="Number of annotations"
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response({"count": MessageAnnotation.objects.filter(app=app).count()})


class AnnotationApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, ANNOTATION_ID],
        request=s.ConsoleAnnotationUpdateIn,
        responses=s.ConsoleAnnotationOut,
        summary="Edit an annotation",
    )
    def post(self, request: Request, app_id: str, annotation_id: str) -> Response:
        app = self.get_app(request, app_id)
        annotation = selectors.annotation_get(app=app, annotation_id=annotation_id)
        data = self.validate(s.ConsoleAnnotationUpdateIn, request.data)
        services.annotation_update(
            annotation=annotation, account=request.user, question=data["question"], answer=data["answer"]
        )
        return Response(presenters.annotation(annotation))

    @extend_schema(
        parameters=[APP_ID, ANNOTATION_ID],
        request=None,
        responses={204: None},
        summary="Delete an annotation",
    )
    def delete(self, request: Request, app_id: str, annotation_id: str) -> Response:
        app = self.get_app(request, app_id)
        services.annotation_delete(annotation=selectors.annotation_get(app=app, annotation_id=annotation_id))
        return Response(status=204)


class AnnotationExportApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, OpenApiParameter("file_format", OpenApiTypes.STR, enum=["json", "csv"])],
        responses={
            200: OpenApiResponse(
                s.ConsoleAnnotationExportOut, description="JSON, or text/csv with file_format=csv"
            )
        },
        summary="Export all annotations (JSON as Dify, or CSV)",
    )
    def get(self, request: Request, app_id: str) -> Response | HttpResponse:
        app = self.get_app(request, app_id)
        if request.query_params.get("file_format") == "csv":
            response = HttpResponse(
                services.annotations_export_csv(app=app), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="annotations-{app.id}.csv"'
            return response
        rows = selectors.annotation_list(app=app)
        return Response({"data": [presenters.annotation(a) for a in rows]})


class AnnotationBatchImportApi(_AnnotationView):
    parser_classes = [MultiPartParser, FormParser, SafeJSONParser]

    @extend_schema(
        parameters=[APP_ID],
        request={"multipart/form-data": s.ConsoleAnnotationUploadIn},
        responses=s.ConsoleJobOut,
        summary="Import annotations from a CSV (question,answer; header row first)",
    )
    def post(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        files = request.FILES
        if "file" not in files:
            raise ApiError("No file uploaded.", code="no_file_uploaded")
        if len(files) > 1:
            raise ApiError("Only one file is allowed.", code="too_many_files")
        upload = files["file"]
        if not (upload.name or "").lower().endswith(".csv"):
            raise InvalidParam("Invalid file type. Only CSV files are allowed.")
        if upload.size and upload.size > services.IMPORT_MAX_BYTES:
            raise services.FileTooLarge(
                f"The CSV file is larger than {services.IMPORT_MAX_BYTES // (1024 * 1024)} MB."
            )
        return Response(services.annotations_import_csv(app=app, account=request.user, content=upload.read()))


class AnnotationBatchImportStatusApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, JOB_ID], responses=s.ConsoleJobOut, summary="Status of an annotation import"
    )
    def get(self, request: Request, app_id: str, job_id: str) -> Response:
        app = self.get_app(request, app_id)
        status = services.job_status(
            kind="app_annotation_batch_import", app=app, job_id=selectors.parse_id(job_id, what="Job")
        )
        if status is None:
            raise NotFound("The job does not exist.")
        return Response(status)


class AnnotationHitHistoryListApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, ANNOTATION_ID, s.ConsoleAnnotationListQuery],
        responses=s.ConsoleAnnotationHitPageOut,
        summary="When an annotation answered a question",
    )
    def get(self, request: Request, app_id: str, annotation_id: str) -> Response:
        app = self.get_app(request, app_id)
        annotation = selectors.annotation_get(app=app, annotation_id=annotation_id)
        query = self.validate_query(s.ConsoleAnnotationListQuery, request)
        rows = selectors.annotation_hit_histories(app=app, annotation=annotation)
        return Response(
            paginate(rows, page=query["page"], limit=query["limit"], render=presenters.annotation_hits)
        )


class AnnotationReplyActionApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, ACTION],
        request=s.ConsoleAnnotationReplyIn,
        responses=s.ConsoleJobOut,
        summary="Turn annotation reply on (with its score threshold and embedding model) or off",
    )
    def post(self, request: Request, app_id: str, action: str) -> Response:
        app = self.get_app(request, app_id)
        if action == "enable":
            data = self.validate(s.ConsoleAnnotationReplyIn, request.data)
            return Response(services.annotation_reply_enable(app=app, account=request.user, **data))
        if action == "disable":
            return Response(services.annotation_reply_disable(app=app, account=request.user))
        raise InvalidParam("Unsupported annotation reply action: use enable or disable.")


class AnnotationReplyActionStatusApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID, ACTION, JOB_ID],
        responses=s.ConsoleJobOut,
        summary="Status of an enable/disable job",
    )
    def get(self, request: Request, app_id: str, action: str, job_id: str) -> Response:
        app = self.get_app(request, app_id)
        status = services.job_status(
            kind=f"{action}_app_annotation_job", app=app, job_id=selectors.parse_id(job_id, what="Job")
        )
        if status is None:
            raise NotFound("The job does not exist.")
        return Response(status)


class AnnotationSettingApi(_AnnotationView):
    @extend_schema(
        parameters=[APP_ID], responses=s.ConsoleAnnotationSettingOut, summary="The annotation-reply setting"
    )
    def get(self, request: Request, app_id: str) -> Response:
        app = self.get_app(request, app_id)
        return Response(presenters.annotation_reply(selectors.annotation_setting_of(app=app)))


class AnnotationSettingUpdateApi(_AnnotationView):
    @extend_schema(
        parameters=[
            APP_ID,
            OpenApiParameter("annotation_setting_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        request=s.ConsoleAnnotationSettingIn,
        responses=s.ConsoleAnnotationSettingOut,
        summary="Change the reply score threshold",
    )
    def post(self, request: Request, app_id: str, annotation_setting_id: str) -> Response:
        app = self.get_app(request, app_id)
        setting = selectors.annotation_setting_of(app=app)
        if setting is None or str(setting.id) != str(
            selectors.parse_id(annotation_setting_id, what="Annotation setting")
        ):
            raise NotFound("Annotation setting not found.")
        data = self.validate(s.ConsoleAnnotationSettingIn, request.data)
        services.annotation_setting_update(
            setting=setting, account=request.user, score_threshold=data["score_threshold"]
        )
        return Response(presenters.annotation_reply(setting))


# --- tags -------------------------------------------------------------------------------------------------------


class TagListApi(ConsoleApiView):
    """Tags of your workspace: members list them, editors create them."""

    write_roles = EDITORS

    @extend_schema(
        parameters=[s.ConsoleTagListQuery],
        responses=s.ConsoleTagOut(many=True),
        summary="Tags of the workspace",
    )
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ConsoleTagListQuery, request)
        tags = selectors.tag_list(
            tenant=request.tenant, type=query["type"] or None, keyword=query.get("keyword")
        )
        return Response([presenters.tag(t, t.binding_count) for t in tags])

    @extend_schema(request=s.ConsoleTagIn, responses=s.ConsoleTagOut, summary="Create a tag")
    def post(self, request: Request) -> Response:
        data = self.validate(s.ConsoleTagIn, request.data)
        tag = tag_services.tag_create(
            tenant=request.tenant, account=request.user, name=data["name"], type=data["type"]
        )
        return Response(presenters.tag(tag, 0))


class TagApi(ConsoleApiView):
    """One tag of your workspace (editors rename or delete it)."""

    write_roles = EDITORS

    @extend_schema(
        parameters=[TAG_ID], request=s.ConsoleTagUpdateIn, responses=s.ConsoleTagOut, summary="Rename a tag"
    )
    def patch(self, request: Request, tag_id: str) -> Response:
        tag = selectors.tag_get(tenant=request.tenant, tag_id=tag_id)
        data = self.validate(s.ConsoleTagUpdateIn, request.data)
        tag_services.tag_update(tag=tag, name=data["name"])
        return Response(presenters.tag(tag, tag.bindings.count()))

    @extend_schema(
        parameters=[TAG_ID], request=None, responses={204: None}, summary="Delete a tag and its bindings"
    )
    def delete(self, request: Request, tag_id: str) -> Response:
        tag_services.tag_delete(tag=selectors.tag_get(tenant=request.tenant, tag_id=tag_id))
        return Response(status=204)


class TagBindingCreateApi(ConsoleApiView):
    """Editors bind tags of your workspace to its apps (or datasets)."""

    write_roles = EDITORS

    @extend_schema(
        request=s.ConsoleTagBindingIn, responses=ResultOut, summary="Bind tags to an app (or dataset)"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.ConsoleTagBindingIn, request.data)
        tag_services.tag_bind(
            tenant=request.tenant,
            account=request.user,
            tag_ids=data["tag_ids"],
            target_id=data["target_id"],
            type=data["type"],
        )
        return Response(SUCCESS)


class TagBindingRemoveApi(ConsoleApiView):
    """Editors unbind tags of your workspace from its apps (or datasets)."""

    write_roles = EDITORS

    @extend_schema(
        request=s.ConsoleTagUnbindingIn, responses=ResultOut, summary="Unbind tags from an app (or dataset)"
    )
    def post(self, request: Request) -> Response:
        data = self.validate(s.ConsoleTagUnbindingIn, request.data)
        tag_services.tag_unbind(
            tenant=request.tenant, tag_ids=data["tag_ids"], target_id=data["target_id"], type=data["type"]
        )
        return Response(SUCCESS)
