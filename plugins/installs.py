"""The install task's work: unpack each package of an install task, build (or find) its virtual
environment, boot the plugin once to prove it starts, publish it to every process
(`registry.mark_ready`), and mark the installations and the task `success` or `failed` with the reason.
Blocking and idempotent: a redelivered task finds the environment built and the plugins marked."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from plugins import registry
from plugins.models import PluginInstallation, PluginInstallTask, PluginPackage, TaskStatus
from plugins.package import PackageError, PluginDeclaration, extract_package
from plugins.runtime.environment import EnvironmentBuildError, ensure_environment
from plugins.runtime.process import PluginProcess, PluginStartError

logger = logging.getLogger(__name__)


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
