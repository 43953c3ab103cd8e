"""Load balancing a model across several credentials: configured in the console, used by calls."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from rest_framework.test import APIClient

from accounts.models import Tenant
from dify_project.crypto import mask
from providers.models import LoadBalancingModelConfig, ModelUsage, ProviderModelSetting
from providers.runtime import LoadBalancer, ModelRuntime
from providers.services import invocation
from providers.services.cooldown import CacheCooldownStore
from providers.services.runtime import cooling_down, set_model_runtime
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer, Reply
from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS

BASE = "/console/api/workspaces/current/model-providers/openai"
MODEL = {"model": "gpt-4o-mini", "model_type": "llm"}
KEY_A, KEY_B = given.OPENAI_KEY, given.OTHER_OPENAI_KEY


def _pool(tenant: Tenant) -> list[LoadBalancingModelConfig]:
    return list(LoadBalancingModelConfig.objects.for_tenant(tenant).order_by("created_at"))


def _lb_state(client: APIClient) -> dict[str, Any]:
    body = client.get(f"{BASE}/models/credentials", {**MODEL, "config_from": "predefined-model"}).json()
    return body["load_balancing"]


@pytest.mark.django_db
def test_a_pool_is_saved_with_its_new_credentials_checked_first(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    # given openai configured with key A, and a server that accepts A and B
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fake_llm.api_keys = {KEY_A, KEY_B}
    # then before anything is saved, the pool shows the main credential as `__inherit__`
    before = _lb_state(owner_client)
    assert before["enabled"] is False
    assert [c["name"] for c in before["configs"]] == ["__inherit__"]
    # when the owner balances the model across the main credential and a new key B
    response = owner_client.post(
        f"{BASE}/models",
        {
            **MODEL,
            "config_from": "predefined-model",
            "load_balancing": {
                "enabled": True,
                "configs": [
                    {"name": "__inherit__", "enabled": True},
                    {
                        "name": "second",
                        "enabled": True,
                        "credentials": given.openai_values(fake_llm, key=KEY_B),
                    },
                ],
            },
        },
        format="json",
    )
    # then key B was checked by a real call of the model, and the pool saved and enabled
    assert response.status_code == 200, response.content
    assert fake_llm.requests_on("chat")[-1].headers["authorization"] == f"Bearer {KEY_B}"
    assert [c.name for c in _pool(tenant)] == ["__inherit__", "second"]
    assert ProviderModelSetting.objects.for_tenant(tenant).get().load_balancing_enabled
    after = _lb_state(owner_client)
    assert after["enabled"] is True
    second = after["configs"][1]
    assert second["credentials"]["openai_api_key"] == mask(KEY_B)
    assert second["in_cooldown"] is False and second["enabled"] is True
    assert after["configs"][0]["id"] == str(_pool(tenant)[0].id)
    # and sending the pool back as shown (masked key, ids) changes nothing and calls nobody
    calls = len(fake_llm.requests)
    again = owner_client.post(
        f"{BASE}/models/load-balancing-configs",
        {
            **MODEL,
            "config_from": "predefined-model",
            "load_balancing": {"enabled": True, "configs": after["configs"]},
        },
        format="json",
    )
    assert again.status_code == 200, again.content
    assert len(fake_llm.requests) == calls
    assert _pool(tenant)[1].config["openai_api_key"] == KEY_B
    assert owner_client.get(f"{BASE}/models/load-balancing-configs", MODEL).json() == after


@pytest.mark.django_db
def test_a_pool_member_with_a_bad_key_is_refused_and_nothing_saved(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fake_llm.api_keys = {KEY_A}
    response = owner_client.post(
        f"{BASE}/models",
        {
            **MODEL,
            "config_from": "predefined-model",
            "load_balancing": {
                "enabled": True,
                "configs": [
                    {"name": "__inherit__", "enabled": True},
                    {"name": "bad", "enabled": True, "credentials": given.openai_values(fake_llm, key=KEY_B)},
                ],
            },
        },
        format="json",
    )
    assert response.status_code == 400
    assert _pool(tenant) == []
    assert not ProviderModelSetting.objects.for_tenant(tenant).exists()


@pytest.mark.django_db
def test_pool_credentials_validate_endpoints(
    owner_client: APIClient, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    fake_llm.api_keys = {KEY_A, KEY_B}
    url = f"{BASE}/models/load-balancing-configs/credentials-validate"
    good = owner_client.post(
        url, {**MODEL, "credentials": given.openai_values(fake_llm, key=KEY_B)}, format="json"
    )
    bad = owner_client.post(
        url, {**MODEL, "credentials": given.openai_values(fake_llm, key="sk-nope-000000")}, format="json"
    )
    assert good.json() == {"result": "success"}
    assert bad.json()["result"] == "error"
    # a saved member is checked with its stored key when the console sends it back hidden
    [config] = given.load_balanced(
        tenant=tenant,
        provider="openai",
        model="gpt-4o-mini",
        credentials=[
            given.provider_credential(
                tenant=tenant, provider="openai", values=given.openai_values(fake_llm), name="x", active=False
            )
        ],
    )
    config.provider_credential = None
    config.config = given.openai_values(fake_llm, key=KEY_B)
    config.save()
    hidden = owner_client.post(
        f"{BASE}/models/load-balancing-configs/{config.id}/credentials-validate",
        {**MODEL, "credentials": {**given.openai_values(fake_llm), "openai_api_key": "[__HIDDEN__]"}},
        format="json",
    )
    assert hidden.json() == {"result": "success"}
    assert fake_llm.requests_on("chat")[-1].headers["authorization"] == f"Bearer {KEY_B}"


@pytest.mark.django_db
def test_only_owners_and_admins_manage_pools(
    member_client: Any, tenant: Tenant, fake_llm: FakeLLMServer
) -> None:
    editor = member_client("editor")
    body = {
        **MODEL,
        "load_balancing": {"enabled": True, "configs": [{"name": "__inherit__", "enabled": True}]},
    }
    assert editor.post(f"{BASE}/models", body, format="json").status_code == 403
    assert editor.post(f"{BASE}/models/load-balancing-configs", body, format="json").status_code == 403
    validate = f"{BASE}/models/load-balancing-configs/credentials-validate"
    assert editor.post(validate, {**MODEL, "credentials": {}}, format="json").status_code == 403
    assert editor.get(f"{BASE}/models/load-balancing-configs", MODEL).status_code == 200


@pytest.fixture
def balanced_pool(db: None, tenant: Tenant, fake_llm: FakeLLMServer) -> list[LoadBalancingModelConfig]:
    """gpt-4o-mini balanced across key A (the active credential) and key B."""
    first = given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))
    second = given.provider_credential(
        tenant=tenant,
        provider="openai",
        values=given.openai_values(fake_llm, key=KEY_B),
        name="API KEY 2",
        active=False,
    )
    return given.load_balanced(
        tenant=tenant, provider="openai", model="gpt-4o-mini", credentials=[first, second]
    )


async def _call(tenant: Tenant) -> None:
    await invocation.llm_invoke(
        tenant_id=str(tenant.id),
        provider="openai",
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        parameters={},
    )


def _keys_used(server: FakeLLMServer) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in server.requests_on("chat")]


@pytest.mark.django_db(transaction=True)
async def test_calls_go_round_robin_across_the_pool(
    tenant: Tenant, fake_llm: FakeLLMServer, balanced_pool: list, runtime: ModelRuntime
) -> None:
    for _ in range(4):
        await _call(tenant)
    keys = _keys_used(fake_llm)
    assert sorted(keys) == sorted([KEY_A, KEY_B, KEY_A, KEY_B])
    assert all(a != b for a, b in itertools.pairwise(keys))


@pytest.mark.django_db(transaction=True)
async def test_a_credential_that_hits_a_rate_limit_cools_down_and_the_other_takes_over(
    tenant: Tenant, fake_llm: FakeLLMServer, balanced_pool: list, runtime: ModelRuntime
) -> None:
    # given the next request is answered with a 429, whichever key it carries
    fake_llm.push(Reply.error(429, "Rate limit reached", type="rate_limit_exceeded"))
    # when calls are made
    await _call(tenant)
    limited, rescued = _keys_used(fake_llm)
    for _ in range(3):
        await _call(tenant)
    # then the call that hit the limit moved to the other credential at once, and the limited one
    # sits out its cooldown: every later call uses the other
    assert limited != rescued
    assert _keys_used(fake_llm)[2:] == [rescued] * 3
    # and the console shows the member cooling down
    config_id = next(
        str(c.id) for c in balanced_pool if (c.provider_credential.config["openai_api_key"] == limited)
    )
    key = f"{tenant.id}:openai:llm:gpt-4o-mini"
    assert await runtime.balancer.store.is_cooling_down(key, config_id)
    usage = await sync_to_async(lambda: sorted(r.status for r in ModelUsage.objects.for_tenant(tenant)))()
    assert usage == ["succeeded"] * 4


@pytest.mark.django_db(transaction=True)
async def test_the_shared_cache_store_balances_and_cools_down_too(
    tenant: Tenant, fake_llm: FakeLLMServer, balanced_pool: list, runtime: ModelRuntime
) -> None:
    # given the runtime of the scaled mode: balancing state in the Django cache, shared by processes
    shared = ModelRuntime(
        retry=TEST_RETRY, timeouts=TEST_TIMEOUTS, balancer=LoadBalancer(CacheCooldownStore())
    )
    set_model_runtime(shared)
    try:
        # when a call hits a rate limit, then three more are made
        fake_llm.push(Reply.error(429, "Rate limit reached", type="rate_limit_exceeded"))
        for _ in range(4):
            await _call(tenant)
    finally:
        await shared.aclose()
    limited, rescued, *later = _keys_used(fake_llm)
    # then the limited credential sat out and the cache holds its cooldown, as the console reads it
    assert limited != rescued and later == [rescued] * 3
    pool = f"{tenant.id}:openai:llm:gpt-4o-mini"
    ids = [str(c.id) for c in balanced_pool]
    flags = await sync_to_async(cooling_down)(pool, ids)
    assert sorted(flags) == [False, True]
