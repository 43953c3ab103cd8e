"""The invocation service: a workspace's calls resolved, priced, metered, with Dify's errors."""

from __future__ import annotations

from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async

from accounts.models import Tenant
from providers.exceptions import ModelDisabledError, ProviderNotInitializedError
from providers.models import ModelUsage, ProviderCredential, ProviderModelSetting
from providers.runtime import (
    AuthenticationError,
    InvokeError,
    LLMStream,
    ModelRuntime,
    ParameterError,
    RateLimitError,
    UnknownProviderError,
)
from providers.services import credentials as credential_services
from providers.services import invocation
from tests.providers_django import given
from tests.support.fake_llm import FakeLLMServer, Reply

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Say hello"}]


def _usage_rows(tenant: Tenant) -> list[ModelUsage]:
    return list(ModelUsage.objects.for_tenant(tenant).order_by("created_at"))


@pytest.fixture
def openai_ready(tenant: Tenant, fake_llm: FakeLLMServer) -> ProviderCredential:
    return given.provider_credential(tenant=tenant, provider="openai", values=given.openai_values(fake_llm))


async def test_a_stream_is_metered_with_its_price_when_it_ends(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    # given the workspace's own price for the model: 1 per million in, 2 per million out
    await sync_to_async(given.price)(
        tenant=tenant, provider="openai", model="gpt-4o-mini", input_price="1", output_price="2"
    )
    fake_llm.push(Reply(text="Hello there, friend.", chunks=3, usage=(1000, 500)))
    # when the runner streams a call for a message
    stream = await invocation.llm_stream(
        tenant_id=str(tenant.id),
        provider="openai",
        model="gpt-4o-mini",
        messages=HELLO,
        parameters={"temperature": 0.3},
        source={"app_id": "app-1", "message_id": "msg-1", "node_id": "llm"},
    )
    assert isinstance(stream, LLMStream)
    async with stream:
        texts = [chunk.text async for chunk in stream]
    # then the text came through and the result is priced with the override
    assert "".join(texts) == "Hello there, friend."
    usage = stream.result.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (1000, 500)
    assert usage.total_price == Decimal("0.002")
    # and the call was made with the workspace's key
    assert fake_llm.requests_on("chat")[-1].headers["authorization"] == f"Bearer {given.OPENAI_KEY}"
    # and one usage row records it
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert (row.provider, row.model_name, row.model_type, row.status) == (
        "openai",
        "gpt-4o-mini",
        "llm",
        "succeeded",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (1000, 500, 1500)
    assert row.prompt_price == Decimal("0.001") and row.completion_price == Decimal("0.001")
    assert row.total_price == Decimal("0.002") and row.currency == "USD"
    assert row.latency > 0 and row.time_to_first_token is not None
    assert (row.app_id, row.message_id) == ("app-1", "msg-1")
    assert row.source["node_id"] == "llm"


async def test_without_an_override_the_catalogue_price_applies(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="ok", usage=(1_000_000, 1_000_000)))
    result = await invocation.llm_invoke(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    # gpt-4o-mini is 0.15 in / 0.60 out per million in the catalogue
    assert result.usage.total_price == Decimal("0.75")
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert row.total_price == Decimal("0.75") and row.status == "succeeded"


async def test_a_workspace_without_credentials_gets_provider_not_initialize(
    tenant: Tenant, fake_llm: FakeLLMServer, runtime: ModelRuntime
) -> None:
    with pytest.raises(ProviderNotInitializedError) as raised:
        await invocation.llm_stream(
            tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
        )
    error = invocation.api_error_for(raised.value)
    assert (error.code, error.status) == ("provider_not_initialize", 400)
    assert error.message == "Provider openai credentials is not initialized."
    assert fake_llm.requests == []
    assert await sync_to_async(_usage_rows)(tenant) == []


async def test_another_workspaces_credentials_are_never_used(
    tenant: Tenant, other_tenant: Tenant, fake_llm: FakeLLMServer, runtime: ModelRuntime
) -> None:
    await sync_to_async(given.provider_credential)(
        tenant=other_tenant, provider="openai", values=given.openai_values(fake_llm)
    )
    with pytest.raises(ProviderNotInitializedError):
        await invocation.llm_invoke(
            tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
        )
    assert fake_llm.requests == []


async def test_a_bad_parameter_is_refused_before_any_call_naming_it(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    with pytest.raises(ParameterError) as raised:
        await invocation.llm_stream(
            tenant_id=str(tenant.id),
            provider="openai",
            model="gpt-4o-mini",
            messages=HELLO,
            parameters={"temperature": 7},
        )
    assert raised.value.parameter == "temperature"
    error = invocation.api_error_for(raised.value)
    assert (error.code, error.status) == ("invalid_param", 400)
    assert "temperature" in error.message
    assert fake_llm.requests == []


async def test_a_response_format_becomes_structured_output(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text='{"city": "Paris"}'))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    await invocation.llm_invoke(
        tenant_id=str(tenant.id),
        provider="openai",
        model="gpt-4o-mini",
        messages=HELLO,
        parameters={},
        response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema}},
    )
    sent = fake_llm.requests_on("chat")[-1].json["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"] == schema


async def test_a_failed_call_raises_the_runtime_error_and_is_metered_as_failed(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    fake_llm.api_keys = {"sk-someone-elses-key-00"}
    with pytest.raises(AuthenticationError) as raised:
        await invocation.llm_invoke(
            tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
        )
    error = invocation.api_error_for(raised.value)
    assert (error.code, error.status) == ("completion_request_error", 400)
    assert given.OPENAI_KEY not in error.message
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert row.status == "failed" and "AuthenticationError" in row.error


async def test_a_rate_limit_maps_to_429(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    fake_llm.push(*[Reply.error(429, "Slow down", type="rate_limit_exceeded")] * 5)
    with pytest.raises(RateLimitError) as raised:
        await invocation.llm_invoke(
            tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
        )
    error = invocation.api_error_for(raised.value)
    assert (error.code, error.status) == ("rate_limit_error", 429)


async def test_a_stream_stopped_early_is_metered_as_stopped(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply(text="one two three four five six", chunks=6, chunk_delay=0.05))
    stream = await invocation.llm_stream(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    async with stream:
        async for _chunk in stream:
            break
    await invocation.usage_writes_settle()
    assert stream.result is None
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert row.status == "stopped"
    assert fake_llm.requests_on("chat")[-1].wait_done()


async def test_plugin_style_ids_and_custom_models_are_invoked(
    tenant: Tenant, fake_llm: FakeLLMServer, runtime: ModelRuntime
) -> None:
    # given a custom model on an OpenAI-compatible server, with its price typed in its form
    await sync_to_async(given.custom_model)(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values=given.compatible_values(fake_llm, input_price="3", output_price="3"),
    )
    fake_llm.push(Reply(text="hi", usage=(10, 10)))
    result = await invocation.llm_invoke(
        tenant_id=str(tenant.id),
        provider="langgenius/openai_api_compatible/openai_api_compatible",
        model="echo",
        messages=HELLO,
        parameters={"max_tokens": 20},
    )
    assert result.text == "hi"
    assert result.usage.total_price == Decimal("0.00006")
    request = fake_llm.requests_on("chat")[-1]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {given.COMPATIBLE_KEY}"
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert row.provider == "openai_api_compatible"


async def test_an_unknown_provider_and_a_disabled_model(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    with pytest.raises(UnknownProviderError) as unknown:
        await invocation.llm_invoke(
            tenant_id=str(tenant.id), provider="nope", model="x", messages=HELLO, parameters={}
        )
    assert invocation.api_error_for(unknown.value).code == "provider_not_initialize"
    await sync_to_async(ProviderModelSetting.objects.create)(
        tenant=tenant, provider="openai", model_type="llm", model_name="gpt-4o-mini", enabled=False
    )
    with pytest.raises(ModelDisabledError) as disabled:
        await invocation.llm_invoke(
            tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
        )
    assert invocation.api_error_for(disabled.value).code == "model_currently_not_support"


async def test_credentials_are_cached_until_the_configuration_changes(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    # given a first call, which resolves and caches the workspace's credential
    await invocation.llm_invoke(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    # when the rows vanish behind the services' back (no invalidation), calls keep working from memory
    await sync_to_async(lambda: ProviderCredential.objects.for_tenant(tenant).update(name="changed behind"))()
    await sync_to_async(lambda: ProviderCredential.objects.for_tenant(tenant).delete())()
    await invocation.llm_invoke(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    assert fake_llm.requests_on("chat")[-1].headers["authorization"] == f"Bearer {given.OPENAI_KEY}"
    # when the services change the configuration, the next call sees it at once
    replacement = await sync_to_async(given.provider_credential)(
        tenant=tenant,
        provider="openai",
        values=given.openai_values(fake_llm, key=given.OTHER_OPENAI_KEY),
        name="new",
    )
    await sync_to_async(credential_services.provider_credential_switch)(
        tenant=tenant, provider="openai", credential_id=str(replacement.id)
    )
    await invocation.llm_invoke(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    assert fake_llm.requests_on("chat")[-1].headers["authorization"] == f"Bearer {given.OTHER_OPENAI_KEY}"


async def test_embeddings_and_rerank_are_metered(
    tenant: Tenant, fake_llm: FakeLLMServer, runtime: ModelRuntime
) -> None:
    await sync_to_async(given.custom_model)(
        tenant=tenant,
        provider="openai_api_compatible",
        model="fake-embedding",
        model_type="text-embedding",
        values=given.compatible_values(fake_llm, input_price="0.1"),
    )
    await sync_to_async(given.custom_model)(
        tenant=tenant,
        provider="openai_api_compatible",
        model="fake-rerank",
        model_type="rerank",
        values=given.compatible_values(fake_llm),
    )
    embedded = await invocation.embed(
        tenant_id=str(tenant.id),
        provider="openai_api_compatible",
        model="fake-embedding",
        texts=["a cat", "a dog"],
        source={"dataset_id": "ds-1"},
    )
    ranked = await invocation.rerank(
        tenant_id=str(tenant.id),
        provider="openai_api_compatible",
        model="fake-rerank",
        query="cat food",
        documents=["dog toys", "cat food for kittens", "car parts"],
        top_n=2,
    )
    assert len(embedded.embeddings) == 2
    assert ranked.docs[0].text == "cat food for kittens" and len(ranked.docs) == 2
    rows = await sync_to_async(_usage_rows)(tenant)
    assert [(r.model_type, r.status) for r in rows] == [
        ("text-embedding", "succeeded"),
        ("rerank", "succeeded"),
    ]
    assert rows[0].prompt_tokens == embedded.usage.tokens > 0
    assert rows[0].source == {"dataset_id": "ds-1"}


async def test_default_model(tenant: Tenant, fake_llm: FakeLLMServer, runtime: ModelRuntime) -> None:
    assert await invocation.default_model(tenant_id=str(tenant.id), model_type="llm") is None
    await sync_to_async(given.provider_credential)(
        tenant=tenant, provider="openai", values=given.openai_values(fake_llm)
    )
    await sync_to_async(given.set_default)(
        tenant=tenant, model_type="llm", provider="openai", model="gpt-4.1-mini"
    )
    assert await invocation.default_model(tenant_id=str(tenant.id), model_type="llm") == (
        "openai",
        "gpt-4.1-mini",
    )
    embedding = await invocation.default_model(tenant_id=str(tenant.id), model_type="text-embedding")
    assert embedding is not None and embedding[0] == "openai"


async def test_a_stream_cut_off_midway_raises_and_is_metered_as_failed(
    tenant: Tenant, fake_llm: FakeLLMServer, openai_ready: ProviderCredential, runtime: ModelRuntime
) -> None:
    # given a server that drops the connection after two pieces
    fake_llm.push(Reply(text="one two three four five", chunks=5, drop_after=2))
    stream = await invocation.llm_stream(
        tenant_id=str(tenant.id), provider="openai", model="gpt-4o-mini", messages=HELLO, parameters={}
    )
    received: list[str] = []
    # when it is read, the runtime's error comes out of the iteration
    with pytest.raises(InvokeError) as raised:
        async with stream:
            async for chunk in stream:
                received.append(chunk.text)
    # then what arrived was passed on, the error maps to Dify's body, and the call is metered as failed
    assert received and "".join(received) != "one two three four five"
    assert invocation.api_error_for(raised.value).code == "completion_request_error"
    await invocation.usage_writes_settle()
    [row] = await sync_to_async(_usage_rows)(tenant)
    assert row.status == "failed" and row.error
