"""`HttpPort` implementation on httpx: timeouts, redirects, response size cap, optional SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlparse

import httpx

from .ports import HttpPortError, HttpRequest, HttpResponse


class HttpxHttpPort:
    """Sends requests with httpx.AsyncClient.

    * Timeouts come from the request (the node's connect/read/write, Dify's defaults otherwise).
    * The body is read in chunks and refused once it passes `request.max_response_bytes`, so a huge
      response cannot exhaust memory.
    * `block_private_networks=True` refuses hosts resolving to loopback, private, link-local or
      reserved addresses (a basic SSRF guard; redirects are re-checked hop by hop).
    """

    def __init__(
        self, *, block_private_networks: bool = False, user_agent: str = "dify-django-workflow"
    ) -> None:
        self.block_private_networks = block_private_networks
        self.user_agent = user_agent

    async def _check_destination(self, url: str) -> None:
        host = urlparse(url).hostname
        if not host:
            raise HttpPortError(f"invalid URL: {url}")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as error:
            raise HttpPortError(f"cannot resolve {host}: {error}") from error
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
                raise HttpPortError(f"destination {host} ({address}) is not allowed")

    async def request(self, request: HttpRequest) -> HttpResponse:
        connect, read, write = request.timeout
        timeout = httpx.Timeout(connect=connect, read=read, write=write, pool=connect)
        headers = {"User-Agent": self.user_agent, **request.headers}
        try:
            async with httpx.AsyncClient(
                verify=request.verify_ssl, timeout=timeout, follow_redirects=False
            ) as client:
                url = request.url
                method = request.method.upper()
                kwargs: dict[str, object] = {"params": request.params, "headers": headers}
                if request.files:
                    kwargs["files"] = request.files
                    kwargs["data"] = request.data
                elif request.data is not None:
                    kwargs["data"] = request.data
                elif request.json is not None:
                    kwargs["json"] = request.json
                elif request.content not in (None, ""):
                    kwargs["content"] = request.content
                for _hop in range(10):
                    if self.block_private_networks:
                        await self._check_destination(url)
                    async with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
                        if (
                            request.follow_redirects
                            and response.is_redirect
                            and "location" in response.headers
                        ):
                            url = str(response.url.join(response.headers["location"]))
                            if response.status_code in (301, 302, 303) and method != "HEAD":
                                method = "GET"
                                kwargs = {"headers": headers}
                            continue
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body.extend(chunk)
                            if len(body) > request.max_response_bytes:
                                raise HttpPortError(
                                    f"response from {url} is larger than {request.max_response_bytes} bytes"
                                )
                        return HttpResponse(
                            status_code=response.status_code,
                            headers={key.lower(): value for key, value in response.headers.items()},
                            content=bytes(body),
                        )
                raise HttpPortError(f"too many redirects for {request.url}")
        except httpx.TimeoutException as error:
            raise HttpPortError(f"timed out: {error or type(error).__name__}") from error
        except httpx.HTTPError as error:
            raise HttpPortError(str(error) or type(error).__name__) from error
