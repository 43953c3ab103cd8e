"""When to try a failed call again, and after how long.

Retried: rate limits, server errors, timeouts and connection errors, with exponential backoff and jitter,
or after the provider's `Retry-After` when it gives one (capped: a provider asking for minutes gets the
error back instead of a worker stuck waiting). Never retried: auth, bad request, context too long, invalid
responses, exhausted quotas. The runtime never retries once stream output has reached the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

from providers.runtime.errors import InvokeError, RateLimitError, ServerError


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    jitter: float = 0.2

    def delay_for(self, attempt: int, error: InvokeError) -> float | None:
        """Seconds to wait before attempt `attempt + 1` (attempts count from 1), or None to give up."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if isinstance(error, RateLimitError) and getattr(error, "quota_exceeded", False):
            return None
        retry_after = (
            getattr(error, "retry_after", None) if isinstance(error, RateLimitError | ServerError) else None
        )
        if retry_after is not None:
            return None if retry_after > self.max_retry_after else max(0.0, retry_after)
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return delay * (1 + random.uniform(0, self.jitter))  # noqa: S311 - jitter, not security


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI), `retry-after` in seconds or as an HTTP date."""
    if headers is None:
        return None
    try:
        millis = headers.get("retry-after-ms")
        if millis:
            return float(millis) / 1000
        value = headers.get("retry-after")
    except AttributeError:
        return None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None
