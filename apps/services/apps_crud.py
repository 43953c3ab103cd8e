"""Apps: create (blank or from a template), update, delete with everything they own, publication toggles,
and pointing an app at a newly published workflow version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from accounts.models import Account, Tenant
from apps.models import (
    ApiToken,
    App,
    AppAnnotationHitHistory,
    AppAnnotationSetting,
    AppMode,
    AppModelConfig,
    Conversation,
    EndUser,
    IconType,
    Message,
    MessageAgentThought,
    MessageAnnotation,
    MessageFeedback,
    MessageFile,
    Site,
    TagBinding,
)
from apps.services.api_keys import api_key_delete
from apps.services.app_datasets import app_datasets_clear, dataset_ids_of_graph
from apps.services.model_config import model_config_defaults, model_config_save
from apps.services.sites import site_create
from knowledge.services.datasets import app_dataset_joins_sync
from workflows.models import Workflow
from workflows.services.cleanup import workflows_delete_for_app
from workflows.services.drafts import workflow_draft_create_default
from workflows.services.versions import workflow_publish

UPDATABLE_FIELDS = (
    "name",
    "description",
    "icon_type",
    "icon",
    "icon_background",
    "use_icon_as_answer_icon",
    "max_active_requests",
)


def _icon_type(value: str | None) -> str:
    return value if value in IconType.values else IconType.EMOJI


@transaction.atomic
def app_create(
    *,
    tenant: Tenant,
    account: Account,
    name: str,
    mode: str,
    description: str = "",
    icon_type: str | None = None,
    icon: str | None = None,
    icon_background: str | None = None,
    blank: bool = True,
) -> App:
    """A new app with its site; blank apps also get the mode's starting configuration (a default model
    config for chat/completion/agent-chat, a default draft graph for workflow/advanced-chat).
    ``blank=False`` leaves configuration to the caller (the DSL import)."""
    app = App.objects.create(
        tenant=tenant,
        name=name,
        description=description or "",
        mode=mode,
        icon_type=_icon_type(icon_type),
        icon=icon if icon is not None else "🤖",
        icon_background=icon_background or "#FFEAD5",
        enable_site=True,
        enable_api=True,
        created_by=account.id,
        updated_by=account.id,
    )
    site_create(app=app, account=account)
    if blank:
        if mode in AppMode.workflow_modes():
            workflow_draft_create_default(
                tenant_id=tenant.id, app_id=app.id, mode=mode, account_id=account.id
            )
        else:
            model_config_save(app=app, account=account, config=model_config_defaults(mode))
    return app


@transaction.atomic
def app_update(*, app: App, account: Account, data: Mapping[str, Any]) -> App:
    """Change the given fields (Dify's ``PUT /apps/{id}``); absent fields keep their value."""
    changed = []
    for field in UPDATABLE_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field == "icon_type":
            value = _icon_type(value)
        if field in ("description", "icon", "icon_background") and value is None:
            value = ""
        if field == "use_icon_as_answer_icon" and value is None:
            continue
        setattr(app, field, value)
        changed.append(field)
    app.updated_by = account.id
    app.save(update_fields=[*changed, "updated_by", "updated_at"])
    return app


def app_set_site_enabled(*, app: App, account: Account, enabled: bool) -> App:
    app.enable_site = enabled
    app.updated_by = account.id
    app.save(update_fields=["enable_site", "updated_by", "updated_at"])
    return app


def app_set_api_enabled(*, app: App, account: Account, enabled: bool) -> App:
    app.enable_api = enabled
    app.updated_by = account.id
    app.save(update_fields=["enable_api", "updated_by", "updated_at"])
    return app


@transaction.atomic
def app_publish_workflow(
    *, app: App, account: Account, marked_name: str = "", marked_comment: str = ""
) -> Workflow:
    """Publish the app's draft as a new version and serve it: ``App.workflow`` points at it afterwards.
    A draft that does not validate is refused (400) and the app keeps its current version."""
    workflow = workflow_publish(
        tenant_id=app.tenant_id,
        app_id=app.id,
        account_id=account.id,
        marked_name=marked_name,
        marked_comment=marked_comment,
    )
    app.workflow = workflow
    app.updated_by = account.id
    app.save(update_fields=["workflow", "updated_by", "updated_at"])
    app_dataset_joins_sync(
        tenant_id=app.tenant_id, app_id=app.id, dataset_ids=dataset_ids_of_graph(workflow.graph)
    )
    return workflow


@transaction.atomic
def app_delete(*, app: App) -> None:
    """Delete an app and everything it owns, in one transaction: site, model configs, API keys (their
    cached resolutions too), end users, conversations, messages and their feedback, files, thoughts and
    annotations, annotation settings and hits, tag bindings, workflows, runs, node executions and logs.

    Leaf tables first, each with set-based deletes, so a large app does not load its rows one by one.
    """
    scope = {"app": app}
    TagBinding.objects.filter(tenant_id=app.tenant_id, target_id=app.id).delete()
    AppAnnotationHitHistory.objects.filter(**scope).delete()
    MessageAnnotation.objects.filter(**scope).delete()
    AppAnnotationSetting.objects.filter(**scope).delete()
    MessageFeedback.objects.filter(**scope).delete()
    MessageFile.objects.filter(message__app=app).delete()
    MessageAgentThought.objects.filter(message__app=app).delete()
    Message.objects.filter(**scope).delete()
    Conversation.objects.filter(**scope).delete()
    EndUser.objects.filter(**scope).delete()
    for token in ApiToken.objects.filter(**scope):
        api_key_delete(token=token)
    Site.objects.filter(**scope).delete()
    App.objects.filter(id=app.id).update(app_model_config=None, workflow=None)
    AppModelConfig.objects.filter(**scope).delete()
    workflows_delete_for_app(tenant_id=app.tenant_id, app_id=app.id)
    app_datasets_clear(tenant_id=app.tenant_id, app_id=app.id)
    App.objects.filter(id=app.id).delete()
