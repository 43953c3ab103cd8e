"""`HttpPort` implementation on the guarded client (`netguard`): timeouts, redirects, a response size cap."""

from __future__ import annotations

import httpx

import netguard

from .ports import HttpPortError, HttpRequest, HttpResponse


class HttpxHttpPort:
    """Sends requests with a `netguard` httpx.AsyncClient.

    * Timeouts come from the request (the node's connect/read/write, Dify's defaults otherwise).
    * The body is read in chunks and refused once it passes `request.max_response_bytes`, so a huge
      response cannot exhaust memory.
    * `policy` is the SSRF guard (checked on the address actually connected to, at every redirect hop);
      without one, `block_private_networks=True` means the default policy (public addresses only) and
      False no guard (the engine used as a library, against local test servers).
    """

    def __init__(
        self,
        *,
        block_private_networks: bool = False,
        user_agent: str = "dify-django-workflow",
        policy: netguard.Policy | None = None,
    ) -> None:
        self.policy = policy if policy is not None else netguard.Policy(enabled=block_private_networks)
        self.block_private_networks = self.policy.enabled
        self.user_agent = user_agent

    async def request(self, request: HttpRequest) -> HttpResponse:
        connect, read, write = request.timeout
        timeout = httpx.Timeout(connect=connect, read=read, write=write, pool=connect)
        kwargs: dict[str, object] = {
            "params": request.params,
            "headers": {"User-Agent": self.user_agent, **request.headers},
        }
        if request.files:
            kwargs["files"] = request.files
            kwargs["data"] = request.data
        elif request.data is not None:
            kwargs["data"] = request.data
        elif request.json is not None:
            kwargs["json"] = request.json
        elif request.content not in (None, ""):
            kwargs["content"] = request.content
        try:
            client = netguard.async_client(
                self.policy,
                verify=request.verify_ssl,
                timeout=timeout,
                follow_redirects=request.follow_redirects,
            )
            method = request.method.upper()
            async with client, client.stream(method, request.url, **kwargs) as response:  # type: ignore[arg-type]
                body = await netguard.aread_capped(response, request.max_response_bytes)
                return HttpResponse(
                    status_code=response.status_code,
                    headers={key.lower(): value for key, value in response.headers.items()},
                    content=body,
                )
        except netguard.DestinationBlocked as error:
            raise HttpPortError(str(error)) from None
        except netguard.ResponseTooLarge:
            raise HttpPortError(
                f"response from {request.url} is larger than {request.max_response_bytes} bytes"
            ) from None
        except httpx.InvalidURL as error:
            raise HttpPortError(f"invalid URL {request.url}: {error}") from None
        except httpx.TooManyRedirects:
            raise HttpPortError(f"too many redirects for {request.url}") from None
        except httpx.TimeoutException as error:
            raise HttpPortError(f"timed out: {error or type(error).__name__}") from error
        except httpx.HTTPError as error:
            raise HttpPortError(str(error) or type(error).__name__) from error
