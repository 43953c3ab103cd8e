"""API keys (``app-…`` and ``dataset-…``): created shown once, stored hashed, resolved with a cache."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant, TenantStatus
from accounts.tokens import hash_token
from apps import exceptions as errors
from apps.models import ApiToken, App
from apps.services.app_cache import cached_app
from dify_project import ratelimit
from dify_project.api.errors import TooManyRequests

MAX_KEYS_PER_RESOURCE = 10
_ALPHABET = string.ascii_letters + string.digits
_CACHE_SECONDS = 600
_LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ResolvedKey:
    """What a key resolves to; cached, so a request does not hit the database for the key itself."""

    token_id: str
    type: str
    tenant_id: str
    app_id: str | None


def _generate(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


@transaction.atomic
def api_key_create(*, tenant: Tenant, type: str, app: App | None = None) -> tuple[ApiToken, str]:
    """Create a key and return (row, plain key). The plain key is never stored nor shown again."""
    scope = ApiToken.objects.select_for_update().filter(tenant=tenant, type=type)
    scope = scope.filter(app=app) if app is not None else scope.filter(app__isnull=True)
    if len(list(scope)) >= MAX_KEYS_PER_RESOURCE:
        raise errors.TooManyApiKeys()
    plain = _generate(f"{type}-")
    token = ApiToken.objects.create(
        tenant=tenant, app=app, type=type, token_hash=hash_token(plain), prefix=plain[:10]
    )
    return token, plain


def api_key_delete(*, token: ApiToken) -> None:
    """Revoke a key at once: the row goes and so does its cached resolution."""
    token.delete()
    cache.delete(_cache_key(token.type, token.token_hash))


def _cache_key(scope: str, digest: str) -> str:
    return f"api_token:{scope}:{digest}"


def api_key_resolve(*, plain: str, scope: str) -> ResolvedKey:
    """Resolve a presented key of the given scope (``app`` or ``dataset``), or raise 401."""
    digest = hash_token(plain)
    cache_key = _cache_key(scope, digest)
    resolved: ResolvedKey | None = cache.get(cache_key)
    if resolved is None:
        token = (
            ApiToken.objects.filter(token_hash=digest, type=scope)
            .only("id", "type", "tenant_id", "app_id")
            .first()
        )
        if token is None:
            raise errors.InvalidApiKey()
        resolved = ResolvedKey(
            token_id=str(token.id),
            type=token.type,
            tenant_id=str(token.tenant_id),
            app_id=str(token.app_id) if token.app_id else None,
        )
        cache.set(cache_key, resolved, _CACHE_SECONDS)
    _rate_check(resolved)
    if cache.add(f"api_token:used:{resolved.token_id}", True, int(_LAST_USED_EVERY.total_seconds())):
        # At most one write a minute per key: last_used_at is informational.
        ApiToken.objects.filter(id=resolved.token_id).update(last_used_at=timezone.now())
    return resolved


def _rate_check(resolved: ResolvedKey) -> None:
    """Requests per minute and per hour per key: the app's own ``api_rpm`` / ``api_rph`` when set, else
    API_KEY_RATE_LIMIT_PER_MINUTE / _PER_HOUR (0: none). Over either: 429 ``too_many_requests`` with
    Retry-After."""
    per_minute, per_hour = settings.API_KEY_RATE_LIMIT_PER_MINUTE, settings.API_KEY_RATE_LIMIT_PER_HOUR
    if resolved.app_id:
        app = cached_app(app_id=resolved.app_id, tenant_id=resolved.tenant_id)
        if app is not None:
            per_minute = app.api_rpm if app.api_rpm > 0 else per_minute
            per_hour = app.api_rph if app.api_rph > 0 else per_hour
    for limit, window, unit in ((per_minute, 60, "minute"), (per_hour, 3600, "hour")):
        decision = ratelimit.hit(f"api_key:{resolved.token_id}:{window}", limit=limit, window=window)
        if not decision.allowed:
            error = TooManyRequests(f"Rate limit exceeded: {limit} requests per {unit} for this API key.")
            error.retry_after = decision.retry_after
            raise error


def app_for_key(*, resolved: ResolvedKey) -> App:
    """The app of an app key, refusing a deleted, abnormal or API-disabled app and an archived workspace."""
    app = cached_app(app_id=resolved.app_id, tenant_id=resolved.tenant_id)
    if app is None:
        raise errors.AppNotFound("The app no longer exists.", code="forbidden", status=403)
    if app.status != "normal":
        raise errors.AppAbnormal()
    if not app.enable_api:
        raise errors.AppApiDisabled()
    if app.tenant.status == TenantStatus.ARCHIVE:
        raise errors.WorkspaceArchived()
    return app
