"""A per-process copy of the apps the Service API serves, checked against a version in the shared cache.

Every Service API call starts from its app (and the app's workspace, model config and annotation-reply
setting): four joined tables, read once per request. The rows change rarely, so each process keeps the last copy it read
and a version per app and per workspace lives in Django's cache (Redis in the scaled mode, so every
process sees a bump at once). Saving or deleting an app, its workspace or a model config bumps the version
(signals below; code that changes these rows with ``QuerySet.update`` calls ``forget_app``), and the next
request reads the rows again. Callers get their own copy of the object, so
nothing they set leaks into another request.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Tenant
from apps.models import App, AppAnnotationSetting, AppModelConfig

_VERSION_SECONDS = 24 * 3600
_MAX_APPS = 2048  # copies kept per process; the oldest go first

_lock = threading.Lock()
_copies: dict[str, tuple[tuple[Any, Any], App]] = {}


def _app_key(app_id: Any) -> str:
    return f"app-cache:app:{app_id}"


def _tenant_key(tenant_id: Any) -> str:
    return f"app-cache:tenant:{tenant_id}"


def _versions(app_id: str, tenant_id: str) -> tuple[Any, Any]:
    keys = (_app_key(app_id), _tenant_key(tenant_id))
    found = cache.get_many(keys)
    missing = [key for key in keys if key not in found]
    for key in missing:
        # First sight of this app or workspace: start a version, or take the one another process set.
        cache.add(key, time.time_ns(), _VERSION_SECONDS)
    if missing:
        found = cache.get_many(keys)
    return found.get(keys[0]), found.get(keys[1])


def cached_app(*, app_id: str, tenant_id: str) -> App | None:
    """The app (with its workspace, current model config and annotation-reply setting loaded) or None when
    it does not exist."""
    versions = _versions(str(app_id), str(tenant_id))
    held = _copies.get(str(app_id))
    if held is not None and held[0] == versions and None not in versions:
        return copy.copy(held[1])
    app = (
        App.objects.select_related("tenant", "app_model_config", "annotation_setting")
        .filter(id=app_id, tenant_id=tenant_id)
        .first()
    )
    if app is None:
        return None
    with _lock:
        if len(_copies) >= _MAX_APPS:
            _copies.pop(next(iter(_copies)))
        _copies[str(app_id)] = (versions, app)
    return copy.copy(app)


def known_app_mode(app_id: Any) -> str | None:
    """The mode of an app this process holds a copy of (no I/O: for labelling metrics); None otherwise."""
    held = _copies.get(str(app_id))
    return held[1].mode if held is not None else None


def _bump(key: str) -> None:
    cache.set(key, time.time_ns(), _VERSION_SECONDS)


def _bump_now_and_at_commit(key: str) -> None:
    # Once now, and again when the change commits: a request that read the old row while the transaction
    # was open would otherwise keep it under the version bumped first.
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def forget_app(app_id: Any) -> None:
    _bump_now_and_at_commit(_app_key(app_id))


def forget_tenant(tenant_id: Any) -> None:
    _bump_now_and_at_commit(_tenant_key(tenant_id))


@receiver([post_save, post_delete], sender=App, dispatch_uid="app_cache_app")
def _app_changed(sender: Any, instance: App, **kwargs: Any) -> None:
    forget_app(instance.id)


@receiver([post_save, post_delete], sender=AppModelConfig, dispatch_uid="app_cache_model_config")
def _model_config_changed(sender: Any, instance: AppModelConfig, **kwargs: Any) -> None:
    forget_app(instance.app_id)


@receiver([post_save, post_delete], sender=AppAnnotationSetting, dispatch_uid="app_cache_annotation_setting")
def _annotation_setting_changed(sender: Any, instance: AppAnnotationSetting, **kwargs: Any) -> None:
    forget_app(instance.app_id)


@receiver([post_save, post_delete], sender=Tenant, dispatch_uid="app_cache_tenant")
def _tenant_changed(sender: Any, instance: Tenant, **kwargs: Any) -> None:
    forget_tenant(instance.id)
