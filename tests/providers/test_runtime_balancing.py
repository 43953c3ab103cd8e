"""Load balancing across several credentials of one model: round robin, cooldowns, fail-over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.runtime import (
    AllCredentialsCoolingDownError,
    AuthenticationError,
    BadRequestError,
    CredentialPool,
    InMemoryCooldownStore,
    LoadBalancer,
    ModelRuntime,
    PooledCredential,
    RateLimitError,
    UserMessage,
)
from tests.support.fake_llm import FakeLLMServer, Reply
from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS

KEYS = ["sk-pool-key-aaaaaaaa", "sk-pool-key-bbbbbbbb", "sk-pool-key-cccccccc"]


class Clock:
    """A hand-moved clock for the cooldown store (time is an input to it, like any other)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def balanced_runtime(clock: Clock) -> Iterator[ModelRuntime]:
    runtime = ModelRuntime(
        retry=TEST_RETRY,
        timeouts=TEST_TIMEOUTS,
        balancer=LoadBalancer(InMemoryCooldownStore(clock=clock), rate_limit_cooldown=60, auth_cooldown=10),
    )
    yield runtime
    await runtime.aclose()


def pool(server: FakeLLMServer, key: str = "tenant-1:openai_api_compatible:llm:echo") -> CredentialPool:
    return CredentialPool(
        key=key,
        members=tuple(
            PooledCredential(
                id=f"cfg-{i}", credentials={"endpoint_url": server.openai_base_url, "api_key": k}
            )
            for i, k in enumerate(KEYS)
        ),
    )


def keys_seen(server: FakeLLMServer) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in server.requests]


async def call(runtime: ModelRuntime, credentials: CredentialPool) -> str:
    result = await runtime.invoke_llm(
        provider="openai_api_compatible",
        model="echo",
        credentials=credentials,
        messages=[UserMessage("hi")],
        stream=False,
    )
    return result.text


async def test_calls_go_round_robin_across_the_pool(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime
) -> None:
    credentials = pool(fake_llm)
    for _ in range(6):
        assert await call(balanced_runtime, credentials) == "You said: hi"
    assert keys_seen(fake_llm) == KEYS + KEYS


async def test_pools_with_different_keys_keep_separate_turns(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime
) -> None:
    await call(balanced_runtime, pool(fake_llm, key="tenant-1:m"))
    await call(balanced_runtime, pool(fake_llm, key="tenant-2:m"))
    assert keys_seen(fake_llm) == [KEYS[0], KEYS[0]]


async def test_a_rate_limited_credential_cools_down_and_the_call_moves_on(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime, clock: Clock
) -> None:
    credentials = pool(fake_llm)
    # given the first key is rate limited
    fake_llm.push(Reply.error(429, "Rate limit reached"))
    # when a call is made, it moves to the next key at once (no backoff) and succeeds
    assert await call(balanced_runtime, credentials) == "You said: hi"
    assert keys_seen(fake_llm) == [KEYS[0], KEYS[1]]
    # then the limited key is skipped while it cools down
    for _ in range(4):
        await call(balanced_runtime, credentials)
    assert KEYS[0] not in keys_seen(fake_llm)[2:]
    # and used again once the 60 s cooldown has passed
    clock.now += 61
    for _ in range(3):
        await call(balanced_runtime, credentials)
    assert KEYS[0] in keys_seen(fake_llm)[6:]


async def test_an_auth_failure_fails_over_to_the_next_credential(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime, clock: Clock
) -> None:
    fake_llm.api_keys = set(KEYS[1:])  # the first key has been revoked
    credentials = pool(fake_llm)
    assert await call(balanced_runtime, credentials) == "You said: hi"
    assert keys_seen(fake_llm) == [KEYS[0], KEYS[1]]
    clock.now += 5  # auth cooldown is 10 s: still skipped
    await call(balanced_runtime, credentials)
    await call(balanced_runtime, credentials)
    assert KEYS[0] not in keys_seen(fake_llm)[2:]


async def test_when_every_credential_fails_the_last_error_is_raised_then_calls_fail_fast(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime
) -> None:
    fake_llm.api_keys = {"sk-none-of-these"}
    credentials = pool(fake_llm)
    with pytest.raises(AuthenticationError):
        await call(balanced_runtime, credentials)
    assert keys_seen(fake_llm) == KEYS
    # all three are cooling down now: the next call does not even reach the provider
    with pytest.raises(AllCredentialsCoolingDownError) as excinfo:
        await call(balanced_runtime, credentials)
    assert isinstance(excinfo.value, RateLimitError)
    assert len(fake_llm.requests) == 3


async def test_a_bad_request_is_not_the_credentials_fault(
    fake_llm: FakeLLMServer, balanced_runtime: ModelRuntime
) -> None:
    fake_llm.push(Reply.error(400, "bad input"))
    with pytest.raises(BadRequestError):
        await call(balanced_runtime, pool(fake_llm))
    assert len(fake_llm.requests) == 1
    await call(balanced_runtime, pool(fake_llm))
    assert keys_seen(fake_llm)[1] == KEYS[1]  # the round robin just moved on; nothing cooled down


async def test_balancer_skips_cooling_members_and_expires_them(clock: Clock) -> None:
    store = InMemoryCooldownStore(clock=clock)
    balancer = LoadBalancer(store, rate_limit_cooldown=30)
    credentials = CredentialPool(key="k", members=(PooledCredential("a", {}), PooledCredential("b", {})))
    assert [(await balancer.pick(credentials)).id for _ in range(4)] == ["a", "b", "a", "b"]
    await balancer.report_failure(credentials, credentials.members[0], RateLimitError("limited"))
    assert [(await balancer.pick(credentials)).id for _ in range(3)] == ["b", "b", "b"]
    clock.now += 31
    assert {(await balancer.pick(credentials)).id for _ in range(2)} == {"a", "b"}


def test_an_empty_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        CredentialPool(key="k", members=())
