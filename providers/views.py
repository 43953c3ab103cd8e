"""Console endpoints for model providers, on Dify's paths under /console/api/workspaces/current/.

Everyone in the workspace reads; owners and admins change credentials, custom models, model settings,
load balancing, default models and prices (and run credential checks, which call out to the provider).

Project extension (not in Dify): per-model price overrides at
`model-providers/{provider}/models/pricing` — GET `?model=&model_type=` (one model's effective price) or
no query (the provider's overrides), POST `{model, model_type, input, output?, unit?, currency?}` to set,
DELETE `{model, model_type}` to go back to the catalogue's price. Calls are priced with the override.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import TenantRole
from dify_project.api.errors import InvalidParam
from dify_project.api.views import WorkspaceApiView
from providers import exceptions as errors
from providers import selectors
from providers import serializers as s
from providers.models import INHERIT_CONFIG_NAME
from providers.runtime import ModelRuntimeError
from providers.services import credentials as creds
from providers.services import model_settings
from providers.services.runtime import cooling_down, model_runtime

SUCCESS = {"result": "success"}
PROVIDER_PARAM = OpenApiParameter(
    "provider", str, OpenApiParameter.PATH, description="`openai` or Dify's `langgenius/openai/openai`"
)


class ProviderApiView(WorkspaceApiView):
    """Reads for every member, writes for owners and admins."""

    write_roles = TenantRole.privileged()


def _provider(provider: str) -> str:
    return selectors.provider_schema(provider).provider


def _validate_answer(check: Any) -> Response:
    """Dify's validate endpoints answer 200 with `result: error` and the reason, not an error status."""
    try:
        check()
    except errors.CredentialsInvalid as exc:
        return Response({"result": "error", "error": exc.message})
    return Response(SUCCESS)


# --- providers and their credentials ---------------------------------------------------------------------


class ModelProviderListApi(ProviderApiView):
    @extend_schema(parameters=[s.ProviderListQuery], responses=s.DataListOut)
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.ProviderListQuery, request)
        model_type = query.get("model_type")
        states = selectors.workspace_providers(tenant=request.tenant).values()
        data = [
            s.provider_out(state, request.tenant.id)
            for state in states
            if not model_type or model_type in state.schema.supported_model_types
        ]
        return Response({"data": data})


class ModelProviderCredentialApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM, s.CredentialIdQuery], responses=s.CredentialsOut)
    def get(self, request: Request, provider: str) -> Response:
        query = self.validate_query(s.CredentialIdQuery, request)
        state = selectors.provider_state(tenant=request.tenant, provider=provider)
        if query.get("credential_id"):
            row = selectors.provider_credential_get(
                tenant=request.tenant, provider=state.provider, credential_id=query["credential_id"]
            )
        else:
            row = state.active_credential
        masked = creds.credentials_masked(creds.provider_forms(state.schema), row.config) if row else None
        return Response({"credentials": masked})

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.CredentialCreateIn, responses={201: s.ResultOut})
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.CredentialCreateIn, request.data)
        creds.provider_credential_create(
            tenant=request.tenant, provider=provider, credentials=data["credentials"], name=data.get("name")
        )
        return Response(SUCCESS, status=201)

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.CredentialUpdateIn, responses=s.ResultOut)
    def put(self, request: Request, provider: str) -> Response:
        data = self.validate(s.CredentialUpdateIn, request.data)
        creds.provider_credential_update(
            tenant=request.tenant,
            provider=provider,
            credential_id=str(data["credential_id"]),
            credentials=data["credentials"],
            name=data.get("name"),
        )
        return Response(SUCCESS)

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.CredentialIdIn, responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        data = self.validate(s.CredentialIdIn, request.data)
        creds.provider_credential_delete(
            tenant=request.tenant, provider=provider, credential_id=str(data["credential_id"])
        )
        return Response(status=204)


class ModelProviderCredentialSwitchApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], request=s.CredentialIdIn, responses=s.ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.CredentialIdIn, request.data)
        creds.provider_credential_switch(
            tenant=request.tenant, provider=provider, credential_id=str(data["credential_id"])
        )
        return Response(SUCCESS)


class ModelProviderValidateApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], request=s.CredentialValidateIn, responses=s.ValidateResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.CredentialValidateIn, request.data)
        credential_id = str(data["credential_id"]) if data.get("credential_id") else None
        return _validate_answer(
            lambda: creds.provider_credential_validate(
                tenant=request.tenant,
                provider=provider,
                credentials=data["credentials"],
                credential_id=credential_id,
            )
        )


# --- models ----------------------------------------------------------------------------------------------


class ModelProviderModelApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], responses=s.DataListOut)
    def get(self, request: Request, provider: str) -> Response:
        state = selectors.provider_state(tenant=request.tenant, provider=provider)
        data = [s.model_with_provider_out(entry, request.tenant.id) for entry in state.models()]
        return Response({"data": data})

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelsPostIn, responses=s.ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelsPostIn, request.data)
        tenant, model_type, model = request.tenant, data["model_type"], data["model"]
        config_from = data.get("config_from") or ""
        if data.get("credentials") is not None and config_from != "predefined-model":
            # Dify before 1.8: adding a custom model posts its credentials here.
            creds.model_credential_create(
                tenant=tenant,
                provider=provider,
                model_type=model_type,
                model=model,
                credentials=data["credentials"],
            )
        elif config_from == "custom-model":
            if not data.get("credential_id"):
                raise InvalidParam("credential_id is required when configuring a custom-model")
            creds.model_credential_switch(
                tenant=tenant,
                provider=provider,
                model_type=model_type,
                model=model,
                credential_id=str(data["credential_id"]),
            )
        balancing = data.get("load_balancing") or {}
        if balancing.get("configs"):
            model_settings.load_balancing_configs_save(
                tenant=tenant,
                provider=provider,
                model_type=model_type,
                model=model,
                configs=balancing["configs"],
                enabled=bool(balancing.get("enabled")),
                config_from=config_from or None,
            )
        elif balancing.get("enabled") is not None:
            model_settings.load_balancing_enable(
                tenant=tenant,
                provider=provider,
                model_type=model_type,
                model=model,
                enabled=bool(balancing["enabled"]),
            )
        return Response(SUCCESS)

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelIn, responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelIn, request.data)
        creds.custom_model_delete(
            tenant=request.tenant, provider=provider, model_type=data["model_type"], model=data["model"]
        )
        return Response(status=204)


def _load_balancing_out(
    request: Request, provider: str, model_type: str, model: str, config_from: str
) -> dict:
    schema = selectors.provider_schema(provider)
    setting = selectors.model_setting_get(
        tenant=request.tenant, provider=schema.provider, model_type=model_type, model=model
    )
    configs = selectors.load_balancing_configs_list(
        tenant=request.tenant, provider=schema.provider, model_type=model_type, model=model
    )
    wanted = "provider" if config_from == "predefined-model" else "custom_model"
    configs = [c for c in configs if c.credential_source_type in ("", wanted)]
    key = selectors.pool_key(
        tenant=request.tenant, provider=schema.provider, model_type=model_type, model=model
    )

    in_cooldown = cooling_down(key, [str(c.id) for c in configs]) if configs else []
    forms = creds.provider_forms(schema) if wanted == "provider" else creds.model_forms(schema)
    out = [
        s.load_balancing_config_out(config, forms or creds.provider_forms(schema), cooled)
        for config, cooled in zip(configs, in_cooldown, strict=True)
    ]
    if not any(c.name == INHERIT_CONFIG_NAME for c in configs):
        # Dify lists the model's main credential first as `__inherit__`; it gets a row (and an id) when
        # the pool is saved, so a GET writes nothing.
        out.insert(0, s.load_balancing_inherit_out())
    return {"enabled": bool(setting and setting.load_balancing_enabled), "configs": out}


class ModelProviderModelCredentialApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM, s.ModelCredentialQuery], responses=s.ModelCredentialsOut)
    def get(self, request: Request, provider: str) -> Response:
        query = self.validate_query(s.ModelCredentialQuery, request)
        schema = selectors.provider_schema(provider)
        tenant, model_type, model = request.tenant, query["model_type"], query["model"]
        config_from = query.get("config_from") or ""
        if query.get("credential_id"):
            current = selectors.model_credential_get(
                tenant=tenant,
                provider=schema.provider,
                model_type=model_type,
                model=model,
                credential_id=query["credential_id"],
            )
        else:
            custom = selectors.custom_model_get(
                tenant=tenant, provider=schema.provider, model_type=model_type, model=model
            )
            current = custom.credential if custom else None
        if config_from == "predefined-model":
            available = s.credential_configurations_out(
                selectors.provider_state(tenant=tenant, provider=schema.provider).credentials
            )
        else:
            available = s.credential_configurations_out(
                selectors.model_credentials_list(
                    tenant=tenant, provider=schema.provider, model_type=model_type, model=model
                )
            )
        return Response(
            {
                "credentials": creds.credentials_masked(creds.model_forms(schema), current.config)
                if current
                else {},
                "current_credential_id": str(current.id) if current else None,
                "current_credential_name": current.name if current else None,
                "load_balancing": _load_balancing_out(
                    request, schema.provider, model_type, model, config_from
                ),
                "available_credentials": available,
            }
        )

    @extend_schema(
        parameters=[PROVIDER_PARAM], request=s.ModelCredentialCreateIn, responses={201: s.ResultOut}
    )
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelCredentialCreateIn, request.data)
        creds.model_credential_create(
            tenant=request.tenant,
            provider=provider,
            model_type=data["model_type"],
            model=data["model"],
            credentials=data["credentials"],
            name=data.get("name"),
        )
        return Response(SUCCESS, status=201)

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelCredentialUpdateIn, responses=s.ResultOut)
    def put(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelCredentialUpdateIn, request.data)
        creds.model_credential_update(
            tenant=request.tenant,
            provider=_provider(provider),
            model_type=data["model_type"],
            model=data["model"],
            credential_id=str(data["credential_id"]),
            credentials=data["credentials"],
            name=data.get("name"),
        )
        return Response(SUCCESS)

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelCredentialIdIn, responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelCredentialIdIn, request.data)
        creds.model_credential_delete(
            tenant=request.tenant,
            provider=_provider(provider),
            model_type=data["model_type"],
            model=data["model"],
            credential_id=str(data["credential_id"]),
        )
        return Response(status=204)


class ModelProviderModelCredentialSwitchApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelCredentialIdIn, responses=s.ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelCredentialIdIn, request.data)
        creds.model_credential_switch(
            tenant=request.tenant,
            provider=_provider(provider),
            model_type=data["model_type"],
            model=data["model"],
            credential_id=str(data["credential_id"]),
        )
        return Response(SUCCESS)


class ModelProviderModelValidateApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelValidateIn, responses=s.ValidateResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelValidateIn, request.data)
        credential_id = str(data["credential_id"]) if data.get("credential_id") else None
        return _validate_answer(
            lambda: creds.model_credential_validate(
                tenant=request.tenant,
                provider=provider,
                model_type=data["model_type"],
                model=data["model"],
                credentials=data["credentials"],
                credential_id=credential_id,
            )
        )


class ModelProviderModelEnableApi(ProviderApiView):
    enabled = True

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelIn, responses=s.ResultOut)
    def patch(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelIn, request.data)
        model_settings.model_enable(
            tenant=request.tenant,
            provider=provider,
            model_type=data["model_type"],
            model=data["model"],
            enabled=self.enabled,
        )
        return Response(SUCCESS)


class ModelProviderModelDisableApi(ModelProviderModelEnableApi):
    enabled = False


class ModelProviderModelParameterRuleApi(ProviderApiView):
    @extend_schema(parameters=[PROVIDER_PARAM, s.ParameterRulesQuery], responses=s.DataListOut)
    def get(self, request: Request, provider: str) -> Response:
        query = self.validate_query(s.ParameterRulesQuery, request)
        state = selectors.provider_state(tenant=request.tenant, provider=provider)
        model = query["model"]
        custom = state.custom_model("llm", model)
        if custom is not None:
            credential = state.active_model_credential(custom)
            values = credential.config if credential else None
        else:
            active = state.active_credential
            values = active.config if active else ({} if state.credential_free else None)
        if values is None and state.schema.predefined_model(model, "llm") is None:
            return Response({"data": []})  # a custom model with no credentials: nothing to describe
        try:
            schema = model_runtime().model_schema(state.provider, "llm", model, values or {})
        except ModelRuntimeError:
            raise errors.ModelNotFound(
                f"Model {model} of provider {state.provider} does not exist."
            ) from None
        return Response({"data": [rule.to_dict() for rule in schema.parameter_rules]})


class LoadBalancingConfigApi(ProviderApiView):
    """A model's load-balancing pool: GET it (what Dify returns inside models/credentials), POST to save
    it in Dify's `load_balancing` shape (the same as POST models)."""

    @extend_schema(parameters=[PROVIDER_PARAM, s.LoadBalancingQuery], responses=s.LoadBalancingOut)
    def get(self, request: Request, provider: str) -> Response:
        query = self.validate_query(s.LoadBalancingQuery, request)
        schema = selectors.provider_schema(provider)
        config_from = query.get("config_from") or (
            "predefined-model"
            if schema.predefined_model(query["model"], query["model_type"])
            else "custom-model"
        )
        return Response(
            _load_balancing_out(request, schema.provider, query["model_type"], query["model"], config_from)
        )

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.LoadBalancingSaveIn, responses=s.ResultOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.LoadBalancingSaveIn, request.data)
        balancing = data["load_balancing"]
        model_settings.load_balancing_configs_save(
            tenant=request.tenant,
            provider=provider,
            model_type=data["model_type"],
            model=data["model"],
            configs=balancing.get("configs") or [],
            enabled=balancing.get("enabled"),
            config_from=data.get("config_from") or None,
        )
        return Response(SUCCESS)


class LoadBalancingCredentialsValidateApi(ProviderApiView):
    @extend_schema(
        parameters=[PROVIDER_PARAM], request=s.LoadBalancingValidateIn, responses=s.ValidateResultOut
    )
    def post(self, request: Request, provider: str) -> Response:
        return self._check(request, provider, None)

    def _check(self, request: Request, provider: str, config_id: str | None) -> Response:
        data = self.validate(s.LoadBalancingValidateIn, request.data)
        return _validate_answer(
            lambda: model_settings.load_balancing_credentials_validate(
                tenant=request.tenant,
                provider=provider,
                model_type=data["model_type"],
                model=data["model"],
                credentials=data["credentials"],
                config_id=config_id,
                config_from=data.get("config_from") or None,
            )
        )


class LoadBalancingConfigCredentialsValidateApi(LoadBalancingCredentialsValidateApi):
    """The same check for a saved pool member: secrets sent back hidden are taken from it."""

    @extend_schema(
        parameters=[PROVIDER_PARAM],
        request=s.LoadBalancingValidateIn,
        responses=s.ValidateResultOut,
        operation_id="model_provider_load_balancing_config_credentials_validate",
    )
    def post(self, request: Request, provider: str, config_id: str) -> Response:  # type: ignore[override]
        return self._check(request, provider, str(config_id))


class ModelPriceApi(ProviderApiView):
    """Project extension: the workspace's price per model (see the module docstring)."""

    @extend_schema(parameters=[PROVIDER_PARAM, s.PriceQuery], responses=s.DataOut)
    def get(self, request: Request, provider: str) -> Response:
        query = self.validate_query(s.PriceQuery, request)
        schema = selectors.provider_schema(provider)
        if not query.get("model"):
            rows = selectors.model_prices_list(tenant=request.tenant, provider=schema.provider)
            return Response(
                {
                    "data": [
                        s.model_price_out(
                            provider=row.provider,
                            model_type=row.model_type,
                            model=row.model_name,
                            override=row,
                            catalogue=_catalogue_pricing(
                                request, schema.provider, row.model_type, row.model_name
                            ),
                        )
                        for row in rows
                    ]
                }
            )
        model_type = query.get("model_type") or "llm"
        override = selectors.model_price_get(
            tenant=request.tenant, provider=schema.provider, model_type=model_type, model=query["model"]
        )
        return Response(
            {
                "data": s.model_price_out(
                    provider=schema.provider,
                    model_type=model_type,
                    model=query["model"],
                    override=override,
                    catalogue=_catalogue_pricing(request, schema.provider, model_type, query["model"]),
                )
            }
        )

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.PriceIn, responses=s.DataOut)
    def post(self, request: Request, provider: str) -> Response:
        data = self.validate(s.PriceIn, request.data)
        row = model_settings.model_price_set(
            tenant=request.tenant,
            provider=provider,
            model_type=data["model_type"],
            model=data["model"],
            input_price=data["input"],
            output_price=data.get("output"),
            **({"unit": data["unit"]} if data.get("unit") else {}),
            **({"currency": data["currency"]} if data.get("currency") else {}),
        )
        catalogue = _catalogue_pricing(request, row.provider, row.model_type, row.model_name)
        return Response(
            {
                "result": "success",
                "data": s.model_price_out(
                    provider=row.provider,
                    model_type=row.model_type,
                    model=row.model_name,
                    override=row,
                    catalogue=catalogue,
                ),
            }
        )

    @extend_schema(parameters=[PROVIDER_PARAM], request=s.ModelIn, responses={204: None})
    def delete(self, request: Request, provider: str) -> Response:
        data = self.validate(s.ModelIn, request.data)
        model_settings.model_price_delete(
            tenant=request.tenant, provider=provider, model_type=data["model_type"], model=data["model"]
        )
        return Response(status=204)


def _catalogue_pricing(request: Request, provider: str, model_type: str, model: str) -> Any:
    """The price the catalogue (or the custom model's form) gives, without the workspace's override."""
    state = selectors.provider_state(tenant=request.tenant, provider=provider)
    predefined = state.schema.predefined_model(model, model_type)
    if predefined is not None:
        return predefined.pricing
    custom = state.custom_model(model_type, model)
    credential = state.active_model_credential(custom) if custom else None
    if credential is None:
        return None
    try:
        return model_runtime().model_schema(provider, model_type, model, credential.config).pricing
    except ModelRuntimeError:
        return None


# --- models across providers, and defaults ---------------------------------------------------------------


class ModelsByTypeApi(ProviderApiView):
    @extend_schema(responses=s.DataListOut)
    def get(self, request: Request, model_type: str) -> Response:
        model_type = selectors.model_type_normalize(model_type)
        entries = selectors.workspace_models(tenant=request.tenant, model_type=model_type)
        return Response({"data": s.providers_with_models_out(entries, request.tenant.id)})


class DefaultModelApi(ProviderApiView):
    @extend_schema(parameters=[s.DefaultModelQuery], responses=s.DataOut)
    def get(self, request: Request) -> Response:
        query = self.validate_query(s.DefaultModelQuery, request)
        model_type = query["model_type"]
        chosen = selectors.default_model_resolve(tenant=request.tenant, model_type=model_type)
        if chosen is None:
            return Response({"data": None})
        provider, model = chosen
        try:
            schema = selectors.provider_schema(provider)
        except errors.ProviderNotFound:
            return Response({"data": None})  # a default naming a provider no longer in the catalogue
        return Response(
            {
                "data": {
                    "model": model,
                    "model_type": model_type,
                    "provider": s.simple_provider_out(schema, request.tenant.id),
                }
            }
        )

    @extend_schema(request=s.DefaultModelIn, responses=s.ResultOut)
    def post(self, request: Request) -> Response:
        data = self.validate(s.DefaultModelIn, request.data)
        model_settings.default_models_update(tenant=request.tenant, model_settings=data["model_settings"])
        return Response(SUCCESS)
