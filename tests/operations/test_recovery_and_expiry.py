"""Stuck documents, expired human-input pauses, abandoned runs, files whose owners are gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.models import EndUser, Message, MessageStatus
from files.models import ToolFile, UploadFile
from knowledge.models import Dataset, Document, IndexingStatus
from knowledge.tasks import index_document
from operations import tasks
from operations.models import DocumentRecovery
from operations.services import orphan_files_clean, runs_expire, stuck_documents_recover
from workflows.models import HumanInputForm, WorkflowPause, WorkflowRun

from .conftest import History, aged

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    sent: list[str] = []
    monkeypatch.setattr(index_document, "delay", lambda document_id: sent.append(document_id))
    return sent


def _document(tenant, *, status: str, minutes_idle: float, paused: bool = False) -> Document:
    dataset, _ = Dataset.objects.get_or_create(tenant=tenant, name="Docs")
    document = Document.objects.create(
        tenant=tenant,
        dataset=dataset,
        batch="b1",
        name=f"{status}.txt",
        indexing_status=status,
        is_paused=paused,
    )
    Document.objects.filter(id=document.id).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_idle)
    )
    return Document.objects.get(id=document.id)


def test_a_document_stuck_mid_indexing_is_queued_again_then_failed_with_a_reason(
    tenant, queued, settings, django_capture_on_commit_callbacks
) -> None:
    # given a document whose worker died at the embedding step an hour ago
    settings.STUCK_DOCUMENTS_MAX_REQUEUES = 1
    stuck = _document(tenant, status=IndexingStatus.INDEXING, minutes_idle=60)
    fresh = _document(tenant, status=IndexingStatus.INDEXING, minutes_idle=1)
    paused = _document(tenant, status=IndexingStatus.SPLITTING, minutes_idle=600, paused=True)
    # when the recovery pass runs
    with django_capture_on_commit_callbacks(execute=True):
        counts = stuck_documents_recover()
    # then the stuck one is waiting again with its task queued; the others are untouched
    assert counts == {"requeued": 1, "failed": 0}
    assert queued == [str(stuck.id)]
    assert Document.objects.get(id=stuck.id).indexing_status == IndexingStatus.WAITING
    assert Document.objects.get(id=fresh.id).indexing_status == IndexingStatus.INDEXING
    assert Document.objects.get(id=paused.id).indexing_status == IndexingStatus.SPLITTING
    # when it gets stuck again and the pass runs again
    Document.objects.filter(id=stuck.id).update(
        indexing_status=IndexingStatus.PARSING, updated_at=timezone.now() - timedelta(hours=2)
    )
    counts = stuck_documents_recover()
    # then it is no longer left indexing: it failed, saying why
    assert counts == {"requeued": 0, "failed": 1}
    document = Document.objects.get(id=stuck.id)
    assert document.indexing_status == IndexingStatus.ERROR
    assert "parsing" in document.error and "retry" in document.error
    assert document.stopped_at is not None
    assert not DocumentRecovery.objects.exists()


def test_a_waiting_document_whose_task_was_lost_is_queued_again_and_never_failed(
    tenant, queued, settings, django_capture_on_commit_callbacks
) -> None:
    settings.STUCK_DOCUMENTS_MAX_REQUEUES = 0
    waiting = _document(tenant, status=IndexingStatus.WAITING, minutes_idle=45)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recover_stuck_documents()
    assert queued == [str(waiting.id)]
    assert Document.objects.get(id=waiting.id).indexing_status == IndexingStatus.WAITING


def test_a_document_that_moved_on_meanwhile_is_left_alone(tenant, queued) -> None:
    # given a stuck document read by the pass, then updated by its (alive after all) worker
    from knowledge.services import recovery

    stuck = _document(tenant, status=IndexingStatus.INDEXING, minutes_idle=60)
    seen = next(iter(recovery.documents_stalled(idle_before=timezone.now())))
    Document.objects.filter(id=stuck.id).update(
        indexing_status=IndexingStatus.COMPLETED, updated_at=timezone.now()
    )
    # then neither write applies
    assert not recovery.document_requeue_stalled(document=seen)
    assert not recovery.document_fail_stalled(document=seen, reason="x")
    assert Document.objects.get(id=stuck.id).indexing_status == IndexingStatus.COMPLETED


def _pause(run: WorkflowRun, *, expires_in: timedelta, submitted: bool = False) -> HumanInputForm:
    pause, _ = WorkflowPause.objects.get_or_create(
        tenant_id=run.tenant_id, workflow_run=run, defaults={"state": {}}
    )
    return HumanInputForm.objects.create(
        tenant_id=run.tenant_id,
        pause=pause,
        node_id="human",
        token_hash=f"{run.id.hex}{expires_in.total_seconds()}"[:64],
        expires_at=timezone.now() + expires_in,
        submitted_at=timezone.now() if submitted else None,
    )


def test_a_paused_run_whose_forms_all_expired_fails_with_its_message(history: History) -> None:
    # given a paused run whose only open form expired, with its chat message paused too
    expired = history.run(days=8, status="paused")
    _pause(expired, expires_in=timedelta(hours=-1))
    conversation = history.conversation(days=8, messages=0)
    message = history.message(conversation, days=8)
    Message.objects.filter(id=message.id).update(workflow_run_id=expired.id, status=MessageStatus.PAUSED)
    # and a paused run with one form expired but another still open
    waiting = history.run(days=8, status="paused")
    _pause(waiting, expires_in=timedelta(hours=-1))
    _pause(waiting, expires_in=timedelta(days=1))
    # when the expiry pass runs
    counts = runs_expire()
    # then only the first run ended, failed with a reason, and its message says so
    assert counts["paused_runs_expired"] == 1
    run = WorkflowRun.objects.get(id=expired.id)
    assert run.status == "failed" and "expired" in run.error and run.finished_at is not None
    assert Message.objects.get(id=message.id).status == MessageStatus.ERROR
    assert WorkflowRun.objects.get(id=waiting.id).status == "paused"
    # and a second pass finds nothing more
    assert runs_expire()["paused_runs_expired"] == 0


def test_a_run_abandoned_by_a_dead_process_fails(history: History, settings) -> None:
    settings.RUNS_ABANDONED_AFTER_SECONDS = 3600
    abandoned = history.run(days=1, status="running")
    live = history.run(days=0, status="running")
    counts = runs_expire()
    assert counts["abandoned_runs_failed"] == 1
    assert WorkflowRun.objects.get(id=abandoned.id).status == "failed"
    assert "abandoned" in WorkflowRun.objects.get(id=abandoned.id).error
    assert WorkflowRun.objects.get(id=live.id).status == "running"


def _upload(history: History, *, role: str, owner, days: float) -> UploadFile:
    key = default_storage.save(f"upload_files/{history.tenant.id}/test.txt", ContentFile(b"data"))
    row = UploadFile.objects.create(
        tenant=history.tenant,
        key=key,
        name="test.txt",
        size=4,
        extension="txt",
        created_by_role=role,
        created_by=owner,
    )
    return aged(row, days=days)


def test_files_whose_owners_are_gone_are_deleted_with_their_content(history: History, owner) -> None:
    # given an old upload by an end user who is gone, one by a current member, one by a gone user but used
    # by a document, a young orphan, and a tool file whose conversation is gone
    gone = EndUser.objects.create(tenant=history.tenant, app=history.chat, session_id="gone")
    orphan = _upload(history, role="end_user", owner=gone.id, days=3)
    kept = _upload(history, role="account", owner=owner.id, days=3)
    in_document = _upload(history, role="end_user", owner=gone.id, days=3)
    young = _upload(history, role="end_user", owner=gone.id, days=0)
    dataset = Dataset.objects.create(tenant=history.tenant, name="D")
    Document.objects.create(
        tenant=history.tenant, dataset=dataset, batch="b", name="d", upload_file=in_document
    )
    conversation = history.conversation(days=3, messages=0)
    tool_key = default_storage.save(f"tools/{history.tenant.id}/t.png", ContentFile(b"png"))
    tool_file = aged(
        ToolFile.objects.create(
            tenant=history.tenant,
            user_id=history.end_user.id,
            conversation_id=conversation.id,
            file_key=tool_key,
            mimetype="image/png",
            name="t.png",
        ),
        days=3,
    )
    gone.delete()
    conversation.delete()
    # when a dry run and then the pass run
    assert orphan_files_clean(dry_run=True) == {"upload_files": 1, "tool_files": 1}
    counts = orphan_files_clean()
    # then the two orphans went, rows and content; the rest stay
    assert counts == {"upload_files": 1, "tool_files": 1}
    assert not UploadFile.objects.filter(id=orphan.id).exists()
    assert not default_storage.exists(orphan.key)
    assert not ToolFile.objects.filter(id=tool_file.id).exists()
    assert not default_storage.exists(tool_key)
    assert set(UploadFile.objects.values_list("id", flat=True)) == {kept.id, in_document.id, young.id}
    assert default_storage.exists(kept.key)


@pytest.mark.skipif(
    not __import__("django.conf").conf.settings.REDIS_URL,
    reason="run streams live in Redis only in the scaled mode",
)
def test_stale_run_streams_get_an_expiry_and_stale_active_requests_go(settings) -> None:
    import time
    import uuid

    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    settings.REDIS_KEY_PREFIX = f"test-ops-{uuid.uuid4().hex[:8]}"
    stream = f"{settings.REDIS_KEY_PREFIX}:run:abc:events"
    alias = f"{settings.REDIS_KEY_PREFIX}:run:alias:abc"
    fresh = f"{settings.REDIS_KEY_PREFIX}:run:def:events"
    active = f"{settings.REDIS_KEY_PREFIX}:rate_limit:app1:active_requests"
    try:
        # given a stream and an alias left without expiry (a producer died between XADD and EXPIRE), a stream
        # with its expiry, and a concurrency counter holding one stale and one live entry
        client.xadd(stream, {"s": 1, "d": "{}"})
        client.set(alias, stream)
        client.xadd(fresh, {"s": 1, "d": "{}"})
        client.expire(fresh, 5)
        client.hset(active, mapping={"old": time.time() - 3600, "live": time.time()})
        # when the expiry pass runs
        counts = runs_expire()
        # then the two get RUN_EVENTS_TTL, the other keeps its own, and only the stale entry went
        assert counts["streams"] == 2
        assert 0 < client.ttl(stream) <= settings.RUN_EVENTS_TTL
        assert 0 < client.ttl(alias) <= settings.RUN_EVENTS_TTL
        assert client.ttl(fresh) <= 5
        assert counts["active_requests"] == 1
        assert set(client.hkeys(active)) == {b"live"}
    finally:
        client.delete(stream, alias, fresh, active)
        client.close()
