"""Imports waiting for confirmation (version pending) and dependencies to check, kept 10 minutes in the
cache as Dify keeps them in Redis. The cache is Redis in the scaled mode, so any process can confirm."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

EXPIRY_SECONDS = 10 * 60
_IMPORT = "app_import_info:"
_DEPENDENCIES = "app_check_dependencies:"


def pending_import_save(*, import_id: str, tenant_id: str, account_id: str, payload: dict[str, Any]) -> None:
    cache.set(
        f"{_IMPORT}{import_id}", {"tenant_id": tenant_id, "account_id": account_id, **payload}, EXPIRY_SECONDS
    )


def pending_import_load(*, import_id: str, tenant_id: str) -> dict[str, Any] | None:
    """The parked import, only for the workspace that parked it."""
    data = cache.get(f"{_IMPORT}{import_id}")
    if not isinstance(data, dict) or data.get("tenant_id") != tenant_id:
        return None
    return data


def pending_import_delete(*, import_id: str) -> None:
    cache.delete(f"{_IMPORT}{import_id}")


def dependencies_save(*, app_id: str, dependencies: list[Any]) -> None:
    cache.set(f"{_DEPENDENCIES}{app_id}", list(dependencies), EXPIRY_SECONDS)


def dependencies_load(*, app_id: str) -> list[Any]:
    return list(cache.get(f"{_DEPENDENCIES}{app_id}") or [])
