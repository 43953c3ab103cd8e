"""Price overrides per model (a project extension) and what the console shows of a pool in cooldown."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from accounts.models import Tenant
from providers.models import ModelPrice, ModelUsage
from providers.runtime import ModelRuntime
from providers.services import invocation
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer, Reply

BASE = "/console/api/workspaces/current/model-providers/openai"
MODEL = {"model": "gpt-4o-mini", "model_type": "llm"}


def _invoke(runtime: ModelRuntime, tenant: Tenant, **extra: Any) -> Any:
    """Call the async service from this sync test, as a Celery task would, closing the loop's connections."""

    async def call() -> Any:
        try:
            return await invocation.llm_invoke(
                tenant_id=str(tenant.id),
                provider="openai",
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                parameters={},
                **extra,
            )
        finally:
            await runtime.aclose()

    return async_to_sync(call)()


def test_a_price_override_is_shown_used_for_calls_and_removable(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, test_runtime: ModelRuntime
) -> None:
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    # given the catalogue's price
    shown = owner_client.get(f"{BASE}/models/pricing", MODEL).json()["data"]
    assert shown["overridden"] is False
    assert shown["pricing"] == {"input": "0.15", "output": "0.60", "unit": "0.000001", "currency": "USD"}
    # when the workspace sets its own (per thousand tokens, in euros)
    response = owner_client.post(
        f"{BASE}/models/pricing",
        {**MODEL, "input": "0.5", "output": "1.5", "unit": "0.001", "currency": "eur"},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["overridden"] is True
    assert data["pricing"] == {"input": "0.5", "output": "1.5", "unit": "0.001", "currency": "EUR"}
    assert data["catalogue_pricing"]["input"] == "0.15"
    # then calls are priced with it, and metered so
    fake_llm.push(Reply(text="ok", usage=(1000, 2000)))
    result = _invoke(test_runtime, tenant)
    assert result.usage.total_price == Decimal("3.5") and result.usage.currency == "EUR"
    row = ModelUsage.objects.for_tenant(tenant).get()
    assert (row.total_price, row.currency) == (Decimal("3.5"), "EUR")
    # and the provider's overrides are listed
    listed = owner_client.get(f"{BASE}/models/pricing").json()["data"]
    assert [(p["model"], p["overridden"]) for p in listed] == [("gpt-4o-mini", True)]
    # when it is removed, the catalogue's price is back, for calls too
    assert owner_client.delete(f"{BASE}/models/pricing", MODEL, format="json").status_code == 204
    assert owner_client.get(f"{BASE}/models/pricing", MODEL).json()["data"]["overridden"] is False
    fake_llm.push(Reply(text="ok", usage=(1_000_000, 0)))
    assert _invoke(test_runtime, tenant).usage.total_price == Decimal("0.15")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**MODEL, "input": "-1"}, 400),
        ({**MODEL, "input": "abc"}, 400),
        ({**MODEL, "input": "1", "currency": "dollars"}, 400),
        ({"model": "gpt-99", "model_type": "llm", "input": "1"}, 404),
        ({"model": "gpt-4o-mini", "model_type": "rerank", "input": "1"}, 400),
    ],
)
def test_bad_price_overrides_are_refused(
    owner_client: APIClient, tenant: Tenant, body: dict, status: int
) -> None:
    response = owner_client.post(f"{BASE}/models/pricing", body, format="json")
    assert response.status_code == status
    assert not ModelPrice.objects.for_tenant(tenant).exists()


def test_price_overrides_are_per_workspace_and_for_owners_and_admins(
    owner_client: APIClient, other_client: APIClient, member_client: Any, tenant: Tenant, other_tenant: Tenant
) -> None:
    given.price(
        tenant=other_tenant, provider="openai", model="gpt-4o-mini", input_price="9", output_price="9"
    )
    assert owner_client.get(f"{BASE}/models/pricing", MODEL).json()["data"]["overridden"] is False
    assert owner_client.get(f"{BASE}/models/pricing").json()["data"] == []
    editor = member_client("editor")
    assert editor.post(f"{BASE}/models/pricing", {**MODEL, "input": "1"}, format="json").status_code == 403
    assert editor.delete(f"{BASE}/models/pricing", MODEL, format="json").status_code == 403
    assert editor.get(f"{BASE}/models/pricing", MODEL).status_code == 200
    assert other_client.get(f"{BASE}/models/pricing", MODEL).json()["data"]["overridden"] is True


def test_the_console_shows_a_pool_member_cooling_down(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer, test_runtime: ModelRuntime
) -> None:
    # given a model balanced across two credentials
    first = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    second = given.provider_credential(
        tenant=tenant,
        provider="openai",
        values=given.openai_values(fake_llm, key=given.OTHER_OPENAI_KEY),
        name="API KEY 2",
        active=False,
    )
    given.load_balanced(tenant=tenant, provider="openai", model="gpt-4o-mini", credentials=[first, second])
    # when a call hits a rate limit on one of them
    fake_llm.push(Reply.error(429, "Rate limit reached", type="rate_limit_exceeded"))
    _invoke(test_runtime, tenant)
    # then the pool shows exactly that one cooling down
    configs = owner_client.get(f"{BASE}/models/load-balancing-configs", MODEL).json()["configs"]
    limited_key = fake_llm.requests_on("chat")[0].headers["authorization"].removeprefix("Bearer ")
    cooling = {c["name"]: c["in_cooldown"] for c in configs if c["id"]}
    limited_name = "API KEY 1" if limited_key == given.OPENAI_KEY else "API KEY 2"
    assert cooling == {"API KEY 1": limited_name == "API KEY 1", "API KEY 2": limited_name == "API KEY 2"}
