"""Which requests get a thread of their own under ASGI (dify_project/asgi_handler.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dify_project.asgi_handler import routes_to_async_view


def test_only_session_free_async_views_skip_the_per_request_thread():
    assert routes_to_async_view("/v1/chat-messages")
    assert routes_to_async_view("/v1/workflows/run")
    assert not routes_to_async_view("/v1/parameters")  # a sync view: runs on its request's own thread
    assert not routes_to_async_view("/v1/no-such-endpoint")
    assert not routes_to_async_view("/console/api/setup")


@contextmanager
def counting_thread_starts() -> Iterator[list[str]]:
    started: list[str] = []
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        started.append(self.name)
        start(self)

    threading.Thread.start = counted  # type: ignore[method-assign]
    try:
        yield started
    finally:
        threading.Thread.start = start  # type: ignore[method-assign]


def test_streaming_chats_start_no_thread_per_request(setup, fake_llm):
    _, client = setup()
    body = {"inputs": {"company": "A"}, "query": "hi", "user": "u", "response_mode": "streaming"}

    def chat() -> None:
        with client.stream("POST", "/chat-messages", json=body) as response:
            assert response.status_code == 200
            assert '"event": "message_end"' in response.read().decode()

    for _ in range(3):  # warm: the database pool starts its threads on first use
        chat()
    with counting_thread_starts() as started:
        for _ in range(8):
            chat()
        # a sync endpoint still gets its own thread, as Django gives it
        assert client.get("/parameters").status_code == 200
    # Django started (and stopped) one thread per request for response.close() before.
    asgiref_threads = [name for name in started if not name.startswith("db")]
    assert len(asgiref_threads) <= 2, started
