"""Reads of the plugins app, every one scoped to a workspace (packages are global, content-addressed)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError

from accounts.models import Tenant
from plugins.exceptions import PluginNotFound
from plugins.models import PluginInstallation, PluginInstallTask, PluginPackage, TaskStatus


def installed_plugin(*, tenant_id: Tenant | UUID | str, plugin_id: str) -> PluginInstallation | None:
    """The workspace's ready installation of `author/name`, or None."""
    return (
        PluginInstallation.objects.for_tenant(tenant_id)
        .select_related("package")
        .filter(plugin_id=plugin_id, status=TaskStatus.SUCCESS)
        .first()
    )


def installation_list(*, tenant: Tenant, plugin_ids: list[str] | None = None) -> list[PluginInstallation]:
    rows = PluginInstallation.objects.for_tenant(tenant).select_related("package").order_by("plugin_id")
    if plugin_ids is not None:
        rows = rows.filter(plugin_id__in=plugin_ids)
    return list(rows)


def installed_plugin_ids(*, tenant: Tenant | UUID | str) -> set[str]:
    return set(
        PluginInstallation.objects.for_tenant(tenant)
        .filter(status=TaskStatus.SUCCESS)
        .values_list("plugin_id", flat=True)
    )


def installation_get(*, tenant: Tenant, installation_id: UUID | str) -> PluginInstallation:
    try:
        return PluginInstallation.objects.for_tenant(tenant).select_related("package").get(id=installation_id)
    except (PluginInstallation.DoesNotExist, ValueError, ValidationError):
        raise PluginNotFound("Plugin installation not found.") from None


def install_task_get(*, tenant: Tenant, task_id: UUID | str) -> PluginInstallTask:
    try:
        return PluginInstallTask.objects.for_tenant(tenant).get(id=task_id)
    except (PluginInstallTask.DoesNotExist, ValueError, ValidationError):
        raise PluginNotFound("Install task not found.") from None


def install_task_list(*, tenant: Tenant, page: int, page_size: int) -> list[PluginInstallTask]:
    start = (max(page, 1) - 1) * page_size
    return list(
        PluginInstallTask.objects.for_tenant(tenant).order_by("-created_at")[start : start + page_size]
    )


def package_get(*, unique_identifier: str) -> PluginPackage:
    try:
        return PluginPackage.objects.get(unique_identifier=unique_identifier)
    except PluginPackage.DoesNotExist:
        raise PluginNotFound(f"Plugin package {unique_identifier} was not uploaded.") from None


# --- Dify's response shapes ------------------------------------------------------------------------------


def task_out(task: PluginInstallTask) -> dict[str, Any]:
    plugins = list(task.plugins or [])
    return {
        "id": str(task.id),
        "created_at": task.created_at.isoformat(),
        "updated_at": task.updated_at.isoformat(),
        "status": task.status,
        "total_plugins": len(plugins),
        "completed_plugins": sum(
            1 for p in plugins if p.get("status") in (TaskStatus.SUCCESS, TaskStatus.FAILED)
        ),
        "plugins": plugins,
    }


def installation_out(row: PluginInstallation) -> dict[str, Any]:
    declaration = row.package.declaration or {}
    manifest = declaration.get("manifest") or {}
    return {
        "id": str(row.id),
        "installation_id": str(row.id),
        "tenant_id": str(row.tenant_id),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "name": manifest.get("name"),
        "plugin_id": row.plugin_id,
        "plugin_unique_identifier": row.package.unique_identifier,
        "version": row.package.version,
        "latest_version": row.package.version,
        "latest_unique_identifier": row.package.unique_identifier,
        "source": row.source,
        "runtime_type": "local",
        "status": row.status,
        "message": row.message,
        "declaration": {**manifest, "category": "model" if declaration.get("models") else "tool"},
        "meta": {},
        "endpoints_setups": 0,
        "endpoints_active": 0,
        "checksum": row.package.checksum,
    }
