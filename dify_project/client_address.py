"""The client's address as the rate limits and the login record see it.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only as far as the operator
says proxies of theirs stand in front (TRUSTED_PROXY_COUNT): with N proxies, the Nth address from the
right is the one the outermost trusted proxy saw. With none (the default), the socket's peer is the client.
Dify takes the header's first entry as is, which lets any client pick its own address, and with it a fresh
per-address allowance on every request.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    hops = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not hops:
        return remote
    # Each trusted proxy appended the address it received from; entries left of those are the client's claims.
    return hops[-trusted] if len(hops) >= trusted else hops[0]
