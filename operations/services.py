"""Scheduled maintenance: the policy (cut-offs per workspace, limits from settings) over the domains'
services, each pass under a named lock so two beats, or a beat and an operator's command, never run the
same pass at once. Every pass is idempotent: run twice, the second finds nothing left to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Tenant
from apps.services import maintenance, usage
from dify_project.locks import named_lock
from knowledge.models import IndexingStatus
from knowledge.services import recovery
from operations.models import DocumentRecovery

logger = logging.getLogger(__name__)

RETENTION_OVERRIDE_KEY = "retention_days"


class PassSkipped(Exception):
    """Another process holds this pass's lock: it is under way there."""


@dataclass(frozen=True)
class RetentionPolicy:
    days: int
    scope: Q  # a filter on tenant_id
    label: str

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


def retention_policies(*, days: int | None = None, tenant_id: Any = None) -> list[RetentionPolicy]:
    """One policy per distinct retention: the default (``RETENTION_DAYS``, or ``days``) for workspaces
    without an override, and one per override value in a workspace's ``custom_config``. Days <= 0 keep
    everything and give no policy. ``tenant_id`` narrows the result to one workspace."""
    default_days = settings.RETENTION_DAYS if days is None else days
    overrides: dict[int, list[Any]] = {}
    overridden: list[Any] = []
    tenants = Tenant.objects.filter(custom_config__has_key=RETENTION_OVERRIDE_KEY)
    if tenant_id is not None:
        tenants = tenants.filter(id=tenant_id)
    for tenant in tenants.only("id", "custom_config"):
        value = tenant.custom_config.get(RETENTION_OVERRIDE_KEY)
        try:
            tenant_days = int(value)
        except (TypeError, ValueError):
            logger.warning("workspace %s: retention_days %r is not a number; default used", tenant.id, value)
            continue
        overridden.append(tenant.id)
        overrides.setdefault(tenant_days, []).append(tenant.id)
    policies = []
    if days is None:
        for tenant_days, ids in sorted(overrides.items()):
            if tenant_days > 0:
                policies.append(
                    RetentionPolicy(tenant_days, Q(tenant_id__in=ids), f"{len(ids)} workspace(s)")
                )
    else:  # an explicit --days applies to every workspace
        overridden = []
    scope = ~Q(tenant_id__in=overridden) if overridden else Q()
    if tenant_id is not None:
        scope &= Q(tenant_id=tenant_id)
    if default_days > 0 and not (tenant_id is not None and tenant_id in overridden):
        policies.append(RetentionPolicy(default_days, scope, "default"))
    return policies


def history_retention_apply(
    *, dry_run: bool = False, days: int | None = None, tenant_id: Any = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Delete (or with ``dry_run`` count) history older than each policy's cut-off. One report per policy:
    ``{"policy", "days", "cutoff", "counts": {table: rows}}``. Raises PassSkipped when already running."""
    now = now or timezone.now()
    with named_lock("retention", timeout=6 * 3600) as held:
        if not held:
            raise PassSkipped("retention")
        reports = []
        for policy in retention_policies(days=days, tenant_id=tenant_id):
            cutoff = policy.cutoff(now)
            if dry_run:
                counts = maintenance.history_count(cutoff=cutoff, scope=policy.scope)
            else:
                counts = maintenance.history_purge(
                    cutoff=cutoff, scope=policy.scope, batch_size=settings.RETENTION_BATCH_SIZE
                )
            reports.append({"policy": policy.label, "days": policy.days, "cutoff": cutoff, "counts": counts})
            logger.info(
                "retention %s (%s days, before %s)%s: %s",
                policy.label,
                policy.days,
                cutoff.isoformat(),
                " [dry run]" if dry_run else "",
                counts,
            )
        return reports


def orphan_files_clean(*, dry_run: bool = False, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    created_before = now - timedelta(hours=settings.ORPHAN_FILES_GRACE_HOURS)
    with named_lock("orphan-files", timeout=3600) as held:
        if not held:
            raise PassSkipped("orphan-files")
        if dry_run:
            return maintenance.orphan_files_count(created_before=created_before)
        counts = maintenance.orphan_files_purge(
            created_before=created_before, batch_size=settings.RETENTION_BATCH_SIZE
        )
        logger.info("orphan files removed: %s", counts)
        return counts


def stuck_documents_recover(*, now: datetime | None = None) -> dict[str, int]:
    """Queue again documents with no indexing progress for ``STUCK_DOCUMENTS_AFTER_MINUTES``; one that
    was already queued ``STUCK_DOCUMENTS_MAX_REQUEUES`` times fails with a reason instead."""
    now = now or timezone.now()
    idle_before = now - timedelta(minutes=settings.STUCK_DOCUMENTS_AFTER_MINUTES)
    counts = {"requeued": 0, "failed": 0}
    with named_lock("stuck-documents", timeout=1800) as held:
        if not held:
            raise PassSkipped("stuck-documents")
        for document in recovery.documents_stalled(idle_before=idle_before):
            stage = document.indexing_status
            if stage == IndexingStatus.WAITING:
                # Never started: its task was lost, or the queue is long. Queue it again, never fail it
                # (a long backlog is not an error; a duplicate task finds the document taken and leaves).
                if recovery.document_requeue_stalled(document=document):
                    counts["requeued"] += 1
                continue
            record, _ = DocumentRecovery.objects.get_or_create(document_id=document.id)
            if record.attempts >= settings.STUCK_DOCUMENTS_MAX_REQUEUES:
                reason = (
                    f"Indexing stopped making progress at the '{stage}' step and was queued again "
                    f"{record.attempts} time(s) without finishing; retry the document to index it again."
                )
                if recovery.document_fail_stalled(document=document, reason=reason):
                    counts["failed"] += 1
                    record.delete()
                continue
            if recovery.document_requeue_stalled(document=document):
                record.attempts += 1
                record.last_reason = f"no progress at '{stage}' since {document.updated_at.isoformat()}"
                record.save(update_fields=["attempts", "last_reason", "updated_at"])
                counts["requeued"] += 1
        # A document that finished (or was deleted) needs no record any more.
        DocumentRecovery.objects.exclude(
            document_id__in=recovery.documents_unfinished().values("id")
        ).delete()
    if counts["requeued"] or counts["failed"]:
        logger.warning("stuck documents: %s", counts)
    return counts


def runs_expire(*, now: datetime | None = None) -> dict[str, int]:
    """Fail paused runs whose human-input forms all expired and runs abandoned by a dead process; give
    stale run event streams an expiry."""
    now = now or timezone.now()
    with named_lock("run-expiry", timeout=1800) as held:
        if not held:
            raise PassSkipped("run-expiry")
        counts = {
            "paused_runs_expired": maintenance.paused_runs_expire(now=now),
            "abandoned_runs_failed": maintenance.abandoned_runs_fail(
                started_before=now - timedelta(seconds=settings.RUNS_ABANDONED_AFTER_SECONDS)
            ),
            **maintenance.run_streams_expire(),
        }
    if any(counts.values()):
        logger.info("run expiry: %s", counts)
    return counts


def usage_roll_up(*, now: datetime | None = None, tenant_id: Any = None) -> dict[str, int]:
    """Roll up daily usage for every workspace (or one), in each time zone its members use."""
    counts = {"workspaces": 0, "days": 0}
    with named_lock("usage-rollup", timeout=3600) as held:
        if not held:
            raise PassSkipped("usage-rollup")
        tenants = Tenant.objects.order_by("created_at")
        if tenant_id is not None:
            tenants = tenants.filter(id=tenant_id)
        for workspace_id in tenants.values_list("id", flat=True).iterator():
            for tz_name in usage.usage_timezones(tenant_id=workspace_id):
                counts["days"] += usage.daily_usage_roll_up(
                    tenant_id=workspace_id,
                    tz_name=tz_name,
                    lookback_days=settings.USAGE_ROLLUP_LOOKBACK_DAYS,
                    now=now,
                )
            counts["workspaces"] += 1
    logger.info("usage roll-up: %s", counts)
    return counts
