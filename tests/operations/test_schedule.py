"""The maintenance schedule: PeriodicTasks made from settings, idempotent, admin edits kept."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from dify_project.celery import app as celery_app
from operations.schedule import MANAGED_MARK, periodic_tasks_setup, scheduled_tasks

pytestmark = pytest.mark.django_db


def test_setup_creates_one_enabled_task_per_maintenance_pass_that_celery_knows() -> None:
    # when the command runs on an empty schedule
    out = StringIO()
    call_command("setup_periodic_tasks", stdout=out)
    # then each pass has its task, on its crontab, enabled by default
    rows = {row.name: row for row in PeriodicTask.objects.select_related("crontab")}
    assert set(rows) == {item.name for item in scheduled_tasks()}
    retention = rows["maintenance: history retention"]
    assert retention.task == "operations.purge_history"
    assert (retention.crontab.minute, retention.crontab.hour) == ("15", "3")
    assert all(row.enabled for row in rows.values())
    celery_app.loader.import_default_modules()  # what a worker does at start: the tasks modules
    assert {row.task for row in rows.values()} - set(celery_app.tasks) == set()
    assert out.getvalue().count("created") == len(scheduled_tasks())


def test_setup_is_idempotent_and_keeps_an_operators_edit() -> None:
    periodic_tasks_setup()
    # given an operator who disabled a task in the admin
    PeriodicTask.objects.filter(name="maintenance: orphaned files").update(enabled=False)
    # when set-up runs again (every start of the platform)
    outcome = periodic_tasks_setup()
    # then nothing was created twice and the edit stays
    assert set(outcome.values()) == {"unchanged"}
    assert PeriodicTask.objects.filter(name__startswith="maintenance:").count() == len(scheduled_tasks())
    assert not PeriodicTask.objects.get(name="maintenance: orphaned files").enabled
    # and --force puts the settings back
    periodic_tasks_setup(force=True)
    assert PeriodicTask.objects.get(name="maintenance: orphaned files").enabled


def test_a_changed_setting_updates_its_task(settings) -> None:
    periodic_tasks_setup()
    # given retention switched off and another schedule
    settings.RETENTION_ENABLED = False
    settings.RETENTION_SCHEDULE = "0 1 * * 0"
    # when set-up runs
    outcome = periodic_tasks_setup()
    # then only that task changed, and it carries the new settings
    assert outcome["maintenance: history retention"] == "updated"
    assert outcome["maintenance: run expiry"] == "unchanged"
    row = PeriodicTask.objects.select_related("crontab").get(name="maintenance: history retention")
    assert not row.enabled
    assert (row.crontab.minute, row.crontab.hour, row.crontab.day_of_week) == ("0", "1", "0")
    assert MANAGED_MARK in row.description


def test_a_bad_crontab_setting_is_refused(settings) -> None:
    settings.RUN_EXPIRY_SCHEDULE = "every 5 minutes"
    with pytest.raises(ValueError, match="5 fields"):
        periodic_tasks_setup()
    assert not PeriodicTask.objects.filter(name__startswith="maintenance:").exists()


def test_the_start_up_summary_counts_what_changed() -> None:
    # what run_platform prints at start: first everything is created, then nothing changes
    first, second = StringIO(), StringIO()
    call_command("setup_periodic_tasks", summary=True, stdout=first)
    call_command("setup_periodic_tasks", summary=True, stdout=second)
    assert (
        f"{len(scheduled_tasks())} of {len(scheduled_tasks())} periodic tasks created or updated"
        in first.getvalue()
    )
    assert f"0 of {len(scheduled_tasks())} periodic tasks created or updated" in second.getvalue()
