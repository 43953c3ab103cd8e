"""History retention: what goes, what stays, per-workspace overrides, dry runs, batches, the lock."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.models import Conversation, Message, MessageFeedback
from dify_project.locks import named_lock
from operations import tasks
from operations.services import PassSkipped, history_retention_apply
from workflows.models import WorkflowAppLog, WorkflowNodeExecution, WorkflowRun

from .conftest import History, aged

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "runs": WorkflowRun.objects.count(),
        "nodes": WorkflowNodeExecution.objects.count(),
        "logs": WorkflowAppLog.objects.count(),
        "messages": Message.objects.count(),
        "conversations": Conversation.objects.count(),
    }


def test_history_older_than_the_retention_goes_and_recent_history_stays(history: History) -> None:
    # given runs and conversations either side of the 30-day default
    old_run, new_run = history.run(days=45), history.run(days=5)
    old_conversation = history.conversation(days=40, messages=2)
    MessageFeedback.objects.create(
        tenant=history.tenant,
        app=history.chat,
        conversation=old_conversation,
        message=old_conversation.messages.first(),
        rating="like",
        from_source="user",
    )
    new_conversation = history.conversation(days=2, messages=1)
    # a conversation started long ago but still in use keeps its recent message (and itself)
    thread = history.conversation(days=60, messages=1)
    recent_in_thread = history.message(thread, days=1)
    # when the scheduled task runs
    tasks.purge_history()
    # then only the old history is gone, with everything that hangs off it
    assert list(WorkflowRun.objects.values_list("id", flat=True)) == [new_run.id]
    assert not WorkflowNodeExecution.objects.filter(workflow_run_id=old_run.id).exists()
    assert WorkflowNodeExecution.objects.filter(workflow_run_id=new_run.id).count() == 3
    assert list(WorkflowAppLog.objects.values_list("workflow_run_id", flat=True)) == [new_run.id]
    assert not Conversation.objects.filter(id=old_conversation.id).exists()
    assert not MessageFeedback.objects.exists()
    assert set(Conversation.objects.values_list("id", flat=True)) == {new_conversation.id, thread.id}
    assert set(Message.objects.filter(conversation=thread).values_list("id", flat=True)) == {
        recent_in_thread.id
    }


def test_runs_still_open_are_never_removed_by_age(history: History) -> None:
    # given old runs that are running or paused (their own expiry ends them first)
    running = history.run(days=90, status="running")
    paused = history.run(days=90, status="paused")
    # when retention runs
    history_retention_apply()
    # then both are still there
    assert set(WorkflowRun.objects.values_list("id", flat=True)) == {running.id, paused.id}


def test_dry_run_reports_what_the_purge_then_deletes_and_deletes_nothing(history: History) -> None:
    # given old and recent history
    for _ in range(2):
        history.run(days=31, nodes=4)
    history.run(days=1)
    history.conversation(days=50, messages=3)
    before = _counts()
    # when the command runs with --dry-run
    out = StringIO()
    call_command("purge_history", "--dry-run", stdout=out)
    # then it reports the counts and nothing was deleted
    assert _counts() == before
    text = out.getvalue()
    assert "would delete          2 workflow_runs" in text
    assert "would delete          8 workflow_node_executions" in text
    assert "would delete          3 messages" in text
    assert "would delete          1 conversations" in text
    # and the real run deletes exactly those rows
    out = StringIO()
    call_command("purge_history", stdout=out)
    assert "deleted          2 workflow_runs" in out.getvalue()
    assert "deleted          8 workflow_node_executions" in out.getvalue()
    assert _counts() == {"runs": 1, "nodes": 3, "logs": 1, "messages": 0, "conversations": 0}


def test_rows_go_in_bounded_batches(history: History, settings) -> None:
    # given 7 old runs of 3 nodes each, and batches of 2 rows
    settings.RETENTION_BATCH_SIZE = 2
    for _ in range(7):
        history.run(days=40)
    # when retention runs
    with CaptureQueriesContext(connection) as queries:
        reports = history_retention_apply()
    # then every row went, and no DELETE named more than one batch of keys
    assert WorkflowRun.objects.count() == 0
    assert reports[0]["counts"]["workflow_runs"] == 7
    assert reports[0]["counts"]["workflow_node_executions"] == 21
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) >= 11  # 21 nodes / 2 + 7 runs / 2, at least
    for sql in deletes:
        in_list = sql.split(" IN (", 1)[1] if " IN (" in sql else ""
        assert in_list.count(",") <= 1, sql


def test_a_workspace_override_keeps_its_history_longer_or_forever(
    history: History, other_history: History
) -> None:
    # given a 40-day-old run in each workspace; the other keeps 90 days
    other_history.tenant.custom_config = {"retention_days": 90}
    other_history.tenant.save()
    mine, theirs = history.run(days=40), other_history.run(days=40)
    ancient = other_history.run(days=100)
    # when retention runs
    history_retention_apply()
    # then the default workspace lost its run; the other lost only what is older than 90 days
    assert set(WorkflowRun.objects.values_list("id", flat=True)) == {theirs.id}
    assert not WorkflowRun.objects.filter(id__in=[mine.id, ancient.id]).exists()
    # and with 0 the other keeps everything
    other_history.tenant.custom_config = {"retention_days": 0}
    other_history.tenant.save()
    aged(theirs, days=1000)
    history_retention_apply()
    assert WorkflowRun.objects.filter(id=theirs.id).exists()


def test_retention_of_zero_days_keeps_everything(history: History, settings) -> None:
    settings.RETENTION_DAYS = 0
    history.run(days=400)
    out = StringIO()
    call_command("purge_history", stdout=out)
    assert WorkflowRun.objects.count() == 1
    assert "retention is off" in out.getvalue()


def test_one_workspace_only_with_explicit_days(history: History, other_history: History) -> None:
    # given 10-day-old runs in two workspaces
    history.run(days=10)
    theirs = other_history.run(days=10)
    # when the command is told 7 days for one workspace
    call_command("purge_history", "--days", "7", "--workspace", str(history.tenant.id), stdout=StringIO())
    # then only that workspace's run went
    assert list(WorkflowRun.objects.values_list("id", flat=True)) == [theirs.id]


def test_a_pass_already_running_elsewhere_is_skipped(history: History) -> None:
    # given the retention lock held by another process
    history.run(days=40)
    with named_lock("retention") as held:
        assert held
        # when the pass is asked for again, then it refuses at once
        with pytest.raises(PassSkipped):
            history_retention_apply()
        # and the scheduled task is a no-op rather than an error
        tasks.purge_history()
        assert WorkflowRun.objects.count() == 1
    # once released, the pass runs
    tasks.purge_history()
    assert WorkflowRun.objects.count() == 0


def test_running_twice_deletes_nothing_more(history: History) -> None:
    history.run(days=40)
    first = history_retention_apply()
    second = history_retention_apply()
    assert first[0]["counts"]["workflow_runs"] == 1
    assert set(second[0]["counts"].values()) == {0}
