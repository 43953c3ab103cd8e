"""The run recorder's writes when a run does not insert its rows as it starts (blocking runs)."""

from __future__ import annotations

import time
import uuid

import pytest

from apps.runs.recorder import FLUSH_EVERY_NODES, RunEnd, RunRecorder, RunRows
from apps.runs.wire import NodeRecord, RunTally
from tests import factories
from workflows.models import WorkflowNodeExecution, WorkflowRun

pytestmark = pytest.mark.django_db(transaction=True)


def rows_for(app) -> RunRows:
    return RunRows(
        tenant_id=str(app.tenant_id),
        app_id=str(app.id),
        workflow_id=str(app.workflow.id),
        workflow_type="workflow",
        workflow_version=app.workflow.version,
        triggered_from="app-run",
        run_id=str(uuid.uuid4()),
        inputs={"query": "hi"},
        created_by_role="end_user",
        created_by=str(uuid.uuid4()),
    )


def node(index: int) -> NodeRecord:
    now = time.time()
    return NodeRecord(
        id=str(uuid.uuid4()),
        node_id=f"n{index}",
        node_type="code",
        title=f"Node {index}",
        index=index,
        predecessor_node_id=None,
        started_at=now,
        status="succeeded",
        finished_at=now,
    )


@pytest.fixture
def app():
    return factories.app_factory(tenant=factories.tenant_factory(), mode="workflow")


async def finish(recorder: RunRecorder) -> None:
    end = RunEnd(status="succeeded", outputs={"answer": "ok"}, error=None, exceptions_count=0)
    await recorder.finish(end, RunTally(steps=FLUSH_EVERY_NODES))


async def test_a_run_that_writes_nothing_while_it_runs_is_inserted_once_in_its_final_state(app):
    recorder = RunRecorder(rows_for(app))
    recorder.start(eager=False)
    recorder.node_finished(node(1))
    await finish(recorder)
    run = await WorkflowRun.objects.aget(id=recorder.rows.run_id)
    assert (run.status, run.outputs, run.inputs) == ("succeeded", {"answer": "ok"}, {"query": "hi"})
    assert await WorkflowNodeExecution.objects.filter(workflow_run_id=run.id).acount() == 1


async def test_a_flush_due_just_before_the_end_inserts_the_run_only_once(app):
    recorder = RunRecorder(rows_for(app))
    recorder.start(eager=False)
    for index in range(FLUSH_EVERY_NODES):  # the last one schedules a flush, which has not run yet
        recorder.node_finished(node(index))
    await finish(recorder)
    flush = recorder._flusher
    assert flush is not None and flush.done() and flush.exception() is None  # it did not insert the run again
    run = await WorkflowRun.objects.aget(id=recorder.rows.run_id)
    assert run.status == "succeeded"
    assert await WorkflowNodeExecution.objects.filter(workflow_run_id=run.id).acount() == FLUSH_EVERY_NODES
