"""Web-app authentication: ``Authorization: Bearer <passport>`` (from ``GET /api/passport``) names the app's
site and the end user; the site's access mode is checked on every request (Dify's ``web/wraps.py``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.services.web_app import WebCaller, passport_resolve
from dify_project.api.errors import Unauthorized

APP_CODE_HEADER = "X-App-Code"


def bearer_token(request: Request) -> str | None:
    header = (request.headers.get("Authorization") or "").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Invalid Authorization header format. Expected 'Bearer <api-key>' format.")
    return token.strip()


class WebPassportAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[WebCaller, str]:
        token = bearer_token(request)
        if token is None:
            raise Unauthorized("App token is missing.")
        caller = passport_resolve(token=token, app_code=request.headers.get(APP_CODE_HEADER))
        request.tenant = caller.app.tenant
        return caller, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class WebPassportScheme(OpenApiAuthenticationExtension):
    target_class = WebPassportAuthentication
    name = "WebAppPassport"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A web-app passport from `GET /api/passport`",
        }
