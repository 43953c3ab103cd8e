"""The provider catalogue: which providers exist, their credential forms, models, rules and prices.

Provider ids are accepted in Dify's plugin form (`langgenius/openai/openai`, as DSL files exported by Dify
1.x carry them) and in the short form (`openai`); `resolve_provider_id` turns either into the short id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from providers.runtime.catalogue.custom_models import customizable_model_schema, pricing_from_credentials
from providers.runtime.catalogue.loader import CATALOGUE_DIR, CatalogueFileError, load_directory
from providers.runtime.errors import UnknownModelError, UnknownProviderError
from providers.runtime.schema import ModelSchema, ProviderSchema, normalize_model_type

__all__ = [
    "CATALOGUE_DIR",
    "Catalogue",
    "CatalogueFileError",
    "default_catalogue",
    "pricing_from_credentials",
    "resolve_provider_id",
]


# Providers that come and go at run time (installed Dify plugins), keyed by their full id
# (`author/plugin/provider`); called on each lookup, so it must be cheap (the plugins app caches).
ProviderSource = Callable[[], Mapping[str, ProviderSchema]]


class Catalogue:
    def __init__(self, providers: Mapping[str, ProviderSchema]) -> None:
        self._providers = dict(providers)
        self._sources: list[ProviderSource] = []

    def add_source(self, source: ProviderSource) -> None:
        """Register run-time providers (the plugins app does, at start-up); never imported from here."""
        if source not in self._sources:
            self._sources.append(source)

    def _extra(self) -> dict[str, ProviderSchema]:
        extra: dict[str, ProviderSchema] = {}
        for source in self._sources:
            extra.update(source())
        return extra

    def providers(self) -> list[ProviderSchema]:
        return [*self._providers.values(), *self._extra().values()]

    def resolve_id(self, provider_id: str) -> str:
        """`langgenius/openai/openai`, `langgenius/openai` or `openai` -> `openai`; unknown ids raise. An
        installed plugin's full id resolves to itself (it wins over the built-in provider it may shadow)."""
        candidate = (provider_id or "").strip().strip("/")
        if self._sources and candidate in self._extra():
            return candidate
        if "/" in candidate:
            # plugin_id/provider: the provider name is the last segment (`org/plugin/provider`), but
            # `org/plugin` alone (seen in some exports) names the plugin, whose provider shares its name.
            candidate = candidate.rsplit("/", 1)[-1]
        if candidate not in self._providers:
            raise UnknownProviderError(provider_id)
        return candidate

    def provider(self, provider_id: str) -> ProviderSchema:
        resolved = self.resolve_id(provider_id)
        found = self._providers.get(resolved)
        return found if found is not None else self._extra()[resolved]

    def model_schema(
        self,
        provider_id: str,
        model_type: str,
        model: str,
        credentials: Mapping[str, Any] | None = None,
    ) -> ModelSchema:
        """The predefined model if the provider lists it, else the customizable model the credentials
        describe. Raises UnknownModelError when neither applies."""
        provider = self.provider(provider_id)
        model_type = normalize_model_type(model_type)
        predefined = provider.predefined_model(model, model_type)
        if predefined is not None:
            return predefined
        if "customizable-model" in provider.configurate_methods:
            return customizable_model_schema(
                provider,
                model=model,
                model_type=model_type,
                credentials=credentials or {},
                base_models=self._providers,
            )
        raise UnknownModelError(provider.provider, model, model_type)


@cache
def default_catalogue() -> Catalogue:
    """The catalogue shipped in this package, loaded once per process."""
    return Catalogue(load_directory())


def resolve_provider_id(provider_id: str) -> str:
    return default_catalogue().resolve_id(provider_id)
