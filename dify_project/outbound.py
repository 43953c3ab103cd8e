"""The guarded outbound HTTP client (`netguard`) configured from settings: the one way the Django side
reaches a URL a user gave. See ``SSRF_*`` in settings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import httpx
from django.conf import settings

import netguard
from netguard import DestinationBlocked, ResponseTooLarge

__all__ = ["DestinationBlocked", "ResponseTooLarge", "async_http_client", "http_client", "ssrf_policy"]


def ssrf_policy() -> netguard.Policy:
    """The policy the settings describe now (read at each call: tests and operators change them)."""
    enabled = bool(settings.SSRF_PROTECTION) and bool(
        getattr(settings, "HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS", True)
    )
    return _policy(
        enabled,
        tuple(settings.SSRF_ALLOWED_HOSTS),
        tuple(settings.SSRF_ALLOWED_NETWORKS),
        float(settings.SSRF_DEFAULT_TIMEOUT),
        int(settings.SSRF_MAX_RESPONSE_BYTES),
        int(settings.SSRF_MAX_REDIRECTS),
    )


@lru_cache(maxsize=8)
def _policy(
    enabled: bool,
    hosts: tuple[str, ...],
    networks: tuple[str, ...],
    timeout: float,
    max_bytes: int,
    redirects: int,
) -> netguard.Policy:
    return netguard.Policy.build(
        enabled=enabled,
        allowed_hosts=hosts,
        allowed_networks=networks,
        timeout=timeout,
        max_response_bytes=max_bytes,
        max_redirects=redirects,
    )


def http_client(**options: Any) -> httpx.Client:
    """A guarded ``httpx.Client`` (options as httpx's; redirects followed up to SSRF_MAX_REDIRECTS)."""
    return netguard.client(ssrf_policy(), **options)


def async_http_client(**options: Any) -> httpx.AsyncClient:
    """A guarded ``httpx.AsyncClient``."""
    return netguard.async_client(ssrf_policy(), **options)
