"""Scheduled maintenance tasks (beat's database scheduler runs them; see ``operations.schedule``).

Thin interfaces: each calls one pass in ``operations.services``, which takes its lock; a pass already
under way elsewhere makes the task a logged no-op, so two deliveries at once are harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


def _run(name: str, call: Any) -> Any:
    from operations.services import PassSkipped

    try:
        return call()
    except PassSkipped:
        logger.info("%s: already running elsewhere; skipped", name)
        return None


@shared_task(name="operations.purge_history", ignore_result=True)
def purge_history() -> None:
    from operations.services import history_retention_apply

    _run("purge_history", history_retention_apply)


@shared_task(name="operations.clean_orphan_files", ignore_result=True)
def clean_orphan_files() -> None:
    from operations.services import orphan_files_clean

    _run("clean_orphan_files", orphan_files_clean)


@shared_task(name="operations.recover_stuck_documents", ignore_result=True)
def recover_stuck_documents() -> None:
    from operations.services import stuck_documents_recover

    _run("recover_stuck_documents", stuck_documents_recover)


@shared_task(name="operations.expire_runs", ignore_result=True)
def expire_runs() -> None:
    from operations.services import runs_expire

    _run("expire_runs", runs_expire)


@shared_task(name="operations.roll_up_usage", ignore_result=True)
def roll_up_usage() -> None:
    from operations.services import usage_roll_up

    _run("roll_up_usage", usage_roll_up)
