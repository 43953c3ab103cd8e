"""Figures read at each scrape of /metrics: Celery queue depth and the indexing backlog."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

QUEUES = ("default", "workflow", "indexing")
_BACKLOG_SECONDS = 10.0  # a scrape every few seconds must not become a query every few seconds
_backlog: tuple[float, dict[str, int]] = (0.0, {})


def queue_depths() -> dict[str, int]:
    """Messages waiting per queue on the broker: list lengths on Redis, message files on the filesystem
    broker (kombu names them ``<time>_<uuid>.<queue>.msg``)."""
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("filesystem"):
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
        depths = dict.fromkeys(QUEUES, 0)
        if folder.is_dir():
            for entry in folder.iterdir():
                parts = entry.name.rsplit(".", 2)
                if len(parts) == 3 and parts[2] == "msg" and parts[1] in depths:
                    depths[parts[1]] += 1
        return depths
    if broker.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker, socket_timeout=2)
        try:
            return {queue: int(client.llen(queue)) for queue in QUEUES}
        finally:
            client.close()
    return {}


def celery_queue_depth() -> Iterable[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "dify_celery_queue_depth", "Tasks waiting on the broker, by queue.", labels=["queue"]
    )
    for queue, depth in queue_depths().items():
        family.add_metric([queue], depth)
    yield family


def indexing_backlog() -> Iterable[GaugeMetricFamily]:
    global _backlog
    from knowledge.services.recovery import indexing_backlog as backlog_now

    at, counts = _backlog
    if time.monotonic() - at > _BACKLOG_SECONDS:
        counts = backlog_now()
        _backlog = (time.monotonic(), counts)
    family = GaugeMetricFamily(
        "dify_indexing_backlog", "Documents not yet indexed, by indexing status.", labels=["status"]
    )
    for status in ("waiting", "parsing", "cleaning", "splitting", "indexing"):
        family.add_metric([status], counts.get(status, 0))
    yield family
