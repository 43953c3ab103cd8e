"""Given-state builders: configuration rows written directly, as if saved earlier through the console.

Tests of the console endpoints go through the services (a real validation call each time); tests of the
invocation service start from a configured workspace, which these build without a network round trip.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from accounts.models import Tenant
from providers.models import (
    LoadBalancingModelConfig,
    ModelPrice,
    Provider,
    ProviderCredential,
    ProviderModel,
    ProviderModelCredential,
    ProviderModelSetting,
)
from tests.support.fake_llm import FakeLLMServer

OPENAI_KEY = "sk-test-openai-key-0123"
OTHER_OPENAI_KEY = "sk-other-openai-key-4567"
COMPATIBLE_KEY = "sk-compatible-key-89ab"


def openai_values(server: FakeLLMServer, key: str = OPENAI_KEY, **extra: Any) -> dict[str, Any]:
    return {"openai_api_key": key, "openai_api_base": server.url, **extra}


def compatible_values(server: FakeLLMServer, key: str = COMPATIBLE_KEY, **extra: Any) -> dict[str, Any]:
    return {"endpoint_url": server.openai_base_url, "api_key": key, **extra}


def provider_credential(
    *, tenant: Tenant, provider: str, values: dict[str, Any], name: str = "API KEY 1", active: bool = True
) -> ProviderCredential:
    row = ProviderCredential(tenant=tenant, provider=provider, name=name)
    row.config = values
    row.save()
    record, _ = Provider.objects.get_or_create(tenant=tenant, provider=provider, provider_type="custom")
    if active or record.credential_id is None:
        record.credential = row
        record.save()
    return row


def custom_model(
    *,
    tenant: Tenant,
    provider: str,
    model: str,
    values: dict[str, Any],
    model_type: str = "llm",
    name: str = "API KEY 1",
) -> ProviderModelCredential:
    credential = ProviderModelCredential(
        tenant=tenant, provider=provider, model_type=model_type, model_name=model, name=name
    )
    credential.config = values
    credential.save()
    ProviderModel.objects.update_or_create(
        tenant=tenant,
        provider=provider,
        model_type=model_type,
        model_name=model,
        defaults={"credential": credential},
    )
    return credential


def price(
    *,
    tenant: Tenant,
    provider: str,
    model: str,
    input_price: str,
    output_price: str,
    model_type: str = "llm",
    unit: str = "0.000001",
    currency: str = "USD",
) -> ModelPrice:
    return ModelPrice.objects.create(
        tenant=tenant,
        provider=provider,
        model_type=model_type,
        model_name=model,
        input_price=Decimal(input_price),
        output_price=Decimal(output_price),
        unit=Decimal(unit),
        currency=currency,
    )


def load_balanced(
    *,
    tenant: Tenant,
    provider: str,
    model: str,
    credentials: list[ProviderCredential],
    model_type: str = "llm",
) -> list[LoadBalancingModelConfig]:
    """Balance `model` across saved provider credentials."""
    ProviderModelSetting.objects.update_or_create(
        tenant=tenant,
        provider=provider,
        model_type=model_type,
        model_name=model,
        defaults={"load_balancing_enabled": True},
    )
    return [
        LoadBalancingModelConfig.objects.create(
            tenant=tenant,
            provider=provider,
            model_type=model_type,
            model_name=model,
            name=credential.name,
            credential_source_type="provider",
            provider_credential=credential,
        )
        for credential in credentials
    ]


def set_default(*, tenant: Tenant, model_type: str, provider: str, model: str) -> None:
    """Through the service, as the console does (it also tells running processes)."""
    from providers.services.model_settings import default_model_set

    default_model_set(tenant=tenant, model_type=model_type, provider=provider, model=model)
