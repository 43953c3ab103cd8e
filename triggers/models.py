"""What the published trigger roots of an app have become: webhook URLs, enable switches, beat entries.

Rows follow the app's *published* version (``services.app_triggers_sync``), except webhook URLs, which
are made as soon as the console asks for one (Dify shows a node's URL in the editor before publishing);
a URL whose node is not in the published version answers 404.
"""

from __future__ import annotations

from django.db import models
from django_celery_beat.models import PeriodicTask

from accounts.models import TenantScopedModel


class TriggerType(models.TextChoices):
    WEBHOOK = "trigger-webhook"
    SCHEDULE = "trigger-schedule"
    PLUGIN = "trigger-plugin"


class TriggerStatus(models.TextChoices):
    ENABLED = "enabled"
    DISABLED = "disabled"


class WebhookTrigger(TenantScopedModel):
    """The public URL of one webhook node: ``/triggers/webhook/{webhook_id}``."""

    app = models.ForeignKey("llm_apps.App", on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=24, unique=True)
    # HMAC-SHA256 key of the request body (encrypted at rest); empty: calls are not signed.
    signing_secret = models.TextField(blank=True, default="")
    created_by = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "node_id"], name="uniq_webhook_trigger_node")]

    def __str__(self) -> str:
        return f"webhook {self.webhook_id} ({self.node_id})"


class AppTrigger(TenantScopedModel):
    """A trigger root of the published version, with the switch Dify's console flips (trigger-enable)."""

    app = models.ForeignKey("llm_apps.App", on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    trigger_type = models.CharField(max_length=32, choices=TriggerType.choices)
    title = models.CharField(max_length=255, blank=True, default="")
    provider_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=TriggerStatus.choices, default=TriggerStatus.ENABLED)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "node_id"], name="uniq_app_trigger_node")]
        indexes = [models.Index(fields=["tenant", "app"])]

    def __str__(self) -> str:
        return f"{self.trigger_type} {self.node_id} ({self.status})"


class SchedulePlan(TenantScopedModel):
    """A schedule root of the published version and its beat entry (a django-celery-beat PeriodicTask)."""

    app = models.ForeignKey("llm_apps.App", on_delete=models.CASCADE, related_name="+")
    node_id = models.CharField(max_length=64)
    cron_expression = models.CharField(max_length=255)
    timezone = models.CharField(max_length=64, default="UTC")
    next_run_at = models.DateTimeField(null=True, blank=True)
    # The last fire time claimed: a second delivery of the same beat (two beat processes) finds it taken.
    last_fired_at = models.DateTimeField(null=True, blank=True)
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "node_id"], name="uniq_schedule_plan_node")]

    def __str__(self) -> str:
        return f"schedule {self.cron_expression} {self.timezone} ({self.node_id})"
