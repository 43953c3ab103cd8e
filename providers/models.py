"""Model providers per workspace, shaped like Dify's tables (`providers`, `provider_credentials`,
`provider_models`, `provider_model_credentials`, `tenant_default_models`, `provider_model_settings`,
`load_balancing_model_configs`), plus two of ours: price overrides per model and the usage meter.

Provider ids are stored in their short form (`openai`); `langgenius/openai/openai` is resolved before it
gets here. Model types use today's names (`llm`, `text-embedding`, ...), not Dify's older storage names.
Credentials are whole JSON objects in an `EncryptedTextField`: the column holds ciphertext only, and every
response masks the secret-input fields (see `providers.services.credentials`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.db import models

from accounts.models import TenantScopedModel
from dify_project.crypto import EncryptedTextField


class ModelType(models.TextChoices):
    LLM = "llm"
    TEXT_EMBEDDING = "text-embedding"
    RERANK = "rerank"
    SPEECH2TEXT = "speech2text"
    TTS = "tts"
    MODERATION = "moderation"


# Dify's older names for the same types, still found in DSL files and old clients.
MODEL_TYPE_ALIASES = {"text-generation": "llm", "embeddings": "text-embedding", "reranking": "rerank"}


class CredentialSource(models.TextChoices):
    PROVIDER = "provider"
    CUSTOM_MODEL = "custom_model"


class _EncryptedConfig(models.Model):
    """A credential form's values as JSON, encrypted at rest."""

    encrypted_config = EncryptedTextField(blank=True, default="")

    class Meta:
        abstract = True

    @property
    def config(self) -> dict[str, Any]:
        if not self.encrypted_config:
            return {}
        try:
            value = json.loads(self.encrypted_config)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @config.setter
    def config(self, value: dict[str, Any]) -> None:
        self.encrypted_config = json.dumps(value, ensure_ascii=False, sort_keys=True)


class ProviderCredential(TenantScopedModel, _EncryptedConfig):
    """One named credential of a provider (several per provider; the `Provider` row says which is active)."""

    provider = models.CharField(max_length=255)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "name"], name="unique_provider_credential_name"
            )
        ]
        indexes = [models.Index(fields=["tenant", "provider"], name="provider_credential_idx")]

    def __str__(self) -> str:
        return f"{self.provider} / {self.name}"


class Provider(TenantScopedModel):
    """A provider the workspace has configured with its own keys (Dify's `custom` provider type)."""

    provider = models.CharField(max_length=255)
    provider_type = models.CharField(max_length=40, default="custom")
    is_valid = models.BooleanField(default=True)
    credential = models.ForeignKey(
        ProviderCredential, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider", "provider_type"], name="unique_provider")
        ]

    def __str__(self) -> str:
        return self.provider


class ProviderModelCredential(TenantScopedModel, _EncryptedConfig):
    """One named credential of a custom model (a model the user adds by name, e.g. on a vLLM server)."""

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "model_type", "model_name", "name"],
                name="unique_model_credential_name",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "provider", "model_type", "model_name"], name="model_credential_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name} / {self.name}"


class ProviderModel(TenantScopedModel):
    """A custom model registered in the workspace, with its active credential."""

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    is_valid = models.BooleanField(default=True)
    credential = models.ForeignKey(
        ProviderModelCredential, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "model_type", "model_name"], name="unique_provider_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name} ({self.model_type})"


class TenantDefaultModel(TenantScopedModel):
    """The workspace's default model of one type (used where a feature names no model)."""

    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "model_type"], name="unique_default_model")]

    def __str__(self) -> str:
        return f"{self.model_type}: {self.provider} / {self.model_name}"


class ProviderModelSetting(TenantScopedModel):
    """Per model: enabled or not, and whether its calls are balanced across several credentials."""

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    enabled = models.BooleanField(default=True)
    load_balancing_enabled = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "model_type", "model_name"], name="unique_model_setting"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name} ({self.model_type})"


INHERIT_CONFIG_NAME = "__inherit__"


class LoadBalancingModelConfig(TenantScopedModel, _EncryptedConfig):
    """One member of a model's load-balancing pool.

    Its credentials come from exactly one place: `__inherit__` (the model's main credential), a saved
    credential (`provider_credential` or `model_credential`, so editing that credential updates the pool),
    or its own `encrypted_config`.
    """

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    name = models.CharField(max_length=255)
    credential_source_type = models.CharField(
        max_length=40, choices=CredentialSource.choices, blank=True, default=""
    )
    provider_credential = models.ForeignKey(
        ProviderCredential, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    model_credential = models.ForeignKey(
        ProviderModelCredential, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "provider", "model_type", "model_name"], name="lb_config_idx")
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name} / {self.name}"

    @property
    def credential_id(self) -> str | None:
        ref = self.provider_credential_id or self.model_credential_id
        return str(ref) if ref else None


class ModelPrice(TenantScopedModel):
    """A workspace's own price for a model (our extension): wins over the catalogue's and the custom
    model form's price. Prices per `unit` tokens (0.000001 = per million), as Dify quotes them."""

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    input_price = models.DecimalField(max_digits=20, decimal_places=10)
    output_price = models.DecimalField(max_digits=20, decimal_places=10, null=True, blank=True)
    unit = models.DecimalField(max_digits=20, decimal_places=10, default=Decimal("0.000001"))
    currency = models.CharField(max_length=8, default="USD")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider", "model_type", "model_name"], name="unique_model_price"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name}: {self.input_price}/{self.output_price} {self.currency}"


class UsageStatus(models.TextChoices):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"


class ModelUsage(TenantScopedModel):
    """The usage meter: one row per model call made on the workspace's behalf.

    Written by `providers.services.invocation` when a call ends (a stream when it ends or is stopped).
    `app_id`, `message_id` and `workflow_run_id` come from the caller's `source` and are plain ids, not
    foreign keys: providers sit below apps and workflows, and the meter outlives what it measured.
    """

    provider = models.CharField(max_length=255)
    model_name = models.CharField(max_length=255)
    model_type = models.CharField(max_length=40, choices=ModelType.choices)
    status = models.CharField(max_length=16, choices=UsageStatus.choices, default=UsageStatus.SUCCEEDED)
    error = models.CharField(max_length=255, blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    prompt_price = models.DecimalField(max_digits=20, decimal_places=7, default=Decimal(0))
    completion_price = models.DecimalField(max_digits=20, decimal_places=7, default=Decimal(0))
    total_price = models.DecimalField(max_digits=20, decimal_places=7, default=Decimal(0))
    currency = models.CharField(max_length=8, default="USD")
    latency = models.FloatField(default=0.0)
    time_to_first_token = models.FloatField(null=True, blank=True)
    # True when a token count is the runtime's estimate because the provider reported none.
    estimated = models.BooleanField(default=False)
    app_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    message_id = models.CharField(max_length=64, blank=True, default="")
    workflow_run_id = models.CharField(max_length=64, blank=True, default="")
    source = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "model usage"
        verbose_name_plural = "model usage"
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="usage_tenant_time_idx"),
            models.Index(fields=["tenant", "provider", "model_name"], name="usage_tenant_model_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} / {self.model_name}: {self.total_tokens} tokens"


# Custom API tool providers belong to this app (table `providers_apitoolprovider`); importing them here
# registers the model with Django.
from providers.tools.models import ApiToolProvider, BuiltinToolProvider, MCPToolProvider  # noqa: E402, F401
