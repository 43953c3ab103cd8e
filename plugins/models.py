"""Plugin packages (global, content-addressed like the daemon's package store), install tasks and
installations (per workspace)."""

from __future__ import annotations

from django.db import models

from accounts.models import TenantScopedModel, TimestampedModel


class PluginPackage(TimestampedModel):
    """An uploaded, verified `.difypkg`. The bytes live at `PLUGIN_ROOT/packages/<checksum>.difypkg`;
    `declaration` is `PluginDeclaration.to_dict()` (manifest, model and tool providers)."""

    unique_identifier = models.CharField(max_length=255, unique=True)
    plugin_id = models.CharField(max_length=255, db_index=True)
    version = models.CharField(max_length=64)
    checksum = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    declaration = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.unique_identifier


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"


class PluginInstallTask(TenantScopedModel):
    """Dify's install task: one per install request, `plugins` holding one entry per package
    ({plugin_unique_identifier, plugin_id, status, message})."""

    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    plugins = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"install task {self.id} ({self.status})"


class PluginInstallation(TenantScopedModel):
    """A plugin installed in a workspace: one version per plugin id. Usable once `status` is success
    (its environment is built)."""

    plugin_id = models.CharField(max_length=255)
    package = models.ForeignKey(PluginPackage, on_delete=models.PROTECT, related_name="installations")
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    message = models.TextField(blank=True, default="")
    source = models.CharField(max_length=32, default="package")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "plugin_id"], name="unique_plugin_per_workspace")
        ]

    def __str__(self) -> str:
        return f"{self.plugin_id} in {self.tenant_id}"
