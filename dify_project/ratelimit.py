"""Request rate limits over the Django cache: Redis in the scaled mode (so a limit holds across every
process), local memory in the embedded one (one process serves everything there).

A sliding window estimated from two fixed windows (the previous window's count weighted by how much of
it still overlaps, plus the current count), which avoids the double burst a plain fixed window allows at
its edge, for one ``incr`` and one ``get`` per request. Refused requests do not count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until one more request would be allowed (0 when allowed)


def _count(key: str, timeout: int) -> int:
    if cache.add(key, 1, timeout):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout)
        return 1


def hit(name: str, *, limit: int, window: int = 60, now: float | None = None) -> Decision:
    """Count one request against ``limit`` per ``window`` seconds for ``name``. ``limit <= 0``: no limit."""
    if limit <= 0:
        return Decision(True, 0, 0, 0)
    now = time.time() if now is None else now
    bucket = int(now // window)
    elapsed = now - bucket * window
    current_key = f"ratelimit:{name}:{bucket}"
    count = _count(current_key, window * 2 + 1)
    previous = cache.get(f"ratelimit:{name}:{bucket - 1}") or 0
    overlap = (window - elapsed) / window
    estimate = previous * overlap + count
    if estimate <= limit:
        return Decision(True, limit, max(0, int(limit - estimate)), 0)
    try:
        cache.decr(current_key)  # a refused request does not use up the allowance
    except ValueError:
        pass
    count -= 1
    if count + 1 <= limit and previous:
        # The previous window's weight is what refuses: wait until enough of it has slid out.
        needed = 1 - (limit - count - 1) / previous
        wait = needed * window - elapsed
    else:
        # This window alone is full: wait for it to end and slide out far enough.
        wait = (window - elapsed) + window * (1 - (limit - 1) / max(count, 1))
    return Decision(False, limit, 0, max(1, math.ceil(wait)))
