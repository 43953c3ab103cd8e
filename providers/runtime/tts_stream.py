"""`TTSStream`: what `invoke_tts` returns, the audio of a whole text as byte chunks, in text order.

The text is spoken in pieces (each within the model's limit, cut at sentence ends), one request per
piece. Each piece is fetched by its own task into a small queue, so the next pieces can be requested while
the current one streams (the model's `max_workers`); the caller still gets the chunks strictly in order.
A piece is retried (the runtime's policy, load balancing included) until its first bytes arrive, never
after: bytes handed to the caller are never sent twice. Closing the stream, leaving `async with`, or
cancelling the task that reads it cancels the piece tasks, which closes their upstream responses.

Frame-based formats (mp3, aac, opus) play straight through the joins; wav and flac pieces are separate
files one after the other, as in Dify.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from providers.runtime.adapters.base import AudioChunks
from providers.runtime.audio import AUDIO_MIME_TYPES
from providers.runtime.pricing import PriceConfig
from providers.runtime.results import TTSUsage

PieceOpener = Callable[[str], Awaitable[tuple[AudioChunks, bytes]]]

_END = object()
# Chunks buffered per piece: enough to hide a slow reader's hiccups, small enough to keep backpressure.
_QUEUE_SIZE = 32
# The event loop keeps only weak references to tasks: hold piece tasks here until they are done.
_running: set[asyncio.Task[None]] = set()


async def _fetch(open_piece: PieceOpener, text: str, queue: asyncio.Queue[Any]) -> None:
    """Fetch one piece into `queue`: its chunks, then `_END`, or the exception that stopped it."""
    try:
        chunks, first = await open_piece(text)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        await queue.put(exc)
        return
    try:
        await queue.put(first)
        async for data in chunks:
            await queue.put(data)
        await queue.put(_END)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        await queue.put(exc)
    finally:
        await chunks.aclose()


class TTSStream:
    """Async iterator of audio bytes. `usage` (characters requested so far, priced; latency) can be read
    at any time, also after an early close, for metering."""

    __slots__ = (
        "__weakref__",
        "_characters",
        "_closed",
        "_finished_at",
        "_lookahead",
        "_next",
        "_open_piece",
        "_pending",
        "_pieces",
        "_pricing",
        "_started",
        "_tasks",
        "_ttfb",
        "audio_format",
        "completed",
        "model",
        "voice",
    )

    def __init__(
        self,
        *,
        pieces: list[str],
        open_piece: PieceOpener,
        lookahead: int,
        model: str,
        voice: str,
        audio_format: str,
        pricing: PriceConfig | None,
        started: float,
    ) -> None:
        self._pieces = pieces
        self._open_piece = open_piece
        self._lookahead = lookahead
        self._tasks: deque[tuple[asyncio.Task[None], asyncio.Queue[Any]]] = deque()
        self._next = 0
        self._characters = 0
        self._pending: bytes | None = None
        self._closed = False
        self._pricing = pricing
        self._started = started
        self._finished_at: float | None = None
        self._ttfb: float | None = None
        self.model = model
        self.voice = voice
        self.audio_format = audio_format
        self.completed = False  # read to the end

    @property
    def mime_type(self) -> str:
        """The content type to answer with (`audio/mpeg` for mp3)."""
        return AUDIO_MIME_TYPES.get(self.audio_format, "application/octet-stream")

    @property
    def pieces(self) -> int:
        """How many requests the text is spoken in."""
        return len(self._pieces)

    @property
    def usage(self) -> TTSUsage:
        end = self._finished_at if self._finished_at is not None else time.perf_counter()
        return TTSUsage.build(
            characters=self._characters,
            pricing=self._pricing,
            latency=end - self._started,
            time_to_first_byte=self._ttfb,
        )

    def _launch(self, window: int) -> None:
        while self._next < len(self._pieces) and len(self._tasks) < window:
            text = self._pieces[self._next]
            self._next += 1
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=_QUEUE_SIZE)
            task = asyncio.create_task(_fetch(self._open_piece, text, queue))
            _running.add(task)
            task.add_done_callback(_running.discard)
            self._tasks.append((task, queue))
            self._characters += len(text)

    async def start(self) -> None:
        """Wait for the first piece's first bytes (errors raise here, after retries), then request the
        pieces after it. Called by the runtime before it hands the stream out."""
        self._launch(1)
        try:
            first = await self._tasks[0][1].get()
        except BaseException:
            await self.aclose()
            raise
        if isinstance(first, BaseException):
            await self.aclose()
            raise first
        self._pending = first
        self._ttfb = time.perf_counter() - self._started
        self._launch(1 + self._lookahead)

    def __aiter__(self) -> TTSStream:
        return self

    async def __anext__(self) -> bytes:
        pending = self._pending
        if pending is not None:
            self._pending = None
            return pending
        while True:
            if self._closed or not self._tasks:
                raise StopAsyncIteration
            queue = self._tasks[0][1]
            try:
                item = await queue.get()
            except BaseException:
                # The reading task was cancelled: stop the upstream requests now.
                await self.aclose()
                raise
            if self._closed:  # closed by another task while this one waited
                raise StopAsyncIteration
            if item is _END:
                self._tasks.popleft()
                self._launch(1 + self._lookahead)
                if not self._tasks:
                    self.completed = True
                    self._closed = True
                    self._finished_at = time.perf_counter()
                    raise StopAsyncIteration
                continue
            if isinstance(item, BaseException):
                await self.aclose()
                raise item
            return item

    async def aclose(self) -> None:
        """Stop early: cancels the piece requests and closes their responses. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._pending = None
        self._finished_at = time.perf_counter()
        tasks = list(self._tasks)
        self._tasks.clear()
        for task, queue in tasks:
            task.cancel()
            try:  # wake a reader blocked on this queue (it is empty if one is)
                queue.put_nowait(_END)
            except asyncio.QueueFull:
                pass
        if tasks:
            await asyncio.gather(*(task for task, _ in tasks), return_exceptions=True)

    async def __aenter__(self) -> TTSStream:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def collect(self) -> bytes:
        """Read the whole audio."""
        async with self:
            return b"".join([chunk async for chunk in self])

    def __del__(self) -> None:
        # A caller that drops the stream without closing it: cancel the piece tasks, which close their
        # responses. Best effort only; `async with` or `aclose()` is the way to stop early.
        for task, _ in getattr(self, "_tasks", ()):
            if not task.done() and not task.get_loop().is_closed():
                task.cancel()
