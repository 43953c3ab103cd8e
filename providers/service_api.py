"""Service API (`/v1`) route of the providers app: the models a knowledge-base client may pick.

`GET /v1/workspaces/current/models/model-types/{model_type}` with a dataset key (`Bearer dataset-…`),
answering like the console's route of the same name. Keys are the apps app's (`ApiToken`), and apps sit
above providers, so `apps.services.api_keys` is imported inside the authentication call only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from dify_project.api.errors import Unauthorized
from dify_project.api.views import ApiView
from providers import selectors
from providers import serializers as s


@dataclass
class DatasetKeyCaller:
    """The principal of a dataset-key request: a key of one workspace, not a person."""

    tenant_id: str
    token_id: str
    is_authenticated: bool = True


class DatasetKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[DatasetKeyCaller, str]:
        from apps.services.api_keys import api_key_resolve  # apps depend on providers, not the reverse

        header = request.headers.get("Authorization")
        if header is None or " " not in header.strip():
            raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
        scheme, token = header.strip().split(None, 1)
        if scheme.lower() != "bearer":
            raise Unauthorized("Authorization scheme must be 'Bearer'")
        resolved = api_key_resolve(plain=token.strip(), scope="dataset")
        return DatasetKeyCaller(tenant_id=resolved.tenant_id, token_id=resolved.token_id), resolved.token_id

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class DatasetKeyScheme(OpenApiAuthenticationExtension):
    target_class = DatasetKeyAuthentication
    name = "DatasetApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A dataset API key: `dataset-…`"}


class AvailableModelsApi(ApiView):
    authentication_classes = [DatasetKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=s.DataListOut)
    def get(self, request: Request, model_type: str) -> Response:
        model_type = selectors.model_type_normalize(model_type)
        tenant_id = request.user.tenant_id
        entries = selectors.workspace_models(tenant=tenant_id, model_type=model_type)
        return Response({"data": s.providers_with_models_out(entries, tenant_id)})
