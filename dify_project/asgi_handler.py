"""Django's ASGI handler, giving a request its own thread only when its view is synchronous.

Django enters an asgiref ``ThreadSensitiveContext`` for every request, so the first thread-sensitive
``sync_to_async`` call of the request starts a thread of its own, stopped when the request ends. Sync views
need that (each runs on its request's thread, with its own database connection, in parallel with the
others). Async views do not: the Service API's model-facing endpoints do their database work on
``dify_project.db``'s pool, and the only thread-sensitive call left is Django's ``response.close()`` at the
end, which then started and stopped a thread per request (~0.4 ms of CPU, measured with
bench/service_api.py, competing with the next request's first token). Requests routed to an async view
on a session-free path therefore run without the context: ``response.close()`` goes to asgiref's one
shared thread.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.urls import Resolver404, get_resolver

from dify_project.middleware import SESSIONLESS_PREFIXES


@lru_cache(maxsize=4096)
def routes_to_async_view(path: str) -> bool:
    """Whether ``path`` is a session-free path served by an async view (paths carry ids: bounded cache)."""
    if not path.startswith(SESSIONLESS_PREFIXES):
        return False
    try:
        match = get_resolver().resolve(path)
    except Resolver404:
        return False
    return iscoroutinefunction(match.func)


class PlatformASGIHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and routes_to_async_view(scope.get("path", "")):
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
