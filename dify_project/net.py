"""Outbound requests to user-given URLs: the SSRF guard shared by URL imports and similar fetches."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse

from django.conf import settings


class DestinationNotAllowed(Exception):
    """The URL resolves to an address the platform must not call for a user (loopback, private, ...)."""


def ensure_public_destination(url: str) -> None:
    """Refuse hosts resolving to loopback, private, link-local or reserved addresses, unless the
    operator allows them (``HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS=false``)."""
    if not settings.HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS:
        return
    host = urlparse(url).hostname
    if not host:
        raise DestinationNotAllowed(f"invalid URL: {url}")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as error:
        raise DestinationNotAllowed(f"cannot resolve {host}: {error}") from error
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise DestinationNotAllowed(f"destination {host} ({address}) is not allowed")
