"""Shared pieces of the console app views: role sets and the app lookup every app endpoint starts with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request

from accounts.models import TenantRole
from apps import selectors
from apps.models import App, AppMode
from dify_project.api.parsers import SafeJSONParser
from dify_project.api.views import WorkspaceApiView

EDITORS = TenantRole.editing()
ADMINS = TenantRole.privileged()
SUCCESS = {"result": "success"}
WORKFLOW_MODES = AppMode.workflow_modes()
CHAT_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.ADVANCED_CHAT})
MODEL_CONFIG_MODES = frozenset({AppMode.CHAT, AppMode.AGENT_CHAT, AppMode.COMPLETION})

APP_ID = OpenApiParameter("app_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="App id")


PARSERS = [SafeJSONParser, FormParser, MultiPartParser]


class ConsoleApiView(WorkspaceApiView):
    """An endpoint of your workspace's console."""

    parser_classes = PARSERS


class AppApiView(ConsoleApiView):
    """About one app of your workspace: every member reads, editors (owner, admin, editor) write. An app of
    another workspace, or an id that is not a UUID, answers 404; an app of the wrong mode 400
    ``app_unavailable``."""

    read_roles = None
    write_roles = EDITORS
    app_modes: Iterable[str] | None = None

    def get_app(self, request: Request, app_id: Any) -> App:
        return selectors.app_get(tenant=request.tenant, app_id=app_id, modes=self.app_modes)
