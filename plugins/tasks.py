"""Celery tasks of the plugins app: they take ids and call a service (idempotent: a redelivered task
finds the environment built and the plugins already marked)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="plugins.install_plugins", acks_late=True, ignore_result=True)
def install_plugins(task_id: str) -> None:
    from plugins.installs import install_task_run

    install_task_run(task_id=task_id)
