"""Fixtures for the Django side of model providers: the loopback fake provider server, a runtime tuned
for tests (short timeouts, fast retries) installed as the process's runtime, and members of each role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import Account, Tenant, TenantRole
from dify_project.outbound import ssrf_policy
from providers.runtime import HttpPool, InMemoryCooldownStore, LoadBalancer, ModelRuntime
from providers.services import config_cache
from providers.services.runtime import set_model_runtime
from tests import factories
from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS, closed_port, fake_llm, fake_llm_server  # noqa: F401


@pytest.fixture(autouse=True)
def test_runtime() -> Iterator[ModelRuntime]:
    """The process's ModelRuntime for this test: the real one (its pool behind the SSRF guard; the suite
    allow-lists loopback), with test timeouts and retries."""
    runtime = ModelRuntime(
        retry=TEST_RETRY,
        timeouts=TEST_TIMEOUTS,
        balancer=LoadBalancer(InMemoryCooldownStore()),
        http=HttpPool(timeouts=TEST_TIMEOUTS, policy=ssrf_policy),
    )
    set_model_runtime(runtime)
    config_cache.clear()
    yield runtime
    set_model_runtime(None)
    config_cache.clear()


@pytest.fixture
async def runtime(test_runtime: ModelRuntime) -> AsyncIterator[ModelRuntime]:
    """For async tests: the same runtime, its connections on the test's loop closed afterwards, and the
    database connection the service opened in the sync_to_async thread closed too."""
    yield test_runtime
    await test_runtime.aclose()
    await sync_to_async(connections.close_all)()


@pytest.fixture
def member_client(tenant: Tenant, client_for: Callable[[Account], APIClient]) -> Callable[[str], APIClient]:
    """An API client for a new member of `tenant` with the given role."""

    def make(role: str) -> APIClient:
        return client_for(factories.member_factory(tenant=tenant, role=role))

    return make


@pytest.fixture
def admin_client(member_client: Callable[[str], APIClient]) -> APIClient:
    return member_client(TenantRole.ADMIN)


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    return factories.tenant_factory(name="Other workspace")


@pytest.fixture
def other_client(other_tenant: Tenant, client_for: Callable[[Account], APIClient]) -> APIClient:
    """The owner of another workspace."""
    return client_for(factories.member_factory(tenant=other_tenant, role=TenantRole.OWNER))
