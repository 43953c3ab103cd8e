"""Importing and exporting apps as Dify DSL (YAML), copying apps, and apps from shipped templates.

The DSL format itself (parsing, version rule, graph checks, YAML layout) is in ``workflows.dsl``; this
module decides what to store. Import follows Dify's ``AppDslService``:

* ``completed`` / ``completed-with-warnings`` (older minor version): the app is created (or, with
  ``app_id``, a workflow/advanced-chat app's draft is overwritten); with ``publish`` (beyond Dify, which
  ignores the key) the imported draft is also published as the app's next version, in the same
  transaction, so a file is promoted from one workspace to another in one call;
* ``pending`` (newer version, or older major): nothing is stored; the import waits 10 minutes for
  ``confirm`` (``POST /apps/imports/{id}/confirm``);
* ``failed``: nothing is stored; ``error`` names the problem.

Every import runs in one transaction: a failure part-way leaves no app, site or draft behind.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction

from accounts.models import Account, Tenant
from apps.models import App, AppMode
from apps.services.apps_crud import app_create, app_publish_workflow
from apps.services.dsl_datasets import resolve_graph_datasets
from apps.services.model_config import model_config_save, model_config_to_dict
from apps.services.workflow_tests import test_cases_export, test_cases_import
from dify_project.api.errors import ApiError, NotFound
from workflows.dsl import CURRENT_DSL_VERSION, DslDocument, DslError, ImportStatus, dump_yaml, parse_dsl
from workflows.dsl.dependencies import (
    dependencies_for,
    plugin_of_dependency,
    providers_of_graph,
    providers_of_model_config,
)
from workflows.dsl.export import workflow_block, workflow_dependencies
from workflows.dsl.fetch import fetch_dsl
from workflows.dsl.pending import (
    dependencies_load,
    dependencies_save,
    pending_import_delete,
    pending_import_load,
    pending_import_save,
)
from workflows.dsl.versions import parse_version
from workflows.selectors import draft_get, version_get
from workflows.services.drafts import workflow_draft_sync
from workflows.services.errors import WorkflowNotFound
from workflows.testcases import DSL_KEY as TEST_CASES_KEY

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
IMPORT_MODES = ("yaml-content", "yaml-url")


@dataclass(frozen=True)
class Promotion:
    """Publish the imported draft as a new version (``marked_name``/``marked_comment`` label it)."""

    publish: bool = False
    marked_name: str = ""
    marked_comment: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "publish": self.publish,
            "marked_name": self.marked_name,
            "marked_comment": self.marked_comment,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Promotion:
        data = data if isinstance(data, dict) else {}
        return cls(
            publish=bool(data.get("publish")),
            marked_name=str(data.get("marked_name") or ""),
            marked_comment=str(data.get("marked_comment") or ""),
        )


@dataclass
class ImportResult:
    """Dify's ``Import`` body, plus what this platform adds (``warnings``, ``dependencies``, ``code``)."""

    id: str
    status: str
    app_id: str | None = None
    app_mode: str | None = None
    current_dsl_version: str = CURRENT_DSL_VERSION
    imported_dsl_version: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)
    dependencies: list[Any] = field(default_factory=list)
    code: str = ""
    http_status: int = 200
    workflow_id: str | None = None  # the version published by an import with ``publish``

    def body(self) -> dict[str, Any]:
        body = {
            "id": self.id,
            "status": self.status,
            "app_id": self.app_id,
            "app_mode": self.app_mode,
            "current_dsl_version": self.current_dsl_version,
            "imported_dsl_version": self.imported_dsl_version,
            "error": self.error,
            "warnings": self.warnings,
            "dependencies": self.dependencies,
        }
        if self.workflow_id:
            body["workflow_id"] = self.workflow_id
        if self.status == ImportStatus.FAILED:
            # Dify's error body keys too, so clients that read `code`/`message` see the problem named.
            body["code"] = self.code or "invalid_dsl"
            body["message"] = self.error
        return body


def _failed(import_id: str, message: str, *, code: str, status: int = 400, version: str = "") -> ImportResult:
    return ImportResult(
        id=import_id,
        status=ImportStatus.FAILED,
        error=message,
        code=code,
        http_status=status,
        imported_dsl_version=version,
    )


def _dependencies_of(document: DslDocument) -> list[Any]:
    if document.dependencies:
        return document.dependencies
    version = parse_version(document.version)
    if version is not None and version <= (0, 1, 5):  # Dify derives them only for files this old
        if document.mode in ("workflow", "advanced-chat"):
            return dependencies_for(providers_of_graph(document.workflow.get("graph") or {}))
        return dependencies_for(providers_of_model_config(document.model_config))
    return []


def _target_app(*, tenant: Tenant, app_id: Any, document: DslDocument) -> App:
    try:
        pk = uuid.UUID(str(app_id))
    except ValueError:
        raise DslError("App not found: app_id is not a valid id.", code="not_found", status=404) from None
    app = App.objects.for_tenant(tenant).filter(id=pk, status="normal").first()
    if app is None:
        raise DslError("App not found.", code="not_found", status=404)
    if app.mode not in AppMode.workflow_modes():
        raise DslError("Only workflow or advanced chat apps can be overwritten.", code="invalid_param")
    if document.mode != app.mode:
        raise DslError(
            f"The DSL is a '{document.mode}' app and cannot overwrite a '{app.mode}' app.",
            code="invalid_param",
        )
    return app


def _apply(
    *,
    tenant: Tenant,
    account: Account,
    document: DslDocument,
    app: App | None,
    overrides: dict[str, Any],
    promotion: Promotion | None = None,
) -> tuple[App, str | None]:
    """Store the document: create the app (or update the one being overwritten) and its configuration."""
    meta = document.app
    icon_type = overrides.get("icon_type") or meta.get("icon_type")
    icon = overrides.get("icon") or str(meta.get("icon") or "")
    if app is None:
        app = app_create(
            tenant=tenant,
            account=account,
            name=str(overrides.get("name") or meta.get("name") or "")[:255],
            mode=document.mode,
            description=str(overrides.get("description") or meta.get("description") or ""),
            icon_type=icon_type,
            icon=icon[:255],
            icon_background=str(overrides.get("icon_background") or meta.get("icon_background") or "#FFFFFF")[
                :255
            ],
            blank=False,
        )
        app.use_icon_as_answer_icon = bool(meta.get("use_icon_as_answer_icon", False))
        app.save(update_fields=["use_icon_as_answer_icon"])
    else:
        app.name = str(overrides.get("name") or meta.get("name") or app.name)[:255]
        app.description = str(overrides.get("description") or meta.get("description") or app.description)
        app.icon_type = icon_type if icon_type in ("emoji", "image", "link") else "emoji"
        app.icon = icon[:255]
        app.icon_background = str(
            overrides.get("icon_background") or meta.get("icon_background") or app.icon_background
        )[:255]
        app.updated_by = account.id
        app.save()
    if document.mode in AppMode.workflow_modes():
        workflow = document.workflow
        graph = copy.deepcopy(workflow.get("graph") or {})
        document.warnings.extend(resolve_graph_datasets(graph=graph, tenant_id=tenant.id))
        workflow_draft_sync(
            tenant_id=tenant.id,
            app_id=app.id,
            mode=document.mode,
            graph=graph,
            features=workflow.get("features") or {},
            unique_hash=None,
            account_id=account.id,
            environment_variables=workflow.get("environment_variables") or [],
            conversation_variables=workflow.get("conversation_variables") or [],
            force=True,
        )
        # Our test cases ride in the file under a key Dify ignores; a case of the same name is replaced.
        test_cases_import(app=app, account_id=account.id, cases=document.data.get(TEST_CASES_KEY))
        if promotion is not None and promotion.publish:
            version = app_publish_workflow(
                app=app,
                account=account,
                marked_name=promotion.marked_name,
                marked_comment=promotion.marked_comment,
            )
            return app, str(version.id)
    else:
        model_config_save(app=app, account=account, config=copy.deepcopy(document.model_config))
    return app, None


def _run_import(
    *,
    tenant: Tenant,
    account: Account,
    import_id: str,
    content: str,
    overrides: dict[str, Any],
    app_id: Any,
    confirmed: bool,
    promotion: Promotion | None = None,
) -> ImportResult:
    try:
        document = parse_dsl(content)
        target = _target_app(tenant=tenant, app_id=app_id, document=document) if app_id else None
    except DslError as error:
        return _failed(
            import_id, error.message, code=error.code, status=error.status, version=error.imported_version
        )
    dependencies = _dependencies_of(document)
    if document.status == ImportStatus.PENDING and not confirmed:
        pending_import_save(
            import_id=import_id,
            tenant_id=str(tenant.id),
            account_id=str(account.id),
            payload={
                "content": content,
                "overrides": overrides,
                "app_id": str(app_id) if app_id else None,
                "promotion": (promotion or Promotion()).to_dict(),
            },
        )
        return ImportResult(
            id=import_id,
            status=ImportStatus.PENDING,
            app_id=str(app_id) if app_id else None,
            app_mode=document.mode,
            imported_dsl_version=document.version,
            warnings=[
                f"The DSL version {document.version} differs from the current version {CURRENT_DSL_VERSION} "
                "in a way that may not be compatible; confirm the import to go on."
            ],
            dependencies=dependencies,
            http_status=202,
        )
    try:
        with transaction.atomic():
            app, published = _apply(
                tenant=tenant,
                account=account,
                document=document,
                app=target,
                overrides=overrides,
                promotion=promotion,
            )
    except ApiError as error:
        return _failed(import_id, error.message, code=error.code, status=400, version=document.version)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # A malformed block deep in the file (wrong value types the checks above do not cover).
        return _failed(
            import_id, f"Invalid DSL content: {error}", code="invalid_dsl", version=document.version
        )
    if dependencies:
        dependencies_save(app_id=str(app.id), dependencies=dependencies)
    status = ImportStatus.COMPLETED if confirmed else document.status
    return ImportResult(
        id=import_id,
        status=status,
        app_id=str(app.id),
        app_mode=app.mode,
        imported_dsl_version=document.version,
        warnings=document.warnings,
        dependencies=dependencies,
        workflow_id=published,
    )


def app_import(
    *,
    tenant: Tenant,
    account: Account,
    mode: str,
    yaml_content: str | None = None,
    yaml_url: str | None = None,
    name: str | None = None,
    description: str | None = None,
    icon_type: str | None = None,
    icon: str | None = None,
    icon_background: str | None = None,
    app_id: Any = None,
    promotion: Promotion | None = None,
) -> ImportResult:
    """Import a DSL from text or a URL (Dify's ``POST /apps/imports``). Never raises for bad input: the
    result says ``failed`` and names the problem, with the HTTP status to answer."""
    import_id = str(uuid.uuid4())
    if mode not in IMPORT_MODES:
        return _failed(import_id, f"Invalid import_mode: {mode}", code="invalid_param")
    if mode == "yaml-url":
        if not yaml_url:
            return _failed(
                import_id, "yaml_url is required when import_mode is yaml-url", code="invalid_param"
            )
        try:
            content = fetch_dsl(yaml_url)
        except DslError as error:
            return _failed(import_id, error.message, code=error.code, status=error.status)
    else:
        if not yaml_content:
            return _failed(
                import_id, "yaml_content is required when import_mode is yaml-content", code="invalid_param"
            )
        content = yaml_content
    overrides = {
        "name": name,
        "description": description,
        "icon_type": icon_type,
        "icon": icon,
        "icon_background": icon_background,
    }
    return _run_import(
        tenant=tenant,
        account=account,
        import_id=import_id,
        content=content,
        overrides=overrides,
        app_id=app_id,
        confirmed=False,
        promotion=promotion,
    )


def app_import_confirm(*, tenant: Tenant, account: Account, import_id: str) -> ImportResult:
    """Carry out a pending import (within 10 minutes, from the same workspace)."""
    pending = pending_import_load(import_id=import_id, tenant_id=str(tenant.id))
    if pending is None:
        return _failed(
            import_id, "Import information expired or does not exist", code="not_found", status=404
        )
    result = _run_import(
        tenant=tenant,
        account=account,
        import_id=import_id,
        content=pending["content"],
        overrides=pending.get("overrides") or {},
        app_id=pending.get("app_id"),
        confirmed=True,
        promotion=Promotion.from_dict(pending.get("promotion")),
    )
    if result.status != ImportStatus.FAILED:
        pending_import_delete(import_id=import_id)
    return result


def app_import_leaked_dependencies(*, app: App) -> list[Any]:
    """Dependencies of the last import that this platform cannot satisfy: plugins neither installed in
    the app's workspace (the plugins app) nor served by a built-in provider (Dify's
    ``check-dependencies``)."""
    from plugins.selectors import installed_plugin_ids

    installed = installed_plugin_ids(tenant=app.tenant_id)
    leaked = []
    for dependency in dependencies_load(app_id=str(app.id)):
        plugin = plugin_of_dependency(dependency)
        if plugin is None or (plugin not in installed and not _provider_known(plugin)):
            leaked.append(dependency)
    return leaked


def _provider_known(plugin: str) -> bool:
    try:
        from providers.runtime import resolve_provider_id

        resolve_provider_id(plugin)
        return True
    except Exception:  # unknown provider, or no runtime catalogue
        return False


# --- export ------------------------------------------------------------------------------------------------


def app_export(*, app: App, include_secret: bool = False, workflow_id: Any = None) -> str:
    """The app as DSL YAML (Dify's ``export_dsl``): secrets blanked unless ``include_secret``; workflow
    apps export their draft (or the given version)."""
    data: dict[str, Any] = {
        "version": CURRENT_DSL_VERSION,
        "kind": "app",
        "app": {
            "name": app.name,
            "mode": app.mode,
            "icon": app.icon,
            "icon_type": app.icon_type,
            "icon_background": app.icon_background,
            "description": app.description,
            "use_icon_as_answer_icon": app.use_icon_as_answer_icon,
        },
    }
    if app.mode in AppMode.workflow_modes():
        if workflow_id:
            workflow = version_get(tenant_id=app.tenant_id, app_id=app.id, workflow_id=workflow_id)
        else:
            workflow = draft_get(tenant_id=app.tenant_id, app_id=app.id)
        if workflow is None:
            raise WorkflowNotFound("Missing draft workflow configuration, please check.")
        data["workflow"] = workflow_block(workflow, include_secret=include_secret)
        data["dependencies"] = workflow_dependencies(workflow)
        cases = test_cases_export(app=app)
        if cases:
            data[TEST_CASES_KEY] = cases
    else:
        if app.app_model_config is None:
            raise ApiError("Missing app configuration, please check.", code="app_unavailable")
        config = model_config_to_dict(app.app_model_config.config)
        for tool in (config.get("agent_mode") or {}).get("tools") or []:
            if isinstance(tool, dict):
                tool.pop("credential_id", None)
        data["model_config"] = config
        data["dependencies"] = dependencies_for(providers_of_model_config(config))
    return dump_yaml(data)


def app_copy(
    *,
    tenant: Tenant,
    account: Account,
    app: App,
    name: str | None = None,
    description: str | None = None,
    icon_type: str | None = None,
    icon: str | None = None,
    icon_background: str | None = None,
) -> App:
    """A new app from the app's export (secrets included), as Dify copies apps."""
    result = app_import(
        tenant=tenant,
        account=account,
        mode="yaml-content",
        yaml_content=app_export(app=app, include_secret=True),
        name=name,
        description=description,
        icon_type=icon_type,
        icon=icon,
        icon_background=icon_background,
    )
    if result.status == ImportStatus.FAILED or result.app_id is None:
        raise ApiError(f"The app could not be copied: {result.error}", code=result.code or "invalid_dsl")
    return App.objects.get(id=result.app_id)


# --- templates -----------------------------------------------------------------------------------------------


@cache
def _templates() -> dict[str, dict[str, Any]]:
    templates: dict[str, dict[str, Any]] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.yml")):
        content = path.read_text()
        document = parse_dsl(content)
        templates[path.stem] = {
            "id": path.stem,
            "name": document.app.get("name", path.stem),
            "mode": document.mode,
            "icon_type": document.app.get("icon_type", "emoji"),
            "icon": document.app.get("icon", ""),
            "icon_background": document.app.get("icon_background", ""),
            "description": document.app.get("description", ""),
            "content": content,
        }
    return templates


def template_list() -> list[dict[str, Any]]:
    return [{k: v for k, v in t.items() if k != "content"} for t in _templates().values()]


def app_create_from_template(
    *,
    tenant: Tenant,
    account: Account,
    template_id: str,
    name: str | None = None,
    description: str | None = None,
    icon_type: str | None = None,
    icon: str | None = None,
    icon_background: str | None = None,
) -> App:
    template = _templates().get(template_id)
    if template is None:
        raise NotFound(f"App template '{template_id}' not found.")
    result = app_import(
        tenant=tenant,
        account=account,
        mode="yaml-content",
        yaml_content=template["content"],
        name=name,
        description=description,
        icon_type=icon_type,
        icon=icon,
        icon_background=icon_background,
    )
    if result.status == ImportStatus.FAILED or result.app_id is None:
        raise ApiError(f"The template could not be used: {result.error}", code=result.code or "invalid_dsl")
    return App.objects.get(id=result.app_id)
