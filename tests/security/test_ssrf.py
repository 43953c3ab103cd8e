"""The SSRF guard (`netguard`, configured by `dify_project.outbound`) at every entry point that fetches a
user-given URL: HTTP-request nodes, API tools, DSL import by URL, file download by URL, model endpoints.

The peers are real loopback HTTP servers counting the connections they accept; DNS is stubbed at the OS
resolver boundary (``socket.getaddrinfo``) for made-up host names. Every test runs with the production
default (guard on, empty allow-list) unless it allow-lists a host itself.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from apps.runners.ports import StorageFilePort, _http_port
from providers.runtime import InvokeError
from providers.services import config_cache, invocation
from providers.services.runtime import model_runtime, set_model_runtime
from providers.tools import api_tool
from providers.tools.exceptions import ToolInvokeError
from providers.tools.openapi import parse_schema
from tests.engine.helpers import chain, end, graph, node, run, start
from tests.providers_django import given
from workflows.engine import File, HttpPortError, HttpRequest, Ports

pytestmark = pytest.mark.usefixtures("ssrf_strict")

PUBLIC = "93.184.215.14"  # a public address (nothing needs to answer there)


class Peer(ThreadingHTTPServer):
    """A loopback HTTP server that counts the connections it accepts; routes: path -> (status, headers)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.accepted = 0
        self.routes: dict[str, tuple[int, dict[str, str]]] = {}

    def get_request(self) -> tuple[socket.socket, Any]:
        connection = super().get_request()
        self.accepted += 1
        return connection

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: Peer

    def do_GET(self) -> None:
        status, headers = self.server.routes.get(self.path, (200, {}))
        body = b"app:\n  mode: workflow\n" if status == 200 else b""
        self.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve() -> Iterator[Peer]:
    peer = Peer()
    thread = threading.Thread(target=peer.serve_forever, daemon=True)
    thread.start()
    yield peer
    peer.shutdown()
    peer.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    yield from _serve()


@pytest.fixture
def other_peer() -> Iterator[Peer]:
    yield from _serve()


class Resolver:
    """Answers for made-up names, at the socket level; a list of answers is used one per lookup, the
    last one repeating (a rebinding name: public first, loopback afterwards)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, host: str, addresses: list[str]) -> None:
        self.answers[host] = list(addresses)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    resolver = Resolver()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else host
        queue = resolver.answers.get(name)
        if queue is None:
            return real(host, port, *args, **kwargs)
        resolver.lookups.append(name)
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        number = int(port or 0)
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, number))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return resolver


def remote_file(url: str) -> File:
    return File(type="document", transfer_method="remote_url", remote_url=url, filename="f.txt")


FILES = StorageFilePort(tenant_id="t", user_id="u")

REFUSED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "LocalHost",
    "127.1",
    "2130706433",  # decimal
    "0x7f.1",  # hex
    "0.0.0.0",
    "[::]",
    "[::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "198.18.0.1",  # benchmarking
    "224.0.0.1",  # multicast
    "255.255.255.255",
    "169.254.169.254",  # cloud metadata
    "[fd00:ec2::254]",
    "[fe80::1]",
    "[fc00::1]",
    "[fec0::1]",  # site-local
    "metadata.google.internal",
]


# --- file download by URL: every spelling of a non-public destination ------------------------------


@pytest.mark.parametrize("host", REFUSED_HOSTS)
async def test_a_file_url_to_a_non_public_address_is_refused(host: str, peer: Peer) -> None:
    with pytest.raises(ValueError, match="is not allowed"):
        await FILES.download(remote_file(f"http://{host}:{peer.port}/f.txt"))
    assert peer.accepted == 0


async def test_an_octal_spelling_never_reaches_loopback(peer: Peer) -> None:
    # httpx refuses the octal form as a URL; either way it is a download error, and nothing connects
    with pytest.raises(ValueError, match="cannot download"):
        await FILES.download(remote_file(f"http://0177.0.0.1:{peer.port}/f.txt"))
    assert peer.accepted == 0


async def test_a_name_resolving_to_a_private_address_is_refused(peer: Peer, dns: Resolver) -> None:
    dns["files.internal.test"] = ["127.0.0.1"]
    with pytest.raises(ValueError, match=r"files\.internal\.test \(127\.0\.0\.1\) is not allowed"):
        await FILES.download(remote_file(f"http://files.internal.test:{peer.port}/f.txt"))
    assert peer.accepted == 0


async def test_the_allow_list_and_the_switch(peer: Peer, settings: Any) -> None:
    url = f"http://127.0.0.1:{peer.port}/f.txt"
    with pytest.raises(ValueError, match="not allowed"):
        await FILES.download(remote_file(url))
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    assert await FILES.download(remote_file(url)) == b"app:\n  mode: workflow\n"
    settings.SSRF_ALLOWED_HOSTS = []
    settings.SSRF_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert await FILES.download(remote_file(url))
    settings.SSRF_ALLOWED_NETWORKS = []
    settings.HTTP_REQUEST_BLOCK_PRIVATE_NETWORKS = False  # the deprecated name still turns it off
    assert await FILES.download(remote_file(url))
    assert peer.accepted == 3


async def test_proxies_from_the_environment_do_not_bypass_the_guard(
    peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = f"http://127.0.0.1:{peer.port}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ValueError, match="not allowed"):
        await FILES.download(remote_file("http://10.0.0.1/f.txt"))
    assert peer.accepted == 0


# --- HTTP-request nodes ------------------------------------------------------------------------------


async def test_a_rebinding_name_is_connected_to_at_the_address_checked(peer: Peer, dns: Resolver) -> None:
    # given a name that answers a public address first and loopback on every later lookup
    dns["rebind.test"] = [PUBLIC, "127.0.0.1"]
    request = HttpRequest(method="GET", url=f"http://rebind.test:{peer.port}/", timeout=(1.0, 1.0, 1.0))
    # when an HTTP-request node calls it (whatever the public address answers)
    try:
        await _http_port().request(request)
    except HttpPortError:
        pass
    # then the name was resolved once and loopback never saw a connection
    assert dns.lookups == ["rebind.test"]
    assert peer.accepted == 0


async def test_a_redirect_from_an_allowed_host_to_a_private_one_fails_the_node(
    peer: Peer, other_peer: Peer, settings: Any
) -> None:
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    peer.routes["/"] = (302, {"Location": f"http://localhost:{other_peer.port}/"})
    config = graph(
        [
            start("name"),
            node(
                "h",
                "http-request",
                method="get",
                url=f"http://127.0.0.1:{peer.port}/",
                authorization={"type": "no-auth"},
                headers="",
                params="",
                body={"type": "none", "data": []},
            ),
            end(status=["h", "status_code"]),
        ],
        chain("start", "h", "end"),
    )
    outcome = await run(config, inputs={"name": "x"}, ports=Ports(http=_http_port()))
    assert outcome.status == "failed"
    assert "localhost (127.0.0.1) is not allowed" in outcome.error
    assert (peer.accepted, other_peer.accepted) == (1, 0)


# --- API tools ---------------------------------------------------------------------------------------


def _api_bundle(base_url: str) -> Any:
    schema = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": base_url}],
        "paths": {"/text": {"get": {"operationId": "getText", "responses": {"200": {"description": "ok"}}}}},
    }
    return parse_schema(json.dumps(schema)).bundles[0]


async def _call_api_tool(base_url: str) -> list[Any]:
    messages = api_tool.invoke(_api_bundle(base_url), credentials={"auth_type": "none"}, parameters={})
    return [message async for message in messages]


async def test_an_api_tool_on_a_rebinding_name_never_reaches_loopback(
    peer: Peer, dns: Resolver, settings: Any
) -> None:
    settings.API_TOOL_DEFAULT_CONNECT_TIMEOUT = 1
    settings.API_TOOL_DEFAULT_READ_TIMEOUT = 1
    dns["tool.rebind.test"] = [PUBLIC, "127.0.0.1"]
    try:
        await _call_api_tool(f"http://tool.rebind.test:{peer.port}")
    except ToolInvokeError:
        pass
    assert peer.accepted == 0


async def test_an_api_tool_on_a_cgnat_address_is_a_tool_error() -> None:
    with pytest.raises(ToolInvokeError, match=r"100\.64\.0\.1 \(100\.64\.0\.1\) is not allowed"):
        await _call_api_tool("http://100.64.0.1:8080")


# --- DSL import by URL (the sync client) -------------------------------------------------------------


IMPORTS = "/console/api/apps/imports"


def test_a_dsl_url_redirecting_to_a_private_address_is_a_400(
    owner_client: Any, peer: Peer, other_peer: Peer, settings: Any
) -> None:
    settings.SSRF_ALLOWED_HOSTS = ["127.0.0.1"]
    peer.routes["/app.yml"] = (302, {"Location": f"http://localhost:{other_peer.port}/app.yml"})
    body = {"mode": "yaml-url", "yaml_url": f"http://127.0.0.1:{peer.port}/app.yml"}
    response = owner_client.post(IMPORTS, body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert set(error) >= {"code", "message", "status"}
    assert "localhost (127.0.0.1) is not allowed" in error["message"]
    assert (peer.accepted, other_peer.accepted) == (1, 0)


def test_a_dsl_url_on_a_rebinding_name_never_reaches_loopback(
    owner_client: Any, peer: Peer, dns: Resolver
) -> None:
    dns["dsl.rebind.test"] = [PUBLIC, "127.0.0.1"]
    body = {"mode": "yaml-url", "yaml_url": f"http://dsl.rebind.test:{peer.port}/app.yml"}
    response = owner_client.post(IMPORTS, body, format="json")
    assert response.status_code == 400
    assert dns.lookups == ["dsl.rebind.test"]
    assert peer.accepted == 0


# --- model endpoints (endpoint_url of an OpenAI-compatible provider) -----------------------------------


@pytest.fixture
async def production_runtime() -> Any:
    """The process's runtime as production builds it (the guarded pool), closed afterwards."""
    set_model_runtime(None)
    config_cache.clear()
    yield model_runtime()
    await model_runtime().aclose()
    set_model_runtime(None)
    config_cache.clear()
    await sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_a_model_endpoint_resolving_to_loopback_is_refused(
    tenant: Any, peer: Peer, dns: Resolver, production_runtime: Any
) -> None:
    dns["llm.internal.test"] = ["127.0.0.1"]
    await sync_to_async(given.custom_model)(
        tenant=tenant,
        provider="openai_api_compatible",
        model="echo",
        values={"endpoint_url": f"http://llm.internal.test:{peer.port}/v1", "api_key": "sk-x"},
    )
    with pytest.raises(InvokeError, match=r"llm\.internal\.test \(127\.0\.0\.1\) is not allowed"):
        await invocation.llm_invoke(
            tenant_id=str(tenant.id),
            provider="langgenius/openai_api_compatible/openai_api_compatible",
            model="echo",
            messages=[{"role": "user", "content": "hi"}],
            parameters={"max_tokens": 5},
        )
    assert peer.accepted == 0
