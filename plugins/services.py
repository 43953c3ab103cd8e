"""Writes of the plugins app: upload a package, install it in a workspace (a background task builds
its environment), uninstall.

Upload verifies the package (`plugins.package.read_package`) and stores it once, by checksum. Install
records an install task and one installation per package (status `pending`), and enqueues
`install_plugins` after the commit; the task unpacks the package, builds (or finds) its virtual
environment, starts the plugin once to prove it boots, publishes it to every process
(`registry.mark_ready`) and sets each installation `success` or `failed` with the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import Tenant
from plugins import registry
from plugins.exceptions import InvalidPluginPackage, PluginPackageTooLarge
from plugins.models import PluginInstallation, PluginInstallTask, PluginPackage, TaskStatus
from plugins.package import PackageError, PluginDeclaration, extract_package, parse_identifier, read_package
from plugins.runtime.environment import EnvironmentBuildError, ensure_environment
from plugins.runtime.process import PluginProcess, PluginStartError
from plugins.selectors import package_get

logger = logging.getLogger(__name__)


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
    from plugins.tasks import install_plugins

    install_plugins.delay(task_id)


def plugin_prepare(*, package: PluginPackage) -> None:
    """Unpack, build the environment, boot the plugin once, publish it (idempotent; blocking).
    Raises PackageError, EnvironmentBuildError or PluginStartError with the reason."""
    declaration = PluginDeclaration.from_dict(package.declaration)
    if registry.ready_plugin(declaration.unique_identifier) is not None:
        return
    content = registry.package_path(declaration.checksum).read_bytes()
    target = registry.source_dir(declaration.checksum)
    if not (target / "manifest.yaml").is_file():
        temporary = target.with_name(target.name + ".part")
        extract_package(content, str(temporary))
        temporary.replace(target)
    env_dir = ensure_environment(
        root=registry.envs_dir(),
        requirements=declaration.requirements,
        python=settings.PLUGIN_PYTHON,
        pip_args=settings.PLUGIN_PIP_ARGS,
    )
    ready = registry.ReadyPlugin(declaration.unique_identifier, declaration, str(target), str(env_dir))
    spec = registry.launch_spec(ready)
    probe = PluginProcess(
        name=declaration.plugin_id,
        argv=spec.argv,
        cwd=spec.cwd,
        env=spec.env,
        start_timeout=spec.start_timeout,
    )
    try:
        probe.start()
    finally:
        probe.kill()
    registry.mark_ready(declaration=declaration, env_dir=Path(env_dir))


def install_task_run(*, task_id: str) -> None:
    """The install task's body: prepare each package, then mark installations and the task."""
    task = PluginInstallTask.objects.get(id=task_id)
    if task.status in (TaskStatus.SUCCESS, TaskStatus.FAILED):
        return
    PluginInstallTask.objects.filter(id=task.id).update(status=TaskStatus.RUNNING)
    entries = list(task.plugins or [])
    for entry in entries:
        package = PluginPackage.objects.get(unique_identifier=entry["plugin_unique_identifier"])
        rows = PluginInstallation.objects.for_tenant(task.tenant_id).filter(
            plugin_id=package.plugin_id, package=package
        )
        rows.update(status=TaskStatus.RUNNING)
        try:
            plugin_prepare(package=package)
            entry.update(status=TaskStatus.SUCCESS, message="")
        except (PackageError, EnvironmentBuildError, PluginStartError, OSError) as exc:
            logger.warning("plugin %s failed to install: %s", package.unique_identifier, exc)
            entry.update(status=TaskStatus.FAILED, message=str(exc)[:2000])
        rows.update(status=entry["status"], message=entry["message"])
    failed = any(e["status"] == TaskStatus.FAILED for e in entries)
    PluginInstallTask.objects.filter(id=task.id).update(
        status=TaskStatus.FAILED if failed else TaskStatus.SUCCESS, plugins=entries
    )


def plugin_uninstall(*, installation: PluginInstallation) -> None:
    """Remove the plugin from the workspace; the package's processes stop and it leaves the catalogue
    when no workspace uses that version any more (its environment stays cached for a reinstall)."""
    package = installation.package
    installation.delete()
    if not PluginInstallation.objects.filter(package=package).exists():
        registry.pool.stop(package.unique_identifier)
        registry.unmark_ready(package.checksum)
