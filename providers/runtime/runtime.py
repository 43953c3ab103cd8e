"""`ModelRuntime`: the one entry point for calling models, used by the Django side and, through a port,
by the workflow engine.

Per call it resolves the provider (short or plugin-style id) and the model's schema, validates and coerces
the parameters against the model's rules, picks a credential (round robin with cooldowns when given a
pool), calls the adapter, retries rate limits and transient failures with backoff (but never once stream
output has reached the caller), and prices the usage. No Django in here: plain asyncio.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from providers.runtime.adapters import AdapterStream, Completion, ModelAdapter, build_adapter
from providers.runtime.adapters.errors import scrub
from providers.runtime.balancing import CredentialPool, LoadBalancer, PooledCredential
from providers.runtime.catalogue import Catalogue, default_catalogue
from providers.runtime.errors import (
    AllCredentialsCoolingDownError,
    CredentialsValidationError,
    InvokeError,
    MissingCredentialError,
    ModelRuntimeError,
    UnsupportedOperationError,
)
from providers.runtime.http import HttpPool, Timeouts
from providers.runtime.media_calls import MediaCalls
from providers.runtime.messages import PromptMessage, Tool, prompt_message_from_dict, tool_from_dict
from providers.runtime.parameters import normalize_stop, validate_parameters
from providers.runtime.pricing import PriceConfig
from providers.runtime.results import EmbeddingResult, EmbeddingUsage, LLMResult, LLMUsage, RerankResult
from providers.runtime.retry import NO_RETRY, RetryPolicy
from providers.runtime.schema import ModelSchema, ProviderSchema
from providers.runtime.streaming import LLMStream
from providers.runtime.tokens import count_prompt_tokens, count_text_tokens

T = TypeVar("T")
Credentials = Mapping[str, Any] | CredentialPool


_SECRET_HINTS = ("key", "token", "secret", "password")


def _secrets(secret_variables: set[str], credentials: Mapping[str, Any]) -> list[str]:
    """Values to hide: the provider's secret-input fields, and anything named like a key or token."""
    return [
        str(value)
        for name, value in credentials.items()
        if isinstance(value, str)
        and value
        and (name in secret_variables or any(hint in name.lower() for hint in _SECRET_HINTS))
    ]


def _redact(error: ModelRuntimeError, secrets: list[str]) -> ModelRuntimeError:
    """Make sure no credential value appears in an error's text, whatever the provider echoed."""
    cleaned = scrub(error.message, secrets)
    if cleaned != error.message:
        error.message = cleaned
        error.args = (f"[{error.provider}] {cleaned}" if error.provider else cleaned,)
    return error


class ModelRuntime(MediaCalls):
    """Long-lived (one per process): holds the HTTP pool, the catalogue, adapters and balancing state.

    LLM, embedding and rerank calls are below; speech to text, text to speech and moderation
    (`invoke_speech2text`, `invoke_tts`, `tts_voices`, `invoke_moderation`) come from `MediaCalls`."""

    def __init__(
        self,
        *,
        catalogue: Catalogue | None = None,
        http: HttpPool | None = None,
        balancer: LoadBalancer | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.catalogue = catalogue or default_catalogue()
        self.timeouts = timeouts or Timeouts()
        self.http = http or HttpPool(timeouts=self.timeouts)
        self.balancer = balancer or LoadBalancer()
        self.retry = retry or RetryPolicy()
        self._adapters: dict[str, ModelAdapter] = {}

    # --- catalogue ---------------------------------------------------------------------------------------

    def provider(self, provider_id: str) -> ProviderSchema:
        """The provider's schema; accepts `openai` and `langgenius/openai/openai`. Unknown ids raise."""
        return self.catalogue.provider(provider_id)

    def model_schema(
        self, provider: str, model_type: str, model: str, credentials: Mapping[str, Any] | None = None
    ) -> ModelSchema:
        return self.catalogue.model_schema(provider, model_type, model, credentials)

    def adapter(self, provider_id: str) -> ModelAdapter:
        schema = self.provider(provider_id)
        adapter = self._adapters.get(schema.provider)
        if adapter is None:
            adapter = self._adapters[schema.provider] = build_adapter(schema, self.http)
        return adapter

    # --- the call policy: credentials, retries, balancing ------------------------------------------------

    async def _call(
        self,
        provider: str,
        credentials: Credentials,
        retry: RetryPolicy,
        operation: Callable[[Mapping[str, Any]], Awaitable[T]],
    ) -> T:
        secret_variables = self.provider(provider).secret_variables()
        pool = credentials if isinstance(credentials, CredentialPool) else None
        balanced = pool is not None and len(pool.members) > 1
        attempt = 0
        switches = 0
        last_error: InvokeError | None = None
        while True:
            member: PooledCredential | None = None
            if pool is not None:
                try:
                    member = await self.balancer.pick(pool)
                except AllCredentialsCoolingDownError:
                    if last_error is not None:
                        raise last_error from None  # more telling than "all cooling down"
                    raise
                values = member.credentials
            else:
                values = credentials  # type: ignore[assignment]
            try:
                return await operation(values)
            except ModelRuntimeError as error:
                _redact(error, _secrets(secret_variables, values))
                if not isinstance(error, InvokeError):
                    raise
                last_error = error
                if balanced and member is not None:
                    cooled = await self.balancer.report_failure(pool, member, error)  # type: ignore[arg-type]
                    if cooled and switches < len(pool.members) - 1:  # type: ignore[union-attr]
                        # Another credential may well work right away: move on without waiting.
                        switches += 1
                        continue
                attempt += 1
                delay = retry.delay_for(attempt, error)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    @staticmethod
    def _first_credentials(credentials: Credentials) -> Mapping[str, Any]:
        return credentials.members[0].credentials if isinstance(credentials, CredentialPool) else credentials

    # --- LLM ---------------------------------------------------------------------------------------------

    async def invoke_llm(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: Sequence[PromptMessage | Mapping[str, Any]],
        parameters: Mapping[str, Any] | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        stop: Sequence[str] | None = None,
        stream: bool = True,
        user: str | None = None,
        pricing: PriceConfig | None = None,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> LLMResult | LLMStream:
        """Call a chat model.

        `stream=True` returns an `LLMStream` (async iterator of `LLMResultChunk`, ending with a chunk that
        carries `finish_reason` and priced `usage`) once the first chunk has arrived: failures before
        that are retried; failures after it raise from iteration. `stream=False` returns an `LLMResult`.
        `parameters` are checked against the model's rules (ParameterError names the bad one); a `stop`
        among them is merged with `stop`. `pricing` overrides the catalogue's price (a workspace's price
        table). Raises the runtime's errors (see `providers.runtime.errors`).
        """
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "llm", model, self._first_credentials(credentials)
        )
        params = dict(parameters or {})
        stops = normalize_stop(stop, params.pop("stop", None))
        validated = validate_parameters(schema, params)
        prompt = [m if isinstance(m, PromptMessage) else prompt_message_from_dict(m) for m in messages]
        tool_list = [t if isinstance(t, Tool) else tool_from_dict(t) for t in tools or ()] or None
        price = pricing if pricing is not None else schema.pricing
        call_timeouts = timeouts or self.timeouts
        started = time.perf_counter()

        async def once(values: Mapping[str, Any]) -> Completion | tuple[AdapterStream, Any]:
            answer = await adapter.invoke_llm(
                model=model,
                credentials=values,
                messages=prompt,
                parameters=validated,
                tools=tool_list,
                stop=stops or None,
                stream=stream,
                user=user,
                schema=schema,
                timeouts=call_timeouts,
            )
            if isinstance(answer, Completion):
                return answer
            # Wait for the first chunk here, inside the retry policy: nothing has reached the caller yet.
            try:
                first = await answer.__anext__()
            except StopAsyncIteration:
                first = None
            except BaseException:
                await answer.aclose()
                raise
            return answer, first

        outcome = await self._call(provider, credentials, retry or self.retry, once)
        if isinstance(outcome, Completion):
            return self._llm_result(outcome, model, prompt, tool_list, price, started)
        upstream, first = outcome
        return LLMStream(
            upstream=upstream,
            first=first,
            model=model,
            prompt_messages=prompt,
            tools=tool_list,
            pricing=price,
            started=started,
            time_to_first_token=time.perf_counter() - started,
        )

    def _llm_result(
        self,
        completion: Completion,
        model: str,
        prompt: list[PromptMessage],
        tools: Sequence[Tool] | None,
        price: PriceConfig | None,
        started: float,
    ) -> LLMResult:
        if completion.tokens is not None:
            prompt_tokens, completion_tokens, estimated = (
                completion.tokens.prompt_tokens,
                completion.tokens.completion_tokens,
                False,
            )
        else:
            prompt_tokens = count_prompt_tokens(prompt, tools)
            completion_tokens = count_text_tokens(completion.message.text())
            estimated = True
        usage = LLMUsage.build(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            pricing=price,
            latency=time.perf_counter() - started,
            estimated=estimated,
        )
        return LLMResult(
            model=model,
            prompt_messages=prompt,
            message=completion.message,
            usage=usage,
            finish_reason=completion.finish_reason,
            system_fingerprint=completion.system_fingerprint,
        )

    # --- embeddings and rerank ---------------------------------------------------------------------------

    async def invoke_embedding(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        texts: Sequence[str],
        input_type: str = "document",
        pricing: PriceConfig | None = None,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> EmbeddingResult:
        """Embed `texts` (in batches of the model's `max_chunks`). `input_type` is `document` or `query`."""
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "text-embedding", model, self._first_credentials(credentials)
        )
        batch_size = max(1, int(schema.model_properties.get("max_chunks") or 32))
        started = time.perf_counter()
        vectors: list[list[float]] = []
        tokens = 0
        estimated = False
        for offset in range(0, len(texts), batch_size):
            batch = list(texts[offset : offset + batch_size])

            async def once(values: Mapping[str, Any], batch: list[str] = batch) -> Any:
                return await adapter.invoke_embedding(
                    model=model,
                    credentials=values,
                    texts=batch,
                    input_type=input_type,
                    schema=schema,
                    timeouts=timeouts or self.timeouts,
                )

            result = await self._call(provider, credentials, retry or self.retry, once)
            vectors.extend(result.embeddings)
            if result.tokens is None:
                tokens += sum(count_text_tokens(text) for text in batch)
                estimated = True
            else:
                tokens += result.tokens
        usage = EmbeddingUsage.build(
            tokens=tokens,
            pricing=pricing if pricing is not None else schema.pricing,
            latency=time.perf_counter() - started,
            estimated=estimated,
        )
        return EmbeddingResult(model=model, embeddings=vectors, usage=usage)

    async def invoke_rerank(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        score_threshold: float | None = None,
        model_schema: ModelSchema | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> RerankResult:
        """Documents ordered by relevance to `query` (best first), cut to `top_n` and `score_threshold`."""
        adapter = self.adapter(provider)
        schema = model_schema or self.model_schema(
            provider, "rerank", model, self._first_credentials(credentials)
        )

        async def once(values: Mapping[str, Any]) -> Any:
            return await adapter.invoke_rerank(
                model=model,
                credentials=values,
                query=query,
                documents=documents,
                top_n=top_n,
                schema=schema,
                timeouts=timeouts or self.timeouts,
            )

        docs = await self._call(provider, credentials, retry or self.retry, once)
        if score_threshold is not None:
            docs = [doc for doc in docs if doc.score >= score_threshold]
        if top_n is not None:
            docs = docs[:top_n]
        return RerankResult(model=model, docs=docs)

    # --- configuration time ------------------------------------------------------------------------------

    def _check_required(
        self,
        schema: ProviderSchema,
        credentials: Mapping[str, Any],
        model: str | None,
        model_type: str | None,
    ) -> None:
        if model is None or (
            schema.provider_credential_schema and schema.predefined_model(model, model_type or "llm")
        ):
            forms = schema.provider_credential_schema
        else:
            forms = (
                schema.model_credential_schema.credential_form_schemas
                if schema.model_credential_schema
                else ()
            )
        for form in forms:
            shown = all(s.variable != "__model_type" or s.value == model_type for s in form.show_on)
            missing = str(credentials.get(form.variable) or "").strip() == ""
            if form.required and shown and missing and form.default is None:
                raise MissingCredentialError(form.variable, schema.provider)

    async def validate_credentials(
        self,
        *,
        provider: str,
        credentials: Mapping[str, Any],
        model: str | None = None,
        model_type: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        """Check credentials with a real, cheap call before they are saved: provider credentials (model
        None) by listing models where the API can, else by the smallest call of a predefined model; a
        custom model's credentials by the smallest call of that model (speech2text: half a second of
        silence; tts: two words, first bytes only; moderation: one word). Raises CredentialsValidationError
        whose message says what went wrong (never the key), with the invocation error as `cause`."""
        schema = self.provider(provider)
        adapter = self.adapter(provider)
        model_type = model_type or (schema.supported_model_types[0] if model else None)
        call_timeouts = timeouts or Timeouts(connect=10.0, read=30.0, write=10.0, pool=10.0)
        try:
            self._check_required(schema, credentials, model, model_type)
            model_schema = (
                self.model_schema(provider, model_type, model, credentials) if model and model_type else None
            )

            async def once(values: Mapping[str, Any]) -> None:
                try:
                    await adapter.validate_credentials(
                        credentials=values,
                        model=model,
                        model_type=model_type,
                        schema=model_schema,
                        timeouts=call_timeouts,
                    )
                except UnsupportedOperationError:
                    if model is not None or not schema.models:
                        raise
                    fallback = schema.models[0]
                    await adapter.validate_credentials(
                        credentials=values,
                        model=fallback.model,
                        model_type=fallback.model_type,
                        schema=fallback,
                        timeouts=call_timeouts,
                    )

            await self._call(provider, credentials, NO_RETRY, once)
        except ModelRuntimeError as error:
            _redact(error, _secrets(schema.secret_variables(), credentials))
            raise CredentialsValidationError(error.message, provider=schema.provider, cause=error) from error

    async def list_models(
        self, *, provider: str, credentials: Mapping[str, Any], timeouts: Timeouts | None = None
    ) -> list[str]:
        """Model ids the provider's API lists for these credentials (UnsupportedOperationError if it has
        no such endpoint)."""
        adapter = self.adapter(provider)
        return await self._call(
            provider,
            credentials,
            NO_RETRY,
            lambda values: adapter.list_models(credentials=values, timeouts=timeouts or self.timeouts),
        )

    async def aclose(self) -> None:
        """Close the running loop's HTTP connections, and the balancing store's if it holds any (the
        Redis store's client): at worker shutdown, at the end of a test or of a private loop."""
        await self.http.aclose()
        close_store = getattr(self.balancer.store, "aclose", None)
        if close_store is not None:
            await close_store()
