"""A live server, a workspace whose OpenAI provider points at the loopback fake model, and Dify's SDK."""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from accounts.models import Tenant
from tests import factories
from tests.providers_django.given import openai_values, provider_credential
from tests.service_api.conftest import test_model_runtime  # noqa: F401 (autouse: fast retries, also in the server)
from tests.support.fixtures import fake_llm, fake_llm_server  # noqa: F401

# The SDK sets no timeout: a server that never answers would hang the run. Dump the stacks and stop.
WATCHDOG_SECONDS = 120

C = TypeVar("C")


@pytest.fixture(autouse=True)
def _watchdog() -> Iterator[None]:
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@dataclass
class Workspace:
    tenant: Tenant
    base_url: str

    def app(self, mode: str, **fields: Any) -> Any:
        return factories.app_factory(tenant=self.tenant, mode=mode, **fields)

    def client(self, cls: Callable[..., C], app: Any) -> C:
        """An SDK client of class ``cls`` holding a fresh key of ``app``."""
        return cls(factories.api_key_factory(app=app), self.base_url)


@pytest.fixture
def workspace(live_asgi, fake_llm) -> Workspace:  # noqa: F811 (the imported fixture)
    tenant = factories.tenant_factory(name="Compat")
    factories.member_factory(tenant=tenant, role="owner", name="Ada Owner")
    provider_credential(tenant=tenant, provider="openai", values=openai_values(fake_llm))
    return Workspace(tenant=tenant, base_url=f"{live_asgi.url}/v1")
