"""Turns a run into rows: WorkflowRun, node executions, the chat Message, conversation variables, app logs.

Writes happen off the streaming path: the opening rows are inserted by a background task while the
first events already stream (a blocking run writes them with its first batch of node executions, or with
its end), node executions are flushed in batches, and the closing update is one transaction. Each write
is a short ``sync_to_async`` call: no database connection or transaction is held while a model or HTTP
call is in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.models import Conversation, Message
from apps.runners.files import message_files_create
from apps.runs.wire import NodeRecord, RunTally
from dify_project.db import db_sync_to_async
from workflows.models import (
    ConversationVariable,
    WorkflowAppLog,
    WorkflowNodeExecution,
    WorkflowRun,
)

logger = logging.getLogger(__name__)

FLUSH_EVERY_NODES = 50
FLUSH_EVERY_SECONDS = 0.5


def _dt(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


@dataclass
class RunRows:
    """What the recorder must create when the run starts."""

    tenant_id: str
    app_id: str
    workflow_id: str
    workflow_type: str
    workflow_version: str
    triggered_from: str
    run_id: str
    inputs: dict[str, Any]
    created_by_role: str
    created_by: str
    graph: dict[str, Any] | None = None  # kept only for debugging runs: published versions are immutable
    log_created_from: str | None = None  # service-api / web-app: an app log row; None for debug runs
    # chat (advanced-chat) runs
    conversation: Conversation | None = None  # a new conversation to insert, or None
    conversation_id: str | None = None
    message: Message | None = None  # the message row to insert at start
    new_conversation_variables: list[ConversationVariable] = field(default_factory=list)
    existing: bool = False  # a resumed run: its rows exist already, only the end is written
    message_files: list[dict[str, Any]] = field(default_factory=list)  # the user's files of the message


@dataclass
class RunEnd:
    status: str
    outputs: dict[str, Any] | None
    error: str | None
    exceptions_count: int
    answer: str | None = None
    paused_state: dict[str, Any] | None = None


class RunRecorder:
    """One per run. ``start`` schedules the opening inserts; ``node_finished`` batches executions."""

    def __init__(self, rows: RunRows) -> None:
        self.rows = rows
        self._opening: asyncio.Task | None = None
        self._pending: list[NodeRecord] = []
        self._flusher: asyncio.Task | None = None
        self._last_flush = asyncio.get_running_loop().time()

    def start(self, *, eager: bool = True) -> None:
        """Insert the opening rows now, beside the run (a streaming client may look the run up as soon as
        it hears of it), or not ``eager``ly: at the first flush of node executions or with the end, in one
        write (a blocking run, which nobody can refer to before its answer)."""
        if eager:
            self._open()

    def _open(self) -> asyncio.Task | None:
        if self._opening is None and not self.rows.existing:
            self._opening = asyncio.get_running_loop().create_task(db_sync_to_async(self._insert_opening)())
        return self._opening

    async def opened(self) -> None:
        opening = self._open()
        if opening is not None:
            await opening

    def _insert_opening(self) -> None:
        r = self.rows
        with transaction.atomic():
            if r.conversation is not None:
                r.conversation.save(force_insert=True)
            if r.new_conversation_variables:
                ConversationVariable.objects.bulk_create(r.new_conversation_variables)
            WorkflowRun.objects.create(
                id=r.run_id,
                tenant_id=r.tenant_id,
                app_id=r.app_id,
                workflow_id=r.workflow_id,
                type=r.workflow_type,
                triggered_from=r.triggered_from,
                version=r.workflow_version,
                graph=r.graph or {},
                inputs=r.inputs,
                status="running",
                created_by_role=r.created_by_role,
                created_by=r.created_by,
            )
            if r.message is not None:
                r.message.save(force_insert=True)
                message_files_create(message=r.message, files=r.message_files)

    def node_finished(self, record: NodeRecord) -> None:
        self._pending.append(record)
        loop = asyncio.get_running_loop()
        due = len(self._pending) >= FLUSH_EVERY_NODES or loop.time() - self._last_flush >= FLUSH_EVERY_SECONDS
        if due and (self._flusher is None or self._flusher.done()):
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        await self.opened()
        batch, self._pending = self._pending, []
        self._last_flush = asyncio.get_running_loop().time()
        if batch:
            await db_sync_to_async(self._insert_nodes)(batch)

    def _insert_nodes(self, batch: list[NodeRecord]) -> None:
        r = self.rows
        WorkflowNodeExecution.objects.bulk_create(
            [
                WorkflowNodeExecution(
                    id=record.id,
                    tenant_id=r.tenant_id,
                    app_id=r.app_id,
                    workflow_id=r.workflow_id,
                    triggered_from="workflow-run",
                    workflow_run_id=r.run_id,
                    index=record.index,
                    predecessor_node_id=record.predecessor_node_id or "",
                    node_execution_id=record.id,
                    node_id=record.node_id,
                    node_type=record.node_type,
                    title=record.title,
                    inputs=record.inputs,
                    process_data=record.process_data,
                    outputs=record.outputs,
                    status=record.status,
                    error=record.error,
                    elapsed_time=record.elapsed_time,
                    execution_metadata=record.metadata or None,
                    created_by_role=r.created_by_role,
                    created_by=r.created_by,
                    finished_at=_dt(record.finished_at),
                )
                for record in batch
            ],
            ignore_conflicts=True,
        )

    async def finish(self, end: RunEnd, tally: RunTally, *, after: Callable[[], None] | None = None) -> None:
        """Write the run's end (and the message's) in one transaction; waits for pending inserts first."""
        if self._opening is None and self._flusher is None and not self.rows.existing:
            # Nothing written yet and no flush under way (it would insert the opening rows too).
            batch, self._pending = self._pending, []
            await db_sync_to_async(self._write_opening_and_end)(end, tally, batch)
            return
        await self.opened()
        if self._flusher is not None:
            await self._flusher
        batch, self._pending = self._pending, []
        await db_sync_to_async(self._write_end)(end, tally, batch)

    def _write_opening_and_end(self, end: RunEnd, tally: RunTally, batch: list[NodeRecord]) -> None:
        with transaction.atomic():
            self._insert_opening()
            self._write_end(end, tally, batch)

    def _write_end(self, end: RunEnd, tally: RunTally, batch: list[NodeRecord]) -> None:
        r = self.rows
        now = timezone.now()
        with transaction.atomic():
            if batch:
                self._insert_nodes(batch)
            WorkflowRun.objects.filter(id=r.run_id).update(
                status=end.status,
                outputs=end.outputs,
                error=end.error or "",
                elapsed_time=(now - _dt(tally.started_at)).total_seconds(),
                total_tokens=tally.total_tokens,
                total_steps=tally.steps,
                exceptions_count=end.exceptions_count,
                finished_at=None if end.status == "paused" else now,
            )
            if r.log_created_from and end.status != "paused":
                WorkflowAppLog.objects.get_or_create(
                    workflow_run_id=r.run_id,
                    defaults={
                        "tenant_id": r.tenant_id,
                        "app_id": r.app_id,
                        "workflow_id": r.workflow_id,
                        "created_from": r.log_created_from,
                        "created_by_role": r.created_by_role,
                        "created_by": r.created_by,
                    },
                )
            self._write_conversation_variables(tally)
            if r.message is not None:
                self._write_message_end(end, tally, now)

    def _write_conversation_variables(self, tally: RunTally) -> None:
        if not self.rows.conversation_id:
            return
        for selector, (value, _value_type) in tally.variable_updates.items():
            if len(selector) == 2 and selector[0] == "conversation":
                ConversationVariable.objects.filter(
                    conversation_id=self.rows.conversation_id, name=selector[1]
                ).update(value=value, updated_at=timezone.now())

    def _write_message_end(self, end: RunEnd, tally: RunTally, now: datetime) -> None:
        message = self.rows.message
        assert message is not None
        answer = end.answer if end.answer is not None else "".join(tally.answer)
        metadata = dict(message.message_metadata or {})
        metadata["usage"] = usage_dict(tally, latency=(now - _dt(tally.started_at)).total_seconds())
        if tally.retriever_resources:
            metadata["retriever_resources"] = tally.retriever_resources
        Message.objects.filter(id=message.id).update(
            answer=answer,
            message_tokens=tally.prompt_tokens,
            answer_tokens=tally.completion_tokens,
            total_price=Decimal(str(round(tally.total_price, 10))),
            currency=tally.currency,
            provider_response_latency=(now - _dt(tally.started_at)).total_seconds(),
            status="error" if end.status == "failed" else ("paused" if end.status == "paused" else "normal"),
            error=(end.error or "") if end.status == "failed" else "",
            message_metadata=metadata,
            updated_at=now,
        )
        Conversation.objects.filter(id=message.conversation_id).update(
            dialogue_count=F("dialogue_count") + 1, updated_at=now
        )


def usage_dict(tally: RunTally, *, latency: float) -> dict[str, Any]:
    """Dify's ``metadata.usage`` for a chatflow message (prices as decimal strings)."""
    return {
        "prompt_tokens": tally.prompt_tokens,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": tally.completion_tokens,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": tally.total_tokens,
        "total_price": str(round(tally.total_price, 7)),
        "currency": tally.currency,
        "latency": round(latency, 6),
    }
