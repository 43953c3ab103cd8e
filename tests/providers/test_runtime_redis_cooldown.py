"""The Redis cooldown store, against the real Redis on 127.0.0.1:6379 (db 15, a key prefix per test)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from providers.runtime import (
    AllCredentialsCoolingDownError,
    CredentialPool,
    LoadBalancer,
    ModelRuntime,
    PooledCredential,
    RateLimitError,
    RedisCooldownStore,
    UserMessage,
)
from tests.support.fake_llm import FakeLLMServer, Reply
from tests.support.fixtures import TEST_RETRY, TEST_TIMEOUTS

REDIS_URL = "redis://127.0.0.1:6379/15"
KEYS = ["sk-pool-key-aaaaaaaa", "sk-pool-key-bbbbbbbb"]


@pytest.fixture(scope="module")
def redis_sync() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis does not answer at {REDIS_URL} ({exc}); the Redis cooldown store needs it")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_sync: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (db 15 is shared)."""
    value = f"test-lb-{uuid.uuid4().hex}"
    yield value
    keys = list(redis_sync.scan_iter(match=f"{value}:*", count=500))
    if keys:
        redis_sync.delete(*keys)


@pytest.fixture
async def store(prefix: str) -> AsyncIterator[RedisCooldownStore]:
    value = RedisCooldownStore(REDIS_URL, prefix=prefix)
    yield value
    await value.aclose()


async def test_the_round_robin_counter_is_an_incr_with_difys_key_and_an_hours_ttl(
    store: RedisCooldownStore, redis_sync: redis.Redis, prefix: str
) -> None:
    assert [await store.next_index("t1:openai:llm:gpt-4o") for _ in range(3)] == [1, 2, 3]
    assert await store.next_index("t2:openai:llm:gpt-4o") == 1
    assert redis_sync.get(f"{prefix}:t1:openai:llm:gpt-4o") == b"3"
    assert 3590 < redis_sync.ttl(f"{prefix}:t1:openai:llm:gpt-4o") <= 3600


async def test_the_counter_starts_over_at_ten_million(
    store: RedisCooldownStore, redis_sync: redis.Redis, prefix: str
) -> None:
    redis_sync.set(f"{prefix}:k", 9_999_999)
    assert await store.next_index("k") == 10_000_000
    assert await store.next_index("k") == 1


async def test_a_cooldown_is_a_key_that_expires_with_it(
    store: RedisCooldownStore, redis_sync: redis.Redis, prefix: str
) -> None:
    await store.cool_down("t1:openai:llm:gpt-4o", "cfg-1", 0.3)
    assert await store.is_cooling_down("t1:openai:llm:gpt-4o", "cfg-1")
    assert not await store.is_cooling_down("t1:openai:llm:gpt-4o", "cfg-2")
    assert 0 < redis_sync.pttl(f"{prefix}:cooldown:t1:openai:llm:gpt-4o:cfg-1") <= 300
    await asyncio.sleep(0.4)
    assert not await store.is_cooling_down("t1:openai:llm:gpt-4o", "cfg-1")


async def test_two_processes_share_the_turns_and_the_cooldowns(prefix: str) -> None:
    # given two balancers, as two worker processes would have, each with its own client
    first = RedisCooldownStore(REDIS_URL, prefix=prefix)
    second = RedisCooldownStore(client=aioredis.Redis.from_url(REDIS_URL), prefix=prefix)
    pool = CredentialPool(key="t:p:llm:m", members=(PooledCredential("a", {}), PooledCredential("b", {})))
    balancers = [LoadBalancer(first), LoadBalancer(second)]
    try:
        # then picks alternate across them: one round robin
        assert [(await balancers[i % 2].pick(pool)).id for i in range(4)] == ["a", "b", "a", "b"]
        # and a credential cooled down by one is skipped by the other
        await balancers[0].report_failure(pool, pool.members[0], RateLimitError("limited"))
        assert {(await balancers[1].pick(pool)).id for _ in range(3)} == {"b"}
        await balancers[1].report_failure(pool, pool.members[1], RateLimitError("limited"))
        with pytest.raises(AllCredentialsCoolingDownError):
            await balancers[0].pick(pool)
    finally:
        await first.aclose()
        await second.client().aclose()


async def test_a_runtime_balancing_through_redis_fails_over_and_remembers_it(
    fake_llm: FakeLLMServer, prefix: str, redis_sync: redis.Redis
) -> None:
    # given a pool of two keys, the first rate limited
    pool = CredentialPool(
        key="tenant-1:openai_api_compatible:llm:echo",
        members=tuple(
            PooledCredential(f"cfg-{i}", {"endpoint_url": fake_llm.openai_base_url, "api_key": key})
            for i, key in enumerate(KEYS)
        ),
    )
    fake_llm.push(Reply.error(429, "Rate limit reached"))

    def runtime() -> ModelRuntime:
        store = RedisCooldownStore(REDIS_URL, prefix=prefix)
        return ModelRuntime(retry=TEST_RETRY, timeouts=TEST_TIMEOUTS, balancer=LoadBalancer(store))

    async def call(rt: ModelRuntime) -> str:
        result = await rt.invoke_llm(
            provider="openai_api_compatible",
            model="echo",
            credentials=pool,
            messages=[UserMessage("hi")],
            stream=False,
        )
        return result.text

    first, second = runtime(), runtime()
    try:
        # when one runtime calls, it moves to the second key at once
        assert await call(first) == "You said: hi"
        # then the cooldown is in Redis, for Dify's 60 s
        assert 55 < redis_sync.ttl(f"{prefix}:cooldown:tenant-1:openai_api_compatible:llm:echo:cfg-0") <= 60
        # and another runtime (another process) skips the cooling key too
        for _ in range(3):
            assert await call(second) == "You said: hi"
        used = [r.headers["authorization"].removeprefix("Bearer ") for r in fake_llm.requests]
        assert used == [KEYS[0], KEYS[1], KEYS[1], KEYS[1], KEYS[1]]
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_store_from_a_url_works_on_each_event_loop(store: RedisCooldownStore) -> None:
    # the Django side runs configuration-time calls on short private loops, besides the worker's loop
    await store.next_index("k")

    async def elsewhere() -> int:
        try:
            return await store.next_index("k")
        finally:
            await store.aclose()

    assert await asyncio.to_thread(asyncio.run, elsewhere()) == 2
    assert await store.next_index("k") == 3


async def test_redis_down_fails_open_with_a_warning(
    closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisCooldownStore(f"redis://127.0.0.1:{closed_port}/15", prefix="unreachable", timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="providers.runtime.redis_cooldown"):
        assert [await store.next_index("k") for _ in range(3)] == [1, 2, 3]
        await store.cool_down("k", "a", 60)
        assert not await store.is_cooling_down("k", "a")
    warnings = [r for r in caplog.records if "Redis is unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once a call
    await store.aclose()


async def test_redis_down_can_be_made_an_error(closed_port: int) -> None:
    store = RedisCooldownStore(f"redis://127.0.0.1:{closed_port}/15", fail_open=False, timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        await store.next_index("k")
    await store.aclose()


def test_a_store_needs_a_url_or_a_client_not_both() -> None:
    with pytest.raises(ValueError, match="either a Redis URL or a client"):
        RedisCooldownStore()
    with pytest.raises(ValueError, match="either a Redis URL or a client"):
        RedisCooldownStore(REDIS_URL, client=aioredis.Redis())
