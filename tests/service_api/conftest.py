from __future__ import annotations

import httpx
import pytest
from rest_framework.test import APIClient

from accounts.models import Tenant
from apps.models import App
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.configs import CHAT_CONFIG


@pytest.fixture
def chat_app(tenant: Tenant, owner):
    return factories.app_factory(tenant=tenant, mode="chat", name="Chatty")


@pytest.fixture
def workflow_app(tenant: Tenant, owner):
    return factories.app_factory(tenant=tenant, mode="workflow", name="Flow")


@pytest.fixture
def app_client():
    """An API client for a given app, authenticated with a fresh app key."""

    def make(app) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key_factory(app=app)}")
        return client

    return make


@pytest.fixture(autouse=True)
def test_model_runtime():
    """The process's model runtime with short timeouts and fast retries (installed for the live server too)."""
    from providers.runtime import InMemoryCooldownStore, LoadBalancer, ModelRuntime
    from providers.services import config_cache
    from providers.services.runtime import set_model_runtime
    from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS

    runtime = ModelRuntime(
        retry=TEST_RETRY, timeouts=TEST_TIMEOUTS, balancer=LoadBalancer(InMemoryCooldownStore())
    )
    set_model_runtime(runtime)
    config_cache.clear()
    yield runtime
    set_model_runtime(None)
    config_cache.clear()


@pytest.fixture
def owner_of():
    """The owner account of an app's workspace."""
    from accounts.selectors import tenant_owner

    return lambda app: tenant_owner(tenant=app.tenant)


@pytest.fixture
def setup(live_asgi, fake_llm):
    """A workspace with the loopback model as its OpenAI provider; ``setup(mode, config)`` makes an app
    there and answers it with an httpx client of the live server, authenticated with the app's key."""
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))

    def make(mode: str = "chat", config: dict | None = None) -> tuple[App, httpx.Client]:
        app = factories.app_factory(tenant=tenant, mode=mode, config=config or CHAT_CONFIG)
        key = factories.api_key_factory(app=app)
        return app, httpx.Client(
            base_url=f"{live_asgi.url}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=15
        )

    return make
