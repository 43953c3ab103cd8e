"""Service API authentication: ``Authorization: Bearer app-…`` resolves the app and its workspace.

Messages and statuses follow Dify's ``controllers/service_api/wraps.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from accounts.models import Tenant
from apps.models import App
from apps.services.api_keys import api_key_resolve, app_for_key
from dify_project.api.errors import Unauthorized


@dataclass
class AppCaller:
    """The authenticated principal of a Service API request: an app key, not a person."""

    app: App
    token_id: str
    is_authenticated: bool = True

    @property
    def tenant(self) -> Tenant:
        return self.app.tenant


def _presented_key(request: Request) -> str:
    header = request.headers.get("Authorization")
    if header is None or " " not in header.strip():
        raise Unauthorized("Authorization header must be provided and start with 'Bearer'")
    scheme, token = header.strip().split(None, 1)
    if scheme.lower() != "bearer":
        raise Unauthorized("Authorization scheme must be 'Bearer'")
    return token.strip()


class AppKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[AppCaller, str]:
        resolved = api_key_resolve(plain=_presented_key(request), scope="app")
        app = app_for_key(resolved=resolved)
        request.tenant = app.tenant
        return AppCaller(app=app, token_id=resolved.token_id), resolved.token_id

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class AppKeyScheme(OpenApiAuthenticationExtension):
    target_class = AppKeyAuthentication
    name = "AppApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An app API key: `app-…`"}
