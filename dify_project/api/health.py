"""Liveness and readiness probes for operators and orchestrators."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No dependency is touched."""
    return JsonResponse({"status": "ok", "mode": settings.RUNTIME_MODE})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    cache.set("readyz", "1", 5)
    if cache.get("readyz") != "1":
        raise RuntimeError("cache round trip failed")


def _check_broker() -> None:
    # A fresh connection from the settings, not Celery's pooled ones: a probe must not disturb workers.
    from kombu import Connection

    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=2,
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, cache and task broker all reachable. 503 names what is not."""
    checks = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a probe reports any failure, it never raises
            results[name] = f"error: {exc.__class__.__name__}: {exc}"
    ok = all(value == "ok" for value in results.values())
    # Reported, not gating: without a sandbox only code nodes fail (closed); everything else serves.
    from dify_project.code_execution import status as sandbox_status

    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": results, "code_sandbox": sandbox_status()},
        status=200 if ok else 503,
    )
