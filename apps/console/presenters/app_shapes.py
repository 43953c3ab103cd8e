"""Console output shapes for apps: accounts, tags, model configs, sites, app details and lists, API keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from rest_framework.request import Request

from accounts.models import Account, Tenant
from apps import selectors
from apps.models import (
    ApiToken,
    App,
    AppAnnotationSetting,
    EndUser,
    Site,
    Tag,
)
from apps.services.model_config import model_config_to_dict
from dify_project.api.fields import timestamp
from workflows.models import Workflow


def simple_account(account: Account | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {"id": str(account.id), "name": account.name, "email": account.email}


def simple_end_user(end_user: EndUser | None) -> dict[str, Any] | None:
    if end_user is None:
        return None
    return {
        "id": str(end_user.id),
        "type": end_user.type,
        "is_anonymous": end_user.is_anonymous,
        "session_id": end_user.session_id,
    }


def _str(value: Any) -> str | None:
    return str(value) if value else None


def base_url(request: Request, setting: str) -> str:
    configured = getattr(settings, setting, "") or ""
    return (configured or request.build_absolute_uri("/")).rstrip("/")


def icon_url(icon_type: str, icon: str) -> str | None:
    if icon_type != "image" or not icon:
        return None
    files_url = (getattr(settings, "FILES_URL", "") or "").rstrip("/")
    return f"{files_url}/files/{icon}/file-preview"


def tag(tag: Tag, binding_count: int | None = None) -> dict[str, Any]:
    body = {"id": str(tag.id), "name": tag.name, "type": tag.type}
    if binding_count is not None:
        body["binding_count"] = str(binding_count)
    return body


def annotation_reply(setting: AppAnnotationSetting | None) -> dict[str, Any]:
    if setting is None or not setting.enabled:
        return {"enabled": False}
    return {
        "id": str(setting.id),
        "enabled": True,
        "score_threshold": setting.score_threshold,
        "embedding_model": {
            "embedding_provider_name": setting.embedding_provider_name,
            "embedding_model_name": setting.embedding_model_name,
        },
    }


def model_config(app: App, setting: AppAnnotationSetting | None = None) -> dict[str, Any] | None:
    row = app.app_model_config
    if row is None:
        return None
    body = model_config_to_dict(row.config)
    body["annotation_reply"] = annotation_reply(setting)
    body.update(
        {
            "created_by": _str(row.created_by),
            "created_at": timestamp(row.created_at),
            "updated_by": _str(row.created_by),
            "updated_at": timestamp(row.created_at),
        }
    )
    return body


def model_config_partial(app: App) -> dict[str, Any] | None:
    row = app.app_model_config
    if row is None:
        return None
    config = model_config_to_dict(row.config)
    return {
        "model": config["model"],
        "pre_prompt": config["pre_prompt"],
        "created_by": _str(row.created_by),
        "created_at": timestamp(row.created_at),
        "updated_by": _str(row.created_by),
        "updated_at": timestamp(row.created_at),
    }


def workflow_partial(workflow: Workflow | None) -> dict[str, Any] | None:
    if workflow is None:
        return None
    return {
        "id": str(workflow.id),
        "created_by": _str(workflow.created_by),
        "created_at": timestamp(workflow.created_at),
        "updated_by": _str(workflow.updated_by),
        "updated_at": timestamp(workflow.updated_at),
    }


def site(site: Site | None, request: Request, *, with_app_id: bool = False) -> dict[str, Any] | None:
    if site is None:
        return None
    body = {
        "access_token": site.code,
        "code": site.code,
        "title": site.title,
        "icon_type": site.icon_type or None,
        "icon": site.icon,
        "icon_background": site.icon_background,
        "icon_url": icon_url(site.icon_type, site.icon),
        "description": site.description,
        "default_language": site.default_language,
        "chat_color_theme": site.chat_color_theme or None,
        "chat_color_theme_inverted": site.chat_color_theme_inverted,
        "customize_domain": site.customize_domain or None,
        "copyright": site.copyright or None,
        "privacy_policy": site.privacy_policy or None,
        "custom_disclaimer": site.custom_disclaimer,
        "customize_token_strategy": site.customize_token_strategy,
        "prompt_public": site.prompt_public,
        "app_base_url": base_url(request, "APP_WEB_URL"),
        "show_workflow_steps": site.show_workflow_steps,
        "use_icon_as_answer_icon": site.use_icon_as_answer_icon,
        "created_by": None,
        "created_at": timestamp(site.created_at),
        "updated_by": None,
        "updated_at": timestamp(site.updated_at),
    }
    if with_app_id:
        body["app_id"] = str(site.app_id)
    return body


def app_detail(app: App, request: Request, *, tenant: Tenant) -> dict[str, Any]:
    """Dify's ``app_detail_fields_with_site``, plus ``tags``, ``max_active_requests`` and ``tracing``."""
    tags = selectors.tags_by_target(tenant=tenant, target_ids=[app.id]).get(str(app.id), [])
    setting = selectors.annotation_setting_of(app=app) if app.app_model_config_id else None
    return {
        "id": str(app.id),
        "name": app.name,
        "description": app.description,
        "mode": app.mode,
        "icon_type": app.icon_type,
        "icon": app.icon,
        "icon_background": app.icon_background,
        "icon_url": icon_url(app.icon_type, app.icon),
        "enable_site": app.enable_site,
        "enable_api": app.enable_api,
        "model_config": model_config(app, setting),
        "workflow": workflow_partial(app.workflow),
        "site": site(selectors.site_of(app=app), request),
        "api_base_url": base_url(request, "SERVICE_API_URL") + "/v1",
        "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
        "max_active_requests": app.max_active_requests,
        "tracing": app.tracing,
        "created_by": _str(app.created_by),
        "created_at": timestamp(app.created_at),
        "updated_by": _str(app.updated_by),
        "updated_at": timestamp(app.updated_at),
        "deleted_tools": [],
        "access_mode": None,
        "tags": [tag(t) for t in tags],
    }


def app_list(apps: Sequence[App], *, tenant: Tenant) -> list[dict[str, Any]]:
    """Dify's ``app_partial_fields`` for a page of apps: tags and creators in one query each."""
    tags = selectors.tags_by_target(tenant=tenant, target_ids=[a.id for a in apps])
    creators = selectors.accounts_by_id(a.created_by for a in apps)
    result = []
    for app in apps:
        config = model_config_partial(app)
        creator = creators.get(str(app.created_by))
        description = app.description or (config["pre_prompt"] if config else "") or ""
        result.append(
            {
                "id": str(app.id),
                "name": app.name,
                "max_active_requests": app.max_active_requests,
                "description": description,
                "mode": app.mode,
                "icon_type": app.icon_type,
                "icon": app.icon,
                "icon_background": app.icon_background,
                "icon_url": icon_url(app.icon_type, app.icon),
                "model_config": config,
                "workflow": workflow_partial(app.workflow),
                "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
                "created_by": _str(app.created_by),
                "created_at": timestamp(app.created_at),
                "updated_by": _str(app.updated_by),
                "updated_at": timestamp(app.updated_at),
                "tags": [tag(t) for t in tags.get(str(app.id), [])],
                "access_mode": None,
                "create_user_name": creator.name if creator else None,
                "author_name": creator.name if creator else None,
            }
        )
    return result


def api_key(token: ApiToken, plain: str | None = None) -> dict[str, Any]:
    """A key as listed (its visible prefix) or, once at creation, with the whole secret."""
    return {
        "id": str(token.id),
        "type": token.type,
        "token": plain if plain is not None else f"{token.prefix}…",
        "last_used_at": timestamp(token.last_used_at),
        "created_at": timestamp(token.created_at),
    }
