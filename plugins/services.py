"""Writes of the plugins app: upload a package, install it in a workspace (a background task builds
its environment), uninstall.

Upload verifies the package (`plugins.package.read_package`) and stores it once, by checksum. Install
records an install task and one installation per package (status `pending`), and enqueues
`install_plugins` after the commit; the task (`plugins.installs`) unpacks the package, builds (or finds) its virtual
environment, starts the plugin once to prove it boots, publishes it to every process
(`registry.mark_ready`) and sets each installation `success` or `failed` with the reason.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import Tenant
from plugins import registry
from plugins.exceptions import InvalidPluginPackage, PluginPackageTooLarge
from plugins.models import PluginInstallation, PluginInstallTask, PluginPackage, TaskStatus
from plugins.package import PackageError, parse_identifier, read_package
from plugins.selectors import package_get
from plugins.tasks import install_plugins


def package_upload(*, content: bytes) -> PluginPackage:
    """Verify and store a `.difypkg` (once per checksum). InvalidPluginPackage names what is wrong."""
    if len(content) > settings.PLUGIN_MAX_PACKAGE_BYTES:
        raise PluginPackageTooLarge(
            f"The package is larger than {settings.PLUGIN_MAX_PACKAGE_BYTES // (1024 * 1024)} MB."
        )
    try:
        declaration = read_package(content)
    except PackageError as exc:
        raise InvalidPluginPackage(f"Invalid plugin package: {exc}") from None
    path = registry.package_path(declaration.checksum)
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".part")
        temporary.write_bytes(content)
        temporary.replace(path)
    package, _created = PluginPackage.objects.get_or_create(
        unique_identifier=declaration.unique_identifier,
        defaults={
            "plugin_id": declaration.plugin_id,
            "version": declaration.version,
            "checksum": declaration.checksum,
            "size": len(content),
            "declaration": declaration.to_dict(),
        },
    )
    return package


def _task_entry(package: PluginPackage, status: str, message: str = "") -> dict[str, Any]:
    manifest = (package.declaration or {}).get("manifest") or {}
    return {
        "plugin_unique_identifier": package.unique_identifier,
        "plugin_id": package.plugin_id,
        "status": status,
        "message": message,
        "icon": manifest.get("icon") or "",
        "labels": manifest.get("label") or {},
    }


def plugins_install(
    *, tenant: Tenant, unique_identifiers: list[str]
) -> tuple[PluginInstallTask | None, bool]:
    """Install uploaded packages in the workspace: (task, all_installed). A package already installed
    (same identifier) is skipped; another version of an installed plugin replaces it."""
    packages: list[PluginPackage] = []
    for identifier in unique_identifiers:
        try:
            parse_identifier(identifier)
        except PackageError as exc:
            raise InvalidPluginPackage(str(exc)) from None
        try:
            packages.append(package_get(unique_identifier=identifier))
        except Exception as exc:
            raise InvalidPluginPackage(str(getattr(exc, "message", exc))) from None
    with transaction.atomic():
        pending: list[PluginPackage] = []
        for package in packages:
            row = (
                PluginInstallation.objects.for_tenant(tenant)
                .select_for_update()
                .filter(plugin_id=package.plugin_id)
                .first()
            )
            if row is not None and row.package_id == package.id and row.status == TaskStatus.SUCCESS:
                continue
            if row is None:
                row = PluginInstallation(tenant=tenant, plugin_id=package.plugin_id, package=package)
            row.package, row.status, row.message = package, TaskStatus.PENDING, ""
            row.save()
            pending.append(package)
        if not pending:
            return None, True
        task = PluginInstallTask.objects.create(
            tenant=tenant,
            status=TaskStatus.PENDING,
            plugins=[_task_entry(p, TaskStatus.PENDING) for p in pending],
        )
        task_id = str(task.id)
        transaction.on_commit(lambda: _enqueue(task_id))
    return task, False


def _enqueue(task_id: str) -> None:
    install_plugins.delay(task_id)


def plugin_uninstall(*, installation: PluginInstallation) -> None:
    """Remove the plugin from the workspace; the package's processes stop and it leaves the catalogue
    when no workspace uses that version any more (its environment stays cached for a reinstall)."""
    package = installation.package
    installation.delete()
    if not PluginInstallation.objects.filter(package=package).exists():
        registry.pool.stop(package.unique_identifier)
        registry.unmark_ready(package.checksum)
