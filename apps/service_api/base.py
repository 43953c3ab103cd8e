"""The base of every Service API view: app-key authentication, the end user, app-mode gates."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from apps import exceptions as errors
from apps.models import App, AppMode, EndUser
from apps.service_api.authentication import AppKeyAuthentication
from apps.services.end_users import end_user_get_or_create
from dify_project.api.errors import InvalidParam
from dify_project.api.views import ApiView


class ServiceApiView(ApiView):
    authentication_classes = [AppKeyAuthentication]
    permission_classes = [IsAuthenticated]

    @staticmethod
    def app(request: Request) -> App:
        return request.user.app

    @staticmethod
    def end_user(request: Request, user: Any, *, required: bool = True) -> EndUser:
        """Dify's `user` argument: required on most endpoints ("Arg user must be provided.")."""
        if user in (None, "") and required:
            raise InvalidParam("Arg user must be provided.", params="user")
        return end_user_get_or_create(app=ServiceApiView.app(request), user=str(user) if user else None)

    @staticmethod
    def body_user(request: Request) -> Any:
        data = request.data
        if hasattr(data, "get"):
            return data.get("user")
        raise InvalidParam("Invalid JSON payload received or JSON payload is empty.")

    @staticmethod
    def require_chat(app: App) -> None:
        if app.mode not in AppMode.chat_modes():
            raise errors.NotChatApp()

    @staticmethod
    def require_workflow(app: App, *, allow_chatflow: bool = False) -> None:
        allowed = AppMode.workflow_modes() if allow_chatflow else {AppMode.WORKFLOW}
        if app.mode not in allowed:
            raise errors.NotWorkflowApp()
