"""Hooks that keep trigger rows in step: thin interfaces over ``services`` (as Celery tasks are).

Publishing points ``App.workflow`` at a new version (``apps.services.apps_crud.app_publish_workflow``), so
a save of that field re-syncs the app's triggers inside the same transaction (a schedule that croniter
refuses refuses the publish too). Deleting the app cascades to its SchedulePlans, and each takes its beat entry.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.models import App
from triggers.models import SchedulePlan
from triggers.services import app_triggers_sync, schedule_plan_beat_delete


@receiver(post_save, sender=App, dispatch_uid="triggers_app_published")
def _app_saved(sender: Any, instance: App, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    if created or kwargs.get("raw"):
        return
    if update_fields is not None and "workflow" not in update_fields:
        return
    app_triggers_sync(app=instance)


@receiver(post_delete, sender=SchedulePlan, dispatch_uid="triggers_schedule_plan_deleted")
def _plan_deleted(sender: Any, instance: SchedulePlan, **kwargs: Any) -> None:
    schedule_plan_beat_delete(plan=instance)
