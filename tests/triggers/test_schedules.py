"""Schedule triggers: the beat entry follows the published version, the beat task runs the workflow once
per fire time, and unpublishing the root or deleting the app removes the entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from dify_project.celery import app as celery_app
from dify_project.locks import named_lock
from triggers import schedules
from triggers.models import AppTrigger, SchedulePlan
from triggers.tasks import fire_schedule
from workflows.models import DRAFT, Workflow, WorkflowRun

from .conftest import graph_with, schedule_node, webhook_node

pytestmark = pytest.mark.django_db

# 9:30 AM in Paris on a December Monday is 08:30 UTC.
FIRE = datetime(2026, 12, 7, 8, 30, 0, tzinfo=UTC)


def entry_of(app):
    plan = SchedulePlan.objects.select_related("periodic_task__crontab").get(app=app)
    return plan, plan.periodic_task


def publish(client, app, graph):
    Workflow.objects.update_or_create(
        tenant_id=app.tenant_id, app_id=app.id, version=DRAFT, defaults={"type": "workflow", "graph": graph}
    )
    return client.post(f"/console/api/apps/{app.id}/workflows/publish", {}, format="json")


def test_publishing_a_schedule_root_creates_its_beat_entry(make_workflow_app):
    app = make_workflow_app(graph_with(schedule_node()))
    plan, task = entry_of(app)
    assert (plan.cron_expression, plan.timezone) == ("30 9 * * *", "Europe/Paris")
    assert task.task == "triggers.fire_schedule" and task.enabled
    assert task.args == f'["{plan.id}"]' and task.queue == "workflow"
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, crontab.day_of_week) == ("30", "9", "*", "*")
    assert str(crontab.timezone) == "Europe/Paris"
    assert plan.next_run_at is not None and plan.next_run_at.astimezone(UTC).strftime("%H:%M") in (
        "08:30",
        "07:30",
    )
    celery_app.loader.import_default_modules()
    assert task.task in celery_app.tasks
    assert AppTrigger.objects.get(app=app).trigger_type == "trigger-schedule"


def test_the_beat_task_runs_the_workflow_once_per_fire_time(make_workflow_app, owner):
    app = make_workflow_app(graph_with(schedule_node(), "scheduled run"))
    plan, _ = entry_of(app)
    # when beat wakes the task at the fire time (a few seconds late)
    assert fire_schedule(str(plan.id), (FIRE + timedelta(seconds=3)).isoformat()) == "ran"
    run = WorkflowRun.objects.get(app_id=app.id)
    assert run.triggered_from == "schedule" and run.status == "succeeded"
    assert run.outputs == {"text": "scheduled run"}
    assert (run.created_by_role, str(run.created_by)) == ("account", str(owner.id))
    plan.refresh_from_db()
    assert plan.last_fired_at == FIRE
    assert plan.next_run_at == FIRE + timedelta(days=1)
    # a second beat delivering the same fire time finds it taken
    assert fire_schedule(str(plan.id), (FIRE + timedelta(seconds=5)).isoformat()) == "taken"
    # a wake-up far from any fire time does nothing
    assert fire_schedule(str(plan.id), (FIRE + timedelta(hours=3)).isoformat()) == "not_due"
    assert WorkflowRun.objects.filter(app_id=app.id).count() == 1
    # the next day's fire time runs again
    assert fire_schedule(str(plan.id), (FIRE + timedelta(days=1)).isoformat()) == "ran"
    assert WorkflowRun.objects.filter(app_id=app.id, triggered_from="schedule").count() == 2


def test_a_delivery_while_another_claims_the_fire_time_skips(make_workflow_app):
    app = make_workflow_app(graph_with(schedule_node()))
    plan, _ = entry_of(app)
    # given another beat's delivery holding the plan's lock
    with named_lock(f"trigger-schedule-{plan.id}") as held:
        assert held
        assert fire_schedule(str(plan.id), FIRE.isoformat()) == "busy"
    assert not WorkflowRun.objects.filter(app_id=app.id).exists()
    assert fire_schedule(str(plan.id), FIRE.isoformat()) == "ran"


def test_changing_or_removing_the_root_keeps_the_entry_in_step(make_workflow_app, owner_client):
    app = make_workflow_app(graph_with(schedule_node()))
    plan, task = entry_of(app)
    # a new version with another schedule: the same entry, a new crontab
    cron = schedule_node(mode="cron", cron_expression="*/15 8-18 * * 1-5", timezone="UTC")
    assert publish(owner_client, app, graph_with(cron)).status_code == 200
    plan, task = entry_of(app)
    assert plan.cron_expression == "*/15 8-18 * * 1-5"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("*/15", "8-18", "1-5")
    assert PeriodicTask.objects.filter(task="triggers.fire_schedule").count() == 1
    # a version whose root is a webhook: the schedule and its entry are gone
    assert publish(owner_client, app, graph_with(webhook_node())).status_code == 200
    assert not SchedulePlan.objects.filter(app=app).exists()
    assert not PeriodicTask.objects.filter(id=task.id).exists()
    assert [t.trigger_type for t in AppTrigger.objects.filter(app=app)] == ["trigger-webhook"]
    # and a beat already in flight for the old plan finds nothing to run
    assert fire_schedule(str(plan.id), FIRE.isoformat()) == "gone"


def test_deleting_the_app_removes_its_beat_entry(make_workflow_app, owner_client):
    app = make_workflow_app(graph_with(schedule_node()))
    _, task = entry_of(app)
    assert PeriodicTask.objects.filter(id=task.id).exists()
    assert owner_client.delete(f"/console/api/apps/{app.id}").status_code == 204
    assert not PeriodicTask.objects.filter(id=task.id).exists()
    assert not SchedulePlan.objects.filter(app_id=app.id).exists()


def test_disabling_the_trigger_switches_the_entry_off(make_workflow_app, owner_client):
    app = make_workflow_app(graph_with(schedule_node()))
    plan, task = entry_of(app)
    trigger = AppTrigger.objects.get(app=app)
    response = owner_client.post(
        f"/console/api/apps/{app.id}/trigger-enable",
        {"trigger_id": str(trigger.id), "enable_trigger": False},
        format="json",
    )
    assert response.status_code == 200
    task.refresh_from_db()
    assert not task.enabled
    assert fire_schedule(str(plan.id), FIRE.isoformat()) == "disabled"
    # publishing again keeps the switch as the operator left it
    assert publish(owner_client, app, graph_with(schedule_node())).status_code == 200
    task.refresh_from_db()
    assert not task.enabled


def test_a_schedule_that_cannot_fire_refuses_the_publish(make_workflow_app, owner_client):
    app = make_workflow_app(graph_with(schedule_node()))
    bad = schedule_node(mode="cron", cron_expression="61 * * * *")
    response = publish(owner_client, app, graph_with(bad))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_param" and "61 * * * *" in response.json()["message"]
    assert entry_of(app)[0].cron_expression == "30 9 * * *"  # the old version still serves


def test_cron_that_celery_cannot_say_gets_a_wider_entry_and_croniter_decides():
    assert schedules.beat_crontab("0 23 L * *")["day_of_month"] == "*"
    # cron's "day of month OR day of week": Celery would AND them
    assert schedules.beat_crontab("0 8 1 * 1")["day_of_month"] == "*"
    assert schedules.beat_crontab("@hourly") == {
        "minute": "0",
        "hour": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "day_of_week": "*",
    }
    grace = timedelta(minutes=10)
    last_day = datetime(2026, 12, 31, 23, 0, 30, tzinfo=UTC)
    assert schedules.due_slot("0 23 L * *", "UTC", last_day, grace=grace) == last_day.replace(second=0)
    assert schedules.due_slot("0 23 L * *", "UTC", last_day - timedelta(days=1), grace=grace) is None
    assert CrontabSchedule.objects.count() == 0  # pure arithmetic: nothing written
