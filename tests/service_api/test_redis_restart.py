"""Redis dies and comes back while runs stream, in the scaled mode (issue 12's reliability checks).

Each test runs the platform against a Redis server of its own (tests/support/redis_server.py) as cache and
run-event store, kills it with SIGKILL mid-stream (nothing kept, as a crashed or OOM-killed Redis) and
starts it again on the same port.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from apps.models import Message
from apps.runs.bus import event_log
from tests.support.fake_llm import Reply
from tests.support.redis_server import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"inputs": {"company": "Acme"}, "user": "bob", "auto_generate_name": False}


@pytest.fixture
def redis_server(settings):
    try:
        server = PrivateRedis()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    server.start()
    settings.REDIS_URL = server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "restart-test",
        }
    }
    yield server
    server.stop()


def test_a_streaming_chat_survives_redis_dying_and_the_platform_recovers(setup, fake_llm, redis_server):
    _, client = setup()
    fake_llm.push(Reply(text="one two three four five six", chunks=6, chunk_delay=0.15))
    events = []
    with client.stream(
        "POST", "/chat-messages", json={**CHAT, "query": "count", "response_mode": "streaming"}
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
                break
        # when Redis dies after the first chunk
        redis_server.kill()
        for line in lines:
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    # then the stream still ends with message_end and the whole answer
    assert events[-1]["event"] == "message_end", events[-1]
    assert (
        "".join(e.get("answer", "") for e in events if e["event"] == "message")
        == "one two three four five six"
    )
    message = Message.objects.get(id=events[-1]["message_id"])
    assert message.answer == "one two three four five six" and message.status == "normal"

    # while Redis is down, a request is answered in Dify's body with a 503, not a 500
    down = client.post("/chat-messages", json={**CHAT, "query": "hi", "response_mode": "blocking"})
    assert down.status_code == 503, down.text
    assert down.json()["code"] == "service_unavailable"
    assert int(down.headers["Retry-After"]) >= 1

    # once Redis is back, the next request works without a restart of the platform
    redis_server.start()
    fake_llm.push(Reply(text="back"))
    again = client.post("/chat-messages", json={**CHAT, "query": "hi", "response_mode": "blocking"})
    assert again.status_code == 200, again.text
    assert again.json()["answer"] == "back"


def _event(i: int) -> dict:
    return {"event": "text_chunk", "data": {"text": f"t{i}"}}


async def _follow_all(key: str) -> list[dict]:
    source = None
    while source is None:
        source = await event_log().follow(key, remote_only=True, block_ms=200)
        await asyncio.sleep(0.01)
    return [event async for _, event in source]


def test_a_follower_in_another_process_gets_every_event_once_across_a_redis_restart(redis_server, settings):
    """The Celery executor's path: the worker mirrors its events to Redis, the web process follows them."""

    async def scenario() -> tuple[list[dict], list[dict]]:
        writer = event_log().open(["restart-run"])
        follower = asyncio.create_task(_follow_all("restart-run"))
        for i in range(3):
            writer.publish(_event(i))
        await asyncio.sleep(0.3)  # the follower has read the first events
        redis_server.kill()
        for i in range(3, 6):  # published while Redis is away
            writer.publish(_event(i))
        await asyncio.sleep(0.5)
        redis_server.start()  # back, and empty
        for i in range(6, 8):
            writer.publish(_event(i))
        await writer.close()
        followed = await asyncio.wait_for(follower, 20)
        # a re-attach after the restart still finds the whole run
        again = await asyncio.wait_for(_follow_all("restart-run"), 20)
        return followed, again

    followed, again = asyncio.run(scenario())
    expected = [_event(i) for i in range(8)]
    assert followed == expected
    assert again == expected


def test_a_follower_ends_with_an_error_event_when_redis_stays_away(redis_server, settings):
    settings.RUN_EVENTS_REDIS_RETRY_SECONDS = 1

    async def scenario() -> list[dict]:
        writer = event_log().open(["lost-run"])
        follower = asyncio.create_task(_follow_all("lost-run"))
        writer.publish(_event(0))
        await asyncio.sleep(0.3)
        redis_server.kill()
        writer.publish(_event(1))
        followed = await asyncio.wait_for(follower, 15)
        await writer.close()
        return followed

    followed = asyncio.run(scenario())
    assert followed[0] == _event(0)
    assert followed[-1]["event"] == "error" and followed[-1]["code"] == "service_unavailable"
    assert followed[-1]["status"] == 503
