"""The base of every web-app API view: passport authentication; the app and end user come from the token.

``WebCallerMixin`` gives the Service API's view helpers (``app``, ``end_user``) their web-app meaning, so a
Service API view whose logic is the same serves ``/api`` by being mixed with it.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from apps.models import App, EndUser
from apps.service_api.base import ServiceApiView
from apps.web.authentication import WebPassportAuthentication
from dify_project.api.views import ApiView, AsyncApiView


class WebCallerMixin:
    authentication_classes = [WebPassportAuthentication]
    permission_classes = [IsAuthenticated]

    require_chat = staticmethod(ServiceApiView.require_chat)
    require_workflow = staticmethod(ServiceApiView.require_workflow)

    @staticmethod
    def app(request: Request) -> App:
        return request.user.app

    @staticmethod
    def end_user(request: Request, user: Any = None, *, required: bool = True) -> EndUser:
        # The passport names the end user; a `user` field in the request is ignored, as in Dify.
        return request.user.end_user

    @staticmethod
    def body_user(request: Request) -> Any:
        return None


class AsyncWebCallerMixin(WebCallerMixin):
    @staticmethod
    async def end_user(request: Request, user: Any = None, *, required: bool = True) -> EndUser:  # type: ignore[override]
        return request.user.end_user


class WebApiView(WebCallerMixin, ApiView):
    pass


class AsyncWebApiView(AsyncWebCallerMixin, AsyncApiView):
    pass
