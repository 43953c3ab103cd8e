"""The code node's `CodePort` for this process, built once from settings (``CODE_*``).

``sandbox`` (the default) is the bubblewrap sandbox; user code reaches the network only through the
egress broker, which applies the same SSRF policy as every other outbound request (`dify_project.outbound`).
``process`` is the explicit, documented-unsafe opt-out for trusted single-user set-ups.
"""

from __future__ import annotations

import logging
import socket
import threading

from django.conf import settings

from dify_project.outbound import ssrf_policy
from netguard import DestinationBlocked
from netguard.backend import vetted_addresses
from workflows.engine import CodePort, SandboxCodePort, SubprocessCodePort
from workflows.engine.sandbox.egress import EgressBroker

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_port: CodePort | None = None


def egress_addresses(host: str, port: int) -> list[str]:
    """Where user code may connect for ``host:port``: resolved once, each address checked by the policy."""
    policy = ssrf_policy()
    if policy.enabled:
        policy.check_name(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise DestinationBlocked(f"cannot resolve {host}: {error}") from error
    if not policy.enabled:
        return list(dict.fromkeys(str(info[4][0]) for info in infos))
    return vetted_addresses(policy, host, infos)


def code_port() -> CodePort:
    """The process-wide code port (its warm pool and egress broker are shared by every run)."""
    global _port
    with _lock:
        if _port is None:
            _port = _build()
        return _port


def _build() -> CodePort:
    limits = {
        "timeout": settings.CODE_EXECUTION_TIMEOUT,
        "memory_mb": settings.CODE_EXECUTION_MEMORY_MB,
        "max_output_bytes": settings.CODE_EXECUTION_MAX_OUTPUT_BYTES,
    }
    if settings.CODE_EXECUTION_ISOLATION == "process":
        logger.warning("CODE_EXECUTION_ISOLATION=process: user code runs unsandboxed as the server's user")
        return SubprocessCodePort(**limits)
    broker = EgressBroker(egress_addresses) if settings.CODE_SANDBOX_EGRESS else None
    return SandboxCodePort(
        **limits,
        python=settings.CODE_SANDBOX_PYTHON or None,
        packages=settings.CODE_SANDBOX_PACKAGES,
        egress_socket=broker.path if broker else None,
        pool_size=settings.CODE_SANDBOX_POOL_SIZE,
    )


def describe() -> str:
    """One line for the start-up banner and /readyz: which isolation user code gets, and why not."""
    port = code_port()
    if isinstance(port, SandboxCodePort):
        return port.status().describe()
    return "code sandbox: off (CODE_EXECUTION_ISOLATION=process: code runs as the server user; unsafe)"


def status() -> dict[str, object]:
    port = code_port()
    if isinstance(port, SandboxCodePort):
        state = port.status()
        return {
            "mode": state.mode,
            "available": state.available,
            "detail": state.describe(),
            "languages": list(state.languages),
        }
    return {"mode": "process", "available": True, "detail": describe(), "languages": sorted(port.languages)}
