"""Project-wide fixtures. Domain fixtures live in each tests/<package>/conftest.py."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Account, Tenant, TenantRole
from accounts.tokens import issue_access_token
from tests import factories


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache_namespace() -> Iterator[None]:
    """Tests use their own key prefix, so running them against a shared Redis never touches real keys."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:8]}"
    with override_settings(CACHES=caches):
        yield
        _clear_namespace()


def _clear_namespace() -> None:
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{settings.CACHES['default']['KEY_PREFIX']}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Lockout counters and throttles live in the cache; tests must not leak them into each other.
    _clear_namespace()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def tenant(db: None) -> Tenant:
    factories.setup_done()
    return factories.tenant_factory(name="Acme")


@pytest.fixture
def owner(tenant: Tenant) -> Account:
    return factories.member_factory(tenant=tenant, role=TenantRole.OWNER, email="owner@example.com")


@pytest.fixture
def client_for() -> Callable[[Account], APIClient]:
    """An API client authenticated as the given account with a real console access token."""

    def make(account: Account) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_access_token(account_id=str(account.id))}")
        return client

    return make


@pytest.fixture
def owner_client(owner: Account, client_for: Callable[[Account], APIClient]) -> APIClient:
    return client_for(owner)
