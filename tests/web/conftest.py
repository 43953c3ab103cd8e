from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from apps.models import App
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.configs import CHAT_CONFIG
from tests.service_api.conftest import test_model_runtime  # noqa: F401 - the live server's model runtime


@dataclass
class Site:
    """One published app, and a way to open it as a new browser would (a fresh passport)."""

    app: App
    base_url: str

    @property
    def code(self) -> str:
        return self.app.site.code

    def passport(self, **params: str) -> str:
        response = httpx.get(
            f"{self.base_url}/api/passport", headers={"X-App-Code": self.code}, params=params
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def browser(self, token: str | None = None) -> httpx.Client:
        """An API client of one browser: its own passport, as the page gets it."""
        return httpx.Client(
            base_url=f"{self.base_url}/api",
            headers={"Authorization": f"Bearer {token or self.passport()}", "X-App-Code": self.code},
            timeout=15,
        )


@pytest.fixture
def workspace(live_asgi, fake_llm):
    tenant = factories.tenant_factory()
    factories.member_factory(tenant=tenant, role="owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    return tenant


@pytest.fixture
def published(workspace, live_asgi):
    """``published(mode, config=..., graph=...)``: an app with its site, served by the live server."""

    def make(mode: str = "chat", **kwargs) -> Site:
        if mode not in ("workflow", "advanced-chat"):
            kwargs.setdefault("config", CHAT_CONFIG)
        app = factories.app_factory(tenant=workspace, mode=mode, **kwargs)
        return Site(app=app, base_url=live_asgi.url)

    return make
