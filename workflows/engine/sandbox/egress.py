"""The sandbox's only way out: an HTTP proxy on a Unix socket that vets every destination.

User code sees ``HTTP(S)_PROXY`` pointing at a forwarder inside its sandbox, which hands each connection
to this broker through the one socket bound into the sandbox. The broker understands ``CONNECT
host:port`` (HTTPS: the TLS session stays end to end between the code and the server) and absolute-URI
requests (plain HTTP). Each destination goes through ``vet`` (the guarded HTTP client's resolver), which
resolves the name once and returns only addresses the outbound rules allow; the broker connects to one
of exactly those addresses, so a name cannot resolve to a public address for the check and a private
one for the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

Vet = Callable[[str, int], list[str]]  # (host, port) -> allowed addresses; raises with the reason

_MAX_HEAD = 64 * 1024


class EgressBroker:
    """Serves on ``path`` from its own thread and event loop, so it outlives any caller's loop."""

    def __init__(
        self,
        vet: Vet,
        *,
        connect_timeout: float = 10.0,
        idle_timeout: float = 120.0,
        max_bytes: int = 512 << 20,
    ) -> None:
        self._vet = vet
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._max_bytes = max_bytes
        directory = tempfile.mkdtemp(prefix="code-egress-")
        Path(directory).chmod(0o711)  # the unprivileged sandbox uid may reach the socket, not list the dir
        self.path = str(Path(directory) / "egress.sock")
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        threading.Thread(target=self._serve, name="code-sandbox-egress", daemon=True).start()
        if not self._ready.wait(10):
            raise RuntimeError("egress broker did not start")

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_unix_server(self._handle, path=self.path))
        Path(self.path).chmod(0o666)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()

    def close(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        with contextlib.suppress(OSError):
            Path(self.path).unlink()
            Path(self.path).parent.rmdir()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._idle_timeout)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        if len(head) > _MAX_HEAD:
            await self._refuse(writer, 431, "request head too large")
            return
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await self._refuse(writer, 400, "malformed request line")
            return
        if method.upper() == "CONNECT":
            host, _, port_text = target.rpartition(":")
            host = host.strip("[]")
            first = b""
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.hostname:
                await self._refuse(writer, 400, "only CONNECT and absolute http:// requests are proxied")
                return
            host, port_text = url.hostname, str(url.port or 80)
            path = (url.path or "/") + (f"?{url.query}" if url.query else "")
            kept = [
                line
                for line in lines[1:]
                if line and not line.lower().startswith(("proxy-", "connection:", "keep-alive:"))
            ]
            # One request per connection: a kept-alive proxy connection would carry the next request,
            # perhaps for another host, to this one's server.
            first = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""]).encode(
                "latin-1"
            )
        try:
            port = int(port_text)
        except ValueError:
            await self._refuse(writer, 400, "bad port")
            return
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(None, self._vet, host, port)
        except Exception as error:  # the vetting function's refusal reason goes back to the code
            await self._refuse(writer, 403, f"destination not allowed: {error}")
            return
        upstream = await self._connect(addresses, port)
        if upstream is None:
            await self._refuse(writer, 502, f"cannot connect to {host}:{port}")
            return
        up_reader, up_writer = upstream
        if first:
            up_writer.write(first)
        else:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        for stream in (up_writer, writer):
            with contextlib.suppress(OSError, RuntimeError):
                stream.close()

    async def _connect(
        self, addresses: list[str], port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), self._connect_timeout)
            except (OSError, TimeoutError):
                continue
        return None

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sent = 0
        try:
            while chunk := await asyncio.wait_for(reader.read(65536), self._idle_timeout):
                sent += len(chunk)
                if sent > self._max_bytes:
                    break
                writer.write(chunk)
                await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                if writer.can_write_eof():
                    writer.write_eof()
                else:
                    writer.close()

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
        body = reason.encode("utf-8", "replace")
        writer.write(
            f"HTTP/1.1 {status} Refused\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
            writer.close()
