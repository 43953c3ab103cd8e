"""Maintenance of what the apps domain keeps: retention of messages and conversations, files whose owners
are gone, expiry of paused human-input runs, and expiry of stale run event streams.

Each function is idempotent and bounded (deletes in batches, each its own short transaction); the
scheduled tasks in ``operations`` call them under a lock and decide the policy (cut-offs per workspace).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import Account
from apps.models import App, Conversation, EndUser, Message, MessageFile, MessageStatus, Site
from files.models import CreatedByRole, ToolFile, UploadFile
from knowledge.models import Document
from workflows.models import ConversationVariable
from workflows.services import retention as workflow_retention
from workflows.services.retention import delete_in_batches

logger = logging.getLogger(__name__)

HUMAN_INPUT_EXPIRED = "The human input form expired before anyone answered it."


# --- messages and conversations ----------------------------------------------------------------------


def _old_messages(*, cutoff: datetime, scope: Q) -> QuerySet[Message]:
    return Message.objects.filter(scope, created_at__lt=cutoff)


def _old_conversations(*, cutoff: datetime, scope: Q) -> QuerySet[Conversation]:
    # A conversation goes once nothing in it is newer than the cut-off: an old thread still in use stays.
    recent = Message.objects.filter(conversation=OuterRef("pk"), created_at__gte=cutoff)
    return Conversation.objects.filter(scope, updated_at__lt=cutoff).exclude(Exists(recent))


def message_history_count(*, cutoff: datetime, scope: Q) -> dict[str, int]:
    """What ``message_history_purge`` would delete, per table (for ``--dry-run``)."""
    conversations = _old_conversations(cutoff=cutoff, scope=scope)
    return {
        "messages": _old_messages(cutoff=cutoff, scope=scope).count(),
        "conversations": conversations.count(),
        "conversation_variables": ConversationVariable.objects.filter(
            conversation_id__in=conversations.values("id")
        ).count(),
    }


def message_history_purge(*, cutoff: datetime, scope: Q, batch_size: int) -> dict[str, int]:
    """Delete messages created before ``cutoff`` (with their feedback, files and agent thoughts), then the
    conversations left with nothing newer, and those conversations' variables; within ``scope``."""
    messages = delete_in_batches(_old_messages(cutoff=cutoff, scope=scope), batch_size=batch_size)
    conversations = _old_conversations(cutoff=cutoff, scope=scope)
    variables = 0
    removed_conversations = 0
    removed_messages = messages.get(Message._meta.label, 0)
    while True:
        ids = list(conversations.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        variables += ConversationVariable.objects.filter(conversation_id__in=ids).delete()[0]
        _, per_model = Conversation.objects.filter(pk__in=ids).delete()
        removed_conversations += per_model.get(Conversation._meta.label, 0)
        removed_messages += per_model.get(Message._meta.label, 0)
        if len(ids) < batch_size:
            break
    return {
        "messages": removed_messages,
        "conversations": removed_conversations,
        "conversation_variables": variables,
    }


def history_count(*, cutoff: datetime, scope: Q) -> dict[str, int]:
    return {
        **workflow_retention.workflow_history_count(cutoff=cutoff, scope=scope),
        **message_history_count(cutoff=cutoff, scope=scope),
    }


def history_purge(*, cutoff: datetime, scope: Q, batch_size: int) -> dict[str, int]:
    """Everything older than ``cutoff`` in ``scope``: runs and their records, then messages and
    conversations. Returns rows deleted per table."""
    return {
        **workflow_retention.workflow_history_purge(cutoff=cutoff, scope=scope, batch_size=batch_size),
        **message_history_purge(cutoff=cutoff, scope=scope, batch_size=batch_size),
    }


# --- files whose owners are gone -------------------------------------------------------------------


def _orphan_uploads(*, created_before: datetime) -> QuerySet[UploadFile]:
    accounts = Account.objects.filter(id=OuterRef("created_by"))
    end_users = EndUser.objects.filter(id=OuterRef("created_by"))
    owner_gone = Q(created_by_role=CreatedByRole.ACCOUNT, has_account=False) | Q(
        created_by_role=CreatedByRole.END_USER, has_end_user=False
    )
    return (
        UploadFile.objects.filter(created_at__lt=created_before)
        .annotate(
            has_account=Exists(accounts),
            has_end_user=Exists(end_users),
            in_document=Exists(Document.objects.filter(upload_file=OuterRef("pk"))),
            in_message=Exists(MessageFile.objects.filter(upload_file=OuterRef("pk"))),
        )
        .filter(owner_gone, in_document=False, in_message=False)
    )


def _orphan_tool_files(*, created_before: datetime) -> QuerySet[ToolFile]:
    conversation_gone = Q(conversation_id__isnull=False, has_conversation=False)
    user_gone = Q(has_account=False, has_end_user=False)
    return (
        ToolFile.objects.filter(created_at__lt=created_before)
        .annotate(
            has_conversation=Exists(Conversation.objects.filter(id=OuterRef("conversation_id"))),
            has_account=Exists(Account.objects.filter(id=OuterRef("user_id"))),
            has_end_user=Exists(EndUser.objects.filter(id=OuterRef("user_id"))),
        )
        .filter(conversation_gone | user_gone)
    )


def _icon_file_ids() -> set[uuid.UUID]:
    """Images used as app or web-app icons are kept whoever uploaded them."""
    icons = set(App.objects.filter(icon_type="image").values_list("icon", flat=True))
    icons |= set(Site.objects.filter(icon_type="image").values_list("icon", flat=True))
    ids = set()
    for icon in icons:
        try:
            ids.add(uuid.UUID(str(icon)))
        except ValueError:  # an icon given as a URL, not an upload
            continue
    return ids


def orphan_files_count(*, created_before: datetime) -> dict[str, int]:
    icons = list(_icon_file_ids())
    uploads = _orphan_uploads(created_before=created_before).exclude(pk__in=icons).count()
    return {"upload_files": uploads, "tool_files": _orphan_tool_files(created_before=created_before).count()}


def orphan_files_purge(*, created_before: datetime, batch_size: int) -> dict[str, int]:
    """Delete upload files whose uploader (account or end user) is gone and that no document or message
    refers to, and tool files whose conversation or user is gone; rows and stored content. Files younger
    than ``created_before`` are left alone (an upload may not be attached yet)."""
    icons = _icon_file_ids()
    uploads = _purge_files(
        _orphan_uploads(created_before=created_before).exclude(pk__in=list(icons)).only("id", "key"),
        key_of=lambda row: row.key,
        batch_size=batch_size,
    )
    tool_files = _purge_files(
        _orphan_tool_files(created_before=created_before).only("id", "file_key"),
        key_of=lambda row: row.file_key,
        batch_size=batch_size,
    )
    return {"upload_files": uploads, "tool_files": tool_files}


def _purge_files(queryset: QuerySet, *, key_of: Any, batch_size: int) -> int:
    deleted = 0
    failed: list[Any] = []
    while True:
        batch = list(queryset.exclude(pk__in=failed)[:batch_size])
        if not batch:
            return deleted
        # Content first, row second: a crash in between leaves a row the next pass deletes again (deleting
        # missing content is a no-op), never content that no row points at. A storage error skips the row.
        done = []
        for row in batch:
            try:
                default_storage.delete(key_of(row))
                done.append(row.pk)
            except Exception:
                logger.exception("deleting stored file %s failed; kept for the next pass", key_of(row))
                failed.append(row.pk)
        deleted += queryset.model.objects.filter(pk__in=done).delete()[0]
        if len(batch) < batch_size:
            return deleted


# --- paused human-input runs and abandoned runs ----------------------------------------------------


def paused_runs_expire(*, now: datetime) -> int:
    """Fail paused runs whose forms have all expired, and mark their chat messages as errors.
    Returns the number of runs ended."""
    ids = workflow_retention.workflow_pauses_expire(now=now, reason=HUMAN_INPUT_EXPIRED)
    if ids:
        Message.objects.filter(workflow_run_id__in=ids, status=MessageStatus.PAUSED).update(
            status=MessageStatus.ERROR, error=HUMAN_INPUT_EXPIRED, updated_at=now
        )
    return len(ids)


def abandoned_runs_fail(*, started_before: datetime) -> int:
    """Fail runs left ``running`` by a process that died; returns how many."""
    return len(workflow_retention.workflow_runs_abandoned_fail(started_before=started_before))


# --- run event streams ------------------------------------------------------------------------------


def run_streams_expire() -> dict[str, int]:
    """Scaled mode: give every run stream, alias and stop flag without an expiry one (``RUN_EVENTS_TTL``),
    and drop stale entries of the per-app active-request counters. The embedded mode keeps run streams
    in the web process, which forgets each one ``RUN_EVENTS_TTL`` after its run ends: nothing to do here.
    """
    if not settings.REDIS_URL:
        return {"streams": 0, "active_requests": 0}
    import time

    import redis

    from apps.runs.control import STALE_REQUEST_SECONDS

    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = settings.REDIS_KEY_PREFIX
    expired = 0
    try:
        for key in client.scan_iter(match=f"{prefix}:run:*", count=1000):
            if client.ttl(key) == -1:
                client.expire(key, settings.RUN_EVENTS_TTL)
                expired += 1
        stale = 0
        now = time.time()
        for key in client.scan_iter(match=f"{prefix}:rate_limit:*:active_requests", count=1000):
            old = [
                k
                for k, started in client.hgetall(key).items()
                if now - float(started) > STALE_REQUEST_SECONDS
            ]
            if old:
                stale += client.hdel(key, *old)
    finally:
        client.close()
    return {"streams": expired, "active_requests": stale}
